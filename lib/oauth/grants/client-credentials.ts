/**
 * grant_type=client_credentials for backend services: private_key_jwt only, system/ scopes within
 * the client's pre-authorisation, short-lived tokens, no refresh token
 * (SMART App Launch 2.2 §backend-services; docs/CONFORMANCE.md #138–#146, #179).
 */
import { formatScope, formatScopes, intersectScopes, parseScopeString } from '../../smart/scopes';
import type { OAuthClient } from '../clients';
import { clientAllowedScopes } from '../clients';
import { accessTokenTtl, BACKEND_TOKEN_TTL_SECONDS } from '../config';
import type { OAuthCall } from '../endpoint';
import { InvalidScope, UnauthorizedClient } from '../errors';
import type { OAuthParams } from '../http';
import type { TokenResponseBody } from '../tokens';
import { issueTokens } from '../tokens';
import type { TokenEndpointAuthMethod } from '../clients';

/** `launchId`: the backend launch the launcher armed for this client and the token endpoint used up, or null. */
export async function clientCredentialsGrant(
  call: OAuthCall,
  client: OAuthClient,
  method: TokenEndpointAuthMethod,
  form: OAuthParams,
  launchId: string | null = null,
): Promise<TokenResponseBody> {
  if (method !== 'private_key_jwt')
    throw new UnauthorizedClient('client_credentials requires private_key_jwt client authentication (SMART App Launch 2.2 §backend-services)');
  const requested = form.get('scope');
  if (requested === null) throw new InvalidScope('scope is required for client_credentials, e.g. "system/*.rs" (SMART App Launch 2.2 §backend-services)');
  const parsed = parseScopeString(requested);
  if (parsed.errors.length) throw new InvalidScope(parsed.errors.map((e) => e.reason).join('; '));
  const notSystem = parsed.scopes.find((s) => s.kind !== 'resource' || s.context !== 'system');
  if (notSystem)
    throw new InvalidScope(`'${formatScope(notSystem)}' cannot be granted to a backend client: only system/ scopes (SMART App Launch 2.2 §backend-services)`);

  // Down-scope to the pre-authorisation and return what was actually granted (docs/CONFORMANCE.md #142, #179).
  const granted = intersectScopes(parsed.scopes, clientAllowedScopes(client));
  if (granted.length === 0)
    throw new InvalidScope(`none of the requested scopes is pre-authorised for client '${client.clientId}' (pre-authorised: ${client.scope || '(none)'})`);
  const scope = formatScopes(granted);
  call.audit.scopes = scope;
  const issued = await issueTokens({
    sandboxId: call.sandboxId,
    client,
    grantId: null,
    userId: null,
    context: { patient: null, encounter: null, fhirUser: null, launchKind: 'backend' },
    // Carried in the token, so the launch's FHIR-side simulated errors apply to it.
    launchId,
    scope,
    accessTtlSeconds: Math.min(BACKEND_TOKEN_TTL_SECONDS, accessTokenTtl()),
    issuer: call.issuer,
    fhirBase: call.fhirBase,
    refresh: null, // SHOULD NOT issue refresh tokens to backend services (docs/CONFORMANCE.md #92)
    idToken: null,
  });
  call.audit.facts = { ...call.audit.facts, tokenId: issued.accessJti };
  call.audit.detail = `issued backend access token ${issued.accessJti.slice(0, 8)}…${scope !== requested.trim() ? ` (requested: ${requested.slice(0, 300)})` : ''}`;
  return issued.body;
}
