import Database from 'better-sqlite3';
import pg from 'pg';
import type { Resource } from '@medplum/fhirtypes';
import { databaseKind } from '../env';
import { sqliteFile } from '../db';
import { BULK_TABLES, toBulkBatch } from './bulk-rows';
import type { BulkBatch, BulkRows } from './bulk-rows';

/**
 * Writes many new resources fast (seeding): one transaction per call, so an interrupted seed
 * never leaves half a patient behind. Prisma's createMany costs ~40x a raw prepared statement on
 * SQLite at this volume, so this path uses the driver directly; its SQL is plain ANSI inserts
 * into the tables of the Prisma schema and is tested on both databases.
 */
export interface BulkWriter {
  /** Inserts resources (each must carry an id) in one transaction. Returns the count written. */
  write(sandboxId: string, resources: Resource[]): Promise<number>;
  /** Inserts the rows of a batch built by toBulkBatch (possibly on another thread) in one transaction. */
  writeBatch(batch: BulkBatch): Promise<number>;
  close(): Promise<void>;
}

const INDEX_KEYS = (Object.keys(BULK_TABLES) as (keyof BulkRows)[]).filter((k) => k !== 'resource');
const RESOURCE_COLUMNS = ['sandboxId', 'type', 'id', 'versionId', 'lastUpdated', 'deleted', 'content'];
const VERSION_COLUMNS = ['sandboxId', 'type', 'id', 'versionId', 'lastUpdated', 'deleted', 'method', 'content'];

const quoted = (columns: string[]) => columns.map((c) => `"${c}"`).join(', ');

function sqliteWriter(file: string): BulkWriter {
  const db = new Database(file, { timeout: 10_000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // This connection only appends. Checkpointing the WAL every ~80 MB rather than every 4 MB (the
  // default) saves most of the fsyncs and page copies of a large load, and a 64 MiB page cache
  // keeps the index pages it keeps revisiting; both settings belong to this connection only.
  db.pragma('wal_autocheckpoint = 20000');
  db.pragma('cache_size = -65536');
  const resource = db.prepare(`INSERT INTO "Resource" (${quoted(RESOURCE_COLUMNS)}) VALUES (?, ?, ?, 1, ?, 0, ?)`);
  const version = db.prepare(`INSERT INTO "ResourceVersion" (${quoted(VERSION_COLUMNS)}) VALUES (?, ?, ?, 1, ?, 0, 'POST', ?)`);
  const index = INDEX_KEYS.map((key) => {
    const columns = ['sandboxId', ...BULK_TABLES[key].columns];
    return { key, stride: columns.length - 1, stmt: db.prepare(`INSERT INTO "${BULK_TABLES[key].table}" (${quoted(columns)}) VALUES (${columns.map(() => '?').join(', ')})`) };
  });
  const insertAll = db.transaction((batch: BulkBatch) => {
    const { sandboxId, rows } = batch;
    // The text form the Prisma SQLite adapter writes for a DateTime, so both read back identically.
    const at = batch.lastUpdated.replace('Z', '+00:00');
    const r = rows.resource;
    for (let i = 0; i < r.length; i += 3) resource.run(sandboxId, r[i], r[i + 1], at, r[i + 2]);
    for (let i = 0; i < r.length; i += 3) version.run(sandboxId, r[i], r[i + 1], at, r[i + 2]);
    // Values passed one by one: no array per row.
    for (const { key, stride, stmt } of index) {
      const f = rows[key];
      if (stride === 3) for (let i = 0; i < f.length; i += 3) stmt.run(sandboxId, f[i], f[i + 1], f[i + 2]);
      else if (stride === 5) for (let i = 0; i < f.length; i += 5) stmt.run(sandboxId, f[i], f[i + 1], f[i + 2], f[i + 3], f[i + 4]);
      else if (stride === 6) for (let i = 0; i < f.length; i += 6) stmt.run(sandboxId, f[i], f[i + 1], f[i + 2], f[i + 3], f[i + 4], f[i + 5]);
      else for (let i = 0; i < f.length; i += stride) stmt.run(sandboxId, ...f.slice(i, i + stride));
    }
  });
  const writeBatch = async (batch: BulkBatch) => {
    if (!batch.count) return 0;
    insertAll(batch);
    return batch.count;
  };
  return {
    write: (sandboxId, resources) => writeBatch(toBulkBatch(sandboxId, resources)),
    writeBatch,
    async close() {
      db.pragma('optimize');
      db.pragma('wal_checkpoint(PASSIVE)');
      db.close();
    },
  };
}

/** Columns of the index tables that PostgreSQL stores as double precision (the others are text). */
const FLOAT_COLUMNS = new Set(['SearchDate.start', 'SearchDate.end', 'SearchQuantity.value']);

function postgresWriter(url: string): BulkWriter {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  // One array parameter per column, unnested by the server: a statement per table and batch, with
  // nothing to parse or plan per row (a multi-row VALUES list costs several times more on both sides).
  const columnsOf = (flat: readonly unknown[], stride: number): unknown[][] => {
    const columns: unknown[][] = Array.from({ length: stride }, () => []);
    for (let i = 0; i < flat.length; i += stride) for (let c = 0; c < stride; c++) columns[c]!.push(flat[i + c]);
    return columns;
  };
  const resourceSql = `INSERT INTO "Resource" (${quoted(RESOURCE_COLUMNS)}) SELECT $1::text, u.type, u.id, 1, $2::timestamp(3), false, u.content FROM unnest($3::text[], $4::text[], $5::text[]) AS u(type, id, content)`;
  const versionSql = `INSERT INTO "ResourceVersion" (${quoted(VERSION_COLUMNS)}) SELECT $1::text, u.type, u.id, 1, $2::timestamp(3), false, 'POST', u.content FROM unnest($3::text[], $4::text[], $5::text[]) AS u(type, id, content)`;
  const indexSql = Object.fromEntries(
    INDEX_KEYS.map((key) => {
      const { table, columns } = BULK_TABLES[key];
      const arrays = columns.map((c, i) => `$${i + 2}::${FLOAT_COLUMNS.has(`${table}.${c}`) ? 'float8' : 'text'}[]`);
      return [key, `INSERT INTO "${table}" (${quoted(['sandboxId', ...columns])}) SELECT $1::text, * FROM unnest(${arrays.join(', ')})`];
    }),
  ) as Record<keyof BulkRows, string>;
  const writeBatch = async (batch: BulkBatch) => {
    if (!batch.count) return 0;
    const { sandboxId, rows } = batch;
    // A Date, as the Prisma adapter passes a DateTime.
    const at = new Date(batch.lastUpdated);
    const resources = columnsOf(rows.resource, 3);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(resourceSql, [sandboxId, at, ...resources]);
      await client.query(versionSql, [sandboxId, at, ...resources]);
      for (const key of INDEX_KEYS) {
        const flat: unknown[] = rows[key];
        if (flat.length) await client.query(indexSql[key], [sandboxId, ...columnsOf(flat, BULK_TABLES[key].columns.length)]);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    return batch.count;
  };
  return {
    write: (sandboxId, resources) => writeBatch(toBulkBatch(sandboxId, resources)),
    writeBatch,
    async close() {
      // Fresh bulk-loaded tables have no planner statistics; without them PostgreSQL plans the
      // compartment `IN (subquery)` as a per-row scan (seconds instead of milliseconds).
      await pool.query('ANALYZE').catch(() => undefined);
      await pool.end();
    },
  };
}

/** Opens a bulk writer on a database URL (SQLite file by default). */
export function createBulkWriter(url: string): BulkWriter {
  return databaseKind(url) === 'postgresql' ? postgresWriter(url) : sqliteWriter(sqliteFile(url));
}
