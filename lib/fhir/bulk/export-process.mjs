// The process an export job runs in, started by lib/fhir/bulk/jobs.ts (runInProcess) as plain
// Node: no TypeScript loader, no Prisma, only the database driver, so it starts in milliseconds and
// holds little more than one page of rows. The server has claimed the job and compiled its plan
// (the SQL of every type, with the token's access policy, the level's population, `_since`,
// `_typeFilter` and the transactionTime in the WHERE: lib/fhir/bulk/query.ts) and sends it as JSON
// on stdin. This process reads each type in keyset pages, writes the NDJSON into BulkExportChunk
// rows, reports a heartbeat under the server's claim, prints the output counts as one JSON line
// on stdout and exits 0 (also when the job was cancelled meanwhile: `"cancelled": true`), or
// non-zero on failure. It lowers its own scheduling priority first, so the server's requests
// come before it whenever both want the CPU.
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

/** Niceness of the export process: below the server's, so FHIR reads stay fast during an export. */
const NICENESS = 10;
/** Chunks being compressed (on libuv's thread pool) while the next page is read. */
const IN_FLIGHT = 2;

const brotliCompress = promisify(zlib.brotliCompress);

/**
 * Lowers this process's priority to NICENESS. On Linux a priority belongs to a thread, and threads
 * started before the call (V8's, libuv's pool that compresses the chunks) keep theirs: each thread
 * listed in /proc/self/task is lowered too. Called again once the pool has surely started.
 */
function lowerPriority() {
  try {
    setPriority(NICENESS);
  } catch {
    // A platform without priorities runs the export at the server's.
  }
  let threads = [];
  try {
    threads = readdirSync('/proc/self/task');
  } catch {
    return;
  }
  for (const tid of threads) {
    try {
      setPriority(Number(tid), NICENESS);
    } catch {
      // The thread has ended.
    }
  }
}

const NEWLINE = Buffer.from('\n');

/** A chunk as stored: Brotli at quality 1, as lib/fhir/bulk/jobs.ts packChunk. */
function packChunk(bytes) {
  return brotliCompress(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } });
}

/** The `_elements` subset of a resource, marked SUBSETTED (the same rule as lib/fhir/bundle.ts selectElements). */
export function selectElements(resource, elements) {
  const keep = new Set(['resourceType', 'id', 'meta', ...elements.map((e) => e.replace('[x]', ''))]);
  const out = {};
  for (const [k, v] of Object.entries(resource)) {
    if (keep.has(k) || [...keep].some((e) => k.startsWith(e) && /^[A-Z]/.test(k.slice(e.length)) && elements.includes(`${e}[x]`))) out[k] = v;
  }
  const tag = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED', display: 'subsetted' };
  const meta = out.meta ?? {};
  return { ...out, meta: { ...meta, tag: [...(meta.tag ?? []), tag] } };
}

/**
 * A date parameter as the app stores dates: ISO 8601 with +00:00 on SQLite (as its adapter writes
 * them), UTC text on PostgreSQL (TIMESTAMP(3) columns hold UTC; a Date object would be sent in the
 * process's local zone).
 */
function dateArg(kind, date) {
  return kind === 'sqlite' ? date.toISOString().replace('Z', '+00:00') : date.toISOString();
}

/** The statements this process runs, on SQLite (better-sqlite3) or PostgreSQL (pg). */
async function open(plan) {
  if (plan.kind === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(plan.database, { timeout: 10_000 });
    db.pragma('synchronous = NORMAL');
    // The server's checkpoint thread copies the WAL into the database (lib/db/sqlite-checkpointer.ts).
    db.pragma('wal_autocheckpoint = 0');
    const cache = new Map();
    const prepared = (text) => {
      let stmt = cache.get(text);
      if (!stmt) cache.set(text, (stmt = db.prepare(text)));
      return stmt;
    };
    return {
      page: async (text, args) =>
        prepared(text)
          .raw(true)
          .all(...args),
      run: async (text, args) => prepared(text).run(...args).changes,
      close: async () => db.close(),
    };
  }
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: plan.database });
  await client.connect();
  return {
    page: async (text, args) => (await client.query({ text, values: args, rowMode: 'array' })).rows,
    run: async (text, args) => (await client.query({ text, values: args })).rowCount ?? 0,
    close: async () => client.end(),
  };
}

/** `$1, $2, …` on PostgreSQL, `?, ?, …` on SQLite. */
function placeholders(kind, n) {
  return Array.from({ length: n }, (_, i) => (kind === 'postgresql' ? `$${i + 1}` : '?')).join(', ');
}

class Cancelled extends Error {}

/** Runs a plan: every query into chunks of NDJSON; resolves with the output counts. */
export async function runPlan(plan) {
  const db = await open(plan);
  const ph = (i) => (plan.kind === 'postgresql' ? `$${i}` : '?');
  const insertChunk = `INSERT INTO "BulkExportChunk" ("jobId", "type", "seq", "lines", "data") VALUES (${placeholders(plan.kind, 5)})`;
  const heartbeat = `UPDATE "BulkExportJob" SET "heartbeatAt" = ${ph(1)}, "progress" = ${ph(2)} WHERE "id" = ${ph(3)} AND "owner" = ${ph(4)} AND "status" = 'running'`;
  const output = [];
  // A full chunk is compressed off the main thread while the next rows are read; its insert
  // follows, in order. At most IN_FLIGHT chunks are held, whatever the size of the type.
  const pending = [];
  let threadsLowered = false;
  let total = 0;
  let lastBeat = Date.now();
  const beat = async (progress, force = false) => {
    if (!force && Date.now() - lastBeat < plan.heartbeatMs) return;
    lastBeat = Date.now();
    if ((await db.run(heartbeat, [dateArg(plan.kind, new Date()), progress, plan.jobId, plan.owner])) !== 1) throw new Cancelled();
  };
  try {
    for (const [i, q] of plan.queries.entries()) {
      let seq = 0;
      let count = 0;
      let lines = [];
      let bytes = 0;
      const flush = async () => {
        if (!lines.length) return;
        const row = [plan.jobId, q.type, seq++, lines.length];
        const parts = [];
        for (const line of lines) parts.push(line, NEWLINE);
        const packed = packChunk(Buffer.concat(parts, bytes + lines.length));
        const previous = pending[pending.length - 1] ?? Promise.resolve();
        pending.push(Promise.all([packed, previous]).then(([data]) => db.run(insertChunk, [...row, data])));
        if (!threadsLowered) packed.then(lowerPriority, () => undefined);
        threadsLowered = true;
        lines = [];
        bytes = 0;
        if (pending.length >= IN_FLIGHT) await pending.shift();
      };
      // Keyset paging: the query's last two parameters are "id after" and the page size.
      let after = '';
      for (;;) {
        const rows = await db.page(q.sql, [...q.args, after, plan.pageRows]);
        // The JSON arrives as bytes (the query selects it so): it goes to the chunk without being decoded.
        for (const [, content] of rows) {
          const line = plan.elements
            ? Buffer.from(JSON.stringify(selectElements(JSON.parse(content.toString('utf8')), plan.elements)))
            : typeof content === 'string'
              ? Buffer.from(content)
              : content;
          lines.push(line);
          bytes += line.length;
          if (bytes >= plan.chunkBytes) await flush();
        }
        count += rows.length;
        total += rows.length;
        if (rows.length < plan.pageRows) break;
        after = rows[rows.length - 1][0];
        await beat(`${i}/${plan.queries.length} types, ${total} resources`);
      }
      await flush();
      await Promise.all(pending.splice(0));
      if (count) output.push({ type: q.type, count });
      await beat(`${i + 1}/${plan.queries.length} types, ${total} resources`);
    }
    return { output, total, cancelled: false };
  } catch (err) {
    if (err instanceof Cancelled) return { output, total, cancelled: true };
    throw err;
  } finally {
    await Promise.allSettled(pending);
    await db.close();
  }
}

async function readStdin() {
  const parts = [];
  for await (const part of process.stdin) parts.push(part);
  return Buffer.concat(parts).toString('utf8');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // The server that started this process holds the claim and writes the manifest: without it the
  // run is for nothing (another instance takes the job over once its heartbeat is stale).
  process.on('disconnect', () => process.exit(3));
  lowerPriority();
  try {
    const result = await runPlan(JSON.parse(await readStdin()));
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  }
}
