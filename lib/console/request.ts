import { env } from '../env';

/** Public origin for a page request's headers (PUBLIC_ORIGIN wins), as lib/http/origin.ts computes it for Requests. */
export function originFromHeaders(headers: Headers): string {
  if (env.PUBLIC_ORIGIN) return env.PUBLIC_ORIGIN.replace(/\/+$/, '');
  const host = headers.get('x-forwarded-host') ?? headers.get('host') ?? 'localhost';
  const proto = headers.get('x-forwarded-proto') ?? 'http';
  return `${proto}://${host}`;
}
