/**
 * Fixed-window rate limiting with its counters in the database (state lives in the
 * database, never only in memory), so every app instance on one PostgreSQL adds to the same counters.
 *
 * Checks are counted in ONE statement whatever the number of keys: a multi-row
 * `INSERT … ON CONFLICT ("key", "windowStart") DO UPDATE SET "count" = "count" + n RETURNING …`
 * (SQLite ≥ 3.35 and PostgreSQL), atomic per row, so concurrent requests on several instances each
 * see their own position in the window. The checks of one turn of the event loop share that
 * statement (group commit, like the audit records): each call adds its own one to every key and
 * is told the count it would have seen had the calls run one after another in call order.
 * Windows start at multiples of their length since the epoch; a refused request still counts (a
 * throttled caller does not get a fresh budget by insisting).
 * Old windows are deleted now and then (at most once per PRUNE_INTERVAL per process), never on
 * the request's own path.
 *
 * Leases (for the keys `leased` names: the per-client and per-patient counters of every API call):
 * a statement that counts a leased key also reserves a few more of the window's units for this
 * process, and the next checks of that key take them in memory, one each, without a statement.
 * Every unit is still a row increment in the database before it is used, so all instances
 * together never let more than the limit through, and the count a check sees is its real place in
 * the window. The price: units reserved and not yet used count as used for every other instance,
 * so near the limit another instance may refuse a little early. A lease is at most 1/LEASE_SHARE of
 * what was left of the limit when it was taken (and at most LEASE_MAX), so it shrinks to nothing
 * as the window fills: the last units before the limit are counted one statement each, as without
 * leases. A lease never outlives its window; a restart forfeits it (the window then refuses at
 * most that many requests early).
 */
// node:timers' own setImmediate: a test that fakes the global timers must not stall the checks.
import { setImmediate } from 'node:timers';
import type { Db } from '../db';
import { rawQuery } from '../db/direct';
import { sandboxNowMs } from '../sandbox/context';
import { Prisma } from '../generated/sqlite/client';

const { sql, join } = Prisma;

/** One counter a request adds to. A limit of 0 (or less) disables it. */
export interface RateLimitHit {
  readonly key: string;
  readonly limit: number;
  readonly windowSeconds: number;
}

/** A counter that went over its limit. */
export interface RateLimitExceeded extends RateLimitHit {
  readonly count: number;
  /** Seconds until the window ends (RFC 9110 §10.2.3 Retry-After, delay-seconds): at least 1. */
  readonly retryAfterSeconds: number;
}

export interface RateLimitVerdict {
  readonly allowed: boolean;
  /** The counters over their limit, longest wait first. */
  readonly exceeded: readonly RateLimitExceeded[];
  /** The longest wait among the exceeded counters (0 when allowed). */
  readonly retryAfterSeconds: number;
  /** Count of every enabled key after this hit. */
  readonly counts: ReadonlyMap<string, number>;
}

/** The fixed window `now` falls in: start and end in epoch seconds. */
export function windowOf(nowMs: number, windowSeconds: number): { start: number; end: number } {
  const length = Math.max(1, Math.floor(windowSeconds));
  const start = Math.floor(nowMs / 1000 / length) * length;
  return { start, end: start + length };
}

/** Seconds from `now` to the end of its window, rounded up, at least 1. */
export function retryAfterSeconds(nowMs: number, windowSeconds: number): number {
  const { end } = windowOf(nowMs, windowSeconds);
  return Math.max(1, Math.ceil(end - nowMs / 1000));
}

/** The enabled hits, one per key (the first one of a key wins), in key order (a fixed lock order). */
export function enabledHits(hits: readonly RateLimitHit[]): RateLimitHit[] {
  const byKey = new Map<string, RateLimitHit>();
  for (const h of hits) if (h.limit > 0 && h.key !== '' && !byKey.has(h.key)) byKey.set(h.key, h);
  return [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

const ALLOWED: RateLimitVerdict = { allowed: true, exceeded: [], retryAfterSeconds: 0, counts: new Map() };

/** Most checks counted by one statement (two keys each stay far below either database's parameter limit). */
const MAX_BATCH = 500;

/** Most units one statement reserves ahead for a leased key. */
export const LEASE_MAX = 64;
/** A lease is at most this fraction (1/n) of what is left of the limit. */
export const LEASE_SHARE = 16;

/** Units of one counter row reserved by this process: the places `next`…`last` in its window. */
interface Lease {
  next: number;
  last: number;
  /** When the window ends in real time (epoch ms; a sandbox's clock may be offset): the lease is dropped after it. */
  readonly dropAfter: number;
}

interface PendingHit {
  readonly enabled: readonly RateLimitHit[];
  readonly nowMs: number;
  readonly resolve: (verdict: RateLimitVerdict) => void;
  readonly reject: (error: unknown) => void;
}

/** The counter row a hit adds to. */
const rowKey = (key: string, windowStart: number) => `${key}\u0000${windowStart}`;

export interface RateLimiterOptions {
  /** Clock (epoch ms) of the windows a hit counts in: the request's sandbox clock by default; tests freeze it. */
  readonly now?: () => number;
  /** Windows that started more than this many seconds ago are deleted by prune(). */
  readonly retainSeconds: number;
  /** Minimum time between two automatic prunes in one process (default 5 min). */
  readonly pruneIntervalMs?: number;
  /** Keys whose units may be reserved ahead in memory (see the file comment); none by default. */
  readonly leased?: (key: string) => boolean;
}

/** Counters of one database. */
export class RateLimiter {
  private readonly now: () => number;
  private readonly realNow: () => number;
  private readonly retainSeconds: number;
  private readonly pruneIntervalMs: number;
  private lastPrune: number;
  private pruning: Promise<number> | null = null;
  private pending: PendingHit[] = [];
  private scheduled = false;
  private readonly leased: (key: string) => boolean;
  /** Leases by counter row, and the last count this process saw of each leased row. */
  private readonly leases = new Map<string, Lease>();
  /** Counter rows whose statement reserving units ahead is in flight: other statements reserve none meanwhile. */
  private readonly reserving = new Set<string>();
  private lastLeaseSweep = 0;

  constructor(
    private readonly db: Db,
    options: RateLimiterOptions,
  ) {
    this.now = options.now ?? sandboxNowMs;
    // Pruning keeps real time: a sandbox whose clock runs ahead must not delete the windows of the others.
    this.realNow = options.now ?? Date.now;
    this.retainSeconds = options.retainSeconds;
    this.pruneIntervalMs = options.pruneIntervalMs ?? 5 * 60_000;
    this.leased = options.leased ?? (() => false);
    // The first prune of a process waits one interval: a restart loop must not delete on every start.
    this.lastPrune = this.realNow();
  }

  /**
   * Adds one to every enabled key and says whether any went over its limit. A leased key with units
   * left takes one in memory; the other keys of the calls of one turn of the event loop are counted
   * together in one statement. Nothing is written when every limit is disabled. Rejects when the
   * statement fails (every call it carried rejects alike).
   */
  hit(hits: readonly RateLimitHit[]): Promise<RateLimitVerdict> {
    const enabled = enabledHits(hits);
    if (enabled.length === 0) return Promise.resolve(ALLOWED);
    const nowMs = this.now();
    // Keys with units leased to this process take one each now; the others go to the next statement.
    const counts = new Map<string, number>();
    const remote: RateLimitHit[] = [];
    for (const h of enabled) {
      const place = this.takeLeased(h, nowMs);
      if (place === null) remote.push(h);
      else counts.set(h.key, place);
    }
    if (remote.length === 0) return Promise.resolve(verdictOf(enabled, counts, nowMs));
    return new Promise<RateLimitVerdict>((resolve, reject) => {
      this.pending.push({
        enabled: remote,
        nowMs,
        resolve: (verdict) => {
          if (counts.size === 0) return resolve(verdict);
          for (const [key, count] of verdict.counts) counts.set(key, count);
          resolve(verdictOf(enabled, counts, nowMs));
        },
        reject,
      });
      this.schedule();
    });
  }

  /** The next leased place of a key in its current window, or null when this process holds none. */
  private takeLeased(h: RateLimitHit, nowMs: number): number | null {
    if (!this.leased(h.key)) return null;
    const { start } = windowOf(nowMs, h.windowSeconds);
    const lease = this.leases.get(rowKey(h.key, start));
    if (!lease || lease.next > lease.last) return null;
    return lease.next++;
  }

  /** Units to reserve beyond the batch's own for a leased row whose count was `known` before it. */
  private leaseSize(h: RateLimitHit, id: string, demand: number): number {
    if (!this.leased(h.key)) return 0;
    // The first statement of a window in this process reserves nothing: it learns the count.
    const known = this.leases.get(id);
    if (!known) return 0;
    // One reservation at a time: calls that arrive while units are still held or already being
    // reserved count without reserving more, so no reserved unit is thrown away unused.
    if (known.next <= known.last || this.reserving.has(id)) return 0;
    const left = h.limit - (known.last + demand);
    return Math.max(0, Math.min(LEASE_MAX, Math.floor(left / LEASE_SHARE)));
  }

  /** Drops the leases of windows that have ended (looked at most once a second). */
  private dropEndedLeases(): void {
    const now = Date.now();
    if (now - this.lastLeaseSweep < 1000) return;
    this.lastLeaseSweep = now;
    for (const [id, lease] of this.leases) if (lease.dropAfter <= now) this.leases.delete(id);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const batch = this.pending.splice(0, MAX_BATCH);
      if (this.pending.length > 0) this.schedule();
      void this.count(batch);
    });
  }

  /** One statement for a batch of calls; each call gets the counts of its own position. */
  private async count(batch: readonly PendingHit[]): Promise<void> {
    const rows = new Map<string, { key: string; windowStart: number; msLeft: number; n: number; ahead: number; hit: RateLimitHit }>();
    // The counter row of each hit of each call, in call order.
    const rowIds = batch.map((call) =>
      call.enabled.map((h) => {
        const { start, end } = windowOf(call.nowMs, h.windowSeconds);
        const id = rowKey(h.key, start);
        const row = rows.get(id);
        if (row) row.n++;
        else rows.set(id, { key: h.key, windowStart: start, msLeft: end * 1000 - call.nowMs, n: 1, ahead: 0, hit: h });
        return id;
      }),
    );
    for (const [id, row] of rows) row.ahead = this.leaseSize(row.hit, id, row.n);
    const reserved = [...rows].filter(([, row]) => row.ahead > 0).map(([id]) => id);
    for (const id of reserved) this.reserving.add(id);
    // A fixed order of the rows, so that concurrent statements on PostgreSQL lock them in the same order.
    const ordered = [...rows.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.windowStart - b.windowStart));
    let returned: { key: string; windowStart: unknown; count: unknown }[];
    try {
      returned = await rawQuery(
        this.db,
        sql`INSERT INTO "RateLimitWindow" ("key", "windowStart", "count") VALUES ${join(ordered.map((r) => sql`(${r.key}, ${r.windowStart}, ${r.n + r.ahead})`))}
            ON CONFLICT ("key", "windowStart") DO UPDATE SET "count" = "RateLimitWindow"."count" + excluded."count"
            RETURNING "key", "windowStart", "count"`,
      );
    } catch (err) {
      for (const id of reserved) this.reserving.delete(id);
      for (const call of batch) call.reject(err);
      return;
    }
    for (const id of reserved) this.reserving.delete(id);
    this.maybePrune();
    const finalCount = new Map(returned.map((r) => [rowKey(r.key, Number(r.windowStart)), Number(r.count)]));
    // The places of this batch's calls come first, then the units reserved ahead (a lease is
    // replaced only when it holds no unit any more, or by the one statement reserving more).
    if (this.leases.size > 0) this.dropEndedLeases();
    for (const [id, row] of rows) {
      if (!this.leased(row.key)) continue;
      const held = this.leases.get(id);
      // A statement that reserved nothing leaves a lease that still holds units as it is.
      if (row.ahead === 0 && held && held.next <= held.last) continue;
      const last = finalCount.get(id) ?? 0;
      this.leases.set(id, { next: last - row.ahead + 1, last, dropAfter: Date.now() + row.msLeft });
    }
    // The count before this batch is the final count less the batch's own adds; calls take their places in order.
    const seen = new Map<string, number>();
    batch.forEach((call, c) => {
      const counts = new Map<string, number>();
      call.enabled.forEach((h, i) => {
        const id = rowIds[c]![i]!;
        const place = (seen.get(id) ?? 0) + 1;
        seen.set(id, place);
        const row = rows.get(id)!;
        counts.set(h.key, (finalCount.get(id) ?? 0) - row.ahead - row.n + place);
      });
      call.resolve(verdictOf(call.enabled, counts, call.nowMs));
    });
  }

  /**
   * Takes one back from every enabled key of the current window (a sign-in that turned out
   * right), in one statement. Counts never go below zero.
   */
  async refund(hits: readonly RateLimitHit[]): Promise<void> {
    const enabled = enabledHits(hits);
    if (enabled.length === 0) return;
    const nowMs = this.now();
    const match = enabled.map((h) => sql`("key" = ${h.key} AND "windowStart" = ${windowOf(nowMs, h.windowSeconds).start})`);
    await this.db.$executeRaw(sql`UPDATE "RateLimitWindow" SET "count" = "count" - 1 WHERE "count" > 0 AND (${join(match, ' OR ')})`);
  }

  /** Deletes windows that started more than retainSeconds ago; returns how many. */
  async prune(): Promise<number> {
    const cutoff = Math.floor(this.realNow() / 1000) - this.retainSeconds;
    this.lastPrune = this.realNow();
    return this.db.$executeRaw(sql`DELETE FROM "RateLimitWindow" WHERE "windowStart" < ${cutoff}`);
  }

  private maybePrune(): void {
    if (this.pruning || this.realNow() - this.lastPrune < this.pruneIntervalMs) return;
    this.pruning = this.prune()
      .catch((err: unknown) => {
        console.error('rate limit: pruning old windows failed:', err instanceof Error ? err.message : String(err));
        return 0;
      })
      .finally(() => {
        this.pruning = null;
      });
  }

  /** The prune running in the background, if any (tests wait for it). */
  get pendingPrune(): Promise<number> | null {
    return this.pruning;
  }
}

function verdictOf(enabled: readonly RateLimitHit[], counts: ReadonlyMap<string, number>, nowMs: number): RateLimitVerdict {
  const exceeded: RateLimitExceeded[] = [];
  for (const h of enabled) {
    const count = counts.get(h.key) ?? 0;
    if (count > h.limit) exceeded.push({ ...h, count, retryAfterSeconds: retryAfterSeconds(nowMs, h.windowSeconds) });
  }
  exceeded.sort((a, b) => b.retryAfterSeconds - a.retryAfterSeconds);
  return { allowed: exceeded.length === 0, exceeded, retryAfterSeconds: exceeded[0]?.retryAfterSeconds ?? 0, counts };
}
