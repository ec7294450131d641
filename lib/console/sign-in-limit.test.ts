/**
 * Failed-attempt limits of the console's password sign-in (NIST SP 800-63B §5.2.2): counted per
 * console username and per IP address, the right password refused while locked, successful
 * sign-ins taking their count back, parallel guesses counted exactly, and every failed or refused
 * attempt audited (never the password). Counters run on this file's database with a frozen clock;
 * the next-auth provider is driven through its authorize() with limits from the environment.
 */
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { getDb } from '../db';
import { runWithSocketAddress } from '../http/socket-address';
import { RateLimiter } from '../ratelimit/limiter';
import type { RateLimitSettings } from '../ratelimit/policy';
import type { ConsoleAccountMode } from './auth';
import { attemptConsoleSignIn, CONSOLE_SIGN_IN_ENDPOINT, consoleLockedError, consoleLockedMessage, consoleProvider } from './auth';

const ENV_LIMIT = 2;
const saved = vi.hoisted(() => {
  // lib/env.ts reads these when first imported (after test/setup-unit.ts set high defaults).
  const names = ['CONSOLE_USER', 'CONSOLE_PASSWORD', 'RATE_LIMIT_SIGNIN_PERSONA', 'RATE_LIMIT_SIGNIN_IP'] as const;
  const before = Object.fromEntries(names.map((n) => [n, process.env[n]]));
  Object.assign(process.env, {
    CONSOLE_USER: 'teacher',
    CONSOLE_PASSWORD: 'correct horse battery',
    RATE_LIMIT_SIGNIN_PERSONA: '2',
    RATE_LIMIT_SIGNIN_IP: '1000',
  });
  return before;
});

afterAll(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

const PASSWORD = 'correct horse battery';
const MODE: ConsoleAccountMode = { kind: 'configured', user: 'teacher', why: 'CONSOLE_USER and CONSOLE_PASSWORD are set' };
const SETTINGS: RateLimitSettings = { windowSeconds: 60, client: 0, patient: 0, registerIp: 0, signInPersona: 3, signInIp: 6 };
// 2030-01-01T00:00:00Z starts a 15-minute window; each test gets windows of its own.
const T0 = Date.UTC(2030, 0, 1);

let clock = T0;
let ipSeq = 0;
const limiter = new RateLimiter(getDb(), { now: () => clock, retainSeconds: 900, pruneIntervalMs: Number.MAX_SAFE_INTEGER });

function newIp(): string {
  ipSeq++;
  return `198.51.100.${ipSeq}`;
}

/** A connection from `ip`, as the server records it for each request (lib/http/socket-address.ts). */
function from<T>(ip: string, fn: () => T): T {
  return runWithSocketAddress({ remoteAddress: ip, localAddress: '127.0.0.1', localPort: 3100, encrypted: false }, fn);
}

function attempt(username: string, password: string, ip: string) {
  return from(ip, () => attemptConsoleSignIn({ mode: MODE, username, password, headers: { 'user-agent': 'unit-test' } }, { limiter, settings: SETTINGS }));
}

async function auditOf(ip: string) {
  const rows = await getDb().auditRecord.findMany({ where: { endpoint: CONSOLE_SIGN_IN_ENDPOINT, ip } });
  return rows.sort((a, b) => a.at.getTime() - b.at.getTime());
}

let test = 0;
beforeEach(async () => {
  test++;
  clock = T0 + test * 3600_000 + 30_000;
  await getDb().rateLimitWindow.deleteMany({});
});

describe('console sign-in under the failed-attempt limits', () => {
  it('locks a username after RATE_LIMIT_SIGNIN_PERSONA failures: the right password is refused, from any address, until the window ends', async () => {
    const ip = newIp();
    for (let i = 0; i < SETTINGS.signInPersona; i++) expect(await attempt('teacher', `guess-${i}`, ip)).toEqual({ kind: 'failed' });
    const locked = await attempt('teacher', PASSWORD, ip);
    expect(locked).toMatchObject({ kind: 'locked', scope: 'user', retryAfterSeconds: 870 });
    if (locked.kind !== 'locked') return;
    expect(locked.message).toBe(
      "Rate limit exceeded for console sign-ins as 'teacher': more than 3 failed sign-ins per 15 minutes (RATE_LIMIT_SIGNIN_PERSONA). Retry after 870 s.",
    );
    // Another address, and the name typed in another case: the same account budget.
    expect(await attempt('teacher', PASSWORD, newIp())).toMatchObject({ kind: 'locked', scope: 'user' });
    expect(await attempt(' TEACHER', PASSWORD, newIp())).toMatchObject({ kind: 'locked', scope: 'user' });
    // The next window starts afresh.
    clock += 870_000;
    expect(await attempt('teacher', PASSWORD, ip)).toEqual({ kind: 'signed-in', session: { user: 'teacher', account: 'configured' } });
  });

  it('audits each failure and each refusal (flag rate-limited), never the password', async () => {
    const ip = newIp();
    for (let i = 0; i < SETTINGS.signInPersona; i++) await attempt('teacher', `secret-guess-${i}`, ip);
    await attempt('teacher', PASSWORD, ip);
    await attempt('nobody', 'secret-guess-x', ip);
    const rows = await auditOf(ip);
    expect(rows.map((r) => [r.kind, r.method, r.status, r.errorCode, r.flags, r.userId])).toEqual([
      ['console', 'POST', 401, 'invalid_credentials', null, 'console:teacher'],
      ['console', 'POST', 401, 'invalid_credentials', null, 'console:teacher'],
      ['console', 'POST', 401, 'invalid_credentials', null, 'console:teacher'],
      ['console', 'POST', 401, 'signin_locked', 'rate-limited', 'console:teacher'],
      ['console', 'POST', 401, 'invalid_credentials', null, null],
    ]);
    expect(rows.map((r) => r.detail)).toEqual([
      'sign-in failed: wrong password (1 of 3 allowed failures for this user)',
      'sign-in failed: wrong password (2 of 3 allowed failures for this user)',
      'sign-in failed: wrong password (3 of 3 allowed failures for this user)',
      "sign-in refused: Rate limit exceeded for console sign-ins as 'teacher': more than 3 failed sign-ins per 15 minutes (RATE_LIMIT_SIGNIN_PERSONA). Retry after 870 s.",
      'sign-in failed: unknown user (1 of 3 allowed failures for this user)',
    ]);
    for (const r of rows) {
      expect(r.userAgent).toBe('unit-test');
      expect(JSON.stringify(r)).not.toMatch(/secret-guess|correct horse/);
    }
  });

  it('takes a successful sign-in’s count back: only failures spend the budget', async () => {
    const ip = newIp();
    for (let i = 0; i < 5; i++) expect((await attempt('teacher', PASSWORD, ip)).kind).toBe('signed-in');
    expect(await attempt('teacher', 'wrong-1', ip)).toEqual({ kind: 'failed' });
    expect(await attempt('teacher', 'wrong-2', ip)).toEqual({ kind: 'failed' });
    expect((await attempt('teacher', PASSWORD, ip)).kind).toBe('signed-in');
    expect(await attempt('teacher', 'wrong-3', ip)).toEqual({ kind: 'failed' });
    expect((await attempt('teacher', PASSWORD, ip)).kind).toBe('locked');
    const counters = await getDb().rateLimitWindow.findMany({ where: { key: { in: ['signin-console:teacher', `signin-ip:${ip}`] } } });
    expect(Object.fromEntries(counters.map((c) => [c.key, c.count]))).toEqual({ 'signin-console:teacher': 4, [`signin-ip:${ip}`]: 4 });
  });

  it('locks an address after RATE_LIMIT_SIGNIN_IP failures under any names; the account itself signs in from elsewhere', async () => {
    const ip = newIp();
    for (let i = 0; i < SETTINGS.signInIp; i++) expect(await attempt(`guess-user-${i}`, PASSWORD, ip)).toEqual({ kind: 'failed' });
    const locked = await attempt('teacher', PASSWORD, ip);
    expect(locked).toMatchObject({ kind: 'locked', scope: 'ip' });
    if (locked.kind === 'locked') expect(locked.message).toContain(`sign-ins from ${ip}: more than 6 failed sign-ins per 15 minutes (RATE_LIMIT_SIGNIN_IP)`);
    expect((await attempt('teacher', PASSWORD, newIp())).kind).toBe('signed-in');
    expect((await auditOf(ip)).filter((r) => r.flags === 'rate-limited')).toHaveLength(1);
  });

  it('counts parallel guesses exactly: as many failures as the limit, every other guess refused', async () => {
    const ip = newIp();
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => attempt('teacher', `race-${i}`, ip)));
    expect(results.filter((r) => r.kind === 'failed')).toHaveLength(SETTINGS.signInPersona);
    expect(results.filter((r) => r.kind === 'locked')).toHaveLength(12 - SETTINGS.signInPersona);
    const rows = await auditOf(ip);
    expect(rows.filter((r) => r.errorCode === 'invalid_credentials' && r.flags === null)).toHaveLength(SETTINGS.signInPersona);
    expect(rows.filter((r) => r.errorCode === 'signin_locked' && r.flags === 'rate-limited')).toHaveLength(12 - SETTINGS.signInPersona);
  });
});

describe('the next-auth console provider', () => {
  type Authorize = (credentials: Record<string, string> | undefined, req: { headers?: Record<string, string> }) => Promise<unknown>;
  const authorize = (consoleProvider().options as unknown as { authorize: Authorize }).authorize;

  it('throws the lock for the login page once the username is locked, the right password included', async () => {
    // Real clock here: start at least 10 s before the 15-minute window ends.
    const left = 900 - ((Date.now() / 1000) % 900);
    if (left < 10) await new Promise((r) => setTimeout(r, left * 1000 + 500));
    const headers = { host: 'localhost:3100' };
    const ip = newIp();
    expect(await from(ip, () => authorize({ username: 'teacher', password: PASSWORD }, { headers }))).toMatchObject({ id: 'console:teacher', name: 'teacher' });
    for (let i = 0; i < ENV_LIMIT; i++) expect(await from(ip, () => authorize({ username: 'teacher', password: `nope-${i}` }, { headers }))).toBeNull();
    const refused = await from(ip, () => authorize({ username: 'teacher', password: PASSWORD }, { headers })).then(
      () => null,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(Error);
    const error = (refused as Error).message;
    expect(error).toMatch(/^locked-user:\d+$/);
    expect(consoleLockedMessage(error)).toMatch(
      /^Too many failed sign-in attempts for this user: sign-in as this user is locked for about \d+ minutes?, even with the right password/,
    );
  });
});

describe('the login page’s lock notice', () => {
  it('says which lock and for about how long, and ignores anything else in the error parameter', () => {
    expect(consoleLockedMessage(consoleLockedError('user', 130))).toContain('locked for about 3 minutes, even with the right password');
    expect(consoleLockedMessage(consoleLockedError('ip', 45))).toContain('from your network address: sign-in is locked for about 1 minute,');
    for (const other of ['CredentialsSignin', 'locked-user', 'locked-persona:60', 'locked-user:60 call 555-0100', 'Rate limit exceeded'])
      expect(consoleLockedMessage(other)).toBeNull();
  });
});
