// Rate limits over real HTTP (issue 8 item 2), on a server of its own started with low limits:
// per client (FHIR and token endpoint together), per patient in context (across clients), per IP
// for registration, and failed sign-ins per persona and per IP (right password refused while
// locked). Each refusal is a 429 with Retry-After = the seconds left in the window and the standard
// error shape (OperationOutcome `throttled` on FHIR, OAuth JSON elsewhere), audited once and
// flagged rate-limited; the console shows the counters and the alerts per client.
// Callers are told apart by X-Forwarded-For, as behind a reverse proxy that appends to it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import type { Db } from '../../lib/db';
import { auditWhere, secondsLeft, startInFreshWindow, startOwnServer } from './support/own-server';
import type { OwnServer } from './support/own-server';
import { BrowserSession, hiddenInputs } from './support/browserless';
import { APP_LAUNCH_URI, APP_REDIRECT_URI, buildAuthorizationRequest, discover, fhirGet, runCodeFlow } from './support/smart-client';
import type { FhirJson, RegisteredClient } from './support/smart-client';

const WINDOW = 3600;
const SIGN_IN_WINDOW = 900;
const LIMITS = { client: 6, patient: 8, signInPersona: 3, signInIp: 6, registerIp: 3 };
const CONSOLE_USER = 'rl-admin';
const CONSOLE_PASSWORD = 'rate-limit-console-password';
const PATIENT_SCOPE = 'launch/patient patient/Patient.rs patient/Observation.rs';

let base = '';
let server: OwnServer | undefined;
let db: Db;
let as: oauth.AuthorizationServer;
let ipSeq = 0;

/** A caller address of its own (X-Forwarded-For), so tests do not share per-IP counters. */
function newIp(): string {
  ipSeq++;
  return `10.77.${Math.floor(ipSeq / 250)}.${(ipSeq % 250) + 1}`;
}

async function register(metadata: Record<string, unknown>, ip = newIp()): Promise<Response> {
  return fetch(`${base}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
    body: JSON.stringify(metadata),
  });
}

async function publicClient(): Promise<RegisteredClient> {
  const res = await register({
    client_name: 'rl public app',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    redirect_uris: [APP_REDIRECT_URI],
    launch_uris: [APP_LAUNCH_URI],
    scope: `openid fhirUser ${PATIENT_SCOPE}`,
  });
  const body = (await res.json()) as { client_id: string };
  expect(res.status).toBe(201);
  return { client: { client_id: body.client_id, token_endpoint_auth_method: 'none' }, auth: () => oauth.None(), secret: null };
}

/** A patient-context access token of a new public client (one token-endpoint call counted for it). */
async function patientToken(patientId: string): Promise<{ clientId: string; token: string }> {
  const reg = await publicClient();
  const flow = await runCodeFlow(base, as, reg, { scope: PATIENT_SCOPE, interaction: { persona: `Patient/${patientId}` } });
  expect(flow.tokens.patient).toBe(patientId);
  return { clientId: reg.client.client_id, token: flow.tokens.access_token };
}

function expectRetryAfter(headers: Headers, windowSeconds: number): number {
  const value = Number(headers.get('retry-after'));
  expect(Number.isInteger(value)).toBe(true);
  expect(value).toBeGreaterThanOrEqual(1);
  // Seconds to the end of the window (the request was answered within the last few seconds).
  expect(Math.abs(value - secondsLeft(windowSeconds))).toBeLessThanOrEqual(3);
  return value;
}

function throttledIssue(body: FhirJson): { code?: string; diagnostics?: string } {
  expect(body.resourceType).toBe('OperationOutcome');
  return body.issue?.[0] ?? {};
}

/** Audit records, once the writer has caught up (records may be written in batches). */
beforeAll(async () => {
  server = await startOwnServer('ratelimit', {
    // The tests play a reverse proxy's clients: X-Forwarded-For names each client's address.
    TRUST_PROXY: '1',
    RATE_LIMIT_WINDOW_SECONDS: String(WINDOW),
    RATE_LIMIT_CLIENT: String(LIMITS.client),
    RATE_LIMIT_PATIENT: String(LIMITS.patient),
    RATE_LIMIT_SIGNIN_PERSONA: String(LIMITS.signInPersona),
    RATE_LIMIT_SIGNIN_IP: String(LIMITS.signInIp),
    RATE_LIMIT_REGISTER_IP: String(LIMITS.registerIp),
    CONSOLE_USER,
    CONSOLE_PASSWORD,
  });
  base = server.url;
  db = server.db;
  as = await discover(base);
  // Fixed windows start at multiples of their length (3600 is one of 900): the tests below must
  // not straddle a window end, so they start in a fresh window when little of this one is left.
  await startInFreshWindow(SIGN_IN_WINDOW);
}, 400_000);

afterAll(async () => {
  await server?.stop();
});

describe('per client (RATE_LIMIT_CLIENT: FHIR and token calls of one client_id together)', () => {
  let a: { clientId: string; token: string };

  it('answers 429 + Retry-After + OperationOutcome throttled past the limit; another client is unaffected', async () => {
    a = await patientToken('pat-42-0');
    // The token exchange was call 1 of 6: five FHIR reads pass, the sixth FHIR request is refused.
    for (let i = 0; i < LIMITS.client - 1; i++) expect((await fhirGet(base, 'Patient/pat-42-0', a.token)).status).toBe(200);
    const refused = await fhirGet(base, 'Observation?patient=pat-42-0', a.token);
    expect(refused.status).toBe(429);
    expectRetryAfter(refused.headers, WINDOW);
    const issue = throttledIssue(refused.body);
    expect(issue.code).toBe('throttled');
    expect(issue.diagnostics).toContain(`client '${a.clientId}'`);
    expect(issue.diagnostics).toContain('RATE_LIMIT_CLIENT');
    expect(issue.diagnostics).not.toContain('RATE_LIMIT_PATIENT');
    // Still refused on the next call, whatever it asks.
    expect((await fhirGet(base, 'Patient/pat-42-0', a.token)).status).toBe(429);

    const b = await patientToken('pat-42-1');
    expect((await fhirGet(base, 'Patient/pat-42-1', b.token)).status).toBe(200);
    // CapabilityStatement needs no token and is never counted.
    expect((await fhirGet(base, 'metadata')).status).toBe(200);
  });

  it('audits every FHIR request once, the refused ones with status 429 and the flag rate-limited', async () => {
    const rows = await auditWhere(db, { clientId: a.clientId, kind: 'fhir' }, LIMITS.client + 1);
    expect(rows.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 429, 429]);
    for (const r of rows) expect(r.flags === 'rate-limited').toBe(r.status === 429);
    expect(rows[5]?.errorCode).toBe('too-many-requests');
    expect(rows[5]?.patientId).toBe('pat-42-0');
  });
});

describe('per patient in context (RATE_LIMIT_PATIENT: every client together)', () => {
  it('throttles a second app reading the same patient once the patient budget is used up', async () => {
    const c = await patientToken('pat-42-2');
    const d = await patientToken('pat-42-2');
    // Each client: 1 token call + 4 FHIR reads = 5 of its 6; the patient: 8 of 8.
    for (let i = 0; i < 4; i++) expect((await fhirGet(base, 'Patient/pat-42-2', c.token)).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await fhirGet(base, 'Patient/pat-42-2', d.token)).status).toBe(200);
    for (const who of [d, c]) {
      const refused = await fhirGet(base, 'Patient/pat-42-2', who.token);
      expect(refused.status).toBe(429);
      expectRetryAfter(refused.headers, WINDOW);
      const issue = throttledIssue(refused.body);
      expect(issue.code).toBe('throttled');
      expect(issue.diagnostics).toContain("patient 'pat-42-2'");
      expect(issue.diagnostics).toContain('RATE_LIMIT_PATIENT');
      expect(issue.diagnostics).not.toContain('RATE_LIMIT_CLIENT');
    }
    // Another patient's app is not affected.
    const e = await patientToken('pat-42-3');
    expect((await fhirGet(base, 'Patient/pat-42-3', e.token)).status).toBe(200);
  });
});

describe('token, revocation and introspection endpoints (OAuth error shape)', () => {
  it('answer 429 temporarily_unavailable with Retry-After and no-store once the client is over its limit', async () => {
    const res = await register({
      client_name: 'rl confidential',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [APP_REDIRECT_URI],
      scope: PATIENT_SCOPE,
    });
    const reg = (await res.json()) as { client_id: string; client_secret: string };
    const authorization = `Basic ${Buffer.from(`${encodeURIComponent(reg.client_id)}:${encodeURIComponent(reg.client_secret)}`).toString('base64')}`;
    const post = (path: string, form: Record<string, string>) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
        body: new URLSearchParams(form).toString(),
      });

    for (let i = 0; i < LIMITS.client; i++) {
      const r = await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: `not-a-token-${i}` });
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: string }).error).toBe('invalid_grant');
    }
    const refused = await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: 'not-a-token' });
    expect(refused.status).toBe(429);
    expectRetryAfter(refused.headers, WINDOW);
    expect(refused.headers.get('cache-control')).toBe('no-store');
    expect(refused.headers.get('content-type')).toContain('application/json');
    const body = (await refused.json()) as { error: string; error_description: string };
    expect(body.error).toBe('temporarily_unavailable');
    expect(body.error_description).toContain(`client '${reg.client_id}'`);
    expect(body.error_description).toContain('RATE_LIMIT_CLIENT');
    expect(body.error_description).toMatch(/Retry after \d+ s/);

    // The same client budget covers revocation and introspection.
    for (const path of ['/oauth/revoke', '/oauth/introspect']) {
      const r = await post(path, { token: 'anything' });
      expect(r.status, path).toBe(429);
      expect(((await r.json()) as { error: string }).error).toBe('temporarily_unavailable');
      expectRetryAfter(r.headers, WINDOW);
    }
    const rows = await auditWhere(db, { clientId: reg.client_id, kind: 'oauth', status: 429 }, 3);
    expect(rows.map((r) => [r.endpoint, r.errorCode, r.flags])).toEqual([
      ['/oauth/token', 'temporarily_unavailable', 'rate-limited'],
      ['/oauth/revoke', 'temporarily_unavailable', 'rate-limited'],
      ['/oauth/introspect', 'temporarily_unavailable', 'rate-limited'],
    ]);
    expect(await db.auditRecord.count({ where: { clientId: reg.client_id, kind: 'oauth', endpoint: { not: '/oauth/register' } } })).toBe(LIMITS.client + 3);
  });
});

describe('registration per IP address (RATE_LIMIT_REGISTER_IP)', () => {
  it('refuses the registration past the limit from one address, not from another', async () => {
    const ip = newIp();
    const metadata = { client_name: 'rl burst', token_endpoint_auth_method: 'none', redirect_uris: [APP_REDIRECT_URI], scope: PATIENT_SCOPE };
    for (let i = 0; i < LIMITS.registerIp; i++) expect((await register(metadata, ip)).status).toBe(201);
    const refused = await register(metadata, ip);
    expect(refused.status).toBe(429);
    expectRetryAfter(refused.headers, WINDOW);
    const body = (await refused.json()) as { error: string; error_description: string };
    expect(body.error).toBe('temporarily_unavailable');
    expect(body.error_description).toContain(`registrations from ${ip}`);
    expect((await register(metadata, newIp())).status).toBe(201);
    const rows = await auditWhere(db, { endpoint: '/oauth/register', ip }, LIMITS.registerIp + 1);
    expect(rows.map((r) => [r.status, r.flags])).toEqual([
      [201, null],
      [201, null],
      [201, null],
      [429, 'rate-limited'],
    ]);
  });
});

/** The sign-in screen of a new authorization request, and a way to post its login form. */
async function signInScreen() {
  const reg = await publicClient();
  const session = new BrowserSession(base);
  const request = await buildAuthorizationRequest(as, reg.client.client_id, { scope: PATIENT_SCOPE, aud: `${base}/fhir` });
  let res = await session.request(request.url);
  while (res.status >= 300 && res.status < 400) res = await session.request(new URL(res.headers.get('location') ?? '', base));
  const html = await res.text();
  const page = /action="(\/interaction\/[^/"]+)\/login"/.exec(html)?.[1];
  if (!page) throw new Error(`no sign-in screen: ${html.slice(0, 300)}`);
  const csrf = hiddenInputs(html, `${page}/login`).get('csrf') ?? '';
  return {
    clientId: reg.client.client_id,
    page,
    /** Posts the login form from an address; returns the redirect target (the session cookie is kept in the jar). */
    async login(fields: Record<string, string>, ip: string): Promise<URL> {
      const r = await session.request(new URL(`${page}/login`, base), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(base).origin, 'x-forwarded-for': ip },
        body: new URLSearchParams({ csrf, ...fields }).toString(),
      });
      expect(r.status).toBe(303);
      return new URL(r.headers.get('location') ?? '', base);
    },
    signedIn: () => session.jar.has('next-auth.session-token'),
    show: async (url: URL) => (await session.request(url)).text(),
  };
}

describe('failed sign-ins per persona and per IP address (RATE_LIMIT_SIGNIN_PERSONA, RATE_LIMIT_SIGNIN_IP)', () => {
  it('locks a persona after its failed attempts: the right password and the one-click button are refused, from any address', async () => {
    const screen = await signInScreen();
    const ip = newIp();
    for (let i = 0; i < LIMITS.signInPersona; i++) {
      const to = await screen.login({ username: 'practitioner-2', password: `guess-${i}` }, ip);
      expect(to.searchParams.get('error')).toBe('credentials');
    }
    const locked = await screen.login({ username: 'practitioner-2', password: 'sandbox' }, ip);
    expect(locked.searchParams.get('error')).toBe('locked-persona');
    const retry = Number(locked.searchParams.get('retry'));
    expect(Math.abs(retry - secondsLeft(SIGN_IN_WINDOW))).toBeLessThanOrEqual(3);
    expect(screen.signedIn()).toBe(false);
    const html = await screen.show(locked);
    expect(html).toContain('<h1>Sign in</h1>');
    expect(html).toMatch(
      /role="alert">Too many failed sign-in attempts for this user: sign-in as this user is locked for about \d+ minutes?, even with the right password/,
    );

    // Another address, the same persona (typed as first.last would be the same counter too): still locked.
    expect((await screen.login({ username: 'practitioner-2', password: 'sandbox' }, newIp())).searchParams.get('error')).toBe('locked-persona');
    expect((await screen.login({ persona: 'Practitioner/practitioner-2' }, newIp())).searchParams.get('error')).toBe('locked-persona');
    expect(screen.signedIn()).toBe(false);

    // Another persona from the first address signs in (that address has 4 of its 6 attempts counted).
    const ok = await screen.login({ username: 'practitioner-3', password: 'sandbox' }, ip);
    expect(ok.searchParams.get('error')).toBeNull();
    expect(screen.signedIn()).toBe(true);

    const rows = await auditWhere(db, { endpoint: `${screen.page}/login`, errorCode: 'signin_locked' }, 3);
    expect(rows).toHaveLength(3);
    for (const r of rows) {
      expect(r.flags).toBe('rate-limited');
      expect(r.clientId).toBe(screen.clientId);
      expect(r.userId).toBe('Practitioner/practitioner-2');
    }
    expect(await db.auditRecord.count({ where: { endpoint: `${screen.page}/login`, errorCode: 'invalid_credentials' } })).toBe(LIMITS.signInPersona);
  });

  it('locks an address after its failed attempts, for every persona; successful sign-ins do not count', async () => {
    const screen = await signInScreen();
    const ip = newIp();
    // Successful one-click sign-ins (e2e tests make many) never count…
    const busy = await signInScreen();
    for (let i = 0; i < LIMITS.signInIp + 2; i++)
      expect((await busy.login({ persona: 'Practitioner/practitioner-1' }, ip)).searchParams.get('error')).toBeNull();
    // …failures do, whichever name they try.
    for (let i = 0; i < LIMITS.signInIp; i++) {
      const to = await screen.login({ username: `ghost.user${i}`, password: 'sandbox' }, ip);
      expect(to.searchParams.get('error')).toBe('credentials');
    }
    const locked = await screen.login({ username: 'practitioner-4', password: 'sandbox' }, ip);
    expect(locked.searchParams.get('error')).toBe('locked-ip');
    expect(await screen.show(locked)).toContain('Too many failed sign-in attempts from your network address');
    // practitioner-4 itself is not locked: from another address it signs in.
    expect((await screen.login({ username: 'practitioner-4', password: 'sandbox' }, newIp())).searchParams.get('error')).toBeNull();
    const rows = await auditWhere(db, { endpoint: `${screen.page}/login`, errorCode: 'signin_locked' }, 1);
    expect(rows.map((r) => [r.flags, r.ip])).toEqual([['rate-limited', ip]]);
  });
});

describe('next-auth persona credentials (/api/auth/callback/persona)', () => {
  it('counts its failures on the same per-persona counter and refuses the right password while locked', async () => {
    const session = new BrowserSession(base);
    const ip = newIp();
    const signIn = async (username: string, password: string, from: string): Promise<string> => {
      const csrf = (await (await session.request(`${base}/api/auth/csrf`)).json()) as { csrfToken: string };
      const res = await session.request(`${base}/api/auth/callback/persona`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(base).origin, 'x-forwarded-for': from },
        body: new URLSearchParams({ csrfToken: csrf.csrfToken, username, password, json: 'true' }).toString(),
      });
      expect(res.status).toBeLessThan(500);
      const url = res.headers.get('location') ?? ((await res.json().catch(() => ({}))) as { url?: string }).url ?? '';
      return new URL(url, base).searchParams.get('error') ?? '';
    };
    expect(await signIn('practitioner-5', 'sandbox', ip)).toBe('');
    for (let i = 0; i < LIMITS.signInPersona; i++) expect(await signIn('practitioner-5', `nope-${i}`, ip)).toBe('CredentialsSignin');
    const refused = await signIn('practitioner-5', 'sandbox', newIp());
    expect(refused).toMatch(
      /^Rate limit exceeded for sign-ins as 'Practitioner\/practitioner-5': more than 3 failed sign-ins per 15 minutes \(RATE_LIMIT_SIGNIN_PERSONA\)\. Retry after \d+ s\.$/,
    );
    // The interaction screens share the counter.
    const screen = await signInScreen();
    expect((await screen.login({ username: 'practitioner-5', password: 'sandbox' }, newIp())).searchParams.get('error')).toBe('locked-persona');
    const rows = await auditWhere(db, { endpoint: '/api/auth/callback/persona', userId: 'Practitioner/practitioner-5' }, LIMITS.signInPersona + 1);
    expect(rows.map((r) => [r.status, r.errorCode, r.flags])).toEqual([
      ...Array.from({ length: LIMITS.signInPersona }, () => [401, 'invalid_credentials', null]),
      [401, 'signin_locked', 'rate-limited'],
    ]);
  });
});

describe('console', () => {
  let console_: BrowserSession;

  beforeAll(async () => {
    console_ = new BrowserSession(base);
    const csrf = (await (await console_.request(`${base}/api/console/auth/csrf`)).json()) as { csrfToken: string };
    const res = await console_.postForm(
      '/api/console/auth/callback/console',
      new URLSearchParams({ csrfToken: csrf.csrfToken, username: CONSOLE_USER, password: CONSOLE_PASSWORD, json: 'true' }),
    );
    expect(res.status).toBeLessThan(400);
    expect(console_.jar.has('sandbox-console.session-token')).toBe(true);
  });

  it('the Rate limits page shows the configured limits and the current counters, busiest first', async () => {
    const res = await console_.request(`${base}/console/rate-limits`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<h1>Rate limits</h1>');
    for (const variable of ['RATE_LIMIT_CLIENT', 'RATE_LIMIT_PATIENT', 'RATE_LIMIT_REGISTER_IP', 'RATE_LIMIT_SIGNIN_PERSONA', 'RATE_LIMIT_SIGNIN_IP'])
      expect(html).toContain(variable);
    const counters = html.slice(html.indexOf('data-testid="rate-limit-counters"'));
    // pat-42-2 (10 of 8) and practitioner-2 (6 attempts of 3) are over their limits; the busiest row comes first.
    expect(counters).toMatch(/pat-42-2<\/code><\/a><\/td><td><strong>10<\/strong><\/td><td>125% of 8 — refusing/);
    expect(counters).toMatch(/Practitioner\/practitioner-2<\/code><\/td><td><strong>6<\/strong><\/td><td>200% of 3 — refusing/);
    expect(counters.indexOf('Practitioner/practitioner-2')).toBeLessThan(counters.indexOf('pat-42-2'));
  });

  it('the Alerts page counts rate-limited records per client', async () => {
    const rows = await db.auditRecord.groupBy({ by: ['clientId'], where: { flags: 'rate-limited' }, _count: { _all: true } });
    const html = await (await console_.request(`${base}/console/alerts`)).text();
    const byClient = html.slice(html.indexOf('data-testid="alerts-by-client"'));
    expect(rows.length).toBeGreaterThanOrEqual(4);
    for (const row of rows) {
      if (row.clientId === null) continue;
      expect(byClient).toContain(`${row.clientId}</a>`);
      expect(byClient).toMatch(
        new RegExp(`${row.clientId}</a></td><td><strong>${row._count._all}</strong>[\\s\\S]*?rate-limited<!-- --> × <!-- -->${row._count._all}`),
      );
    }
  });
});
