import Link from 'next/link';
import { decodeAuditPosition, encodeAuditPosition } from '#lib/console/audit';
import { requireConsoleSession } from '#lib/console/auth';
import { FLOW_KIND_LABELS, FLOW_KINDS, listAllFlows, parseFlowFilters } from '#lib/console/flow-events';
import type { FlowFilters } from '#lib/console/flow-events';
import { toSearchParams } from '#lib/console/format';
import { currentSandbox } from '#lib/sandbox/context';
import { listClients } from '#lib/oauth/clients';
import { inSandboxPage } from '../../../request-sandbox';

export const metadata = { title: 'Flows · SMART Sandbox console' };

/** Flows per page; older pages follow by keyset (the last flow's time and id), never by offset. */
const PAGE_SIZE = 50;

type Props = { searchParams: Promise<Record<string, string | string[] | undefined>> };

function filterQuery(f: FlowFilters): URLSearchParams {
  const q = new URLSearchParams();
  if (f.clientId) q.set('client', f.clientId);
  if (f.userId) q.set('user', f.userId);
  if (f.patientId) q.set('patient', f.patientId);
  if (f.outcome) q.set('outcome', f.outcome);
  if (f.kind) q.set('kind', f.kind);
  return q;
}

async function FlowsPage({ searchParams }: Props) {
  await requireConsoleSession('/console/flows');
  // Links stay in the sandbox the page is shown for (`/s/{id}` in a workshop attendee's console).
  const prefix = currentSandbox().basePath;
  const params = toSearchParams(await searchParams);
  const filters = parseFlowFilters(params);
  const before = decodeAuditPosition(params.get('before'));
  const [{ items, next }, clients] = await Promise.all([listAllFlows(filters, { limit: PAGE_SIZE, before }), listClients()]);
  const query = filterQuery(filters).toString();
  const olderHref = next ? `${prefix}/console/flows?${query ? `${query}&` : ''}before=${encodeAuditPosition(next)}` : null;
  const apiHref = `${prefix}/api/console/flows${query ? `?${query}` : ''}`;
  return (
    <>
      <h1>Flows</h1>
      <p className="lead">
        Every flow, newest first: launches step by step (authorize, sign-in, consent, code, token exchange with PKCE, every FHIR call), and every one that
        failed — refused authorizations with the rule they broke, denied consents, refused code exchanges and refreshes, backend token requests, and calls made
        with an expired or revoked token.
      </p>
      <form className="filters" method="get" data-testid="flow-filters">
        <label>
          Client
          <select name="client" defaultValue={filters.clientId ?? ''}>
            <option value="">any</option>
            {clients.map((c) => (
              <option key={c.clientId} value={c.clientId}>
                {c.name} ({c.clientId.length > 24 ? `${c.clientId.slice(0, 24)}…` : c.clientId})
              </option>
            ))}
          </select>
        </label>
        <label>
          User
          <input name="user" defaultValue={filters.userId ?? ''} placeholder="any" />
        </label>
        <label>
          Patient
          <input name="patient" defaultValue={filters.patientId ?? ''} placeholder="any" />
        </label>
        <label>
          Outcome
          <select name="outcome" defaultValue={filters.outcome ?? ''}>
            <option value="">any</option>
            <option value="failed">failed</option>
            <option value="ok">succeeded</option>
          </select>
        </label>
        <label>
          Kind
          <select name="kind" defaultValue={filters.kind ?? ''}>
            <option value="">any</option>
            {FLOW_KINDS.map((k) => (
              <option key={k} value={k}>
                {FLOW_KIND_LABELS[k]}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Filter</button>
        <Link className="button secondary" href={`${prefix}/console/flows`}>
          Clear
        </Link>
      </form>
      <p className="actions">
        <a className="button secondary" href={apiHref}>
          As JSON
        </a>
      </p>
      {items.length === 0 ? (
        <p className="card muted">{before || query ? 'No flows match.' : 'No flows yet. Launch an app from the launcher.'}</p>
      ) : (
        <div className="table-scroll">
          <table data-testid="flows-table">
            <thead>
              <tr>
                <th>When</th>
                <th>Outcome</th>
                <th>Kind</th>
                <th>Client</th>
                <th>User</th>
                <th>Patient</th>
                <th>What happened</th>
              </tr>
            </thead>
            <tbody>
              {items.map((f) => (
                <tr key={f.id} data-outcome={f.outcome} data-kind={f.kind} className={f.outcome === 'failed' ? 'failed-row' : undefined}>
                  <td>
                    <Link href={`${prefix}/console/flows/${encodeURIComponent(f.id)}`}>{f.at.toISOString().replace('T', ' ').slice(0, 19)}</Link>
                  </td>
                  <td>
                    {f.outcome === 'failed' ? (
                      <span className="badge failed">✗ failed</span>
                    ) : f.revoked ? (
                      <span className="badge revoked">revoked</span>
                    ) : (
                      <span className="badge ok">✓ ok</span>
                    )}
                    {f.flags.map((flag) => (
                      <span key={flag} className={flag === 'simulated' ? 'badge info' : 'badge flag'}>
                        {flag}
                      </span>
                    ))}
                  </td>
                  <td>{FLOW_KIND_LABELS[f.kind]}</td>
                  <td>
                    {f.clientId ? (
                      <>
                        {f.clientName ?? f.clientId} {f.clientName ? <span className="muted-small">{f.clientId}</span> : null}
                      </>
                    ) : (
                      <span className="muted">unknown</span>
                    )}
                  </td>
                  <td>{f.userId ?? '—'}</td>
                  <td>{f.patientId ?? '—'}</td>
                  <td>
                    {f.summary}
                    {f.rule ? (
                      <div className="muted-small">
                        Rule: {f.rule.title} ({f.rule.spec})
                      </div>
                    ) : f.scope ? (
                      <div className="muted-small">
                        <code>{f.scope.length > 80 ? `${f.scope.slice(0, 80)}…` : f.scope}</code>
                      </div>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p className="actions" data-testid="flows-paging">
        {before ? (
          <Link className="button secondary" href={`${prefix}/console/flows${query ? `?${query}` : ''}`}>
            ← Newest
          </Link>
        ) : null}
        {olderHref ? (
          <Link className="button secondary" href={olderHref}>
            Older flows →
          </Link>
        ) : null}
      </p>
    </>
  );
}

export default inSandboxPage(FlowsPage);
