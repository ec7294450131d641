// Applies the checked-in migrations to the configured database (embedded SQLite by default) and
// seeds the default dataset when the database holds none (or completes one that a killed seed left).
//   node scripts/prepare-db.mjs            migrate, seed if empty
//   node scripts/prepare-db.mjs --no-seed  migrate only
//   node scripts/prepare-db.mjs --reset    wipe, migrate, seed
import { execFileSync } from 'node:child_process';
import { rmSync, existsSync } from 'node:fs';
import { writeSchemas, root } from './prisma-schemas.mjs';
import { applyMigrations, databaseTarget } from './lib/schema-engine.mjs';

const args = new Set(process.argv.slice(2));
const target = databaseTarget();
writeSchemas();

// Several instances starting at once on one PostgreSQL database take turns: the first migrates
// and seeds, the others then find the schema current and the dataset complete. A session-level
// advisory lock is released by the server when this process ends, however it ends.
const PREPARE_LOCK = '7302619431';
let lock = null;
if (target.kind === 'postgresql') {
  const { default: pg } = await import('pg');
  lock = new pg.Client({ connectionString: target.url });
  await lock.connect();
  await lock.query('SELECT pg_advisory_lock($1::bigint)', [PREPARE_LOCK]);
}
try {
  await prepare();
} finally {
  await lock?.end();
}

/** Resets (--reset), migrates, and seeds unless --no-seed. */
async function prepare() {
  if (args.has('--reset')) {
    if (target.kind === 'sqlite') {
      for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(target.file + suffix, { force: true });
    } else {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: target.url });
      await client.connect();
      await client.query('DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;');
      await client.end();
    }
    console.log(`database reset (${target.kind})`);
  }

  const applied = await applyMigrations(target);

  console.log(applied.length ? `applied migrations: ${applied.join(', ')}` : `database schema up to date (${target.kind})`);

  if (!args.has('--no-seed')) {
    const seedArgs = ['--import', 'tsx', 'prisma/seed.ts', '--if-empty', '--no-migrate'];
    // --if-empty: a complete dataset is left alone; one that a killed seed left half-written
    // (lib/seed/seed-dataset.ts keeps a marker until the last batch) is completed.
    if (existsSync(`${root}/prisma/seed.ts`)) execFileSync(process.execPath, seedArgs, { cwd: root, stdio: 'inherit' });
  }
}
