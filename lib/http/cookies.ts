import { parseCookie, stringifySetCookie } from 'cookie';

/**
 * The value of the cookie `name` in a request's `Cookie` header (RFC 6265 §5.4), percent-decoded,
 * or null. When a name appears twice the first one counts: browsers send the cookie with the
 * longest path first, which is the one set for the screen that reads it.
 */
export function readCookie(header: string | null | undefined, name: string): string | null {
  if (!header) return null;
  return parseCookie(header)[name] ?? null;
}

export interface CookieAttributes {
  readonly path: string;
  /** Seconds; omitted for a cookie that lasts as long as the browser session. */
  readonly maxAge?: number;
  readonly secure: boolean;
}

/**
 * A `Set-Cookie` value for a cookie the sandbox keeps away from scripts and from cross-site
 * requests: HttpOnly, SameSite=Lax, and Secure behind https (RFC 6265bis §4.1.2).
 */
export function serverCookie(name: string, value: string, attributes: CookieAttributes): string {
  return stringifySetCookie({ name, value, path: attributes.path, maxAge: attributes.maxAge, httpOnly: true, sameSite: 'lax', secure: attributes.secure });
}
