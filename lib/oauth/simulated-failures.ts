/**
 * The authorization server's simulated failures: a launch's simulated error (chosen in the launcher,
 * catalogued in lib/launch-options/simulated-errors.ts) turned into the real endpoint's failure —
 * same status, error code, headers and description, built by the same factories the real checks
 * use; the catalogue is consulted, never imported from the launcher (docs/ARCHITECTURE.md). Each
 * endpoint makes one call here; none knows the list:
 *
 *   /oauth/authorize        simulatedAuthorizeFailure      invalid_client_id, invalid_redirect_uri, invalid_scope
 *   code redirect           simulatedRedirectState         state_mismatch
 *   /oauth/token            simulatedTokenFailure          invalid_client_secret, invalid_jti, backend_invalid_scope,
 *                                                          invalid_code, pkce_verifier_mismatch, invalid_refresh_token,
 *                                                          expired_registration
 *   token response          simulatedTokenResponse         missing_launch_context
 *   token issuance          simulatedIssuance              token_expires_soon, expired_refresh_token, refresh_token_revoked
 *   access-token checks     simulatedAccessTokenRejection  invalid_access_token, expired_access_token
 *
 * The decisions are pure functions of (simulated error, request); the FHIR API's are in
 * lib/fhir/simulated-failures.ts, and lib/launch-options/lookup.ts reads the error of a launch.
 */
import { assertionReplayError, assertionSignatureError } from './client-assertion';
import { expiredRegistrationError, wrongCredentialsError } from './client-auth';
import type { TokenEndpointAuthMethod } from './clients';
import { unknownClientError } from './checks/client-is-registered';
import { unregisteredRedirectUriError } from './checks/redirect-uri-is-registered';
import type { OAuthError } from './errors';
import { InvalidGrant, InvalidScope } from './errors';
import { randomToken } from './crypto';
import type { SimulatedError } from '../launch-options/simulated-errors';

/**
 * /oauth/authorize, once client_id and redirect_uri matched the registration: the failure to
 * throw, or null. The 400 pages are the ones an unknown client_id / unregistered redirect_uri get
 * (RFC 6749 §4.1.2.1: no redirect); invalid_scope is redirected like any other authorize error.
 */
export function simulatedAuthorizeFailure(
  error: SimulatedError | null,
  request: { readonly clientId: string; readonly redirectUri: string; readonly registeredRedirectUris: readonly string[]; readonly scope: string | null },
): OAuthError | null {
  switch (error?.kind) {
    case 'invalid_client_id':
      return unknownClientError(request.clientId);
    case 'invalid_redirect_uri':
      // The page names every URI really registered, the one sent included, and says the refusal was armed.
      return unregisteredRedirectUriError(request.clientId, request.redirectUri, request.registeredRedirectUris, { simulated: true });
    case 'invalid_scope':
      return new InvalidScope(
        `the requested scope is not valid for client '${request.clientId}': '${(request.scope ?? '').slice(0, 300)}' (RFC 6749 §4.1.2.1)`,
      );
    default:
      return null;
  }
}

/** The parts of a token request the simulated token-endpoint failures depend on. */
export interface TokenRequestFacts {
  readonly grantType: 'authorization_code' | 'refresh_token' | 'client_credentials';
  readonly clientId: string;
  /** How the client authenticated (it did: these failures replace a success). */
  readonly method: TokenEndpointAuthMethod;
  /** The client assertion's jti and kid (private_key_jwt). */
  readonly assertion: { readonly jti: string; readonly kid: string } | null;
  readonly scope: string | null;
}

/**
 * /oauth/token, once the client authenticated and before the grant runs (so a code is not used
 * up): the failure to throw, or null. Client-authentication failures are the ones a wrong
 * credential gets (RFC 6749 §5.2: 401 invalid_client with WWW-Authenticate).
 */
export function simulatedTokenFailure(error: SimulatedError | null, request: TokenRequestFacts): OAuthError | null {
  switch (error?.kind) {
    case 'invalid_client_secret':
      if (request.method === 'private_key_jwt') return assertionSignatureError(request.assertion?.kid ?? '');
      return wrongCredentialsError(request.method, request.clientId);
    case 'invalid_jti':
      return request.method === 'private_key_jwt' && request.assertion ? assertionReplayError(request.assertion.jti) : null;
    case 'expired_registration':
      return expiredRegistrationError(request.method);
    // The words of the real checks in lib/oauth/grants/.
    case 'invalid_code':
      return request.grantType === 'authorization_code'
        ? new InvalidGrant('the authorization code is not valid (unknown, mistyped, or from another server)')
        : null;
    case 'pkce_verifier_mismatch':
      return request.grantType === 'authorization_code'
        ? new InvalidGrant('code_verifier does not match the code_challenge (BASE64URL(SHA256(code_verifier)) must equal it; RFC 7636 §4.6)')
        : null;
    case 'invalid_refresh_token':
      return request.grantType === 'refresh_token' ? new InvalidGrant('the refresh token is not valid (unknown or mistyped)') : null;
    case 'backend_invalid_scope':
      if (request.grantType !== 'client_credentials') return null;
      return new InvalidScope(
        `the requested scope '${(request.scope ?? '').slice(0, 300)}' is not pre-authorised for client '${request.clientId}' (SMART App Launch 2.2 §backend-services)`,
      );
    default:
      return null;
  }
}

/** Lifetimes and state of the tokens one grant is about to issue. */
export interface Issuance {
  readonly accessTtlSeconds: number;
  /** Lifetime of the refresh token, or null when none is issued. */
  readonly refreshTtlSeconds: number | null;
  /** Store the refresh token revoked. */
  readonly refreshRevoked: boolean;
}

/**
 * Token issuance (every grant): token_expires_soon shortens the access token (exp = iat + N,
 * expires_in = N); the refresh-token errors store the refresh token already expired or revoked, so
 * the refresh grant, introspection and the console all see the real state.
 */
export function simulatedIssuance(error: SimulatedError | null, issuance: Issuance): Issuance {
  switch (error?.kind) {
    case 'token_expires_soon':
      return { ...issuance, accessTtlSeconds: error.seconds };
    case 'expired_refresh_token':
      return issuance.refreshTtlSeconds === null ? issuance : { ...issuance, refreshTtlSeconds: 0 };
    case 'refresh_token_revoked':
      return issuance.refreshTtlSeconds === null ? issuance : { ...issuance, refreshRevoked: true };
    default:
      return issuance;
  }
}

/**
 * Access-token verification (FHIR API and introspection): the description of a simulated
 * rejection, or null. `refreshed`: the token was issued by a refresh_token grant.
 * The words are those of the real checks in lib/oauth/access-token.ts.
 */
export function simulatedAccessTokenRejection(error: SimulatedError | null, token: { readonly refreshed: boolean }): string | null {
  switch (error?.kind) {
    case 'invalid_access_token':
      return 'the access token signature or claims are not valid';
    case 'expired_access_token':
      // The app's recovery path is what this tests: a token obtained with the refresh token works.
      return token.refreshed ? null : 'the access token has expired';
    default:
      return null;
  }
}

/**
 * The state on the code redirect: state_mismatch replaces the app's value with another one, as a
 * forged or mixed-up authorization response would carry (RFC 6749 §10.12; RFC 9700 §4.7); the app
 * must refuse the response. Otherwise the app's own state, unchanged (RFC 6749 §4.1.2).
 */
export function simulatedRedirectState(error: SimulatedError | null, state: string | null): string | null {
  return error?.kind === 'state_mismatch' ? randomToken(16) : state;
}

/**
 * A successful token response: missing_launch_context leaves out the launch context members
 * (SMART App Launch 2.2 §launch-context-arrives-with-your-access_token) that the app must not do without.
 */
export function simulatedTokenResponse<T extends object>(error: SimulatedError | null, body: T): T {
  if (error?.kind !== 'missing_launch_context') return body;
  const rest: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  delete rest.patient;
  delete rest.encounter;
  delete rest.fhirContext;
  return rest as T;
}
