// Builds one migrated SQLite template database for the unit tests; each test file copies it into a
// folder of its own beside it (test/setup-unit.ts), and the teardown removes them all.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default async function setup(): Promise<() => void> {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-unit-'));
  const file = join(dir, 'template.db');
  // @ts-expect-error plain ESM script without types
  const { applyMigrations } = await import('../scripts/lib/schema-engine.mjs');
  await applyMigrations({ kind: 'sqlite', url: `file:${file}`, file });
  process.env.SANDBOX_TEST_TEMPLATE_DB = file;
  return () => rmSync(dir, { recursive: true, force: true });
}
