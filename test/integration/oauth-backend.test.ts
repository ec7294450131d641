// Backend services, introspection and revocation over real HTTP, driven by oauth4webapi (an
// independent, spec-strict OAuth client), against the running app.
import { describe, it, expect, inject, beforeAll } from 'vitest';
import * as oauth from 'oauth4webapi';
import { assertionAuth, registerBackendService } from './support/smart-client';

const base = inject('baseUrl');
const issuer = new URL(base);
const insecure = { [oauth.allowInsecureRequests]: true } as const;
let as: oauth.AuthorizationServer;

async function registerBackendClient(alg: 'ES384' | 'RS384') {
  const service = await registerBackendService(base, { name: `backend ${alg}`, kid: `${alg}-key`, alg, scope: 'system/*.rs' });
  expect(service.clientSecret).toBeUndefined();
  return { client: { client_id: service.clientId } as oauth.Client, service };
}

beforeAll(async () => {
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }));
});

describe('backend services (client_credentials + private_key_jwt) over HTTP', () => {
  for (const alg of ['ES384', 'RS384'] as const) {
    it(`issues a system token for an ${alg} client assertion, introspects it, revokes it (docs/CONFORMANCE.md §13, §11)`, async () => {
      const { client, service } = await registerBackendClient(alg);
      const auth = assertionAuth(as, service);
      const res = await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: 'system/Patient.rs' }, insecure);
      const token = await oauth.processClientCredentialsResponse(as, client, res);
      expect(token.token_type).toBe('bearer');
      expect(token.scope).toBe('system/Patient.rs');
      expect(typeof token.expires_in).toBe('number');

      const fhir = await fetch(`${base}/fhir/Patient?_count=1`, { headers: { authorization: `Bearer ${token.access_token}` } });
      expect(fhir.status).toBe(200);

      const intro = await oauth.processIntrospectionResponse(
        as,
        client,
        await oauth.introspectionRequest(as, client, assertionAuth(as, service), token.access_token, insecure),
      );
      expect(intro.active).toBe(true);
      expect(intro.scope).toBe('system/Patient.rs');
      expect(intro.client_id).toBe(client.client_id);

      await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, assertionAuth(as, service), token.access_token, insecure));
      const after = await oauth.processIntrospectionResponse(
        as,
        client,
        await oauth.introspectionRequest(as, client, assertionAuth(as, service), token.access_token, insecure),
      );
      expect(after).toEqual({ active: false });
      const denied = await fetch(`${base}/fhir/Patient?_count=1`, { headers: { authorization: `Bearer ${token.access_token}` } });
      expect(denied.status).toBe(401);
    });
  }

  it('refuses a replayed client assertion (same jti) with invalid_client (docs/CONFORMANCE.md §13)', async () => {
    const { client, service } = await registerBackendClient('ES384');
    let captured = '';
    const capture: oauth.ClientAuth = async (asMeta, c, body, headers) => {
      await assertionAuth(as, service)(asMeta, c, body, headers);
      captured = body.get('client_assertion') ?? '';
    };
    await oauth.processClientCredentialsResponse(
      as,
      client,
      await oauth.clientCredentialsGrantRequest(as, client, capture, { scope: 'system/Patient.rs' }, insecure),
    );
    const replay = await fetch(as.token_endpoint!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'system/Patient.rs',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: captured,
      }),
    });
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ error: 'invalid_client' });
  });
});

describe('discovery over HTTP', () => {
  it('serves SMART configuration as JSON whatever the Accept header, with CORS (docs/CONFORMANCE.md #12, #13)', async () => {
    const res = await fetch(`${base}/fhir/.well-known/smart-configuration`, { headers: { accept: 'text/html', origin: 'https://app.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const body = await res.json();
    expect(body.token_endpoint).toBe(`${base}/oauth/token`);
    expect(body.code_challenge_methods_supported).toEqual(['S256']);
    expect(body.capabilities).toContain('launch-ehr');
  });

  it('serves the JWKS with an RSA key and no private parts', async () => {
    const res = await fetch(as.jwks_uri!);
    expect(res.status).toBe(200);
    const { keys } = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(keys.some((k) => k.kty === 'RSA')).toBe(true);
    for (const k of keys) for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(k[priv]).toBeUndefined();
  });
});
