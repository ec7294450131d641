// Integration tests run against the built app over real HTTP, on SQLite (TEST_DB=sqlite, the
// default) or PostgreSQL (TEST_DB=postgresql with TEST_DATABASE_URL naming a server database).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
// @ts-expect-error plain ESM helper without types
import { prepareDatabase, startServer } from '../scripts/lib/test-server.mjs';
// @ts-expect-error plain ESM helper without types
import { freshPostgresDatabase } from '../scripts/lib/pg-database.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    baseUrl: string;
    databaseUrl: string;
    databaseKind: 'sqlite' | 'postgresql';
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Development shortcut: run the suites against a server you started yourself (its own
  // NEXT_DIST_DIR and database). Both variables must be set; the default path is unchanged.
  const externalUrl = process.env.TEST_BASE_URL;
  const externalDb = process.env.TEST_DATABASE_URL_OVERRIDE;
  if (externalUrl && externalDb) {
    project.provide('baseUrl', externalUrl.replace(/\/+$/, ''));
    project.provide('databaseUrl', externalDb);
    project.provide('databaseKind', /^postgres(ql)?:\/\//.test(externalDb) ? 'postgresql' : 'sqlite');
    return async () => undefined;
  }
  const kind = process.env.TEST_DB === 'postgresql' ? 'postgresql' : 'sqlite';
  let databaseUrl: string;
  let dir: string | undefined;
  if (kind === 'postgresql') {
    if (!process.env.TEST_DATABASE_URL) throw new Error('TEST_DB=postgresql needs TEST_DATABASE_URL');
    databaseUrl = await freshPostgresDatabase(process.env.TEST_DATABASE_URL, 'it');
  } else {
    dir = mkdtempSync(join(tmpdir(), 'sandbox-it-'));
    databaseUrl = `file:${join(dir, 'it.db')}`;
  }
  prepareDatabase(databaseUrl);
  // Every suite registers its clients from this one loopback address: the per-IP registration limit
  // is off here and proved on a server of its own (test/integration/rate-limit.test.ts).
  const server = await startServer({ databaseUrl, env: { RATE_LIMIT_REGISTER_IP: '0' } });
  project.provide('baseUrl', server.url);
  project.provide('databaseUrl', databaseUrl);
  project.provide('databaseKind', kind);
  return async () => {
    await server.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
}
