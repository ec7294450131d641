/**
 * The audit trail's group commit against real databases: this file's SQLite unit database, and
 * PostgreSQL (a fresh database on TEST_DATABASE_URL's server, else a throwaway cluster; skipped when
 * neither is available).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createDb, getDb } from '../db';
import type { Db } from '../db';
import { auditRecordId, createAuditQueue, flushAuditRecords, recordAudit } from './record';
import type { AuditEntry } from './record';
// @ts-expect-error plain ESM helper without types
import { findPgBin, startCluster } from '../../scripts/lib/pg-cluster.mjs';
// @ts-expect-error plain ESM helper without types
import { freshPostgresDatabase } from '../../scripts/lib/pg-database.mjs';
// @ts-expect-error plain ESM helper without types
import { applyMigrations } from '../../scripts/lib/schema-engine.mjs';

const entry = (userAgent: string, extra: Partial<AuditEntry> = {}): AuditEntry => ({
  kind: 'fhir',
  method: 'GET',
  endpoint: '/fhir/Patient/p1',
  resourceType: 'Patient',
  resourceId: 'p1',
  status: 200,
  latencyMs: 1.5,
  userAgent,
  flags: ['excessive-results'],
  ...extra,
});

describe('auditRecordId', () => {
  it('is a version 7 UUID whose order is the order of its times (RFC 9562 §5.7)', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => auditRecordId(1_790_000_000_000 + i * 7));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(ids[0]!.replace(/-/g, '').slice(0, 12)).toBe((1_790_000_000_000).toString(16).padStart(12, '0'));
    const sameMs = Array.from({ length: 10_000 }, () => auditRecordId(1_790_000_000_000));
    expect(new Set(sameMs).size).toBe(sameMs.length);
  });
});

describe('recordAudit (SQLite)', () => {
  it('N concurrent calls write N records, and each call resolves only once its own record is stored', async () => {
    const db = getDb();
    const run = randomUUID();
    const n = 300;
    const seenOnResolve = await Promise.all(
      Array.from({ length: n }, (_, i) => recordAudit(entry(`${run}/${i}`)).then(() => db.auditRecord.count({ where: { userAgent: `${run}/${i}` } }))),
    );
    expect(seenOnResolve).toEqual(Array.from({ length: n }, () => 1));
    expect(await db.auditRecord.count({ where: { userAgent: { startsWith: `${run}/` } } })).toBe(n);
    const one = await db.auditRecord.findFirstOrThrow({ where: { userAgent: `${run}/7` } });
    expect(one).toMatchObject({
      kind: 'fhir',
      method: 'GET',
      endpoint: '/fhir/Patient/p1',
      status: 200,
      resourceType: 'Patient',
      flags: 'excessive-results',
      sandboxId: 'default',
    });
    await flushAuditRecords();
  });

  it('never throws into the caller, even for an entry that cannot become a row', async () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await expect(recordAudit({ ...entry('broken'), endpoint: undefined as unknown as string })).resolves.toBeUndefined();
      expect(spy).toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });
});

/** The same checks on whichever database `db` is. */
function queueSuite(name: string, db: () => Db) {
  describe(`audit queue on ${name}`, () => {
    it('stores every column as Prisma itself would (the batch insert is raw SQL)', async () => {
      const queue = createAuditQueue(db);
      const run = randomUUID();
      const full = {
        ...row(`${run}/full`),
        clientId: 'c1',
        userId: 'Practitioner/u1',
        patientId: 'pat-1',
        launchId: 'l1',
        errorCode: 'invalid_token',
        resultCount: null,
        origin: 'https://app.example',
        flags: 'suspected-bola rate-limited',
        facts: JSON.stringify({ pkceMethod: 'S256', accept: 'application/fhir+json' }),
        detail: 'it\'s "quoted" — ünïcode',
      };
      const viaPrisma = { ...full, id: randomUUID(), userAgent: `${run}/prisma` };
      await Promise.all([queue.enqueue(full), queue.enqueue({ ...full, id: randomUUID(), userAgent: `${run}/second` })]);
      expect(queue.stats).toEqual({ batches: 1, written: 2, fallbacks: 0, lost: 0 });
      await db().auditRecord.create({ data: viaPrisma });
      const stored = await db().auditRecord.findUniqueOrThrow({ where: { id: full.id } });
      const reference = await db().auditRecord.findUniqueOrThrow({ where: { id: viaPrisma.id } });
      expect(stored).toEqual(full);
      expect({ ...stored, id: reference.id, userAgent: reference.userAgent }).toEqual(reference);
      // Ordering by time (the console and AuditEvent search sort on it) sees both the same way.
      const newest = await db().auditRecord.findMany({ where: { userAgent: { startsWith: `${run}/` } }, orderBy: { at: 'desc' }, select: { at: true } });
      expect(newest.map((r) => r.at.getTime())).toEqual([full.at.getTime(), full.at.getTime(), full.at.getTime()]);
    });

    it('writes concurrent records in few batches, each one a single multi-row insert', async () => {
      const queue = createAuditQueue(db);
      const run = randomUUID();
      const rows = Array.from({ length: 450 }, (_, i) => row(`${run}/${i}`));
      await Promise.all(rows.map((r) => queue.enqueue(r)));
      expect(queue.stats).toEqual({ batches: 3, written: 450, fallbacks: 0, lost: 0 });
      expect(await db().auditRecord.count({ where: { userAgent: { startsWith: `${run}/` } } })).toBe(450);
    });

    it('a batch with one bad record falls back to one insert per record: only that record is lost', async () => {
      const queue = createAuditQueue(db);
      const run = randomUUID();
      const taken = row(`${run}/existing`);
      await db().auditRecord.create({ data: taken });
      const spy = vi.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        // Same primary key as a stored record: the multi-row insert fails as a whole.
        const rows = [...Array.from({ length: 9 }, (_, i) => row(`${run}/${i}`)), { ...row(`${run}/dup`), id: taken.id }];
        const settled = await Promise.allSettled(rows.map((r) => queue.enqueue(r)));
        expect(settled.every((s) => s.status === 'fulfilled')).toBe(true);
        expect(queue.stats).toEqual({ batches: 1, written: 9, fallbacks: 1, lost: 1 });
        expect(spy.mock.calls.map((c) => String(c[0]))).toEqual([
          'audit batch of 10 failed, writing its records one by one:',
          'audit write failed (GET /fhir/Patient/p1 → 200):',
        ]);
      } finally {
        spy.mockRestore();
      }
      const stored = await db().auditRecord.findMany({ where: { userAgent: { startsWith: `${run}/` } }, select: { userAgent: true } });
      expect(stored.map((s) => s.userAgent).sort()).toEqual([`${run}/existing`, ...Array.from({ length: 9 }, (_, i) => `${run}/${i}`)].sort());
    });
  });
}

function row(userAgent: string) {
  return {
    id: randomUUID(),
    sandboxId: 'default',
    at: new Date(),
    kind: 'fhir',
    method: 'GET',
    endpoint: '/fhir/Patient/p1',
    resourceType: 'Patient',
    resourceId: 'p1',
    clientId: null,
    userId: null,
    patientId: null,
    launchId: null,
    scopes: 'patient/*.rs',
    status: 200,
    errorCode: null,
    detail: 'read',
    resultCount: 1,
    latencyMs: 2.25,
    ip: '127.0.0.1',
    userAgent,
    origin: null,
    flags: null,
  };
}

queueSuite('SQLite', getDb);

const pgAvailable = Boolean(process.env.TEST_DATABASE_URL) || Boolean(findPgBin());
let cluster: { url: string; stop(): Promise<void> } | undefined;
let pg: Db | undefined;

describe.skipIf(!pgAvailable)('PostgreSQL', () => {
  beforeAll(async () => {
    let url: string;
    if (process.env.TEST_DATABASE_URL) {
      url = (await freshPostgresDatabase(process.env.TEST_DATABASE_URL, 'audit')) as string;
    } else {
      cluster = (await startCluster()) as { url: string; stop(): Promise<void> };
      url = cluster.url;
    }
    await applyMigrations({ kind: 'postgresql', url });
    pg = createDb(url).db;
  }, 120_000);

  afterAll(async () => {
    await pg?.$disconnect();
    await cluster?.stop();
  });

  queueSuite('PostgreSQL', () => pg!);
});
