// Failed console sign-ins over real HTTP (issue 8 item 2, NIST SP 800-63B §5.2.2), on a server of
// its own with a configured console account and low limits: next-auth's credentials callback
// (/api/console/auth/callback/console, CSRF token first) locks a console username after
// RATE_LIMIT_SIGNIN_PERSONA failures and an address after RATE_LIMIT_SIGNIN_IP (the same per-IP
// budget as persona sign-ins); while locked the right password is refused and the login page says
// so and for about how long; each failure and refusal is audited, refusals flagged rate-limited and
// shown on the console's Rate limits page. Callers are told apart by X-Forwarded-For.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../lib/db';
import { auditWhere, secondsLeft, startInFreshWindow, startOwnServer } from './support/own-server';
import type { OwnServer } from './support/own-server';
import { BrowserSession, unescapeHtml } from './support/browserless';

const SIGN_IN_WINDOW = 900;
const LIMITS = { signInPersona: 3, signInIp: 6 };
const CONSOLE_USER = 'cl-teacher';
const CONSOLE_PASSWORD = 'console-limit-password-1';
const ENDPOINT = '/api/console/auth/callback/console';

let base = '';
let server: OwnServer | undefined;
let db: Db;
let ipSeq = 0;

function newIp(): string {
  ipSeq++;
  return `10.88.0.${ipSeq}`;
}

/** What a console sign-in answered: the `error` next-auth redirected with ('' when signed in) and where it points. */
interface SignInResult {
  readonly error: string;
  readonly url: URL;
  readonly signedIn: boolean;
}

/** Signs in to the console the way its login form does: CSRF token, then the credentials callback with json=true. */
async function consoleSignIn(username: string, password: string, ip: string, session = new BrowserSession(base)): Promise<SignInResult> {
  const csrf = (await (await session.request(`${base}/api/console/auth/csrf`)).json()) as { csrfToken: string };
  const res = await session.request(`${base}${ENDPOINT}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(base).origin, 'x-forwarded-for': ip },
    body: new URLSearchParams({ csrfToken: csrf.csrfToken, username, password, callbackUrl: '/console', json: 'true' }).toString(),
  });
  expect(res.status).toBeLessThan(500);
  const url = new URL(((await res.json()) as { url: string }).url, base);
  return { error: url.searchParams.get('error') ?? '', url, signedIn: session.jar.has('sandbox-console.session-token') };
}

/**
 * The console login page the login form goes to after a refusal: it carries next-auth's `error` over
 * (next-auth's own error redirect names its default base path, /api/auth, not the console's).
 */
async function loginPageAfter(result: SignInResult): Promise<string> {
  const res = await fetch(`${base}/console/login?${new URLSearchParams({ error: result.error, callbackUrl: '/console' }).toString()}`);
  expect(res.status).toBe(200);
  return unescapeHtml((await res.text()).replace(/<!-- -->/g, ''));
}

let admin: BrowserSession;

beforeAll(async () => {
  // TRUST_PROXY: the tests play a reverse proxy's clients, X-Forwarded-For naming each one's address.
  server = await startOwnServer('consolelimit', {
    TRUST_PROXY: '1',
    RATE_LIMIT_SIGNIN_PERSONA: String(LIMITS.signInPersona),
    RATE_LIMIT_SIGNIN_IP: String(LIMITS.signInIp),
    CONSOLE_USER,
    CONSOLE_PASSWORD,
  });
  base = server.url;
  db = server.db;
  // Fixed 15-minute windows: start in a fresh one when little of this one is left.
  await startInFreshWindow(SIGN_IN_WINDOW);
  // A console session from before any lock, to read the Rate limits page at the end.
  admin = new BrowserSession(base);
  expect((await consoleSignIn(CONSOLE_USER, CONSOLE_PASSWORD, newIp(), admin)).signedIn).toBe(true);
}, 400_000);

afterAll(async () => {
  await server?.stop();
});

describe('console sign-in per IP address (RATE_LIMIT_SIGNIN_IP)', () => {
  it('locks an address after its failures under any names, the console account included; elsewhere the account signs in', async () => {
    const ip = newIp();
    for (let i = 0; i < LIMITS.signInIp; i++) expect((await consoleSignIn(`intruder${i}`, CONSOLE_PASSWORD, ip)).error).toBe('CredentialsSignin');
    const locked = await consoleSignIn(CONSOLE_USER, CONSOLE_PASSWORD, ip);
    expect(locked.signedIn).toBe(false);
    expect(locked.error).toMatch(/^locked-ip:\d+$/);
    expect(await loginPageAfter(locked)).toMatch(
      /data-testid="sign-in-locked">Too many failed sign-in attempts from your network address: sign-in is locked for about \d+ minutes?, even with the right password/,
    );
    // The account itself is not locked (its own counter had 1 refused attempt): from another address it signs in.
    expect((await consoleSignIn(CONSOLE_USER, CONSOLE_PASSWORD, newIp())).signedIn).toBe(true);
    const rows = await auditWhere(db, { endpoint: ENDPOINT, ip }, LIMITS.signInIp + 1);
    expect(rows.map((r) => [r.kind, r.status, r.errorCode, r.flags])).toEqual([
      ...Array.from({ length: LIMITS.signInIp }, () => ['console', 401, 'invalid_credentials', null]),
      ['console', 401, 'signin_locked', 'rate-limited'],
    ]);
  });

  it('is one budget with persona sign-ins: console failures count against a persona signing in from the same address', async () => {
    const ip = newIp();
    for (let i = 0; i < LIMITS.signInIp; i++) expect((await consoleSignIn(`someone${i}`, 'guess', ip)).error).toBe('CredentialsSignin');
    const session = new BrowserSession(base);
    const csrf = (await (await session.request(`${base}/api/auth/csrf`)).json()) as { csrfToken: string };
    const res = await session.request(`${base}/api/auth/callback/persona`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(base).origin, 'x-forwarded-for': ip },
      body: new URLSearchParams({ csrfToken: csrf.csrfToken, username: 'practitioner-1', password: 'sandbox', json: 'true' }).toString(),
    });
    const error = new URL(((await res.json()) as { url: string }).url, base).searchParams.get('error');
    expect(error).toMatch(
      new RegExp(`^Rate limit exceeded for sign-ins from ${ip.replace(/\./g, '\\.')}: more than 6 failed sign-ins per 15 minutes \\(RATE_LIMIT_SIGNIN_IP\\)`),
    );
  });
});

describe('console sign-in per username (RATE_LIMIT_SIGNIN_PERSONA)', () => {
  let locked: SignInResult;

  it('locks the username after its failures: the right password is refused from any address', async () => {
    const ip = newIp();
    // Counter of cl-teacher: 1 refused attempt from the locked address above, then two failures here.
    for (let i = 0; i < LIMITS.signInPersona - 1; i++) expect((await consoleSignIn(CONSOLE_USER, `guess-${i}`, ip)).error).toBe('CredentialsSignin');
    locked = await consoleSignIn(CONSOLE_USER, CONSOLE_PASSWORD, ip);
    expect(locked.signedIn).toBe(false);
    expect(locked.error).toMatch(/^locked-user:\d+$/);
    expect(Math.abs(Number(locked.error.split(':')[1]) - secondsLeft(SIGN_IN_WINDOW))).toBeLessThanOrEqual(3);
    for (const from of [newIp(), newIp()]) {
      const again = await consoleSignIn(CONSOLE_USER, CONSOLE_PASSWORD, from);
      expect(again.error).toMatch(/^locked-user:\d+$/);
      expect(again.signedIn).toBe(false);
    }
    const rows = await auditWhere(db, { endpoint: ENDPOINT, ip }, LIMITS.signInPersona);
    expect(rows.map((r) => [r.userId, r.errorCode, r.flags])).toEqual([
      [`console:${CONSOLE_USER}`, 'invalid_credentials', null],
      [`console:${CONSOLE_USER}`, 'invalid_credentials', null],
      [`console:${CONSOLE_USER}`, 'signin_locked', 'rate-limited'],
    ]);
    expect(rows[2]?.detail).toMatch(
      /^sign-in refused: Rate limit exceeded for console sign-ins as 'cl-teacher': more than 3 failed sign-ins per 15 minutes \(RATE_LIMIT_SIGNIN_PERSONA\)\. Retry after \d+ s\.$/,
    );
    for (const r of rows) expect(r.detail).not.toContain(CONSOLE_PASSWORD);
  });

  it('the login page says sign-in is locked, even with the right password, and for about how long', async () => {
    const page = await loginPageAfter(locked);
    const minutes = Math.ceil(Number(locked.error.split(':')[1]) / 60);
    expect(page).toContain(
      `data-testid="sign-in-locked">Too many failed sign-in attempts for this user: sign-in as this user is locked for about ${minutes} minute${minutes === 1 ? '' : 's'}, even with the right password (brute-force protection). Try again later.</p>`,
    );
    expect(page).not.toContain('Sign-in failed: wrong username or password');
  });

  it('the Rate limits page lists the console counter and shows the locked username', async () => {
    const res = await admin.request(`${base}/console/rate-limits`);
    expect(res.status).toBe(200);
    const html = (await res.text()).replace(/<!-- -->/g, '');
    const settings = html.slice(html.indexOf('data-testid="rate-limit-settings"'), html.indexOf('data-testid="rate-limit-counters"'));
    expect(settings).toMatch(
      /<code>signin-console<\/code><\/td><td>Failed console sign-ins as one username[^<]*<\/td><td><strong>3<\/strong><\/td><td>15 min<\/td><td><code>RATE_LIMIT_SIGNIN_PERSONA<\/code>/,
    );
    const counters = html.slice(html.indexOf('data-testid="rate-limit-counters"'));
    // 1 refused + 2 failed + 1 refused + 2 refused from other addresses.
    expect(counters).toMatch(/<code>signin-console<\/code><\/td><td><code>cl-teacher<\/code><\/td><td><strong>6<\/strong><\/td><td>200% of 3 — refusing/);
  });
});
