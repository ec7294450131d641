import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error plain ESM helper without types
import { prepareDatabase, startServer } from '../scripts/lib/test-server.mjs';

/** Seeds a fresh SQLite database, starts the built app and hands its URL to the tests. */
export default async function globalSetup(): Promise<() => Promise<void>> {
  if (process.env.E2E_BASE_URL) return async () => undefined;
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-e2e-'));
  const databaseUrl = `file:${join(dir, 'e2e.db')}`;
  prepareDatabase(databaseUrl);
  const server = await startServer({ databaseUrl });
  process.env.E2E_BASE_URL = server.url;
  process.env.E2E_DATABASE_URL = databaseUrl;
  return async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
