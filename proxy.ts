import { NextResponse } from 'next/server';
import type { NextRequest } from 'next/server';
import { env } from '#lib/env';
import { SANDBOX_HEADER, splitSandboxPath } from '#lib/sandbox/index';
import { publicOrigin } from '#lib/http/origin';
import {
  API_SECURITY_HEADERS,
  PAGE_MAX_BODY_BYTES,
  isCrossOriginWrite,
  isOversizedPageBody,
  newNonce,
  pageKindOf,
  pageSecurityHeaders,
} from '#lib/http/security-headers';

function refuse(status: number, message: string): NextResponse {
  return new NextResponse(`${message}\n`, {
    status,
    headers: { ...API_SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
  });
}

/**
 * Paths Next answers with a React page. Everything else that reaches this proxy is a route handler
 * (FHIR, OAuth, discovery, API, interaction screens, the SMART style file): those set their own
 * headers (lib/http/security-headers.ts explains the split) and get nothing from here but the
 * sandbox rewrite below.
 */
const PAGE_PATH = /^\/(?!fhir(?:\/|$)|oauth(?:\/|$)|\.well-known\/|api\/|interaction(?:\/|$)|smart-style\.json$)/;

/**
 * Two jobs. (1) The sandbox: a request for `/s/{id}/X` is rewritten to `/X` with the sandbox id in
 * the `x-smart-sandbox` request header, which is first deleted from EVERY request, so a client can
 * never name a sandbox but through the path (lib/sandbox/context.ts `sandboxOfHeaders` is its one
 * reader; route handlers resolve it, an unknown sandbox gets the protocol's 404). Under `npm start`
 * the API fast path does the same for API routes before Next sees them (scripts/lib/app-server.mjs).
 * (2) Security headers of the React pages (launcher, console, EHR frame, sample app), with a fresh
 * CSP nonce per response: Next reads the nonce from the request's CSP header and puts it on its own
 * scripts. Before that, writes to pages (server actions) from another origin or with an oversized
 * body are refused with a clean 4xx. Link prefetches carry no document to protect.
 */
export function proxy(request: NextRequest): NextResponse {
  const requestHeaders = new Headers(request.headers);
  requestHeaders.delete(SANDBOX_HEADER);
  let pathname = request.nextUrl.pathname;
  let rewrite: URL | null = null;
  const inSandbox = splitSandboxPath(pathname);
  if (inSandbox) {
    requestHeaders.set(SANDBOX_HEADER, inSandbox.sandboxId);
    pathname = inSandbox.path;
    rewrite = request.nextUrl.clone();
    rewrite.pathname = pathname;
  }
  const prefetch = request.headers.get('next-router-prefetch') !== null || request.headers.get('purpose') === 'prefetch';
  const page = PAGE_PATH.test(pathname) && !prefetch;
  if (page && isCrossOriginWrite(request.method, request.headers)) return refuse(403, 'Cross-origin request refused.');
  if (page && isOversizedPageBody(request.headers)) return refuse(413, `Request body larger than ${PAGE_MAX_BODY_BYTES} bytes.`);
  const headers = page
    ? pageSecurityHeaders(pageKindOf(pathname), { nonce: newNonce(), origin: publicOrigin(request), development: env.NODE_ENV === 'development' })
    : null;
  if (headers) requestHeaders.set('content-security-policy', headers['content-security-policy']!);
  const init = { request: { headers: requestHeaders } };
  const response = rewrite ? NextResponse.rewrite(rewrite, init) : NextResponse.next(init);
  if (headers) for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
  return response;
}

export const config = {
  // Everything but Next's static files: a route handler must never see a sandbox header a client sent.
  matcher: ['/((?!_next/static/|_next/image|favicon\\.ico$).*)'],
};
