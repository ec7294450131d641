import type { BundleEntry } from '@medplum/fhirtypes';
import type { Db } from '../db';
import type { AccessPolicy } from '../smart/access-policy';
import { toAuditEvent } from '../audit/audit-event';
import { bundle } from './bundle';
import { FhirError, FhirForbiddenError } from './errors';
import { isFhirId } from '../fhir-id';
import { decodePagingCursor, encodePagingCursor } from './paging-cursor';

/** The scope an AuditEvent reader needs: audit records span every patient and client. */
export const AUDIT_EVENT_SCOPE = 'system/AuditEvent.rs';
const MAX_COUNT = 1000;

/**
 * The audit trail is administrative data about every patient and client, so only a
 * backend-services token whose system/ scopes grant AuditEvent may read it; patient and user
 * tokens are refused with 403 naming the scope that would allow it.
 */
export function assertAuditReader(policy: AccessPolicy, interaction: 'read' | 'search'): void {
  const decision = policy.decide(interaction, 'AuditEvent');
  const bySystem =
    decision.allowed && decision.compartmentPatientId === null && decision.filters === null && decision.grantedBy.some((s) => s.startsWith('system/'));
  if (!bySystem)
    throw new FhirForbiddenError(`AuditEvent records are readable only with a backend-services token granted ${AUDIT_EVENT_SCOPE}`, AUDIT_EVENT_SCOPE);
}

interface AuditEventQuery {
  count: number;
  before: { at: Date; id: string } | null;
  patient: string | null;
  agent: string | null;
  since: Date | null;
}

/** The search parameters AuditEvent answers (parseQuery), as the CapabilityStatement declares them. */
export const AUDIT_EVENT_SEARCH_PARAMS: readonly { name: string; type: 'reference' | 'token' | 'date'; documentation: string }[] = [
  { name: 'patient', type: 'reference', documentation: 'The patient in context of the recorded request (id or Patient/id)' },
  { name: 'agent', type: 'reference', documentation: 'The OAuth client id' },
  { name: 'date', type: 'date', documentation: 'ge<date or dateTime> only' },
];

function parseQuery(params: URLSearchParams): AuditEventQuery {
  const q: AuditEventQuery = { count: 50, before: null, patient: null, agent: null, since: null };
  for (const [key, value] of params) {
    if (key === '_count') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) throw new FhirError('invalid', '_count must be a non-negative integer');
      q.count = Math.min(n, MAX_COUNT);
    } else if (key === 'patient') {
      const id = value.replace(/^Patient\//, '');
      if (!isFhirId(id)) throw new FhirError('invalid', 'patient must be a Patient id');
      q.patient = id;
    } else if (key === 'agent') {
      if (value.length > 200) throw new FhirError('invalid', 'agent is too long');
      q.agent = value;
    } else if (key === 'date') {
      const m = /^ge(\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?)$/.exec(value);
      const since = m ? new Date(m[1]!) : null;
      if (!since || Number.isNaN(since.getTime())) throw new FhirError('invalid', 'date supports only ge<date or dateTime>');
      q.since = since;
    } else if (key === '_cursor') {
      const { at, id } = decodePagingCursor('audit', value);
      q.before = { at: new Date(at), id };
    } else if (key !== '_format' && key !== '_pretty') {
      throw new FhirError('invalid', `Parameter '${key.slice(0, 60)}' is not supported on AuditEvent (supported: _count, patient, agent, date=ge…)`);
    }
  }
  return q;
}

/** GET /fhir/AuditEvent: the audit records, newest first, as a searchset of AuditEvents. */
export async function searchAuditEvents(db: Db, sandboxId: string, url: URL): Promise<{ body: ReturnType<typeof bundle>; count: number }> {
  const q = parseQuery(url.searchParams);
  const rows = await db.auditRecord.findMany({
    where: {
      sandboxId,
      ...(q.patient ? { patientId: q.patient } : {}),
      ...(q.agent ? { clientId: q.agent } : {}),
      ...(q.since ? { at: { gte: q.since } } : {}),
      ...(q.before ? { OR: [{ at: { lt: q.before.at } }, { at: q.before.at, id: { lt: q.before.id } }] } : {}),
    },
    orderBy: [{ at: 'desc' }, { id: 'desc' }],
    take: q.count + 1,
  });
  const page = rows.slice(0, q.count);
  const base = `${url.origin}${url.pathname}`;
  const echo = new URLSearchParams([...url.searchParams].filter(([k]) => k !== '_cursor'));
  const links = [{ relation: 'self', url: `${base}${echo.size ? `?${echo}` : ''}` }];
  const last = page[page.length - 1];
  if (rows.length > q.count && last) {
    const next = new URLSearchParams(echo);
    next.set('_cursor', encodePagingCursor('audit', { at: last.at.toISOString(), id: last.id }));
    links.push({ relation: 'next', url: `${base}?${next}` });
  }
  const entries: BundleEntry[] = page.map((r) => ({ fullUrl: `${base}/${r.id}`, resource: toAuditEvent(r), search: { mode: 'match' } }));
  return { body: bundle('searchset', entries, { links }), count: page.length };
}

/** GET /fhir/AuditEvent/{id}. */
export async function readAuditEvent(db: Db, sandboxId: string, id: string) {
  const row = await db.auditRecord.findFirst({ where: { sandboxId, id } });
  if (!row) throw new FhirError('not-found', `AuditEvent/${id} is not known`);
  return toAuditEvent(row);
}
