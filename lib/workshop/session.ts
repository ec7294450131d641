/**
 * The attendee's session cookie: a random secret, of which the database keeps only the hash
 * (Attendee.sessionHash). It grants the attendee's own sandbox and nothing else; the personal link
 * (lib/workshop/attendees.ts) replaces it in another browser.
 */
import { readCookie, serverCookie } from '../http/cookies';
import { useSecureCookies } from '../interaction/session';
import { findAttendeeBySession, roomRefusal } from './attendees';
import type { AttendeeSession } from './attendees';

/** How long the attendee cookie lasts (a room runs at most two weeks). */
export const ATTENDEE_COOKIE_MAX_AGE_SECONDS = 15 * 24 * 3600;

/** Name of the attendee session cookie (`__Secure-` prefixed behind https). */
export function attendeeCookieName(secure: boolean = useSecureCookies()): string {
  return `${secure ? '__Secure-' : ''}sandbox-attendee`;
}

/** The Set-Cookie value that opens an attendee session in this browser. */
export function attendeeCookie(sessionSecret: string): string {
  const secure = useSecureCookies();
  return serverCookie(attendeeCookieName(secure), sessionSecret, { path: '/', maxAge: ATTENDEE_COOKIE_MAX_AGE_SECONDS, secure });
}

/** The attendee whose session cookie the request carries, with their room (open or not), or null. */
export async function readAttendeeCookie(headers: { get(name: string): string | null }): Promise<AttendeeSession | null> {
  return findAttendeeBySession(readCookie(headers.get('cookie'), attendeeCookieName()));
}

/**
 * The attendee a request may act as in sandbox `sandboxId`: their session cookie names an attendee
 * of that very sandbox whose room is open. Anything else (no cookie, a replaced one, another
 * attendee's sandbox, a closed or ended room) gives null.
 */
export async function attendeeForSandbox(headers: { get(name: string): string | null }, sandboxId: string): Promise<AttendeeSession | null> {
  const session = await readAttendeeCookie(headers);
  if (!session || session.attendee.sandboxId !== sandboxId) return null;
  return roomRefusal(session.room) ? null : session;
}

/** What a browser whose attendee cookie no longer opens a sandbox is told. */
export const STALE_SESSION_MESSAGE =
  'This browser’s workshop session is no longer valid: the personal link was opened in another browser, the room was closed or deleted. Open your personal link to continue here.';

/** True when the request carries an attendee cookie at all (valid or not). */
export function hasAttendeeCookie(headers: { get(name: string): string | null }): boolean {
  return readCookie(headers.get('cookie'), attendeeCookieName()) !== null;
}
