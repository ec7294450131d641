/**
 * The sandbox's HTTP security headers, in one place. Three surfaces:
 *
 * - React pages (launcher, console, EHR frame, sample app): a per-request nonce CSP and the rest,
 *   set by proxy.ts (`pageSecurityHeaders`).
 * - Route handlers that answer JSON or plain data (FHIR, OAuth token/introspect/revoke/register,
 *   discovery, JWKS, health, console API) and next-auth's own pages: static headers set on the
 *   response by `applyRouteSecurityHeaders`, called by the API route table (lib/routes/api-routes.ts)
 *   whether Next or the API fast path of `npm start` runs the handler, so the FHIR and token hot
 *   paths never run the proxy and both servers answer with the same headers.
 * - The interaction screens (/interaction/…) and /oauth/authorize set their own complete headers
 *   (lib/http/html.tsx, lib/oauth/errors.ts) and are left out of both, because headers set before
 *   a route handler runs win over the handler's own.
 *
 * Framework-free and import-free: next.config.ts loads this file before anything else exists.
 */
import { isLoopbackHost } from './loopback';

/** The kinds of React page, each with its own framing rules. */
export type PageKind = 'launcher' | 'console' | 'ehr-frame' | 'sample-app';

/** Which page kind a pathname belongs to (unknown paths, e.g. 404s, count as the launcher). */
export function pageKindOf(pathname: string): PageKind {
  if (pathname === '/console' || pathname.startsWith('/console/')) return 'console';
  if (pathname.startsWith('/ehr/')) return 'ehr-frame';
  if (pathname === '/sample-app' || pathname.startsWith('/sample-app/')) return 'sample-app';
  return 'launcher';
}

/** What a page's policy depends on. */
export interface PagePolicyInput {
  /** Fresh random value for this response only. */
  readonly nonce: string;
  /** Public origin of the sandbox (PUBLIC_ORIGIN or the request's own), without a trailing slash. */
  readonly origin: string;
  /** `next dev` needs eval for React's error overlays and injects unhashed styles. */
  readonly development: boolean;
}

/** A random CSP nonce (128 bits, base64). */
export function newNonce(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/**
 * The CSP of a React page. Scripts run only with this response's nonce ('strict-dynamic' lets
 * Next's nonce'd bootstrap load its own chunks); styles come from our own files or carry the
 * nonce, except `style` attributes (React `style={…}` props), which a nonce cannot cover.
 * `frame-ancestors`: the sample app may be framed by our EHR frame only; nothing else is ever
 * framed (RFC 9700 §4.16). `frame-src`: only the EHR frame embeds anything — the app under test,
 * which may live on any origin. `connect-src` names the public origin too, because fhirclient talks
 * to the `iss` it was launched with, which is that origin even when the page was opened under
 * another host name. No `upgrade-insecure-requests`: apps under test often run on http://localhost.
 */
export function pageCsp(kind: PageKind, input: PagePolicyInput): string {
  const nonce = `'nonce-${input.nonce}'`;
  const self = input.origin ? `'self' ${input.origin}` : "'self'";
  const directives = [
    "default-src 'self'",
    `script-src 'self' ${nonce} 'strict-dynamic'${input.development ? " 'unsafe-eval'" : ''}`,
    input.development ? "style-src 'self' 'unsafe-inline'" : `style-src 'self' ${nonce}`,
    ...(input.development ? [] : [`style-src-elem 'self' ${nonce}`, "style-src-attr 'unsafe-inline'"]),
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src ${self}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-src ${kind === 'ehr-frame' ? 'http: https:' : "'none'"}`,
    "worker-src 'none'",
    "manifest-src 'self'",
    `frame-ancestors ${kind === 'sample-app' ? "'self'" : "'none'"}`,
  ];
  return directives.join('; ');
}

/**
 * One year, without includeSubDomains or preload: the sandbox cannot speak for its parent
 * domain's other hosts.
 */
export const HSTS_VALUE = 'max-age=31536000';

/**
 * Whether responses carry Strict-Transport-Security: only when the public origin is https, and
 * never for a loopback host. Browsers apply HSTS to a host name on every port (RFC 6797 §8.3
 * ignores the port), so HSTS from https://localhost:3000 would force https onto every other
 * http://localhost app in that browser — typically the very app under test — for a year.
 */
export function shouldSendHsts(origin: string): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return url.protocol === 'https:' && !isLoopbackHost(url.hostname);
}

/**
 * Every header of a React page response. Referrer-Policy `same-origin`: cross-origin requests
 * get no Referer at all, so a page whose URL holds a code or state (the sample app's redirect
 * URI) cannot leak it (RFC 9700 §4.2.4); `no-referrer` would be as safe outward but makes
 * browsers send `Origin: null` on our own POSTs, which Next refuses for server actions.
 * COOP `same-origin-allow-popups`: no cross-origin window keeps a handle on these pages, while
 * popups an app opens from the EHR frame (popup-based sign-in) keep their opener.
 */
export function pageSecurityHeaders(kind: PageKind, input: PagePolicyInput): Record<string, string> {
  const headers: Record<string, string> = {
    'content-security-policy': pageCsp(kind, input),
    'x-frame-options': kind === 'sample-app' ? 'SAMEORIGIN' : 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
    'cross-origin-opener-policy': kind === 'console' ? 'same-origin' : 'same-origin-allow-popups',
  };
  if (shouldSendHsts(input.origin)) headers['strict-transport-security'] = HSTS_VALUE;
  return headers;
}

/**
 * True for a state-changing request to a page (a server action POST) sent by another origin.
 * The same rule Next applies to server actions (Origin host against X-Forwarded-Host or Host),
 * answered with a clean 403 before the action is even decoded. SameSite cookies do not help
 * here: an app under test on http://localhost:8080 is same-site with the sandbox on
 * http://localhost:3000, so only the Origin check separates them. Requests without Origin come
 * from non-browser clients, which carry no victim's cookies.
 */
export function isCrossOriginWrite(method: string, headers: { get(name: string): string | null }): boolean {
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return false;
  const origin = headers.get('origin');
  if (origin === null) return false;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return true; // `null` (sandboxed frames, opaque origins) or garbage
  }
  const forwarded = headers.get('x-forwarded-host')?.split(',')[0]?.trim();
  const host = forwarded || headers.get('host');
  return !host || originHost.toLowerCase() !== host.toLowerCase();
}

/**
 * Largest request body a page accepts (server action arguments and forms). The same as Next's
 * server-action limit, which otherwise answers a larger body with a 500; refused here with 413.
 */
export const PAGE_MAX_BODY_BYTES = 1024 * 1024;

/** True when a request declares a body larger than PAGE_MAX_BODY_BYTES. */
export function isOversizedPageBody(headers: { get(name: string): string | null }): boolean {
  const declared = headers.get('content-length');
  return declared !== null && Number(declared) > PAGE_MAX_BODY_BYTES;
}

/**
 * Headers of JSON and data endpoints (OWASP REST security: nosniff, no framing, nothing to run).
 * `form-action` is not set: these responses are never documents with forms.
 */
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/** next-auth's own HTML pages (sign-in, sign-out, error): inline styles, forms to ourselves, no scripts. */
export const AUTH_PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
};

/**
 * Which security headers a route handler's responses get: `api` (JSON and data endpoints),
 * `auth-page` (next-auth's own pages) or `own` (the handler sets complete headers itself:
 * /oauth/authorize, whose errors may be HTML pages, lib/oauth/errors.ts).
 */
export type RouteHeaderKind = 'api' | 'auth-page' | 'own';

const ROUTE_HEADERS: Readonly<Record<Exclude<RouteHeaderKind, 'own'>, Readonly<Record<string, string>>>> = {
  api: API_SECURITY_HEADERS,
  'auth-page': AUTH_PAGE_SECURITY_HEADERS,
};

/**
 * The one place the security headers of route handler responses are set, whichever server runs
 * the handler (Next's route files or the API fast path of `npm start`). They replace any value
 * the handler chose, so no endpoint can weaken them by accident.
 */
export function applyRouteSecurityHeaders(response: Response, kind: RouteHeaderKind): Response {
  if (kind === 'own') return response;
  const headers = ROUTE_HEADERS[kind];
  try {
    for (const name in headers) response.headers.set(name, headers[name]!);
    return response;
  } catch {
    // Responses with immutable headers (Response.redirect, Response.error) are copied first.
    const copy = new Response(response.body, response);
    for (const name in headers) copy.headers.set(name, headers[name]!);
    return copy;
  }
}

/** A next.config `headers()` rule. */
export interface HeaderRule {
  source: string;
  headers: { key: string; value: string }[];
}

/**
 * The next.config `headers()` rules: only Next's own static files (nosniff), which no route
 * handler serves. Route handlers get theirs from applyRouteSecurityHeaders, pages from proxy.ts.
 */
export function staticFileHeaderRules(): HeaderRule[] {
  return [{ source: '/_next/static/:path*', headers: [{ key: 'x-content-type-options', value: 'nosniff' }] }];
}
