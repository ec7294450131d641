import { describe, it, expect, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { getDb, sqliteFile } from '.';
import { env } from '../env';
import { rawExecute, rawQuery, rawTransaction, SQLITE_CONNECTION_PRAGMAS } from './direct';
import { Prisma } from '../generated/sqlite/client';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('statements straight through the driver adapter', () => {
  it('returns the same values as Prisma $queryRaw for every column type we read', async () => {
    const db = getDb();
    const at = new Date('2026-03-04T05:06:07.089Z');
    await db.sandbox.upsert({ where: { id: 'direct' }, create: { id: 'direct', name: 'direct' }, update: {} });
    await db.resource.create({
      data: { sandboxId: 'direct', type: 'Patient', id: 'd1', versionId: 3, lastUpdated: at, deleted: true, content: '{"resourceType":"Patient","id":"d1"}' },
    });
    await db.resource.create({
      data: { sandboxId: 'direct', type: 'Patient', id: 'd2', versionId: 1, lastUpdated: at, content: '{"resourceType":"Patient","id":"d2"}' },
    });
    const queries = [
      Prisma.sql`SELECT r."type", r."id", r."versionId", r."lastUpdated", r."deleted", r."content" FROM "Resource" r WHERE r."sandboxId" = ${'direct'} ORDER BY r."id"`,
      Prisma.sql`SELECT COUNT(*) AS "n", MAX(r."versionId") AS "v" FROM "Resource" r WHERE r."sandboxId" = ${'direct'} AND r."lastUpdated" = ${at} AND r."deleted" = ${true}`,
      Prisma.sql`SELECT r."id", NULL AS "nothing" FROM "Resource" r WHERE r."sandboxId" = ${'direct'} AND r."id" IN (${Prisma.join(['d2', 'nope'])})`,
      // Expressions (no declared type: the values decide), parameters of every kind we bind.
      Prisma.sql`SELECT r."versionId" * 1.5 AS "f", r."versionId" + 1 AS "i", r."id" || ${'-x'} AS "s", r."deleted" = ${true} AS "b", r."lastUpdated" = ${at} AS "same", ${null} AS "p" FROM "Resource" r WHERE r."sandboxId" = ${'direct'} ORDER BY r."id"`,
      Prisma.sql`SELECT SUM(r."versionId") AS "total", AVG(r."versionId") AS "mean", MIN(r."lastUpdated") AS "first" FROM "Resource" r WHERE r."sandboxId" = ${'direct'}`,
      Prisma.sql`SELECT r."id" FROM "Resource" r WHERE r."sandboxId" = ${'direct'} AND r."deleted" = ${false} AND r."versionId" < ${2.5}`,
    ];
    for (const q of queries) {
      const viaPrisma = await db.$queryRaw<Record<string, unknown>[]>(q);
      // The app's client goes straight to the adapter: Prisma's $queryRaw is not called.
      const spy = vi.spyOn(db, '$queryRaw');
      const direct = await rawQuery(db, q);
      expect(spy).not.toHaveBeenCalled();
      spy.mockRestore();
      expect(direct).toEqual(viaPrisma);
      expect(direct.length).toBeGreaterThan(0);
    }
    const [row] = await rawQuery(db, queries[0]!);
    expect(row).toMatchObject({ id: 'd1', versionId: 3, deleted: true });
    expect((row!.lastUpdated as Date).toISOString()).toBe(at.toISOString());
  });

  it('the app’s SQLite connection runs with its settings (WAL, synchronous=NORMAL, temporary rows in memory, 32 MiB cache)', async () => {
    const db = getDb();
    const pragma = async (name: string) => Object.values((await db.$queryRawUnsafe<Record<string, unknown>[]>(`PRAGMA ${name}`))[0] ?? {})[0];
    expect(SQLITE_CONNECTION_PRAGMAS).toEqual(['synchronous = NORMAL', 'temp_store = MEMORY', 'cache_size = -32768']);
    expect(String(await pragma('journal_mode')).toLowerCase()).toBe('wal');
    expect(Number(await pragma('synchronous'))).toBe(1); // NORMAL
    expect(Number(await pragma('temp_store'))).toBe(2); // MEMORY
    expect(Number(await pragma('cache_size'))).toBe(-32768);
  });

  it('a failing statement throws the driver adapter’s own error (a unique violation stays recognisable)', async () => {
    const db = getDb();
    await db.setting.create({ data: { key: 'direct-dup', value: 'a' } });
    const err = await rawExecute(db, Prisma.sql`INSERT INTO "Setting" ("key", "value") VALUES (${'direct-dup'}, ${'b'})`).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'DriverAdapterError', cause: { kind: 'UniqueConstraintViolation', originalCode: 'SQLITE_CONSTRAINT_PRIMARYKEY' } });
    const bad = await rawQuery(db, Prisma.sql`SELECT * FROM "NoSuchTable"`).catch((e: unknown) => e);
    expect(bad).toMatchObject({ name: 'DriverAdapterError' });
    expect((await rawQuery<{ value: string }>(db, Prisma.sql`SELECT "value" FROM "Setting" WHERE "key" = ${'direct-dup'}`))[0]?.value).toBe('a');
  });

  it('WAL checkpoints run on a thread of their own: commits do not checkpoint, and the WAL still starts over', async () => {
    const db = getDb();
    const pragma = async (name: string) => Object.values((await db.$queryRawUnsafe<Record<string, unknown>[]>(`PRAGMA ${name}`))[0] ?? {})[0];
    expect(Number(await pragma('wal_autocheckpoint'))).toBe(0);
    for (let i = 0; i < 1500; i++) await rawExecute(db, Prisma.sql`INSERT INTO "Setting" ("key", "value") VALUES (${`wal-${i}`}, ${'x'})`);
    const file = sqliteFile(env.DATABASE_URL);
    const frames = () => {
      const other = new Database(file);
      try {
        return (other.pragma('wal_checkpoint(PASSIVE)') as { log: number }[])[0]!.log;
      } finally {
        other.close();
      }
    };
    // 1,500 commits, at least one frame each: the WAL holds them until a checkpoint has copied them.
    await sleep(2500);
    await rawExecute(db, Prisma.sql`INSERT INTO "Setting" ("key", "value") VALUES (${'wal-after'}, ${'x'})`);
    expect(frames()).toBeLessThan(100);
  }, 20_000);

  it('the checkpoint thread does not keep a process alive: a script that used the database ends by itself', () => {
    const dir = mkdtempSync(join(tmpdir(), 'db-exit-'));
    const script = join(dir, 'uses-db.mts');
    writeFileSync(
      script,
      `const { getDb } = await import(${JSON.stringify(new URL('./index.ts', import.meta.url).pathname)});\nconsole.log(await getDb().setting.count());\n`,
    );
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], { env: { ...process.env }, encoding: 'utf8', timeout: 20_000 });
    rmSync(dir, { recursive: true, force: true });
    expect(run.stderr).not.toContain('checkpoint');
    expect(run.signal, run.stderr).toBeNull();
    expect(run.status, run.stderr).toBe(0);
    expect(Number(run.stdout.trim())).toBeGreaterThanOrEqual(0);
  }, 30_000);

  it('runs a cached statement with each call’s own values', async () => {
    const db = getDb();
    await db.setting.createMany({ data: ['one', 'two', 'three'].map((v, i) => ({ key: `direct-${i}`, value: v })) });
    const read = (key: string) => rawQuery<{ value: string }>(db, Prisma.sql`SELECT "value" FROM "Setting" WHERE "key" = ${key}`);
    expect((await read('direct-0'))[0]?.value).toBe('one');
    expect(await rawExecute(db, Prisma.sql`UPDATE "Setting" SET "value" = ${'changed'} WHERE "key" = ${'direct-1'}`)).toBe(1);
    expect((await read('direct-1'))[0]?.value).toBe('changed');
    expect((await read('direct-2'))[0]?.value).toBe('three');
    expect(await read('direct-none')).toEqual([]);
    expect(await rawExecute(db, Prisma.sql`UPDATE "Setting" SET "value" = ${'x'} WHERE "key" = ${'direct-none'}`)).toBe(0);
  });

  it('a direct write made while a transaction is open is not part of it (it survives the rollback)', async () => {
    const db = getDb();
    let opened!: () => void;
    const open = new Promise<void>((r) => (opened = r));
    const failing = db
      .$transaction(async (tx) => {
        await tx.setting.create({ data: { key: 'direct-tx-rolled-back', value: '1' } });
        opened();
        await sleep(100);
        throw new Error('the transaction fails');
      })
      .catch((err: unknown) => (err as Error).message);
    await open;
    await rawExecute(db, Prisma.sql`INSERT INTO "Setting" ("key", "value") VALUES (${'direct-tx-outside'}, ${'1'})`);
    const seen = await rawQuery(db, Prisma.sql`SELECT "key" FROM "Setting" WHERE "key" = ${'direct-tx-rolled-back'}`);
    expect(await failing).toBe('the transaction fails');
    expect(seen).toEqual([]);
    const keys = (await db.setting.findMany({ where: { key: { startsWith: 'direct-tx-' } } })).map((s) => s.key);
    expect(keys).toEqual(['direct-tx-outside']);
  });

  it('a transaction commits when its function returns and leaves nothing behind when it throws', async () => {
    const db = getDb();
    const insert = (key: string) => Prisma.sql`INSERT INTO "Setting" ("key", "value") VALUES (${key}, ${'1'})`;
    expect(await rawTransaction(db, async (tx) => (await tx.execute(insert('direct-commit-a'))) + (await tx.execute(insert('direct-commit-b'))))).toBe(2);
    const failed = await rawTransaction(db, async (tx) => {
      await tx.execute(insert('direct-rollback-a'));
      expect(await tx.query(Prisma.sql`SELECT "key" FROM "Setting" WHERE "key" = ${'direct-rollback-a'}`)).toEqual([{ key: 'direct-rollback-a' }]);
      throw new Error('refused');
    }).catch((err: unknown) => (err as Error).message);
    expect(failed).toBe('refused');
    // A statement that fails inside the transaction rolls back the statements before it.
    await expect(
      rawTransaction(db, async (tx) => (await tx.execute(insert('direct-rollback-b'))) + (await tx.execute(insert('direct-commit-a')))),
    ).rejects.toThrow();
    const keys = (await db.setting.findMany({ where: { key: { startsWith: 'direct-' } }, orderBy: { key: 'asc' } })).map((s) => s.key);
    expect(keys.filter((k) => k.includes('commit') || k.includes('rollback'))).toEqual(['direct-commit-a', 'direct-commit-b']);
  });

  it('concurrent transactions take turns: of ten conditional claims of one row, one wins', async () => {
    const db = getDb();
    await db.setting.create({ data: { key: 'direct-claim', value: 'free' } });
    const claims = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        rawTransaction(db, async (tx) => {
          const [row] = await tx.query<{ value: string }>(Prisma.sql`SELECT "value" FROM "Setting" WHERE "key" = ${'direct-claim'}`);
          await sleep(5);
          if (row?.value !== 'free') return 0;
          return tx.execute(Prisma.sql`UPDATE "Setting" SET "value" = ${`taken by ${i}`} WHERE "key" = ${'direct-claim'}`);
        }),
      ),
    );
    expect(claims.reduce((a, b) => a + b, 0)).toBe(1);
  });
});
