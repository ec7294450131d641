import { headers } from 'next/headers';
import { publicOrigin } from '#lib/http/origin';
import { ensureSampleAppClient } from '#lib/launcher/sample-app';
import { LaunchClient } from './launch-client';

export const dynamic = 'force-dynamic';

// The sample app's launch URL: a SMART app's first page (`?iss=…&launch=…`, or just `iss` standalone).
export default async function SampleAppLaunchPage() {
  await ensureSampleAppClient(publicOrigin(await headers()));
  return (
    <main>
      <h1>Sample app</h1>
      <LaunchClient />
    </main>
  );
}
