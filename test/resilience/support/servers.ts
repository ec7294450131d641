// Typed access to the plain-ESM test helpers (built-app servers, databases, a PostgreSQL cluster)
// and the small helpers the suites share around them.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// prettier-ignore
// @ts-expect-error plain ESM helper without types
import { freePort as freePortUntyped, prepareDatabase as prepareDatabaseUntyped, startServer as startServerUntyped } from '../../../scripts/lib/test-server.mjs';
// @ts-expect-error plain ESM helper without types
import { freshPostgresDatabase as freshPostgresDatabaseUntyped } from '../../../scripts/lib/pg-database.mjs';
// @ts-expect-error plain ESM helper without types
import { findPgBin as findPgBinUntyped, startCluster as startClusterUntyped } from '../../../scripts/lib/pg-cluster.mjs';

export interface TestServer {
  readonly url: string;
  readonly port: number;
  output(): string;
  /** SIGKILL: no shutdown, requests in flight are cut. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export interface PgCluster {
  readonly url: string;
  readonly port: number;
  createDatabase(name: string): string;
  stop(): Promise<void>;
  /** Fast shutdown keeping data and port: connections are terminated, new ones refused. */
  pause(): Promise<void>;
  /** Starts the paused server again on the same port. */
  resume(): Promise<void>;
}

/** Migrates and seeds a database (small dataset; SEED_PATIENTS etc. through extraEnv). */
export const prepareDatabase = prepareDatabaseUntyped as (databaseUrl: string, extraEnv?: Record<string, string>) => void;

/** Starts the built app (`next start`, NEXT_DIST_DIR) and resolves once /api/health answers 200. */
export const startServer = startServerUntyped as (options: { databaseUrl: string; port?: number; env?: Record<string, string> }) => Promise<TestServer>;

/** A TCP port on loopback that is free right now. */
export const freePort = freePortUntyped as () => Promise<number>;

/** The same URL on another instance (both answer for one public origin, as behind a proxy). */
export function at(server: TestServer, url: string): string {
  const u = new URL(url);
  u.host = new URL(server.url).host;
  return u.toString();
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const freshPostgresDatabase = freshPostgresDatabaseUntyped as (serverUrl: string, prefix?: string) => Promise<string>;
export const findPgBin = findPgBinUntyped as () => string | null;
export const startCluster = startClusterUntyped as () => Promise<PgCluster>;

export type DbKind = 'sqlite' | 'postgresql';

/** The database kinds to run on: SQLite always, PostgreSQL when TEST_DATABASE_URL names a server. */
export function databaseKinds(): DbKind[] {
  return process.env.TEST_DATABASE_URL ? ['sqlite', 'postgresql'] : ['sqlite'];
}

/** A new, empty database of a kind (a SQLite file in a temp dir, or a database on TEST_DATABASE_URL's server). */
export async function freshDatabase(kind: DbKind, prefix: string): Promise<string> {
  if (kind === 'sqlite') return `file:${join(mkdtempSync(join(tmpdir(), `${prefix}-`)), 'sandbox.db')}`;
  const server = process.env.TEST_DATABASE_URL;
  if (!server) throw new Error('TEST_DATABASE_URL is not set');
  return freshPostgresDatabase(server, prefix);
}

/** Environment of test servers: no per-client limits unless a test sets them (they would throttle bursts). */
export const SERVER_ENV: Readonly<Record<string, string>> = {
  CONSOLE_USER: 'instructor',
  CONSOLE_PASSWORD: 'resilience-test-password',
  RATE_LIMIT_CLIENT: '0',
  RATE_LIMIT_PATIENT: '0',
};
