// Drives Prisma's schema engine compiled to WebAssembly through the same driver adapter the app
// uses, so migrations run offline on SQLite and PostgreSQL (no engine binary is downloaded).
import { readFileSync, readdirSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import { root, schemaPath } from '../prisma-schemas.mjs';

const require = createRequire(import.meta.url);

let enginePanic = '';
globalThis.PRISMA_WASM_PANIC_REGISTRY ??= { set_message: (m) => (enginePanic = m) };
let engineModule;
async function loadEngineModule() {
  engineModule ??= instantiateEngineModule();
  return engineModule;
}

async function instantiateEngineModule() {
  const dir = dirname(require.resolve('@prisma/schema-engine-wasm/schema_engine_bg'));
  const bg = await import(join(dir, 'schema_engine_bg.js'));
  const bytes = readFileSync(join(dir, 'schema_engine_bg.wasm'));
  const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': bg });
  bg.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start?.();
  return bg;
}

/** Returns { kind, url } for a DATABASE_URL (empty → the embedded SQLite file). */
export function databaseTarget(url = process.env.DATABASE_URL) {
  if (url && /^postgres(ql)?:\/\//.test(url)) return { kind: 'postgresql', url };
  const file = url?.startsWith('file:') ? url.slice(5) : join(root, 'data', 'sandbox.db');
  return { kind: 'sqlite', url: `file:${file}`, file };
}

export async function createAdapterFactory(target) {
  if (target.kind === 'sqlite') {
    mkdirSync(dirname(target.file), { recursive: true });
    const { PrismaBetterSqlite3 } = await import('@prisma/adapter-better-sqlite3');
    return new PrismaBetterSqlite3({ url: target.file });
  }
  const { PrismaPg } = await import('@prisma/adapter-pg');
  return new PrismaPg({ connectionString: target.url });
}

export function migrationsDir(kind) {
  return join(root, 'prisma', kind, 'migrations');
}

export function readMigrations(kind) {
  const baseDir = migrationsDir(kind);
  const dirs = existsSync(baseDir)
    ? readdirSync(baseDir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort()
    : [];
  const lockPath = join(baseDir, 'migration_lock.toml');
  return {
    baseDir,
    lockfile: { path: 'migration_lock.toml', content: existsSync(lockPath) ? readFileSync(lockPath, 'utf8') : null },
    shadowDbInitScript: '',
    migrationDirectories: dirs.map((name) => ({
      path: name,
      migrationFile: { path: 'migration.sql', content: { tag: 'ok', value: readFileSync(join(baseDir, name, 'migration.sql'), 'utf8') } },
    })),
  };
}

const noFilter = { externalTables: [], externalEnums: [] };

/** Opens the schema engine on a database. Call engine.free() and dispose() when done. */
export async function openEngine(target) {
  const bg = await loadEngineModule();
  const factory = await createAdapterFactory(target);
  // Keep every connection the engine opens, so it can be closed with the engine (a SQLite
  // connection left open keeps its lock and blocks the next writer).
  const opened = [];
  const tracked = Object.create(factory);
  tracked.connect = async (...args) => {
    const adapter = await factory.connect(...args);
    opened.push(adapter);
    return adapter;
  };
  tracked.connectToShadowDb = async (...args) => {
    const adapter = await factory.connectToShadowDb(...args);
    opened.push(adapter);
    return adapter;
  };
  const bound = bindMigrationAwareSqlAdapterFactory(tracked);
  const schema = readFileSync(schemaPath(target.kind), 'utf8');
  const logs = [];
  const engine = await bg.SchemaEngine.new({ datamodels: [[schemaPath(target.kind), schema]] }, (msg) => logs.push(msg), bound);
  const free = engine.free.bind(engine);
  engine.free = () => {
    free();
    engine.closed = Promise.all(opened.map((adapter) => adapter.dispose?.().catch?.(() => undefined)));
  };
  return { engine, schema, logs };
}

/** Applies every pending migration; returns the names applied. Idempotent. */
/**
 * The checked-in migrations a database has not applied yet, read with one plain query (no schema
 * engine, no lock): a caller can skip applyMigrations when there are none, even while a server
 * has the database open.
 */
export async function pendingMigrations(target) {
  const all = readMigrations(target.kind).migrationDirectories.map((d) => d.path);
  let applied = [];
  if (target.kind === 'sqlite') {
    if (!existsSync(target.file)) return all;
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(target.file, { timeout: 10_000 });
    try {
      const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_prisma_migrations'").get();
      if (table)
        applied = db
          .prepare('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL')
          .all()
          .map((r) => r.migration_name);
    } finally {
      db.close();
    }
  } else {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    try {
      const table = await client.query("SELECT to_regclass('public._prisma_migrations') AS t");
      if (table.rows[0].t)
        applied = (await client.query('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL')).rows.map(
          (r) => r.migration_name,
        );
    } finally {
      await client.end();
    }
  }
  const done = new Set(applied);
  return all.filter((name) => !done.has(name));
}

export async function applyMigrations(target) {
  const { engine } = await openEngine(target);
  let applied;
  try {
    const out = await engine.applyMigrations({ migrationsList: readMigrations(target.kind), filters: noFilter });
    applied = out.appliedMigrationNames;
  } catch (err) {
    throw new Error(`schema engine: ${enginePanic || describe(err)}`);
  } finally {
    engine.free();
  }
  await engine.closed;
  if (target.kind === 'sqlite') {
    // Write-ahead logging lets readers and one writer work at once; it stays set in the file.
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(target.file, { timeout: 10_000 });
    db.pragma('journal_mode = WAL');
    db.close();
  }
  return applied;
}

function describe(err) {
  return typeof err === 'object' && err && 'message' in err ? err.message : JSON.stringify(err);
}

/** The schema the checked-in migrations of a provider lead to. */
export function snapshotPath(kind) {
  return join(migrationsDir(kind), 'schema.snapshot.prisma');
}

/** SQL that takes a database with the checked-in migrations to the current schema ('' if none). */
export async function diffMigrationsToSchema(target) {
  // The migrations folder keeps a snapshot of the schema it leads to; the next migration is
  // the diff between two datamodels, which needs no shadow database (the wasm engine cannot
  // create one on SQLite, and cannot introspect PostgreSQL: "Column type 'char'").
  const snapshot = snapshotPath(target.kind);
  const { engine, schema } = await openEngine(target);
  try {
    const from = existsSync(snapshot)
      ? { tag: 'schemaDatamodel', files: [{ path: schemaPath(target.kind), content: readFileSync(snapshot, 'utf8') }] }
      : { tag: 'empty' };
    const res = await engine.diff({
      from,
      to: { tag: 'schemaDatamodel', files: [{ path: schemaPath(target.kind), content: schema }] },
      script: true,
      exitCode: null,
      filters: noFilter,
    });
    return res.stdout ?? '';
  } finally {
    engine.free();
  }
}
