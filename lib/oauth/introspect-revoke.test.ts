import { afterEach, describe, expect, it, vi } from 'vitest';
import { SignJWT } from 'jose';
import { getDb } from '../db';
import { createLaunch } from './launches';
import { verifyAccessToken } from './access-token';
import { handleIntrospect } from './endpoints/introspect';
import { handleRevoke } from './endpoints/revoke';
import { handleToken } from './endpoints/token';
import { completeInteraction, denyInteraction, getInteractionOrThrow, InteractionNotFoundError } from './interaction';
import { getSigningKey } from './keys';
import {
  assertionKeys,
  assertionParams,
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
import { env } from '../env';

const INTROSPECT = `${ORIGIN}/oauth/introspect`;
const REVOKE = `${ORIGIN}/oauth/revoke`;

async function tokensFor(scope = 'openid fhirUser launch/patient patient/*.rs offline_access') {
  const {
    client,
    auth: { headers: auth },
  } = await newSymmetricClient();
  const { code, verifier } = await getCode(client, { params: { scope }, complete: { grantedScope: scope } });
  const body = await json(await exchange(code, verifier, { headers: auth }));
  return { client, auth, body };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('token introspection (docs/CONFORMANCE.md §11; N21)', () => {
  it('#130 #131 #132: an active token returns scope, client_id, exp, iat, sub, iss, fhirUser, patient, token_type', async () => {
    const { client, auth, body } = await tokensFor();
    const res = await handleIntrospect(form(INTROSPECT, { token: String(body.access_token) }, { ...auth, accept: 'application/json' }));
    expect(res.status).toBe(200);
    const intro = await json(res);
    expect(intro).toMatchObject({
      active: true,
      scope: body.scope,
      client_id: client.clientId,
      sub: 'Practitioner/prac-1',
      iss: ORIGIN,
      patient: 'pat-1',
      fhirUser: `${FHIR_BASE}/Practitioner/prac-1`,
      token_type: 'Bearer',
    });
    expect(Math.abs(Number(intro.exp) - (Math.floor(Date.now() / 1000) + Number(body.expires_in)))).toBeLessThanOrEqual(2);
  });

  it('N21 (SAL 4.2.02) #133: token=invalid_token_value → 200 exactly {"active": false}', async () => {
    const { auth } = await tokensFor();
    const res = await handleIntrospect(form(INTROSPECT, { token: 'invalid_token_value' }, auth));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ active: false });
  });

  it('#133: expired, revoked and forged tokens are {"active": false}', async () => {
    const { auth, body, client } = await tokensFor();
    await getDb().token.updateMany({ where: { clientId: client.clientId, kind: 'access' }, data: { revoked: true } });
    expect(await json(await handleIntrospect(form(INTROSPECT, { token: String(body.access_token) }, auth)))).toEqual({ active: false });
    // A token signed by someone else with our kid.
    const key = await getSigningKey('ES256');
    const { generateKeyPair } = await import('jose');
    const other = await generateKeyPair('ES256');
    const forged = await new SignJWT({ scope: 'user/*.cruds', client_id: client.clientId })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' })
      .setJti('forged')
      .setAudience(FHIR_BASE)
      .setExpirationTime('1h')
      .sign(other.privateKey);
    expect(await json(await handleIntrospect(form(INTROSPECT, { token: forged }, auth)))).toEqual({ active: false });
  });

  it('introspects an active refresh token too; a rotated one is inactive', async () => {
    const { auth, body, client } = await tokensFor();
    const intro = await json(await handleIntrospect(form(INTROSPECT, { token: String(body.refresh_token), token_type_hint: 'refresh_token' }, auth)));
    expect(intro).toMatchObject({ active: true, client_id: client.clientId, scope: body.scope });
    await handleToken(form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: String(body.refresh_token) }, auth));
    expect(await json(await handleIntrospect(form(INTROSPECT, { token: String(body.refresh_token) }, auth)))).toEqual({ active: false });
  });

  it('#134 #180: without authentication → 401 with a challenge; public clients cannot introspect', async () => {
    const { body } = await tokensFor();
    const res = await handleIntrospect(form(INTROSPECT, { token: String(body.access_token) }));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/Basic.*Bearer/);
    expect((await json(res)).error).toBe('invalid_client');
    const { client: pub } = await newClient('public');
    const r2 = await handleIntrospect(form(INTROSPECT, { token: String(body.access_token), client_id: pub.clientId }));
    expect(r2.status).toBe(401);
  });

  it('#134: a bearer access token of a backend client registered with introspect_any_token may introspect any token, one without it only its own; an invalid bearer → 401 invalid_token', async () => {
    const { body } = await tokensFor();
    const { jwk, sign } = await assertionKeys('ES384');
    const { client: be } = await newClient('backend', { jwks: { keys: [jwk as never] }, introspectAnyToken: true });
    const cc = await json(
      await handleToken(form(TOKEN_URL, { grant_type: 'client_credentials', scope: 'system/*.rs', ...assertionParams(await sign(be.clientId)) })),
    );
    const ok = await handleIntrospect(form(INTROSPECT, { token: String(body.access_token) }, { authorization: `Bearer ${String(cc.access_token)}` }));
    expect((await json(ok)).active).toBe(true);
    const { client: plain } = await newClient('backend', { jwks: { keys: [jwk as never] } });
    const own = await json(
      await handleToken(form(TOKEN_URL, { grant_type: 'client_credentials', scope: 'system/*.rs', ...assertionParams(await sign(plain.clientId)) })),
    );
    const bearer = { authorization: `Bearer ${String(own.access_token)}` };
    expect(await json(await handleIntrospect(form(INTROSPECT, { token: String(body.access_token) }, bearer)))).toEqual({ active: false });
    expect((await json(await handleIntrospect(form(INTROSPECT, { token: String(own.access_token) }, bearer)))).active).toBe(true);
    const bad = await handleIntrospect(form(INTROSPECT, { token: String(body.access_token) }, { authorization: 'Bearer nope' }));
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  it('OAUTH_INTROSPECTION_OPEN=true lets anyone introspect (docs/CONFORMANCE.md #134 sandbox switch)', async () => {
    const { body } = await tokensFor();
    vi.spyOn(env, 'OAUTH_INTROSPECTION_OPEN', 'get').mockReturnValue(true);
    const res = await handleIntrospect(form(INTROSPECT, { token: String(body.access_token) }));
    expect((await json(res)).active).toBe(true);
  });
});

describe('revocation, RFC 7009 (docs/CONFORMANCE.md §12; N10, N11)', () => {
  it('#135: revoking an access token stops it alone; unknown tokens answer 200', async () => {
    const { auth, body } = await tokensFor();
    expect((await handleRevoke(form(REVOKE, { token: String(body.access_token) }, auth))).status).toBe(200);
    expect(await verifyAccessToken(String(body.access_token), { sandboxId: 'default', fhirBase: FHIR_BASE })).toMatchObject({
      ok: false,
      description: expect.stringMatching(/revoked/),
    });
    // The refresh token still works (only the access token was revoked).
    expect((await handleToken(form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: String(body.refresh_token) }, auth))).status).toBe(200);
    const unknown = await handleRevoke(form(REVOKE, { token: 'no-such-token' }, auth));
    expect(unknown.status).toBe(200);
  });

  it('N11 (G10 9.3.03): after revoking the refresh token, refreshing with it → 400 invalid_grant', async () => {
    const { auth, body } = await tokensFor();
    await handleRevoke(form(REVOKE, { token: String(body.refresh_token) }, auth));
    const res = await handleToken(form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: String(body.refresh_token) }, auth));
    expect(res.status).toBe(400);
    expect((await json(res)).error).toBe('invalid_grant');
  });

  it('a token of another client → invalid_grant; no client authentication → invalid_client', async () => {
    const { body } = await tokensFor();
    const other = await newClient('confidential-symmetric');
    const res = await handleRevoke(form(REVOKE, { token: String(body.access_token) }, basic(other.client.clientId, other.clientSecret!)));
    expect(res.status).toBe(400);
    expect((await json(res)).error).toBe('invalid_grant');
    const anon = await handleRevoke(form(REVOKE, { token: String(body.access_token) }));
    expect((await json(anon)).error).toBe('invalid_client');
  });
});

describe('interaction contract for the consent screens', () => {
  async function start(scope: string, extra: Record<string, string> = {}) {
    const { client } = await newClient('confidential-symmetric');
    const res = await authorizeGet(authorizeQuery({ client_id: client.clientId, scope, ...extra }, pkce().challenge));
    return { client, id: interactionIdOf(res) };
  }

  it('#47 #103 N16: the user may grant granular sub-scopes of a requested scope, never more', async () => {
    const { id } = await start('launch/patient patient/Condition.rs patient/Observation.rs patient/Patient.rs');
    await expect(
      completeInteraction(id, { userId: 'Patient/pat-1', fhirUser: 'Patient/pat-1', patientId: 'pat-1', grantedScope: 'patient/Observation.rs user/*.rs' }),
    ).rejects.toThrow(/beyond the request/);
    const granted =
      'launch/patient patient/Condition.rs?category=http://terminology.hl7.org/CodeSystem/condition-category|problem-list-item patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory patient/Patient.rs';
    const redirect = new URL(await completeInteraction(id, { userId: 'Patient/pat-1', fhirUser: 'Patient/pat-1', patientId: 'pat-1', grantedScope: granted }));
    expect(redirect.searchParams.get('code')).toBeTruthy();
  });

  it('#46: patient scopes need a patient in context', async () => {
    const { id } = await start('patient/*.rs');
    expect((await getInteractionOrThrow(id)).needsPatient).toBe(true);
    await expect(completeInteraction(id, { userId: 'Practitioner/p', fhirUser: 'Practitioner/p', grantedScope: 'patient/*.rs' })).rejects.toThrow(
      /patient must be selected/,
    );
  });

  it('an EHR launch fixes the user and the patient; the screens cannot contradict them', async () => {
    const { client } = await newClient('confidential-symmetric');
    const launch = await createLaunch({ clientId: client.clientId, patientId: 'pat-5', userId: 'Practitioner/prac-5' });
    const res = await authorizeGet(authorizeQuery({ client_id: client.clientId, scope: 'launch patient/*.rs', launch }, pkce().challenge));
    const id = interactionIdOf(res);
    await expect(
      completeInteraction(id, { userId: 'Practitioner/other', fhirUser: 'Practitioner/other', grantedScope: 'launch patient/*.rs' }),
    ).rejects.toThrow(/made for user/);
    await expect(
      completeInteraction(id, { userId: 'Practitioner/prac-5', fhirUser: 'Practitioner/prac-5', patientId: 'pat-6', grantedScope: 'launch patient/*.rs' }),
    ).rejects.toThrow(/differs/);
    const url = await completeInteraction(id, { userId: 'Practitioner/prac-5', fhirUser: 'Practitioner/prac-5', grantedScope: 'launch patient/*.rs' });
    expect(url).toMatch(/code=/);
  });

  it('#50: deny → access_denied with state and iss; an interaction is single-use', async () => {
    const { id } = await start('openid launch/patient patient/*.rs', { state: 'my state' });
    const url = new URL(await denyInteraction(id));
    expect(`${url.origin}${url.pathname}`).toBe(REDIRECT);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({ error: 'access_denied', state: 'my state', iss: ORIGIN });
    await expect(getInteractionOrThrow(id)).rejects.toBeInstanceOf(InteractionNotFoundError);
    await expect(
      completeInteraction(id, { userId: 'Practitioner/p', fhirUser: 'Practitioner/p', patientId: 'p', grantedScope: 'openid' }),
    ).rejects.toBeInstanceOf(InteractionNotFoundError);
  });

  it('fhirUser must be a Patient, Practitioner, PractitionerRole, RelatedPerson or Person reference', async () => {
    const { id } = await start('openid fhirUser');
    await expect(completeInteraction(id, { userId: 'u', fhirUser: 'Organization/1', grantedScope: 'openid fhirUser' })).rejects.toThrow(/fhirUser/);
  });
});

describe('verifyAccessToken (docs/CONFORMANCE.md #113, #174)', () => {
  it('refuses an expired token, another FHIR base, another sandbox, an id_token and garbage', async () => {
    const { body, client } = await tokensFor();
    const at = String(body.access_token);
    expect((await verifyAccessToken(at, { sandboxId: 'default', fhirBase: `${FHIR_BASE}/` })).ok).toBe(true);
    expect(await verifyAccessToken(at, { sandboxId: 'default', fhirBase: 'https://other.example/fhir' })).toMatchObject({
      ok: false,
      error: 'invalid_token',
      description: expect.stringMatching(/another FHIR server/),
    });
    expect(await verifyAccessToken(at, { sandboxId: 'other', fhirBase: FHIR_BASE })).toMatchObject({
      ok: false,
      description: expect.stringMatching(/another sandbox/),
    });
    expect((await verifyAccessToken(String(body.id_token), { sandboxId: 'default', fhirBase: FHIR_BASE })).ok).toBe(false);
    expect((await verifyAccessToken('not.a.jwt', { sandboxId: 'default', fhirBase: FHIR_BASE })).ok).toBe(false);
    expect((await verifyAccessToken(`${at.slice(0, -4)}AAAA`, { sandboxId: 'default', fhirBase: FHIR_BASE })).ok).toBe(false);
    await getDb().token.updateMany({ where: { clientId: client.clientId, kind: 'access' }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await verifyAccessToken(at, { sandboxId: 'default', fhirBase: FHIR_BASE })).toMatchObject({
      ok: false,
      description: expect.stringMatching(/expired/),
    });
  });

  it('a JWT past its exp is refused by signature-time checks', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const { body } = await tokensFor();
      vi.setSystemTime(Date.now() + (Number(body.expires_in) + 5) * 1000);
      expect(await verifyAccessToken(String(body.access_token), { sandboxId: 'default', fhirBase: FHIR_BASE })).toMatchObject({
        ok: false,
        description: expect.stringMatching(/expired/),
      });
    } finally {
      vi.useRealTimers();
    }
  });
});
