/**
 * Fuzzing the interaction screens' POSTs (/interaction/{id}/login, /consent, /logout): missing and
 * forged CSRF tokens (other purpose, other interaction, other browser binding, other sign-in,
 * one character changed), foreign Origin / Fetch Metadata, hostile ids, cookies and form fields.
 * Invariants: never a 5xx or internals; without a valid CSRF token nobody is signed in, and no
 * consent POST sends the browser to the app (no code); answers are a 303 back to our own screen or
 * an HTML error page; a valid sign-in and consent still work afterwards.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BINDING_COOKIE, createCsrfToken } from '../../../lib/interaction/csrf';
import { handleInteractionConsent, handleInteractionLogin, handleInteractionLogout } from '../../../lib/interaction/interaction-handlers';
import { findPersonaByFhirUser } from '../../../lib/interaction/personas';
import type { PersonaSession } from '../../../lib/interaction/session';
import { createSessionCookie, sessionCookieName } from '../../../lib/interaction/session';
import { ResourceStore } from '../../../lib/fhir/store';
import { load, patientRecord, sharedResources } from '../../../lib/fhir/test-fixtures';
import type { OAuthClient } from '../../../lib/oauth/clients';
import { authorizeGet, authorizeQuery, interactionIdOf, newClient, ORIGIN, pkce, REDIRECT } from '../../../lib/oauth/test-support';
import { DEFAULT_SANDBOX_ID } from '../../../lib/sandbox';
import type { Seen } from './fuzz-support';
import { CSRF_FORGERIES, forgedCsrfPost } from './csrf-forgery';
import type { CsrfForm } from './csrf-forgery';
import { assertHealthy, CONTENT_TYPES, hostileHeaderValue, hostileString, NASTY, printSummary, runs, send, timeoutFor, toQuery } from './fuzz-support';

const BINDING = 'fuzz-binding-0123456789';
let client: OAuthClient;
let session: { cookie: string; session: PersonaSession };

beforeAll(async () => {
  await load(new ResourceStore(), DEFAULT_SANDBOX_ID, [...sharedResources(), ...patientRecord('fz-a', 'Åberg', 'tag-a')]);
  client = (await newClient('public')).client;
  const persona = await findPersonaByFhirUser(DEFAULT_SANDBOX_ID, 'Practitioner/prac-1');
  if (!persona) throw new Error('persona Practitioner/prac-1 missing');
  session = await createSessionCookie(persona);
});

afterAll(() => printSummary());

async function newInteraction(): Promise<string> {
  return interactionIdOf(
    await authorizeGet(authorizeQuery({ client_id: client.clientId, scope: 'openid fhirUser launch/patient patient/*.rs' }, pkce().challenge)),
  );
}

type Purpose = 'login' | 'consent' | 'logout';
const HANDLERS: Record<Purpose, (req: Request, id: string) => Promise<Response>> = {
  login: handleInteractionLogin,
  consent: handleInteractionConsent,
  logout: handleInteractionLogout,
};

/** Cookie of the persona session, as the browser sends it back (name=value only). */
function sessionPair(): string {
  return session.cookie.split(';')[0]!;
}

/** The form POST the interaction screen for `purpose` makes; `otherId` is another interaction. */
function formOf(purpose: Purpose, id: string, otherId: string): CsrfForm {
  return {
    path: `/interaction/${encodeURIComponent(id)}/${purpose}`,
    purpose,
    scope: id,
    binding: BINDING,
    session: purpose === 'login' ? null : { sid: session.session.sid, cookie: sessionPair() },
    otherPurpose: purpose === 'login' ? 'consent' : 'login',
    otherScope: otherId,
  };
}

/** A 303 to our own interaction screen, or an HTML error page; never a session, never the app. */
function assertRefused(seen: Seen, id: string, where: string): void {
  const cookies = seen.headers.getSetCookie();
  for (const c of cookies)
    expect(c.startsWith(`${sessionCookieName()}=`) && !/^[^=]+=;/.test(c), `${where}: signed in without a valid CSRF token: ${c.slice(0, 80)}`).toBe(false);
  if (seen.status === 303) {
    const location = seen.headers.get('location') ?? '';
    expect(location.startsWith(`/interaction/${encodeURIComponent(id)}`), `${where}: 303 to ${location.slice(0, 200)}`).toBe(true);
    expect(location, where).not.toContain('code=');
    return;
  }
  expect([400, 403], `${where}: ${seen.status} ${seen.text.slice(0, 200)}`).toContain(seen.status);
  expect(seen.headers.get('content-type'), where).toMatch(/^text\/html/);
  expect(seen.text, where).toMatch(/^<!doctype html>/);
}

const formFields = fc.array(
  fc.tuple(
    fc.oneof(fc.constantFrom('persona', 'username', 'password', 'decision', 'patient', 'encounter', 'scope', 'csrf'), hostileString()),
    fc.oneof(fc.constantFrom('Practitioner/prac-1', 'Patient/fz-a', 'allow', 'deny', 'carla.careful', 'sandbox', ...NASTY), hostileString({ huge: true })),
  ),
  { maxLength: 5 },
);

describe('fuzz the interaction POSTs', () => {
  const n1 = runs(250);
  it(
    'login, consent and logout with missing or forged CSRF tokens, foreign origins, hostile fields: refused, nobody signed in, no code',
    async () => {
      const id = await newInteraction();
      const otherId = await newInteraction();
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom<Purpose>('login', 'consent', 'consent', 'logout'),
          fc.constantFrom(...CSRF_FORGERIES),
          hostileString(),
          formFields,
          fc.oneof({ arbitrary: fc.constant('application/x-www-form-urlencoded'), weight: 4 }, { arbitrary: fc.constantFrom(...CONTENT_TYPES), weight: 1 }),
          async (purpose, forgery, hostile, fields, contentType) => {
            // For login, the forged token is also sent with the persona that would sign in.
            const all: [string, string][] =
              purpose === 'login' ? [['persona', 'Practitioner/prac-1'], ...fields] : purpose === 'consent' ? [['decision', 'allow'], ...fields] : fields;
            const req = await forgedCsrfPost(formOf(purpose, id, otherId), forgery, hostile, all, contentType);
            const seen = await send(`POST /interaction/{id}/${purpose}`, (r) => HANDLERS[purpose](r, id), req);
            if (purpose === 'logout') {
              // Logout needs no CSRF to refuse; it may only ever clear the session cookie, never set one.
              assertRefused(seen, id, `${purpose} ${forgery}`);
              return;
            }
            assertRefused(seen, id, `${purpose} ${forgery} ${JSON.stringify(all).slice(0, 200)}`);
          },
        ),
        { numRuns: n1 },
      );
      await assertStillWorks();
    },
    timeoutFor(n1),
  );

  const n2 = runs(150);
  it(
    'hostile interaction ids, cookies and headers: an HTML error page or a 303 to our own screen',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom<Purpose>('login', 'consent', 'logout'),
          fc.oneof(hostileString({ huge: true }), fc.constantFrom('a'.repeat(8), 'a'.repeat(201), '../../oauth/token', 'x/../../y', '%2e%2e')),
          fc.option(hostileHeaderValue()),
          fc.option(hostileHeaderValue()),
          formFields,
          async (purpose, id, cookie, origin, fields) => {
            const headers = new Headers({ 'content-type': 'application/x-www-form-urlencoded' });
            if (cookie !== null) headers.set('cookie', cookie);
            if (origin !== null) headers.set('origin', origin);
            const req = new Request(`${ORIGIN}/interaction/x/${purpose}`, { method: 'POST', headers, body: toQuery(fields, 'encode') });
            const seen = await send(`POST /interaction/{id}/${purpose}`, (r) => HANDLERS[purpose](r, id), req);
            assertRefused(seen, id, `${purpose} id=${id.slice(0, 80)}`);
          },
        ),
        { numRuns: n2 },
      );
      await assertStillWorks();
    },
    timeoutFor(n2),
  );
});

/** After a property: a genuine sign-in sets a session; a genuine consent sends the app its code. */
async function assertStillWorks(): Promise<void> {
  const id = await newInteraction();
  const base = { origin: ORIGIN, 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' };
  const login = await handleInteractionLogin(
    new Request(`${ORIGIN}/interaction/${id}/login`, {
      method: 'POST',
      headers: { ...base, cookie: `${BINDING_COOKIE}=${BINDING}` },
      body: toQuery(
        [
          ['csrf', await createCsrfToken('login', id, BINDING)],
          ['persona', 'Practitioner/prac-1'],
        ],
        'encode',
      ),
    }),
    id,
  );
  expect(login.status).toBe(303);
  expect(login.headers.getSetCookie().some((c) => c.startsWith(`${sessionCookieName()}=`))).toBe(true);
  const consent = await handleInteractionConsent(
    new Request(`${ORIGIN}/interaction/${id}/consent`, {
      method: 'POST',
      headers: { ...base, cookie: `${BINDING_COOKIE}=${BINDING}; ${sessionPair()}` },
      body: toQuery(
        [
          ['csrf', await createCsrfToken('consent', id, BINDING, session.session.sid)],
          ['decision', 'allow'],
          ['patient', 'fz-a'],
        ],
        'encode',
      ),
    }),
    id,
  );
  expect(consent.status).toBe(303);
  expect(consent.headers.get('location')).toMatch(new RegExp(`^${REDIRECT.replace(/[.?]/g, '\\$&')}\\?code=`));
  await assertHealthy();
}
