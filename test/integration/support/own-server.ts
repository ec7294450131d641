// A server of a test file's own (its own database, its own environment, e.g. low rate limits),
// on PostgreSQL when the suite runs there, and helpers for the fixed rate-limit windows and for
// audit records that are written just after a response.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { createDb } from '../../../lib/db';
import type { Db } from '../../../lib/db';
// @ts-expect-error plain ESM helper without types
import { prepareDatabase, startServer } from '../../../scripts/lib/test-server.mjs';
// @ts-expect-error plain ESM helper without types
import { freshPostgresDatabase } from '../../../scripts/lib/pg-database.mjs';

export interface OwnServer {
  readonly url: string;
  /** A client on the server's database, for checking what it wrote. */
  readonly db: Db;
  output(): string;
  /** Stops the server and removes its database files. */
  stop(): Promise<void>;
}

/** Migrates a fresh database (named after `name`) and starts the built app on it with `env`. */
export async function startOwnServer(name: string, env: Record<string, string>): Promise<OwnServer> {
  let databaseUrl: string;
  let dir: string | null = null;
  if (inject('databaseKind') === 'postgresql') {
    databaseUrl = (await freshPostgresDatabase(process.env.TEST_DATABASE_URL, name)) as string;
  } else {
    dir = mkdtempSync(join(tmpdir(), `sandbox-${name}-`));
    databaseUrl = `file:${join(dir, `${name}.db`)}`;
  }
  prepareDatabase(databaseUrl);
  const server = (await startServer({ databaseUrl, env })) as { url: string; stop(): Promise<void>; output(): string };
  const { db } = createDb(databaseUrl);
  return {
    url: server.url,
    db,
    output: () => server.output(),
    async stop() {
      await db.$disconnect();
      await server.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Seconds left in the current fixed window of a length (windows start at multiples of it). */
export function secondsLeft(windowSeconds: number): number {
  const now = Date.now() / 1000;
  return (Math.floor(now / windowSeconds) + 1) * windowSeconds - now;
}

/** Waits for the next window when less than `margin` seconds of the current one are left. */
export async function startInFreshWindow(windowSeconds: number, margin = 120): Promise<void> {
  if (secondsLeft(windowSeconds) < margin) await new Promise((r) => setTimeout(r, secondsLeft(windowSeconds) * 1000 + 1000));
}

/** The audit records matching `where`, waiting up to 10 s for `expected` of them. */
export async function auditWhere(db: Db, where: NonNullable<Parameters<Db['auditRecord']['findMany']>[0]>['where'], expected: number) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const rows = await db.auditRecord.findMany({ where, orderBy: { at: 'asc' } });
    if (rows.length >= expected || Date.now() > deadline) return rows;
    await new Promise((r) => setTimeout(r, 200));
  }
}
