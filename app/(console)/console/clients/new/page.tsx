import Link from 'next/link';
import { requireConsoleSession } from '#lib/console/auth';
import { registerClientAction } from '../../actions';
import { ClientForm } from '../client-form-client';
import { inSandboxPage } from '../../../../request-sandbox';

export const metadata = { title: 'Register client · SMART Sandbox console' };

async function NewClientPage() {
  await requireConsoleSession('/console/clients/new');
  return (
    <>
      <p>
        <Link href="/console/clients">← Clients</Link>
      </p>
      <h1>Register a client</h1>
      <ClientForm
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
