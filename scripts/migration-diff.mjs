// Adds a migration for both databases: `npm run db:diff -- <name>`. Needs a PostgreSQL server for
// the PostgreSQL diff (TEST_DATABASE_URL or the throwaway cluster started by scripts/lib/pg-cluster.mjs).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSchemas, schemaPath } from './prisma-schemas.mjs';
import { diffMigrationsToSchema, migrationsDir, snapshotPath } from './lib/schema-engine.mjs';
import { startCluster } from './lib/pg-cluster.mjs';
import { tmpdir } from 'node:os';

const name = (process.argv[2] ?? 'change').replace(/[^a-z0-9_]/gi, '_');
const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
writeSchemas();
const sqliteFile = join(tmpdir(), `diff-${process.pid}.db`);
const targets = [{ kind: 'sqlite', url: `file:${sqliteFile}`, file: sqliteFile }];
let cluster;
if (process.env.TEST_DATABASE_URL) targets.push({ kind: 'postgresql', url: process.env.TEST_DATABASE_URL });
else {
  cluster = await startCluster();
  targets.push({ kind: 'postgresql', url: cluster.url });
}
try {
  for (const target of targets) {
    const sql = await diffMigrationsToSchema(target);
    if (!sql.trim() || /^-- This is an empty migration/.test(sql.trim())) {
      console.log(`${target.kind}: schema matches the migrations`);
      writeFileSync(snapshotPath(target.kind), readFileSync(schemaPath(target.kind), 'utf8'));
      continue;
    }
    const dir = join(migrationsDir(target.kind), `${stamp}_${name}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'migration.sql'), sql);
    writeFileSync(join(migrationsDir(target.kind), 'migration_lock.toml'), `provider = "${target.kind}"\n`);
    writeFileSync(snapshotPath(target.kind), readFileSync(schemaPath(target.kind), 'utf8'));
    console.log(`${target.kind}: wrote ${dir}`);
  }
} finally {
  await cluster?.stop();
}
