/**
 * Audit trail queries for the console: filters from query parameters, the newest records, records
 * newer than a timestamp (live polling), one record, and an NDJSON export streamed in pages.
 */
import type { AuditFlag } from '../audit/record';
import { getDb } from '../db';
import type { AuditRecord, Prisma } from '../generated/sqlite/client';
import { currentSandbox } from '../sandbox/context';
import { toAuditEvent } from '../audit/audit-event';
import { decodePagingCursor, encodePagingCursor } from '../fhir/paging-cursor';

export const AUDIT_FLAGS: readonly AuditFlag[] = [
  'suspected-bola',
  'code-replay',
  'refresh-replay',
  'assertion-replay',
  'excessive-results',
  'rate-limited',
  'invalid-token',
  'simulated',
];
export const AUDIT_OUTCOMES = ['success', 'failure', 'denied', 'server-error'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];
export const AUDIT_KINDS = ['oauth', 'fhir', 'launch', 'console'] as const;

export interface AuditFilters {
  from?: Date;
  to?: Date;
  clientId?: string;
  userId?: string;
  patientId?: string;
  launchId?: string;
  /** Substring of the endpoint (path and query). */
  endpoint?: string;
  resourceType?: string;
  kind?: (typeof AUDIT_KINDS)[number];
  outcome?: AuditOutcome;
  /** 'any' = any flag, or one flag. */
  flag?: AuditFlag | 'any';
}

/** A record as JSON (dates as ISO strings): the live endpoint, the NDJSON export and client components use it. */
export interface AuditRecordJson {
  id: string;
  at: string;
  kind: string;
  method: string;
  endpoint: string;
  resourceType: string | null;
  resourceId: string | null;
  clientId: string | null;
  userId: string | null;
  patientId: string | null;
  launchId: string | null;
  scopes: string | null;
  status: number;
  errorCode: string | null;
  detail: string | null;
  resultCount: number | null;
  latencyMs: number;
  ip: string | null;
  userAgent: string | null;
  origin: string | null;
  flags: string[];
}

/** Serialises a record for JSON. */
export function toAuditJson(r: AuditRecord): AuditRecordJson {
  return {
    id: r.id,
    at: r.at.toISOString(),
    kind: r.kind,
    method: r.method,
    endpoint: r.endpoint,
    resourceType: r.resourceType,
    resourceId: r.resourceId,
    clientId: r.clientId,
    userId: r.userId,
    patientId: r.patientId,
    launchId: r.launchId,
    scopes: r.scopes,
    status: r.status,
    errorCode: r.errorCode,
    detail: r.detail,
    resultCount: r.resultCount,
    latencyMs: Math.round(r.latencyMs * 10) / 10,
    ip: r.ip,
    userAgent: r.userAgent,
    origin: r.origin,
    flags: (r.flags ?? '').split(' ').filter((f) => f !== ''),
  };
}

function parseDate(text: string | null): Date | undefined {
  if (!text) return undefined;
  // datetime-local gives "2026-01-02T10:30" (local time of the browser ≈ server on a laptop).
  const d = new Date(text);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** Reads audit filters from query parameters; unknown or malformed values are ignored. */
export function parseAuditFilters(params: URLSearchParams): AuditFilters {
  const f: AuditFilters = {};
  const text = (name: string) => {
    const v = params.get(name)?.trim();
    return v && v.length <= 300 ? v : undefined;
  };
  const from = parseDate(params.get('from'));
  if (from) f.from = from;
  const to = parseDate(params.get('to'));
  if (to) f.to = to;
  for (const key of ['clientId', 'userId', 'patientId', 'launchId', 'endpoint', 'resourceType'] as const) {
    const v = text(key);
    if (v) f[key] = v;
  }
  const kind = params.get('kind');
  if (kind && (AUDIT_KINDS as readonly string[]).includes(kind)) f.kind = kind as AuditFilters['kind'];
  const outcome = params.get('outcome');
  if (outcome && (AUDIT_OUTCOMES as readonly string[]).includes(outcome)) f.outcome = outcome as AuditOutcome;
  const flag = params.get('flag');
  if (flag === 'any' || (flag && (AUDIT_FLAGS as readonly string[]).includes(flag))) f.flag = flag as AuditFilters['flag'];
  return f;
}

/** The filters as query parameters (for links and the live endpoint). */
export function auditFiltersToParams(f: AuditFilters): URLSearchParams {
  const p = new URLSearchParams();
  if (f.from) p.set('from', f.from.toISOString());
  if (f.to) p.set('to', f.to.toISOString());
  for (const key of ['clientId', 'userId', 'patientId', 'launchId', 'endpoint', 'resourceType', 'kind', 'outcome', 'flag'] as const) {
    const v = f[key];
    if (v) p.set(key, v);
  }
  return p;
}

/** Prisma WHERE of a filter set. */
export function auditWhere(f: AuditFilters, sandboxId: string = currentSandbox().id): Prisma.AuditRecordWhereInput {
  const and: Prisma.AuditRecordWhereInput[] = [{ sandboxId }];
  if (f.from || f.to) and.push({ at: { ...(f.from ? { gte: f.from } : {}), ...(f.to ? { lte: f.to } : {}) } });
  if (f.clientId) and.push({ clientId: f.clientId });
  if (f.userId) and.push({ userId: f.userId });
  if (f.patientId) and.push({ patientId: f.patientId });
  if (f.launchId) and.push({ launchId: f.launchId });
  if (f.endpoint) and.push({ endpoint: { contains: f.endpoint } });
  if (f.resourceType) and.push({ resourceType: f.resourceType });
  if (f.kind) and.push({ kind: f.kind });
  if (f.outcome === 'success') and.push({ status: { lt: 400 } });
  if (f.outcome === 'failure') and.push({ status: { gte: 400 } });
  if (f.outcome === 'denied') and.push({ status: { in: [401, 403] } });
  if (f.outcome === 'server-error') and.push({ status: { gte: 500 } });
  if (f.flag === 'any') and.push({ flags: { not: null } });
  else if (f.flag)
    and.push({
      OR: [{ flags: f.flag }, { flags: { startsWith: `${f.flag} ` } }, { flags: { endsWith: ` ${f.flag}` } }, { flags: { contains: ` ${f.flag} ` } }],
    });
  return { AND: and };
}

/** A position in the audit trail, newest first: the records strictly older than (at, id). */
export interface AuditPosition {
  at: Date;
  id: string;
}

/** The opaque `before` cursor of the next (older) page, after a page's last record. */
export function encodeAuditPosition(r: Pick<AuditRecord, 'at' | 'id'>): string {
  return encodePagingCursor('audit', { at: r.at.toISOString(), id: r.id });
}

/** Reads a `before` cursor (the paging cursor format of lib/fhir/paging-cursor.ts); anything malformed reads as null (the first page). */
export function decodeAuditPosition(text: string | null | undefined): AuditPosition | null {
  if (!text) return null;
  try {
    const { at, id } = decodePagingCursor('audit', text);
    return { at: new Date(at), id };
  } catch {
    return null;
  }
}

/**
 * Newest records matching the filters: for live polling, at or after `since`; for paging, strictly
 * older than `before` in (at, id) order, so a page never repeats or skips a record however many
 * arrive meanwhile (keyset paging: no offset).
 */
export async function queryAudit(
  f: AuditFilters,
  options: { limit?: number; since?: Date; before?: AuditPosition | null; sandboxId?: string } = {},
): Promise<AuditRecord[]> {
  const where = auditWhere(f, options.sandboxId);
  const extra: Prisma.AuditRecordWhereInput[] = [];
  if (options.since) extra.push({ at: { gte: options.since } });
  if (options.before) extra.push({ OR: [{ at: { lt: options.before.at } }, { at: options.before.at, id: { lt: options.before.id } }] });
  if (extra.length) where.AND = [...(Array.isArray(where.AND) ? where.AND : []), ...extra];
  return getDb().auditRecord.findMany({ where, orderBy: [{ at: 'desc' }, { id: 'desc' }], take: Math.min(Math.max(options.limit ?? 200, 1), 1000) });
}

/** Count of records matching the filters. */
export async function countAudit(f: AuditFilters, sandboxId?: string): Promise<number> {
  return getDb().auditRecord.count({ where: auditWhere(f, sandboxId) });
}

/** One record, or null. */
export async function getAuditRecord(id: string, sandboxId: string = currentSandbox().id): Promise<AuditRecord | null> {
  const r = await getDb().auditRecord.findUnique({ where: { id } });
  return r && r.sandboxId === sandboxId ? r : null;
}

/** Distinct clients, users, patients and resource types for the filter drop-downs. */
export async function auditFilterOptions(
  sandboxId: string = currentSandbox().id,
): Promise<{ clients: string[]; users: string[]; patients: string[]; resourceTypes: string[] }> {
  const db = getDb();
  const pick = async (field: 'clientId' | 'userId' | 'patientId' | 'resourceType'): Promise<string[]> => {
    const rows = await db.auditRecord.findMany({ where: { sandboxId, [field]: { not: null } }, distinct: [field], select: { [field]: true }, take: 300 });
    return rows
      .flatMap((r) => {
        const v = (r as Record<string, unknown>)[field];
        return typeof v === 'string' ? [v] : [];
      })
      .sort();
  };
  const [clients, users, patients, resourceTypes] = await Promise.all([pick('clientId'), pick('userId'), pick('patientId'), pick('resourceType')]);
  return { clients, users, patients, resourceTypes };
}

/**
 * NDJSON export of every matching record, oldest first, read in pages of 1000 so a large trail
 * never sits in memory. `format: 'fhir'` writes AuditEvent resources instead of raw records.
 */
export function auditNdjsonStream(f: AuditFilters, options: { format?: 'raw' | 'fhir'; sandboxId?: string } = {}): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const where = auditWhere(f, options.sandboxId);
  let cursor: string | null = null;
  let done = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (done) return;
      const page: AuditRecord[] = await getDb().auditRecord.findMany({
        where,
        orderBy: [{ at: 'asc' }, { id: 'asc' }],
        take: 1000,
        ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
      });
      if (page.length === 0) {
        done = true;
        controller.close();
        return;
      }
      cursor = page[page.length - 1]?.id ?? null;
      const lines = page.map((r) => JSON.stringify(options.format === 'fhir' ? toAuditEvent(r) : toAuditJson(r))).join('\n');
      controller.enqueue(encoder.encode(`${lines}\n`));
      if (page.length < 1000) {
        done = true;
        controller.close();
      }
    },
  });
}
