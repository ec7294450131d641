import { getClient, updateClient } from '../oauth/clients';
import { OAuthError } from '../oauth/errors';
import { SAMPLE_APP_CLIENT_ID } from './sample-app';

/**
 * Adding or changing an app's launch URL from the launcher, where an EHR launch of a client without
 * one stops (SMART App Launch 2.2 §launch-app-ehr-launch: the EHR opens `{launch_url}?iss&launch`;
 * docs/CONFORMANCE.md #155). The URL becomes the client's first launch URL, in place of `replace`
 * when one is being edited; the others stay.
 * The redirect URIs are untouched, so the code still goes only where the app registered.
 */
export async function setLaunchUrl(
  clientId: string,
  launchUrl: string,
  options: { sandboxId?: string; replace?: string | null } = {},
): Promise<{ ok: true; launchUrl: string } | { ok: false; error: string }> {
  const url = launchUrl.trim();
  if (!url) return { ok: false, error: 'Enter the launch URL of your app, e.g. http://localhost:8080/launch.' };
  if (clientId === SAMPLE_APP_CLIENT_ID) return { ok: false, error: 'The sample app’s launch URL is managed by the sandbox.' };
  const client = await getClient(clientId, options.sandboxId ? { sandboxId: options.sandboxId } : {});
  if (!client) return { ok: false, error: `No registered client '${clientId}'.` };
  if (client.clientType === 'backend') return { ok: false, error: 'A backend client is never launched by the EHR: it has no launch URL.' };
  try {
    const scope = options.sandboxId ? { sandboxId: options.sandboxId } : {};
    const updated = await updateClient(
      clientId,
      { launchUris: [url, ...client.launchUris.filter((u) => u !== url && u !== options.replace)].slice(0, 20) },
      scope,
    );
    if (!updated) return { ok: false, error: `No registered client '${clientId}'.` };
    return { ok: true, launchUrl: url };
  } catch (err) {
    if (err instanceof OAuthError) return { ok: false, error: err.message };
    throw err;
  }
}
