/**
 * How well a client behaved in its Bulk Data exports, read from the audit trail (one record per
 * request, lib/audit): each job as a timeline (kick-off, every poll with its spacing against the
 * Retry-After it was given, downloads, delete) and the checks a well-behaved bulk client passes
 * (Bulk Data Access IG 2.0.0 §bulk-data-status-request, §file-request, §bulk-data-delete-request;
 * docs/CONFORMANCE.md §14).
 */
import type { Db } from '../db';
import { getDb } from '../db';
import { currentSandbox } from '../sandbox/context';

export type BulkEventKind = 'kick-off' | 'poll' | 'download' | 'delete';

export interface BulkEvent {
  at: Date;
  kind: BulkEventKind;
  status: number;
  /** Milliseconds since the previous poll (polls only). */
  sincePreviousMs: number | null;
  /** The Retry-After (s) the previous answer gave, when this is a poll after one. */
  toldRetryAfterS: number | null;
  /** A poll sooner than it was told to wait. */
  early: boolean;
  /** The file of a download (`Patient.ndjson`), without the URL. */
  file: string | null;
  /** The request carried no access token (a download without one). */
  withoutToken: boolean;
}

export interface BulkCheck {
  name: string;
  /** true passed, false failed, null not applicable (the job never got that far). */
  ok: boolean | null;
  detail: string;
}

export interface BulkJobReport {
  jobId: string;
  /** The kick-off path and query. */
  request: string;
  kickedOffAt: Date;
  events: BulkEvent[];
  checks: BulkCheck[];
  /** Checks passed out of those that apply. */
  passed: number;
  applicable: number;
}

/** Polls up to this early still count as on time (clock and network jitter). */
const TOLERANCE_MS = 250;
const JOB_IN_ENDPOINT = /\/\$bulk-(status|file)\/([a-f0-9]{32})(?:\/([A-Za-z]+\.ndjson))?/;
const JOB_IN_DETAIL = /job ([a-f0-9]{32})/;
const RETRY_AFTER = /retry-after (\d+)/;
const FILES = /files ([A-Za-z,]*)/;

interface Row {
  at: Date;
  method: string;
  endpoint: string;
  clientId: string | null;
  status: number;
  detail: string | null;
}

/** The client's export jobs, newest first, each with its timeline and checks. */
export async function bulkExportReports(clientId: string, options: { sandboxId?: string; db?: Db; limit?: number } = {}): Promise<BulkJobReport[]> {
  const db = options.db ?? getDb();
  const sandboxId = options.sandboxId ?? currentSandbox().id;
  const rows: Row[] = await db.auditRecord.findMany({
    where: {
      sandboxId,
      kind: 'fhir',
      OR: [{ endpoint: { contains: '$export' } }, { endpoint: { contains: '$bulk-' } }],
      AND: [{ OR: [{ clientId }, { clientId: null }] }],
    },
    orderBy: { at: 'desc' },
    take: 5000,
    select: { at: true, method: true, endpoint: true, clientId: true, status: true, detail: true },
  });
  rows.reverse();
  const kickOffs = rows.filter((r) => r.clientId === clientId && r.endpoint.includes('$export'));
  const jobs = new Map<string, { kickOff: Row; rows: Row[] }>();
  for (const k of kickOffs) {
    const id = JOB_IN_DETAIL.exec(k.detail ?? '')?.[1];
    if (id && k.status === 202) jobs.set(id, { kickOff: k, rows: [] });
  }
  for (const r of rows) {
    const id = JOB_IN_ENDPOINT.exec(r.endpoint)?.[2];
    if (id) jobs.get(id)?.rows.push(r);
  }
  const reports = [...jobs].map(([jobId, { kickOff, rows: jobRows }]) => reportOf(jobId, kickOff, jobRows, kickOffs));
  return reports.reverse().slice(0, options.limit ?? 20);
}

function retryAfterOf(r: Row): number | null {
  const m = RETRY_AFTER.exec(r.detail ?? '');
  return m ? Number(m[1]) : null;
}

function reportOf(jobId: string, kickOff: Row, rows: Row[], kickOffs: Row[]): BulkJobReport {
  const events: BulkEvent[] = [
    { at: kickOff.at, kind: 'kick-off', status: kickOff.status, sincePreviousMs: null, toldRetryAfterS: null, early: false, file: null, withoutToken: false },
  ];
  let previousPoll: Row | null = null;
  let told: number | null = null;
  let files: string[] | null = null;
  let completedAt: Date | null = null;
  for (const r of rows) {
    const m = JOB_IN_ENDPOINT.exec(r.endpoint)!;
    if (m[1] === 'file') {
      events.push({
        at: r.at,
        kind: 'download',
        status: r.status,
        sincePreviousMs: null,
        toldRetryAfterS: null,
        early: false,
        file: m[3] ?? null,
        withoutToken: r.clientId === null,
      });
      continue;
    }
    if (r.method === 'DELETE') {
      events.push({
        at: r.at,
        kind: 'delete',
        status: r.status,
        sincePreviousMs: null,
        toldRetryAfterS: null,
        early: false,
        file: null,
        withoutToken: r.clientId === null,
      });
      continue;
    }
    const since = previousPoll ? r.at.getTime() - previousPoll.at.getTime() : null;
    const early = since !== null && told !== null && since < told * 1000 - TOLERANCE_MS;
    events.push({
      at: r.at,
      kind: 'poll',
      status: r.status,
      sincePreviousMs: since,
      toldRetryAfterS: previousPoll ? told : null,
      early,
      file: null,
      withoutToken: r.clientId === null,
    });
    previousPoll = r;
    told = retryAfterOf(r);
    if (r.status === 200) {
      files ??= (FILES.exec(r.detail ?? '')?.[1] ?? '').split(',').filter(Boolean);
      completedAt ??= r.at;
    }
  }
  const polls = events.filter((e) => e.kind === 'poll');
  const downloads = events.filter((e) => e.kind === 'download');
  const throttled = polls.filter((e) => e.status === 429);
  const afterThrottle = polls.filter((e, i) => i > 0 && polls[i - 1]!.status === 429);
  const downloaded = new Set(downloads.filter((d) => d.status === 200 && d.file).map((d) => d.file!.replace(/\.ndjson$/, '')));
  const deleted = events.some((e) => e.kind === 'delete' && e.status === 202);
  const end = events.find((e) => e.kind === 'delete')?.at ?? completedAt;
  const duplicates = kickOffs.filter(
    (k) => k !== kickOff && k.status === 202 && k.endpoint === kickOff.endpoint && k.at >= kickOff.at && (end === null || k.at <= end),
  );
  const checks: BulkCheck[] = [
    {
      name: 'Honoured Retry-After',
      ok: polls.length < 2 ? null : !polls.some((p) => p.early),
      detail: `${polls.filter((p) => p.early).length} of ${Math.max(0, polls.length - 1)} polls came sooner than told`,
    },
    {
      name: 'Backed off after 429',
      ok: throttled.length === 0 ? null : !afterThrottle.some((p) => p.early),
      detail: throttled.length
        ? `${throttled.length} poll(s) answered 429; ${afterThrottle.filter((p) => p.early).length} retried too soon`
        : 'never throttled',
    },
    {
      name: 'Downloaded every file',
      ok: files === null ? null : files.every((f) => downloaded.has(f)),
      detail: files === null ? 'the job never completed' : `${files.filter((f) => downloaded.has(f)).length} of ${files.length} files downloaded`,
    },
    {
      name: 'Used the token on downloads',
      ok: downloads.length === 0 ? null : !downloads.some((d) => d.withoutToken),
      detail: `${downloads.filter((d) => d.withoutToken).length} of ${downloads.length} downloads without an access token`,
    },
    {
      name: 'Deleted the job when done',
      ok: completedAt === null && !deleted ? null : deleted,
      detail: deleted ? 'DELETE on the status URL' : 'the job was left for the server to expire',
    },
    {
      name: 'No duplicate jobs',
      ok: duplicates.length === 0,
      detail: duplicates.length ? `${duplicates.length} identical kick-off(s) while this job was active` : 'one kick-off for this request',
    },
  ];
  const applicable = checks.filter((c) => c.ok !== null).length;
  return { jobId, request: kickOff.endpoint, kickedOffAt: kickOff.at, events, checks, passed: checks.filter((c) => c.ok === true).length, applicable };
}
