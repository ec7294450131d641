// HTTPS (issue 8 §3): `npm start -- --https` serves the built app over https on localhost with a
// generated local CA, and a deployment behind a TLS-terminating proxy (PUBLIC_ORIGIN=https://…)
// gets the https-only protections. Both run as real servers; requests trust only the generated CA.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as oauth from 'oauth4webapi';
import { BrowserSession } from '../integration/support/browserless';
import { buildAuthorizationRequest, registerPublicClient } from '../integration/support/smart-client';
// @ts-expect-error plain ESM helper without types
import { freePort, prepareDatabase, startServer } from '../../scripts/lib/test-server.mjs';
// @ts-expect-error plain ESM helper without types
import { planHttps } from '../../scripts/lib/https-server.mjs';
// @ts-expect-error plain ESM helper without types
import { root } from '../../scripts/prisma-schemas.mjs';

interface HttpsPlan {
  origin: string;
  tls: { caCert: string; caKey: string; cert: string; key: string; created: boolean };
  env: Record<string, string>;
  args: string[];
}

const realFetch = globalThis.fetch;
const dir = mkdtempSync(join(tmpdir(), 'sandbox-https-'));
const databaseUrl = `file:${join(dir, 'https.db')}`;
const ACCOUNT = { CONSOLE_USER: 'teacher', CONSOLE_PASSWORD: 'https-test-password' };
let plan: HttpsPlan;
let ca: Buffer;
let child: ChildProcess | null = null;
let output = '';
let proxied: { url: string; stop(): Promise<void> } | null = null;

/** A fetch that speaks https trusting only `caCert` (Node's own fetch cannot take a CA). */
function fetchTrusting(caCert: Buffer | null): typeof fetch {
  return async (input, init = {}) => {
    const request = input instanceof Request ? input : null;
    const url = new URL(request ? request.url : String(input));
    if (url.protocol !== 'https:') return realFetch(input, init);
    const headers = new Headers(request?.headers);
    new Headers(init.headers).forEach((value, name) => headers.set(name, value));
    const method = init.method ?? request?.method ?? 'GET';
    let body: string | Buffer | undefined;
    if (typeof init.body === 'string') body = init.body;
    else if (init.body instanceof URLSearchParams) {
      body = init.body.toString();
      if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded;charset=UTF-8');
    } else if (init.body) throw new Error('unsupported body type in test fetch');
    else if (request && method !== 'GET' && method !== 'HEAD') body = Buffer.from(await request.arrayBuffer());
    return new Promise<Response>((resolve, reject) => {
      const req = httpsRequest(url, { method, headers: Object.fromEntries(headers), ...(caCert ? { ca: caCert } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const out = new Headers();
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) out.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
          const status = res.statusCode ?? 500;
          const empty = method === 'HEAD' || status === 204 || status === 304;
          resolve(new Response(empty ? null : Buffer.concat(chunks), { status, headers: out }));
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  };
}

/** Attributes of each Set-Cookie line by cookie name. */
function cookieAttributes(res: Response): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const line of res.headers.getSetCookie()) {
    const [pair = '', ...attrs] = line.split(';');
    const map = new Map<string, string>();
    for (const a of attrs) {
      const eq = a.indexOf('=');
      map.set((eq < 0 ? a : a.slice(0, eq)).trim().toLowerCase(), eq < 0 ? '' : a.slice(eq + 1).trim());
    }
    out.set(pair.slice(0, pair.indexOf('=')).trim(), map);
  }
  return out;
}

/** Every cookie Secure, HttpOnly, SameSite=Lax, and carrying the prefix its scope allows. */
function expectSecureCookies(res: Response, what: string): string[] {
  const cookies = cookieAttributes(res);
  expect(cookies.size, `${what} sets cookies`).toBeGreaterThan(0);
  for (const [name, attrs] of cookies) {
    expect(name, `${what}: ${name} prefixed`).toMatch(/^__(Secure|Host)-/);
    expect(attrs.has('secure'), `${what}: ${name} Secure`).toBe(true);
    expect(attrs.has('httponly'), `${what}: ${name} HttpOnly`).toBe(true);
    expect(attrs.get('samesite')?.toLowerCase(), `${what}: ${name} SameSite`).toBe('lax');
    expect(attrs.has('domain'), `${what}: ${name} host-only`).toBe(false);
    if (name.startsWith('__Host-')) expect(attrs.get('path'), `${what}: ${name} Path=/`).toBe('/');
  }
  return [...cookies.keys()];
}

async function waitForHealth(url: string, fetcher: typeof fetch, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (exited()) throw new Error(`the https server exited early:\n${output}`);
    try {
      if ((await fetcher(`${url}/api/health`)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`no answer from ${url} within 90 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  prepareDatabase(databaseUrl);
  const port = (await freePort()) as number;
  // What `npm start -- --https` does (scripts/start.mjs), with the CA in a temporary directory.
  plan = planHttps({ port, env: { ...process.env, DATABASE_URL: databaseUrl, ...ACCOUNT }, tlsDir: join(dir, 'tls') }) as HttpsPlan;
  ca = readFileSync(plan.tls.caCert);
  const server = spawn(process.execPath, plan.args, { cwd: root, env: plan.env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  child = server;
  server.stdout.on('data', (d) => (output += d));
  server.stderr.on('data', (d) => (output += d));
  await waitForHealth(plan.origin, fetchTrusting(ca), () => server.exitCode !== null);
  // The production setup: TLS ends at a reverse proxy, the app itself answers plain http.
  proxied = (await startServer({ databaseUrl, env: { PUBLIC_ORIGIN: 'https://sandbox.example.test', ...ACCOUNT } })) as { url: string; stop(): Promise<void> };
  vi.stubGlobal('fetch', fetchTrusting(ca));
});

afterAll(async () => {
  vi.unstubAllGlobals();
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child?.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  await proxied?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('npm start -- --https: the app over https on localhost', () => {
  it('the public origin is https://localhost:PORT and the CA was made with a certificate for localhost, 127.0.0.1 and ::1', () => {
    expect(plan.origin).toMatch(/^https:\/\/localhost:\d+$/);
    expect(plan.env.PUBLIC_ORIGIN).toBe(plan.origin);
    expect(plan.tls.created).toBe(true);
    const text = execFileSync('openssl', ['x509', '-in', plan.tls.cert, '-noout', '-ext', 'subjectAltName']).toString();
    expect(text).toContain('DNS:localhost');
    expect(text).toContain('IP Address:127.0.0.1');
    expect(text).toMatch(/IP Address:(0:0:0:0:0:0:0:1|::1)/);
  });

  it('a second start reuses the CA (trusted once) and the certificate', () => {
    const again = planHttps({ port: 1, env: { ...process.env }, tlsDir: join(dir, 'tls') }) as HttpsPlan;
    expect(again.tls.created).toBe(false);
    expect(readFileSync(again.tls.caCert).equals(ca)).toBe(true);
  });

  it('the CA can only vouch for loopback names (name constraints)', () => {
    const key = join(dir, 'evil.key');
    const csr = join(dir, 'evil.csr');
    const crt = join(dir, 'evil.crt');
    const ext = join(dir, 'evil.ext');
    writeFileSync(ext, 'subjectAltName=DNS:evil.example\n');
    execFileSync(
      'openssl',
      ['req', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-keyout', key, '-out', csr, '-subj', '/CN=evil.example'],
      { stdio: 'ignore' },
    );
    execFileSync(
      'openssl',
      ['x509', '-req', '-in', csr, '-CA', plan.tls.caCert, '-CAkey', plan.tls.caKey, '-set_serial', '7', '-days', '1', '-extfile', ext, '-out', crt],
      { stdio: 'ignore' },
    );
    expect(() => execFileSync('openssl', ['verify', '-CAfile', plan.tls.caCert, plan.tls.cert], { stdio: 'pipe' })).not.toThrow();
    expect(() => execFileSync('openssl', ['verify', '-CAfile', plan.tls.caCert, crt], { stdio: 'pipe' })).toThrow(/permitted subtree violation/);
  });

  it('the certificate verifies against the CA under localhost, 127.0.0.1 and [::1], and not without it', async () => {
    const port = new URL(plan.origin).port;
    for (const host of ['localhost', '127.0.0.1', '[::1]']) {
      const res = await fetchTrusting(ca)(`https://${host}:${port}/api/health`);
      expect(res.status, host).toBe(200);
    }
    await expect(fetchTrusting(null)(`${plan.origin}/api/health`)).rejects.toThrow(/certificate/i);
  });

  it('discovery, issuer and FHIR base are https', async () => {
    const smart = (await (await fetch(`${plan.origin}/fhir/.well-known/smart-configuration`)).json()) as Record<string, unknown>;
    expect(smart.issuer).toBe(plan.origin);
    for (const key of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'introspection_endpoint', 'revocation_endpoint', 'registration_endpoint']) {
      expect(String(smart[key]), key).toMatch(new RegExp(`^${plan.origin}/`));
    }
    const oidc = (await (await fetch(`${plan.origin}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(oidc.issuer).toBe(plan.origin);
    const metadata = (await (await fetch(`${plan.origin}/fhir/metadata`)).json()) as { implementation?: { url?: string } };
    expect(metadata.implementation?.url).toBe(`${plan.origin}/fhir`);
  });

  it('pages carry the https origin in their CSP, and no HSTS on a loopback host', async () => {
    const res = await fetch(`${plan.origin}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain(`connect-src 'self' ${plan.origin}`);
    // HSTS is per host name, all ports: from localhost it would force https onto every
    // http://localhost app in the browser, the app under test included.
    expect(res.headers.get('strict-transport-security')).toBeNull();
  });

  it("next-auth's and the console's cookies are Secure, HttpOnly, SameSite=Lax and prefixed", async () => {
    const persona = expectSecureCookies(await fetch(`${plan.origin}/api/auth/csrf`), 'persona next-auth');
    expect(persona).toContain('__Host-next-auth.csrf-token');
    const consoleCookies = expectSecureCookies(await fetch(`${plan.origin}/api/console/auth/csrf`), 'console next-auth');
    expect(consoleCookies).toContain('__Host-sandbox-console.csrf-token');
  });

  it('the interaction binding cookie and the persona session are Secure and prefixed, and the sign-in sticks', async () => {
    const client = await registerPublicClient(plan.origin);
    const as = { issuer: plan.origin, authorization_endpoint: `${plan.origin}/oauth/authorize` } as oauth.AuthorizationServer;
    const { url } = await buildAuthorizationRequest(as, client.client.client_id, {
      scope: 'openid fhirUser launch/patient patient/Patient.rs',
      aud: `${plan.origin}/fhir`,
    });
    const browser = new BrowserSession(plan.origin);
    const redirect = await browser.request(url);
    expect(redirect.status).toBe(303);
    const page = new URL(redirect.headers.get('location') ?? '', plan.origin);
    expect(page.origin).toBe(plan.origin);
    const login = await browser.request(page);
    expect(login.status).toBe(200);
    expect(expectSecureCookies(login, 'interaction page')).toEqual(['__Secure-sandbox-interaction-binding']);
    const html = await login.text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
    const persona = /name="persona" value="(Patient\/[^"]+)"/.exec(html)?.[1] ?? '';
    expect(persona).not.toBe('');
    const signedIn = await browser.postForm(`${page.pathname}/login`, new URLSearchParams({ csrf, persona }));
    expect(signedIn.status).toBe(303);
    expect(expectSecureCookies(signedIn, 'persona sign-in')).toEqual(['__Secure-next-auth.session-token']);
    // The prefixed cookies are read back: the next screen is consent, not the sign-in again.
    const next = await browser.request(page);
    expect(next.status).toBe(200);
    const consent = await next.text();
    expect(consent).not.toContain('<h1>Sign in</h1>');
    expect(consent).toContain(`action="${page.pathname}/consent"`);
  });
});

describe('behind a TLS-terminating proxy (PUBLIC_ORIGIN=https://sandbox.example.test)', () => {
  it('pages send HSTS and discovery names the https issuer', async () => {
    const page = await realFetch(`${proxied!.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('strict-transport-security')).toBe('max-age=31536000');
    const smart = (await (await realFetch(`${proxied!.url}/fhir/.well-known/smart-configuration`)).json()) as { issuer: string; token_endpoint: string };
    expect(smart.issuer).toBe('https://sandbox.example.test');
    expect(smart.token_endpoint).toBe('https://sandbox.example.test/oauth/token');
  });

  it('cookies are Secure and prefixed there too', async () => {
    expect(expectSecureCookies(await realFetch(`${proxied!.url}/api/auth/csrf`), 'persona next-auth')).toContain('__Host-next-auth.csrf-token');
    expect(expectSecureCookies(await realFetch(`${proxied!.url}/api/console/auth/csrf`), 'console next-auth')).toContain('__Host-sandbox-console.csrf-token');
  });
});
