import { describe, expect, it } from 'vitest';
import { escapeHtml, html, htmlPage, INTERACTION_CSP, seeOther } from './html';

const HOSTILE = `<script>alert("pwned")</script> Robert');DROP TABLE Patient;-- O'Brien & <b>Sons</b>`;

describe('html', () => {
  it('escapes interpolated values, including attribute quotes', () => {
    const out = html`<p title="${HOSTILE}">${HOSTILE}</p>`.value;
    expect(out).not.toContain('<script>');
    expect(out).not.toContain('<b>');
    expect(out).toContain('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;');
    expect(out).toContain('O&#39;Brien &amp; &lt;b&gt;Sons&lt;/b&gt;');
  });

  it('passes nested fragments and arrays through, escaping their values once', () => {
    const items = ['<a>', 'b&c'].map((x) => html`<li>${x}</li>`);
    expect(html`<ul>${items}</ul>`.value).toBe('<ul><li>&lt;a&gt;</li><li>b&amp;c</li></ul>');
    expect(escapeHtml('`')).toBe('&#96;');
  });

  it('pages may only be framed by our own origin and are never cached', async () => {
    const res = htmlPage(html`<h1>${HOSTILE}</h1>`, { title: HOSTILE });
    expect(res.headers.get('content-security-policy')).toBe(INTERACTION_CSP);
    expect(INTERACTION_CSP).toContain("frame-ancestors 'self'");
    expect(INTERACTION_CSP).toContain("default-src 'none'");
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await res.text();
    expect(body).not.toContain('<script>');
  });

  it('redirects after POST with 303', () => {
    const res = seeOther('https://app.example/cb?code=1', ['a=b; Path=/']);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('https://app.example/cb?code=1');
    expect(res.headers.get('set-cookie')).toBe('a=b; Path=/');
  });
});
