import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { serverCookie } from '../http/cookies';
import { getAuthSecret } from './secret';
import { useSecureCookies } from './session';
import { currentSandbox } from '../sandbox/context';

/**
 * CSRF protection of the interaction screens' forms. A random per-browser binding cookie plus an
 * HMAC over (purpose, interaction id, binding, session id): a token is only good for one form of
 * one interaction in the browser (and sign-in) that rendered it. Checked together with the Origin
 * header (RFC 9700 §4.12 keeps these POSTs same-origin).
 */
export const BINDING_COOKIE = 'sandbox-interaction-binding';

/**
 * The binding cookie's name: `__Secure-` prefixed when served over https, so a network attacker
 * cannot plant one over http (RFC 6265bis §4.1.3.1; `__Host-` needs Path=/, this one is /interaction).
 */
export function bindingCookieName(secure: boolean = useSecureCookies()): string {
  return `${secure ? '__Secure-' : ''}${BINDING_COOKIE}`;
}

export type CsrfPurpose = 'login' | 'logout' | 'consent' | 'access';

/** A new random binding value for the cookie. */
export function newBinding(): string {
  return randomBytes(18).toString('base64url');
}

/** A `Set-Cookie` value for the binding cookie (session cookie, the sandbox's interaction paths only). */
export function bindingCookie(value: string, secure: boolean): string {
  return serverCookie(bindingCookieName(secure), value, { path: `${currentSandbox().basePath}/interaction`, secure });
}

function mac(secret: string, purpose: CsrfPurpose, interactionId: string, binding: string, sid: string): string {
  return createHmac('sha256', secret).update(`csrf\0${purpose}\0${interactionId}\0${binding}\0${sid}`).digest('base64url');
}

/** The token a form of this interaction must send back. */
export async function createCsrfToken(purpose: CsrfPurpose, interactionId: string, binding: string, sid = ''): Promise<string> {
  return mac(await getAuthSecret(), purpose, interactionId, binding, sid);
}

/** Constant-time check of a submitted token. */
export async function verifyCsrfToken(token: string, purpose: CsrfPurpose, interactionId: string, binding: string, sid = ''): Promise<boolean> {
  if (!token || !binding) return false;
  const expected = Buffer.from(mac(await getAuthSecret(), purpose, interactionId, binding, sid));
  const given = Buffer.from(token);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * True when a POST comes from our own pages: `Origin` equals ours, or (`Origin: null` or no Origin)
 * `Sec-Fetch-Site: same-origin`, or neither header at all (non-browser clients; the token still applies).
 */
export function isSameOriginPost(req: Request, origin: string): boolean {
  const from = req.headers.get('origin');
  const site = req.headers.get('sec-fetch-site');
  // Browsers send `Origin: null` under some referrer policies and sandboxed frames; Fetch Metadata still tells.
  if (from === 'null') return site === 'same-origin';
  if (from !== null) return from === origin;
  return site === null || site === 'same-origin';
}
