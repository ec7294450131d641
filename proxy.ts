import { NextResponse } from 'next/server';
import type { NextRequest } from 'next/server';
import { env } from '#lib/env';
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
 * Security headers of the React pages (launcher, console, EHR frame, sample app), with a fresh CSP
 * nonce per response: Next reads the nonce from the request's CSP header and puts it on its own
 * scripts. Before that, writes to pages (server actions) from another origin or with an oversized
 * body are refused with a clean 4xx. Nothing else happens here. Route handlers are not matched:
 * API routes get static headers from next.config.ts, and the interaction screens and
 * /oauth/authorize set their own (lib/http/security-headers.ts explains the split), so FHIR and
 * token requests never pay for a proxy run.
 */
export function proxy(request: NextRequest): NextResponse {
  if (isCrossOriginWrite(request.method, request.headers)) return refuse(403, 'Cross-origin request refused.');
  if (isOversizedPageBody(request.headers)) return refuse(413, `Request body larger than ${PAGE_MAX_BODY_BYTES} bytes.`);
  const headers = pageSecurityHeaders(pageKindOf(request.nextUrl.pathname), {
    nonce: newNonce(),
    origin: publicOrigin(request),
    development: env.NODE_ENV === 'development',
  });
  const requestHeaders = new Headers(request.headers);
  requestHeaders.set('content-security-policy', headers['content-security-policy']!);
  const response = NextResponse.next({ request: { headers: requestHeaders } });
  for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
  return response;
}

export const config = {
  matcher: [
    {
      // Everything except Next's static files and the route handlers (FHIR, OAuth, discovery, API,
      // interaction screens, the SMART style file); link prefetches carry no document to protect.
      source: '/((?!_next/static/|_next/image|favicon\\.ico$|fhir(?:/|$)|oauth(?:/|$)|\\.well-known/|api/|interaction(?:/|$)|smart-style\\.json$).*)',
      missing: [
        { type: 'header', key: 'next-router-prefetch' },
        { type: 'header', key: 'purpose', value: 'prefetch' },
      ],
    },
  ],
};
