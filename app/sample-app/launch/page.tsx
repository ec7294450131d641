import { headers } from 'next/headers';
import { publicOrigin } from '#lib/http/origin';
import { ensureSampleAppClient } from '#lib/launcher/sample-app';
import { inRequestSandbox } from '../../request-sandbox';
import { LaunchClient } from './launch-client';

export const dynamic = 'force-dynamic';

// The sample app's launch URL: a SMART app's first page (`?iss=…&launch=…`, or just `iss` standalone).
export default async function SampleAppLaunchPage() {
  const origin = publicOrigin(await headers());
  const [client, basePath] = await inRequestSandbox(async (sandbox) => [await ensureSampleAppClient(origin), sandbox.basePath] as const);
  return (
    <main>
      <h1>Sample app</h1>
      <LaunchClient clientId={client.clientId} basePath={basePath} />
    </main>
  );
}
