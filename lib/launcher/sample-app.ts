import { getClient, registerClient, updateClient } from '../oauth/clients';
import type { OAuthClient } from '../oauth/clients';
import { DEFAULT_SANDBOX_ID } from '../sandbox';
import { currentSandbox } from '../sandbox/context';

/** client_id of the built-in sample app (app/sample-app, written with fhirclient like a third-party app). */
export const SAMPLE_APP_CLIENT_ID = 'sample-app';

/** The sample app's client_id in the current sandbox (client ids are unique across sandboxes). */
export function sampleAppClientId(): string {
  const { id } = currentSandbox();
  return id === DEFAULT_SANDBOX_ID ? SAMPLE_APP_CLIENT_ID : `${SAMPLE_APP_CLIENT_ID}-${id}`;
}

/** The sample app's URLs on an origin, under the current sandbox's prefix. */
export function sampleAppUrls(origin: string): { launchUrl: string; redirectUri: string } {
  const base = `${origin}${currentSandbox().basePath}`;
  return { launchUrl: `${base}/sample-app/launch`, redirectUri: `${base}/sample-app` };
}

/**
 * Registers the sample app as a public client, idempotently, with this origin's launch URL and
 * redirect URI (the sandbox may be reached on several origins: localhost, a LAN name, a test port).
 */
export async function ensureSampleAppClient(origin: string): Promise<OAuthClient> {
  const { launchUrl, redirectUri } = sampleAppUrls(origin);
  const clientId = sampleAppClientId();
  const existing = await getClient(clientId);
  if (existing) {
    if (existing.redirectUris.includes(redirectUri) && existing.launchUris.includes(launchUrl)) return existing;
    const updated = await updateClient(clientId, {
      redirectUris: [...new Set([...existing.redirectUris, redirectUri])].slice(-20),
      launchUris: [...new Set([...existing.launchUris, launchUrl])].slice(-20),
    });
    return updated ?? existing;
  }
  try {
    const { client } = await registerClient({
      clientId,
      name: 'SMART Sandbox sample app',
      clientType: 'public',
      redirectUris: [redirectUri],
      launchUris: [launchUrl],
      pkceRequired: true,
      softwareId: 'smart-sandbox-sample-app',
    });
    return client;
  } catch (err) {
    // Another request registered it meanwhile.
    const again = await getClient(clientId);
    if (again) return ensureSampleAppClient(origin);
    throw err;
  }
}
