/**
 * Export jobs: created at kick-off, run by whichever instance claims them, kept in the database
 * (BulkExportJob, BulkExportChunk) so a restart or a second instance on the same PostgreSQL can
 * report, resume or fail them. A job whose instance stopped reporting (stale heartbeat) is taken
 * over and run again from the start; one that keeps dying fails with an OperationOutcome
 * (docs/CONFORMANCE.md §14).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { Db, DbKind } from '../../db';
import { getDb, getDbKind, sqliteFile } from '../../db';
import { rawQuery } from '../../db/direct';
import { env } from '../../env';
import { parseScopeString } from '../../smart/scopes';
import type { AccessPolicy } from '../../smart/access-policy';
import { compileAccessPolicy } from '../../smart/access-policy';
import { scopeOf } from '../access';
import { patientCompartmentTypes } from '../definitions';
import { selectElements } from '../bundle';
import { operationOutcome } from '../outcomes';
import type { SimulatedError } from '../../launch-options/simulated-errors';
import type { ExportParams } from './params';
import { compileTypeFilter } from './params';
import type { ExportQuery } from './query';
import { exportPageSql, storedTypes } from './query';
import { ExportCancelled } from '../errors';
import { simulatedJobResult } from './simulated-failures';

const brotliCompress = promisify(zlib.brotliCompress);
const brotliDecompress = promisify(zlib.brotliDecompress);

export type JobStatus = 'queued' | 'running' | 'completed' | 'failed';

/** One output file of a completed job. */
export interface OutputFile {
  type: string;
  count: number;
}

/** Chunk `type` of the error file (OperationOutcomes, one per line). */
export const ERROR_FILE = '$errors';
/** A completed job's files stay this long (its manifest says so in the Expires header). */
export const JOB_TTL_MS = 60 * 60_000;
/** A job not finished within this long is dropped. */
const UNFINISHED_TTL_MS = 24 * 60 * 60_000;
/** A running job whose heartbeat is older than this is taken over. */
export const STALE_MS = 30_000;
const HEARTBEAT_MS = 2_000;
export const MAX_ATTEMPTS = 3;
/** Rows per query, and bytes per stored chunk of NDJSON: what a running job holds in memory. */
const PAGE_ROWS = 5000;
const CHUNK_BYTES = 1 << 20;

/**
 * A chunk as stored: its NDJSON compressed with Brotli at quality 1 (export-process.mjs writes the
 * same), about a tenth of the text for less CPU than writing the text into the database.
 */
export async function packChunk(text: string): Promise<Uint8Array<ArrayBuffer>> {
  const packed = await brotliCompress(Buffer.from(text), {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: Buffer.byteLength(text) },
  });
  return new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength) as Uint8Array<ArrayBuffer>;
}

/** The NDJSON of a stored chunk. */
export async function unpackChunk(data: Uint8Array): Promise<Uint8Array> {
  return brotliDecompress(data);
}

/** This process, as a job owner. */
const OWNER = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;

/** The file the export process runs (see runInProcess); present in a checkout, where `npm start` runs. */
const EXPORT_PROCESS = join(process.cwd(), 'lib', 'fhir', 'bulk', 'export-process.mjs');
/** Old-generation heap of the export process, MiB: what it keeps alive is one page of rows and one chunk. */
const EXPORT_PROCESS_HEAP_MB = 96;

/** The policy a job reads with: the system/ and user/ scopes of the token that started it. */
export function exportPolicy(scope: string, fhirUser: string | null): AccessPolicy {
  const { scopes } = parseScopeString(scope);
  return compileAccessPolicy(
    scopes.filter((s) => s.kind === 'resource' && (s.context === 'system' || s.context === 'user')),
    fhirUser ? { fhirUser } : {},
  );
}

/** Stored job params: the kick-off parameters, who asked, and the simulated failure of its launch. */
export interface StoredParams extends ExportParams {
  fhirUser: string | null;
  simulated: SimulatedError | null;
  /** The transient status failure (bulk_status_transient_error) has been answered. */
  transientShown?: boolean;
}

let queue: Promise<void> = Promise.resolve();

/** Runs a job on this instance after the ones already queued here (one export at a time per instance). */
export function scheduleJob(db: Db, jobId: string): void {
  queue = queue.then(
    () => runIfClaimed(db, jobId),
    () => runIfClaimed(db, jobId),
  );
  queue.catch((err: unknown) => console.error('bulk export failed:', err instanceof Error ? (err.stack ?? err.message) : String(err)));
}

async function runIfClaimed(db: Db, jobId: string): Promise<void> {
  const now = new Date();
  const claimed = await db.bulkExportJob.updateMany({
    where: { id: jobId, OR: [{ status: 'queued' }, { status: 'running', heartbeatAt: { lt: new Date(now.getTime() - STALE_MS) } }] },
    data: { status: 'running', owner: OWNER, heartbeatAt: now, attempts: { increment: 1 } },
  });
  if (claimed.count !== 1) return;
  const job = await db.bulkExportJob.findUnique({ where: { id: jobId } });
  if (!job) return;
  if (job.attempts > MAX_ATTEMPTS) {
    await failJob(db, jobId, `The export was interrupted ${MAX_ATTEMPTS} times (its server stopped while running it); start a new export`);
    return;
  }
  try {
    await runJob(db, job, OWNER);
  } catch (err) {
    console.error('bulk export failed:', err instanceof Error ? (err.stack ?? err.message) : String(err));
    await failJob(db, jobId, 'The export failed on the server; start a new export').catch(() => undefined);
  }
}

async function failJob(db: Db, jobId: string, message: string): Promise<void> {
  await db.bulkExportChunk.deleteMany({ where: { jobId } });
  await db.bulkExportJob.updateMany({
    where: { id: jobId },
    data: {
      status: 'failed',
      finishedAt: new Date(),
      expiresAt: new Date(Date.now() + JOB_TTL_MS),
      errors: JSON.stringify(operationOutcome('error', 'exception', message)),
      progress: null,
    },
  });
}

interface Plan {
  queries: ExportQuery[];
  errors: OperationOutcome[];
}

/** The types a job exports (`_type` ∩ what the level covers ∩ what the token may read) and the errors to report. */
async function planOf(db: Db, job: JobRow, params: StoredParams): Promise<Plan> {
  const { sandboxId } = job;
  const policy = exportPolicy(job.scope, params.fhirUser);
  const stored = await storedTypes(db, sandboxId);
  const compartment = new Set([...patientCompartmentTypes(), 'Patient']);
  const errors: OperationOutcome[] = params.ignored.map((i) => operationOutcome('warning', 'not-supported', `Parameter ignored: ${i}`));
  const queries: ExportQuery[] = [];
  const since = params.since ? new Date(params.since) : null;
  const population: ExportQuery['population'] =
    params.level === 'system' ? { kind: 'system' } : params.level === 'group' ? { kind: 'group', groupId: params.groupId! } : { kind: 'all-patients' };
  for (const type of params.types ?? stored) {
    if (params.level !== 'system' && !compartment.has(type)) {
      if (params.types)
        errors.push(
          operationOutcome('information', 'not-supported', `${type} is not in the patient compartment: a ${params.level}-level export does not include it`),
        );
      continue;
    }
    const d = policy.decide('search', type);
    if (!d.allowed) {
      errors.push(operationOutcome('error', 'forbidden', `${type} not exported: ${d.reason} (${d.wouldAllow} would allow it)`));
      continue;
    }
    const texts = params.typeFilters[type];
    queries.push({
      sandboxId,
      type,
      access: scopeOf(d),
      since,
      until: job.transactionTime,
      filters: texts ? texts.map((t) => compileTypeFilter(type, t)) : null,
      population,
      patients: params.patients,
    });
  }
  // includeAssociatedData: the Provenance of what is exported, unless Provenance is exported anyway.
  if (params.associated && !queries.some((q) => q.type === 'Provenance')) {
    const d = policy.decide('search', 'Provenance');
    if (!d.allowed) errors.push(operationOutcome('error', 'forbidden', `Associated Provenance not exported: ${d.reason} (${d.wouldAllow} would allow it)`));
    else
      queries.push({
        sandboxId,
        type: 'Provenance',
        access: scopeOf(d),
        since: null,
        until: job.transactionTime,
        filters: null,
        population,
        patients: params.patients,
        associated: { of: [...queries], latest: params.associated === 'latest' },
      });
  }
  return simulatedJobResult(params.simulated ?? null, queries, errors);
}

export type JobRow = NonNullable<Awaited<ReturnType<Db['bulkExportJob']['findUnique']>>>;

/** What a run wrote: the row count of each type, or that the job was cancelled (or taken over) meanwhile. */
export interface RunResult {
  output: OutputFile[];
  total: number;
  cancelled: boolean;
}

/** The plan lib/fhir/bulk/export-process.mjs runs (its stdin). */
interface ProcessPlan {
  kind: DbKind;
  /** The SQLite file or the PostgreSQL connection string. */
  database: string;
  jobId: string;
  owner: string;
  pageRows: number;
  chunkBytes: number;
  heartbeatMs: number;
  elements: string[] | null;
  /** Each type's page query; its last two parameters (id after, page size) are the process's to fill. */
  queries: { type: string; sql: string; args: unknown[] }[];
}

/** A bound value as the driver of `kind` takes it in JSON (dates as the app's adapter stores them). */
function processArg(kind: DbKind, value: unknown): unknown {
  if (value instanceof Date) return kind === 'sqlite' ? value.toISOString().replace('Z', '+00:00') : value.toISOString();
  if (typeof value === 'boolean' && kind === 'sqlite') return value ? 1 : 0;
  if (typeof value === 'bigint') return Number(value);
  return value ?? null;
}

function processPlan(kind: DbKind, job: JobRow, owner: string, params: StoredParams, queries: ExportQuery[]): ProcessPlan {
  return {
    kind,
    database: kind === 'sqlite' ? sqliteFile(env.DATABASE_URL) : env.DATABASE_URL,
    jobId: job.id,
    owner,
    pageRows: PAGE_ROWS,
    chunkBytes: CHUNK_BYTES,
    heartbeatMs: HEARTBEAT_MS,
    elements: params.elements,
    queries: queries.map((q) => {
      const page = exportPageSql(q, '', 0, kind);
      return { type: q.type, sql: kind === 'postgresql' ? page.text : page.sql, args: page.values.slice(0, -2).map((v) => processArg(kind, v)) };
    }),
  };
}

/**
 * Runs a claimed job's queries in a child process (lib/fhir/bulk/export-process.mjs, plain Node
 * on the database driver, at a lower priority), so an export never holds this server's event loop,
 * heap or CPU: reads stay fast and the server's memory flat while it runs. Null when no child can be
 * started here (no checkout, or a database other than the app's): then the job runs inline.
 */
async function runInProcess(db: Db, job: JobRow, owner: string, params: StoredParams, queries: ExportQuery[]): Promise<RunResult | null> {
  if (!existsSync(EXPORT_PROCESS) || db !== getDb()) return null;
  const plan = processPlan(getDbKind(), job, owner, params, queries);
  const child = spawn(process.execPath, [`--max-old-space-size=${EXPORT_PROCESS_HEAP_MB}`, EXPORT_PROCESS], {
    cwd: process.cwd(),
    env: process.env,
    // The IPC channel closes when this server exits, and the export process ends with it.
    stdio: ['pipe', 'pipe', 'pipe', 'ipc'],
  });
  let stdout = '';
  let stderr = '';
  const [stdin, out, err] = [child.stdin!, child.stdout!, child.stderr!];
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  stdin.on('error', () => undefined);
  stdin.end(JSON.stringify(plan));
  const code = await new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(-1));
    child.once('close', (c) => resolve(c));
  });
  if (code === -1) return null;
  if (code !== 0) throw new Error(`export process exited with ${code}: ${stderr}`);
  return JSON.parse(stdout.trim().split('\n').pop()!) as RunResult;
}

/** Runs the queries in this process (where no export process can be started). */
async function runInline(db: Db, job: JobRow, owner: string, params: StoredParams, queries: ExportQuery[]): Promise<RunResult> {
  const output: OutputFile[] = [];
  let lastBeat = Date.now();
  let total = 0;
  const beat = async (progress: string) => {
    if (Date.now() - lastBeat < HEARTBEAT_MS) return;
    lastBeat = Date.now();
    const n = await db.bulkExportJob.updateMany({ where: { id: job.id, owner: owner, status: 'running' }, data: { heartbeatAt: new Date(), progress } });
    if (n.count !== 1) throw new ExportCancelled();
  };
  try {
    for (const [i, q] of queries.entries()) {
      let after = '';
      let seq = 0;
      let count = 0;
      let buffer: string[] = [];
      let bytes = 0;
      const flush = async () => {
        if (!buffer.length) return;
        await db.bulkExportChunk.create({
          data: { jobId: job.id, type: q.type, seq: seq++, lines: buffer.length, data: await packChunk(`${buffer.join('\n')}\n`) },
        });
        buffer = [];
        bytes = 0;
      };
      for (;;) {
        const rows = await rawQuery<{ id: string; content: string }>(db, exportPageSql(q, after, PAGE_ROWS));
        for (const row of rows) {
          const line = params.elements ? JSON.stringify(selectElements(JSON.parse(row.content) as never, params.elements)) : row.content;
          buffer.push(line);
          bytes += line.length;
          if (bytes >= CHUNK_BYTES) await flush();
        }
        count += rows.length;
        total += rows.length;
        if (rows.length < PAGE_ROWS) break;
        after = rows[rows.length - 1]!.id;
        await beat(`${i}/${queries.length} types, ${total} resources`);
        // Let requests in between pages: an export never holds the event loop for long.
        await new Promise((r) => setImmediate(r));
      }
      await flush();
      if (count) output.push({ type: q.type, count });
      await beat(`${i + 1}/${queries.length} types, ${total} resources`);
    }
    return { output, total, cancelled: false };
  } catch (err) {
    if (err instanceof ExportCancelled) return { output, total, cancelled: true };
    throw err;
  }
}

/**
 * Runs a claimed job: every planned type into chunks, then the manifest. `owner` must hold the
 * claim. Resolves with where the rows were read: in an export process, or inline.
 */
export async function runJob(db: Db, job: JobRow, owner: string): Promise<'process' | 'inline'> {
  // A run starts over: whatever an interrupted run stored is dropped.
  await db.bulkExportChunk.deleteMany({ where: { jobId: job.id } });
  const params = JSON.parse(job.params) as StoredParams;
  const plan = await planOf(db, job, params);
  const inProcess = await runInProcess(db, job, owner, params, plan.queries);
  const run = inProcess ?? (await runInline(db, job, owner, params, plan.queries));
  const where = inProcess ? 'process' : 'inline';
  if (!run.cancelled) {
    if (plan.errors.length) {
      await db.bulkExportChunk.create({
        data: {
          jobId: job.id,
          type: ERROR_FILE,
          seq: 0,
          lines: plan.errors.length,
          data: await packChunk(`${plan.errors.map((e) => JSON.stringify(e)).join('\n')}\n`),
        },
      });
    }
    const done = await db.bulkExportJob.updateMany({
      where: { id: job.id, owner: owner, status: 'running' },
      data: {
        status: 'completed',
        progress: `${plan.queries.length}/${plan.queries.length} types, ${run.total} resources`,
        finishedAt: new Date(),
        expiresAt: new Date(Date.now() + JOB_TTL_MS),
        output: JSON.stringify(run.output),
        errors: JSON.stringify(plan.errors.length ? [{ type: 'OperationOutcome', count: plan.errors.length }] : []),
      },
    });
    if (done.count === 1) return where;
  }
  // Cancelled while running: drop what this run wrote unless another instance now owns the job.
  const still = await db.bulkExportJob.findUnique({ where: { id: job.id }, select: { owner: true } });
  if (!still) await db.bulkExportChunk.deleteMany({ where: { jobId: job.id } });
  return where;
}

/** Creates a job (queued) and schedules it here. */
export async function createJob(
  db: Db,
  input: { sandboxId: string; clientId: string; request: string; params: StoredParams; scope: string; retryAfter: number },
): Promise<string> {
  const id = randomBytes(16).toString('hex');
  const now = new Date();
  await db.bulkExportJob.create({
    data: {
      id,
      sandboxId: input.sandboxId,
      clientId: input.clientId,
      level: input.params.level,
      groupId: input.params.groupId,
      request: input.request,
      params: JSON.stringify(input.params),
      scope: input.scope,
      status: 'queued',
      transactionTime: now,
      expiresAt: new Date(now.getTime() + UNFINISHED_TTL_MS),
      retryAfter: input.retryAfter,
    },
  });
  scheduleJob(db, id);
  return id;
}

/** Deletes a job and its files (cancel, or expiry). */
export async function deleteJob(db: Db, jobId: string): Promise<void> {
  await db.bulkExportJob.deleteMany({ where: { id: jobId } });
  await db.bulkExportChunk.deleteMany({ where: { jobId } });
}

let lastSweep = 0;

/** Deletes expired jobs and their files (at most once a minute per instance). */
export async function sweepExpired(db: Db): Promise<void> {
  if (Date.now() - lastSweep < 60_000) return;
  lastSweep = Date.now();
  const expired = await db.bulkExportJob.findMany({ where: { expiresAt: { lt: new Date() } }, select: { id: true }, take: 100 });
  for (const { id } of expired) await deleteJob(db, id);
}

/** True when a job in this state should be (re)scheduled on this instance: queued, or running with a stale heartbeat. */
export function needsRunner(job: { status: string; heartbeatAt: Date | null }): boolean {
  if (job.status === 'queued') return true;
  return job.status === 'running' && (job.heartbeatAt === null || Date.now() - job.heartbeatAt.getTime() > STALE_MS);
}
