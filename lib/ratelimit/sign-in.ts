/**
 * Brute-force protection of persona sign-in: failed attempts are counted per persona and per IP
 * address over 15 minutes (RATE_LIMIT_SIGNIN_PERSONA, RATE_LIMIT_SIGNIN_IP). Past a limit every
 * attempt is refused until the window ends, the right password included: otherwise an attacker
 * would learn the password from the one answer that differs (NIST SP 800-63B §5.2.2).
 *
 * Counting is race-free: every attempt adds to both counters first (one statement) and an attempt
 * that succeeds takes its count back (one more), so parallel guesses each see their own position
 * and successful sign-ins never count. Failed and refused attempts are audited; refused ones are
 * flagged rate-limited for the console's alerts.
 */
import type { AuditFlag } from '../audit/record';
import { recordAudit } from '../audit/record';
import type { Persona } from '../auth/personas';
import { findPersonaByFhirUser, findPersonaByUsername, passwordMatches } from '../auth/personas';
import type { RateLimitHit } from './limiter';
import { rateLimitMessage } from './describe';
import { clientIpOf, counter, getRateLimiter } from './policy';

export type SignInAttempt =
  | { readonly kind: 'signed-in'; readonly persona: Persona }
  | { readonly kind: 'failed' }
  | { readonly kind: 'locked'; readonly scope: 'persona' | 'ip'; readonly retryAfterSeconds: number; readonly message: string };

export interface SignInInput {
  readonly sandboxId: string;
  /** One-click sign-in: the persona's `fhirUser` (no password). */
  readonly oneClick?: string | null;
  readonly username?: string;
  readonly password?: string;
  /** Request headers (X-Forwarded-For for the per-IP counter, User-Agent and Origin for the audit). */
  readonly headers: Headers | Record<string, string | string[] | undefined>;
  /** For the audit record: the path signed in through, the app being authorized, the status answered on failure. */
  readonly audit: { readonly endpoint: string; readonly clientId?: string | null; readonly launchId?: string | null; readonly failureStatus: number };
}

function header(headers: SignInInput['headers'], name: string): string | null {
  if (headers instanceof Headers) return headers.get(name);
  const v = headers[name];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
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
  const ip = clientIpOf(input.headers);
  const personaCounter = counter('signin-persona', subject);
  const hits: RateLimitHit[] = [personaCounter, ...(ip ? [counter('signin-ip', ip)] : [])];

  const limiter = getRateLimiter();
  const verdict = await limiter.hit(hits);
  const audit = (status: number, errorCode: string, detail: string, flags: AuditFlag[]) =>
    recordAudit({
      kind: 'oauth',
      method: 'POST',
      endpoint: input.audit.endpoint,
      clientId: input.audit.clientId ?? null,
      launchId: input.audit.launchId ?? null,
      userId: persona?.fhirUser ?? null,
      status,
      errorCode,
      detail,
      latencyMs: performance.now() - started,
      ip,
      userAgent: header(input.headers, 'user-agent')?.slice(0, 300) ?? null,
      origin: header(input.headers, 'origin'),
      flags,
    });

  if (!verdict.allowed) {
    const scope = verdict.exceeded.some((e) => e.key === personaCounter.key) ? 'persona' : 'ip';
    const message = rateLimitMessage(verdict.exceeded, verdict.retryAfterSeconds);
    await audit(input.audit.failureStatus, 'signin_locked', `sign-in refused: ${message}`, ['rate-limited']);
    return { kind: 'locked', scope, retryAfterSeconds: verdict.retryAfterSeconds, message };
  }
  const ok = persona !== null && (input.oneClick ? true : passwordMatches(input.password ?? ''));
  if (ok) {
    await limiter.refund(hits);
    return { kind: 'signed-in', persona };
  }
  const failures = verdict.counts.get(personaCounter.key);
  await audit(input.audit.failureStatus, 'invalid_credentials', `sign-in failed: ${persona ? 'wrong password' : 'unknown user'}${failures !== undefined ? ` (${failures} of ${personaCounter.limit} allowed failures for this user)` : ''}`, []);
  return { kind: 'failed' };
}

/** Query value the sign-in screen is redirected with after a refused attempt. */
export function lockedErrorKey(scope: 'persona' | 'ip'): string {
  return `locked-${scope}`;
}

/**
 * What the sign-in screen says after a refused attempt (`error=locked-persona|locked-ip`,
 * `retry=<seconds>`), or null for any other error key.
 */
export function lockedSignInMessage(errorKey: string, retry: string | null): string | null {
  if (errorKey !== 'locked-persona' && errorKey !== 'locked-ip') return null;
  const seconds = Math.min(Math.max(Number.parseInt(retry ?? '', 10) || 60, 1), 24 * 3600);
  const minutes = Math.ceil(seconds / 60);
  const wait = `${minutes} minute${minutes === 1 ? '' : 's'}`;
  return errorKey === 'locked-persona'
    ? `Too many failed sign-in attempts for this user: sign-in as this user is locked for about ${wait}, even with the right password (brute-force protection). Try again later.`
    : `Too many failed sign-in attempts from your network address: sign-in is locked for about ${wait}, even with the right password (brute-force protection). Try again later.`;
}
