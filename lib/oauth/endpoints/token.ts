/**
 * POST /oauth/token: grant type first (an unknown one is 400 unsupported_grant_type whatever the
 * credentials; G10 8.1.02), then client authentication, then the grant's own module.
 * No-store headers on success and error (checklist #59); CORS for public clients' origins (#66).
 */
import { DEFAULT_SANDBOX_ID } from '../../sandbox';
import { authenticateClient } from '../client-auth';
import type { GrantType } from '../clients';
import { allowPublicClientOrigin, handleCorsPreflight } from '../cors';
import { oauthEndpoint } from '../endpoint';
import { InvalidRequest, UnauthorizedClient, UnsupportedGrantType } from '../errors';
import { authorizationCodeGrant } from '../grants/authorization-code';
import { clientCredentialsGrant } from '../grants/client-credentials';
import { refreshTokenGrant } from '../grants/refresh-token';
import { jsonNoStore, readForm } from '../http';

const SUPPORTED: readonly GrantType[] = ['authorization_code', 'refresh_token', 'client_credentials'];

/** POST /oauth/token */
export const handleToken = oauthEndpoint({ endpoint: '/oauth/token', style: 'json' }, async (call) => {
  const form = await readForm(call.req);
  const grantType = form.get('grant_type');
  if (grantType === null) throw new InvalidRequest('grant_type is required');
  if (!(SUPPORTED as readonly string[]).includes(grantType)) {
    throw new UnsupportedGrantType(`grant_type '${grantType.slice(0, 100)}' is not supported: use authorization_code, refresh_token or client_credentials (the password and implicit grants are not allowed, RFC 9700 §2.4)`);
  }
  call.audit.detail = grantType;
  // CORS before authentication, so a browser app can read its own error responses.
  await allowPublicClientOrigin(call, form.all('client_id')[0] ?? null);

  const { client, method } = await authenticateClient(call, form);
  call.audit.clientId = client.clientId;
  if (!client.grantTypes.includes(grantType as GrantType)) {
    throw new UnauthorizedClient(`client '${client.clientId}' is not registered for the ${grantType} grant (registered: ${client.grantTypes.join(', ')})`);
  }
  switch (grantType as GrantType) {
    case 'authorization_code':
      return jsonNoStore(await authorizationCodeGrant(call, client, form));
    case 'refresh_token':
      return jsonNoStore(await refreshTokenGrant(call, client, form));
    case 'client_credentials':
      return jsonNoStore(await clientCredentialsGrant(call, client, method, form));
  }
});

/** OPTIONS /oauth/token (CORS preflight). */
export function handleTokenPreflight(req: Request): Promise<Response> {
  return handleCorsPreflight(req, DEFAULT_SANDBOX_ID);
}
