// Several instances (issue 8 item 6): two app processes on one PostgreSQL database, on different
// ports behind one public origin (PUBLIC_ORIGIN, as behind a reverse proxy). Whatever one instance
// issues, revokes, consumes or counts, the other knows: tokens, revocation, single-use codes,
// refresh-token rotation, client-assertion jti's and rate-limit windows all live in the database.
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserSession } from '../integration/support/browserless';
import {
  clientPost,
  exchangeCode,
  fhirStatus,
  obtainCodes,
  PATIENT,
  postForm,
  refreshToken,
  registerApp,
  registerConfidentialApp,
  succeeded,
} from './support/oauth';
import type { ClientCredentials, RegisteredApp, TokenOutcome } from './support/oauth';
import { freePort, freshDatabase, prepareDatabase, SERVER_ENV, startServer } from './support/servers';
import type { TestServer } from './support/servers';

// Rate limits of both instances (RATE_LIMIT_*): a window far longer than the test, small budgets.
const CLIENT_LIMIT = 12;
const PATIENT_LIMIT = 20;
const WINDOW_SECONDS = 3600;
// Each case below uses its own patient for the FHIR calls that count, so the per-patient budgets do not mix.
const LIMIT_CLIENT_PATIENT = 'pat-42-2';
const LIMIT_PATIENT = 'pat-42-1';

let a: TestServer;
let b: TestServer;
/** The public origin both instances answer for: the issuer, the FHIR base of every token's aud. */
let origin = '';

/** A code-flow token response obtained at instance A (the interaction runs there). */
async function tokensAtA(app: RegisteredApp, client: ClientCredentials, patient = PATIENT): Promise<Record<string, unknown>> {
  const [code] = await obtainCodes(a.url, app, 1, patient);
  const out = await exchangeCode(a.url, client, code!);
  if (!succeeded(out)) throw new Error(`exchange at A failed: ${JSON.stringify(out)}`);
  return out.body;
}

/**
 * A browser behind a round-robin reverse proxy: every request to the public origin goes to the
 * next instance in turn, with the same cookies (what a proxy without sticky sessions does).
 */
class RoundRobinBrowser extends BrowserSession {
  private turn = 0;
  constructor(
    base: string,
    private readonly instances: readonly string[],
  ) {
    super(base);
  }

  override request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url);
    if (target.origin === new URL(this.base).origin) target.host = new URL(this.instances[this.turn++ % this.instances.length]!).host;
    return super.request(target, init);
  }
}

function body(o: TokenOutcome): Record<string, unknown> {
  if (o.kind === 'cut') throw new Error(`no response: ${o.reason}`);
  return o.body;
}

function status(o: TokenOutcome): number {
  return o.kind === 'cut' ? 0 : o.status;
}

describe.skipIf(!process.env.TEST_DATABASE_URL)('two instances on one PostgreSQL database', () => {
  beforeAll(async () => {
    const url = await freshDatabase('postgresql', 'instances');
    prepareDatabase(url);
    const portA = await freePort();
    origin = `http://localhost:${portA}`;
    const env = {
      ...SERVER_ENV,
      PUBLIC_ORIGIN: origin,
      NEXTAUTH_SECRET: 'shared-between-instances-0123456789',
      RATE_LIMIT_WINDOW_SECONDS: String(WINDOW_SECONDS),
      RATE_LIMIT_CLIENT: String(CLIENT_LIMIT),
      RATE_LIMIT_PATIENT: String(PATIENT_LIMIT),
    };
    a = await startServer({ databaseUrl: url, port: portA, env });
    b = await startServer({ databaseUrl: url, env });
  }, 240_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('share signing keys: a token issued by A is accepted by B, revoked through B, then refused by A and inactive on both', async () => {
    const app = await registerConfidentialApp(a.url);
    const tokens = await tokensAtA(app, app.credentials);
    const access = String(tokens.access_token);
    expect(await fhirStatus(b.url, `Patient/${PATIENT}`, access)).toBe(200);
    expect(body(await clientPost(b.url, '/oauth/introspect', app.credentials, { token: access }))).toMatchObject({ active: true, client_id: app.clientId });

    expect(status(await clientPost(b.url, '/oauth/revoke', app.credentials, { token: access }))).toBe(200);
    expect(await fhirStatus(a.url, `Patient/${PATIENT}`, access)).toBe(401);
    expect(await fhirStatus(b.url, `Patient/${PATIENT}`, access)).toBe(401);
    for (const server of [a, b]) expect(body(await clientPost(server.url, '/oauth/introspect', app.credentials, { token: access }))).toEqual({ active: false });
  });

  it('an authorization whose screens are served alternately by A and B completes: sessions, CSRF tokens and interactions are shared', async () => {
    const app = await registerApp(a.url);
    const browser = new RoundRobinBrowser(origin, [a.url, b.url]);
    const [code] = await obtainCodes(a.url, app, 1, PATIENT, browser);
    const out = await exchangeCode(b.url, app.clientId, code!);
    expect(succeeded(out), JSON.stringify(out)).toBe(true);
    expect(await fhirStatus(a.url, `Patient/${PATIENT}`, String(body(out).access_token))).toBe(200);
  });

  it('a code redeemed at A and replayed at B is refused, and the replay revokes what A issued (RFC 6749 §4.1.2)', async () => {
    const app = await registerApp(a.url);
    const [code] = await obtainCodes(a.url, app, 1);
    const first = await exchangeCode(a.url, app.clientId, code!);
    expect(succeeded(first)).toBe(true);
    const access = String(body(first).access_token);
    expect(await fhirStatus(a.url, `Patient/${PATIENT}`, access)).toBe(200);

    const replay = await exchangeCode(b.url, app.clientId, code!);
    expect(status(replay)).toBe(400);
    expect(body(replay).error).toBe('invalid_grant');
    expect(await fhirStatus(a.url, `Patient/${PATIENT}`, access)).toBe(401);
    expect(body(await refreshToken(a.url, app.clientId, String(body(first).refresh_token))).error).toBe('invalid_grant');
  });

  it('a refresh token rotated at A and replayed at B is refused, and the grant is revoked on both (RFC 9700 §4.14.2)', async () => {
    const app = await registerApp(a.url);
    const tokens = await tokensAtA(app, app.clientId);
    const rotated = await refreshToken(a.url, app.clientId, String(tokens.refresh_token));
    expect(succeeded(rotated)).toBe(true);
    const newAccess = String(body(rotated).access_token);
    expect(await fhirStatus(b.url, `Patient/${PATIENT}`, newAccess)).toBe(200);

    const replay = await refreshToken(b.url, app.clientId, String(tokens.refresh_token));
    expect(status(replay)).toBe(400);
    expect(body(replay).error).toBe('invalid_grant');
    expect(await fhirStatus(a.url, `Patient/${PATIENT}`, newAccess)).toBe(401);
    expect(body(await refreshToken(a.url, app.clientId, String(body(rotated).refresh_token))).error).toBe('invalid_grant');
  });

  it('a client assertion used at A and replayed at B is refused: jti values are shared (RFC 7523 §3)', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'instances-key', alg: 'ES384', use: 'sig' };
    const reg = await fetch(`${a.url}/oauth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'instances backend',
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [jwk] },
        scope: 'system/Patient.rs',
      }),
    });
    expect(reg.status).toBe(201);
    const clientId = ((await reg.json()) as { client_id: string }).client_id;
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES384', kid: jwk.kid, typ: 'JWT' })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(`${origin}/oauth/token`)
      .setIssuedAt(now)
      .setExpirationTime(now + 240)
      .sign(privateKey);
    const form = {
      grant_type: 'client_credentials',
      scope: 'system/Patient.rs',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    };
    const first = await postForm(`${a.url}/oauth/token`, form);
    expect(succeeded(first), JSON.stringify(first)).toBe(true);
    const replay = await postForm(`${b.url}/oauth/token`, form);
    expect(status(replay)).toBe(401);
    expect(body(replay).error).toBe('invalid_client');
  });

  it('per-client and per-patient rate limits add up across both instances: 429 + Retry-After on either once the shared budget is spent', async () => {
    // Windows are aligned to multiples of their length: start well inside one.
    const intoWindow = (Date.now() / 1000) % WINDOW_SECONDS;
    if (WINDOW_SECONDS - intoWindow < 60) await new Promise((r) => setTimeout(r, (WINDOW_SECONDS - intoWindow + 1) * 1000));

    // Per client (RATE_LIMIT_CLIENT): its token and FHIR calls, whichever instance answers them.
    const app = await registerApp(a.url);
    const tokens = await tokensAtA(app, app.clientId, LIMIT_CLIENT_PATIENT); // 1 call
    const access = String(tokens.access_token);
    const servers = [b, a];
    for (let i = 0; i < CLIENT_LIMIT - 1; i++)
      expect(await fhirStatus(servers[i % 2]!.url, `Patient/${LIMIT_CLIENT_PATIENT}`, access), `FHIR call ${i + 2}`).toBe(200);
    for (const server of [a, b]) {
      const res = await fetch(`${server.url}/fhir/Patient/${LIMIT_CLIENT_PATIENT}`, { headers: { authorization: `Bearer ${access}` } });
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(WINDOW_SECONDS);
      expect(await res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'throttled' }] });
      // The token endpoint counts against the same budget.
      const refused = await refreshToken(server.url, app.clientId, String(tokens.refresh_token));
      expect(status(refused)).toBe(429);
      expect(refused.kind === 'response' && Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(body(refused).error).toBe('temporarily_unavailable');
    }

    // Per patient (RATE_LIMIT_PATIENT): every client's FHIR calls in that patient's context.
    const apps = [await registerApp(a.url), await registerApp(a.url)];
    const accessTokens = [
      String((await tokensAtA(apps[0]!, apps[0]!.clientId, LIMIT_PATIENT)).access_token),
      String((await tokensAtA(apps[1]!, apps[1]!.clientId, LIMIT_PATIENT)).access_token),
    ];
    for (let i = 0; i < PATIENT_LIMIT; i++) {
      expect(await fhirStatus(servers[i % 2]!.url, `Patient/${LIMIT_PATIENT}`, accessTokens[Math.floor(i / 2) % 2]!), `patient call ${i + 1}`).toBe(200);
    }
    // Both clients are within their own budget (one exchange + 10 calls each): the patient's is spent.
    expect(await fhirStatus(b.url, `Patient/${LIMIT_PATIENT}`, accessTokens[0]!)).toBe(429);
    expect(await fhirStatus(a.url, `Patient/${LIMIT_PATIENT}`, accessTokens[1]!)).toBe(429);
  });
});
