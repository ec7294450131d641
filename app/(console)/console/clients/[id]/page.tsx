import Link from 'next/link';
import { notFound } from 'next/navigation';
import { requireConsoleSession } from '#lib/console/auth';
import { getClient } from '#lib/oauth/clients';
import { cloneClientAction, deleteClientAction, rotateSecretAction, updateClientAction } from '../../actions';
import { ClientActionButton, ClientForm } from '../client-form-client';
import { inSandboxPage } from '../../../../request-sandbox';
import { currentSandbox } from '#lib/sandbox/context';

export const metadata = { title: 'Client · SMART Sandbox console' };

type Props = { params: Promise<{ id: string }> };

async function ClientPage({ params }: Props) {
  const { id } = await params;
  await requireConsoleSession(`/console/clients/${id}`);
  const sandboxBase = currentSandbox().basePath;
  const c = await getClient(id);
  if (!c) notFound();
  return (
    <>
      <p>
        <Link href={`${sandboxBase}/console/clients`}>← Clients</Link>
      </p>
      <h1>
        {c.name} <code className="muted-small">{c.clientId}</code>
      </h1>
      <div className="card actions">
        {c.hasSecret ? <ClientActionButton sandboxBase={sandboxBase} action={rotateSecretAction} clientId={c.clientId} label="Rotate secret" /> : null}
        <ClientActionButton sandboxBase={sandboxBase} action={cloneClientAction} clientId={c.clientId} label="Clone this client" />
        <Link className="button secondary" href={`${sandboxBase}/console/tokens?clientId=${encodeURIComponent(c.clientId)}`}>
          Tokens
        </Link>
        <Link className="button secondary" href={`${sandboxBase}/console/audit?clientId=${encodeURIComponent(c.clientId)}`}>
          Audit
        </Link>
        <Link className="button secondary" href={`${sandboxBase}/console/clients/${encodeURIComponent(c.clientId)}/report`}>
          Report card
        </Link>
        <form action={deleteClientAction} className="inline">
          <input type="hidden" name="clientId" value={c.clientId} />
          <button type="submit" className="danger">
            Delete (revokes its tokens)
          </button>
        </form>
      </div>
      {c.clientType !== 'backend' && c.launchUris.length === 0 ? (
        <p className="card" data-testid="no-launch-url">
          No launch URL registered: the launcher can start standalone launches of this app only. Add one under <a href="#launchUris">Launch URLs</a> below (the
          EHR opens it with <code>?iss=…&amp;launch=…</code>).
        </p>
      ) : null}
      {c.droppedScopes.length ? (
        <div className="card" data-testid="dropped-scopes">
          <h2>Scopes removed at registration</h2>
          <ul>
            {c.droppedScopes.map((d) => (
              <li key={d.scope}>
                <code>{d.scope}</code>: {d.reason}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <ClientForm
        sandboxBase={sandboxBase}
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
          introspectAnyToken: c.introspectAnyToken,
        }}
      />
    </>
  );
}

export default inSandboxPage(ClientPage);
