import Database from 'better-sqlite3';
import pg from 'pg';
import type { Resource } from '@medplum/fhirtypes';
import { databaseKind } from '../env';
import { sqliteFile } from '../db';
import { indexResource } from './indexer';
import { assertId, assertResource } from './store';

/**
 * Writes many new resources fast (seeding): one transaction per call, so an interrupted seed
 * never leaves half a patient behind. Prisma's createMany costs ~40x a raw prepared statement on
 * SQLite at this volume, so this path uses the driver directly; its SQL is plain ANSI inserts
 * into the tables of the Prisma schema and is tested on both databases.
 */
export interface BulkWriter {
  /** Inserts resources (each must carry an id) in one transaction. Returns the count written. */
  write(sandboxId: string, resources: Resource[]): Promise<number>;
  close(): Promise<void>;
}

interface Rows {
  resource: unknown[][];
  version: unknown[][];
  token: unknown[][];
  string: unknown[][];
  date: unknown[][];
  reference: unknown[][];
  quantity: unknown[][];
  compartment: unknown[][];
}

const TABLES: Record<keyof Rows, { table: string; columns: string[] }> = {
  resource: { table: 'Resource', columns: ['sandboxId', 'type', 'id', 'versionId', 'lastUpdated', 'deleted', 'content'] },
  version: { table: 'ResourceVersion', columns: ['sandboxId', 'type', 'id', 'versionId', 'lastUpdated', 'deleted', 'method', 'content'] },
  token: { table: 'SearchToken', columns: ['sandboxId', 'type', 'resourceId', 'param', 'system', 'code', 'text'] },
  string: { table: 'SearchString', columns: ['sandboxId', 'type', 'resourceId', 'param', 'value', 'exact'] },
  date: { table: 'SearchDate', columns: ['sandboxId', 'type', 'resourceId', 'param', 'start', 'end'] },
  reference: { table: 'SearchReference', columns: ['sandboxId', 'type', 'resourceId', 'param', 'targetType', 'targetId'] },
  quantity: { table: 'SearchQuantity', columns: ['sandboxId', 'type', 'resourceId', 'param', 'value', 'system', 'code'] },
  compartment: { table: 'CompartmentMember', columns: ['sandboxId', 'patientId', 'type', 'resourceId'] },
};

function toRows(sandboxId: string, resources: Resource[], now: Date, dateValue: (d: Date) => unknown, boolValue: (b: boolean) => unknown): Rows {
  const rows: Rows = { resource: [], version: [], token: [], string: [], date: [], reference: [], quantity: [], compartment: [] };
  const lastUpdated = now.toISOString();
  for (const input of resources) {
    const checked = assertResource(input);
    if (!checked.id) throw new Error('bulk writes need resources with ids');
    assertId(checked.id);
    const resource = { ...checked, meta: { ...checked.meta, versionId: '1', lastUpdated } } as Resource;
    const id = resource.id!;
    const type = resource.resourceType;
    const content = JSON.stringify(resource);
    const at = dateValue(now);
    rows.resource.push([sandboxId, type, id, 1, at, boolValue(false), content]);
    rows.version.push([sandboxId, type, id, 1, at, boolValue(false), 'POST', content]);
    const index = indexResource(resource);
    for (const t of index.tokens) rows.token.push([sandboxId, type, id, t.param, t.system, t.code, t.text]);
    for (const s of index.strings) rows.string.push([sandboxId, type, id, s.param, s.value, s.exact]);
    for (const d of index.dates) rows.date.push([sandboxId, type, id, d.param, d.start, d.end]);
    for (const r of index.references) rows.reference.push([sandboxId, type, id, r.param, r.targetType, r.targetId]);
    for (const q of index.quantities) rows.quantity.push([sandboxId, type, id, q.param, q.value, q.system, q.code]);
    for (const p of index.compartments) rows.compartment.push([sandboxId, p, type, id]);
  }
  return rows;
}

function sqliteWriter(file: string): BulkWriter {
  const db = new Database(file, { timeout: 10_000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const statements = Object.fromEntries(
    Object.entries(TABLES).map(([key, t]) => [key, db.prepare(`INSERT INTO "${t.table}" (${t.columns.map((c) => `"${c}"`).join(', ')}) VALUES (${t.columns.map(() => '?').join(', ')})`)]),
  ) as Record<keyof Rows, Database.Statement>;
  // Same text form the Prisma SQLite adapter writes, so both read back identically.
  const dateValue = (d: Date) => d.toISOString().replace('Z', '+00:00');
  const insertAll = db.transaction((rows: Rows) => {
    for (const key of Object.keys(TABLES) as (keyof Rows)[]) {
      const stmt = statements[key];
      for (const row of rows[key]) stmt.run(row);
    }
  });
  return {
    async write(sandboxId, resources) {
      if (!resources.length) return 0;
      insertAll(toRows(sandboxId, resources, new Date(), dateValue, (b) => (b ? 1 : 0)));
      return resources.length;
    },
    async close() {
      db.pragma('optimize');
      db.close();
    },
  };
}

function postgresWriter(url: string): BulkWriter {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const MAX_PARAMS = 60_000;
  return {
    async write(sandboxId, resources) {
      if (!resources.length) return 0;
      const rows = toRows(sandboxId, resources, new Date(), (d) => d, (b) => b);
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        for (const key of Object.keys(TABLES) as (keyof Rows)[]) {
          const { table, columns } = TABLES[key];
          const all = rows[key];
          const perChunk = Math.max(1, Math.floor(MAX_PARAMS / columns.length));
          for (let i = 0; i < all.length; i += perChunk) {
            const chunk = all.slice(i, i + perChunk);
            const values: unknown[] = [];
            const tuples = chunk.map((row) => `(${row.map((v) => (values.push(v), `$${values.length}`)).join(', ')})`);
            await client.query(`INSERT INTO "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) VALUES ${tuples.join(', ')}`, values);
          }
        }
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
      return resources.length;
    },
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
