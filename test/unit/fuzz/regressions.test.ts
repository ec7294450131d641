/**
 * Regression tests for what the fuzz suites found (issue 8 item 1), one plain example each, so a
 * reintroduced bug fails here with a clear name whatever fast-check happens to generate.
 */
import { describe, expect, it } from 'vitest';
import { handleRegister } from '../../../lib/oauth/endpoints/register';
import { handleToken } from '../../../lib/oauth/endpoints/token';
import { assertionKeys, assertionParams, exchange, form, getCode, json, newClient, ORIGIN, REDIRECT, TOKEN_URL } from '../../../lib/oauth/test-support';
import { createFhirHandler } from '../../../lib/fhir/router';
import { BASE, testTokens } from '../../../lib/fhir/test-support';

describe('fuzz findings, fixed', () => {
  it('a client assertion issued in the future (iat beyond the clock skew) is invalid_client (RFC 7519 §4.1.6)', async () => {
    const keys = await assertionKeys('ES384');
    const { client } = await newClient('backend', { jwks: { keys: [keys.jwk as never] }, scope: 'system/*.rs' });
    const now = Math.floor(Date.now() / 1000);
    const cc = async (iat: number) =>
      handleToken(
        form(TOKEN_URL, {
          grant_type: 'client_credentials',
          scope: 'system/Patient.rs',
          ...assertionParams(await keys.sign(client.clientId, { claims: { iat } })),
        }),
      );

    const future = await cc(now + 3600);
    expect(future.status).toBe(401);
    expect(await json(future)).toMatchObject({ error: 'invalid_client', error_description: expect.stringMatching(/iat .*in the future/) });
    // Within the tolerated skew, and in the past, iat is fine.
    expect((await cc(now + 10)).status).toBe(200);
    expect((await cc(now - 60)).status).toBe(200);
  });

  it('refresh with a whitespace-only scope is invalid_scope, not a token with no scope; the refresh token stays usable', async () => {
    const { client } = await newClient('public');
    const { code, verifier } = await getCode(client);
    const { refresh_token: refresh } = (await json(await exchange(code, verifier, { params: { client_id: client.clientId } }))) as { refresh_token: string };
    for (const scope of ['\n', ' \t ', '\u000b']) {
      const res = await handleToken(form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: refresh, client_id: client.clientId, scope }));
      expect(res.status).toBe(400);
      expect((await json(res)).error).toBe('invalid_scope');
    }
    const ok = await handleToken(form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: refresh, client_id: client.clientId }));
    expect(ok.status).toBe(200);
    expect((await json(ok)).scope).toBe('openid fhirUser launch/patient patient/*.rs offline_access');
  });

  it('http(s) URLs that name no host literally (https:///cb, https:\\\\host, http:/localhost) cannot be registered', async () => {
    const register = (meta: unknown) =>
      handleRegister(new Request(`${ORIGIN}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(meta) }));
    for (const uri of ['https:///cb', 'https:\\\\evil.example\\cb', 'https:app.example.org/cb', 'http:/localhost/cb', 'http:///localhost/cb']) {
      const res = await register({ redirect_uris: [uri], token_endpoint_auth_method: 'none' });
      expect(res.status, uri).toBe(400);
      expect((await json(res)).error, uri).toBe('invalid_redirect_uri');
    }
    const launch = await register({ redirect_uris: [REDIRECT], launch_uris: ['https:app.example.org/launch'], token_endpoint_auth_method: 'none' });
    expect((await json(launch)).error).toBe('invalid_client_metadata');
    // Ordinary URLs, any scheme case, still register.
    expect(
      (
        await register({
          redirect_uris: [REDIRECT, 'HTTPS://app.example.org/cb2', 'http://127.0.0.1:8080/cb', 'com.example.app:/cb'],
          token_endpoint_auth_method: 'none',
        })
      ).status,
    ).toBe(201);
  });

  it('_format=__proto__ / constructor / toString is 415 with a FHIR JSON OperationOutcome, not a response typed "[object Object]"', async () => {
    const handle = createFhirHandler();
    const token = await testTokens().issue('user/*.rs', { fhirUser: 'Practitioner/prac-1' });
    for (const format of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const res = await handle(new Request(`${BASE}/Patient?_format=${format}`, { headers: { authorization: `Bearer ${token}` } }));
      expect(res.status, format).toBe(415);
      expect(res.headers.get('content-type'), format).toBe('application/fhir+json; charset=utf-8');
      expect(((await res.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
    }
  });
});
