import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import { afterAll, describe, expect, it } from 'vitest';
import { getDb } from '.';
import { isDatabaseUnavailable, isUniqueViolation } from './errors';
import { rawExecute } from './direct';
import { Prisma } from '../generated/sqlite/client';
import { PrismaClient as PgClient } from '../generated/postgresql/client';
import { PrismaClient as SqliteClient } from '../generated/sqlite/client';
import { env } from '../env';

// Real errors from the real drivers, provoked on loopback and in temp files: no server needed.

const dirs: string[] = [];
const servers: Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A loopback TCP server that does `onSocket` with each connection; resolves its port. */
function fakeServer(onSocket: (socket: Socket) => void): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer(onSocket);
    servers.push(server);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

/** The error a query on a PostgreSQL client at `port` fails with. */
async function pgError(port: number, extra: Record<string, unknown> = {}): Promise<unknown> {
  const db = new PgClient({
    adapter: new PrismaPg({ connectionString: `postgresql://sandbox@127.0.0.1:${port}/sandbox`, connectionTimeoutMillis: 500, ...extra }),
  });
  try {
    await db.setting.findFirst();
  } catch (err) {
    return err;
  } finally {
    await db.$disconnect().catch(() => undefined);
  }
  throw new Error('the query did not fail');
}

describe('isDatabaseUnavailable', () => {
  it('recognises a PostgreSQL server that refuses connections (ECONNREFUSED)', async () => {
    const port = await fakeServer((s) => s.destroy());
    servers.pop()!.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(isDatabaseUnavailable(await pgError(port))).toBe(true);
  });

  it('recognises a connection the server cuts (connection terminated)', async () => {
    const port = await fakeServer((s) => s.destroy());
    expect(isDatabaseUnavailable(await pgError(port))).toBe(true);
  });

  it('recognises a server that accepts but never answers (connection timeout)', async () => {
    const port = await fakeServer(() => undefined);
    expect(isDatabaseUnavailable(await pgError(port))).toBe(true);
  });

  it('recognises an SQLite file locked by another process past the busy timeout (SQLITE_BUSY)', async () => {
    const file = join(env.DATABASE_URL.slice(5));
    const holder = new Database(file);
    holder.prepare('BEGIN IMMEDIATE').run();
    const db = new SqliteClient({ adapter: new PrismaBetterSqlite3({ url: file, timeout: 50 }) });
    let error: unknown = null;
    try {
      await db.setting.create({ data: { key: 'locked', value: 'x' } });
    } catch (err) {
      error = err;
    } finally {
      holder.prepare('ROLLBACK').run();
      holder.close();
      await db.$disconnect();
    }
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it('recognises an SQLite file that cannot be opened (SQLITE_CANTOPEN)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'db-errors-'));
    dirs.push(dir);
    // The path names a directory (as when a volume is not mounted yet): SQLite cannot open it.
    const db = new SqliteClient({ adapter: new PrismaBetterSqlite3({ url: dir }) });
    let error: unknown = null;
    try {
      await db.setting.findFirst();
    } catch (err) {
      error = err;
    }
    await db.$disconnect().catch(() => undefined);
    expect(error).not.toBeNull();
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it('does not take a constraint violation, a missing table or a bug for an outage', async () => {
    const db = getDb();
    await db.setting.create({ data: { key: 'dup', value: '1' } });
    const duplicate = await db.setting.create({ data: { key: 'dup', value: '2' } }).catch((err: unknown) => err);
    expect(isDatabaseUnavailable(duplicate)).toBe(false);

    const dir = mkdtempSync(join(tmpdir(), 'db-errors-'));
    dirs.push(dir);
    const empty = new SqliteClient({ adapter: new PrismaBetterSqlite3({ url: join(dir, 'empty.db') }) });
    const missingTable = await empty.setting.findFirst().catch((err: unknown) => err);
    await empty.$disconnect();
    expect(missingTable).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(missingTable)).toBe(false);

    expect(isDatabaseUnavailable(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe(false);
    expect(isDatabaseUnavailable(null)).toBe(false);
    expect(isDatabaseUnavailable('ECONNREFUSED')).toBe(false);
  });
});

describe('isUniqueViolation', () => {
  it('recognises a duplicate key from the model API, a direct statement and a raw Prisma statement', async () => {
    const db = getDb();
    await db.setting.create({ data: { key: 'unique-1', value: '1' } });
    const viaModel = await db.setting.create({ data: { key: 'unique-1', value: '2' } }).catch((err: unknown) => err);
    const direct = await rawExecute(db, Prisma.sql`INSERT INTO "Setting" ("key", "value") VALUES (${'unique-1'}, ${'3'})`).catch((err: unknown) => err);
    const viaRaw = await db.$executeRaw(Prisma.sql`INSERT INTO "Setting" ("key", "value") VALUES (${'unique-1'}, ${'4'})`).catch((err: unknown) => err);
    for (const err of [viaModel, direct, viaRaw]) {
      expect(err).toBeInstanceOf(Error);
      expect(isUniqueViolation(err)).toBe(true);
      expect(isDatabaseUnavailable(err)).toBe(false);
    }
    // node-postgres reports SQLSTATE 23505 (unique_violation) in `code`.
    expect(isUniqueViolation(Object.assign(new Error('duplicate key value violates unique constraint "Setting_pkey"'), { code: '23505' }))).toBe(true);
  });

  it('does not take other failures for one', async () => {
    const db = getDb();
    const notNull = await rawExecute(db, Prisma.sql`INSERT INTO "Setting" ("key", "value") VALUES (${'unique-2'}, ${null})`).catch((err: unknown) => err);
    expect(notNull).toBeInstanceOf(Error);
    expect(isUniqueViolation(notNull)).toBe(false);
    const missing = await rawExecute(db, Prisma.sql`INSERT INTO "NoSuchTable" ("key") VALUES (${'x'})`).catch((err: unknown) => err);
    expect(isUniqueViolation(missing)).toBe(false);
    expect(isUniqueViolation(new Error('UNIQUE constraint failed, says the message only'))).toBe(false);
    expect(isUniqueViolation(null)).toBe(false);
    expect(isUniqueViolation('P2002')).toBe(false);
  });
});
