// npm run seed -- --patients N --seed S [--anchor-date YYYY-MM-DD] [--reset] [--condition X]
//                 [--min-age A] [--max-age B] [--no-roster] [--if-empty] [--sandbox ID] [--no-migrate]
// Applies any migration the database lacks (a fresh database gets its schema first; --no-migrate
// skips this when the caller has just migrated), then generates synthetic patients and stores them
// with all search index rows, one transaction per batch of whole patients, so an interrupted seed
// never leaves half a patient.
import { parseArgs } from 'node:util';
import { env } from '../lib/env';
import { isUniqueViolation } from '../lib/db/errors';
import { seedDataset } from '../lib/seed/seed-dataset';
// @ts-expect-error plain ESM helper without types
import { applyMigrations, databaseTarget, pendingMigrations } from '../scripts/lib/schema-engine.mjs';
// @ts-expect-error plain ESM helper without types
import { writeSchemas } from '../scripts/prisma-schemas.mjs';

const { values } = parseArgs({
  options: {
    patients: { type: 'string' },
    seed: { type: 'string' },
    'anchor-date': { type: 'string' },
    reset: { type: 'boolean', default: false },
    condition: { type: 'string' },
    'min-age': { type: 'string' },
    'max-age': { type: 'string' },
    'no-roster': { type: 'boolean', default: false },
    'if-empty': { type: 'boolean', default: false },
    sandbox: { type: 'string', default: 'default' },
    quiet: { type: 'boolean', default: false },
    'no-migrate': { type: 'boolean', default: false },
  },
});

function intOption(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be an integer from ${min} to ${max}`);
    process.exit(2);
  }
  return n;
}

const anchorDate = values['anchor-date'] ?? env.SEED_ANCHOR_DATE;
if (anchorDate !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(anchorDate)) {
  console.error('--anchor-date must be YYYY-MM-DD');
  process.exit(2);
}

if (!values['no-migrate']) {
  // Only a database that lacks migrations meets the schema engine (which takes locks a running
  // server's connection could hold up); an up-to-date one is left alone.
  const target = databaseTarget(env.DATABASE_URL);
  if (((await pendingMigrations(target)) as string[]).length) {
    writeSchemas();
    const applied = (await applyMigrations(target)) as string[];
    console.log(`applied migrations: ${applied.join(', ')}`);
  }
}

const patients = intOption('patients', values.patients, env.SEED_PATIENTS, 1, 10_000);
const seed = intOption('seed', values.seed, env.SEED, 0, 2_147_483_647);
const summary = await seedDataset({
  databaseUrl: env.DATABASE_URL,
  sandboxId: values.sandbox!,
  patients,
  seed,
  anchorDate,
  condition: values.condition,
  minAge: values['min-age'] === undefined ? undefined : intOption('min-age', values['min-age'], 0, 0, 120),
  maxAge: values['max-age'] === undefined ? undefined : intOption('max-age', values['max-age'], 120, 0, 120),
  includeRoster: !values['no-roster'],
  reset: values.reset,
  ifEmpty: values['if-empty'],
  progress: values.quiet ? undefined : process.stderr,
}).catch((err: unknown) => {
  // The usual mistakes get a sentence instead of a stack trace; nothing of the failed batch was written.
  if (isUniqueViolation(err)) {
    console.error(`seed: these resources are already stored (seed ${seed} was seeded before); add --reset to start over, or choose another --seed`);
  } else if ((err as { code?: unknown } | null)?.code === 'P2021') {
    console.error('seed: the database has no schema yet; run it without --no-migrate (or npm run db:migrate first)');
  } else {
    console.error(`seed failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  process.exit(1);
});
if (summary.skipped) {
  console.log(`seed: the database already holds data (${summary.existing} resources); nothing to do`);
  const outdated = summary.outdated;
  if (outdated) {
    const made =
      outdated.stored === null
        ? 'by a version of SMART Sandbox that did not record its dataset version'
        : `at dataset version ${outdated.stored}, ${outdated.stored < outdated.current ? 'older' : 'newer'} than this version's ${outdated.current}`;
    console.log(
      `seed: note: its synthetic dataset was stored ${made}, so it may lack resources or search index rows that this version generates.\n` +
        '      `npm run db:reset` regenerates it (clients, tokens and data you added are lost).',
    );
  }
} else {
  console.log(
    `seeded ${summary.patients} patients, ${summary.resources} resources in ${summary.seconds.toFixed(1)} s (${Math.round(summary.resources / Math.max(summary.seconds, 0.001))} resources/s)`,
  );
  console.log(`seed ${summary.seed}, anchor date ${summary.anchorDate}`);
  for (const [type, n] of Object.entries(summary.byType).sort((a, b) => b[1] - a[1])) console.log(`  ${type.padEnd(22)} ${n}`);
}
process.exit(0);
