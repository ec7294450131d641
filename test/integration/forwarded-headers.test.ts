// Forwarded headers over real HTTP (lib/http/origin.ts, lib/http/client-ip.ts): without TRUST_PROXY
// a client cannot choose the issuer, the FHIR base, a token's `aud`, the address its requests are
// audited under or the rate-limit counter they count against; with TRUST_PROXY=1 a proxy's
// X-Forwarded-* are believed. HTTPS_ONLY=1 refuses http jwks_uri and http redirect URIs other
// than a native app's loopback IP (RFC 8252 §7.3, §8.3). docs/SECURITY.md lists these defences.
import { request as httpRequest } from 'node:http';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { decodeJwt } from 'jose';
import { BrowserSession } from './support/browserless';
import { APP_REDIRECT_URI, buildAuthorizationRequest, discover, registerSymmetricClient } from './support/smart-client';
import type { RegisteredClient } from './support/smart-client';
import { auditWhere, startInFreshWindow, startOwnServer } from './support/own-server';
import type { OwnServer } from './support/own-server';

const PATIENT = 'pat-42-0';
const FORGED = { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.66' };
// A day-long window: the registration counter below cannot roll over mid-test (windows start at multiples of it).
const WINDOW = 86_400;
const REGISTER_LIMIT = 4;

interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** An HTTP request with any headers, Host included (fetch does not let a caller choose Host). */
function raw(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

function json<T = Record<string, unknown>>(res: RawResponse): T {
  return JSON.parse(res.body) as T;
}

function publiclyCacheable(cacheControl: string | string[] | undefined): boolean {
  const v = String(cacheControl ?? '').toLowerCase();
  return v.includes('public') || (/max-age=\d*[1-9]/.test(v) && !v.includes('private') && !v.includes('no-store'));
}

const registration = (extra: Record<string, unknown> = {}) => ({
  client_name: 'forwarded-headers app',
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['authorization_code'],
  redirect_uris: [APP_REDIRECT_URI],
  scope: 'launch/patient patient/Patient.rs',
  ...extra,
});

describe('without TRUST_PROXY, forwarded headers change nothing', () => {
  let server: OwnServer;
  let base: string;
  let port: string;

  beforeAll(async () => {
    server = await startOwnServer('forwarded', { RATE_LIMIT_WINDOW_SECONDS: String(WINDOW), RATE_LIMIT_REGISTER_IP: String(REGISTER_LIMIT) });
    base = server.url;
    port = new URL(base).port;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('discovery with X-Forwarded-Host: evil.example answers the fixed origin and is not publicly cacheable', async () => {
    for (const path of ['/fhir/.well-known/smart-configuration', '/.well-known/openid-configuration']) {
      const res = await raw(`${base}${path}`, { headers: FORGED });
      expect(res.status, path).toBe(200);
      const doc = json<{ issuer: string; token_endpoint: string; authorization_endpoint: string }>(res);
      expect(doc.issuer, path).toBe(base);
      expect(doc.token_endpoint, path).toBe(`${base}/oauth/token`);
      expect(doc.authorization_endpoint, path).toBe(`${base}/oauth/authorize`);
      expect(publiclyCacheable(res.headers['cache-control']), `${path}: ${String(res.headers['cache-control'])}`).toBe(false);
      expect(String(res.headers['vary'] ?? '').toLowerCase()).toContain('host');
    }
  });

  it('the CapabilityStatement’s SMART endpoints ignore forged forwarded headers, and it is never cached', async () => {
    const res = await raw(`${base}/fhir/metadata`, { headers: { ...FORGED, accept: 'application/fhir+json' } });
    expect(res.status).toBe(200);
    expect(res.body).not.toContain('evil.example');
    expect(res.body).toContain(`${base}/oauth/token`);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('a forged non-loopback Host is not the origin either: the address the connection reached is', async () => {
    const res = await raw(`${base}/fhir/.well-known/smart-configuration`, { headers: { ...FORGED, host: `evil.example:${port}` } });
    expect(res.status).toBe(200);
    const doc = json<{ token_endpoint: string }>(res);
    expect(doc.token_endpoint).not.toContain('evil.example');
    expect(doc.token_endpoint).toMatch(new RegExp(`^http://(127\\.0\\.0\\.1|\\[::1\\]):${port}/oauth/token$`));
  });

  it('a loopback Host is honoured, whichever loopback name the browser used', async () => {
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`]) {
      const doc = json<{ issuer: string }>(await raw(`${base}/.well-known/openid-configuration`, { headers: { host } }));
      expect(doc.issuer).toBe(`http://${host}`);
    }
  });

  it('a code authorized at one origin, exchanged with forged forwarded headers, yields a token for that origin only', async () => {
    const as = await discover(base);
    const reg: RegisteredClient = await registerSymmetricClient(base);
    const request = await buildAuthorizationRequest(as, reg.client.client_id, { scope: 'launch/patient patient/Patient.rs', aud: `${base}/fhir` });
    const { callback } = await new BrowserSession(base).authorize(request.url, { persona: `Patient/${PATIENT}` });
    const code = callback.searchParams.get('code');
    expect(code).toBeTruthy();
    const res = await raw(`${base}/oauth/token`, {
      method: 'POST',
      headers: {
        ...FORGED,
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${reg.client.client_id}:${reg.secret ?? ''}`).toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: code ?? '',
        redirect_uri: APP_REDIRECT_URI,
        code_verifier: request.verifier,
      }).toString(),
    });
    expect(res.status, res.body).toBe(200);
    const claims = decodeJwt(json<{ access_token: string }>(res).access_token);
    expect(claims.aud).toBe(`${base}/fhir`);
    expect(claims.iss).toBe(base);
  });

  it('a forged X-Forwarded-For changes neither the audited address nor the rate-limit counter', async () => {
    await startInFreshWindow(WINDOW, 60);
    const forgedAddresses = Array.from({ length: REGISTER_LIMIT + 1 }, (_, i) => `203.0.113.${100 + i}`);
    const statuses: number[] = [];
    for (const ip of forgedAddresses) {
      const res = await raw(`${base}/oauth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': `${ip}, 198.51.100.1` },
        body: JSON.stringify(registration()),
      });
      statuses.push(res.status);
    }
    // Every request came from this machine: one counter, so the last one is over the limit
    // (one registration was spent by the test above).
    expect(statuses.at(-1)).toBe(429);
    const rows = await auditWhere(server.db, { endpoint: '/oauth/register' }, REGISTER_LIMIT + 2);
    expect(rows.length).toBeGreaterThanOrEqual(REGISTER_LIMIT + 1);
    for (const row of rows) expect(row.ip).toMatch(/^(127\.0\.0\.1|::1)$/);
    const keys = (await server.db.rateLimitWindow.findMany({ where: { key: { startsWith: 'register-ip:' } } })).map((w) => w.key);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(key).toMatch(/^register-ip:(127\.0\.0\.1|::1)$/);
  });
});

describe('with TRUST_PROXY=1, a proxy’s forwarded headers are honoured', () => {
  let server: OwnServer;
  let base: string;

  beforeAll(async () => {
    server = await startOwnServer('trustproxy', { TRUST_PROXY: '1' });
    base = server.url;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('discovery advertises the forwarded origin, varies on it and is not publicly cacheable', async () => {
    const res = await raw(`${base}/fhir/.well-known/smart-configuration`, {
      headers: { 'x-forwarded-host': 'sandbox.example.org', 'x-forwarded-proto': 'https' },
    });
    expect(res.status).toBe(200);
    expect(json<{ token_endpoint: string }>(res).token_endpoint).toBe('https://sandbox.example.org/oauth/token');
    expect(publiclyCacheable(res.headers['cache-control'])).toBe(false);
    expect(String(res.headers['vary']).toLowerCase()).toContain('x-forwarded-host');
  });

  it('the client address is the one the proxy appended, in the audit record and the rate-limit key alike', async () => {
    const res = await raw(`${base}/oauth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '192.0.2.200, 203.0.113.7' },
      body: JSON.stringify(registration()),
    });
    expect(res.status, res.body).toBe(201);
    const rows = await auditWhere(server.db, { endpoint: '/oauth/register', ip: '203.0.113.7' }, 1);
    expect(rows).toHaveLength(1);
    expect(await server.db.rateLimitWindow.count({ where: { key: 'register-ip:203.0.113.7' } })).toBe(1);
    expect(await server.db.rateLimitWindow.count({ where: { key: 'register-ip:192.0.2.200' } })).toBe(0);
  });
});

describe('HTTPS_ONLY=1 (a sandbox on a shared host)', () => {
  let server: OwnServer;
  let base: string;
  const ORIGIN = 'https://sandbox.example.test';

  beforeAll(async () => {
    server = await startOwnServer('httpsonly', { HTTPS_ONLY: '1', PUBLIC_ORIGIN: ORIGIN });
    base = server.url;
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function register(metadata: Record<string, unknown>): Promise<{ status: number; error?: string; error_description?: string }> {
    const res = await raw(`${base}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata) });
    return { status: res.status, ...json<{ error?: string; error_description?: string }>(res) };
  }

  it('discovery names PUBLIC_ORIGIN whatever the headers, and only then may be cached publicly', async () => {
    const res = await raw(`${base}/fhir/.well-known/smart-configuration`, { headers: FORGED });
    expect(json<{ token_endpoint: string }>(res).token_endpoint).toBe(`${ORIGIN}/oauth/token`);
    expect(publiclyCacheable(res.headers['cache-control'])).toBe(true);
  });

  it('refuses plain-http redirect URIs (400 invalid_redirect_uri, RFC 7591 §3.2.2) except a native app’s loopback IP', async () => {
    for (const uri of ['http://localhost:9/callback', 'http://app.example.org/callback']) {
      const refused = await register(registration({ redirect_uris: [uri] }));
      expect(refused.status, uri).toBe(400);
      expect(refused.error, uri).toBe('invalid_redirect_uri');
      expect(refused.error_description).toContain('HTTPS_ONLY');
    }
    expect((await register(registration({ redirect_uris: ['http://127.0.0.1:9/callback'] }))).status).toBe(201);
    expect((await register(registration({ redirect_uris: ['https://app.example.org/callback'] }))).status).toBe(201);
  });

  it('refuses a jwks_uri that is http or loopback (400 invalid_client_metadata)', async () => {
    const asymmetric = (jwksUri: string) => registration({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: jwksUri });
    for (const uri of ['http://127.0.0.1:9/jwks.json', 'http://app.example.org/jwks.json', 'https://localhost:9/jwks.json']) {
      const refused = await register(asymmetric(uri));
      expect(refused.status, uri).toBe(400);
      expect(refused.error, uri).toBe('invalid_client_metadata');
      expect(refused.error_description).toContain('jwks_uri');
    }
    expect((await register(asymmetric('https://app.example.org/jwks.json'))).status).toBe(201);
  });
});
