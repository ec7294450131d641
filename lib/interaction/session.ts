import { randomUUID } from 'node:crypto';
import { decode, encode } from 'next-auth/jwt';
import type { JWT } from 'next-auth/jwt';
import { env } from '../env';
import { readCookie, serverCookie } from '../http/cookies';
import { DEFAULT_SANDBOX_ID } from '../sandbox';
import { currentSandbox } from '../sandbox/context';
import { getAuthSecret } from './secret';
import { parseFhirUser } from './personas';
import type { FhirUserRef, Persona, PersonaKind } from './personas';

/** How long a persona stays signed in (next-auth session and JWT). */
export const SESSION_MAX_AGE_SECONDS = 8 * 60 * 60;

/** Who is signed in, as the interaction screens and the authorization server need it. */
export interface PersonaSession {
  readonly kind: PersonaKind;
  readonly fhirUser: FhirUserRef;
  readonly name: string;
  /** Random id of this sign-in: `online_access` refresh tokens die with it. */
  readonly sid: string;
  /** When this sign-in expires (Unix seconds), when known. */
  readonly expiresAt?: number | null;
  /** When the persona signed in (Unix seconds, to the millisecond when the sign-in recorded it), when known. */
  readonly signedInAt?: number | null;
}

/**
 * Whether session cookies carry the `__Secure-` prefix and the Secure flag. next-auth decides from
 * NEXTAUTH_URL; we pin the same answer in its options (`useSecureCookies`) so both agree.
 */
export function useSecureCookies(): boolean {
  return env.PUBLIC_ORIGIN?.startsWith('https://') ?? false;
}

/** next-auth's session cookie name. */
export function sessionCookieName(secure: boolean = useSecureCookies()): string {
  return `${secure ? '__Secure-' : ''}next-auth.session-token`;
}

/**
 * The path of the sign-in cookie: the whole origin for the default sandbox, the sandbox's prefix for
 * any other, so that signing in or out in one sandbox leaves the others' sign-ins alone (a browser
 * sends the longer path's cookie first, RFC 6265 §5.4).
 */
function sessionCookiePath(): string {
  return `${currentSandbox().basePath}/`;
}

/** The persona claims next-auth's jwt callback puts in the token (see lib/interaction/options.ts). */
export function toPersonaSession(token: JWT | null): PersonaSession | null {
  if (!token) return null;
  // A sign-in belongs to the sandbox it happened in (the claim is absent on the default sandbox's):
  // the same persona in another sandbox signs in again.
  if ((typeof token.sandbox === 'string' ? token.sandbox : DEFAULT_SANDBOX_ID) !== currentSandbox().id) return null;
  const fhirUser = typeof token.fhirUser === 'string' ? token.fhirUser : typeof token.sub === 'string' ? token.sub : '';
  const parsed = parseFhirUser(fhirUser);
  if (!parsed) return null;
  const sid = typeof token.sid === 'string' && token.sid ? token.sid : `legacy-${fhirUser}`;
  const expiresAt = typeof token.exp === 'number' ? token.exp : null;
  // The sign-in's own instant (ms) when recorded; a token's iat is whole seconds.
  // The sign-in's own instant when recorded; a token's iat is whole seconds, so the sign-in happened
  // at the latest just before the next second.
  const signedInAt = typeof token.signedInAtMs === 'number' ? token.signedInAtMs / 1000 : typeof token.iat === 'number' ? token.iat + 1 : null;
  return { kind: parsed.kind, fhirUser: fhirUser as FhirUserRef, name: typeof token.name === 'string' ? token.name : fhirUser, sid, expiresAt, signedInAt };
}

/** The claims of a new sign-in. */
export function sessionClaims(persona: Persona): JWT {
  const sandbox = currentSandbox().id;
  return {
    sub: persona.fhirUser,
    name: persona.name,
    fhirUser: persona.fhirUser,
    personaKind: persona.kind,
    sid: randomUUID(),
    signedInAtMs: Date.now(),
    ...(sandbox === DEFAULT_SANDBOX_ID ? {} : { sandbox }),
  };
}

/** The signed-in persona of a request (next-auth session cookie), or null. */
export async function readPersonaSession(req: Request): Promise<PersonaSession | null> {
  const header = req.headers.get('cookie');
  const token = readCookie(header, sessionCookieName()) ?? readCookie(header, `${sessionCookieName()}.0`);
  if (!token) return null;
  try {
    return toPersonaSession(await decode({ token, secret: await getAuthSecret() }));
  } catch {
    return null;
  }
}

/**
 * A `Set-Cookie` value signing the persona in: the same encrypted JWT next-auth issues, so
 * `getServerSession`, `/api/auth/session` and next-auth's sign-out all see this session.
 */
export async function createSessionCookie(persona: Persona): Promise<{ cookie: string; session: PersonaSession }> {
  const claims = sessionClaims(persona);
  const secret = await getAuthSecret();
  const token = await encode({ token: claims, secret, maxAge: SESSION_MAX_AGE_SECONDS });
  // Read back: encode() sets exp, which the session carries (online_access grants end with it).
  const session = toPersonaSession(await decode({ token, secret }));
  if (!session) throw new Error('persona claims do not form a session');
  return {
    cookie: serverCookie(sessionCookieName(), token, { path: sessionCookiePath(), maxAge: SESSION_MAX_AGE_SECONDS, secure: useSecureCookies() }),
    session,
  };
}

/** A `Set-Cookie` value that signs the persona out. */
export function clearSessionCookie(): string {
  return serverCookie(sessionCookieName(), '', { path: sessionCookiePath(), maxAge: 0, secure: useSecureCookies() });
}
