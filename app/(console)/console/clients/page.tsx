import Link from 'next/link';
import { requireConsoleSession } from '#lib/console/auth';
import { firstParam } from '#lib/console/format';
import { listClients } from '#lib/oauth/clients';
import { inSandboxPage } from '../../../request-sandbox';
import { currentSandbox } from '#lib/sandbox/context';

export const metadata = { title: 'Clients · SMART Sandbox console' };

type Props = { searchParams: Promise<Record<string, string | string[] | undefined>> };

async function ClientsPage({ searchParams }: Props) {
  await requireConsoleSession('/console/clients');
  const sandboxBase = currentSandbox().basePath;
  const clients = await listClients();
  const deleted = firstParam((await searchParams).deleted) === '1';
  return (
    <>
      <h1>Clients</h1>
      <p className="lead">Registered SMART apps and backend services.</p>
      {deleted ? (
        <p className="notice warn" role="status">
          Client deleted; its grants and tokens were revoked.
        </p>
      ) : null}
      <p>
        <Link className="button" href={`${sandboxBase}/console/clients/new`}>
          Register a client
        </Link>
      </p>
      {clients.length === 0 ? (
        <p className="card muted">No clients registered yet.</p>
      ) : (
        <table data-testid="clients-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>client_id</th>
              <th>Type</th>
              <th>Auth</th>
              <th>Redirect URIs</th>
              <th>Scopes</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {clients.map((c) => (
              <tr key={c.clientId}>
                <td>
                  <Link href={`${sandboxBase}/console/clients/${encodeURIComponent(c.clientId)}`}>{c.name}</Link>
                </td>
                <td>
                  <code>{c.clientId}</code>
                </td>
                <td>{c.clientType}</td>
                <td>{c.tokenEndpointAuthMethod}</td>
                <td className="muted-small">{c.redirectUris.join(' ')}</td>
                <td>
                  <code>{c.scope.length > 60 ? `${c.scope.slice(0, 60)}…` : c.scope}</code>
                </td>
                <td className="actions">
                  <Link href={`${sandboxBase}/console/tokens?clientId=${encodeURIComponent(c.clientId)}`}>tokens</Link>
                  <Link href={`${sandboxBase}/console/audit?clientId=${encodeURIComponent(c.clientId)}`}>audit</Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

export default inSandboxPage(ClientsPage);
