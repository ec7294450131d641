/**
 * redirect_uri must be present and equal, as a string, to one registered for the client; only then
 * may errors be sent back to it (RFC 6749 §3.1.2.3, §4.1.2.1; RFC 9700 §2.1, §4.1; docs/CONFORMANCE.md #39, #168).
 */
import { UnsafeToRedirect } from '../errors';
import type { AuthorizeCheck } from './context';
import { clientOf } from './context';

export const redirectUriIsRegistered: AuthorizeCheck = (ctx) => {
  const client = clientOf(ctx);
  const redirectUri = ctx.params.get('redirect_uri');
  if (redirectUri === null) {
    throw new UnsafeToRedirect(
      'Missing redirect_uri',
      `The authorization request has no redirect_uri. Send one of the URIs registered for '${client.clientId}' (SMART App Launch 2.2 §app-launch).`,
    );
  }
  const registered = client.redirectUris.includes(redirectUri);
  ctx.call.audit.facts = { ...ctx.call.audit.facts, redirectUriRegistered: registered };
  if (!registered) throw unregisteredRedirectUriError(client.clientId, redirectUri, client.redirectUris);
  ctx.redirectUri = redirectUri;
  ctx.call.redirectTarget = { kind: 'redirect', redirectUri, state: ctx.params.all('state')[0] ?? null, issuer: ctx.call.issuer };
};

/** The page a redirect_uri outside the registration gets (also what the simulated error invalid_redirect_uri shows). */
export function unregisteredRedirectUriError(
  clientId: string,
  redirectUri: string,
  registeredUris: readonly string[],
  options: { simulated?: boolean } = {},
): UnsafeToRedirect {
  const registered = registeredUris.length ? registeredUris.map((u) => `'${u}'`).join(', ') : '(none)';
  if (options.simulated)
    return new UnsafeToRedirect(
      'redirect_uri not registered',
      `redirect_uri '${redirectUri.slice(0, 500)}' is refused as if it were not registered for client '${clientId}' (the simulated error "Invalid redirect URI" armed for this launch). Registered: ${registered}. A real refusal happens when the redirect_uri is not an exact string match of one of them (RFC 9700 §2.1); no redirect is made (RFC 6749 §4.1.2.1).`,
    );
  return new UnsafeToRedirect(
    'redirect_uri not registered',
    `redirect_uri '${redirectUri.slice(0, 500)}' does not exactly match a URI registered for client '${clientId}'. Registered: ${registered}. The comparison is an exact string match (RFC 9700 §2.1).`,
  );
}
