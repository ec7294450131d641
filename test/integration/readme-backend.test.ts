// The README's backend section, taken from the README and run as written in bash (openssl, jq, curl),
// with only the sandbox's address changed: it must end with a Bundle of patients.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';

const base = inject('baseUrl');
const README = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'readme-backend-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The first sh block of the README's "Backend services" section. */
function backendScript(): string {
  const section = README.split(/^## /m).find((s) => s.startsWith('Backend services'));
  expect(section, 'the README has a "Backend services" section').toBeDefined();
  const m = /```sh\n([\s\S]*?)```/.exec(section!);
  expect(m, 'the section has a sh block').not.toBeNull();
  return m![1]!;
}

describe('README backend section', () => {
  it('registers a backend service with the JWKS helper, signs an assertion with openssl and reads FHIR with the token', () => {
    const script = backendScript();
    expect(script).toContain('B=http://localhost:3000\n');
    const out = execFileSync('bash', ['-euo', 'pipefail', '-c', script.replace('B=http://localhost:3000\n', `B=${base}\n`)], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    const bundle = JSON.parse(out) as { resourceType: string; entry?: { resource: { resourceType: string; id: string } }[] };
    expect(bundle.resourceType).toBe('Bundle');
    expect(bundle.entry?.length).toBe(2);
    expect(bundle.entry?.every((e) => e.resource.resourceType === 'Patient')).toBe(true);
  });
});

describe('backend key tools', () => {
  const post = (path: string, body: unknown) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('a new key pair registers, and its JWK public key gives the same JWKS back', async () => {
    const res = await post('/api/tools/key-pair', { alg: 'ES384' });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toContain('no-store');
    const pair = (await res.json()) as { jwks: { keys: Record<string, string>[] }; kid: string; alg: string; private_key_pem: string };
    expect(pair.alg).toBe('ES384');
    expect(pair.private_key_pem).toContain('-----BEGIN PRIVATE KEY-----');
    expect(pair.jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-384', kid: pair.kid, alg: 'ES384', use: 'sig' });
    expect(pair.jwks.keys[0]!.d).toBeUndefined();
    const again = await post('/api/tools/jwks', { public_key: pair.jwks.keys[0] });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { jwks: unknown }).jwks).toEqual(pair.jwks);
    const reg = await post('/oauth/register', {
      client_name: 'tools it',
      token_endpoint_auth_method: 'private_key_jwt',
      grant_types: ['client_credentials'],
      scope: 'system/*.rs',
      jwks: pair.jwks,
    });
    expect(reg.status).toBe(201);
  });

  it('refuses private keys, weak or unsupported keys and junk with 400 invalid_request', async () => {
    const pair = (await (await post('/api/tools/key-pair', {})).json()) as { private_key_pem: string; private_jwk: unknown; alg: string };
    expect(pair.alg).toBe('RS384');
    for (const bad of [
      { public_key: pair.private_key_pem },
      { public_key: pair.private_jwk },
      { public_key: 'hello' },
      { public_key: { kty: 'EC', crv: 'P-256', x: 'a', y: 'b' } },
      {},
    ]) {
      const res = await post('/api/tools/jwks', bad);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: string; error_description: string };
      expect(body.error).toBe('invalid_request');
      expect(body.error_description.length).toBeGreaterThan(10);
    }
    expect((await post('/api/tools/key-pair', { alg: 'HS256' })).status).toBe(400);
    const notJson = await fetch(`${base}/api/tools/jwks`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect(notJson.status).toBe(415);
  });
});

describe('scopes dropped at registration', () => {
  it('offline_access without the refresh_token grant is removed from scope and reported with the reason', async () => {
    const res = await fetch(`${base}/oauth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'dropped it',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://localhost:8080/callback'],
        grant_types: ['authorization_code'],
        scope: 'openid fhirUser launch/patient patient/*.rs offline_access',
      }),
    });
    expect(res.status).toBe(201);
    const reg = (await res.json()) as { scope: string; dropped_scopes?: { scope: string; reason: string }[] };
    expect(reg.scope).toBe('openid fhirUser launch/patient patient/*.rs');
    expect(reg.dropped_scopes).toEqual([{ scope: 'offline_access', reason: expect.stringContaining('refresh_token') }]);
  });

  it('a registration that keeps every scope has no dropped_scopes', async () => {
    const res = await fetch(`${base}/oauth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'kept it',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://localhost:8080/callback'],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid launch/patient patient/*.rs offline_access',
      }),
    });
    const reg = (await res.json()) as { scope: string; dropped_scopes?: unknown };
    expect(reg.scope).toContain('offline_access');
    expect(reg.dropped_scopes).toBeUndefined();
  });
});
