import Link from 'next/link';
import { requireConsoleSession } from '#lib/console/auth';
import { registerClientAction } from '../../actions';
import { ClientForm } from '../client-form-client';
import { inSandboxPage } from '../../../../request-sandbox';
import { currentSandbox } from '#lib/sandbox/context';

export const metadata = { title: 'Register client · SMART Sandbox console' };

async function NewClientPage() {
  await requireConsoleSession('/console/clients/new');
  const sandboxBase = currentSandbox().basePath;
  return (
    <>
      <p>
        <Link href={`${sandboxBase}/console/clients`}>← Clients</Link>
      </p>
      <h1>Register a client</h1>
      <ClientForm
        sandboxBase={sandboxBase}
        action={registerClientAction}
        mode="new"
        values={{
          clientId: '',
          name: '',
          clientType: 'public',
          tokenEndpointAuthMethod: 'client_secret_basic',
          redirectUris: 'http://localhost:8080/callback',
          launchUris: 'http://localhost:8080/launch',
          scope: '',
          jwks: '',
          jwksUri: '',
          pkceRequired: true,
          introspectAnyToken: false,
        }}
      />
    </>
  );
}

export default inSandboxPage(NewClientPage);
