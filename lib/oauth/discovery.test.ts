import { describe, expect, it } from 'vitest';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { handleDiscoveryPreflight, handleOpenIdConfiguration, handleSmartConfiguration, SMART_CAPABILITIES } from './discovery';
import { verifyAccessToken } from './access-token';
import { handleJwks } from './endpoints/jwks';
import { clearKeyCache, getSigningKey, getVerificationKey, rotateSigningKeys } from './keys';
import { FHIR_BASE, json, newClient, ORIGIN } from './test-support';
import { issueTokens } from './tokens';

const get = (path: string, headers: Record<string, string> = {}) => new Request(`${ORIGIN}${path}`, { headers });

describe('SMART discovery (docs/CONFORMANCE.md §1)', () => {
  it('#12 #13 #28: serves JSON whatever Accept says, with CORS for any origin', async () => {
    const res = await handleSmartConfiguration(get('/fhir/.well-known/smart-configuration', { accept: 'text/html', origin: 'https://x.example' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const pre = await handleDiscoveryPreflight(new Request(`${ORIGIN}/fhir/.well-known/smart-configuration`, { method: 'OPTIONS' }));
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('#14 #15 #16 #17 #18 #19 #22: required and recommended fields, absolute URLs, S256 only', async () => {
    const body = await json(await handleSmartConfiguration(get('/fhir/.well-known/smart-configuration')));
    expect(body.issuer).toBe(ORIGIN);
    for (const key of [
      'authorization_endpoint',
      'token_endpoint',
      'jwks_uri',
      'registration_endpoint',
      'introspection_endpoint',
      'revocation_endpoint',
      'management_endpoint',
    ]) {
      expect(String(body[key])).toMatch(/^http:\/\/localhost:3000\//);
    }
    expect(body.token_endpoint).toBe(`${ORIGIN}/oauth/token`);
    expect(body.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'client_credentials']));
    expect(body.code_challenge_methods_supported).toEqual(['S256']);
    expect(body.response_types_supported).toEqual(['code']);
    expect(body.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['client_secret_basic', 'private_key_jwt']));
    expect(body.token_endpoint_auth_signing_alg_values_supported).toEqual(expect.arrayContaining(['RS384', 'ES384']));
    expect((body.scopes_supported as string[]).some((s) => /^(patient|user|system)\/(\*|[A-Z][a-z]+)\.[cruds]+$/.test(s))).toBe(true);
  });

  it('#23 #26 #27: capability strings are exact and cover the g10 sets', async () => {
    const body = await json(await handleSmartConfiguration(get('/fhir/.well-known/smart-configuration')));
    const caps = body.capabilities as string[];
    expect(caps.every((c) => typeof c === 'string')).toBe(true);
    expect(caps).toEqual([...SMART_CAPABILITIES]);
    for (const c of [
      'launch-standalone',
      'launch-ehr',
      'client-public',
      'client-confidential-symmetric',
      'client-confidential-asymmetric',
      'sso-openid-connect',
      'context-standalone-patient',
      'context-ehr-patient',
      'context-ehr-encounter',
      'context-banner',
      'context-style',
      'permission-offline',
      'permission-patient',
      'permission-user',
      'authorize-post',
      'permission-v1',
      'permission-v2',
    ]) {
      expect(caps).toContain(c);
    }
    expect(caps).not.toContain('smart-app-state');
  });

  it('#77: openid-configuration has the OIDC required fields and RS256', async () => {
    const res = await handleOpenIdConfiguration(get('/.well-known/openid-configuration'));
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = await json(res);
    expect(body.issuer).toBe(ORIGIN);
    for (const key of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'response_types_supported', 'subject_types_supported'])
      expect(body[key]).toBeDefined();
    expect(body.id_token_signing_alg_values_supported).toContain('RS256');
  });
});

describe('signing keys and JWKS (docs/CONFORMANCE.md #78)', () => {
  it('publishes an RSA key and an EC key with kid, and no private members', async () => {
    const res = await handleJwks(get('/.well-known/jwks.json'));
    expect(res.status).toBe(200);
    const { keys } = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(keys.find((k) => k.kty === 'RSA' && k.alg === 'RS256' && k.n && k.e && k.kid)).toBeDefined();
    expect(keys.find((k) => k.kty === 'EC' && k.alg === 'ES256' && k.kid)).toBeDefined();
    for (const k of keys) for (const p of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(k[p]).toBeUndefined();
  });

  it('caches key objects: the same CryptoKey instance is returned on every call', async () => {
    const a = await getSigningKey('ES256');
    const b = await getSigningKey('ES256');
    expect(b.privateKey).toBe(a.privateKey);
    const v1 = await getVerificationKey(a.kid, 'ES256');
    expect(await getVerificationKey(a.kid, 'ES256')).toBe(v1);
    expect(await getVerificationKey(a.kid, 'RS256')).toBeNull();
  });

  it('is concurrency-safe on first start: racing loads agree on one active key per algorithm', async () => {
    const { getDb } = await import('../db');
    await getDb().setting.deleteMany({ where: { key: { startsWith: 'oauth.signing-key.' } } });
    await getDb().signingKey.deleteMany({});
    clearKeyCache();
    // Simulate two instances: each call below runs with an empty cache.
    const results = await Promise.all(
      [0, 1, 2].map(async () => {
        clearKeyCache();
        return getSigningKey('RS256');
      }),
    );
    expect(new Set(results.map((r) => r.kid)).size).toBe(1);
    const rows = await getDb().signingKey.findMany({ where: { alg: 'RS256' } });
    expect(rows.map((r) => r.kid)).toEqual([results[0]!.kid]);
  });

  it('rotation: new tokens use the new key, the old public key stays in the JWKS and its tokens still verify', async () => {
    const { client } = await newClient('confidential-symmetric');
    const before = await issueTokens({
      sandboxId: 'default',
      client,
      grantId: null,
      userId: 'u',
      launchId: null,
      scope: 'patient/*.rs',
      accessTtlSeconds: 300,
      issuer: ORIGIN,
      fhirBase: FHIR_BASE,
      context: { patient: 'p1', encounter: null, fhirUser: null, launchKind: 'standalone' },
    });
    const oldKid = decodeProtectedHeader(before.body.access_token).kid;
    const rotated = await rotateSigningKeys();
    expect(rotated.find((r) => r.alg === 'ES256')?.retiredKid).toBe(oldKid);
    const after = await issueTokens({
      sandboxId: 'default',
      client,
      grantId: null,
      userId: 'u',
      launchId: null,
      scope: 'patient/*.rs',
      accessTtlSeconds: 300,
      issuer: ORIGIN,
      fhirBase: FHIR_BASE,
      context: { patient: 'p1', encounter: null, fhirUser: null, launchKind: 'standalone' },
    });
    expect(decodeProtectedHeader(after.body.access_token).kid).not.toBe(oldKid);
    const { keys } = (await (await handleJwks(get('/.well-known/jwks.json'))).json()) as { keys: { kid: string }[] };
    expect(keys.map((k) => k.kid)).toContain(oldKid);
    expect((await verifyAccessToken(before.body.access_token, { sandboxId: 'default', fhirBase: FHIR_BASE })).ok).toBe(true);
    // Verifiable with the published JWKS alone, as an external resource server would.
    await expect(jwtVerify(after.body.access_token, createLocalJWKSet({ keys: keys as never }))).resolves.toBeDefined();
    const { getDb } = await import('../db');
    expect((await getDb().signingKey.findUnique({ where: { kid: oldKid! } }))?.privateJwk).toBe('');
  });
});
