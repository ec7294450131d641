/**
 * POST /oauth/token: grant type first (an unknown one is 400 unsupported_grant_type whatever the
 * credentials; G10 8.1.02), then client authentication, then the launch's simulated failure (if
 * any), then the grant's own module.
 * No-store headers on success and error (docs/CONFORMANCE.md #59); CORS for public clients' origins (#66).
 */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { simulatedErrorOfLaunch, simulatedNote } from '../../launch-options/lookup';
import { simulatedTokenFailure, simulatedTokenResponse } from '../simulated-failures';
import { findArmedLaunch } from '../../launch-options/lookup';
import { currentSandbox } from '../../sandbox/context';
import { consumeLaunch } from '../launches';
import { authenticateClient } from '../client-auth';
import type { GrantType, OAuthClient } from '../clients';
import { allowPublicClientOrigin, handleCorsPreflight } from '../cors';
import { oauthEndpoint } from '../endpoint';
import type { OAuthCall } from '../endpoint';
import { InvalidRequest, UnauthorizedClient, UnsupportedGrantType } from '../errors';
import { authorizationCodeGrant } from '../grants/authorization-code';
import { clientCredentialsGrant } from '../grants/client-credentials';
import { launchOfPresentedGrant } from '../grants/presented';
import { refreshTokenGrant } from '../grants/refresh-token';
import type { OAuthParams } from '../http';
import { jsonNoStore, readForm } from '../http';
import { assertClientRateLimit } from '../rate-limit';

const SUPPORTED: readonly GrantType[] = ['authorization_code', 'refresh_token', 'client_credentials'];

/** POST /oauth/token */
export const handleToken = oauthEndpoint({ endpoint: '/oauth/token', style: 'json' }, async (call) => {
  const form = await readForm(call.req);
  const grantType = form.get('grant_type');
  if (grantType === null) throw new InvalidRequest('grant_type is required');
  if (!(SUPPORTED as readonly string[]).includes(grantType)) {
    throw new UnsupportedGrantType(
      `grant_type '${grantType.slice(0, 100)}' is not supported: use authorization_code, refresh_token or client_credentials (the password and implicit grants are not allowed, RFC 9700 §2.4)`,
    );
  }
  call.audit.detail = grantType;
  call.audit.facts = { grantType };
  // CORS before authentication, so a browser app can read its own error responses.
  await allowPublicClientOrigin(call, form.all('client_id')[0] ?? null);

  const { client, method } = await authenticateClient(call, form);
  call.audit.clientId = client.clientId;
  call.audit.facts = { grantType, authMethod: method, ...assertionLifetime(form) };
  await assertClientRateLimit(call, client.clientId);
  if (!client.grantTypes.includes(grantType as GrantType)) {
    throw new UnauthorizedClient(`client '${client.clientId}' is not registered for the ${grantType} grant (registered: ${client.grantTypes.join(', ')})`);
  }

  // The launch's simulated failure (lib/oauth/simulated-failures.ts), before the grant uses anything up.
  const launchId = await launchOfTokenRequest(call, client, grantType as GrantType, form);
  if (launchId) call.audit.launchId = launchId;
  const simulated = await simulatedErrorOfLaunch(launchId);
  const failure = simulatedTokenFailure(simulated, {
    grantType: grantType as GrantType,
    clientId: client.clientId,
    method,
    assertion: assertionFacts(form),
    scope: form.get('scope'),
  });
  if (simulated && failure) {
    call.audit.detail = `${grantType}; ${simulatedNote(simulated)}`;
    call.audit.flags.push('simulated');
    throw failure;
  }

  switch (grantType as GrantType) {
    case 'authorization_code':
      return jsonNoStore(simulatedTokenResponse(simulated, await authorizationCodeGrant(call, client, form)));
    case 'refresh_token':
      return jsonNoStore(simulatedTokenResponse(simulated, await refreshTokenGrant(call, client, form)));
    case 'client_credentials':
      return jsonNoStore(await clientCredentialsGrant(call, client, method, form, launchId));
  }
});

/**
 * The launcher's launch a token request belongs to, without using the code or refresh token up:
 * the grant's launch for authorization_code and refresh_token; for client_credentials, the
 * launch the launcher armed for this backend client, used up here so it applies to one request.
 */
async function launchOfTokenRequest(call: OAuthCall, client: OAuthClient, grantType: GrantType, form: OAuthParams): Promise<string | null> {
  if (grantType === 'client_credentials') {
    const armed = await findArmedLaunch(client.clientId, call.sandboxId);
    if (!armed) return null;
    const taken = await consumeLaunch(armed.id, client.clientId, call.sandboxId);
    return taken.ok ? armed.id : null;
  }
  // The code or refresh token is read once with its grant; the grant module reuses that read.
  // Another client's code or token fails in its grant module, with no simulation.
  return launchOfPresentedGrant(call, client, grantType, form);
}

/** jti and kid of a client assertion that authenticated the request (verified by then). */
function assertionFacts(form: OAuthParams): { jti: string; kid: string } | null {
  const assertion = form.get('client_assertion');
  if (assertion === null) return null;
  try {
    const { jti } = decodeJwt(assertion);
    const { kid } = decodeProtectedHeader(assertion);
    return { jti: typeof jti === 'string' ? jti : '', kid: typeof kid === 'string' ? kid : '' };
  } catch {
    return null;
  }
}

/** How long the (verified) client assertion was valid for, for the report card (SMART App Launch 2.2 §backend-services: exp no more than five minutes ahead). */
function assertionLifetime(form: OAuthParams): { assertionLifetimeSeconds?: number } {
  const assertion = form.get('client_assertion');
  if (assertion === null) return {};
  try {
    const { exp, iat } = decodeJwt(assertion);
    if (typeof exp !== 'number') return {};
    return { assertionLifetimeSeconds: Math.round(exp - (typeof iat === 'number' ? iat : Date.now() / 1000)) };
  } catch {
    return {};
  }
}

/** OPTIONS /oauth/token (CORS preflight). */
export function handleTokenPreflight(req: Request): Promise<Response> {
  return handleCorsPreflight(req, currentSandbox().id);
}
