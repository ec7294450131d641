// npm run seed -- --patients N --seed S [--anchor-date YYYY-MM-DD] [--reset] [--condition X]
//                 [--min-age A] [--max-age B] [--no-roster] [--if-empty] [--sandbox ID]
// Generates synthetic patients and stores them with all search index rows, one transaction per
// batch of whole patients, so an interrupted seed never leaves half a patient.
import { parseArgs } from 'node:util';
import { env } from '../lib/env';
import { seedDataset } from '../lib/seed/seed-dataset';

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

const summary = await seedDataset({
  databaseUrl: env.DATABASE_URL,
  sandboxId: values.sandbox!,
  patients: intOption('patients', values.patients, env.SEED_PATIENTS, 1, 10_000),
  seed: intOption('seed', values.seed, env.SEED, 0, 2_147_483_647),
  anchorDate,
  condition: values.condition,
  minAge: values['min-age'] === undefined ? undefined : intOption('min-age', values['min-age'], 0, 0, 120),
  maxAge: values['max-age'] === undefined ? undefined : intOption('max-age', values['max-age'], 120, 0, 120),
  includeRoster: !values['no-roster'],
  reset: values.reset,
  ifEmpty: values['if-empty'],
  progress: values.quiet ? undefined : process.stderr,
});
if (summary.skipped) console.log(`seed: the database already holds data (${summary.existing} resources); nothing to do`);
else {
  console.log(`seeded ${summary.patients} patients, ${summary.resources} resources in ${summary.seconds.toFixed(1)} s (${Math.round(summary.resources / Math.max(summary.seconds, 0.001))} resources/s)`);
  console.log(`seed ${summary.seed}, anchor date ${summary.anchorDate}`);
  for (const [type, n] of Object.entries(summary.byType).sort((a, b) => b[1] - a[1])) console.log(`  ${type.padEnd(22)} ${n}`);
}
process.exit(0);
