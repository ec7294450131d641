import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { ReactElement, ReactNode } from 'react';

/**
 * Server-rendered HTML for the interaction screens, which are route handlers rather than Next.js
 * pages because they must carry their own response headers (CSP frame-ancestors, no-store).
 * The markup is rendered with React (`renderToStaticMarkup`), so every value a page shows (patient
 * and user names, client names, scopes) is escaped by React as text or attribute, never by hand.
 */

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
.notice{background:#ecfdf3;color:#05603a;border:1px solid #abefc6;border-radius:8px;padding:10px 14px;margin:12px 0}
.grant{border-top:1px solid var(--border);margin-top:10px;padding-top:6px}.grant code{font-size:12px;word-break:break-all}
ul.scopes{margin:4px 0;padding-left:18px}ul.scopes li{margin:3px 0}h3{font-size:15px;margin:12px 0 4px}
header{flex-wrap:wrap}header .who{flex-wrap:wrap;min-width:0}
h1,h2,h3,p,li,td,code,strong{overflow-wrap:anywhere}
.table-scroll{overflow-x:auto;max-width:100%}
@media (max-width:600px){header{padding:8px 12px}main{padding:12px}.card{padding:12px}.actions{flex-wrap:wrap}.row>*{min-width:0;max-width:100%}input,select{max-width:100%}.personas{grid-template-columns:minmax(0,1fr)}.cats label{margin-right:8px}}
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

type StaticMarkup = (node: ReactNode) => string;
let renderToStaticMarkup: StaticMarkup | undefined;

/**
 * react-dom/server, required when first used rather than imported: Next.js bundles route handlers
 * for the React Server Components environment and refuses a static import of react-dom/server
 * there (it expects pages to stream), while these responses are complete HTML strings.
 */
function staticMarkup(node: ReactNode): string {
  renderToStaticMarkup ??= (createRequire(import.meta.url)('react-dom/server') as { renderToStaticMarkup: StaticMarkup }).renderToStaticMarkup;
  return renderToStaticMarkup(node);
}

/** An HTML document: the doctype and React's static markup of `root` (an `<html>` element). */
export function renderDocument(root: ReactElement): string {
  return `<!doctype html>\n${staticMarkup(root)}`;
}

export interface PageOptions {
  readonly title: string;
  /** Header right side (who is signed in, switch user). */
  readonly header?: ReactNode;
  readonly status?: number;
  readonly setCookies?: readonly string[];
}

/** The page shell of the interaction screens: our stylesheet (its hash is in the CSP), header, main. */
function PageShell({ title, header, children }: { title: string; header?: ReactNode; children: ReactNode }): ReactElement {
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <title>{`${title} · SMART Sandbox`}</title>
        <meta name="referrer" content="same-origin" />
        <style dangerouslySetInnerHTML={{ __html: STYLE }} />
      </head>
      <body>
        <header>
          <strong>SMART Sandbox · Authorization</strong>
          <div className="who">{header}</div>
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}

/** A complete HTML page response with the interaction security headers. */
export function htmlPage(body: ReactNode, options: PageOptions): Response {
  const doc = renderDocument(
    <PageShell title={options.title} header={options.header}>
      {body}
    </PageShell>,
  );
  const headers = interactionHeaders({ 'content-type': 'text/html; charset=utf-8' });
  for (const c of options.setCookies ?? []) headers.append('set-cookie', c);
  return new Response(doc, { status: options.status ?? 200, headers });
}

/** 303 See Other (never 307 after a POST: RFC 9700 §4.12, docs/CONFORMANCE.md #51). */
export function seeOther(location: string, setCookies: readonly string[] = []): Response {
  const headers = interactionHeaders({ location });
  for (const c of setCookies) headers.append('set-cookie', c);
  return new Response(null, { status: 303, headers });
}
