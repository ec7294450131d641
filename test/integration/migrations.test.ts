import { describe, it, expect, inject } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import Database from 'better-sqlite3';
// @ts-expect-error plain ESM helper without types
import { applyMigrations, databaseTarget, readMigrations } from '../../scripts/lib/schema-engine.mjs';
// @ts-expect-error plain ESM helper without types
import { freshPostgresDatabase } from '../../scripts/lib/pg-database.mjs';

const kind = inject('databaseKind');

async function emptyDatabaseUrl(): Promise<string> {
  if (kind === 'postgresql') return freshPostgresDatabase(process.env.TEST_DATABASE_URL!, 'mig');
  return `file:${join(mkdtempSync(join(tmpdir(), 'sandbox-mig-')), 'm.db')}`;
}

async function tablesOf(url: string): Promise<string[]> {
  if (kind === 'postgresql') {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const res = await client.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
    const count = await client.query('SELECT count(*)::int AS n FROM _prisma_migrations');
    await client.end();
    return [...res.rows.map((r: { table_name: string }) => r.table_name), `migrations:${count.rows[0].n}`];
  }
  const db = new Database(url.slice(5));
  const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1").all() as { name: string }[];
  const n = (db.prepare('SELECT count(*) AS n FROM _prisma_migrations').get() as { n: number }).n;
  db.close();
  return [...names.map((r) => r.name), `migrations:${n}`];
}

describe(`migrations on ${kind}`, () => {
  it('apply from an empty database, and a second run changes nothing', async () => {
    const url = await emptyDatabaseUrl();
    const target = databaseTarget(url);
    const all = readMigrations(kind).migrationDirectories.map((d: { path: string }) => d.path);
    expect(all.length).toBeGreaterThan(0);
    expect(await applyMigrations(target)).toEqual(all);
    const before = await tablesOf(url);
    expect(before).toContain('Resource');
    expect(before).toContain('AuditRecord');
    expect(before).toContain(`migrations:${all.length}`);
    expect(await applyMigrations(target)).toEqual([]);
    expect(await tablesOf(url)).toEqual(before);
  });
});
