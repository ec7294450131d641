import { describe, expect, it } from 'vitest';
import { isCrossOriginWrite, isOversizedPageBody, pageCsp, pageKindOf, applyRouteSecurityHeaders, shouldSendHsts } from './security-headers';

const headers = (h: Record<string, string>) => new Headers(h);

describe('isCrossOriginWrite (server actions and other page POSTs)', () => {
  it('lets reads and same-origin writes through', () => {
    expect(isCrossOriginWrite('GET', headers({ origin: 'https://evil.example', host: 'localhost:3000' }))).toBe(false);
    expect(isCrossOriginWrite('POST', headers({ origin: 'http://localhost:3000', host: 'localhost:3000' }))).toBe(false);
    expect(isCrossOriginWrite('POST', headers({ origin: 'http://LOCALHOST:3000', host: 'localhost:3000' }))).toBe(false);
    // Behind a proxy the public host is in X-Forwarded-Host (first entry).
    expect(
      isCrossOriginWrite('POST', headers({ origin: 'https://sandbox.example', host: '10.0.0.5:3000', 'x-forwarded-host': 'sandbox.example, proxy.internal' })),
    ).toBe(false);
    // No Origin: not a browser, so no victim's cookies.
    expect(isCrossOriginWrite('POST', headers({ host: 'localhost:3000' }))).toBe(false);
  });

  it('refuses another port of the same host (same-site, so SameSite cookies would flow), other hosts, opaque and garbage origins', () => {
    for (const origin of ['http://localhost:8080', 'https://evil.example', 'null', 'not a url']) {
      expect(isCrossOriginWrite('POST', headers({ origin, host: 'localhost:3000' })), origin).toBe(true);
    }
    expect(isCrossOriginWrite('DELETE', headers({ origin: 'http://localhost:8080', host: 'localhost:3000' }))).toBe(true);
    expect(isCrossOriginWrite('POST', headers({ origin: 'http://localhost:3000' }))).toBe(true); // no Host to compare with
  });
});

describe('shouldSendHsts', () => {
  it('only for an https public origin on a non-loopback host', () => {
    expect(shouldSendHsts('https://sandbox.example.org')).toBe(true);
    for (const origin of [
      'http://sandbox.example.org',
      'https://localhost:3000',
      'https://127.0.0.1:3000',
      'https://127.8.9.10',
      'https://[::1]:3000',
      'garbage',
      '',
    ]) {
      expect(shouldSendHsts(origin), origin).toBe(false);
    }
  });
});

describe('page policies', () => {
  it('classifies paths', () => {
    expect(pageKindOf('/')).toBe('launcher');
    expect(pageKindOf('/l/abc')).toBe('launcher');
    expect(pageKindOf('/console')).toBe('console');
    expect(pageKindOf('/console/tokens/1')).toBe('console');
    expect(pageKindOf('/consoles')).toBe('launcher');
    expect(pageKindOf('/ehr/x')).toBe('ehr-frame');
    expect(pageKindOf('/sample-app')).toBe('sample-app');
    expect(pageKindOf('/sample-app/launch')).toBe('sample-app');
  });

  it('no eval or inline scripts in production; development adds only what next dev needs', () => {
    const prod = pageCsp('launcher', { nonce: 'n0', origin: 'http://localhost:3000', development: false });
    expect(prod).toContain("script-src 'self' 'nonce-n0' 'strict-dynamic';");
    expect(prod).not.toContain('unsafe-eval');
    expect(prod).toContain("style-src-attr 'unsafe-inline'");
    const dev = pageCsp('launcher', { nonce: 'n0', origin: 'http://localhost:3000', development: true });
    expect(dev).toContain("'unsafe-eval'");
  });

  it('a page body over 1 MiB is oversized', () => {
    expect(isOversizedPageBody(headers({ 'content-length': String(1024 * 1024) }))).toBe(false);
    expect(isOversizedPageBody(headers({ 'content-length': String(1024 * 1024 + 1) }))).toBe(true);
    expect(isOversizedPageBody(headers({}))).toBe(false);
  });
});

describe('applyRouteSecurityHeaders', () => {
  it('api: replaces what the handler chose with the API headers', () => {
    const res = applyRouteSecurityHeaders(new Response('{}', { headers: { 'x-frame-options': 'SAMEORIGIN', 'content-type': 'application/json' } }), 'api');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('content-type')).toBe('application/json');
  });

  it('own: leaves the response as the handler made it', () => {
    const res = applyRouteSecurityHeaders(new Response(null, { status: 303, headers: { location: '/x' } }), 'own');
    expect(res.headers.get('content-security-policy')).toBeNull();
  });

  it('copies a response whose headers are immutable', () => {
    const res = applyRouteSecurityHeaders(Response.redirect('http://localhost/x', 302), 'auth-page');
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('http://localhost/x');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });
});
