import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaClient as SqliteClient } from '../generated/sqlite/client';
import { PrismaClient as PgClient } from '../generated/postgresql/client';
import { env, databaseKind } from '../env';
import { isolateSqliteTransactions } from './sqlite-transactions';
import { cacheSqliteStatements, registerDirect, shareConnection } from './direct';

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

/**
 * Opens a Prisma client on a database URL (use getDb() for the app's own). `instrument` may wrap
 * the driver adapter factory (the benchmarks' profile counts and times every statement with it).
 */
export function createDb(url: string, instrument: (factory: SqlDriverAdapterFactory) => SqlDriverAdapterFactory = (f) => f): { db: Db; kind: DbKind } {
  const kind = databaseKind(url);
  if (kind === 'postgresql') {
    // A connection that cannot be had within 10 s (server unreachable without a refusal, or every
    // connection busy) fails the query instead of queueing it forever; callers answer 503 (lib/db/errors).
    const shared = shareConnection(
      instrument(new PrismaPg({ connectionString: url, max: 10, connectionTimeoutMillis: 10_000 }, { statementNameGenerator: pgStatementNames() })),
    );
    const db = new PgClient({ adapter: shared.factory }) as unknown as Db;
    registerDirect(db, shared.connect, kind);
    return { db, kind };
  }
  const file = sqliteFile(url);
  mkdirSync(dirname(file), { recursive: true });
  const shared = shareConnection(isolateSqliteTransactions(cacheSqliteStatements(instrument(new PrismaBetterSqlite3({ url: file, timeout: 10_000 })))));
  const db = new SqliteClient({ adapter: shared.factory });
  registerDirect(db, shared.connect, kind);
  return { db, kind };
}

/** Most statement texts one process names; the rest run unnamed. */
export const PG_NAMED_STATEMENTS_MAX = 300;
/** Longest statement text that gets a name (long texts are the variable ones: searches, large batches). */
export const PG_NAMED_STATEMENT_MAX_CHARS = 2000;

/**
 * Names for PostgreSQL prepared statements: each connection parses a named statement once and then
 * only binds and executes it, which halves the driver's CPU per statement (measured with pg 8.23 on
 * a primary-key read at 10 concurrent queries: 78 → 44 µs). One name per statement text, the same
 * on every connection; a connection keeps what it parsed until it closes, so only the first
 * PG_NAMED_STATEMENTS_MAX texts of up to PG_NAMED_STATEMENT_MAX_CHARS characters are named (the
 * fixed statements of the hot paths come first), and every other runs as an unnamed statement ('').
 */
export function pgStatementNames(max = PG_NAMED_STATEMENTS_MAX, maxChars = PG_NAMED_STATEMENT_MAX_CHARS): (query: { sql: string }) => string {
  const names = new Map<string, string>();
  return ({ sql }) => {
    const found = names.get(sql);
    if (found !== undefined) return found;
    if (names.size >= max || sql.length > maxChars) return '';
    const name = `s${names.size}`;
    names.set(sql, name);
    return name;
  };
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
