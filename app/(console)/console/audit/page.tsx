import Link from 'next/link';
import { AUDIT_FLAGS, AUDIT_KINDS, AUDIT_OUTCOMES, auditFilterOptions, auditFiltersToParams, countAudit, parseAuditFilters, queryAudit, toAuditJson } from '#lib/console/audit';
import { requireConsoleSession } from '#lib/console/auth';
import { toSearchParams } from '#lib/console/format';
import { AuditLive } from './audit-live-client';

export const metadata = { title: 'Audit trail · SMART Sandbox console' };

type Props = { searchParams: Promise<Record<string, string | string[] | undefined>> };

function localInput(d: Date | undefined): string {
  if (!d) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export default async function AuditPage({ searchParams }: Props) {
  await requireConsoleSession('/console/audit');
  const filters = parseAuditFilters(toSearchParams(await searchParams));
  const [records, total, options] = await Promise.all([queryAudit(filters, { limit: 200 }), countAudit(filters), auditFilterOptions()]);
  const query = auditFiltersToParams(filters).toString();
  const select = (name: string, values: readonly string[], current: string | undefined, any = 'any') => (
    <select name={name} defaultValue={current ?? ''}>
      <option value="">{any}</option>
      {values.map((v) => <option key={v} value={v}>{v}</option>)}
    </select>
  );
  return (
    <>
      <h1>Audit trail</h1>
      <p className="lead">One record per OAuth or FHIR request: who (client, user, patient), what (endpoint, resource), where (IP, user agent, origin) and the outcome. New records appear without reloading.</p>
      <form className="filters" method="get">
        <label>From<input type="datetime-local" name="from" defaultValue={localInput(filters.from)} /></label>
        <label>To<input type="datetime-local" name="to" defaultValue={localInput(filters.to)} /></label>
        <label>Client{select('clientId', options.clients, filters.clientId)}</label>
        <label>User{select('userId', options.users, filters.userId)}</label>
        <label>Patient{select('patientId', options.patients, filters.patientId)}</label>
        <label>Endpoint contains<input name="endpoint" defaultValue={filters.endpoint ?? ''} placeholder="/fhir/Observation" /></label>
        <label>Resource type{select('resourceType', options.resourceTypes, filters.resourceType)}</label>
        <label>Kind{select('kind', AUDIT_KINDS, filters.kind)}</label>
        <label>Outcome{select('outcome', AUDIT_OUTCOMES, filters.outcome)}</label>
        <label>Flagged{select('flag', ['any', ...AUDIT_FLAGS], filters.flag, 'all records')}</label>
        {filters.launchId ? <input type="hidden" name="launchId" value={filters.launchId} /> : null}
        <button type="submit">Filter</button>
        <Link className="button secondary" href="/console/audit">Clear</Link>
      </form>
      <p className="actions">
        <span className="muted">{total} record(s) match{total > records.length ? `; showing the newest ${records.length}` : ''}.</span>
        <a className="button secondary" href={`/api/console/audit.ndjson${query ? `?${query}` : ''}`} download>Export NDJSON</a>
        <a className="button secondary" href={`/api/console/audit.ndjson?${query ? `${query}&` : ''}format=fhir`} download>Export as FHIR AuditEvent NDJSON</a>
      </p>
      <AuditLive initial={records.map(toAuditJson)} query={query} />
    </>
  );
}
