import Link from 'next/link';
import { requireConsoleSession } from '#lib/console/auth';
import { listFlows } from '#lib/console/flows';
import { inSandboxPage } from '../../../request-sandbox';

export const metadata = { title: 'Flows · SMART Sandbox console' };

async function FlowsPage() {
  await requireConsoleSession('/console/flows');
  const flows = await listFlows();
  return (
    <>
      <h1>Flows</h1>
      <p className="lead">
        Each authorization, step by step: launch, authorize, sign-in, consent, code, token exchange with PKCE, and every FHIR call with its scope decision.
      </p>
      {flows.length === 0 ? (
        <p className="card muted">No authorizations yet. Launch an app from the launcher.</p>
      ) : (
        <table data-testid="flows-table">
          <thead>
            <tr>
              <th>When</th>
              <th>Client</th>
              <th>Launch</th>
              <th>User</th>
              <th>Patient</th>
              <th>Scope</th>
              <th>Status</th>
            </tr>
          </thead>
          <tbody>
            {flows.map((f) => (
              <tr key={f.grantId}>
                <td>
                  <Link href={`/console/flows/${encodeURIComponent(f.grantId)}`}>{f.createdAt.toISOString().replace('T', ' ').slice(0, 19)}</Link>
                </td>
                <td>
                  {f.clientName ?? f.clientId} <span className="muted-small">{f.clientId}</span>
                </td>
                <td>
                  {f.launchKind}
                  {f.launchId ? ' (EHR)' : ''}
                </td>
                <td>{f.userId ?? '—'}</td>
                <td>{f.patientId ?? '—'}</td>
                <td>
                  <code>{f.scope.length > 80 ? `${f.scope.slice(0, 80)}…` : f.scope}</code>
                </td>
                <td>
                  <span className={`badge ${f.revoked ? 'revoked' : 'active'}`}>{f.revoked ? 'revoked' : 'granted'}</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

export default inSandboxPage(FlowsPage);
