/**
 * Brute-force protection of sign-in: failed attempts are counted per account and per IP address
 * over 15 minutes. Persona sign-in counts per persona (RATE_LIMIT_SIGNIN_PERSONA) and the console's
 * password sign-in per console username (the same limit, its own `signin-console` counters); both
 * add to the same per-IP counter (RATE_LIMIT_SIGNIN_IP): one caller, one budget. Past a limit every
 * attempt is refused until the window ends, the right password included: otherwise an attacker
 * would learn the password from the one answer that differs (NIST SP 800-63B §5.2.2).
 *
 * Counting is race-free: every attempt adds to both counters first (one statement) and an attempt
 * that succeeds takes its count back (one more), so parallel guesses each see their own position
 * and successful sign-ins never count. Failed and refused attempts are audited (never the
 * password); refused ones are flagged rate-limited for the console's alerts.
 */
import type { AuditEntry, AuditFlag } from '../audit/record';
import { recordAudit } from '../audit/record';
import type { Persona } from './personas';
import { findPersonaByFhirUser, findPersonaByUsername, passwordMatches } from './personas';
import type { RateLimiter, RateLimitHit } from '../ratelimit/limiter';
import { rateLimitMessage } from '../ratelimit/describe';
import type { RateLimitSettings } from '../ratelimit/policy';
import { clientIp } from '../http/client-ip';
import { counter, getRateLimiter } from '../ratelimit/policy';

export type SignInAttempt =
  | { readonly kind: 'signed-in'; readonly persona: Persona }
  | { readonly kind: 'failed' }
  | { readonly kind: 'locked'; readonly scope: 'persona' | 'ip'; readonly retryAfterSeconds: number; readonly message: string };

/** Request headers as route handlers (Headers) and next-auth (a plain object) pass them. */
export type SignInHeaders = Headers | Record<string, string | string[] | undefined>;

export interface SignInInput {
  readonly sandboxId: string;
  /** One-click sign-in: the persona's `fhirUser` (no password). */
  readonly oneClick?: string | null;
  readonly username?: string;
  readonly password?: string;
  /** Request headers: User-Agent and Origin for the audit (the per-IP counter reads lib/http/client-ip.ts). */
  readonly headers: SignInHeaders;
  /** For the audit record: the path signed in through, the app being authorized, the status answered on failure. */
  readonly audit: { readonly endpoint: string; readonly clientId?: string | null; readonly launchId?: string | null; readonly failureStatus: number };
}

function header(headers: SignInHeaders, name: string): string | null {
  if (headers instanceof Headers) return headers.get(name);
  const v = headers[name];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}

/** The outcome of a credential check: what signed in, or why not (for the audit detail, never the password). */
export type CredentialCheck<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** A sign-in of any kind of account under the failed-attempt limits. */
export interface LimitedSignInInput<T> {
  /** The account's own counter (`signin-persona:<fhirUser>`, `signin-console:<username>`). */
  readonly account: RateLimitHit;
  readonly headers: SignInHeaders;
  /** Checks the credentials; runs only while no limit is reached. */
  readonly verify: () => CredentialCheck<T> | Promise<CredentialCheck<T>>;
  /** The audit record of a failed or refused attempt (`userId`: the account, when one was named). */
  readonly audit: Pick<AuditEntry, 'kind' | 'endpoint' | 'clientId' | 'launchId' | 'userId'> & { readonly failureStatus: number };
  /** When the attempt started (performance.now()), for the audit record's latency. */
  readonly started?: number;
  /** The limiter (the app database's by default) and limits (RATE_LIMIT_* by default). */
  readonly limiter?: RateLimiter;
  readonly settings?: RateLimitSettings;
}

export type LimitedSignIn<T> =
  | { readonly kind: 'signed-in'; readonly value: T }
  | { readonly kind: 'failed' }
  | { readonly kind: 'locked'; readonly scope: 'account' | 'ip'; readonly retryAfterSeconds: number; readonly message: string };

/**
 * Counts a sign-in attempt on the account's and the caller's `signin-ip` counter, then checks the
 * credentials unless a limit is reached: `locked` (audited, flagged rate-limited) without looking
 * at the password, `failed` (audited) for wrong credentials, `signed-in` with its count taken back.
 */
export async function signInUnderLimits<T>(input: LimitedSignInInput<T>): Promise<LimitedSignIn<T>> {
  const started = input.started ?? performance.now();
  const ip = clientIp(input.headers);
  const account = input.account;
  const hits: RateLimitHit[] = [account, ...(ip ? [counter('signin-ip', ip, input.settings)] : [])];

  const limiter = input.limiter ?? getRateLimiter();
  const verdict = await limiter.hit(hits);
  const audit = (errorCode: string, detail: string, flags: AuditFlag[]) =>
    recordAudit({
      kind: input.audit.kind,
      method: 'POST',
      endpoint: input.audit.endpoint,
      clientId: input.audit.clientId ?? null,
      launchId: input.audit.launchId ?? null,
      userId: input.audit.userId ?? null,
      status: input.audit.failureStatus,
      errorCode,
      detail,
      latencyMs: performance.now() - started,
      ip,
      userAgent: header(input.headers, 'user-agent')?.slice(0, 300) ?? null,
      origin: header(input.headers, 'origin'),
      flags,
    });

  if (!verdict.allowed) {
    const scope = verdict.exceeded.some((e) => e.key === account.key) ? 'account' : 'ip';
    const message = rateLimitMessage(verdict.exceeded, verdict.retryAfterSeconds);
    await audit('signin_locked', `sign-in refused: ${message}`, ['rate-limited']);
    return { kind: 'locked', scope, retryAfterSeconds: verdict.retryAfterSeconds, message };
  }
  const check = await input.verify();
  if (check.ok) {
    await limiter.refund(hits);
    return { kind: 'signed-in', value: check.value };
  }
  const failures = verdict.counts.get(account.key);
  await audit(
    'invalid_credentials',
    `sign-in failed: ${check.reason}${failures !== undefined ? ` (${failures} of ${account.limit} allowed failures for this user)` : ''}`,
    [],
  );
  return { kind: 'failed' };
}

/**
 * A persona sign-in under the limits: the persona when the credentials are right and no limit is
 * reached; `failed` for wrong credentials; `locked` once too many attempts failed.
 */
export async function attemptSignIn(input: SignInInput): Promise<SignInAttempt> {
  const started = performance.now();
  const username = (input.username ?? '').slice(0, 200);
  const persona = input.oneClick ? await findPersonaByFhirUser(input.sandboxId, input.oneClick) : await findPersonaByUsername(input.sandboxId, username);
  // One counter per persona whatever name it was typed as; unknown names count under themselves.
  const subject = persona?.fhirUser ?? (input.oneClick ?? username).trim().toLowerCase();
  const attempt = await signInUnderLimits<Persona>({
    account: counter('signin-persona', subject),
    headers: input.headers,
    started,
    audit: {
      kind: 'oauth',
      endpoint: input.audit.endpoint,
      clientId: input.audit.clientId ?? null,
      launchId: input.audit.launchId ?? null,
      userId: persona?.fhirUser ?? null,
      failureStatus: input.audit.failureStatus,
    },
    verify: () => {
      if (!persona) return { ok: false, reason: 'unknown user' };
      return input.oneClick || passwordMatches(input.password ?? '') ? { ok: true, value: persona } : { ok: false, reason: 'wrong password' };
    },
  });
  if (attempt.kind === 'locked') return { ...attempt, scope: attempt.scope === 'account' ? 'persona' : 'ip' };
  return attempt.kind === 'signed-in' ? { kind: 'signed-in', persona: attempt.value } : attempt;
}

/** Query value the sign-in screen is redirected with after a refused attempt. */
export function lockedErrorKey(scope: 'persona' | 'ip'): string {
  return `locked-${scope}`;
}

/**
 * What a sign-in screen says after a refused attempt (`error=locked-persona|locked-ip` on the
 * interaction screens, `locked-user|locked-ip` on the console's), `retry=<seconds>`; null for any
 * other error key.
 */
export function lockedSignInMessage(errorKey: string, retry: string | null): string | null {
  if (errorKey !== 'locked-persona' && errorKey !== 'locked-user' && errorKey !== 'locked-ip') return null;
  const seconds = Math.min(Math.max(Number.parseInt(retry ?? '', 10) || 60, 1), 24 * 3600);
  const minutes = Math.ceil(seconds / 60);
  const wait = `${minutes} minute${minutes === 1 ? '' : 's'}`;
  return errorKey === 'locked-ip'
    ? `Too many failed sign-in attempts from your network address: sign-in is locked for about ${wait}, even with the right password (brute-force protection). Try again later.`
    : `Too many failed sign-in attempts for this user: sign-in as this user is locked for about ${wait}, even with the right password (brute-force protection). Try again later.`;
}
