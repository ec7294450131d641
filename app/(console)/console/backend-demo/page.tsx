import Link from 'next/link';
import { requireConsoleSession } from '#lib/console/auth';
import { ensureBackendDemoClient } from '#lib/launcher/backend-demo';
import { inSandboxPage } from '../../../request-sandbox';
import { BackendDemoRunner } from './backend-demo-client';
import { currentSandbox } from '#lib/sandbox/context';

export const metadata = { title: 'Backend service demo · SMART Sandbox console' };
export const dynamic = 'force-dynamic';

async function BackendDemoPage() {
  await requireConsoleSession('/console/backend-demo');
  const sandboxBase = currentSandbox().basePath;
  const { client } = await ensureBackendDemoClient();
  return (
    <>
      <h1>Backend service demo</h1>
      <p>
        A registered backend client, <Link href={`${sandboxBase}/console/clients/${client.clientId}`}>{client.name}</Link> (<code>{client.clientId}</code>),
        whose private key the sandbox holds. Running it signs a client assertion, exchanges it for an access token (client_credentials) and makes a few FHIR
        calls, showing every request and answer. For your own backend service, <a href="/tools/jwks">the JWKS helper</a> makes the JWKS to register.
      </p>
      <BackendDemoRunner defaultScope={client.scope} />
    </>
  );
}

export default inSandboxPage(BackendDemoPage);
