import { describe, expect, it } from 'vitest';
import { getDb } from '../db';
import { deleteClient, getClient, listClients, registerClient, rotateClientSecret, updateClient } from './clients';
import { handleRegister } from './endpoints/register';
import { handleToken } from './endpoints/token';
import { assertionKeys, assertionParams, basic, exchange, form, getCode, json, ORIGIN, REDIRECT, TOKEN_URL } from './test-support';
import { sha256 } from './crypto';

function register(body: unknown, contentType = 'application/json') {
  return handleRegister(
    new Request(`${ORIGIN}/oauth/register`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );
}

async function expectError(res: Response, error: string, description: RegExp) {
  expect(res.status).toBe(400);
  expect(res.headers.get('cache-control')).toBe('no-store');
  const body = await json(res);
  expect(body.error).toBe(error);
  expect(body.error_description).toMatch(description);
}

describe('dynamic client registration, RFC 7591 (docs/CONFORMANCE.md #36)', () => {
  it('registers a confidential-symmetric client by default (client_secret_basic) and returns the secret once, stored hashed', async () => {
    const res = await register({ client_name: 'My app', redirect_uris: [REDIRECT], scope: 'openid fhirUser launch/patient patient/*.rs' });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await json(res);
    expect(body).toMatchObject({
      client_name: 'My app',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [REDIRECT],
      client_secret_expires_at: 0,
      smart_client_type: 'confidential-symmetric',
    });
    expect(typeof body.client_id).toBe('string');
    expect(typeof body.client_id_issued_at).toBe('number');
    const secret = String(body.client_secret);
    expect(secret.length).toBeGreaterThanOrEqual(43);
    const row = await getDb().client.findUniqueOrThrow({ where: { clientId: String(body.client_id) } });
    expect(row.secretHash).toBe(sha256(secret));
    expect(JSON.stringify(row)).not.toContain(secret);
    // The registered client can run a code flow.
    const client = (await getClient(String(body.client_id)))!;
    const { code, verifier } = await getCode(client, { params: { scope: 'openid fhirUser launch/patient patient/*.rs' } });
    expect((await exchange(code, verifier, { headers: basic(client.clientId, secret) })).status).toBe(200);
    const audit = await getDb().auditRecord.findFirstOrThrow({ where: { endpoint: '/oauth/register' }, orderBy: { at: 'desc' } });
    expect(audit.detail ?? '').not.toContain(secret);
  });

  it('registers a public client (none) and a backend client with an inline JWKS (no secret)', async () => {
    const pub = await json(
      await register({ token_endpoint_auth_method: 'none', redirect_uris: ['http://127.0.0.1:8080/cb'], grant_types: ['authorization_code', 'refresh_token'] }),
    );
    expect(pub).toMatchObject({ smart_client_type: 'public', token_endpoint_auth_method: 'none' });
    expect(pub.client_secret).toBeUndefined();
    const { jwk, sign } = await assertionKeys('ES384');
    const res = await register({
      token_endpoint_auth_method: 'private_key_jwt',
      grant_types: ['client_credentials'],
      jwks: { keys: [jwk] },
      scope: 'system/*.rs',
    });
    expect(res.status).toBe(201);
    const be = await json(res);
    expect(be).toMatchObject({ smart_client_type: 'backend', response_types: [] });
    expect(be.client_secret).toBeUndefined();
    const token = await handleToken(
      form(TOKEN_URL, { grant_type: 'client_credentials', scope: 'system/*.rs', ...assertionParams(await sign(String(be.client_id))) }),
    );
    expect(token.status).toBe(200);
  });

  it('#2 RFC 9700 §2.6: refuses javascript:, data:, fragments and http on non-loopback hosts; allows http loopback and native schemes', async () => {
    for (const [uri, why] of [
      ['javascript:alert(1)', /javascript: scheme/],
      ['data:text/html,hi', /data: scheme/],
      ['http://app.example.org/cb', /non-loopback/],
      ['https://app.example.org/cb#frag', /fragment/],
      ['/relative/cb', /absolute URL/],
      ['https://user:pw@app.example.org/cb', /credentials/],
      ['myapp:/cb', /reverse-domain/],
    ] as const) {
      await expectError(await register({ redirect_uris: [uri] }), 'invalid_redirect_uri', why);
    }
    for (const uri of [
      'http://localhost:4567/custom/smart_stu2_2/redirect',
      'http://127.0.0.1:3000/cb',
      'http://[::1]:8080/cb',
      'com.example.app:/oauth2redirect',
    ]) {
      expect((await register({ token_endpoint_auth_method: 'none', redirect_uris: [uri] })).status).toBe(201);
    }
  });

  it('refuses a client_id that is already registered, and keeps the first registration', async () => {
    const first = await registerClient({
      clientId: 'fixed-client-id',
      name: 'first',
      clientType: 'public',
      redirectUris: ['http://127.0.0.1:9/cb'],
      scope: 'launch/patient patient/*.rs',
    });
    await expect(
      registerClient({
        clientId: 'fixed-client-id',
        name: 'second',
        clientType: 'public',
        redirectUris: ['http://127.0.0.1:9/other'],
        scope: 'launch/patient patient/*.rs',
      }),
    ).rejects.toThrow("client_id 'fixed-client-id' is already registered");
    expect(await getClient('fixed-client-id')).toMatchObject({ name: first.client.name, redirectUris: ['http://127.0.0.1:9/cb'] });
  });

  it('refuses bad metadata with invalid_client_metadata naming the problem', async () => {
    await expectError(await register({ redirect_uris: [REDIRECT], scope: 'patient/Observation.wr' }), 'invalid_client_metadata', /patient\/Observation\.wr/);
    await expectError(await register({ redirect_uris: [REDIRECT], grant_types: ['implicit'] }), 'invalid_client_metadata', /grant_types/);
    await expectError(await register({ redirect_uris: [REDIRECT], response_types: ['token'] }), 'invalid_client_metadata', /response_types/);
    await expectError(
      await register({ token_endpoint_auth_method: 'private_key_jwt', redirect_uris: [REDIRECT] }),
      'invalid_client_metadata',
      /jwks_uri or jwks/,
    );
    await expectError(
      await register({
        token_endpoint_auth_method: 'private_key_jwt',
        grant_types: ['client_credentials'],
        jwks: { keys: [{ kty: 'EC', crv: 'P-384', x: 'a', y: 'b', d: 'c', kid: 'k' }] },
      }),
      'invalid_client_metadata',
      /private member 'd'/,
    );
    await expectError(
      await register({
        token_endpoint_auth_method: 'private_key_jwt',
        grant_types: ['client_credentials'],
        jwks: { keys: [{ kty: 'EC', crv: 'P-384', x: 'a', y: 'b' }] },
      }),
      'invalid_client_metadata',
      /kid/,
    );
    await expectError(
      await register({ token_endpoint_auth_method: 'private_key_jwt', grant_types: ['client_credentials'], jwks_uri: 'http://jwks.example/keys' }),
      'invalid_client_metadata',
      /https/,
    );
    await expectError(
      await register({ token_endpoint_auth_method: 'none', redirect_uris: [REDIRECT], pkce_required: false }),
      'invalid_client_metadata',
      /PKCE/,
    );
    await expectError(await register({}), 'invalid_redirect_uri', /at least one redirect URI/);
    await expectError(await register('{not json'), 'invalid_client_metadata', /not valid JSON/);
    const wrongType = await register('a=b', 'application/x-www-form-urlencoded');
    await expectError(wrongType, 'invalid_request', /JSON/);
  });
});

describe('programmatic client API for the console (docs/CONFORMANCE.md #32–#35)', () => {
  it('registers several exact redirect URIs and launch URLs; derives CORS origins from them', async () => {
    const { client } = await registerClient({
      name: 'Inferno',
      clientType: 'public',
      redirectUris: ['http://localhost:4567/custom/smart/redirect', 'http://localhost:4567/custom/smart_stu2_2/redirect'],
      launchUris: ['http://localhost:4567/custom/smart_stu2_2/launch'],
    });
    expect(client.redirectUris).toHaveLength(2);
    expect(client.allowedOrigins).toEqual(['http://localhost:4567']);
    expect(client.pkceRequired).toBe(true);
  });

  it('updateClient, rotateClientSecret (old secret stops working), listClients, deleteClient (revokes tokens)', async () => {
    const { client, clientSecret } = await registerClient({ name: 'A', clientType: 'confidential-symmetric', redirectUris: [REDIRECT] });
    const updated = await updateClient(client.clientId, { name: 'B', redirectUris: [REDIRECT, 'https://b.example/cb'] });
    expect(updated).toMatchObject({
      name: 'B',
      clientType: 'confidential-symmetric',
      redirectUris: [REDIRECT, 'https://b.example/cb'],
      allowedOrigins: ['https://app.example.org', 'https://b.example'],
    });
    await expect(updateClient(client.clientId, { redirectUris: ['javascript:x'] })).rejects.toThrow(/javascript/);

    const { code, verifier } = await getCode(client);
    const rotated = await rotateClientSecret(client.clientId);
    expect(rotated?.clientSecret).not.toBe(clientSecret);
    expect((await exchange(code, verifier, { headers: basic(client.clientId, clientSecret!) })).status).toBe(401);
    const { code: c2, verifier: v2 } = await getCode(client);
    const ok = await exchange(c2, v2, { headers: basic(client.clientId, rotated!.clientSecret) });
    expect(ok.status).toBe(200);

    expect((await listClients()).map((c) => c.clientId)).toContain(client.clientId);
    expect(await deleteClient(client.clientId)).toBe(true);
    expect(await getClient(client.clientId)).toBeNull();
    expect(await getDb().token.count({ where: { clientId: client.clientId, revoked: false } })).toBe(0);
    expect(await deleteClient(client.clientId)).toBe(false);
  });

  it('backend clients are pre-authorised for system/ scopes only', async () => {
    const { jwk } = await assertionKeys('RS384');
    await expect(registerClient({ name: 'b', clientType: 'backend', jwks: { keys: [jwk as never] }, scope: 'patient/*.rs' })).rejects.toThrow(/system\//);
    const { client } = await registerClient({ name: 'b', clientType: 'backend', jwks: { keys: [jwk as never] } });
    expect(client).toMatchObject({ scope: 'system/*.rs', grantTypes: ['client_credentials'], tokenEndpointAuthMethod: 'private_key_jwt', hasSecret: false });
  });
});
