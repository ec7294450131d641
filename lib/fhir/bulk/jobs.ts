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
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { Db } from '../../db';
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
import { exportPage, storedTypes } from './query';
import { ExportCancelled } from '../errors';
import { simulatedJobResult } from './simulated-failures';

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

/** This process, as a job owner. */
const OWNER = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;

/** The file the export process runs (see runInProcess); present in a checkout, where `npm start` runs. */
const EXPORT_PROCESS = join(process.cwd(), 'lib', 'fhir', 'bulk', 'export-process.ts');
/** Old-generation heap of the export process, MiB: what it keeps alive is one page of rows and one chunk. */
const EXPORT_PROCESS_HEAP_MB = 192;

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
    if (!(await runInProcess(job.id))) await runJob(db, job, OWNER);
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
async function planOf(db: Db, sandboxId: string, params: StoredParams, scope: string): Promise<Plan> {
  const policy = exportPolicy(scope, params.fhirUser);
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
      filters: texts ? texts.map((t) => compileTypeFilter(type, t)) : null,
      population,
      patients: params.patients,
    });
  }
  return simulatedJobResult(params.simulated ?? null, queries, errors);
}

export type JobRow = NonNullable<Awaited<ReturnType<Db['bulkExportJob']['findUnique']>>>;

/**
 * Runs a claimed job in a child process (lib/fhir/bulk/export-process.ts), so an export never
 * holds this server's event loop or heap: reads stay fast and the server's memory flat while it
 * runs. False when no child can be started here (no checkout or no tsx): then it runs inline.
 */
async function runInProcess(jobId: string): Promise<boolean> {
  if (!existsSync(EXPORT_PROCESS)) return false;
  const child = spawn(process.execPath, [`--max-old-space-size=${EXPORT_PROCESS_HEAP_MB}`, '--import', 'tsx', EXPORT_PROCESS, jobId, OWNER], {
    cwd: process.cwd(),
    env: process.env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const code = await new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(-1));
    child.once('exit', (c) => resolve(c));
  });
  if (code === -1) return false;
  if (code !== 0) throw new Error(`export process exited with ${code}: ${stderr}`);
  return true;
}

/** Runs a claimed job: every planned type into chunks, then the manifest. `owner` must hold the claim. */
export async function runJob(db: Db, job: JobRow, owner: string): Promise<void> {
  // A run starts over: whatever an interrupted run stored is dropped.
  await db.bulkExportChunk.deleteMany({ where: { jobId: job.id } });
  const params = JSON.parse(job.params) as StoredParams;
  const plan = await planOf(db, job.sandboxId, params, job.scope);
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
    for (const [i, q] of plan.queries.entries()) {
      let after: string | null = null;
      let seq = 0;
      let count = 0;
      let buffer: string[] = [];
      let bytes = 0;
      const flush = async () => {
        if (!buffer.length) return;
        await db.bulkExportChunk.create({ data: { jobId: job.id, type: q.type, seq: seq++, lines: buffer.length, content: `${buffer.join('\n')}\n` } });
        buffer = [];
        bytes = 0;
      };
      for (;;) {
        const rows = await exportPage(db, q, after, PAGE_ROWS);
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
        await beat(`${i}/${plan.queries.length} types, ${total} resources`);
        // Let requests in between pages: an export never holds the event loop for long.
        await new Promise((r) => setImmediate(r));
      }
      await flush();
      if (count) output.push({ type: q.type, count });
      await beat(`${i + 1}/${plan.queries.length} types, ${total} resources`);
    }
    if (plan.errors.length) {
      await db.bulkExportChunk.create({
        data: { jobId: job.id, type: ERROR_FILE, seq: 0, lines: plan.errors.length, content: `${plan.errors.map((e) => JSON.stringify(e)).join('\n')}\n` },
      });
    }
    const done = await db.bulkExportJob.updateMany({
      where: { id: job.id, owner: owner, status: 'running' },
      data: {
        status: 'completed',
        progress: `${plan.queries.length}/${plan.queries.length} types, ${total} resources`,
        finishedAt: new Date(),
        expiresAt: new Date(Date.now() + JOB_TTL_MS),
        output: JSON.stringify(output),
        errors: JSON.stringify(plan.errors.length ? [{ type: 'OperationOutcome', count: plan.errors.length }] : []),
      },
    });
    if (done.count !== 1) throw new ExportCancelled();
  } catch (err) {
    if (!(err instanceof ExportCancelled)) throw err;
    // Cancelled while running: drop what this run wrote unless another instance now owns the job.
    const still = await db.bulkExportJob.findUnique({ where: { id: job.id }, select: { owner: true } });
    if (!still) await db.bulkExportChunk.deleteMany({ where: { jobId: job.id } });
  }
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
