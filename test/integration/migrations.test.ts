import { afterAll, describe, it, expect, inject } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import Database from 'better-sqlite3';
// @ts-expect-error plain ESM helper without types
import { applyMigrations, databaseTarget, readMigrations } from '../../scripts/lib/schema-engine.mjs';
// @ts-expect-error plain ESM helper without types
import { freshPostgresDatabase } from '../../scripts/lib/pg-database.mjs';

const kind = inject('databaseKind');

const folders: string[] = [];
afterAll(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

async function emptyDatabaseUrl(): Promise<string> {
  if (kind === 'postgresql') return freshPostgresDatabase(process.env.TEST_DATABASE_URL!, 'mig');
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-mig-'));
  folders.push(dir);
  return `file:${join(dir, 'm.db')}`;
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

/** `npm run seed` with these arguments on a database; its exit code and what it printed. */
function seedCli(url: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'prisma/seed.ts', '--patients', '1', '--seed', '11', '--no-roster', '--quiet', ...args], {
    cwd: join(import.meta.dirname, '..', '..'),
    env: { ...process.env, DATABASE_URL: url },
    encoding: 'utf8',
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

async function patientCount(url: string): Promise<number> {
  if (kind === 'postgresql') {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const res = await client.query(`SELECT count(*)::int AS n FROM "Resource" WHERE "type" = 'Patient'`);
    await client.end();
    return res.rows[0].n as number;
  }
  const db = new Database(url.slice(5));
  const n = (db.prepare(`SELECT count(*) AS n FROM "Resource" WHERE "type" = 'Patient'`).get() as { n: number }).n;
  db.close();
  return n;
}

describe(`npm run seed on ${kind}`, () => {
  it('gives a fresh database its schema first, then refuses the same seed again with a sentence, not a stack trace', async () => {
    const url = await emptyDatabaseUrl();
    const first = seedCli(url, []);
    expect(first.status, first.out).toBe(0);
    expect(first.out).toMatch(/applied migrations: .*_init/);
    expect(first.out).toMatch(/seeded 1 patients/);
    expect(await patientCount(url)).toBe(1);

    const again = seedCli(url, []);
    expect(again.status).toBe(1);
    expect(again.out).not.toContain('applied migrations'); // an up-to-date schema is left alone
    expect(again.out).toContain('seed 11 was seeded before');
    expect(again.out).toContain('add --reset to start over');
    expect(again.out).not.toMatch(/^\s+at /m);
    expect(await patientCount(url)).toBe(1);

    expect(seedCli(url, ['--reset']).status).toBe(0);
    expect(await patientCount(url)).toBe(1);
  }, 120_000);

  it('with --no-migrate on a database without a schema, says what to do', async () => {
    const url = await emptyDatabaseUrl();
    const r = seedCli(url, ['--no-migrate']);
    expect(r.status).toBe(1);
    expect(r.out).toContain('the database has no schema yet');
    expect(r.out).not.toMatch(/^\s+at /m);
  }, 60_000);
});
