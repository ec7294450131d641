import { createElement } from 'react';
import { describe, expect, it } from 'vitest';
import { htmlPage, INTERACTION_CSP, seeOther } from './html';

const HOSTILE = `<script>alert("pwned")</script> Robert');DROP TABLE Patient;-- O'Brien & <b>Sons</b>`;

describe('interaction page shell', () => {
  it('renders values as text, including the title and attribute quotes', async () => {
    const res = htmlPage(createElement('p', { title: HOSTILE }, HOSTILE), { title: HOSTILE, header: createElement('span', null, HOSTILE) });
    const body = await res.text();
    expect(body).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(body).not.toContain('<script>');
    expect(body).not.toContain('<b>');
    expect(body).toContain('<p title="&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;');
    expect(body).toContain('O&#x27;Brien &amp; &lt;b&gt;Sons&lt;/b&gt;</p>');
    expect(body).toContain('<title>&lt;script&gt;');
  });

  it('keeps the stylesheet whose hash the CSP allows, byte for byte', async () => {
    const body = await htmlPage(null, { title: 'x' }).text();
    const style = /<style>([\s\S]*?)<\/style>/.exec(body)?.[1] ?? '';
    const { createHash } = await import('node:crypto');
    expect(INTERACTION_CSP).toContain(`style-src 'sha256-${createHash('sha256').update(style).digest('base64')}'`);
  });

  it('pages may only be framed by our own origin and are never cached', async () => {
    const res = htmlPage(createElement('h1', null, HOSTILE), { title: HOSTILE, status: 403, setCookies: ['a=b; Path=/'] });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toBe(INTERACTION_CSP);
    expect(INTERACTION_CSP).toContain("frame-ancestors 'self'");
    expect(INTERACTION_CSP).toContain("default-src 'none'");
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('set-cookie')).toBe('a=b; Path=/');
  });

  it('redirects after POST with 303', () => {
    const res = seeOther('https://app.example/cb?code=1', ['a=b; Path=/']);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('https://app.example/cb?code=1');
    expect(res.headers.get('set-cookie')).toBe('a=b; Path=/');
  });
});
