// Applies the checked-in migrations to the configured database (embedded SQLite by default) and
// seeds the default dataset when the database holds no resources.
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
  const seedArgs = ['--import', 'tsx', 'prisma/seed.ts', '--if-empty'];
  if (existsSync(`${root}/prisma/seed.ts`)) execFileSync(process.execPath, seedArgs, { cwd: root, stdio: 'inherit' });
}
