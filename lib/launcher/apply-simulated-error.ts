/**
 * Applies a launch's simulated error (lib/launcher/simulated-errors.ts) at the one place it
 * belongs, so the real endpoint fails the way a real failure would — same status, error code,
 * headers and description, built by the same factories the real checks use (STYLE.md habit 12).
 * Every endpoint makes one call here; none of them knows the list of simulated errors:
 *
 *   /oauth/authorize        simulatedAuthorizeFailure   invalid_client_id, invalid_redirect_uri, invalid_scope
 *   /oauth/token            simulatedTokenFailure       invalid_client_secret, invalid_jti, backend_invalid_scope
 *   token issuance          simulatedIssuance           token_expires_soon, expired_refresh_token, refresh_token_revoked
 *   access-token checks     simulatedAccessTokenRejection  invalid_access_token, expired_access_token
 *   FHIR API                simulatedFhirFailure        fhir_rate_limited
 *                           simulatedDeletedPatient     patient_deleted
 *
 * The decisions are pure functions of (simulated error, request); simulatedErrorOfLaunch() reads
 * the error of a launch. Launch options never change after the launch is created, so the lookup is
 * cached per process (hot path: every FHIR call with a launcher-made token).
 */
import type { Db } from '../db';
import { FhirThrottledError } from '../fhir/auth';
import { assertionReplayError, assertionSignatureError } from '../oauth/client-assertion';
import { wrongCredentialsError } from '../oauth/client-auth';
import type { TokenEndpointAuthMethod } from '../oauth/clients';
import { unknownClientError } from '../oauth/checks/client-is-registered';
import { unregisteredRedirectUriError } from '../oauth/checks/redirect-uri-is-registered';
import type { OAuthError } from '../oauth/errors';
import { InvalidScope } from '../oauth/errors';
import { getSimulatedError } from './launch-options';
import type { SimulatedError } from './simulated-errors';
import { describeSimulatedError } from './simulated-errors';

const CACHE_LIMIT = 5000;
const cache = new Map<string, SimulatedError | null>();

/** The simulated error of a launch (null: none, or no launch). Cached: launch options are immutable. */
export async function simulatedErrorOfLaunch(launchId: string | null | undefined, db?: Db): Promise<SimulatedError | null> {
  if (!launchId) return null;
  if (cache.has(launchId)) return cache.get(launchId) ?? null;
  const error = await getSimulatedError(launchId, db);
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(launchId, error);
  return error;
}

/** One line for audit records: the response looks real, the console says it was simulated. */
export function simulatedNote(error: SimulatedError): string {
  return `simulated error: ${describeSimulatedError(error)}`;
}

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
      return unregisteredRedirectUriError(
        request.clientId,
        request.redirectUri,
        request.registeredRedirectUris.filter((u) => u !== request.redirectUri),
      );
    case 'invalid_scope':
      return new InvalidScope(`the requested scope is not valid for client '${request.clientId}': '${(request.scope ?? '').slice(0, 300)}' (RFC 6749 §4.1.2.1)`);
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
    case 'backend_invalid_scope':
      if (request.grantType !== 'client_credentials') return null;
      return new InvalidScope(`the requested scope '${(request.scope ?? '').slice(0, 300)}' is not pre-authorised for client '${request.clientId}' (SMART App Launch 2.2 §backend-services)`);
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

/** FHIR API, after the token was verified: the failure of the whole request (429), or null. */
export function simulatedFhirFailure(error: SimulatedError | null): FhirThrottledError | null {
  if (error?.kind !== 'fhir_rate_limited') return null;
  return new FhirThrottledError(`Too many requests: try again in ${error.retryAfterSeconds} seconds`, error.retryAfterSeconds);
}

/** FHIR API: the patient whose record is to look deleted (the token's patient in context), or null. */
export function simulatedDeletedPatient(error: SimulatedError | null, patientInContext: string | null): string | null {
  return error?.kind === 'patient_deleted' ? patientInContext : null;
}
