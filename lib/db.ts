import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient as SqliteClient } from './generated/sqlite/client';
import { PrismaClient as PgClient } from './generated/postgresql/client';
import { env, databaseKind } from './env';
import { isolateSqliteTransactions } from './sqlite-transactions';

/**
 * Both generated clients expose the same model API (they come from one schema source); the app
 * is typed against the SQLite one and a PostgreSQL client is used through the same interface.
 */
export type Db = SqliteClient;
export type DbKind = 'sqlite' | 'postgresql';

/** Path of the embedded SQLite file for a DATABASE_URL (empty → data/sandbox.db). */
export function sqliteFile(url: string): string {
  return url.startsWith('file:') ? resolve(url.slice(5)) : resolve(process.cwd(), 'data', 'sandbox.db');
}

/** Opens a Prisma client on a database URL (use getDb() for the app's own). */
export function createDb(url: string): { db: Db; kind: DbKind } {
  const kind = databaseKind(url);
  if (kind === 'postgresql') {
    // A connection that cannot be had within 10 s (server unreachable without a refusal, or every
    // connection busy) fails the query instead of queueing it forever; callers answer 503 (lib/db-errors).
    const adapter = new PrismaPg({ connectionString: url, max: 10, connectionTimeoutMillis: 10_000 });
    return { db: new PgClient({ adapter }) as unknown as Db, kind };
  }
  const file = sqliteFile(url);
  mkdirSync(dirname(file), { recursive: true });
  const adapter = isolateSqliteTransactions(new PrismaBetterSqlite3({ url: file, timeout: 10_000 }));
  const db = new SqliteClient({ adapter });
  // WAL (set persistently by the migration step) with synchronous=NORMAL: commits survive a
  // process crash and cost no fsync each; only an OS crash can lose the last commits.
  void db.$queryRawUnsafe('PRAGMA synchronous = NORMAL').catch(() => undefined);
  return { db, kind };
}

const globalForDb = globalThis as unknown as { __sandboxDb?: { db: Db; kind: DbKind } };

/** The app's one Prisma client (SQLite by default, PostgreSQL when DATABASE_URL says so). */
export function getDb(): Db {
  globalForDb.__sandboxDb ??= createDb(env.DATABASE_URL);
  return globalForDb.__sandboxDb.db;
}

/** Kind of the app's database. */
export function getDbKind(): DbKind {
  return databaseKind(env.DATABASE_URL);
}
