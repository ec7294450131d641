// The API route table (lib/routes/api-routes.ts) and Next's route files (app/**/route.ts) describe the
// same routes: `npm start` answers API paths from the table without Next, `next dev` through the
// route files, so a route file that drifts from the table would make the two servers differ.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { API_ROUTES, handleApiRequest, matchApiRoute, nextRouteHandlers, splitSandboxPath } from '#lib/routes/api-routes';
import { SANDBOX_HEADER } from '#lib/sandbox/index';
import type { ApiRouteKey } from '#lib/routes/api-routes';

const root = join(import.meta.dirname, '..', '..', '..');
const appDir = join(root, 'app');

function filesNamed(dir: string, file: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return filesNamed(path, file);
    return name === file ? [path] : [];
  });
}

/** A concrete request path for a route path: one segment per dynamic segment. */
const concrete = (path: string) => path.replace(/\[\[?\.\.\.[^\]]+\]\]?/g, 'x/y').replace(/\[[^\]]+\]/g, 'x');

/** The URL path of a route file: its folder under app/, without route groups. */
function routePathOf(file: string): string {
  const segments = relative(appDir, file).split(sep).slice(0, -1);
  return `/${segments.filter((s) => !/^\(.*\)$/.test(s)).join('/')}`;
}

/** Routes Next answers on purpose: next-auth and the interaction screens (HTML with their own headers). */
const NEXT_ONLY = [
  '/api/auth/[...nextauth]',
  '/api/console/auth/[...nextauth]',
  '/interaction/[id]',
  '/interaction/[id]/consent',
  '/interaction/[id]/login',
  '/interaction/[id]/logout',
  '/interaction/unavailable',
  '/interaction/access',
  '/interaction/access/apps',
  '/interaction/access/apps/[clientId]',
  '/interaction/access/login',
  '/interaction/access/logout',
];

const files = filesNamed(appDir, 'route.ts').map((file) => ({ file, path: routePathOf(file), text: readFileSync(file, 'utf8') }));
const EXPORT_LINE = /^export const \{ GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS \} = nextRouteHandlers\('([^']+)'\);$/m;

describe('API route table and route files', () => {
  it('every route of the table has exactly one route file, at its path, exporting every method from the table', () => {
    for (const [key, route] of Object.entries(API_ROUTES)) {
      const users = files.filter((f) => EXPORT_LINE.exec(f.text)?.[1] === key);
      expect(
        users.map((f) => f.path),
        key,
      ).toEqual([route.path]);
    }
  });

  it('every other route file is one Next answers on purpose, and no table route shadows it', () => {
    const others = files.filter((f) => !EXPORT_LINE.test(f.text));
    expect(others.map((f) => f.path).sort()).toEqual([...NEXT_ONLY].sort());
    for (const f of others) {
      expect(f.text, f.path).not.toContain('nextRouteHandlers');
      expect(matchApiRoute(concrete(f.path)), f.path).toBeNull();
    }
  });

  it('no page is shadowed by a table route', () => {
    const pages = filesNamed(appDir, 'page.tsx').map(routePathOf);
    expect(pages.length).toBeGreaterThan(5);
    for (const page of pages) expect(matchApiRoute(concrete(page)), page).toBeNull();
  });

  it('every table route is reached by a request for its own path', () => {
    for (const route of Object.values(API_ROUTES)) expect(matchApiRoute(concrete(route.path)), route.path).toBe(route);
  });

  it('a route file names a key of the table', () => {
    for (const f of files) {
      const key = EXPORT_LINE.exec(f.text)?.[1];
      if (key !== undefined) expect(Object.keys(API_ROUTES), f.path).toContain(key);
    }
  });
});

describe('matchApiRoute', () => {
  it('matches static paths before the FHIR catch-all, and the catch-all with and without a rest', () => {
    expect(matchApiRoute('/fhir/.well-known/smart-configuration')).toBe(API_ROUTES['smart-configuration']);
    expect(matchApiRoute('/fhir')).toBe(API_ROUTES.fhir);
    expect(matchApiRoute('/fhir/Patient/abc')).toBe(API_ROUTES.fhir);
    expect(matchApiRoute('/oauth/token')).toBe(API_ROUTES.token);
    expect(matchApiRoute('/api/console/clients/abc/report')).toBe(API_ROUTES['console-client-report']);
    expect(matchApiRoute('/api/console/clients/abc/report/x')).toBeNull();
  });

  it('leaves pages, next-auth and paths Next normalises to Next', () => {
    for (const path of [
      '/',
      '/console',
      '/fhirx',
      '/oauth/token/',
      '/fhir/Patient/',
      '/fhir//Patient',
      '/fhir/../oauth/token',
      '/fhir/a%2Fb',
      '/api/auth/csrf',
      '/oauth',
      '/interaction/abc',
    ]) {
      expect(matchApiRoute(path), path).toBeNull();
    }
  });
});

describe('nextRouteHandlers', () => {
  const handlers = nextRouteHandlers('jwks' satisfies ApiRouteKey);

  it('answers OPTIONS with Allow and a method the route lacks with 405, with the API security headers', async () => {
    const options = await handlers.OPTIONS(new Request('http://localhost/.well-known/jwks.json', { method: 'OPTIONS' }));
    expect(options.status).toBe(204);
    expect(options.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    const post = await handlers.POST(new Request('http://localhost/.well-known/jwks.json', { method: 'POST' }));
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    expect(post.headers.get('x-content-type-options')).toBe('nosniff');
    expect(post.headers.get('x-frame-options')).toBe('DENY');
  });
});

describe('sandbox prefix', () => {
  it('splits /s/{id}/… into the sandbox and the path the route table knows', () => {
    expect(splitSandboxPath('/s/abc/fhir/Patient')).toEqual({ sandboxId: 'abc', path: '/fhir/Patient' });
    expect(splitSandboxPath('/s/abc')).toEqual({ sandboxId: 'abc', path: '/' });
    expect(splitSandboxPath('/s//fhir')).toBeNull();
    expect(splitSandboxPath('/fhir/Patient')).toBeNull();
    expect(splitSandboxPath('/sample-app')).toBeNull();
  });

  it('answers an unknown sandbox with 404 in the protocol’s shape, without running the handler', async () => {
    const fhir = await handleApiRequest(API_ROUTES.fhir, new Request('http://localhost/fhir/Patient'), 'no-such-sandbox');
    expect(fhir.status).toBe(404);
    expect(fhir.headers.get('content-type')).toContain('application/fhir+json');
    expect(await fhir.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'not-found' }] });
    const token = await handleApiRequest(API_ROUTES.token, new Request('http://localhost/oauth/token', { method: 'POST' }), 'default');
    expect(token.status).toBe(404);
    expect(await token.json()).toMatchObject({ error: 'invalid_request' });
    expect(token.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('a route file takes the sandbox from the header proxy.ts sets, and refuses one it cannot serve', async () => {
    const handlers = nextRouteHandlers('jwks' satisfies ApiRouteKey);
    const res = await handlers.GET(new Request('http://localhost/.well-known/jwks.json', { headers: { [SANDBOX_HEADER]: 'no-such-sandbox' } }));
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });
});
