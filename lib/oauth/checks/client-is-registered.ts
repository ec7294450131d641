/** client_id must name a registered client; otherwise an error page, never a redirect (RFC 6749 §4.1.2.1; docs/CONFORMANCE.md #39, #170). */
import { getClient } from '../clients';
import { UnsafeToRedirect } from '../errors';
import type { AuthorizeCheck } from './context';

export const clientIsRegistered: AuthorizeCheck = async (ctx) => {
  const clientId = ctx.params.get('client_id');
  if (clientId === null) throw new UnsafeToRedirect('Missing client_id', 'The authorization request has no client_id.');
  ctx.call.audit.clientId = clientId.slice(0, 200);
  const client = await getClient(clientId, { sandboxId: ctx.call.sandboxId });
  if (!client) throw unknownClientError(clientId);
  ctx.client = client;
};

/** The page an unknown client_id gets (also what the simulated error invalid_client_id shows). */
export function unknownClientError(clientId: string): UnsafeToRedirect {
  return new UnsafeToRedirect(
    'Unknown client',
    `No client is registered with client_id '${clientId.slice(0, 200)}'. Register the app in the sandbox console or through the registration endpoint first.`,
  );
}
