import { describe, expect, it } from 'vitest';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { getDb } from '../db';
import { createLaunch } from './launches';
import { verifyAccessToken } from './access-token';
import { handleJwks } from './endpoints/jwks';
import { handleToken, handleTokenPreflight } from './endpoints/token';
import {
  authorizeGet,
  authorizeQuery,
  basic,
  exchange,
  FHIR_BASE,
  form,
  getCode,
  interactionIdOf,
  json,
  newClient,
  newSymmetricClient,
  ORIGIN,
  pkce,
  REDIRECT,
  TOKEN_URL,
} from './test-support';
import { completeInteraction } from './interaction';
import { handleIntrospect } from './endpoints/introspect';
import { handleRevoke } from './endpoints/revoke';

const SCOPE = 'openid fhirUser launch/patient patient/*.rs offline_access';

function expectNoStore(res: Response) {
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('pragma')).toBe('no-cache');
}

async function expectError(res: Response, status: number, error: string, description?: RegExp) {
  expect(res.status).toBe(status);
  expectNoStore(res);
  const body = await json(res);
  expect(body.error).toBe(error);
  if (description) expect(body.error_description).toMatch(description);
  return body;
}

async function lastTokenAudit() {
  return getDb().auditRecord.findFirstOrThrow({ where: { endpoint: '/oauth/token' }, orderBy: { at: 'desc' } });
}

describe('full code flow: authorize → consent → token → refresh → introspect → revoke (docs/CONFORMANCE.md §4, §6, §7, §11, §12)', () => {
  it('standalone launch with a confidential-symmetric client (Basic, no client_id in body; #68)', async () => {
    const { client, secret, auth } = await newSymmetricClient();
    const { verifier, challenge } = pkce();
    const nonce = 'n-0S6_WzA2Mj';
    const authz = await authorizeGet(authorizeQuery({ client_id: client.clientId, nonce, scope: SCOPE }, challenge));
    const redirect = new URL(
      await completeInteraction(interactionIdOf(authz), {
        userId: 'Practitioner/prac-1',
        fhirUser: 'Practitioner/prac-1',
        patientId: 'pat-1',
        grantedScope: SCOPE,
        sessionId: 's1',
      }),
    );
    // #49: code, state, iss (RFC 9207)
    expect(`${redirect.origin}${redirect.pathname}`).toBe(REDIRECT);
    expect(redirect.searchParams.get('state')).toBe('st-123');
    expect(redirect.searchParams.get('iss')).toBe(ORIGIN);
    const code = redirect.searchParams.get('code')!;
    expect(code.length).toBeGreaterThanOrEqual(43);

    const res = await exchange(code, verifier, auth);
    expect(res.status).toBe(200);
    expectNoStore(res); // #59
    const body = await json(res);
    // #58 #60 #62 #106
    expect(body).toMatchObject({ token_type: 'Bearer', scope: SCOPE, patient: 'pat-1', need_patient_banner: true });
    expect(typeof body.expires_in).toBe('number');
    expect(typeof body.access_token).toBe('string');
    expect(typeof body.refresh_token).toBe('string');
    expect(typeof body.smart_style_url).toBe('string');

    // Access token claims (brief §5) and verification (§10).
    const at = decodeJwt(String(body.access_token));
    expect(at).toMatchObject({
      iss: ORIGIN,
      aud: FHIR_BASE,
      client_id: client.clientId,
      scope: SCOPE,
      patient: 'pat-1',
      fhirUser: 'Practitioner/prac-1',
      sub: 'Practitioner/prac-1',
    });
    expect(at.jti).toBeTruthy();
    const verified = await verifyAccessToken(String(body.access_token), { sandboxId: 'default', fhirBase: FHIR_BASE });
    expect(verified).toMatchObject({ ok: true, token: { clientId: client.clientId, patientId: 'pat-1', fhirUser: 'Practitioner/prac-1', scope: SCOPE } });

    // #76–#79: id_token RS256, validated against the JWKS endpoint's output.
    const { keys } = (await (await handleJwks(new Request(`${ORIGIN}/.well-known/jwks.json`))).json()) as { keys: never[] };
    const { payload, protectedHeader } = await jwtVerify(String(body.id_token), createLocalJWKSet({ keys }), {
      issuer: ORIGIN,
      audience: client.clientId,
      algorithms: ['RS256'],
    });
    expect(protectedHeader.kid).toBeTruthy();
    expect(payload).toMatchObject({ sub: 'Practitioner/prac-1', nonce, fhirUser: `${FHIR_BASE}/Practitioner/prac-1` });
    expect(typeof payload.iat).toBe('number');

    // Audit: one record, no token in it.
    const audit = await lastTokenAudit();
    expect(audit).toMatchObject({ status: 200, errorCode: null, clientId: client.clientId, patientId: 'pat-1' });
    expect(JSON.stringify(audit)).not.toContain(String(body.access_token));
    expect(JSON.stringify(audit)).not.toContain(secret);

    // #85 #86: refresh without scope → same scopes; with a narrower scope → narrowed; rotation (#90).
    const r1 = await handleToken(form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: String(body.refresh_token) }, basic(client.clientId, secret)));
    expect(r1.status).toBe(200);
    expectNoStore(r1);
    const b1 = await json(r1);
    expect(b1.scope).toBe(SCOPE);
    expect(typeof b1.expires_in).toBe('number');
    expect(b1.refresh_token).not.toBe(body.refresh_token);
    expect(b1.patient).toBe('pat-1');

    const r2 = await handleToken(
      form(
        TOKEN_URL,
        { grant_type: 'refresh_token', refresh_token: String(b1.refresh_token), scope: 'patient/Observation.rs launch/patient' },
        basic(client.clientId, secret),
      ),
    );
    const b2 = await json(r2);
    expect(r2.status).toBe(200);
    expect(b2.scope).toBe('patient/Observation.rs launch/patient');
    // The new refresh token keeps the grant's scope (RFC 6749 §6).
    const r3 = await handleToken(
      form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: String(b2.refresh_token), scope: SCOPE }, basic(client.clientId, secret)),
    );
    expect(r3.status).toBe(200);
    const b3 = await json(r3);

    // Introspection (§11): same scope as the token response, context, iss/sub as the id_token.
    const intro = await json(await handleIntrospect(form(`${ORIGIN}/oauth/introspect`, { token: String(b3.access_token) }, basic(client.clientId, secret))));
    expect(intro).toMatchObject({
      active: true,
      scope: SCOPE,
      client_id: client.clientId,
      patient: 'pat-1',
      iss: ORIGIN,
      sub: 'Practitioner/prac-1',
      fhirUser: `${FHIR_BASE}/Practitioner/prac-1`,
      token_type: 'Bearer',
    });
    expect(typeof intro.exp).toBe('number');
    expect(typeof intro.iat).toBe('number');

    // Revoke the refresh token: the whole grant goes (#135, #137, N10, N11).
    const rev = await handleRevoke(
      form(`${ORIGIN}/oauth/revoke`, { token: String(b3.refresh_token), token_type_hint: 'refresh_token' }, basic(client.clientId, secret)),
    );
    expect(rev.status).toBe(200);
    expect((await verifyAccessToken(String(b3.access_token), { sandboxId: 'default', fhirBase: FHIR_BASE })).ok).toBe(false);
    expect(await json(await handleIntrospect(form(`${ORIGIN}/oauth/introspect`, { token: String(b3.access_token) }, basic(client.clientId, secret))))).toEqual({
      active: false,
    });
    await expectError(
      await handleToken(form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: String(b3.refresh_token) }, basic(client.clientId, secret))),
      400,
      'invalid_grant',
      /revoked/,
    );
  });

  it('EHR launch: patient, encounter, need_patient_banner, smart_style_url and fhirContext from the launch (#107–#110, #157)', async () => {
    const { client, auth } = await newSymmetricClient();
    const launch = await createLaunch({
      clientId: client.clientId,
      patientId: 'pat-7',
      encounterId: 'enc-7',
      userId: 'Practitioner/prac-1',
      options: {
        needPatientBanner: false,
        tokenLifetimeSeconds: 120,
        fhirContext: [{ reference: 'DiagnosticReport/dr-1', role: 'https://example.org/role/focus' }],
      },
    });
    const scope = 'launch openid fhirUser offline_access user/*.rs';
    const { code, verifier } = await getCode(client, { params: { scope, launch }, complete: { patientId: undefined } });
    const body = await json(await exchange(code, verifier, auth));
    expect(body).toMatchObject({
      scope,
      patient: 'pat-7',
      encounter: 'enc-7',
      need_patient_banner: false,
      fhirContext: [{ reference: 'DiagnosticReport/dr-1', role: 'https://example.org/role/focus' }],
    });
    expect(String(body.smart_style_url)).toMatch(/^http:\/\/localhost:3000\//);
    expect(body.expires_in).toBe(120); // the launcher's per-launch token lifetime
  });

  it('public client: client_id in the body, CORS for its registered origin only (#66, #67, #182)', async () => {
    const { client } = await newClient('public', { redirectUris: [REDIRECT], allowedOrigins: ['https://app.example.org'] });
    const { code, verifier } = await getCode(client);
    const res = await exchange(code, verifier, { params: { client_id: client.clientId }, headers: { origin: 'https://app.example.org' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.org');
    expect(res.headers.get('access-control-expose-headers')).toMatch(/Retry-After/);
    const pre = await handleTokenPreflight(
      new Request(TOKEN_URL, { method: 'OPTIONS', headers: { origin: 'https://app.example.org', 'access-control-request-method': 'POST' } }),
    );
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example.org');
    const evil = await handleTokenPreflight(new Request(TOKEN_URL, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } }));
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const { code: c2, verifier: v2 } = await getCode(client);
    const other = await exchange(c2, v2, { params: { client_id: client.clientId }, headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('#76: no openid → no id_token; no offline_access → no refresh token', async () => {
    const { client, auth } = await newSymmetricClient();
    const { code, verifier } = await getCode(client, { params: { scope: 'launch/patient patient/*.rs' } });
    const body = await json(await exchange(code, verifier, auth));
    expect(body.id_token).toBeUndefined();
    expect(body.refresh_token).toBeUndefined();
  });
});

describe('authorization_code errors (docs/CONFORMANCE.md #53–#57, #173; §18 N3–N8)', () => {
  it('#53: only application/x-www-form-urlencoded', async () => {
    const res = await handleToken(new Request(TOKEN_URL, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }));
    await expectError(res, 400, 'invalid_request', /x-www-form-urlencoded/);
  });

  it('N3 (G10 9.17.03): an unknown code → exactly 400 invalid_grant', async () => {
    const { auth } = await newSymmetricClient();
    await expectError(await exchange('BAD_CODE', pkce().verifier, auth), 400, 'invalid_grant', /not valid/);
  });

  it('N4 (G10 9.17.04): Basic with BAD_CLIENT_ID → 401 invalid_client with WWW-Authenticate', async () => {
    const { client, secret } = await newSymmetricClient();
    const { code, verifier } = await getCode(client);
    const res = await exchange(code, verifier, { headers: basic('BAD_CLIENT_ID', secret) });
    await expectError(res, 401, 'invalid_client');
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic/);
  });

  it('a wrong client secret → 401 invalid_client', async () => {
    const { client } = await newSymmetricClient();
    const { code, verifier } = await getCode(client);
    await expectError(await exchange(code, verifier, { headers: basic(client.clientId, 'wrong') }), 401, 'invalid_client', /wrong client secret/);
  });

  it('N5 N6 N7 N8 (G10 9.18): missing, blank, wrong and challenge-as-verifier are 400 invalid_grant, for confidential clients too (#55)', async () => {
    const { client, auth } = await newSymmetricClient();
    const cases: [string | null, RegExp][] = [
      [null, /code_verifier is required/],
      ['', /code_verifier is required/],
      [`${crypto.randomUUID()}-${crypto.randomUUID()}`, /does not match/],
    ];
    for (const [verifier, description] of cases) {
      const { code } = await getCode(client);
      await expectError(await exchange(code, verifier, auth), 400, 'invalid_grant', description);
    }
    // "plain" downgrade: the verifier is the challenge itself.
    const { verifier: v, challenge } = pkce();
    void v;
    const authz = await authorizeGet(authorizeQuery({ client_id: client.clientId }, challenge));
    const redirect = new URL(
      await completeInteraction(interactionIdOf(authz), {
        userId: 'Practitioner/prac-1',
        fhirUser: 'Practitioner/prac-1',
        patientId: 'pat-1',
        grantedScope: SCOPE,
      }),
    );
    await expectError(await exchange(redirect.searchParams.get('code')!, challenge, auth), 400, 'invalid_grant', /does not match/);
  });

  it('#173: a code used twice → invalid_grant, the first tokens revoked, audit flagged code-replay', async () => {
    const { client, auth } = await newSymmetricClient();
    const { code, verifier } = await getCode(client);
    const first = await json(await exchange(code, verifier, auth));
    expect((await verifyAccessToken(String(first.access_token), { sandboxId: 'default', fhirBase: FHIR_BASE })).ok).toBe(true);
    await expectError(await exchange(code, verifier, auth), 400, 'invalid_grant', /already used/);
    expect(await verifyAccessToken(String(first.access_token), { sandboxId: 'default', fhirBase: FHIR_BASE })).toMatchObject({
      ok: false,
      error: 'invalid_token',
    });
    await expectError(
      await handleToken(form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: String(first.refresh_token) }, auth.headers)),
      400,
      'invalid_grant',
    );
    const flagged = await getDb().auditRecord.findFirst({ where: { endpoint: '/oauth/token', flags: { contains: 'code-replay' } } });
    expect(flagged?.errorCode).toBe('invalid_grant');
  });

  it('#173: an expired code and a code of another client → invalid_grant', async () => {
    const { client, auth } = await newSymmetricClient();
    const other = await newSymmetricClient();
    const { code, verifier } = await getCode(client);
    await expectError(await exchange(code, verifier, other.auth), 400, 'invalid_grant', /another client/);
    const { code: c2, verifier: v2 } = await getCode(client);
    await getDb().authCode.updateMany({ where: { clientId: client.clientId, used: false }, data: { expiresAt: new Date(Date.now() - 1) } });
    await expectError(await exchange(c2, v2, auth), 400, 'invalid_grant', /expired/);
  });

  it('#169: a redirect_uri that differs from the authorize one → invalid_grant', async () => {
    const { client, auth } = await newSymmetricClient();
    const { code, verifier } = await getCode(client);
    await expectError(
      await exchange(code, verifier, { ...auth, params: { redirect_uri: 'http://localhost:4567/custom/smart_stu2_2/redirect' } }),
      400,
      'invalid_grant',
      /redirect_uri does not match/,
    );
  });

  it('#55: a code_verifier for a code that had no challenge is refused (PKCE downgrade)', async () => {
    const { client, clientSecret } = await newClient('confidential-symmetric', { pkceRequired: false });
    const authz = await authorizeGet(authorizeQuery({ client_id: client.clientId, code_challenge: undefined, code_challenge_method: undefined }, ''));
    const redirect = new URL(
      await completeInteraction(interactionIdOf(authz), {
        userId: 'Practitioner/prac-1',
        fhirUser: 'Practitioner/prac-1',
        patientId: 'pat-1',
        grantedScope: SCOPE,
      }),
    );
    await expectError(
      await exchange(redirect.searchParams.get('code')!, pkce().verifier, { headers: basic(client.clientId, clientSecret!) }),
      400,
      'invalid_grant',
      /no code_challenge/,
    );
  });
});

describe('client authentication (docs/CONFORMANCE.md §5)', () => {
  it('#68: Basic plus a different client_id in the body → invalid_request', async () => {
    const { client, auth } = await newSymmetricClient();
    const { code, verifier } = await getCode(client);
    await expectError(await exchange(code, verifier, { ...auth, params: { client_id: 'someone-else' } }), 400, 'invalid_request', /differs/);
  });

  it('two authentication methods at once → invalid_request (RFC 6749 §2.3)', async () => {
    const { client, secret, auth } = await newSymmetricClient();
    const { code, verifier } = await getCode(client);
    await expectError(
      await exchange(code, verifier, { ...auth, params: { client_secret: secret } }),
      400,
      'invalid_request',
      /exactly one client authentication method/,
    );
  });

  it('client_secret_post for a Basic-registered client → invalid_client naming the registered method', async () => {
    const { client, secret } = await newSymmetricClient();
    const { code, verifier } = await getCode(client);
    await expectError(
      await exchange(code, verifier, { params: { client_id: client.clientId, client_secret: secret } }),
      400,
      'invalid_client',
      /client_secret_basic/,
    );
  });

  it('client_secret_post works when registered', async () => {
    const { client, clientSecret } = await newClient('confidential-symmetric', { tokenEndpointAuthMethod: 'client_secret_post' });
    const { code, verifier } = await getCode(client);
    expect((await exchange(code, verifier, { params: { client_id: client.clientId, client_secret: clientSecret! } })).status).toBe(200);
  });

  it('#75: a wrong client_secret_post secret → 400 invalid_client without a Basic challenge (no Authorization header was used)', async () => {
    const { client } = await newClient('confidential-symmetric', { tokenEndpointAuthMethod: 'client_secret_post' });
    const { code, verifier } = await getCode(client);
    const res = await exchange(code, verifier, { params: { client_id: client.clientId, client_secret: 'wrong' } });
    expect(res.headers.get('www-authenticate')).toBeNull();
    await expectError(res, 400, 'invalid_client', /wrong client secret \(client_secret_post\)/);
  });

  it('a confidential client sending only client_id → invalid_client; no authentication at all → 400 invalid_client', async () => {
    const { client } = await newSymmetricClient();
    const { code, verifier } = await getCode(client);
    await expectError(await exchange(code, verifier, { params: { client_id: client.clientId } }), 400, 'invalid_client', /must authenticate with HTTP Basic/);
    await expectError(await exchange('x', 'y'), 400, 'invalid_client', /client authentication is required/);
  });

  it('a Bearer Authorization header at the token endpoint → 401 invalid_client', async () => {
    await expectError(await exchange('x', 'y', { headers: { authorization: 'Bearer abc' } }), 401, 'invalid_client', /Basic scheme/);
  });
});

describe('grant types (docs/CONFORMANCE.md #65, N17)', () => {
  it('N17: an unknown grant_type → exactly 400 unsupported_grant_type, before client authentication', async () => {
    await expectError(await handleToken(form(TOKEN_URL, { grant_type: 'not_a_grant_type' })), 400, 'unsupported_grant_type', /not_a_grant_type/);
    await expectError(await handleToken(form(TOKEN_URL, { grant_type: 'password', username: 'a', password: 'b' })), 400, 'unsupported_grant_type', /password/);
    await expectError(await handleToken(form(TOKEN_URL, {})), 400, 'invalid_request', /grant_type is required/);
  });

  it('a grant the client is not registered for → unauthorized_client', async () => {
    const { client, secret } = await newSymmetricClient();
    await expectError(
      await handleToken(form(TOKEN_URL, { grant_type: 'client_credentials', scope: 'system/*.rs' }, basic(client.clientId, secret))),
      400,
      'unauthorized_client',
      /client_credentials/,
    );
  });

  it('repeated parameters → invalid_request', async () => {
    const res = await handleToken(
      new Request(TOKEN_URL, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=authorization_code&code=a&code=b',
      }),
    );
    await expectError(res, 400, 'invalid_request', /'code' sent more than once/);
  });
});

describe('refresh tokens (docs/CONFORMANCE.md §7, #177; N9, N11)', () => {
  async function withRefresh(type: 'confidential-symmetric' | 'public' = 'confidential-symmetric') {
    const { client, clientSecret } = await newClient(type);
    const auth = type === 'public' ? { params: { client_id: client.clientId } } : { headers: basic(client.clientId, clientSecret!) };
    const { code, verifier } = await getCode(client);
    const body = await json(await exchange(code, verifier, auth));
    const refresh = (token: string, extra: Record<string, string> = {}) =>
      handleToken(form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: token, ...auth.params, ...extra }, auth.headers ?? {}));
    return { client, body, refresh, auth };
  }

  it('N9 (G10 1.6.06): a random refresh token → 400 invalid_grant', async () => {
    const { refresh } = await withRefresh();
    await expectError(await refresh(crypto.randomUUID()), 400, 'invalid_grant', /not valid/);
  });

  it('#177: a wider scope → invalid_scope naming it', async () => {
    const { body, refresh } = await withRefresh();
    await expectError(await refresh(String(body.refresh_token), { scope: `${SCOPE} user/*.rs` }), 400, 'invalid_scope', /user\/\*\.rs/);
  });

  it('#86: a scope equal to the original grant is accepted', async () => {
    const { body, refresh } = await withRefresh();
    const res = await refresh(String(body.refresh_token), { scope: SCOPE });
    expect(res.status).toBe(200);
    expect((await json(res)).scope).toBe(SCOPE);
  });

  it('#177: a refresh by another client → invalid_grant', async () => {
    const { body } = await withRefresh();
    const other = await newSymmetricClient();
    await expectError(
      await handleToken(form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: String(body.refresh_token) }, other.auth.headers)),
      400,
      'invalid_grant',
      /another client/,
    );
  });

  it('#90 #177: reuse of a rotated public-client refresh token → invalid_grant, grant revoked, audit flagged refresh-replay', async () => {
    const { body, refresh } = await withRefresh('public');
    const next = await json(await refresh(String(body.refresh_token)));
    expect(next.refresh_token).toBeTruthy();
    await expectError(await refresh(String(body.refresh_token)), 400, 'invalid_grant', /already used/);
    // The legitimate newer token died with the grant.
    await expectError(await refresh(String(next.refresh_token)), 400, 'invalid_grant');
    expect((await verifyAccessToken(String(next.access_token), { sandboxId: 'default', fhirBase: FHIR_BASE })).ok).toBe(false);
    const flagged = await getDb().auditRecord.findFirst({ where: { endpoint: '/oauth/token', flags: { contains: 'refresh-replay' } } });
    expect(flagged).not.toBeNull();
  });

  it('an expired refresh token → invalid_grant', async () => {
    const { body, refresh, client } = await withRefresh();
    await getDb().token.updateMany({ where: { clientId: client.clientId, kind: 'refresh' }, data: { expiresAt: new Date(Date.now() - 1000) } });
    await expectError(await refresh(String(body.refresh_token)), 400, 'invalid_grant', /expired/);
  });
});

describe('grants bound to their aud and, for online_access, to the sign-in session (docs/CONFORMANCE.md #44, #83)', () => {
  // Another loopback name of this server: its Host header decides the public origin (lib/http/origin.ts).
  const OTHER_HOST = '127.0.0.1:3000';
  const OTHER_TOKEN_URL = `http://${OTHER_HOST}/oauth/token`;

  it('#44: a code authorized for one FHIR base is refused at the token endpoint of another, and used up', async () => {
    const {
      client,
      auth: { headers: auth },
    } = await newSymmetricClient();
    const { code, verifier } = await getCode(client);
    const params = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier };
    await expectError(
      await handleToken(form(OTHER_TOKEN_URL, params, { ...auth, host: OTHER_HOST })),
      400,
      'invalid_grant',
      /authorized for aud http:\/\/localhost:3000\/fhir/,
    );
    await expectError(await exchange(code, verifier, { headers: auth }), 400, 'invalid_grant', /already used/);
  });

  it('#44: a refresh token is refused at the token endpoint of another FHIR base', async () => {
    const {
      client,
      auth: { headers: auth },
    } = await newSymmetricClient();
    const { code, verifier } = await getCode(client);
    const body = await json(await exchange(code, verifier, { headers: auth }));
    await expectError(
      await handleToken(form(OTHER_TOKEN_URL, { grant_type: 'refresh_token', refresh_token: String(body.refresh_token) }, { ...auth, host: OTHER_HOST })),
      400,
      'invalid_grant',
      /authorized for aud/,
    );
    expect((await handleToken(form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: String(body.refresh_token) }, auth))).status).toBe(200);
  });

  it('#83: an online_access refresh token never outlives the session and is refused once the session has expired', async () => {
    const {
      client,
      auth: { headers: auth },
    } = await newSymmetricClient();
    const scope = 'openid fhirUser launch/patient patient/*.rs online_access';
    const sessionExpiresAt = Math.floor(Date.now() / 1000) + 120;
    const { code, verifier } = await getCode(client, { params: { scope }, complete: { grantedScope: scope, sessionId: 'sid-expiring', sessionExpiresAt } });
    const body = await json(await exchange(code, verifier, { headers: auth }));
    const row = await getDb().token.findFirstOrThrow({ where: { clientId: client.clientId, kind: 'refresh' } });
    expect(row.expiresAt.getTime() / 1000).toBeLessThanOrEqual(sessionExpiresAt + 1);

    const grant = await getDb().grant.findFirstOrThrow({ where: { clientId: client.clientId } });
    const context = JSON.parse(grant.context) as Record<string, unknown>;
    await getDb().grant.update({
      where: { id: grant.id },
      data: { context: JSON.stringify({ ...context, sessionExpiresAt: Math.floor(Date.now() / 1000) - 1 }) },
    });
    await expectError(
      await handleToken(form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: String(body.refresh_token) }, auth)),
      400,
      'invalid_grant',
      /session has ended/,
    );
  });
});
