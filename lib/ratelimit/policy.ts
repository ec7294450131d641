/**
 * Which counters exist, their limits (RATE_LIMIT_* in lib/env.ts) and the limiter of a database.
 *
 * Keys: `client:<client_id>` (FHIR, token, introspection and revocation calls of one client),
 * `patient:<id>` (FHIR calls in one patient's context, every client together, as API gateways in
 * front of health APIs limit per patient), `register-ip:<ip>` (dynamic registrations),
 * `signin-persona:<who>`, `signin-console:<username>` and `signin-ip:<ip>` (failed sign-ins,
 * 15-minute windows; console usernames share the per-persona limit).
 */
import type { Db } from '../db';
import { getDb } from '../db';
import { env } from '../env';
import { DEFAULT_SANDBOX_ID, rateLimitKeyPrefix } from '../sandbox';
import { currentSandbox } from '../sandbox/context';
import type { RateLimitHit } from './limiter';
import { RateLimiter } from './limiter';

/** Sign-in lockouts count failures over 15 minutes (NIST SP 800-63B §5.2.2: verifiers limit failed authentication attempts). */
export const SIGN_IN_WINDOW_SECONDS = 15 * 60;

export type CounterKind = 'client' | 'patient' | 'register-ip' | 'signin-persona' | 'signin-console' | 'signin-ip';

export const COUNTER_KINDS: readonly CounterKind[] = ['client', 'patient', 'register-ip', 'signin-persona', 'signin-console', 'signin-ip'];

/** The configured limits (0: disabled). */
export interface RateLimitSettings {
  readonly windowSeconds: number;
  readonly client: number;
  readonly patient: number;
  readonly registerIp: number;
  readonly signInPersona: number;
  readonly signInIp: number;
}

/** The limits from the environment. */
export function rateLimitSettings(): RateLimitSettings {
  return {
    windowSeconds: env.RATE_LIMIT_WINDOW_SECONDS,
    client: env.RATE_LIMIT_CLIENT,
    patient: env.RATE_LIMIT_PATIENT,
    registerIp: env.RATE_LIMIT_REGISTER_IP,
    signInPersona: env.RATE_LIMIT_SIGNIN_PERSONA,
    signInIp: env.RATE_LIMIT_SIGNIN_IP,
  };
}

/** Limit, window and environment variable of each kind of counter. */
export function counterSpec(kind: CounterKind, s: RateLimitSettings = rateLimitSettings()): { limit: number; windowSeconds: number; variable: string } {
  switch (kind) {
    case 'client':
      return { limit: s.client, windowSeconds: s.windowSeconds, variable: 'RATE_LIMIT_CLIENT' };
    case 'patient':
      return { limit: s.patient, windowSeconds: s.windowSeconds, variable: 'RATE_LIMIT_PATIENT' };
    case 'register-ip':
      return { limit: s.registerIp, windowSeconds: s.windowSeconds, variable: 'RATE_LIMIT_REGISTER_IP' };
    case 'signin-persona':
      return { limit: s.signInPersona, windowSeconds: SIGN_IN_WINDOW_SECONDS, variable: 'RATE_LIMIT_SIGNIN_PERSONA' };
    case 'signin-console':
      // One account's budget of guesses, whether a persona or the console's: the same variable.
      return { limit: s.signInPersona, windowSeconds: SIGN_IN_WINDOW_SECONDS, variable: 'RATE_LIMIT_SIGNIN_PERSONA' };
    case 'signin-ip':
      return { limit: s.signInIp, windowSeconds: SIGN_IN_WINDOW_SECONDS, variable: 'RATE_LIMIT_SIGNIN_IP' };
  }
}

/**
 * The counter of one kind for one subject (client id, patient id, IP address, persona, console
 * username) in the current sandbox: each sandbox counts on its own (lib/sandbox `rateLimitKeyPrefix`).
 */
export function counter(kind: CounterKind, subject: string, s: RateLimitSettings = rateLimitSettings()): RateLimitHit {
  const { limit, windowSeconds } = counterSpec(kind, s);
  return { key: `${rateLimitKeyPrefix(currentSandbox().id)}${kind}:${subject}`, limit, windowSeconds };
}

/** Splits a counter key into its sandbox, kind and subject (null for a key this module does not write). */
export function parseCounterKey(key: string): { sandboxId: string; kind: CounterKind; subject: string } | null {
  let sandboxId = DEFAULT_SANDBOX_ID;
  let rest = key;
  if (key.startsWith('@')) {
    const slash = key.indexOf('/');
    if (slash < 0) return null;
    sandboxId = key.slice(1, slash);
    rest = key.slice(slash + 1);
  }
  const colon = rest.indexOf(':');
  const kind = rest.slice(0, colon) as CounterKind;
  return colon > 0 && COUNTER_KINDS.includes(kind) ? { sandboxId, kind, subject: rest.slice(colon + 1) } : null;
}

/** The longest window any counter uses: older windows can go. */
export function longestWindowSeconds(s: RateLimitSettings = rateLimitSettings()): number {
  return Math.max(s.windowSeconds, SIGN_IN_WINDOW_SECONDS);
}

/** Whether a counter's units may be reserved ahead in memory (lib/ratelimit/limiter.ts, leases). */
export function isLeasedCounter(key: string): boolean {
  const kind = parseCounterKey(key)?.kind;
  return kind === 'client' || kind === 'patient';
}

const limiters = new WeakMap<Db, RateLimiter>();

/** The limiter of a database (the app's own by default); one per client so pruning stays occasional. */
export function getRateLimiter(db: Db = getDb()): RateLimiter {
  let limiter = limiters.get(db);
  if (!limiter) {
    // The counters of every API call lease units ahead; registration and sign-in counters are counted one statement per check.
    limiter = new RateLimiter(db, { retainSeconds: longestWindowSeconds(), leased: isLeasedCounter });
    limiters.set(db, limiter);
  }
  return limiter;
}
