/**
 * Fuzzing the access-management screen's writes (POST /interaction/access, /login, /logout and the
 * JSON revoke at /interaction/access/apps/{client_id}): missing and forged CSRF tokens, foreign
 * Origin / Fetch Metadata, hostile client ids, cookies and form fields. Invariants: never a 5xx
 * or internals; without a valid CSRF token (form) or a same-origin request (JSON) no grant is
 * revoked and nobody is signed in; a genuine revoke still works afterwards.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDb } from '../../../lib/db';
import { handleAccessForm, handleAccessLogin, handleAccessLogout, handleAccessRevoke } from '../../../lib/interaction/access-handlers';
import type { CsrfPurpose } from '../../../lib/interaction/csrf';
import { findPersonaByFhirUser } from '../../../lib/interaction/personas';
import type { PersonaSession } from '../../../lib/interaction/session';
import { createSessionCookie, sessionCookieName } from '../../../lib/interaction/session';
import { ResourceStore } from '../../../lib/fhir/store';
import { load, patientRecord, sharedResources } from '../../../lib/fhir/test-fixtures';
import { newClient, ORIGIN } from '../../../lib/oauth/test-support';
import { DEFAULT_SANDBOX_ID } from '../../../lib/sandbox';
import { assertHealthy, assertNoLeak, CONTENT_TYPES, hostileHeaderValue, hostileString, NASTY, printSummary, runs, send, timeoutFor } from './fuzz-support';
import { CSRF_FORGERIES, forgedCsrfPost } from './csrf-forgery';
import type { CsrfForm } from './csrf-forgery';

const BINDING = 'fuzz-binding-0123456789';
// The CSRF tokens of the access page are bound to this fixed scope (lib/interaction/access-handlers.ts).
const SCOPE = 'access-management';
const PERSONA = 'Patient/fz-acc';
let clientId = '';
let grantId = '';
let session: { cookie: string; session: PersonaSession };

beforeAll(async () => {
  await load(new ResourceStore(), DEFAULT_SANDBOX_ID, [...sharedResources(), ...patientRecord('fz-acc', 'Åkesson', 'tag-acc')]);
  clientId = (await newClient('public', { name: 'Fuzzed app' })).client.clientId;
  const persona = await findPersonaByFhirUser(DEFAULT_SANDBOX_ID, PERSONA);
  if (!persona) throw new Error(`persona ${PERSONA} missing`);
  session = await createSessionCookie(persona);
  grantId = await liveGrant();
});

afterAll(() => printSummary());

async function liveGrant(): Promise<string> {
  const db = getDb();
  const id = randomUUID();
  await db.grant.create({
    data: {
      id,
      sandboxId: DEFAULT_SANDBOX_ID,
      clientId,
      userId: PERSONA,
      scope: 'launch/patient patient/*.rs',
      context: '{"patient":"fz-acc","launchKind":"standalone"}',
    },
  });
  await db.token.create({
    data: {
      id: randomUUID(),
      sandboxId: DEFAULT_SANDBOX_ID,
      kind: 'refresh',
      grantId: id,
      clientId,
      userId: PERSONA,
      scope: 'patient/*.rs',
      expiresAt: new Date(Date.now() + 3600_000),
    },
  });
  return id;
}

async function revoked(id: string): Promise<boolean> {
  return (await getDb().grant.findUnique({ where: { id } }))?.revoked ?? false;
}

const sessionPair = (): string => session.cookie.split(';')[0]!;

type Target = 'revoke-form' | 'login' | 'logout';
const PURPOSE: Record<Target, CsrfPurpose> = { 'revoke-form': 'access', login: 'login', logout: 'logout' };
const PATHS: Record<Target, string> = { 'revoke-form': '/interaction/access', login: '/interaction/access/login', logout: '/interaction/access/logout' };
const HANDLERS: Record<Target, (req: Request) => Promise<Response>> = { 'revoke-form': handleAccessForm, login: handleAccessLogin, logout: handleAccessLogout };
/** The form POST a target's genuine page makes (the access page's tokens share one fixed scope). */
function formOf(target: Target): CsrfForm {
  const purpose = PURPOSE[target];
  return {
    path: PATHS[target],
    purpose,
    scope: SCOPE,
    binding: BINDING,
    session: target === 'login' ? null : { sid: session.session.sid, cookie: sessionPair() },
    otherPurpose: purpose === 'access' ? 'logout' : 'access',
    otherScope: 'some-interaction-id',
  };
}

const formFields = fc.array(
  fc.tuple(
    fc.oneof(fc.constantFrom('client_id', 'username', 'password', 'csrf'), hostileString()),
    fc.oneof(fc.constantFrom(PERSONA, 'sandbox', 'fz-acc', ...NASTY), hostileString({ huge: true })),
  ),
  { maxLength: 5 },
);

/** Never a session cookie set, never a 5xx; a 303 only back to the page. */
function assertRefused(seen: Awaited<ReturnType<typeof send>>, where: string): void {
  assertNoLeak(seen, where);
  for (const c of seen.headers.getSetCookie())
    expect(c.startsWith(`${sessionCookieName()}=`) && !/^[^=]+=;/.test(c), `${where}: signed in without a valid CSRF token`).toBe(false);
  if (seen.status === 303) expect(seen.headers.get('location') ?? '', where).toMatch(/^\/interaction\/access(\?|$)/);
  else expect([400, 401, 403, 404], `${where}: ${seen.status} ${seen.text.slice(0, 200)}`).toContain(seen.status);
}

describe('fuzz the access-management writes', () => {
  const n1 = runs(200);
  it(
    'revoke form, sign-in and sign-out with forged CSRF tokens, foreign origins, hostile fields: refused, no grant revoked, nobody signed in',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom<Target>('revoke-form', 'revoke-form', 'login', 'logout'),
          fc.constantFrom(...CSRF_FORGERIES),
          hostileString(),
          formFields,
          fc.oneof({ arbitrary: fc.constant('application/x-www-form-urlencoded'), weight: 4 }, { arbitrary: fc.constantFrom(...CONTENT_TYPES), weight: 1 }),
          async (target, forgery, hostile, fields, contentType) => {
            // The forged token is sent with the fields a genuine form would carry.
            const all: [string, string][] =
              target === 'revoke-form'
                ? [['client_id', clientId], ...fields]
                : target === 'login'
                  ? [['username', PERSONA], ['password', 'sandbox'], ...fields]
                  : fields;
            const seen = await send(`POST ${PATHS[target]}`, HANDLERS[target], await forgedCsrfPost(formOf(target), forgery, hostile, all, contentType));
            assertRefused(seen, `${target} ${forgery}`);
            expect(await revoked(grantId), `${target} ${forgery} revoked the grant`).toBe(false);
          },
        ),
        { numRuns: n1 },
      );
      await assertHealthy();
    },
    timeoutFor(n1),
  );

  const n2 = runs(150);
  it(
    'JSON revoke with hostile client ids, cookies and origins: a 4xx JSON error, no grant of the persona revoked unless it names the app same-origin',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('DELETE', 'POST'),
          fc.oneof(hostileString({ huge: true }), fc.constantFrom('', 'a'.repeat(201), '../../oauth/token', '%2e%2e', `${clientId} `)),
          fc.option(hostileHeaderValue()),
          fc.oneof(fc.constant(ORIGIN), fc.constant('https://evil.example'), hostileHeaderValue()),
          async (method, id, cookie, origin) => {
            const headers = new Headers({ origin, cookie: cookie ?? sessionPair() });
            const seen = await send(
              `${method} /interaction/access/apps/{client_id}`,
              (r) => handleAccessRevoke(r, id),
              new Request(`${ORIGIN}/interaction/access/apps/x`, { method, headers }),
            );
            assertNoLeak(seen, `${method} ${id.slice(0, 80)}`);
            expect([400, 401, 403, 404], `${method} ${id.slice(0, 80)}: ${seen.status}`).toContain(seen.status);
            expect(seen.headers.get('content-type')).toMatch(/^application\/json/);
            expect(await revoked(grantId)).toBe(false);
          },
        ),
        { numRuns: n2 },
      );
      // A genuine same-origin revoke still works.
      const ok = await handleAccessRevoke(
        new Request(`${ORIGIN}/interaction/access/apps/x`, { method: 'DELETE', headers: { origin: ORIGIN, cookie: sessionPair() } }),
        clientId,
      );
      expect(ok.status).toBe(200);
      expect(await revoked(grantId)).toBe(true);
      await assertHealthy();
    },
    timeoutFor(n2),
  );
});
