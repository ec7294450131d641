/**
 * The console's JSON and NDJSON endpoints as framework-free `(req) => Promise<Response>` functions
 * (app/api/console/** re-exports them). Every one requires a console session.
 */
import { parseAuditFilters, queryAudit, auditNdjsonStream, toAuditJson } from './audit';
import { consoleSessionOrResponse } from './auth';
import { getReseedStatus } from './data';

const NO_STORE = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...NO_STORE } });
}

/** GET /api/console/audit?…filters&since=ISO — the newest matching records (live polling). */
export async function handleAuditPoll(req: Request): Promise<Response> {
  const session = await consoleSessionOrResponse(req);
  if (session instanceof Response) return session;
  const url = new URL(req.url);
  const filters = parseAuditFilters(url.searchParams);
  const sinceText = url.searchParams.get('since');
  const since = sinceText ? new Date(sinceText) : undefined;
  const records = await queryAudit(filters, { limit: 200, ...(since && !Number.isNaN(since.getTime()) ? { since } : {}) });
  return json({ records: records.map(toAuditJson), at: new Date().toISOString() });
}

/** GET /api/console/audit.ndjson?…filters[&format=fhir] — every matching record, one JSON object per line. */
export async function handleAuditExport(req: Request): Promise<Response> {
  const session = await consoleSessionOrResponse(req);
  if (session instanceof Response) return session;
  const url = new URL(req.url);
  const format = url.searchParams.get('format') === 'fhir' ? 'fhir' : 'raw';
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return new Response(auditNdjsonStream(parseAuditFilters(url.searchParams), { format }), {
    headers: {
      'content-type': format === 'fhir' ? 'application/fhir+ndjson' : 'application/x-ndjson',
      'content-disposition': `attachment; filename="audit-${stamp}${format === 'fhir' ? '-auditevent' : ''}.ndjson"`,
      ...NO_STORE,
    },
  });
}

/** GET /api/console/reseed — progress of the current or last reseed. */
export async function handleReseedStatus(req: Request): Promise<Response> {
  const session = await consoleSessionOrResponse(req);
  if (session instanceof Response) return session;
  return json(await getReseedStatus());
}
