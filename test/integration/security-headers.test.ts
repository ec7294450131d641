// HTTP hardening over real HTTP against the built app (issue 8 §3): security headers on every
// kind of page and endpoint, no CORS on /oauth/authorize, cookie attributes, cross-origin writes
// to pages refused, request size limits. The https side (HSTS, Secure and prefixed cookies) is
// test/resilience/https.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, expect, inject, beforeAll } from 'vitest';
import { BrowserSession } from './support/browserless';
import { launchConfig } from '../../lib/launcher/launch-config';
import { serverLib } from './support/ehr-launch';
import { APP_REDIRECT_URI, buildAuthorizationRequest, discover, registerPublicClient, registerSymmetricClient, systemToken } from './support/smart-client';
import type { RegisteredClient } from './support/smart-client';

const base = inject('baseUrl');
const databaseUrl = inject('databaseUrl');
const PATIENT = 'pat-42-0';
const PRACTITIONER = 'Practitioner/practitioner-1';
/** Another origin on the same host: same-site with the sandbox, so SameSite cookies would still flow. */
const SAME_SITE_OTHER_ORIGIN = 'http://localhost:8123';

/** The value of one CSP directive, or null. */
function directive(csp: string | null, name: string): string | null {
  for (const part of (csp ?? '').split(';')) {
    const [key, ...rest] = part.trim().split(/\s+/);
    if (key === name) return rest.join(' ');
  }
  return null;
}

function nonceOf(csp: string | null): string {
  const nonce = /'nonce-([A-Za-z0-9+/=]+)'/.exec(directive(csp, 'script-src') ?? '')?.[1];
  if (!nonce) throw new Error(`no nonce in script-src: ${csp}`);
  return nonce;
}

/** Attributes of each Set-Cookie line, lower-cased names, keyed by cookie name. */
function setCookies(res: Response): Map<string, { attrs: Map<string, string>; raw: string }> {
  const out = new Map<string, { attrs: Map<string, string>; raw: string }>();
  for (const line of res.headers.getSetCookie()) {
    const [pair = '', ...attrs] = line.split(';');
    const name = pair.slice(0, pair.indexOf('=')).trim();
    const map = new Map<string, string>();
    for (const a of attrs) {
      const eq = a.indexOf('=');
      map.set((eq < 0 ? a : a.slice(0, eq)).trim().toLowerCase(), eq < 0 ? '' : a.slice(eq + 1).trim());
    }
    out.set(name, { attrs: map, raw: line });
  }
  return out;
}

function expectHttpOnlyLax(res: Response, what: string): void {
  const cookies = setCookies(res);
  expect(cookies.size, `${what} sets cookies`).toBeGreaterThan(0);
  for (const [name, { attrs, raw }] of cookies) {
    expect(attrs.has('httponly'), `${name} HttpOnly: ${raw}`).toBe(true);
    expect(attrs.get('samesite')?.toLowerCase(), `${name} SameSite: ${raw}`).toBe('lax');
    // Served over http here: Secure would make the browser drop them.
    expect(attrs.has('secure'), `${name} not Secure over http: ${raw}`).toBe(false);
  }
}

async function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(new URL(path, base), { redirect: 'manual', headers });
}

describe('React pages: per-request nonce CSP, framing rules, referrer policy', () => {
  const pages: { path: string; frameAncestors: string; xfo: string; coop: string; status: number }[] = [
    { path: '/', frameAncestors: "'none'", xfo: 'DENY', coop: 'same-origin-allow-popups', status: 200 },
    { path: '/console/login', frameAncestors: "'none'", xfo: 'DENY', coop: 'same-origin', status: 200 },
    { path: '/console', frameAncestors: "'none'", xfo: 'DENY', coop: 'same-origin', status: 307 },
    { path: '/sample-app', frameAncestors: "'self'", xfo: 'SAMEORIGIN', coop: 'same-origin-allow-popups', status: 200 },
    { path: '/sample-app/launch', frameAncestors: "'self'", xfo: 'SAMEORIGIN', coop: 'same-origin-allow-popups', status: 200 },
    { path: '/no-such-page', frameAncestors: "'none'", xfo: 'DENY', coop: 'same-origin-allow-popups', status: 404 },
  ];

  it.each(pages)('$path', async ({ path, frameAncestors, xfo, coop, status }) => {
    const res = await get(path);
    expect(res.status).toBe(status);
    const csp = res.headers.get('content-security-policy');
    const scriptSrc = directive(csp, 'script-src') ?? '';
    expect(scriptSrc).toContain("'strict-dynamic'");
    expect(scriptSrc).not.toContain("'unsafe-inline'");
    expect(scriptSrc).not.toContain("'unsafe-eval'");
    expect(directive(csp, 'object-src')).toBe("'none'");
    expect(directive(csp, 'base-uri')).toBe("'none'");
    expect(directive(csp, 'frame-src')).toBe("'none'");
    expect(directive(csp, 'frame-ancestors')).toBe(frameAncestors);
    expect(res.headers.get('x-frame-options')).toBe(xfo);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('same-origin');
    expect(res.headers.get('cross-origin-opener-policy')).toBe(coop);
    expect(res.headers.get('strict-transport-security')).toBeNull(); // http://localhost
    if (status === 200) {
      // Next put this response's nonce on every script it rendered, so they run under the CSP.
      const nonce = nonceOf(csp);
      const html = await res.text();
      const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
      expect(scripts.length).toBeGreaterThan(0);
      for (const tag of scripts) expect(tag).toContain(`nonce="${nonce}"`);
    }
  });

  it('every response gets a fresh nonce', async () => {
    const nonces = new Set<string>();
    for (let i = 0; i < 3; i++) nonces.add(nonceOf((await get('/sample-app')).headers.get('content-security-policy')));
    expect(nonces.size).toBe(3);
  });

  it('the EHR frame may frame an app on any origin, and is itself never framed', async () => {
    await get('/'); // the launcher registers the sample app for this origin
    const { startLaunch } = await serverLib(databaseUrl);
    const started = await startLaunch(
      launchConfig('sample-app', { launchType: 'provider-ehr', patientIds: [PATIENT], userFhirUser: PRACTITIONER, framed: true }),
      base,
    );
    if (!started.ok || started.kind !== 'ehr' || !started.frameUrl) throw new Error(`framed launch refused: ${JSON.stringify(started)}`);
    const res = await get(started.frameUrl);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy');
    expect(directive(csp, 'frame-src')).toBe('http: https:');
    expect(directive(csp, 'frame-ancestors')).toBe("'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('same-origin');
    expect(await res.text()).toMatch(/<iframe[^>]*class="ehr-app"/);
  });

  it('the sample app launches on the origin the launcher is used from (e.g. https after http, another host name)', async () => {
    const other = base.replace('//localhost:', '//127.0.0.1:');
    expect(other).not.toBe(base);
    await get('/'); // registers the sample app's URLs on this origin first…
    expect((await fetch(`${other}/`)).status).toBe(200); // …then on the other one
    const { startLaunch } = await serverLib(databaseUrl);
    for (const origin of [other, base]) {
      const started = await startLaunch(
        launchConfig('sample-app', { launchType: 'provider-ehr', patientIds: [PATIENT], userFhirUser: PRACTITIONER, framed: true }),
        origin,
      );
      if (!started.ok || started.kind !== 'ehr') throw new Error(`launch refused: ${JSON.stringify(started)}`);
      expect(started.appUrl.startsWith(`${origin}/sample-app/launch?`), started.appUrl).toBe(true);
    }
  });
});

describe('route handlers: nosniff, never framed, no referrer', () => {
  let client: RegisteredClient;
  beforeAll(async () => {
    client = await registerSymmetricClient(base);
  });
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const endpoints: { name: string; request: () => Promise<Response>; status: number }[] = [
    { name: 'GET /fhir/metadata', request: () => get('/fhir/metadata'), status: 200 },
    { name: 'GET /fhir/Patient without a token', request: () => get('/fhir/Patient'), status: 401 },
    { name: 'GET /fhir/.well-known/smart-configuration', request: () => get('/fhir/.well-known/smart-configuration'), status: 200 },
    { name: 'GET /.well-known/openid-configuration', request: () => get('/.well-known/openid-configuration'), status: 200 },
    { name: 'GET /.well-known/jwks.json', request: () => get('/.well-known/jwks.json'), status: 200 },
    {
      name: 'POST /oauth/token (bad grant)',
      request: () => fetch(`${base}/oauth/token`, { method: 'POST', headers: form, body: 'grant_type=password' }),
      status: 400,
    },
    { name: 'POST /oauth/introspect', request: () => fetch(`${base}/oauth/introspect`, { method: 'POST', headers: form, body: 'token=x' }), status: 401 },
    {
      name: 'POST /oauth/revoke',
      request: () =>
        fetch(`${base}/oauth/revoke`, {
          method: 'POST',
          headers: { ...form, authorization: `Basic ${Buffer.from(`${client.client.client_id}:${client.secret}`).toString('base64')}` },
          body: 'token=x',
        }),
      status: 200,
    },
    {
      name: 'POST /oauth/register (bad JSON)',
      request: () => fetch(`${base}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' }),
      status: 400,
    },
    { name: 'GET /api/health', request: () => get('/api/health'), status: 200 },
    { name: 'GET /api/console/audit without sign-in', request: () => get('/api/console/audit'), status: 401 },
    { name: 'GET /smart-style.json', request: () => get('/smart-style.json'), status: 200 },
  ];

  it.each(endpoints)('$name', async ({ request, status }) => {
    const res = await request();
    expect(res.status).toBe(status);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const csp = res.headers.get('content-security-policy');
    expect(directive(csp, 'default-src')).toBe("'none'");
    expect(directive(csp, 'frame-ancestors')).toBe("'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('content-type') ?? '').not.toMatch(/html/);
  });

  it('discovery stays CORS * and the FHIR API keeps echoing the caller origin', async () => {
    const discovery = await get('/fhir/.well-known/smart-configuration', { origin: 'https://app.example' });
    expect(discovery.headers.get('access-control-allow-origin')).toBe('*');
    const fhir = await get('/fhir/metadata', { origin: 'https://app.example' });
    expect(fhir.headers.get('access-control-allow-origin')).toBe('https://app.example');
  });

  it("next-auth's routes: their own CSP, never framed, cookies HttpOnly and SameSite=Lax", async () => {
    for (const path of ['/api/auth/csrf', '/api/console/auth/csrf']) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      const csp = res.headers.get('content-security-policy');
      expect(directive(csp, 'default-src'), path).toBe("'none'");
      expect(directive(csp, 'frame-ancestors'), path).toBe("'none'");
      expect(res.headers.get('x-frame-options'), path).toBe('DENY');
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expectHttpOnlyLax(res, path);
    }
  });
});

describe('the authorization flow: /oauth/authorize and the interaction screens', () => {
  let client: RegisteredClient;
  let appOrigin = '';
  beforeAll(async () => {
    client = await registerPublicClient(base);
    appOrigin = new URL(APP_REDIRECT_URI).origin;
  });

  async function authorizeUrl(): Promise<URL> {
    const as = await discover(base);
    return (await buildAuthorizationRequest(as, client.client.client_id, { scope: 'openid fhirUser launch/patient patient/Patient.rs', aud: `${base}/fhir` }))
      .url;
  }

  it('/oauth/authorize sends no CORS headers on GET, POST or OPTIONS, even to a registered public client origin (#51, #182)', async () => {
    const url = await authorizeUrl();
    for (const origin of [appOrigin, 'https://evil.example']) {
      const responses = [
        await fetch(url, { redirect: 'manual', headers: { origin } }),
        await fetch(`${base}/oauth/authorize`, {
          method: 'POST',
          redirect: 'manual',
          headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
          body: url.searchParams.toString(),
        }),
        await fetch(`${base}/oauth/authorize`, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
        }),
      ];
      for (const res of responses) {
        const cors = [...res.headers.keys()].filter((k) => k.startsWith('access-control-'));
        expect(cors, `${res.status} for Origin ${origin}`).toEqual([]);
      }
      expect(responses[0]!.status).toBe(303);
      expect(responses[1]!.status).toBe(303);
    }
  });

  it('/oauth/authorize keeps its own headers: never framed, no referrer, no-store', async () => {
    const res = await fetch(await authorizeUrl(), { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(directive(res.headers.get('content-security-policy'), 'frame-ancestors')).toBe("'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('the token endpoint answers CORS for the public client origin only (#66)', async () => {
    const preflight = (origin: string) =>
      fetch(`${base}/oauth/token`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
    const allowed = await preflight(appOrigin);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(appOrigin);
    expect(allowed.headers.get('access-control-allow-methods')).toContain('POST');
    expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();
    const refused = await preflight('https://evil.example');
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('interaction screens: framed by the sandbox only, their CSP untouched; binding and session cookies HttpOnly, SameSite=Lax', async () => {
    const browser = new BrowserSession(base);
    const redirect = await browser.request(await authorizeUrl());
    expect(redirect.status).toBe(303);
    const page = new URL(redirect.headers.get('location') ?? '', base);
    expect(page.pathname).toMatch(/^\/interaction\//);
    const res = await browser.request(page);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    // Exactly the screen's own policy: no second policy merged in front of it.
    expect(csp).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'self'$/);
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('same-origin');
    expectHttpOnlyLax(res, 'interaction page');
    expect([...setCookies(res).values()][0]?.attrs.get('path')).toBe('/interaction');

    const html = await res.text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
    const persona = /name="persona" value="([^"]+)"/.exec(html)?.[1] ?? '';
    expect(persona).not.toBe('');
    // From another origin (an app under test on localhost is same-site, so its cookies would flow): refused.
    const forged = await browser.request(new URL(`${page.pathname}/login`, base), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: SAME_SITE_OTHER_ORIGIN },
      body: new URLSearchParams({ csrf, persona }).toString(),
    });
    expect(forged.status).toBe(403);
    expect(forged.headers.getSetCookie()).toEqual([]);

    const signedIn = await browser.postForm(`${page.pathname}/login`, new URLSearchParams({ csrf, persona }));
    expect(signedIn.status).toBe(303);
    expectHttpOnlyLax(signedIn, 'persona sign-in');
    expect([...setCookies(signedIn).keys()]).toContain('next-auth.session-token');
  });
});

describe('cross-origin writes to pages (server actions) and request size limits', () => {
  /** The id of a server action, from the build's manifest (what the launcher page's JavaScript sends). */
  function actionId(name: string): string {
    const manifest = JSON.parse(
      readFileSync(join(process.cwd(), process.env.NEXT_DIST_DIR ?? '.next', 'server', 'server-reference-manifest.json'), 'utf8'),
    ) as {
      node: Record<string, { exportedName?: string }>;
    };
    const id = Object.entries(manifest.node).find(([, v]) => v.exportedName === name)?.[0];
    if (!id) throw new Error(`no server action ${name} in the build`);
    return id;
  }

  function registerAdHocApp(name: string, origin: string | null, bodyPadding = ''): Promise<Response> {
    const headers: Record<string, string> = {
      'next-action': actionId('registerAdHocAppAction'),
      'content-type': 'text/plain;charset=UTF-8',
      accept: 'text/x-component',
    };
    if (origin !== null) headers.origin = origin;
    const body = JSON.stringify([{ name: `${name}${bodyPadding}`, launchUrl: 'http://localhost:9/launch', redirectUri: 'http://localhost:9/callback' }]);
    return fetch(`${base}/`, { method: 'POST', headers, body, redirect: 'manual' });
  }

  async function launcherLists(name: string): Promise<boolean> {
    return (await (await get('/')).text()).includes(name);
  }

  it('a launcher server action from another origin (same-site or opaque) is refused with 403 and not run', async () => {
    const tag = `csrf-probe-${Date.now()}`;
    for (const origin of [SAME_SITE_OTHER_ORIGIN, 'https://evil.example', 'null']) {
      const res = await registerAdHocApp(`${tag}-${origin}`, origin);
      expect(res.status, origin).toBe(403);
      expect(await res.text()).toMatch(/cross-origin/i);
    }
    const own = await registerAdHocApp(`${tag}-own`, new URL(base).origin);
    expect(own.status).toBe(200);
    expect(await launcherLists(`${tag}-own`)).toBe(true);
    for (const origin of [SAME_SITE_OTHER_ORIGIN, 'https://evil.example', 'null']) expect(await launcherLists(`${tag}-${origin}`), origin).toBe(false);
  });

  it('a page POST over 1 MiB is refused with 413, not a 500', async () => {
    const res = await registerAdHocApp('big', new URL(base).origin, 'x'.repeat(1024 * 1024 + 10));
    expect(res.status).toBe(413);
  });

  it('an OAuth request body over 64 KiB is invalid_request', async () => {
    const res = await fetch(`${base}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&pad=${'x'.repeat(65 * 1024)}`,
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; error_description: string };
    expect(body).toMatchObject({ error: 'invalid_request' });
    expect(body.error_description).toMatch(/larger than/);
  });

  it('a FHIR request body over 5 MiB is a 4xx OperationOutcome', async () => {
    const token = await systemToken(base, await discover(base), 'system/Patient.cruds');
    const res = await fetch(`${base}/fhir/Patient`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        resourceType: 'Patient',
        text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(5 * 1024 * 1024 + 10)}</div>` },
      }),
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const outcome = (await res.json()) as { resourceType: string; issue: { diagnostics?: string }[] };
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0]?.diagnostics).toMatch(/larger than/);
  });
});
