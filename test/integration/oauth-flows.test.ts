// Authorization-code flows over real HTTP: oauth4webapi (an independent, spec-strict OAuth
// client) plays the app; the resource owner's side is the real interaction screens, submitted as
// HTML forms with their CSRF tokens and a cookie jar. Standalone launch (confidential client),
// EHR launch from a launcher-created Launch record (asymmetric client), refresh with rotation and
// narrowing, introspection and revocation. The Chromium version of the standalone launch is
// e2e/oauth-standalone.spec.ts.
import { describe, it, expect, inject, beforeAll } from 'vitest';
import * as oauth from 'oauth4webapi';
import { exportJWK, generateKeyPair } from 'jose';
import { createEhrLaunch } from './support/ehr-launch';
import {
  APP_LAUNCH_URI,
  APP_REDIRECT_URI,
  discover,
  fhirGet,
  insecure,
  oauthErrorOf,
  registerClient,
  registerSymmetricClient,
  runCodeFlow,
  smartConfiguration,
  verifyIdToken,
} from './support/smart-client';
import type { RegisteredClient } from './support/smart-client';

const base = inject('baseUrl');
const fhirBase = `${base}/fhir`;
// Deterministic seed (SEED=42): generated patients pat-42-<i> and practitioners practitioner-<n>.
const PATIENT = 'pat-42-0';
const OTHER_PATIENT = 'pat-42-1';
const PRACTITIONER = 'Practitioner/practitioner-1';

let as: oauth.AuthorizationServer;

beforeAll(async () => {
  as = await discover(base);
});

function scopeSet(scope: string | undefined): string[] {
  return (scope ?? '').split(' ').filter(Boolean).sort();
}

describe('standalone patient launch, confidential-symmetric client (docs/CONFORMANCE.md §3–§6, §16)', () => {
  const scope = 'openid fhirUser launch/patient offline_access patient/Patient.rs patient/Observation.rs patient/Condition.rs';
  let reg: RegisteredClient;

  beforeAll(async () => {
    reg = await registerSymmetricClient(base);
  });

  it('signs in a patient persona, consents, and exchanges the code with PKCE and HTTP Basic (#49, #55, #58–#60, #68)', async () => {
    const flow = await runCodeFlow(base, as, reg, { scope, interaction: { persona: `Patient/${PATIENT}` } });
    expect(flow.session.jar.has('next-auth.session-token')).toBe(true);
    expect(flow.offered).toEqual(expect.arrayContaining(['patient/Patient.rs', 'patient/Observation.rs', 'patient/Condition.rs']));

    const t = flow.tokens;
    expect(t.token_type.toLowerCase()).toBe('bearer');
    expect(typeof t.expires_in).toBe('number');
    expect(scopeSet(t.scope)).toEqual(scopeSet(scope));
    expect(t.patient).toBe(PATIENT);
    expect(typeof t.refresh_token).toBe('string');
    expect(flow.tokenHeaders.get('cache-control')).toContain('no-store');
    expect(flow.tokenHeaders.get('pragma')).toBe('no-cache');

    const own = await fhirGet(base, `Patient/${PATIENT}`, t.access_token);
    expect(own.status).toBe(200);
    expect(own.body.id).toBe(PATIENT);
  });

  it('issues an RS256 id_token that verifies against the JWKS named by openid-configuration (#76–#80)', async () => {
    const oidc = (await (await fetch(`${base}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(oidc.issuer).toBe(as.issuer);
    expect(oidc.id_token_signing_alg_values_supported).toContain('RS256');
    expect(oidc.jwks_uri).toBe(`${base}/.well-known/jwks.json`);
    const smart = await smartConfiguration(base);
    expect(smart.issuer).toBe(oidc.issuer);
    expect(smart.jwks_uri).toBe(oidc.jwks_uri);

    const flow = await runCodeFlow(base, as, reg, { scope, interaction: { persona: `Patient/${PATIENT}` } });
    const idToken = flow.tokens.id_token ?? '';
    const claims = await verifyIdToken(as, idToken, reg.client.client_id);
    expect(claims.iss).toBe(as.issuer);
    expect(claims.aud === reg.client.client_id || (Array.isArray(claims.aud) && claims.aud.includes(reg.client.client_id))).toBe(true);
    expect(claims.nonce).toBe(flow.request.nonce);
    expect(claims.fhirUser).toBe(`${fhirBase}/Patient/${PATIENT}`);
    expect(typeof claims.sub).toBe('string');
    // oauth4webapi's own claim validation (iss, aud, exp, iat, nonce) passed in runCodeFlow.
    expect(oauth.getValidatedIdTokenClaims(flow.tokens)?.sub).toBe(claims.sub);

    // fhirUser is readable with the access token (docs/CONFORMANCE.md #80).
    const me = await fhirGet(base, `Patient/${PATIENT}`, flow.tokens.access_token);
    expect(me.status).toBe(200);
  });

  it('introspects the access and refresh tokens with the same scope and context as the token response (#130–#132)', async () => {
    const flow = await runCodeFlow(base, as, reg, { scope, interaction: { persona: `Patient/${PATIENT}` } });
    const claims = await verifyIdToken(as, flow.tokens.id_token ?? '', reg.client.client_id);
    const intro = await oauth.processIntrospectionResponse(
      as,
      reg.client,
      await oauth.introspectionRequest(as, reg.client, reg.auth(), flow.tokens.access_token, insecure),
    );
    expect(intro.active).toBe(true);
    expect(scopeSet(intro.scope)).toEqual(scopeSet(flow.tokens.scope));
    expect(intro.client_id).toBe(reg.client.client_id);
    expect(intro.exp).toBeGreaterThan(Date.now() / 1000);
    expect(Math.abs((intro.exp ?? 0) - (Date.now() / 1000 + (flow.tokens.expires_in ?? 0)))).toBeLessThan(30);
    expect(intro.patient).toBe(PATIENT);
    expect(intro.sub).toBe(claims.sub);
    expect(intro.iss).toBe(claims.iss);
    expect(intro.fhirUser).toBe(claims.fhirUser);

    const refresh = await oauth.processIntrospectionResponse(
      as,
      reg.client,
      await oauth.introspectionRequest(as, reg.client, reg.auth(), flow.tokens.refresh_token ?? '', {
        ...insecure,
        additionalParameters: { token_type_hint: 'refresh_token' },
      }),
    );
    expect(refresh.active).toBe(true);
    expect(refresh.client_id).toBe(reg.client.client_id);
  });

  it('revokes an access token (RFC 7009): introspection says inactive and the FHIR API answers 401 (#135, #137)', async () => {
    const flow = await runCodeFlow(base, as, reg, { scope, interaction: { persona: `Patient/${PATIENT}` } });
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, reg.client, reg.auth(), flow.tokens.access_token, insecure));
    const intro = await oauth.processIntrospectionResponse(
      as,
      reg.client,
      await oauth.introspectionRequest(as, reg.client, reg.auth(), flow.tokens.access_token, insecure),
    );
    expect(intro).toEqual({ active: false });
    const read = await fhirGet(base, `Patient/${PATIENT}`, flow.tokens.access_token);
    expect(read.status).toBe(401);
    expect(read.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
    // The refresh token of the grant is untouched by revoking one access token.
    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      reg.client,
      await oauth.refreshTokenGrantRequest(as, reg.client, reg.auth(), flow.tokens.refresh_token ?? '', insecure),
    );
    expect(typeof refreshed.access_token).toBe('string');
  });

  it('revoking the refresh token revokes the grant: its access token and refresh stop working (#135, #137)', async () => {
    const flow = await runCodeFlow(base, as, reg, { scope, interaction: { persona: `Patient/${PATIENT}` } });
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, reg.client, reg.auth(), flow.tokens.refresh_token ?? '', {
        ...insecure,
        additionalParameters: { token_type_hint: 'refresh_token' },
      }),
    );
    const refused = await oauthErrorOf(
      oauth.processRefreshTokenResponse(
        as,
        reg.client,
        await oauth.refreshTokenGrantRequest(as, reg.client, reg.auth(), flow.tokens.refresh_token ?? '', insecure),
      ),
    );
    expect(refused).toMatchObject({ status: 400, error: 'invalid_grant' });
    expect((await fhirGet(base, `Patient/${PATIENT}`, flow.tokens.access_token)).status).toBe(401);
  });
});

describe('refresh tokens: rotation and narrowing (docs/CONFORMANCE.md §7, #177)', () => {
  const scope = 'openid fhirUser launch/patient offline_access patient/Patient.rs patient/Observation.rs';
  let reg: RegisteredClient;

  beforeAll(async () => {
    reg = await registerSymmetricClient(base);
  });

  async function refresh(token: string, narrowTo?: string): Promise<Response> {
    return oauth.refreshTokenGrantRequest(as, reg.client, reg.auth(), token, {
      ...insecure,
      ...(narrowTo !== undefined ? { additionalParameters: { scope: narrowTo } } : {}),
    });
  }

  it('rotates: a new refresh token every time, the same scope without a scope parameter, no-store headers (#86, #87, #90)', async () => {
    const { tokens } = await runCodeFlow(base, as, reg, { scope, interaction: { persona: `Patient/${PATIENT}` } });
    const res = await refresh(tokens.refresh_token ?? '');
    expect(res.headers.get('cache-control')).toContain('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    const next = await oauth.processRefreshTokenResponse(as, reg.client, res);
    expect(typeof next.expires_in).toBe('number');
    expect(scopeSet(next.scope)).toEqual(scopeSet(tokens.scope));
    expect(next.refresh_token).toBeDefined();
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    expect((await fhirGet(base, `Patient/${PATIENT}`, next.access_token)).status).toBe(200);

    // The scope parameter equal to the original grant is accepted (Inferno SAL 1.5.01).
    const same = await oauth.processRefreshTokenResponse(as, reg.client, await refresh(next.refresh_token ?? '', tokens.scope ?? ''));
    expect(scopeSet(same.scope)).toEqual(scopeSet(tokens.scope));
  });

  it('narrows with a smaller scope; the narrowed token cannot read the dropped type; a wider scope is invalid_scope (#86, #177)', async () => {
    const { tokens } = await runCodeFlow(base, as, reg, { scope, interaction: { persona: `Patient/${PATIENT}` } });
    const narrow = await oauth.processRefreshTokenResponse(as, reg.client, await refresh(tokens.refresh_token ?? '', 'launch/patient patient/Patient.rs'));
    expect(scopeSet(narrow.scope)).toEqual(['launch/patient', 'patient/Patient.rs']);
    expect((await fhirGet(base, `Patient/${PATIENT}`, narrow.access_token)).status).toBe(200);
    expect((await fhirGet(base, `Observation?patient=${PATIENT}`, narrow.access_token)).status).toBe(403);

    const wider = await oauthErrorOf(
      oauth.processRefreshTokenResponse(as, reg.client, await refresh(narrow.refresh_token ?? '', 'patient/Patient.rs patient/AllergyIntolerance.rs')),
    );
    expect(wider).toMatchObject({ status: 400, error: 'invalid_scope' });
    expect(wider.description).toContain('patient/AllergyIntolerance.rs');

    // A refused widening does not use up the refresh token: it still refreshes, to the original grant.
    const again = await oauth.processRefreshTokenResponse(as, reg.client, await refresh(narrow.refresh_token ?? ''));
    expect(scopeSet(again.scope)).toEqual(scopeSet(tokens.scope));
  });

  it('refuses the rotated (old) refresh token, and that reuse revokes the whole grant (#90, #177; RFC 9700 §4.14.2)', async () => {
    const { tokens } = await runCodeFlow(base, as, reg, { scope, interaction: { persona: `Patient/${PATIENT}` } });
    const old = tokens.refresh_token ?? '';
    const rotated = await oauth.processRefreshTokenResponse(as, reg.client, await refresh(old));
    expect((await fhirGet(base, `Patient/${PATIENT}`, rotated.access_token)).status).toBe(200);

    const replay = await oauthErrorOf(oauth.processRefreshTokenResponse(as, reg.client, await refresh(old)));
    expect(replay).toMatchObject({ status: 400, error: 'invalid_grant' });

    // The grant is gone: the newest refresh token and every access token of the grant stop working.
    const newest = await oauthErrorOf(oauth.processRefreshTokenResponse(as, reg.client, await refresh(rotated.refresh_token ?? '')));
    expect(newest).toMatchObject({ status: 400, error: 'invalid_grant' });
    expect((await fhirGet(base, `Patient/${PATIENT}`, rotated.access_token)).status).toBe(401);
    expect((await fhirGet(base, `Patient/${PATIENT}`, tokens.access_token)).status).toBe(401);
    const intro = await oauth.processIntrospectionResponse(
      as,
      reg.client,
      await oauth.introspectionRequest(as, reg.client, reg.auth(), rotated.access_token, insecure),
    );
    expect(intro).toEqual({ active: false });
  });

  it('refuses a refresh token presented by another client with invalid_grant (#84, #177)', async () => {
    const { tokens } = await runCodeFlow(base, as, reg, { scope, interaction: { persona: `Patient/${PATIENT}` } });
    const other = await registerSymmetricClient(base);
    const res = await oauth.refreshTokenGrantRequest(as, other.client, other.auth(), tokens.refresh_token ?? '', insecure);
    expect(await oauthErrorOf(oauth.processRefreshTokenResponse(as, other.client, res))).toMatchObject({ status: 400, error: 'invalid_grant' });
  });
});

describe('EHR launch from a launcher Launch record, confidential-asymmetric client (docs/CONFORMANCE.md §15, #69–#71, #106–#110, #157)', () => {
  let reg: RegisteredClient;

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'ehr-es384', alg: 'ES384', use: 'sig' };
    const { client_id } = await registerClient(base, {
      client_name: 'it EHR app (asymmetric)',
      token_endpoint_auth_method: 'private_key_jwt',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [APP_REDIRECT_URI],
      launch_uris: [APP_LAUNCH_URI],
      jwks: { keys: [jwk] },
      scope: 'openid fhirUser launch launch/patient launch/encounter offline_access patient/*.rs user/*.rs',
    });
    reg = {
      client: { client_id, token_endpoint_auth_method: 'private_key_jwt' },
      // SMART App Launch 2.2 §client-confidential-asymmetric: typ JWT, aud = the token endpoint.
      auth: () =>
        oauth.PrivateKeyJwt(
          { key: privateKey, kid: jwk.kid },
          {
            [oauth.modifyAssertion]: (header, payload) => {
              header.typ = 'JWT';
              payload.aud = as.token_endpoint;
            },
          },
        ),
      secret: null,
    };
  });

  it('launches with iss + launch, skips the patient picker, and returns patient, encounter, banner and style (#155–#157)', async () => {
    const launch = await createEhrLaunch(inject('databaseUrl'), base, { clientId: reg.client.client_id, patientId: OTHER_PATIENT, userFhirUser: PRACTITIONER });
    // The app receives iss string-identical to the FHIR base (docs/CONFORMANCE.md #3, #155).
    expect(launch.iss).toBe(fhirBase);
    expect(launch.launch).toMatch(/^[A-Za-z0-9_-]{32,}$/);
    const smart = await smartConfiguration(base);
    expect(smart.capabilities).toEqual(
      expect.arrayContaining(['launch-ehr', 'context-ehr-patient', 'context-ehr-encounter', 'client-confidential-asymmetric']),
    );

    const flow = await runCodeFlow(base, as, reg, {
      scope: 'launch openid fhirUser offline_access user/Patient.rs user/Observation.rs user/Encounter.rs',
      launch: launch.launch,
      interaction: { persona: PRACTITIONER },
    });
    expect(flow.offered).not.toContain('launch/patient');
    const t = flow.tokens;
    expect(scopeSet(t.scope)).toEqual(scopeSet('launch openid fhirUser offline_access user/Patient.rs user/Observation.rs user/Encounter.rs'));
    expect(t.patient).toBe(OTHER_PATIENT);
    expect(launch.encounterId).not.toBeNull();
    expect(t.encounter).toBe(launch.encounterId);
    expect(t.need_patient_banner).toBe(true);
    expect(typeof t.smart_style_url).toBe('string');
    const style = await fetch(t.smart_style_url ?? '');
    expect(style.status).toBe(200);
    expect(await style.json()).toHaveProperty('color_background');

    const claims = await verifyIdToken(as, t.id_token ?? '', reg.client.client_id);
    expect(claims.fhirUser).toBe(`${fhirBase}/${PRACTITIONER}`);
    expect((await fhirGet(base, PRACTITIONER, t.access_token)).status).toBe(403); // Practitioner not granted: user/Patient|Observation|Encounter only
    expect((await fhirGet(base, `Encounter/${launch.encounterId}`, t.access_token)).status).toBe(200);
    expect((await fhirGet(base, `Patient/${OTHER_PATIENT}`, t.access_token)).status).toBe(200);

    // Refresh with the asymmetric client: a new assertion each time (jti), context repeated.
    const refreshed = (await oauth.processRefreshTokenResponse(
      as,
      reg.client,
      await oauth.refreshTokenGrantRequest(as, reg.client, reg.auth(), t.refresh_token ?? '', insecure),
    )) as typeof t;
    expect(refreshed.patient).toBe(OTHER_PATIENT);
    expect(scopeSet(refreshed.scope)).toEqual(scopeSet(t.scope));
  });

  it('asks the EHR user to sign in as themselves: another persona cannot complete the launch (#154)', async () => {
    const launch = await createEhrLaunch(inject('databaseUrl'), base, { clientId: reg.client.client_id, patientId: OTHER_PATIENT, userFhirUser: PRACTITIONER });
    await expect(
      runCodeFlow(base, as, reg, {
        scope: 'launch openid fhirUser user/Patient.rs',
        launch: launch.launch,
        interaction: { persona: 'Practitioner/practitioner-2' },
      }),
    ).rejects.toThrow(/sign-in did not stick|made for the EHR user/);
  });
});
