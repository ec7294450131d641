/**
 * The console's rate-limit view: the configured limits (RATE_LIMIT_*) and the counters of the
 * windows running now, per client, patient and IP address, busiest first (relative to the limit).
 */
import { getDb } from '../db';
import type { Db } from '../db';
import { windowOf } from '../ratelimit/limiter';
import { rateLimitKeyPrefix } from '../sandbox';
import { currentSandbox, sandboxNowMs } from '../sandbox/context';
import type { CounterKind, RateLimitSettings } from '../ratelimit/policy';
import { COUNTER_KINDS, counterSpec, longestWindowSeconds, parseCounterKey, rateLimitSettings } from '../ratelimit/policy';

export interface ConfiguredLimit {
  readonly kind: CounterKind;
  readonly variable: string;
  /** 0: disabled. */
  readonly limit: number;
  readonly windowSeconds: number;
  readonly counts: string;
}

export interface LiveCounter {
  readonly kind: CounterKind;
  /** Client id, patient id, IP address or persona. */
  readonly subject: string;
  readonly count: number;
  /** 0: the limit is disabled now (the counter is from before). */
  readonly limit: number;
  readonly windowEnd: Date;
  /** count / limit (0 when disabled). */
  readonly load: number;
  readonly over: boolean;
}

export interface RateLimitOverview {
  readonly limits: readonly ConfiguredLimit[];
  readonly counters: readonly LiveCounter[];
}

const COUNTS: Record<CounterKind, string> = {
  client: 'FHIR, token, introspection and revocation requests of one client_id',
  patient: 'FHIR requests in one patient’s context (every client together)',
  'register-ip': 'Dynamic client registrations from one IP address',
  'signin-persona': 'Failed sign-ins as one persona (then locked, right password included)',
  'signin-console': 'Failed console sign-ins as one username (then locked, right password included)',
  'signin-ip': 'Failed sign-ins from one IP address (then locked)',
};

/** Configured limits and the live counters of the current windows (at most `max`, busiest first). */
export async function rateLimitOverview(options: { db?: Db; now?: number; max?: number; settings?: RateLimitSettings } = {}): Promise<RateLimitOverview> {
  const db = options.db ?? getDb();
  const now = options.now ?? sandboxNowMs();
  const sandboxId = currentSandbox().id;
  const sandboxPrefix = rateLimitKeyPrefix(sandboxId);
  const settings = options.settings ?? rateLimitSettings();
  const limits = COUNTER_KINDS.map((kind) => ({ kind, ...counterSpec(kind, settings), counts: COUNTS[kind] }));

  const since = Math.floor(now / 1000) - longestWindowSeconds(settings);
  const rows = await db.rateLimitWindow.findMany({
    where: {
      windowStart: { gte: since },
      count: { gt: 0 },
      ...(sandboxPrefix ? { key: { startsWith: sandboxPrefix } } : { NOT: { key: { startsWith: '@' } } }),
    },
    orderBy: { count: 'desc' },
    take: 2000,
  });
  const counters: LiveCounter[] = [];
  for (const row of rows) {
    const parsed = parseCounterKey(row.key);
    if (!parsed || parsed.sandboxId !== sandboxId) continue;
    const spec = counterSpec(parsed.kind, settings);
    const window = windowOf(now, spec.windowSeconds);
    if (row.windowStart !== window.start) continue;
    const load = spec.limit > 0 ? row.count / spec.limit : 0;
    counters.push({
      kind: parsed.kind,
      subject: parsed.subject,
      count: row.count,
      limit: spec.limit,
      windowEnd: new Date(window.end * 1000),
      load,
      over: spec.limit > 0 && row.count > spec.limit,
    });
  }
  counters.sort((a, b) => b.load - a.load || b.count - a.count);
  return { limits, counters: counters.slice(0, options.max ?? 100) };
}
