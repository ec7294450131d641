import { env } from '../env';

/** Public origin from request headers, for server components and actions (same rule as lib/http/origin.ts originOf). */
export function originFromHeaders(headers: { get(name: string): string | null }): string {
  if (env.PUBLIC_ORIGIN) return env.PUBLIC_ORIGIN.replace(/\/+$/, '');
  const host = headers.get('x-forwarded-host') ?? headers.get('host') ?? 'localhost:3000';
  const proto = headers.get('x-forwarded-proto') ?? 'http';
  return `${proto}://${host}`;
}
