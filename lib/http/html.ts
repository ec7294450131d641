import { createHash } from 'node:crypto';

/**
 * Server-rendered HTML for the interaction screens, which are route handlers rather than React
 * pages because they must carry their own response headers (CSP frame-ancestors, no-store):
 * Next.js pages cannot set headers, and these concerns stay out of proxy.ts and next.config,
 * which the API fast path of `npm start` bypasses. Every interpolated value is escaped unless it is itself the output of `html`, so
 * patient and user data always render as text (the same guarantee React gives).
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c);
}

function render(value: unknown): string {
  if (value === null || value === undefined || value === false || value === true) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** Tagged template: `html\`<p>${name}</p>\`` escapes `name`; nested `html` fragments and arrays of them pass through. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return new SafeHtml(out);
}

const STYLE = `
:root{--fg:#1b1f24;--muted:#5b6470;--bg:#f6f7f9;--card:#fff;--accent:#0b5cad;--danger:#b42318;--warn-bg:#fff6e5;--warn:#8a5300;--border:#d8dde3}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#0f2740;color:#fff;padding:10px 20px;display:flex;gap:16px;align-items:center;justify-content:space-between}
header .who{color:#cfe3ff;font-size:14px;display:flex;gap:10px;align-items:center}
main{max-width:760px;margin:0 auto;padding:20px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:17px;margin:18px 0 8px}
.card{background:var(--card);border:1px solid var(--border);border-radius:8px;padding:16px 18px;margin:12px 0}
.muted{color:var(--muted)}.error{color:var(--danger)}
.warn{background:var(--warn-bg);color:var(--warn);border:1px solid #f0d29b;border-radius:8px;padding:10px 14px;margin:12px 0}
button,.button{background:var(--accent);color:#fff;border:0;border-radius:6px;padding:8px 14px;font:inherit;cursor:pointer;text-decoration:none;display:inline-block}
button.secondary,.button.secondary{background:#e9edf2;color:var(--fg)}button.danger{background:var(--danger)}
button.link{background:none;color:#cfe3ff;padding:0;text-decoration:underline}
button:focus-visible,a:focus-visible,input:focus-visible{outline:3px solid #7fb3ff;outline-offset:2px}
input,select{font:inherit;padding:6px 8px;border:1px solid var(--border);border-radius:6px}
label{display:block;margin:6px 0}
.personas{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:8px}
.persona{width:100%;text-align:left;background:#f0f5fb;color:var(--fg);border:1px solid var(--border)}
.persona strong,.persona span{display:block}.persona span{font-size:13px;color:var(--muted)}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--border);vertical-align:top}
.scope{display:flex;gap:10px;align-items:flex-start;padding:10px 0;border-bottom:1px solid var(--border)}
.scope:last-child{border-bottom:0}.scope code{font-size:12px;color:var(--muted);word-break:break-all}
.cats{margin:6px 0 0 0;padding:8px 10px;background:#f6f8fb;border-radius:6px}
.cats label{display:inline-flex;gap:6px;margin:2px 14px 2px 0}
.actions{display:flex;gap:10px;margin-top:16px}
.row{display:flex;gap:10px;flex-wrap:wrap;align-items:end}
`;

const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/**
 * The CSP of the interaction screens: no scripts at all, only our inline stylesheet, and framing
 * by our own origin only (the EHR frame), per RFC 9700 §4.16 and docs/CONFORMANCE.md #51, #158.
 * form-action is left out on purpose: Chrome applies it to the redirect after the consent POST,
 * which goes to the app's redirect_uri.
 */
export const INTERACTION_CSP = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'self'`;

/** Security headers every interaction response carries (pages, redirects, errors). */
export function interactionHeaders(extra: Record<string, string> = {}): Headers {
  const headers = new Headers({
    'content-security-policy': INTERACTION_CSP,
    'x-frame-options': 'SAMEORIGIN',
    'cache-control': 'no-store',
    pragma: 'no-cache',
    // same-origin, not no-referrer: with no-referrer Chrome sends `Origin: null` on our own form POSTs.
    'referrer-policy': 'same-origin',
    'x-content-type-options': 'nosniff',
    ...extra,
  });
  return headers;
}

export interface PageOptions {
  readonly title: string;
  /** Header right side (who is signed in, switch user). */
  readonly header?: SafeHtml;
  readonly status?: number;
  readonly setCookies?: readonly string[];
}

/** A complete HTML page response with the interaction security headers. */
export function htmlPage(body: SafeHtml, options: PageOptions): Response {
  const doc = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${options.title} · SMART Sandbox</title><meta name="referrer" content="same-origin"><style>${new SafeHtml(STYLE)}</style></head>
<body><header><strong>SMART Sandbox · Authorization</strong><div class="who">${options.header ?? ''}</div></header>
<main>${body}</main></body></html>`;
  const headers = interactionHeaders({ 'content-type': 'text/html; charset=utf-8' });
  for (const c of options.setCookies ?? []) headers.append('set-cookie', c);
  return new Response(doc.value, { status: options.status ?? 200, headers });
}

/** 303 See Other (never 307 after a POST: RFC 9700 §4.12, docs/CONFORMANCE.md #51). */
export function seeOther(location: string, setCookies: readonly string[] = []): Response {
  const headers = interactionHeaders({ location });
  for (const c of setCookies) headers.append('set-cookie', c);
  return new Response(null, { status: 303, headers });
}
