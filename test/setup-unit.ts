// Runs before each unit test file: a private copy of the migrated template database, so tests
// that touch the database are isolated and need no server.
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// @medplum/core expects a WebSocket global (Node 20 has none); validation does not use it.
(globalThis as { WebSocket?: unknown }).WebSocket ??= class {};

const template = process.env.SANDBOX_TEST_TEMPLATE_DB;
if (template && !process.env.SANDBOX_TEST_KEEP_DATABASE_URL) {
  const file = join(mkdtempSync(join(tmpdir(), 'sandbox-unit-db-')), 'test.db');
  copyFileSync(template, file);
  process.env.DATABASE_URL = `file:${file}`;
}
