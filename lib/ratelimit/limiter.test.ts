/**
 * The database-backed fixed-window limiter on SQLite (this file's unit database) and PostgreSQL
 * (TEST_DATABASE_URL, or a throwaway cluster when the server binaries are installed): window
 * math, several keys in one statement, atomic counting under concurrency, disabled limits,
 * refunds and pruning.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, getDb } from '../db';
import type { Db } from '../db';
import { runInSandbox } from '../sandbox/context';
import type { RateLimitHit } from './limiter';
import { enabledHits, LEASE_MAX, RateLimiter, retryAfterSeconds, windowOf } from './limiter';
import { describeExceeded, rateLimitMessage } from './describe';
import { counter, isLeasedCounter, parseCounterKey } from './policy';
// @ts-expect-error plain ESM helper without types
import { findPgBin, startCluster } from '../../scripts/lib/pg-cluster.mjs';
// @ts-expect-error plain ESM helper without types
import { freshPostgresDatabase } from '../../scripts/lib/pg-database.mjs';
// @ts-expect-error plain ESM helper without types
import { applyMigrations } from '../../scripts/lib/schema-engine.mjs';

// 2030-01-01T00:00:00Z is a multiple of 60, 900 and 3600 seconds.
const T0 = Date.UTC(2030, 0, 1);

describe('window math', () => {
  it('aligns windows to multiples of their length since the epoch', () => {
    expect(windowOf(T0, 60)).toEqual({ start: T0 / 1000, end: T0 / 1000 + 60 });
    expect(windowOf(T0 + 59_999, 60)).toEqual({ start: T0 / 1000, end: T0 / 1000 + 60 });
    expect(windowOf(T0 + 60_000, 60)).toEqual({ start: T0 / 1000 + 60, end: T0 / 1000 + 120 });
    expect(windowOf(T0 + 899_000, 900).start).toBe(T0 / 1000);
  });

  it('Retry-After is the seconds left in the window, rounded up, never 0', () => {
    expect(retryAfterSeconds(T0, 60)).toBe(60);
    expect(retryAfterSeconds(T0 + 0.4, 60)).toBe(60);
    expect(retryAfterSeconds(T0 + 45_000, 60)).toBe(15);
    expect(retryAfterSeconds(T0 + 59_999, 60)).toBe(1);
    expect(retryAfterSeconds(T0 + 3_000, 3600)).toBe(3597);
  });

  it('drops disabled limits and repeated keys, and orders keys', () => {
    const hits: RateLimitHit[] = [
      { key: 'patient:p', limit: 5, windowSeconds: 60 },
      { key: 'client:c', limit: 0, windowSeconds: 60 },
      { key: 'client:b', limit: 3, windowSeconds: 60 },
      { key: 'patient:p', limit: 9, windowSeconds: 60 },
    ];
    expect(enabledHits(hits)).toEqual([
      { key: 'client:b', limit: 3, windowSeconds: 60 },
      { key: 'patient:p', limit: 5, windowSeconds: 60 },
    ]);
  });
});

describe('keys, addresses and messages', () => {
  it('builds counters from the configured limits', () => {
    const s = { windowSeconds: 60, client: 1200, patient: 600, registerIp: 60, signInPersona: 10, signInIp: 50 };
    expect(counter('client', 'app-1', s)).toEqual({ key: 'client:app-1', limit: 1200, windowSeconds: 60 });
    expect(counter('signin-persona', 'Practitioner/p1', s)).toEqual({ key: 'signin-persona:Practitioner/p1', limit: 10, windowSeconds: 900 });
    expect(parseCounterKey('patient:abc:def')).toEqual({ sandboxId: 'default', kind: 'patient', subject: 'abc:def' });
    expect(parseCounterKey('other:x')).toBeNull();
    expect([isLeasedCounter('client:a'), isLeasedCounter('patient:p'), isLeasedCounter('register-ip:1.2.3.4'), isLeasedCounter('signin-ip:1.2.3.4')]).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });

  it('counts each sandbox on its own', () => {
    const s = { windowSeconds: 60, client: 1200, patient: 600, registerIp: 60, signInPersona: 10, signInIp: 50 };
    const ctx = { id: 'sbx-1', basePath: '/s/sbx-1', clockOffsetSeconds: 0 };
    const hit = runInSandbox(ctx, () => counter('signin-ip', '10.0.0.1', s));
    expect(hit.key).toBe('@sbx-1/signin-ip:10.0.0.1');
    expect(parseCounterKey(hit.key)).toEqual({ sandboxId: 'sbx-1', kind: 'signin-ip', subject: '10.0.0.1' });
    expect(parseCounterKey('@sbx-1')).toBeNull();
  });

  it('names the limit, its variable and the wait', () => {
    const e = { key: 'patient:pat-1', limit: 600, windowSeconds: 60, count: 601, retryAfterSeconds: 12 };
    expect(describeExceeded(e)).toBe("patient 'pat-1', all clients together: more than 600 requests per 1 minute (RATE_LIMIT_PATIENT)");
    expect(rateLimitMessage([e], 12)).toMatch(/^Rate limit exceeded for patient 'pat-1'.*Retry after 12 s\.$/);
    expect(describeExceeded({ key: 'signin-ip:10.0.0.1', limit: 50, windowSeconds: 900, count: 51, retryAfterSeconds: 3 })).toBe(
      'sign-ins from 10.0.0.1: more than 50 failed sign-ins per 15 minutes (RATE_LIMIT_SIGNIN_IP)',
    );
  });
});

/** A Db whose raw statements are counted. */
function counting(db: Db, delayMs = 0): { db: Db; statements: () => number } {
  let n = 0;
  const proxy = new Proxy(db, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value === 'function' && typeof prop === 'string' && prop.startsWith('$') && prop.includes('Raw')) {
        return (...args: unknown[]) => {
          n++;
          const run = () => (value as (...a: unknown[]) => unknown).apply(target, args);
          // A slow database: the statement starts later, so statements of separate calls overlap.
          return delayMs > 0 ? new Promise((resolve) => setTimeout(resolve, delayMs)).then(run) : run();
        };
      }
      return value;
    },
  });
  return { db: proxy, statements: () => n };
}

const pgAvailable = Boolean(process.env.TEST_DATABASE_URL) || Boolean(findPgBin());
let cluster: { url: string; stop(): Promise<void> } | undefined;
let pg: Db | undefined;

beforeAll(async () => {
  if (!pgAvailable) return;
  let server = process.env.TEST_DATABASE_URL;
  if (!server) {
    cluster = (await startCluster()) as { url: string; stop(): Promise<void> };
    server = cluster.url;
  }
  const url = (await freshPostgresDatabase(server, 'ratelimit')) as string;
  await applyMigrations({ kind: 'postgresql', url });
  pg = createDb(url).db;
}, 120_000);

afterAll(async () => {
  await pg?.$disconnect();
  await cluster?.stop();
});

const databases: [string, () => Db | undefined][] = [
  ['SQLite', () => getDb()],
  ['PostgreSQL', () => pg],
];

describe.each(databases)('on %s', (name, dbOf) => {
  let clock = T0;
  const now = () => clock;
  let seq = 0;
  /** Keys unique to one test (the database is shared by the tests of this file). */
  const fresh = (kind: string) => `${kind}:${name}-${++seq}`;
  const available = () => {
    const db = dbOf();
    if (!db && name === 'PostgreSQL' && !pgAvailable) return null;
    if (!db) throw new Error(`${name} database not ready`);
    return db;
  };

  it('counts several keys in ONE statement and refuses past the limit with the time left', async (t) => {
    const db = available();
    if (!db) return t.skip();
    clock = T0 + 20_000;
    const { db: counted, statements } = counting(db);
    const limiter = new RateLimiter(counted, { now, retainSeconds: 3600 });
    const client = { key: fresh('client'), limit: 3, windowSeconds: 60 };
    const patient = { key: fresh('patient'), limit: 2, windowSeconds: 60 };

    const first = await limiter.hit([client, patient]);
    expect(statements()).toBe(1);
    expect(first.allowed).toBe(true);
    expect([...first.counts].sort()).toEqual(
      [
        [client.key, 1],
        [patient.key, 1],
      ].sort(),
    );

    expect((await limiter.hit([client, patient])).allowed).toBe(true);
    const third = await limiter.hit([client, patient]);
    expect(statements()).toBe(3);
    expect(third.allowed).toBe(false);
    expect(third.exceeded.map((e) => [e.key, e.count, e.limit])).toEqual([[patient.key, 3, 2]]);
    expect(third.retryAfterSeconds).toBe(40);

    // The client alone is still under its limit; the refused request counted anyway.
    const alone = await limiter.hit([client]);
    expect(alone.counts.get(client.key)).toBe(4);
    expect(alone.allowed).toBe(false);
  });

  it('starts a fresh count in the next window', async (t) => {
    const db = available();
    if (!db) return t.skip();
    clock = T0 + 59_000;
    const limiter = new RateLimiter(db, { now, retainSeconds: 3600 });
    const key = { key: fresh('client'), limit: 1, windowSeconds: 60 };
    expect((await limiter.hit([key])).allowed).toBe(true);
    const over = await limiter.hit([key]);
    expect(over.allowed).toBe(false);
    expect(over.retryAfterSeconds).toBe(1);
    clock = T0 + 60_000;
    const next = await limiter.hit([key]);
    expect(next.allowed).toBe(true);
    expect(next.counts.get(key.key)).toBe(1);
  });

  it('writes nothing for disabled limits', async (t) => {
    const db = available();
    if (!db) return t.skip();
    clock = T0;
    const { db: counted, statements } = counting(db);
    const limiter = new RateLimiter(counted, { now, retainSeconds: 3600 });
    const off = { key: fresh('client'), limit: 0, windowSeconds: 60 };
    for (let i = 0; i < 3; i++) expect((await limiter.hit([off])).allowed).toBe(true);
    expect(statements()).toBe(0);
    expect(await db.rateLimitWindow.count({ where: { key: off.key } })).toBe(0);
    // A disabled key beside an enabled one is left out of the statement.
    const on = { key: fresh('patient'), limit: 5, windowSeconds: 60 };
    const mixed = await limiter.hit([off, on]);
    expect([...mixed.counts.keys()]).toEqual([on.key]);
    expect(await db.rateLimitWindow.count({ where: { key: off.key } })).toBe(0);
  });

  it('counts concurrent hits exactly (each request sees its own position)', async (t) => {
    const db = available();
    if (!db) return t.skip();
    clock = T0;
    const limiter = new RateLimiter(db, { now, retainSeconds: 3600 });
    const a = { key: fresh('client'), limit: 25, windowSeconds: 60 };
    const b = { key: fresh('patient'), limit: 100, windowSeconds: 60 };
    const verdicts = await Promise.all(Array.from({ length: 40 }, (_, i) => limiter.hit(i % 2 ? [a, b] : [b, a])));
    expect(verdicts.map((v) => v.counts.get(a.key)).sort((x, y) => (x ?? 0) - (y ?? 0))).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(25);
    const row = await db.rateLimitWindow.findUnique({ where: { key_windowStart: { key: b.key, windowStart: T0 / 1000 } } });
    expect(row?.count).toBe(40);
  });

  it('counts the checks of one turn in one statement, each at its own place in call order', async (t) => {
    const db = available();
    if (!db) return t.skip();
    clock = T0 + 30_000;
    const { db: counted, statements } = counting(db);
    const limiter = new RateLimiter(counted, { now, retainSeconds: 3600 });
    const client = { key: fresh('client'), limit: 30, windowSeconds: 60 };
    const patientA = { key: fresh('patient'), limit: 4, windowSeconds: 60 };
    const patientB = { key: fresh('patient'), limit: 100, windowSeconds: 60 };
    await limiter.hit([client]); // one earlier check: the batch starts at 2 for the client
    expect(statements()).toBe(1);
    const verdicts = await Promise.all(Array.from({ length: 12 }, (_, i) => limiter.hit([client, i % 3 === 2 ? patientB : patientA])));
    expect(statements()).toBe(2);
    expect(verdicts.map((v) => v.counts.get(client.key))).toEqual(Array.from({ length: 12 }, (_, i) => i + 2));
    // patientA is hit by calls 0, 1, 3, 4, 6, 7, 9, 10: places 1..8 in that order; over its limit of 4 from the fifth.
    expect(verdicts.filter((_, i) => i % 3 !== 2).map((v) => v.counts.get(patientA.key))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(verdicts.filter((_, i) => i % 3 === 2).map((v) => v.counts.get(patientB.key))).toEqual([1, 2, 3, 4]);
    expect(verdicts.map((v) => v.allowed)).toEqual(verdicts.map((_, i) => i % 3 === 2 || [0, 1, 3, 4].includes(i)));
    const stored = await db.rateLimitWindow.findMany({ where: { key: { in: [client.key, patientA.key, patientB.key] } }, orderBy: { key: 'asc' } });
    expect(Object.fromEntries(stored.map((r) => [r.key, r.count]))).toEqual({ [client.key]: 13, [patientA.key]: 8, [patientB.key]: 4 });
  });

  it('a batch that crosses into the next window counts each call in its own window', async (t) => {
    const db = available();
    if (!db) return t.skip();
    const limiter = new RateLimiter(db, { now, retainSeconds: 3600 });
    const key = { key: fresh('client'), limit: 1, windowSeconds: 60 };
    clock = T0 + 59_999;
    const before = limiter.hit([key]);
    const beforeToo = limiter.hit([key]);
    clock = T0 + 60_000;
    const after = limiter.hit([key]);
    const [a, b, c] = await Promise.all([before, beforeToo, after]);
    expect([a.counts.get(key.key), b.counts.get(key.key), c.counts.get(key.key)]).toEqual([1, 2, 1]);
    expect([a.allowed, b.allowed, c.allowed]).toEqual([true, false, true]);
  });

  it('a failing statement rejects every check it carried, and the next checks count again', async (t) => {
    const db = available();
    if (!db) return t.skip();
    clock = T0;
    let fail = true;
    const flaky = new Proxy(db, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (prop === '$queryRaw')
          return (...args: unknown[]) => (fail ? Promise.reject(new Error('database down')) : (value as (...a: unknown[]) => unknown).apply(target, args));
        return value;
      },
    });
    const limiter = new RateLimiter(flaky, { now, retainSeconds: 3600 });
    const key = { key: fresh('client'), limit: 10, windowSeconds: 60 };
    const results = await Promise.allSettled([limiter.hit([key]), limiter.hit([key]), limiter.hit([key])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    fail = false;
    expect((await limiter.hit([key])).counts.get(key.key)).toBe(1);
  });

  it('refunds a hit in the current window, never below zero', async (t) => {
    const db = available();
    if (!db) return t.skip();
    clock = T0 + 5_000;
    const limiter = new RateLimiter(db, { now, retainSeconds: 3600 });
    const persona = { key: fresh('signin-persona'), limit: 2, windowSeconds: 900 };
    const ip = { key: fresh('signin-ip'), limit: 5, windowSeconds: 900 };
    await limiter.hit([persona, ip]);
    await limiter.hit([persona, ip]);
    await limiter.refund([persona, ip]);
    const after = await limiter.hit([persona, ip]);
    expect(after.counts.get(persona.key)).toBe(2);
    expect(after.allowed).toBe(true);
    for (let i = 0; i < 4; i++) await limiter.refund([persona]);
    expect((await limiter.hit([persona])).counts.get(persona.key)).toBe(1);
  });

  it('a leased key takes units reserved ahead without a statement, each check still at its own place', async (t) => {
    const db = available();
    if (!db) return t.skip();
    clock = T0 + 10_000;
    const { db: counted, statements } = counting(db);
    const limiter = new RateLimiter(counted, { now, retainSeconds: 3600, leased: () => true });
    const key = { key: fresh('client'), limit: 100_000, windowSeconds: 60 };
    const places: number[] = [];
    for (let i = 0; i < 2 + LEASE_MAX; i++) places.push((await limiter.hit([key])).counts.get(key.key)!);
    // The first statement learns the count, the second reserves LEASE_MAX ahead; those take none.
    expect(statements()).toBe(2);
    expect(places).toEqual(Array.from({ length: 2 + LEASE_MAX }, (_, i) => i + 1));
    const row = await db.rateLimitWindow.findUnique({ where: { key_windowStart: { key: key.key, windowStart: T0 / 1000 } } });
    expect(row?.count).toBe(2 + LEASE_MAX);
    // A new window starts without a lease.
    clock = T0 + 70_000;
    expect((await limiter.hit([key])).counts.get(key.key)).toBe(1);
    expect(statements()).toBe(3);
  });

  it('calls that arrive while a reservation is in flight reserve nothing more, so reserved units are never thrown away', async (t) => {
    const db = available();
    if (!db) return t.skip();
    clock = T0 + 14_000;
    const { db: slow } = counting(db, 20);
    const limiter = new RateLimiter(slow, { now, retainSeconds: 3600, leased: () => true });
    const key = { key: fresh('client'), limit: 100_000, windowSeconds: 60 };
    await limiter.hit([key]);
    const calls = [];
    for (let i = 0; i < 10; i++) {
      calls.push(limiter.hit([key]));
      // Each call in a turn of its own, while the statements of the earlier ones are in flight.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const places = (await Promise.all(calls)).map((v) => v.counts.get(key.key)!);
    expect(new Set(places).size).toBe(10);
    const row = await db.rateLimitWindow.findUnique({ where: { key_windowStart: { key: key.key, windowStart: T0 / 1000 } } });
    // The eleven checks and at most one reservation ahead: a limit is never reached by units no call took.
    expect(row!.count).toBeGreaterThanOrEqual(11);
    expect(row!.count).toBeLessThanOrEqual(11 + LEASE_MAX);
  });

  it('two instances with leases on one database never let more than the limit through, and count exactly near it', async (t) => {
    const db = available();
    if (!db) return t.skip();
    clock = T0 + 12_000;
    const { db: counted, statements } = counting(db);
    const a = new RateLimiter(counted, { now, retainSeconds: 3600, leased: () => true });
    const b = new RateLimiter(counted, { now, retainSeconds: 3600, leased: () => true });
    const key = { key: fresh('patient'), limit: 400, windowSeconds: 60 };
    const verdicts = [];
    for (let i = 0; i < 500; i++) verdicts.push(await (i % 3 ? a : b).hit([key]));
    const allowed = verdicts.filter((v) => v.allowed);
    const allowedPlaces = allowed.map((v) => v.counts.get(key.key)!);
    // Every allowed check holds a distinct place within the limit: together the instances never exceed it.
    expect(new Set(allowedPlaces).size).toBe(allowed.length);
    expect(Math.max(...allowedPlaces)).toBeLessThanOrEqual(400);
    // Leases shrink as the window fills, so the units left unused by the other instance are few.
    expect(allowed.length).toBeGreaterThan(400 - 2 * 2);
    // Fewer statements than checks, yet near the limit every check is counted on its own.
    expect(statements()).toBeLessThan(500);
    const near = await a.hit([key]);
    expect(near.allowed).toBe(false);
  });

  it('a small limit is counted one statement per check even when leased', async (t) => {
    const db = available();
    if (!db) return t.skip();
    clock = T0 + 14_000;
    const { db: counted, statements } = counting(db);
    const limiter = new RateLimiter(counted, { now, retainSeconds: 3600, leased: () => true });
    const key = { key: fresh('client'), limit: 5, windowSeconds: 60 };
    const verdicts = [];
    for (let i = 0; i < 7; i++) verdicts.push(await limiter.hit([key]));
    expect(statements()).toBe(7);
    expect(verdicts.map((v) => v.allowed)).toEqual([true, true, true, true, true, false, false]);
    const row = await db.rateLimitWindow.findUnique({ where: { key_windowStart: { key: key.key, windowStart: T0 / 1000 } } });
    expect(row?.count).toBe(7);
  });

  it('prunes windows older than the longest window, at most once per interval, off the request path', async (t) => {
    const db = available();
    if (!db) return t.skip();
    const old = { key: fresh('client'), limit: 100, windowSeconds: 60 };
    const recent = { key: fresh('client'), limit: 100, windowSeconds: 60 };
    clock = T0;
    const limiter = new RateLimiter(db, { now, retainSeconds: 900, pruneIntervalMs: 600_000 });
    await limiter.hit([old]);
    clock = T0 + 960_000;
    await limiter.hit([recent]);
    // 960 s after the first hit: past the prune interval, so that hit started one in the background.
    const pruned = limiter.pendingPrune;
    expect(pruned).not.toBeNull();
    expect(await pruned).toBeGreaterThanOrEqual(1);
    expect(await db.rateLimitWindow.count({ where: { key: old.key } })).toBe(0);
    expect(await db.rateLimitWindow.count({ where: { key: recent.key } })).toBe(1);
    // Within the interval no further prune starts.
    clock = T0 + 1_000_000;
    await limiter.hit([recent]);
    expect(limiter.pendingPrune).toBeNull();
  });
});
