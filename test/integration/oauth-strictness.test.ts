// Where the authorization server is stricter than a lenient production one, over real HTTP: codes
// bound to the aud they were authorized for, client assertions whose aud is exactly the token
// endpoint, online_access that ends with the user's sign-in, introspection limited to the caller's
// own tokens, no referrer on the code redirect, fhirUser in the id_token only with its scope, and
// the Basic challenge only after HTTP Basic. Each test also shows the accepted case, so none can
// pass because everything is refused.
import { randomUUID } from 'node:crypto';
import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest';
import type * as oauth from 'oauth4webapi';
import { SignJWT, decodeJwt, exportJWK, generateKeyPair } from 'jose';
import type { CryptoKey as JoseKey } from 'jose';
import { createDb } from '../../lib/db';
import type { Db } from '../../lib/db';
import { BrowserSession, hiddenInputs } from './support/browserless';
import {
  APP_REDIRECT_URI,
  buildAuthorizationRequest,
  discover,
  registerClient,
  registerPublicClient,
  registerSymmetricClient,
  runCodeFlow,
  smartConfiguration,
  systemToken,
  verifyIdToken,
} from './support/smart-client';
import type { RegisteredClient } from './support/smart-client';

const base = inject('baseUrl');
// The same server under its other loopback name: another issuer and FHIR base.
const altBase = base.includes('//localhost:') ? base.replace('//localhost:', '//127.0.0.1:') : base.replace('//127.0.0.1:', '//localhost:');
// Deterministic seed (SEED=42).
const PATIENT = `Patient/pat-42-0`;
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

let as: oauth.AuthorizationServer;
let db: Db;

beforeAll(async () => {
  as = await discover(base);
  db = createDb(inject('databaseUrl')).db;
});

afterAll(async () => {
  await db.$disconnect();
});

function basic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

async function post(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** Authorizes at `at` (its issuer, its FHIR base as aud) as a patient persona and returns the code. */
async function codeFrom(at: string, clientId: string, scope: string): Promise<{ code: string; verifier: string }> {
  const server = at === base ? as : await discover(at);
  const request = await buildAuthorizationRequest(server, clientId, { scope, aud: `${at}/fhir` });
  const { callback } = await new BrowserSession(at).authorize(request.url, { persona: PATIENT });
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code in ${callback.href}`);
  return { code, verifier: request.verifier };
}

/** A client assertion (private_key_jwt) with the given aud. */
function assertion(clientId: string, key: JoseKey, kid: string, aud: string | string[]): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: clientId, sub: clientId, aud, jti: randomUUID(), exp: now + 300 }).setProtectedHeader({ alg: 'ES384', kid, typ: 'JWT' }).sign(key);
}

describe('docs/CONFORMANCE.md #44: a code is bound to the aud it was authorized for', () => {
  const scope = 'openid fhirUser launch/patient patient/Patient.rs';

  it('a code authorized for one FHIR base is refused (invalid_grant) at the token endpoint of another; at its own it is exchanged', async () => {
    const reg = await registerSymmetricClient(base);
    const auth = { authorization: basic(reg.client.client_id, reg.secret ?? '') };

    const own = await codeFrom(altBase, reg.client.client_id, scope);
    const accepted = await post(
      `${altBase}/oauth/token`,
      { grant_type: 'authorization_code', code: own.code, redirect_uri: APP_REDIRECT_URI, code_verifier: own.verifier },
      auth,
    );
    expect(accepted.status).toBe(200);
    expect(decodeJwt(String(accepted.body.access_token)).aud).toBe(`${altBase}/fhir`);

    const moved = await codeFrom(altBase, reg.client.client_id, scope);
    const refused = await post(
      `${base}/oauth/token`,
      { grant_type: 'authorization_code', code: moved.code, redirect_uri: APP_REDIRECT_URI, code_verifier: moved.verifier },
      auth,
    );
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
    expect(String(refused.body.error_description)).toContain(`${altBase}/fhir`);
    // Refused, the code is used up: its own token endpoint no longer takes it either.
    const after = await post(
      `${altBase}/oauth/token`,
      { grant_type: 'authorization_code', code: moved.code, redirect_uri: APP_REDIRECT_URI, code_verifier: moved.verifier },
      auth,
    );
    expect(after.body.error).toBe('invalid_grant');
  });
});

describe('docs/CONFORMANCE.md #71, #141, #178: a client assertion aud is exactly the token endpoint URL (SMART App Launch 2.2 §client-confidential-asymmetric, §backend-services)', () => {
  let key: JoseKey;
  let jwk: Record<string, unknown>;

  beforeAll(async () => {
    const pair = await generateKeyPair('ES384', { extractable: true });
    key = pair.privateKey;
    jwk = { ...(await exportJWK(pair.publicKey)), kid: 'strict-aud', alg: 'ES384', use: 'sig' };
  });

  it('client_credentials: aud = the issuer → 401 invalid_client; aud = the token endpoint → a token', async () => {
    const { client_id } = await registerClient(base, {
      client_name: 'strict aud backend',
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [jwk] },
      scope: 'system/Patient.rs',
    });
    const form = async (aud: string) => ({
      grant_type: 'client_credentials',
      scope: 'system/Patient.rs',
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: await assertion(client_id, key, 'strict-aud', aud),
    });
    for (const aud of [as.issuer, `${as.issuer}/`]) {
      const refused = await post(`${base}/oauth/token`, await form(aud));
      expect(refused.status, aud).toBe(401);
      expect(refused.body.error, aud).toBe('invalid_client');
      expect(String(refused.body.error_description)).toMatch(/aud must be the token endpoint/);
    }
    expect((await post(`${base}/oauth/token`, await form(as.token_endpoint ?? ''))).status).toBe(200);
  });

  it('asymmetric code exchange and refresh: aud = the issuer → 401 invalid_client; aud = the token endpoint → tokens', async () => {
    const { client_id } = await registerClient(base, {
      client_name: 'strict aud asymmetric app',
      token_endpoint_auth_method: 'private_key_jwt',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [APP_REDIRECT_URI],
      jwks: { keys: [jwk] },
      scope: 'openid fhirUser launch/patient offline_access patient/Patient.rs',
    });
    const { code, verifier } = await codeFrom(base, client_id, 'openid fhirUser launch/patient offline_access patient/Patient.rs');
    const exchange = async (aud: string) =>
      post(`${base}/oauth/token`, {
        grant_type: 'authorization_code',
        code,
        redirect_uri: APP_REDIRECT_URI,
        code_verifier: verifier,
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: await assertion(client_id, key, 'strict-aud', aud),
      });
    const refusedCode = await exchange(as.issuer);
    expect(refusedCode.status).toBe(401);
    expect(refusedCode.body.error).toBe('invalid_client');
    // The refused authentication did not use the code up.
    const tokens = await exchange(as.token_endpoint ?? '');
    expect(tokens.status).toBe(200);

    const refresh = async (aud: string) =>
      post(`${base}/oauth/token`, {
        grant_type: 'refresh_token',
        refresh_token: String(tokens.body.refresh_token),
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: await assertion(client_id, key, 'strict-aud', aud),
      });
    const refusedRefresh = await refresh(as.issuer);
    expect(refusedRefresh.status).toBe(401);
    expect(refusedRefresh.body.error).toBe('invalid_client');
    expect((await refresh(as.token_endpoint ?? '')).status).toBe(200);
  });
});

describe('docs/CONFORMANCE.md #83, #24: online_access lasts as long as the sign-in session', () => {
  const online = 'openid fhirUser launch/patient online_access patient/Patient.rs';
  const offline = 'openid fhirUser launch/patient offline_access patient/Patient.rs';

  async function refresh(reg: RegisteredClient, token: string): Promise<Answer> {
    return post(`${base}/oauth/token`, { grant_type: 'refresh_token', refresh_token: token }, { authorization: basic(reg.client.client_id, reg.secret ?? '') });
  }

  /** Signs the persona out on an interaction screen's "Switch user" form. */
  async function signOutOnInteraction(session: BrowserSession, reg: RegisteredClient): Promise<void> {
    const request = await buildAuthorizationRequest(as, reg.client.client_id, { scope: online, aud: `${base}/fhir` });
    const toInteraction = await session.request(request.url);
    expect(toInteraction.status).toBe(303);
    const page = new URL(toInteraction.headers.get('location') ?? '', base);
    const html = await (await session.request(page)).text();
    const form = hiddenInputs(html, `${page.pathname}/logout`);
    const out = await session.postForm(`${page.pathname}/logout`, form);
    expect(out.status).toBe(303);
    expect(session.jar.has('next-auth.session-token')).toBe(false);
  }

  it('permission-online is advertised', async () => {
    expect((await smartConfiguration(base)).capabilities).toContain('permission-online');
  });

  it('signing out on the interaction screens ends the online_access refresh token of that sign-in; an offline_access one lives on', async () => {
    const reg = await registerSymmetricClient(base);
    const session = new BrowserSession(base);
    const onlineFlow = await runCodeFlow(base, as, reg, { scope: online, interaction: { persona: PATIENT }, session });
    const offlineFlow = await runCodeFlow(base, as, reg, { scope: offline, interaction: { persona: PATIENT }, session });
    // While the user is signed in, the online_access refresh token works (and rotates).
    const before = await refresh(reg, onlineFlow.tokens.refresh_token ?? '');
    expect(before.status).toBe(200);

    await signOutOnInteraction(session, reg);

    const after = await refresh(reg, String(before.body.refresh_token));
    expect(after.status).toBe(400);
    expect(after.body.error).toBe('invalid_grant');
    // Its access token went with the grant.
    expect((await fetch(`${base}/fhir/${PATIENT}`, { headers: { authorization: `Bearer ${String(before.body.access_token)}` } })).status).toBe(401);
    expect((await refresh(reg, offlineFlow.tokens.refresh_token ?? '')).status).toBe(200);
  });

  it("next-auth's sign-out (/api/auth/signout) ends the online_access grants of that sign-in too", async () => {
    const reg = await registerSymmetricClient(base);
    const session = new BrowserSession(base);
    const flow = await runCodeFlow(base, as, reg, { scope: online, interaction: { persona: PATIENT }, session });
    const csrf = (await (await session.request(`${base}/api/auth/csrf`)).json()) as { csrfToken: string };
    const out = await session.postForm('/api/auth/signout', new URLSearchParams({ csrfToken: csrf.csrfToken, callbackUrl: base }));
    expect(out.status).toBeLessThan(400);
    const after = await refresh(reg, flow.tokens.refresh_token ?? '');
    expect(after.status).toBe(400);
    expect(after.body.error).toBe('invalid_grant');
  });

  it('the grant records when the sign-in expires; once it has, the online_access refresh token is refused', async () => {
    const reg = await registerSymmetricClient(base);
    const flow = await runCodeFlow(base, as, reg, { scope: online, interaction: { persona: PATIENT } });
    const grant = await db.grant.findFirstOrThrow({ where: { clientId: reg.client.client_id } });
    const context = JSON.parse(grant.context) as Record<string, unknown>;
    const expiresAt = Number(context.sessionExpiresAt);
    // The persona session lasts 8 hours (lib/interaction/session.ts).
    expect(Math.abs(expiresAt - (Date.now() / 1000 + 8 * 3600))).toBeLessThan(600);
    // The refresh token does not outlive the session.
    const refreshRow = await db.token.findFirstOrThrow({ where: { grantId: grant.id, kind: 'refresh' } });
    expect(refreshRow.expiresAt.getTime() / 1000).toBeLessThanOrEqual(expiresAt + 1);

    // The session expires (its recorded end moves into the past).
    await db.grant.update({ where: { id: grant.id }, data: { context: JSON.stringify({ ...context, sessionExpiresAt: Math.floor(Date.now() / 1000) - 1 }) } });
    const after = await refresh(reg, flow.tokens.refresh_token ?? '');
    expect(after.status).toBe(400);
    expect(after.body.error).toBe('invalid_grant');
    expect(String(after.body.error_description)).toMatch(/session/);
  });
});

describe('docs/CONFORMANCE.md #134: introspection tells a client about its own tokens; others need introspect_any_token', () => {
  const scope = 'openid fhirUser launch/patient patient/Patient.rs';
  let owner: RegisteredClient;
  let token = '';

  beforeAll(async () => {
    owner = await registerSymmetricClient(base);
    token = (await runCodeFlow(base, as, owner, { scope, interaction: { persona: PATIENT } })).tokens.access_token;
  });

  function introspect(authorization: string): Promise<Answer> {
    return post(`${base}/oauth/introspect`, { token }, { authorization });
  }

  it('another confidential client gets {"active": false}; the owner and a client registered with introspect_any_token see the token', async () => {
    const other = await registerSymmetricClient(base);
    const stranger = await introspect(basic(other.client.client_id, other.secret ?? ''));
    expect(stranger.status).toBe(200);
    expect(stranger.body).toEqual({ active: false });

    const mine = await introspect(basic(owner.client.client_id, owner.secret ?? ''));
    expect(mine.body).toMatchObject({ active: true, client_id: owner.client.client_id });

    const resourceServer = await registerClient(base, {
      client_name: 'resource server',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      redirect_uris: [APP_REDIRECT_URI],
      introspect_any_token: true,
    });
    const allowed = await introspect(basic(resourceServer.client_id, resourceServer.client_secret ?? ''));
    expect(allowed.body).toMatchObject({ active: true, client_id: owner.client.client_id, patient: 'pat-42-0' });
  });

  it("a backend client's bearer token (system/Patient.rs only) cannot read another client's token", async () => {
    const backend = await systemToken(base, as, 'system/Patient.rs');
    const res = await introspect(`Bearer ${backend}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ active: false });
  });

  it('introspect_any_token is registered and echoed; a public client cannot have it', async () => {
    const res = await fetch(`${base}/oauth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'rs',
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: [APP_REDIRECT_URI],
        introspect_any_token: true,
      }),
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as Record<string, unknown>).introspect_any_token).toBe(true);
    const pub = await fetch(`${base}/oauth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'public rs', token_endpoint_auth_method: 'none', redirect_uris: [APP_REDIRECT_URI], introspect_any_token: true }),
    });
    expect(pub.status).toBe(400);
    expect(((await pub.json()) as Record<string, unknown>).error).toBe('invalid_client_metadata');
  });
});

describe('docs/CONFORMANCE.md #167: no referrer on a response that carries a code or token in a URL (RFC 9700 §4.2.4)', () => {
  /** A browser session that keeps every response it saw. */
  class RecordingSession extends BrowserSession {
    readonly seen: Response[] = [];
    override async request(url: string | URL, init: RequestInit = {}): Promise<Response> {
      const res = await super.request(url, init);
      this.seen.push(res);
      return res;
    }
    toApp(): Response | undefined {
      return this.seen.find((r) => (r.headers.get('location') ?? '').startsWith(APP_REDIRECT_URI));
    }
  }

  it('the 303 carrying the code, and the one carrying access_denied, send Referrer-Policy: no-referrer', async () => {
    const reg = await registerPublicClient(base);
    const scope = 'openid fhirUser launch/patient patient/Patient.rs';
    for (const deny of [false, true]) {
      const session = new RecordingSession(base);
      const request = await buildAuthorizationRequest(as, reg.client.client_id, { scope, aud: `${base}/fhir` });
      const { callback } = await session.authorize(request.url, { persona: PATIENT, consent: { deny } });
      expect(callback.searchParams.has(deny ? 'error' : 'code')).toBe(true);
      const redirect = session.toApp();
      expect(redirect?.status).toBe(303);
      expect(redirect?.headers.get('referrer-policy'), deny ? 'deny' : 'allow').toBe('no-referrer');
    }
  });
});

describe('docs/CONFORMANCE.md #76: the id_token carries fhirUser only when the fhirUser scope was granted', () => {
  it('openid without fhirUser: no fhirUser claim; with it: the claim', async () => {
    const reg = await registerPublicClient(base);
    const without = await runCodeFlow(base, as, reg, { scope: 'openid launch/patient patient/Patient.rs', interaction: { persona: PATIENT } });
    const claims = await verifyIdToken(as, without.tokens.id_token ?? '', reg.client.client_id);
    expect(claims.sub).toBeTruthy();
    expect(claims.fhirUser).toBeUndefined();
    const withScope = await runCodeFlow(base, as, reg, { scope: 'openid fhirUser launch/patient patient/Patient.rs', interaction: { persona: PATIENT } });
    expect((await verifyIdToken(as, withScope.tokens.id_token ?? '', reg.client.client_id)).fhirUser).toBe(`${base}/fhir/${PATIENT}`);
  });
});

describe('docs/CONFORMANCE.md #75: the Basic challenge only after HTTP Basic', () => {
  it('a failed client assertion → 401 invalid_client without a Basic challenge; failed Basic credentials → 401 with it', async () => {
    const pair = await generateKeyPair('ES384', { extractable: true });
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES384' };
    const { client_id } = await registerClient(base, {
      client_name: 'challenge backend',
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [jwk] },
      scope: 'system/Patient.rs',
    });
    const other = await generateKeyPair('ES384', { extractable: true });
    const refused = await post(`${base}/oauth/token`, {
      grant_type: 'client_credentials',
      scope: 'system/Patient.rs',
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: await assertion(client_id, other.privateKey, 'k1', as.token_endpoint ?? ''),
    });
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('invalid_client');
    expect(refused.headers.get('www-authenticate') ?? '').not.toMatch(/basic/i);

    const reg = await registerSymmetricClient(base);
    const wrong = await post(
      `${base}/oauth/token`,
      { grant_type: 'refresh_token', refresh_token: 'x' },
      { authorization: basic(reg.client.client_id, 'wrong') },
    );
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic /);
  });
});
