// Runs before each unit test file: a private copy of the migrated template database, so tests
// that touch the database are isolated and need no server.
import { copyFileSync, mkdtempSync } from 'node:fs';
import { dirname, join } from 'node:path';

// @medplum/core expects a WebSocket global (Node 20 has none); validation does not use it.
(globalThis as { WebSocket?: unknown }).WebSocket ??= class {};

// Unit tests send thousands of requests a minute with one client and patient: the rate limits stay
// on (every FHIR and token request still runs the counting statement) but never throttle. Their
// refusals are tested with explicit limits in lib/ratelimit and over HTTP in test/integration.
for (const name of ['RATE_LIMIT_CLIENT', 'RATE_LIMIT_PATIENT', 'RATE_LIMIT_REGISTER_IP', 'RATE_LIMIT_SIGNIN_PERSONA', 'RATE_LIMIT_SIGNIN_IP'])
  process.env[name] ??= '1000000000';

const template = process.env.SANDBOX_TEST_TEMPLATE_DB;
if (template && !process.env.SANDBOX_TEST_KEEP_DATABASE_URL) {
  // Beside the template: the global teardown (test/unit-global-setup.ts) removes the whole folder.
  const file = join(mkdtempSync(join(dirname(template), 'db-')), 'test.db');
  copyFileSync(template, file);
  process.env.DATABASE_URL = `file:${file}`;
}
