/**
 * Bulk Data Access IG 2.0.0 (docs/CONFORMANCE.md §14) on the FHIR router: kick-off at
 * `[base]/$export`, `[base]/Patient/$export` and `[base]/Group/{id}/$export`; the status URL
 * `[base]/$bulk-status/{job}` (GET polls, DELETE cancels); the files `[base]/$bulk-file/{job}/{Type}.ndjson`.
 * The router has verified the token before any of these runs; a job and its files belong to the
 * client that started it (anyone else gets the same 404 as for a job that does not exist).
 */
import type { Db } from '../../db';
import type { AuditFlag } from '../../audit/record';
import type { AccessPolicy } from '../../smart/access-policy';
import type { TokenClaims } from '../auth';
import { scopeOf } from '../access';
import { FhirError, FhirForbiddenError, FhirThrottledError } from '../errors';
import { informationOutcome, operationOutcome } from '../outcomes';
import { readBodyText } from '../http';
import { readVisible } from '../search/execute';
import { createJob, deleteJob, ERROR_FILE, needsRunner, scheduleJob, sweepExpired, unpackChunk } from './jobs';
import type { OutputFile, StoredParams } from './jobs';
import type { ExportLevel } from './params';
import { assertKickOffHeaders, isStrict, parametersOf, parseExportParams } from './params';
import { simulatedErrorOfLaunch } from '../../launch-options/lookup';
import {
  assertDownloadAllowed,
  assertKickOffNotThrottled,
  bulkSimulatedError,
  retryAfterOf,
  slowJobPending,
  transientStatusFailure,
} from './simulated-failures';

/** What a bulk request needs from the router. */
export interface BulkContext {
  req: Request;
  url: URL;
  db: Db;
  sandboxId: string;
  /** The FHIR base URL the client used (absolute). */
  base: string;
  policy: AccessPolicy;
  claims: TokenClaims;
  audit: { interaction: string; resourceType: string | null; resourceId: string | null; resultCount: number | null; detail: string | null; flags: AuditFlag[] };
}

export type BulkRequest =
  { kind: 'kick-off'; level: ExportLevel; groupId: string | null } | { kind: 'status'; jobId: string } | { kind: 'file'; jobId: string; file: string };

/** Seconds a client is told to wait between polls (Retry-After). */
export const RETRY_AFTER_SECONDS = 1;
/** Jobs a client may have queued or running at once (IG 2.0.0: a server may answer 429). */
const MAX_ACTIVE_JOBS = 5;
/** Polls up to this early are still on time (clock and network jitter). */
const POLL_TOLERANCE_MS = 250;
const JOB_ID = /^[a-f0-9]{32}$/;

/** The bulk request a FHIR path names, or null when it is not one. */
export function bulkRequestOf(segments: string[]): BulkRequest | null {
  const [a, b, c, d, ...rest] = segments;
  if (a === '$export' && b === undefined) return { kind: 'kick-off', level: 'system', groupId: null };
  if (a === 'Patient' && b === '$export' && c === undefined) return { kind: 'kick-off', level: 'patient', groupId: null };
  if (a === 'Group' && b !== undefined && c === '$export' && d === undefined) return { kind: 'kick-off', level: 'group', groupId: b };
  if (a === '$bulk-status' && b !== undefined && c === undefined) return { kind: 'status', jobId: b };
  if (a === '$bulk-file' && b !== undefined && c !== undefined && d === undefined && !rest.length) return { kind: 'file', jobId: b, file: c };
  return null;
}

/** Answers a bulk request. */
export async function handleBulk(ctx: BulkContext, r: BulkRequest): Promise<Response> {
  await sweepExpired(ctx.db);
  try {
    return await answer(ctx, r);
  } catch (err) {
    // The audit record keeps the Retry-After a 429 told, so the console can grade the client's next request.
    if (err instanceof FhirThrottledError) ctx.audit.detail = `${ctx.audit.detail ? `${ctx.audit.detail}; ` : ''}retry-after ${err.retryAfterSeconds}`;
    throw err;
  }
}

async function answer(ctx: BulkContext, r: BulkRequest): Promise<Response> {
  switch (r.kind) {
    case 'kick-off':
      return kickOff(ctx, r.level, r.groupId);
    case 'status':
      if (ctx.req.method === 'DELETE') return cancel(ctx, r.jobId);
      if (ctx.req.method !== 'GET') throw new FhirError('not-supported', `${ctx.req.method} is not supported on a bulk status URL`);
      return status(ctx, r.jobId);
    case 'file':
      if (ctx.req.method !== 'GET') throw new FhirError('not-supported', `${ctx.req.method} is not supported on a bulk file`);
      return download(ctx, r.jobId, r.file);
  }
}

function json(body: unknown, status: number, headers: Record<string, string> = {}, contentType = 'application/fhir+json'): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': `${contentType}; charset=utf-8`, 'cache-control': 'no-store', ...headers } });
}

function statusUrl(ctx: BulkContext, jobId: string): string {
  return `${ctx.base}/$bulk-status/${jobId}`;
}

function fileUrl(ctx: BulkContext, jobId: string, type: string): string {
  return `${ctx.base}/$bulk-file/${jobId}/${type === ERROR_FILE ? 'errors' : type}.ndjson`;
}

async function kickOff(ctx: BulkContext, level: ExportLevel, groupId: string | null): Promise<Response> {
  ctx.audit.interaction = `operation:export-${level}`;
  ctx.audit.resourceType = level === 'system' ? null : level === 'patient' ? 'Patient' : 'Group';
  ctx.audit.resourceId = groupId;
  if (ctx.req.method !== 'GET' && ctx.req.method !== 'POST') throw new FhirError('not-supported', `${ctx.req.method} is not supported on $export`);
  assertKickOffHeaders(ctx.req);
  // IG 2.0.0 §authorization: exports are for system/ (backend services) and user/ read scopes.
  if (!ctx.policy.scopes.some((s) => (s.context === 'system' || s.context === 'user') && (s.interactions.includes('r') || s.interactions.includes('s')))) {
    throw new FhirForbiddenError('A bulk export needs a system/ (or user/) read scope; patient/ scopes cannot export', 'system/*.rs');
  }
  const params: [string, string][] = [...ctx.url.searchParams];
  const fromBody = ctx.req.method === 'POST';
  if (fromBody) {
    const text = await readBodyText(ctx.req);
    if (text.trim() !== '') {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new FhirError('invalid', 'The kick-off body is not JSON (send a Parameters resource)');
      }
      params.push(...parametersOf(body));
    }
  }
  const parsed = parseExportParams(level, groupId, params, { strict: isStrict(ctx.req), fromBody });
  if (level === 'group') {
    const d = ctx.policy.decide('read', 'Group');
    if (!d.allowed) throw new FhirForbiddenError(`${d.reason}. The scope ${d.wouldAllow} would allow it.`, d.wouldAllow);
    const group = await readVisible(ctx.db, ctx.sandboxId, 'Group', groupId!, scopeOf(d));
    if (!group || group.deleted) throw new FhirError('not-found', `Group/${groupId!.slice(0, 64)} is not known`);
  }
  const simulated = bulkSimulatedError(await simulatedErrorOfLaunch(ctx.claims.launchId, ctx.db));
  await assertKickOffNotThrottled(ctx.db, simulated, ctx.claims.launchId);
  const active = await ctx.db.bulkExportJob.count({
    where: { sandboxId: ctx.sandboxId, clientId: ctx.claims.clientId, status: { in: ['queued', 'running'] } },
  });
  if (active >= MAX_ACTIVE_JOBS)
    throw new FhirThrottledError(`This client already has ${active} exports in progress; wait for one to finish or cancel one (DELETE its status URL)`, 10);
  const stored: StoredParams = { ...parsed, fhirUser: ctx.claims.fhirUser, simulated };
  const retryAfter = retryAfterOf(simulated, RETRY_AFTER_SECONDS);
  const jobId = await createJob(ctx.db, {
    sandboxId: ctx.sandboxId,
    clientId: ctx.claims.clientId,
    request: ctx.url.toString(),
    params: stored,
    scope: ctx.claims.scope,
    retryAfter,
  });
  ctx.audit.detail = `job ${jobId}`;
  return json(informationOutcome(`Export started; poll ${statusUrl(ctx, jobId)}`), 202, { 'content-location': statusUrl(ctx, jobId) });
}

/** The job of this client, or a 404 OperationOutcome (unknown, expired, cancelled, or another client's). */
async function jobOf(ctx: BulkContext, jobId: string) {
  ctx.audit.resourceId = jobId.slice(0, 64);
  const job = JOB_ID.test(jobId) ? await ctx.db.bulkExportJob.findFirst({ where: { id: jobId, sandboxId: ctx.sandboxId } }) : null;
  if (job && job.clientId !== ctx.claims.clientId) {
    ctx.audit.flags.push('suspected-bola');
    ctx.audit.detail = `export job ${jobId} belongs to another client`;
  }
  if (!job || job.clientId !== ctx.claims.clientId || job.expiresAt.getTime() < Date.now())
    throw new FhirError('not-found', 'No such export job (it may have expired or been cancelled)');
  return job;
}

async function status(ctx: BulkContext, jobId: string): Promise<Response> {
  ctx.audit.interaction = 'operation:export-status';
  const job = await jobOf(ctx, jobId);
  const now = Date.now();
  const params = JSON.parse(job.params) as StoredParams;
  const simulated = params.simulated ?? null;
  const pending = job.status === 'queued' || job.status === 'running' || (job.status === 'completed' && slowJobPending(simulated, job.createdAt));
  if (pending) {
    // IG 2.0.0 §bulk-data-status-request: a client polling sooner than Retry-After may get 429.
    const due = job.lastPollAt ? job.lastPollAt.getTime() + job.retryAfter * 1000 - POLL_TOLERANCE_MS : 0;
    if (now < due) {
      ctx.audit.detail = `polled ${Math.round((due + POLL_TOLERANCE_MS - now) / 100) / 10} s before Retry-After`;
      throw new FhirThrottledError(
        `Polled before the Retry-After of ${job.retryAfter} s had passed`,
        Math.max(1, Math.ceil((due + POLL_TOLERANCE_MS - now) / 1000)),
      );
    }
  }
  const transient = job.status === 'failed' ? null : transientStatusFailure(simulated, params.transientShown === true);
  if (transient) {
    await ctx.db.bulkExportJob.update({
      where: { id: job.id },
      data: { lastPollAt: new Date(now), params: JSON.stringify({ ...params, transientShown: true }) },
    });
    if (needsRunner(job)) scheduleJob(ctx.db, job.id);
    ctx.audit.detail = `simulated transient status failure; retry-after ${job.retryAfter}`;
    return json(transient, 500, { 'retry-after': String(job.retryAfter) });
  }
  if (pending) {
    await ctx.db.bulkExportJob.update({ where: { id: job.id }, data: { lastPollAt: new Date(now) } });
    if (needsRunner(job)) scheduleJob(ctx.db, job.id);
    ctx.audit.detail = `retry-after ${job.retryAfter}`;
    // IG 2.0.0 §response---in-progress-status: headers only.
    return new Response(null, {
      status: 202,
      headers: {
        'retry-after': String(job.retryAfter),
        'x-progress': job.status === 'completed' ? 'finishing' : (job.progress ?? job.status),
        'cache-control': 'no-store',
      },
    });
  }
  if (job.status === 'failed') {
    return json(JSON.parse(job.errors ?? 'null') ?? operationOutcome('error', 'exception', 'The export failed'), 500);
  }
  const output = JSON.parse(job.output ?? '[]') as OutputFile[];
  const errors = JSON.parse(job.errors ?? '[]') as OutputFile[];
  ctx.audit.resultCount = output.length;
  ctx.audit.detail = `files ${[...output.map((o) => o.type), ...(errors.length ? ['errors'] : [])].join(',')}`;
  const manifest = {
    transactionTime: job.transactionTime.toISOString(),
    request: job.request,
    requiresAccessToken: true,
    output: output.map((o) => ({ type: o.type, url: fileUrl(ctx, job.id, o.type), count: o.count })),
    error: errors.map((e) => ({ type: 'OperationOutcome', url: fileUrl(ctx, job.id, ERROR_FILE), count: e.count })),
  };
  return json(manifest, 200, { expires: new Date(job.expiresAt).toUTCString() }, 'application/json');
}

async function cancel(ctx: BulkContext, jobId: string): Promise<Response> {
  ctx.audit.interaction = 'operation:export-delete';
  const job = await jobOf(ctx, jobId);
  await deleteJob(ctx.db, job.id);
  return json(informationOutcome('Export cancelled and its files deleted'), 202);
}

async function download(ctx: BulkContext, jobId: string, file: string): Promise<Response> {
  ctx.audit.interaction = 'operation:export-download';
  const job = await jobOf(ctx, jobId);
  const m = /^([A-Za-z]{1,64})\.ndjson$/.exec(file);
  const type = m?.[1] === 'errors' ? ERROR_FILE : m?.[1];
  ctx.audit.resourceType = type && type !== ERROR_FILE ? type : null;
  const listed =
    job.status === 'completed' && type
      ? (JSON.parse((type === ERROR_FILE ? job.errors : job.output) ?? '[]') as OutputFile[]).find((o) => type === ERROR_FILE || o.type === type)
      : undefined;
  if (!type || !listed) throw new FhirError('not-found', `No file ${file.slice(0, 70)} in this export`);
  const output = JSON.parse(job.output ?? '[]') as OutputFile[];
  const params = JSON.parse(job.params) as StoredParams;
  assertDownloadAllowed(params.simulated ?? null, bulkSimulatedError(await simulatedErrorOfLaunch(ctx.claims.launchId, ctx.db)), output[0]?.type === type);
  ctx.audit.resultCount = listed.count;
  const db = ctx.db;
  let seq = 0;
  // One stored chunk (about 1 MiB of whole lines, stored compressed) at a time: memory stays flat whatever the file size.
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = await db.bulkExportChunk.findUnique({ where: { jobId_type_seq: { jobId: job.id, type, seq } } });
      seq++;
      if (!chunk) controller.close();
      else controller.enqueue(await unpackChunk(chunk.data));
    },
  });
  return new Response(body, {
    status: 200,
    headers: { 'content-type': 'application/fhir+ndjson', 'cache-control': 'no-store', expires: job.expiresAt.toUTCString() },
  });
}
