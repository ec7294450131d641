/**
 * Console sign-in through next-auth: a Credentials provider (id `console`) and the rule deciding
 * which account may sign in. On a loopback host in development the built-in account admin/admin
 * works out of the box; with NODE_ENV=production, on a non-loopback host, or whenever
 * CONSOLE_USER/CONSOLE_PASSWORD are set, only the configured account is accepted and the default
 * pair is refused (issue 7 §1).
 *
 * Failed password sign-ins are limited like persona ones (lib/interaction/sign-in-limit.ts): counted per
 * console username (`signin-console`, RATE_LIMIT_SIGNIN_PERSONA) and per IP address (the same
 * `signin-ip` counter as personas); once over, even the right password is refused until the window
 * ends (NIST SP 800-63B §5.2.2), the refusal is audited as rate-limited and the login page says for
 * about how long.
 *
 * The console keeps its own session cookie (CONSOLE_SESSION_COOKIE), separate from the persona
 * session of the interaction screens: an instructor signed in to the console who then signs in as
 * a persona to launch an app must not be signed out of the console (and vice versa).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextAuthOptions, User } from 'next-auth';
import type { JWT } from 'next-auth/jwt';
import { decode } from 'next-auth/jwt';
import CredentialsProvider from 'next-auth/providers/credentials';
import { getAuthSecret } from '../interaction/secret';
import { readCookie } from '../http/cookies';
import { nextAuthRoute } from '../interaction/next-auth-route';
import type { NextAuthRoute } from '../interaction/next-auth-route';
import { useSecureCookies } from '../interaction/session';
import { env } from '../env';
import type { RateLimiter } from '../ratelimit/limiter';
import type { RateLimitSettings } from '../ratelimit/policy';
import { counter } from '../ratelimit/policy';
import type { CredentialCheck } from '../interaction/sign-in-limit';
import { lockedSignInMessage, signInUnderLimits } from '../interaction/sign-in-limit';
import { isLoopbackAddress, isLoopbackHost } from '../http/loopback';
import { publicOrigin } from '../http/origin';
import { currentSocketAddress } from '../http/socket-address';
import { DEFAULT_SANDBOX_ID } from '../sandbox';
import { currentSandbox, sandboxOfHeaders } from '../sandbox/context';
import { roomRefusal } from '../workshop/attendees';
import { attendeeForSandbox, readAttendeeCookie } from '../workshop/session';

/** next-auth provider id of console accounts. */
export const CONSOLE_PROVIDER_ID = 'console';
/** The development account that works on localhost when nothing is configured. */
export const DEFAULT_CONSOLE_USER = 'admin';
export const DEFAULT_CONSOLE_PASSWORD = 'admin';
/** How long a console sign-in lasts. */
export const CONSOLE_SESSION_MAX_AGE_SECONDS = 12 * 60 * 60;
/** Base path of the console's next-auth route (app/api/console/auth/[...nextauth]). */
export const CONSOLE_AUTH_BASE_PATH = '/api/console/auth';
/** The credentials callback console sign-ins post to (the endpoint of their audit records). */
export const CONSOLE_SIGN_IN_ENDPOINT = `${CONSOLE_AUTH_BASE_PATH}/callback/${CONSOLE_PROVIDER_ID}`;

/** Name of the console session cookie (`__Secure-` prefixed behind https). */
export function consoleSessionCookieName(secure: boolean = useSecureCookies()): string {
  return `${secure ? '__Secure-' : ''}sandbox-console.session-token`;
}

/** Which console account the server accepts for a request, and why. */
export type ConsoleAccountMode =
  | { readonly kind: 'development'; readonly user: string; readonly password: string }
  | { readonly kind: 'configured'; readonly user: string; readonly why: string }
  | { readonly kind: 'unavailable'; readonly why: string };

export interface AccountModeInput {
  nodeEnv: string;
  configuredUser?: string | undefined;
  configuredPassword?: string | undefined;
  /** The request reached us on a loopback host (localhost, 127.0.0.0/8, ::1). */
  loopback: boolean;
}

/** The sign-in rule (pure): development account only in development, on loopback, with nothing configured. */
export function consoleAccountMode(input: AccountModeInput): ConsoleAccountMode {
  const user = input.configuredUser?.trim() ?? '';
  const password = input.configuredPassword ?? '';
  const production = input.nodeEnv === 'production';
  if (user !== '' && password !== '') {
    const why = production
      ? 'NODE_ENV=production'
      : !input.loopback
        ? 'the server is reached through a non-loopback host'
        : 'CONSOLE_USER and CONSOLE_PASSWORD are set';
    return { kind: 'configured', user, why };
  }
  if (user !== '' || password !== '') return { kind: 'unavailable', why: 'only one of CONSOLE_USER and CONSOLE_PASSWORD is set: set both' };
  if (production)
    return { kind: 'unavailable', why: 'the server runs with NODE_ENV=production: set CONSOLE_USER and CONSOLE_PASSWORD to create the console account' };
  if (!input.loopback)
    return {
      kind: 'unavailable',
      why: 'the server is reached through a non-loopback host: set CONSOLE_USER and CONSOLE_PASSWORD to create the console account',
    };
  return { kind: 'development', user: DEFAULT_CONSOLE_USER, password: DEFAULT_CONSOLE_PASSWORD };
}

/** Minimal view of a request's headers (next-auth passes a plain object, route handlers a Headers). */
export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | null {
  if (headers instanceof Headers) return headers.get(name);
  const v = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}

/**
 * Whether a request counts as local: it came from a loopback address (when the server recorded
 * the connection), its Host is loopback, and so is the public origin (PUBLIC_ORIGIN, or what a
 * trusted proxy forwarded). Production mode never relies on this alone.
 */
export function isLocalRequest(headers: HeaderSource): boolean {
  const peer = currentSocketAddress()?.remoteAddress;
  if (peer && !isLoopbackAddress(peer)) return false;
  return isLoopbackHost(header(headers, 'host')) && isLoopbackHost(new URL(publicOrigin(headers)).host);
}

/** The account mode for a request (reads the environment). */
export function accountModeFor(headers: HeaderSource): ConsoleAccountMode {
  return consoleAccountMode({
    nodeEnv: env.NODE_ENV,
    configuredUser: env.CONSOLE_USER,
    configuredPassword: env.CONSOLE_PASSWORD,
    loopback: isLocalRequest(headers),
  });
}

function sameSecret(a: string, b: string): boolean {
  // Hash first so lengths match and the comparison is constant-time.
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** Who is signed in to the console. */
export interface ConsoleSession {
  readonly user: string;
  /**
   * development: the built-in admin/admin; configured: CONSOLE_USER; attendee: a workshop attendee
   * in their own sandbox (their join cookie), who sees that sandbox's console and no instructor page.
   */
  readonly account: 'development' | 'configured' | 'attendee';
  /** For an attendee: the one sandbox the session opens. */
  readonly sandboxId?: string;
}

/**
 * Checks console credentials against the mode. The default pair is refused whenever the mode is not
 * `development`, even when someone configured CONSOLE_USER=admin CONSOLE_PASSWORD=admin.
 */
export function verifyConsoleCredentials(mode: ConsoleAccountMode, username: string, password: string): ConsoleSession | null {
  if (mode.kind === 'unavailable') return null;
  if (mode.kind === 'development') {
    const ok = sameSecret(username, mode.user) && sameSecret(password, mode.password);
    return ok ? { user: mode.user, account: 'development' } : null;
  }
  if (sameSecret(username, DEFAULT_CONSOLE_USER) && sameSecret(password, DEFAULT_CONSOLE_PASSWORD)) return null;
  const ok = sameSecret(username, mode.user) && sameSecret(password, env.CONSOLE_PASSWORD ?? '');
  return ok ? { user: mode.user, account: 'configured' } : null;
}

/** Why console credentials were refused, for the audit record (never the password itself). */
function refusalReason(mode: ConsoleAccountMode, username: string, password: string): string {
  if (mode.kind === 'unavailable') return 'no console account can sign in';
  if (mode.kind === 'configured' && sameSecret(username, DEFAULT_CONSOLE_USER) && sameSecret(password, DEFAULT_CONSOLE_PASSWORD))
    return 'default account refused';
  return sameSecret(username, mode.user) ? 'wrong password' : 'unknown user';
}

export type ConsoleSignInAttempt =
  | { readonly kind: 'signed-in'; readonly session: ConsoleSession }
  | { readonly kind: 'failed' }
  | { readonly kind: 'locked'; readonly scope: 'user' | 'ip'; readonly retryAfterSeconds: number; readonly message: string };

export interface ConsoleSignInInput {
  readonly mode: ConsoleAccountMode;
  readonly username: string;
  readonly password: string;
  /** Request headers: User-Agent and Origin for the audit (the per-IP counter reads lib/http/client-ip.ts). */
  readonly headers: HeaderSource;
}

/**
 * A console password sign-in under the failed-attempt limits: the session when the credentials
 * are right and no limit is reached, `failed` for wrong ones, `locked` once too many failed.
 */
export async function attemptConsoleSignIn(
  input: ConsoleSignInInput,
  options: { limiter?: RateLimiter; settings?: RateLimitSettings } = {},
): Promise<ConsoleSignInAttempt> {
  const started = performance.now();
  const { mode, username, password } = input;
  // Counted under the name as typed, trimmed and lower-cased: case variants of the account's name
  // (never accepted, the check is exact) spend its budget instead of opening fresh ones.
  const subject = username.slice(0, 200).trim().toLowerCase();
  const named = mode.kind !== 'unavailable' && sameSecret(username, mode.user);
  const attempt = await signInUnderLimits<ConsoleSession>({
    account: counter('signin-console', subject, options.settings),
    headers: input.headers,
    started,
    audit: { kind: 'console', endpoint: CONSOLE_SIGN_IN_ENDPOINT, userId: named ? `console:${mode.user}` : null, failureStatus: 401 },
    verify: (): CredentialCheck<ConsoleSession> => {
      const session = verifyConsoleCredentials(mode, username, password);
      return session ? { ok: true, value: session } : { ok: false, reason: refusalReason(mode, username, password) };
    },
    ...options,
  });
  if (attempt.kind === 'locked') return { ...attempt, scope: attempt.scope === 'account' ? 'user' : 'ip' };
  return attempt.kind === 'signed-in' ? { kind: 'signed-in', session: attempt.value } : attempt;
}

/**
 * The error a refused console sign-in throws from the provider. next-auth answers with its message
 * as the `error` parameter of its error URL; the login form takes it to /console/login, which shows
 * consoleLockedMessage() of it.
 */
export function consoleLockedError(scope: 'user' | 'ip', retryAfterSeconds: number): string {
  return `locked-${scope}:${retryAfterSeconds}`;
}

/** What the console login page says for an `error` query value of consoleLockedError(), or null for any other error. */
export function consoleLockedMessage(error: string): string | null {
  const match = /^(locked-(?:user|ip)):(\d{1,6})$/.exec(error);
  return match ? lockedSignInMessage(match[1] ?? '', match[2] ?? null) : null;
}

/** The user object next-auth receives from the console provider. */
interface ConsoleUser extends User {
  consoleAccount: ConsoleSession['account'];
}

function isConsoleUser(user: unknown): user is ConsoleUser {
  return typeof user === 'object' && user !== null && 'consoleAccount' in user;
}

/** The Credentials provider (id `console`) to list in NextAuth options. */
export function consoleProvider() {
  return CredentialsProvider({
    id: CONSOLE_PROVIDER_ID,
    name: 'Console account',
    credentials: {
      username: { label: 'Username', type: 'text' },
      password: { label: 'Password', type: 'password' },
    },
    async authorize(credentials, req) {
      const headers = req.headers ?? {};
      const attempt = await attemptConsoleSignIn({
        mode: accountModeFor(headers),
        username: credentials?.username ?? '',
        password: credentials?.password ?? '',
        headers,
      });
      // next-auth redirects a thrown error's message to the login page as `error`.
      if (attempt.kind === 'locked') throw new Error(consoleLockedError(attempt.scope, attempt.retryAfterSeconds));
      if (attempt.kind === 'failed') return null;
      const user: ConsoleUser = { id: `console:${attempt.session.user}`, name: attempt.session.user, consoleAccount: attempt.session.account };
      return user;
    },
  });
}

/** The JWT claims a console sign-in adds (merge into the jwt callback when `user` is a console user). */
export function consoleJwtClaims(token: JWT, user: unknown): JWT {
  if (!isConsoleUser(user)) return token;
  return { ...token, sub: user.id, name: user.name ?? user.id, console: { user: user.name ?? '', account: user.consoleAccount } };
}

/** The console session a decoded next-auth JWT carries, or null. */
export function consoleSessionOf(token: JWT | null): ConsoleSession | null {
  const c = token?.console;
  if (typeof c !== 'object' || c === null) return null;
  const { user, account } = c as { user?: unknown; account?: unknown };
  if (typeof user !== 'string' || (account !== 'development' && account !== 'configured')) return null;
  return { user, account };
}

/** next-auth options of the console's own route (app/api/console/auth/[...nextauth]). */
export async function getConsoleAuthOptions(): Promise<NextAuthOptions> {
  const secure = useSecureCookies();
  const cookie = (name: string, httpOnly = true) => ({
    name: `${secure ? '__Secure-' : ''}${name}`,
    options: { httpOnly, sameSite: 'lax' as const, path: '/', secure },
  });
  return {
    secret: await getAuthSecret(),
    useSecureCookies: secure,
    session: { strategy: 'jwt', maxAge: CONSOLE_SESSION_MAX_AGE_SECONDS },
    // Own cookie names: the persona session (next-auth.session-token) and the console session live side by side.
    cookies: {
      sessionToken: { name: consoleSessionCookieName(secure), options: cookie('').options },
      // `__Host-` like next-auth's own CSRF cookie: no other host (a sibling subdomain) can overwrite it.
      csrfToken: { name: `${secure ? '__Host-' : ''}sandbox-console.csrf-token`, options: cookie('').options },
      callbackUrl: cookie('sandbox-console.callback-url'),
    },
    pages: { signIn: '/console/login', error: '/console/login' },
    providers: [consoleProvider()],
    callbacks: {
      async jwt({ token, user }) {
        return user ? consoleJwtClaims(token, user) : token;
      },
      async session({ session, token }) {
        return { ...session, console: consoleSessionOf(token) } as typeof session;
      },
    },
  };
}

/** /api/console/auth/*: the console's next-auth route, with its own session cookie. */
export const consoleAuthRoute: NextAuthRoute = nextAuthRoute(getConsoleAuthOptions);

/**
 * The console session of a request: the console cookie (or, when the provider was merged into the
 * main next-auth options, the main session cookie) decoded, and still acceptable under the current
 * account rule: a development-account session stops working once the request is not local.
 */
export async function readConsoleSession(headers: HeaderSource): Promise<ConsoleSession | null> {
  return (await readConsoleAccountSession(headers)) ?? (await readAttendeeSession(headers));
}

/** The sandbox a request works in: the running context's, else the one proxy.ts named for a page. */
async function requestSandboxId(headers: HeaderSource): Promise<string | null> {
  const running = currentSandbox();
  if (running.id !== DEFAULT_SANDBOX_ID) return running.id;
  const named = await sandboxOfHeaders({ get: (name: string) => header(headers, name) });
  return named?.id ?? null;
}

/**
 * A workshop attendee's console session: only in a sandbox other than the default one, and only
 * when the request's attendee cookie belongs to that very sandbox and its room is open (issue 15
 * item 3: an attendee sees their own sandbox's console, nothing of other attendees).
 */
async function readAttendeeSession(headers: HeaderSource): Promise<ConsoleSession | null> {
  const sandboxId = await requestSandboxId(headers);
  if (!sandboxId || sandboxId === DEFAULT_SANDBOX_ID) return null;
  const attendee = await attendeeForSandbox({ get: (name: string) => header(headers, name) }, sandboxId);
  return attendee ? { user: attendee.attendee.name, account: 'attendee', sandboxId } : null;
}

/** The console account's session of a request (never an attendee's). */
async function readConsoleAccountSession(headers: HeaderSource): Promise<ConsoleSession | null> {
  const cookies = header(headers, 'cookie');
  const secret = await getAuthSecret();
  const names = [consoleSessionCookieName(), `${useSecureCookies() ? '__Secure-' : ''}next-auth.session-token`];
  for (const name of names) {
    const raw = readCookie(cookies, name);
    if (!raw) continue;
    let session: ConsoleSession | null = null;
    try {
      session = consoleSessionOf(await decode({ token: raw, secret }));
    } catch {
      session = null;
    }
    if (!session) continue;
    const mode = accountModeFor(headers);
    if (session.account === 'development' && mode.kind !== 'development') return null;
    if (session.account === 'configured' && (mode.kind !== 'configured' || mode.user !== session.user)) return null;
    return session;
  }
  return null;
}

/** Route-handler guard: the session, or a 401 JSON response. */
export async function consoleSessionOrResponse(req: Request): Promise<ConsoleSession | Response> {
  const session = await readConsoleSession(req.headers);
  if (session) return session;
  return new Response(JSON.stringify({ error: 'console sign-in required' }), {
    status: 401,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  });
}

/** Page guard: the console session, or a redirect to the sandbox's /console/login (server components and actions only). */
export async function requireConsoleSession(returnTo = '/console'): Promise<ConsoleSession> {
  const { headers } = await import('next/headers');
  const { redirect } = await import('next/navigation');
  const requestHeaders = await headers();
  const session = await readConsoleSession(requestHeaders);
  if (!session) {
    const sandboxId = await requestSandboxId(requestHeaders);
    if (!sandboxId || sandboxId === DEFAULT_SANDBOX_ID) {
      // A workshop attendee reaching a console page outside their sandbox (a link without the
      // `/s/{id}` prefix) is taken to the same page of their own sandbox's console.
      const attendee = await readAttendeeCookie({ get: (name: string) => header(requestHeaders, name) });
      if (attendee && !roomRefusal(attendee.room)) return redirect(`/s/${attendee.attendee.sandboxId}${returnTo}`);
    }
    const base = sandboxId && sandboxId !== DEFAULT_SANDBOX_ID ? `/s/${sandboxId}` : '';
    return redirect(`${base}/console/login?callbackUrl=${encodeURIComponent(`${base}${returnTo}`)}`);
  }
  return session;
}

/**
 * Page guard of the instructor's pages (workshops, reseeding): the console account only. An
 * attendee is sent to their own console, anyone else to the sign-in page.
 */
export async function requireInstructorSession(returnTo = '/console'): Promise<ConsoleSession> {
  const session = await requireConsoleSession(returnTo);
  if (session.account !== 'attendee') return session;
  const { redirect } = await import('next/navigation');
  return redirect(`/s/${session.sandboxId ?? ''}/console`);
}
