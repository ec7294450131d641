import { open } from 'node:fs/promises';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { Resource } from '@medplum/fhirtypes';
import { databaseKind } from '../env';
import { sqliteFile } from '../db';
import { BULK_TABLE_KEYS, BULK_TABLES, bulkColumns, toBulkBatch } from './bulk-rows';
import type { BulkBatch, BulkTable } from './bulk-rows';

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
  /** Deletes a sandbox's resources, versions, index rows and compartments in one transaction. */
  clear(sandboxId: string): Promise<void>;
  close(): Promise<void>;
}

/** Every table that holds FHIR data of a sandbox (not its clients, tokens or audit). */
const DATA_TABLES = ['SearchToken', 'SearchString', 'SearchDate', 'SearchReference', 'SearchQuantity', 'CompartmentMember', 'ResourceVersion', 'Resource'];

const INDEX_KEYS = BULK_TABLE_KEYS.filter((k) => k !== 'resource');
const RESOURCE_COLUMNS = ['sandboxId', 'type', 'id', 'versionId', 'lastUpdated', 'deleted', 'content'];
const VERSION_COLUMNS = ['sandboxId', 'type', 'id', 'versionId', 'lastUpdated', 'deleted', 'method', 'content'];

const quoted = (columns: string[]) => columns.map((c) => `"${c}"`).join(', ');

function sqliteWriter(file: string): BulkWriter {
  const db = new Database(file, { timeout: 10_000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // This connection only appends. Checkpointing the WAL every ~400 MB rather than every 4 MB (the
  // default) copies each hot index page back into the database a few times per seed instead of
  // hundreds (~13% less CPU than every 80 MB), and a 64 MiB page cache (default 2 MiB) holds the
  // pages a batch of several thousand resources dirties, so none is spilled to the WAL before the
  // commit (with 32 MiB, ~5% of the writing time went to that). A transaction stays atomic
  // however long the WAL grows. Both settings belong to this connection only.
  db.pragma('wal_autocheckpoint = 100000');
  db.pragma('cache_size = -65536');
  const resource = db.prepare(`INSERT INTO "Resource" (${quoted(RESOURCE_COLUMNS)}) VALUES (?, ?, ?, 1, ?, 0, ?)`);
  const version = db.prepare(`INSERT INTO "ResourceVersion" (${quoted(VERSION_COLUMNS)}) VALUES (?, ?, ?, 1, ?, 0, 'POST', ?)`);
  const index = INDEX_KEYS.map((key) => {
    const { table, columns, numeric } = BULK_TABLES[key];
    const all = ['sandboxId', ...columns];
    return {
      key,
      stride: columns.length,
      text: columns.map((c) => !numeric.includes(c)),
      stmt: db.prepare(`INSERT INTO "${table}" (${quoted(all)}) VALUES (${all.map(() => '?').join(', ')})`),
    };
  });
  const insertAll = db.transaction((batch: BulkBatch) => {
    const { sandboxId, rows, strings } = batch;
    // The text form the Prisma SQLite adapter writes for a DateTime, so both read back identically.
    const at = batch.lastUpdated.replace('Z', '+00:00');
    const r = rows.resource;
    for (let i = 0; i < r.length; i += 3) resource.run(sandboxId, strings[r[i]!], strings[r[i + 1]!], at, strings[r[i + 2]!]);
    for (let i = 0; i < r.length; i += 3) version.run(sandboxId, strings[r[i]!], strings[r[i + 1]!], at, strings[r[i + 2]!]);
    for (const { key, stride, text, stmt } of index) {
      const f = rows[key];
      // One array for every row of the table: nothing allocated per row.
      const args: unknown[] = new Array<unknown>(stride + 1);
      args[0] = sandboxId;
      for (let i = 0; i < f.length; i += stride) {
        for (let c = 0; c < stride; c++) {
          const v = f[i + c]!;
          args[c + 1] = !text[c] ? v : v < 0 ? null : strings[v];
        }
        stmt.run(args);
      }
    }
  });
  const writeBatch = async (batch: BulkBatch) => {
    if (!batch.count) return 0;
    insertAll(batch);
    return batch.count;
  };
  // A table that holds no other sandbox is emptied without a WHERE clause: SQLite then frees its
  // pages instead of deleting row by row and index entry by entry (~1 s instead of ~15 s for
  // 1,000 patients whose pages are in the OS cache). The check and the delete share one write
  // lock (BEGIN IMMEDIATE).
  const onlySandbox = DATA_TABLES.map((table) => ({
    bounds: db.prepare(`SELECT MIN("sandboxId") AS lo, MAX("sandboxId") AS hi FROM "${table}"`),
    all: db.prepare(`DELETE FROM "${table}"`),
    some: db.prepare(`DELETE FROM "${table}" WHERE "sandboxId" = ?`),
  }));
  const clearAll = db.transaction((sandboxId: string) => {
    for (const { bounds, all, some } of onlySandbox) {
      const { lo, hi } = bounds.get() as { lo: string | null; hi: string | null };
      if (lo === null) continue;
      if (lo === sandboxId && hi === sandboxId) all.run();
      else some.run(sandboxId);
    }
  });
  return {
    write: (sandboxId, resources) => writeBatch(toBulkBatch(sandboxId, resources)),
    writeBatch,
    async clear(sandboxId) {
      // Deleting visits every page of the tables in tree order: from disk, that is random reads
      // (~10 s for 1,000 patients). Reading the file through first costs ~1 s and serves them all.
      await readThrough(file);
      clearAll.immediate(sandboxId);
    },
    async close() {
      db.pragma('optimize');
      // Empties the WAL (up to the size at which this connection checkpoints) unless a reader
      // still needs it, without waiting for one.
      db.pragma('busy_timeout = 0');
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
    },
  };
}

/** Reads a file from start to end (into the OS page cache), discarding what it reads. */
async function readThrough(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(8 << 20);
    while ((await handle.read(buffer, 0, buffer.length, null)).bytesRead > 0);
  } finally {
    await handle.close();
  }
}

function postgresWriter(url: string): BulkWriter {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  // Index rows (short values, many rows): one array parameter per column, unnested by the server,
  // so there is nothing to parse or plan per row.
  const indexSql = Object.fromEntries(
    INDEX_KEYS.map((key) => {
      const { table, columns, numeric } = BULK_TABLES[key];
      const arrays = columns.map((c, i) => `$${i + 2}::${numeric.includes(c) ? 'float8' : 'text'}[]`);
      return [key, `INSERT INTO "${table}" (${quoted(['sandboxId', ...columns])}) SELECT $1::text, * FROM unnest(${arrays.join(', ')})`];
    }),
  ) as Record<BulkTable, string>;
  /**
   * Resources as plain parameters of a multi-row VALUES list (quoting JSON into an array literal
   * would cost more than it saves), each sent once: the version rows are copied from the
   * inserted ones by the server. Chunks stay under PostgreSQL's 65,535 bind parameters.
   */
  const insertResources = async (client: pg.PoolClient, batch: BulkBatch, at: Date) => {
    const r = batch.rows.resource;
    const { strings } = batch;
    const perChunk = 3 * 20_000;
    for (let start = 0; start < r.length; start += perChunk) {
      const values: unknown[] = [batch.sandboxId, at];
      const tuples: string[] = [];
      for (let i = start; i < Math.min(r.length, start + perChunk); i += 3) {
        const n = values.push(strings[r[i]!], strings[r[i + 1]!], strings[r[i + 2]!]);
        tuples.push(`($1, $${n - 2}, $${n - 1}, 1, $2, false, $${n})`);
      }
      await client.query(
        `WITH r AS (INSERT INTO "Resource" (${quoted(RESOURCE_COLUMNS)}) VALUES ${tuples.join(', ')} RETURNING "type", "id", "content")
         INSERT INTO "ResourceVersion" (${quoted(VERSION_COLUMNS)}) SELECT $1, r."type", r."id", 1, $2, false, 'POST', r."content" FROM r`,
        values,
      );
    }
  };
  /** Runs `run` in one transaction on one pooled connection: committed when it returns, rolled back when it throws. */
  const inTransaction = async (run: (client: pg.PoolClient) => Promise<void>) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await run(client);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  };
  const writeBatch = async (batch: BulkBatch) => {
    if (!batch.count) return 0;
    // A Date, as the Prisma adapter passes a DateTime.
    const at = new Date(batch.lastUpdated);
    await inTransaction(async (client) => {
      await insertResources(client, batch, at);
      for (const key of INDEX_KEYS) {
        if (batch.rows[key].length) await client.query(indexSql[key], [batch.sandboxId, ...bulkColumns(batch, key)]);
      }
    });
    return batch.count;
  };
  const clear = (sandboxId: string) =>
    inTransaction(async (client) => {
      // No other writer until the end of the transaction (readers go on): what the check finds is what is deleted.
      await client.query(`LOCK TABLE ${DATA_TABLES.map((t) => `"${t}"`).join(', ')} IN EXCLUSIVE MODE`);
      const others: string[] = [];
      for (const table of DATA_TABLES) {
        const { rows } = await client.query<{ other: boolean }>(`SELECT EXISTS (SELECT 1 FROM "${table}" WHERE "sandboxId" <> $1) AS other`, [sandboxId]);
        if (rows[0]?.other) others.push(table);
      }
      // TRUNCATE frees a table at once where DELETE visits every row.
      const alone = DATA_TABLES.filter((t) => !others.includes(t));
      if (alone.length) await client.query(`TRUNCATE ${alone.map((t) => `"${t}"`).join(', ')}`);
      for (const table of others) await client.query(`DELETE FROM "${table}" WHERE "sandboxId" = $1`, [sandboxId]);
    });
  return {
    write: (sandboxId, resources) => writeBatch(toBulkBatch(sandboxId, resources)),
    writeBatch,
    clear,
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
