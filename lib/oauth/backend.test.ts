import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { getDb } from '../db';
import { clearClientJwksCache } from './client-jwks';
import { handleToken } from './endpoints/token';
import { assertionKeys, assertionParams, FHIR_BASE, form, json, newClient, ORIGIN, signAssertion, TOKEN_URL } from './test-support';
import { verifyAccessToken } from './access-token';

afterEach(() => {
  vi.unstubAllGlobals();
  clearClientJwksCache();
});

async function backend(alg: 'ES384' | 'RS384' = 'ES384', scope = 'system/*.rs') {
  const keys = await assertionKeys(alg);
  const { client } = await newClient('backend', { jwks: { keys: [keys.jwk as never] }, scope });
  return { client, ...keys };
}

function cc(assertion: string, extra: Record<string, string> = {}) {
  return handleToken(form(TOKEN_URL, { grant_type: 'client_credentials', scope: 'system/Patient.rs', ...assertionParams(assertion), ...extra }));
}

async function expectError(res: Response, status: number, error: string, description?: RegExp) {
  expect(res.status).toBe(status);
  expect(res.headers.get('cache-control')).toBe('no-store');
  const body = await json(res);
  expect(body.error).toBe(error);
  if (description) expect(body.error_description).toMatch(description);
}

describe('client_credentials with private_key_jwt (docs/CONFORMANCE.md §13)', () => {
  for (const alg of ['ES384', 'RS384'] as const) {
    it(`#140 #143: an ${alg} assertion shaped like Inferno's (no iat, exp = now + 300) gets a short-lived system token, no refresh token`, async () => {
      const { client, sign } = await backend(alg);
      const res = await cc(await sign(client.clientId));
      expect(res.status).toBe(200);
      const body = await json(res);
      expect(body).toMatchObject({ token_type: 'Bearer', scope: 'system/Patient.rs' });
      expect(body.expires_in).toBeLessThanOrEqual(300);
      expect(body.refresh_token).toBeUndefined();
      expect(decodeJwt(String(body.access_token))).toMatchObject({ sub: client.clientId, client_id: client.clientId, aud: FHIR_BASE });
      expect((await verifyAccessToken(String(body.access_token), { sandboxId: 'default', fhirBase: FHIR_BASE })).ok).toBe(true);
    });
  }

  it('#142: v1 system/*.read within a system/*.rs pre-authorisation is granted as requested', async () => {
    const { client, sign } = await backend();
    const body = await json(await cc(await sign(client.clientId), { scope: 'system/*.read' }));
    expect(body.scope).toBe('system/*.read');
  });

  it('#179: scopes beyond the pre-authorisation are down-scoped; nothing allowed → invalid_scope', async () => {
    const { client, sign } = await backend('ES384', 'system/Patient.rs system/Observation.rs');
    const body = await json(await cc(await sign(client.clientId), { scope: 'system/*.rs' }));
    expect(body.scope).toBe('system/Patient.rs system/Observation.rs');
    await expectError(await cc(await sign(client.clientId), { scope: 'system/Condition.rs' }), 400, 'invalid_scope', /pre-authorised/);
    await expectError(await cc(await sign(client.clientId), { scope: 'patient/*.rs' }), 400, 'invalid_scope', /only system\//);
    await expectError(await cc(await sign(client.clientId), { scope: 'system/Patient.xyz' }), 400, 'invalid_scope', /Patient\.xyz/);
  });

  it('N18 (G10 8.1.03): client_assertion_type=not_an_assertion_type → exactly 400 invalid_client', async () => {
    const { client, sign } = await backend();
    await expectError(
      await cc(await sign(client.clientId), { client_assertion_type: 'not_an_assertion_type' }),
      400,
      'invalid_client',
      /client_assertion_type must be/,
    );
  });

  it('N20 (G10 8.1.04): iss=not_a_valid_iss → invalid_client', async () => {
    const { client, sign } = await backend();
    await expectError(await cc(await sign(client.clientId, { claims: { iss: 'not_a_valid_iss' } })), 401, 'invalid_client', /iss and sub/);
    await expectError(await cc(await sign('not_a_valid_iss')), 401, 'invalid_client', /not a registered client_id/);
  });

  it('#72 #178: a replayed jti → invalid_client, audit flagged assertion-replay', async () => {
    const { client, sign } = await backend();
    const assertion = await sign(client.clientId);
    expect((await cc(assertion)).status).toBe(200);
    await expectError(await cc(assertion), 401, 'invalid_client', /already used/);
    const flagged = await getDb().auditRecord.findFirst({ where: { flags: { contains: 'assertion-replay' } } });
    expect(flagged?.clientId).toBe(client.clientId);
  });

  it('#71 #178: exp more than 5 min ahead, exp in the past, missing exp or jti → invalid_client', async () => {
    const { client, sign } = await backend();
    const now = Math.floor(Date.now() / 1000);
    await expectError(await cc(await sign(client.clientId, { claims: { exp: now + 600 } })), 401, 'invalid_client', /at most 300 s/);
    await expectError(await cc(await sign(client.clientId, { claims: { exp: now - 120 } })), 401, 'invalid_client', /exp is in the past/);
    await expectError(await cc(await sign(client.clientId, { omit: ['exp'] })), 401, 'invalid_client', /exp is required/);
    await expectError(await cc(await sign(client.clientId, { omit: ['jti'] })), 401, 'invalid_client', /jti is required/);
  });

  it('#71 #141 #178: aud other than exactly the token endpoint URL (the issuer included) → invalid_client', async () => {
    const { client, sign } = await backend();
    await expectError(
      await cc(await sign(client.clientId, { claims: { aud: 'https://other.example/token' } })),
      401,
      'invalid_client',
      /aud must be the token endpoint/,
    );
    await expectError(await cc(await sign(client.clientId, { claims: { aud: ORIGIN } })), 401, 'invalid_client', /aud must be the token endpoint/);
    await expectError(await cc(await sign(client.clientId, { claims: { aud: [TOKEN_URL, ORIGIN] } })), 401, 'invalid_client', /aud must be the token endpoint/);
    expect((await cc(await sign(client.clientId, { claims: { aud: [TOKEN_URL] } }))).status).toBe(200);
  });

  it('#178: alg none / HS256, missing kid, missing typ → invalid_client', async () => {
    const { client, sign } = await backend();
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid: 'ES384-key' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: client.clientId, sub: client.clientId, aud: TOKEN_URL, exp: Math.floor(Date.now() / 1000) + 60, jti: 'x' })).toString('base64url')}.`;
    await expectError(await cc(none), 401, 'invalid_client', /alg 'none'/);
    const hmacKey = new TextEncoder().encode('a'.repeat(32));
    await expectError(await cc(await signAssertion(hmacKey as never, 'HS256', 'ES384-key', client.clientId)), 401, 'invalid_client', /alg 'HS256'/);
    await expectError(await cc(await sign(client.clientId, { header: { typ: undefined } })), 401, 'invalid_client', /typ/);
  });

  it('#73 #178: unknown kid, kty not matching alg, and two keys with the same kid → invalid_client', async () => {
    const { client, sign } = await backend('ES384');
    await expectError(await cc(await sign(client.clientId, { header: { kid: 'other' } })), 401, 'invalid_client', /no registered key has kid 'other'/);
    // An RS384 signature claimed with the EC key's kid.
    const rsa = await generateKeyPair('RS384');
    await expectError(await cc(await signAssertion(rsa.privateKey, 'RS384', 'ES384-key', client.clientId)), 401, 'invalid_client', /no registered key/);
    // Two keys with one kid cannot be registered inline; a jwks_uri set can hold them, and then an
    // assertion naming that kid is refused.
    const a = await assertionKeys('ES384', 'same');
    const b = await assertionKeys('ES384', 'same');
    await expect(newClient('backend', { jwks: { keys: [a.jwk as never, b.jwk as never] } })).rejects.toThrow(/kid 'same' appears more than once/);
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response(JSON.stringify({ keys: [a.jwk, b.jwk] }), { status: 200, headers: { 'content-type': 'application/json' } })),
    );
    try {
      const { client: dup } = await newClient('backend', { jwksUri: `http://localhost:4567/dup/jwks.json?${Math.random()}` });
      await expectError(await cc(await a.sign(dup.clientId)), 401, 'invalid_client', /2 registered keys/);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('registration refuses keys that are not real public keys: an EC point off its curve, a P-256 key, RSA under 2048 bits', async () => {
    const ec = await assertionKeys('ES384', 'ec');
    const ecJwk = ec.jwk as unknown as Record<string, string>;
    await expect(newClient('backend', { jwks: { keys: [{ ...ecJwk, y: ecJwk.x } as never] } })).rejects.toThrow(/key 'ec' is not a valid public key/);
    await expect(newClient('backend', { jwks: { keys: [{ kty: 'EC', crv: 'P-384', x: 'AAAA', y: 'AAAA', kid: 'tiny' } as never] } })).rejects.toThrow(
      /not a valid public key/,
    );
    const p256 = { ...(await exportJWK((await generateKeyPair('ES256')).publicKey)), kid: 'p256' };
    await expect(newClient('backend', { jwks: { keys: [p256 as never] } })).rejects.toThrow(/curve P-256: ES384 needs P-384/);
    const weak = { ...generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }), kid: 'weak' };
    await expect(newClient('backend', { jwks: { keys: [weak as never] } })).rejects.toThrow(/RSA key of 1024 bits/);
  });

  it('a signature by another key with the right kid → invalid_client', async () => {
    const { client } = await backend('ES384');
    const stranger = await generateKeyPair('ES384');
    await expectError(
      await cc(await signAssertion(stranger.privateKey, 'ES384', 'ES384-key', client.clientId)),
      401,
      'invalid_client',
      /signature does not verify/,
    );
  });

  it('#69: a client_id that differs from iss → invalid_client', async () => {
    const { client, sign } = await backend();
    await expectError(await cc(await sign(client.clientId), { client_id: 'someone' }), 401, 'invalid_client', /differs from the iss/);
  });

  it('client_credentials needs private_key_jwt (#140)', async () => {
    const { client, clientSecret } = await newClient('confidential-symmetric');
    const auth = { authorization: `Basic ${Buffer.from(`${client.clientId}:${clientSecret}`).toString('base64')}` };
    const res = await handleToken(form(TOKEN_URL, { grant_type: 'client_credentials', scope: 'system/*.rs' }, auth));
    await expectError(res, 400, 'unauthorized_client');
  });
});

describe('jwks_uri clients (docs/CONFORMANCE.md #73, #74)', () => {
  async function remoteClient(cacheControl: string | null) {
    const { publicKey, privateKey } = await generateKeyPair('RS384');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'remote-1', alg: 'RS384' };
    const fetchMock = vi.fn(
      async () =>
        new Response(JSON.stringify({ keys: [jwk] }), {
          status: 200,
          headers: { 'content-type': 'application/json', ...(cacheControl ? { 'cache-control': cacheControl } : {}) },
        }),
    );
    vi.stubGlobal('fetch', fetchMock);
    const jwksUri = `http://localhost:4567/custom/smart_stu2_2/.well-known/jwks.json?${Math.random()}`;
    const { client } = await newClient('backend', { jwksUri });
    return { client, fetchMock, jwksUri, sign: (over = {}) => signAssertion(privateKey, 'RS384', 'remote-1', client.clientId, over) };
  }

  it('fetches the JWKS with Accept: application/json and caches it per max-age', async () => {
    const { sign, fetchMock } = await remoteClient('max-age=600');
    expect((await cc(await sign())).status).toBe(200);
    expect((await cc(await sign())).status).toBe(200);
    expect(fetchMock).toHaveBeenCalledTimes(1);
    const [, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(new Headers(init.headers).get('accept')).toBe('application/json');
  });

  it('does not cache without Cache-Control or with no-store (#74: never longer than allowed)', async () => {
    for (const cc1 of [null, 'no-store', 'max-age=60, no-cache']) {
      const { sign, fetchMock } = await remoteClient(cc1);
      await cc(await sign());
      await cc(await sign());
      expect(fetchMock).toHaveBeenCalledTimes(2);
      vi.unstubAllGlobals();
    }
  });

  it('#73: jku equal to the registered jwks_uri is accepted; any other jku → invalid_client', async () => {
    const { sign, jwksUri } = await remoteClient(null);
    expect((await cc(await sign({ header: { jku: jwksUri } }))).status).toBe(200);
    await expectError(await cc(await sign({ header: { jku: 'https://attacker.example/jwks.json' } })), 401, 'invalid_client', /jku/);
  });

  it('an unreachable JWKS URL → invalid_client, never 500', async () => {
    const { client, sign } = await remoteClient(null);
    void client;
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => {
        throw new TypeError('fetch failed');
      }),
    );
    await expectError(await cc(await sign()), 401, 'invalid_client', /could not fetch/);
  });
});
