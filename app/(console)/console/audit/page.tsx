import Link from 'next/link';
import {
  AUDIT_FLAGS,
  AUDIT_KINDS,
  AUDIT_OUTCOMES,
  auditFilterOptions,
  auditFiltersToParams,
  countAudit,
  decodeAuditPosition,
  encodeAuditPosition,
  parseAuditFilters,
  queryAudit,
  toAuditJson,
} from '#lib/console/audit';
import { listClients } from '#lib/oauth/clients';
import { requireConsoleSession } from '#lib/console/auth';
import { toSearchParams } from '#lib/console/format';
import { AuditLive } from './audit-live-client';
import { inSandboxPage } from '../../../request-sandbox';
import { currentSandbox } from '#lib/sandbox/context';

export const metadata = { title: 'Audit trail · SMART Sandbox console' };

/** Records per page; older pages follow by keyset (the last record's time and id), never by offset. */
const PAGE_SIZE = 200;

type Props = { searchParams: Promise<Record<string, string | string[] | undefined>> };

function localInput(d: Date | undefined): string {
  if (!d) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

async function AuditPage({ searchParams }: Props) {
  await requireConsoleSession('/console/audit');
  const sandboxBase = currentSandbox().basePath;
  const params = toSearchParams(await searchParams);
  const filters = parseAuditFilters(params);
  const before = decodeAuditPosition(params.get('before'));
  const [records, total, options, clients] = await Promise.all([
    queryAudit(filters, { limit: PAGE_SIZE, before }),
    countAudit(filters),
    auditFilterOptions(),
    listClients(),
  ]);
  const clientNames = Object.fromEntries(clients.map((c) => [c.clientId, c.name]));
  const query = auditFiltersToParams(filters).toString();
  const last = records[records.length - 1];
  const olderHref = last && records.length === PAGE_SIZE ? `${sandboxBase}/console/audit?${query ? `${query}&` : ''}before=${encodeAuditPosition(last)}` : null;
  const select = (name: string, values: readonly string[], current: string | undefined, any = 'any') => (
    <select name={name} defaultValue={current ?? ''}>
      <option value="">{any}</option>
      {values.map((v) => (
        <option key={v} value={v}>
          {v}
        </option>
      ))}
    </select>
  );
  return (
    <>
      <h1>Audit trail</h1>
      <p className="lead">
        One record per OAuth or FHIR request: who (client, user, patient), what (endpoint, resource), where (IP, user agent, origin) and the outcome. New
        records appear without reloading.
      </p>
      <form className="filters" method="get">
        <label>
          From
          <input type="datetime-local" name="from" defaultValue={localInput(filters.from)} />
        </label>
        <label>
          To
          <input type="datetime-local" name="to" defaultValue={localInput(filters.to)} />
        </label>
        <label>Client{select('clientId', options.clients, filters.clientId)}</label>
        <label>User{select('userId', options.users, filters.userId)}</label>
        <label>Patient{select('patientId', options.patients, filters.patientId)}</label>
        <label>
          Endpoint contains
          <input name="endpoint" defaultValue={filters.endpoint ?? ''} placeholder="/fhir/Observation" />
        </label>
        <label>Resource type{select('resourceType', options.resourceTypes, filters.resourceType)}</label>
        <label>Kind{select('kind', AUDIT_KINDS, filters.kind)}</label>
        <label>Outcome{select('outcome', AUDIT_OUTCOMES, filters.outcome)}</label>
        <label>Flagged{select('flag', ['any', ...AUDIT_FLAGS], filters.flag, 'all records')}</label>
        {filters.launchId ? <input type="hidden" name="launchId" value={filters.launchId} /> : null}
        <button type="submit">Filter</button>
        <Link className="button secondary" href={`${sandboxBase}/console/audit`}>
          Clear
        </Link>
      </form>
      <p className="actions">
        <span className="muted" data-testid="audit-count">
          {total} record(s) match{before ? `; showing ${records.length} older ones` : total > records.length ? `; showing the newest ${records.length}` : ''}.
        </span>
        <a className="button secondary" href={`${sandboxBase}/api/console/audit.ndjson${query ? `?${query}` : ''}`} download>
          Export NDJSON
        </a>
        <a className="button secondary" href={`${sandboxBase}/api/console/audit.ndjson?${query ? `${query}&` : ''}format=fhir`} download>
          Export as FHIR AuditEvent NDJSON
        </a>
      </p>
      <AuditLive
        key={params.get('before') ?? 'newest'}
        initial={records.map(toAuditJson)}
        query={query}
        clientNames={clientNames}
        paged={before !== null}
        sandboxBase={sandboxBase}
      />
      <p className="actions" data-testid="audit-paging">
        {before ? (
          <Link className="button secondary" href={`${sandboxBase}/console/audit${query ? `?${query}` : ''}`}>
            ← Newest
          </Link>
        ) : null}
        {olderHref ? (
          <Link className="button secondary" href={olderHref}>
            Older records →
          </Link>
        ) : null}
      </p>
    </>
  );
}

export default inSandboxPage(AuditPage);
