import { headers } from 'next/headers';
import { originFromHeaders } from '#lib/launcher/origin';
import { ensureSampleAppClient } from '#lib/launcher/sample-app';
import { LaunchClient } from './launch-client';

export const dynamic = 'force-dynamic';

// The sample app's launch URL: a SMART app's first page (`?iss=…&launch=…`, or just `iss` standalone).
export default async function SampleAppLaunchPage() {
  await ensureSampleAppClient(originFromHeaders(await headers()));
  return (
    <main>
      <h1>Sample app</h1>
      <LaunchClient />
    </main>
  );
}
