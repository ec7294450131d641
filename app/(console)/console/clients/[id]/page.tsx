import Link from 'next/link';
import { notFound } from 'next/navigation';
import { requireConsoleSession } from '#lib/console/auth';
import { getClient } from '#lib/oauth/clients';
import { bulkExportReports } from '#lib/console/bulk-report';
import type { BulkJobReport } from '#lib/console/bulk-report';
import { cloneClientAction, deleteClientAction, rotateSecretAction, updateClientAction } from '../../actions';
import { ClientActionButton, ClientForm } from '../client-form-client';

export const metadata = { title: 'Client · SMART Sandbox console' };

type Props = { params: Promise<{ id: string }> };

export default async function ClientPage({ params }: Props) {
  const { id } = await params;
  await requireConsoleSession(`/console/clients/${id}`);
  const c = await getClient(id);
  if (!c) notFound();
  const exports = c.clientType === 'backend' ? await bulkExportReports(c.clientId) : [];
  return (
    <>
      <p><Link href="/console/clients">← Clients</Link></p>
      <h1>{c.name} <code className="muted-small">{c.clientId}</code></h1>
      <div className="card actions">
        {c.hasSecret ? <ClientActionButton action={rotateSecretAction} clientId={c.clientId} label="Rotate secret" /> : null}
        <ClientActionButton action={cloneClientAction} clientId={c.clientId} label="Clone this client" />
        <Link className="button secondary" href={`/console/tokens?clientId=${encodeURIComponent(c.clientId)}`}>Tokens</Link>
        <Link className="button secondary" href={`/console/audit?clientId=${encodeURIComponent(c.clientId)}`}>Audit</Link>
        <form action={deleteClientAction} className="inline">
          <input type="hidden" name="clientId" value={c.clientId} />
          <button type="submit" className="danger">Delete (revokes its tokens)</button>
        </form>
      </div>
      <ClientForm
        action={updateClientAction}
        mode="edit"
        values={{
          clientId: c.clientId,
          name: c.name,
          clientType: c.clientType,
          tokenEndpointAuthMethod: c.tokenEndpointAuthMethod === 'client_secret_post' ? 'client_secret_post' : 'client_secret_basic',
          redirectUris: c.redirectUris.join('\n'),
          launchUris: c.launchUris.join('\n'),
          scope: c.scope,
          jwks: c.jwks ? JSON.stringify(c.jwks, null, 2) : '',
          jwksUri: c.jwksUri ?? '',
          pkceRequired: c.pkceRequired,
        }}
      />
      {exports.length ? <BulkExports reports={exports} /> : null}
    </>
  );
}

/** The client's Bulk Data exports: each job's timeline and how well the client behaved (lib/console/bulk-report). */
function BulkExports({ reports }: { reports: BulkJobReport[] }) {
  return (
    <section className="card" data-testid="bulk-exports">
      <h2>Bulk Data exports</h2>
      {reports.map((r) => (
        <details key={r.jobId} open={r === reports[0]}>
          <summary>
            <code>{r.request}</code> at {r.kickedOffAt.toISOString()} — grade {r.passed}/{r.applicable}
          </summary>
          <table>
            <tbody>
              {r.checks.map((c) => (
                <tr key={c.name}>
                  <td>{c.ok === null ? '–' : c.ok ? '✓' : '✗'}</td>
                  <td>{c.name}</td>
                  <td className="muted">{c.detail}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <table>
            <thead>
              <tr>
                <th>+s</th>
                <th>request</th>
                <th>status</th>
                <th>spacing vs Retry-After</th>
              </tr>
            </thead>
            <tbody>
              {r.events.map((e, i) => (
                <tr key={i} className={e.early || e.withoutToken ? 'error' : undefined}>
                  <td>{((e.at.getTime() - r.kickedOffAt.getTime()) / 1000).toFixed(1)}</td>
                  <td>
                    {e.kind}
                    {e.file ? ` ${e.file}` : ''}
                    {e.withoutToken ? ' (no token)' : ''}
                  </td>
                  <td>{e.status}</td>
                  <td>{e.sincePreviousMs !== null ? `${(e.sincePreviousMs / 1000).toFixed(1)} s after the last poll${e.toldRetryAfterS !== null ? `, told ${e.toldRetryAfterS} s` : ''}${e.early ? ' — too early' : ''}` : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      ))}
    </section>
  );
}
