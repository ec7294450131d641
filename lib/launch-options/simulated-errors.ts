import { z } from 'zod';

/**
 * Simulated failures: the one place that knows them all (docs/ARCHITECTURE.md, launch-options). The launcher stores
 * the chosen one in the Launch record's `options.simulatedError` (lib/launch-options/lookup.ts);
 * lib/oauth/simulated-failures.ts and lib/fhir/simulated-failures.ts turn it into the real endpoint's failure, with the same
 * status, error code, headers and description a real failure has, for this launch only (apps are
 * tested against the real thing, unlike smart-launcher-v2, where 3 of 11 simulated errors do
 * nothing for app launches).
 *
 * How a request is tied to its launch:
 * - /oauth/authorize: the `launch` parameter (EHR launches). Without one, the client's "armed"
 *   standalone launch (`findArmedLaunch(clientId)`, the newest unconsumed one) is used up by the
 *   request, so its options and simulated error apply once. Its patient, encounter and user are
 *   not imposed (a standalone app's user picks them), except the user when skip sign-in is on.
 * - /oauth/token: the grant of the code or refresh token (`Grant.launchId`); client_credentials
 *   uses up the backend client's armed launch.
 * - Tokens carry the launch id (`launch_id` claim, `Grant.launchId`): access-token verification
 *   (FHIR API, introspection) and the FHIR router read the simulated error from it.
 *
 * What each one does (`applies` names the endpoint that fails):
 */
export const SIMULATED_ERRORS = {
  invalid_client_id: {
    label: 'Invalid client id',
    applies: 'authorize',
    effect:
      '/oauth/authorize answers exactly as for an unregistered client_id: an HTTP 400 "Unknown client" page and no redirect (docs/CONFORMANCE.md #39). The launch is used up.',
  },
  invalid_redirect_uri: {
    label: 'Invalid redirect URI',
    applies: 'authorize',
    effect:
      '/oauth/authorize answers exactly as for an unregistered redirect_uri: an HTTP 400 "redirect_uri not registered" page and no redirect (docs/CONFORMANCE.md #39). The launch is used up.',
  },
  invalid_scope: {
    label: 'Invalid scope',
    applies: 'authorize',
    effect: '/oauth/authorize redirects to the redirect_uri with error=invalid_scope, an error_description, the same state and iss; no code is issued.',
  },
  state_mismatch: {
    label: 'state mismatch on the redirect',
    applies: 'authorize',
    effect:
      'After sign-in and consent, /oauth/authorize redirects with a code but a state value other than the one the app sent, as a forged or mixed-up response would: the app must refuse it and not exchange the code (RFC 6749 §10.12; RFC 9700 §4.7).',
  },
  invalid_client_secret: {
    label: 'Invalid client secret',
    applies: 'token',
    effect:
      'Every token request of this launch fails client authentication as if the credential were wrong: error=invalid_client, HTTP 401 with WWW-Authenticate for a wrong secret (secret clients) or a bad signature (private_key_jwt clients), HTTP 400 "unknown client_id" for public clients, which send no credentials (RFC 6749 §5.2). The code is not consumed.',
  },
  invalid_code: {
    label: 'Invalid authorization code',
    applies: 'token',
    effect:
      'The code exchange (grant_type=authorization_code) answers HTTP 400 error=invalid_grant ("the authorization code is not valid"), as for an unknown, mistyped or already used code (RFC 6749 §5.2). The app must start the authorization again rather than retry the code.',
  },
  pkce_verifier_mismatch: {
    label: 'PKCE code_verifier mismatch',
    applies: 'token',
    effect:
      'The code exchange answers HTTP 400 error=invalid_grant ("code_verifier does not match the code_challenge"), as when the app sends the verifier of another authorization (RFC 7636 §4.6): it must keep one verifier per authorization request.',
  },
  missing_launch_context: {
    label: 'Launch context missing from the token response',
    applies: 'token',
    effect:
      'The token response leaves out patient, encounter and fhirContext although launch/patient or launch/encounter was granted (the token itself keeps its context): the app must say the context is missing, never guess a patient (SMART App Launch 2.2 §launch-context-arrives-with-your-access_token).',
  },
  invalid_refresh_token: {
    label: 'Invalid refresh token',
    applies: 'token',
    effect:
      'The code exchange works; every refresh_token grant of this launch answers HTTP 400 error=invalid_grant ("the refresh token is not valid"), as for an unknown or mistyped one: the app must send the user through authorization again.',
  },
  expired_registration: {
    label: 'Client registration expired',
    applies: 'token',
    effect:
      'Every token request of this launch fails client authentication because the registration has expired: error=invalid_client ("the client registration has expired"), HTTP 401 with WWW-Authenticate for HTTP Basic clients, HTTP 400 otherwise (RFC 6749 §5.2; RFC 7591 §3.2.1 client_secret_expires_at). The app must be registered again.',
  },
  invalid_access_token: {
    label: 'Invalid access token on FHIR calls',
    applies: 'fhir',
    effect:
      'Every access token of this launch, refreshed ones included, is refused: FHIR calls answer HTTP 401 with WWW-Authenticate: Bearer error="invalid_token" and an OperationOutcome; introspection says {"active": false}.',
  },
  expired_access_token: {
    label: 'Expired access token on FHIR calls',
    applies: 'fhir',
    effect:
      'The access token from the code exchange (or client_credentials) is refused as expired before its expires_in: FHIR calls answer HTTP 401 Bearer error="invalid_token", error_description="the access token has expired"; introspection says inactive. A token obtained with the refresh token works.',
  },
  expired_refresh_token: {
    label: 'Expired refresh token',
    applies: 'token',
    effect:
      'Refresh tokens of this launch are stored already expired: a refresh_token grant answers HTTP 400 error=invalid_grant ("the refresh token has expired") and introspection of it says {"active": false}.',
  },
  refresh_token_revoked: {
    label: 'Refresh token revoked',
    applies: 'token',
    effect:
      'Refresh tokens of this launch are stored revoked: a refresh_token grant answers HTTP 400 error=invalid_grant ("the refresh token has been revoked") and introspection of it says {"active": false}.',
  },
  invalid_jti: {
    label: 'Invalid jti (client assertion replay)',
    applies: 'token',
    effect:
      'The token endpoint refuses the private_key_jwt client assertion as a replayed jti: HTTP 401 error=invalid_client (RFC 7523 §3), audit flag assertion-replay. Clients that authenticate with private_key_jwt (backend services, asymmetric apps) only.',
  },
  backend_invalid_scope: {
    label: 'Token endpoint invalid_scope (backend services)',
    applies: 'token',
    effect: 'The client_credentials request of this backend launch answers HTTP 400 error=invalid_scope with an error_description naming the scope.',
  },
  token_expires_soon: {
    label: 'Access token expires after N seconds',
    applies: 'token',
    effect:
      'Access tokens of this launch (refreshed ones too) are issued with expires_in = N and exp = iat + N; after that the FHIR API answers 401 invalid_token ("the access token has expired") and the app must refresh.',
  },
  fhir_rate_limited: {
    label: 'FHIR calls rate-limited (429)',
    applies: 'fhir',
    effect:
      'Every FHIR call with this launch’s tokens answers HTTP 429 with Retry-After: retryAfterSeconds and an OperationOutcome with code "throttled"; the audit record is flagged rate-limited.',
  },
  patient_deleted: {
    label: 'Patient in context deleted',
    applies: 'fhir',
    effect:
      'The patient in context looks deleted with its record: reads of Patient/{id}, of Patient/{id}/$everything and of any resource in its compartment answer HTTP 410 Gone (OperationOutcome "deleted"); searches in its compartment return an empty Bundle. The stored data is untouched.',
  },
  // Bulk Data export (docs/CONFORMANCE.md §14): the failures a bulk client must survive
  // (applied by lib/fhir/bulk/simulated-failures.ts to exports started with this launch's tokens).
  bulk_kickoff_throttled: {
    label: 'Bulk export: 429 on kick-off',
    applies: 'fhir',
    effect:
      'The first $export kick-off with this launch’s tokens answers HTTP 429 with Retry-After: retryAfterSeconds and an OperationOutcome "throttled"; kick-offs before that time has passed get 429 too, later ones start the export.',
  },
  bulk_status_transient_error: {
    label: 'Bulk export: transient 500 on a status poll',
    applies: 'fhir',
    effect:
      'The first on-time status poll of each export answers HTTP 500 with an OperationOutcome of code "transient" and Retry-After; the next poll answers normally (202, then the manifest). A client must retry rather than give up.',
  },
  bulk_slow_job: {
    label: 'Bulk export: slow job (long Retry-After)',
    applies: 'fhir',
    effect:
      'Status polls answer 202 with Retry-After: retryAfterSeconds until twice that time has passed since the kick-off, then the manifest. Polling sooner than told gets 429.',
  },
  bulk_error_outcome: {
    label: 'Bulk export: an OperationOutcome in error[]',
    applies: 'fhir',
    effect:
      'The manifest lists an error file whose NDJSON holds an OperationOutcome (severity error, code "processing") beside the exported data; the client must read and report it.',
  },
  bulk_partial_output: {
    label: 'Bulk export: partial output',
    applies: 'fhir',
    effect:
      'The last resource type of each export fails: it is missing from output[], and error[] holds an OperationOutcome naming it (code "incomplete"). The other files are complete.',
  },
  bulk_file_expired: {
    label: 'Bulk export: files expired before download',
    applies: 'fhir',
    effect:
      'Every file of the manifest answers HTTP 404 with an OperationOutcome "the file has expired; start a new export" (the status URL still answers): the client must kick off again.',
  },
  bulk_token_expired_mid_download: {
    label: 'Bulk export: token expired mid-download',
    applies: 'fhir',
    effect:
      'The first file downloads; every other file requested with this launch’s token answers HTTP 401 Bearer error="invalid_token" ("the access token has expired"). A new token from client_credentials downloads them.',
  },
} as const satisfies Record<string, { label: string; applies: 'authorize' | 'token' | 'fhir'; effect: string }>;

export type SimulatedErrorKind = keyof typeof SIMULATED_ERRORS;

/** A simulated error with its parameters: one typed union. */
type WithRetryAfter = 'fhir_rate_limited' | 'bulk_kickoff_throttled' | 'bulk_slow_job';
type WithParameters = 'token_expires_soon' | WithRetryAfter;

export type SimulatedError =
  | { readonly kind: Exclude<SimulatedErrorKind, WithParameters> }
  | { readonly kind: 'token_expires_soon'; readonly seconds: number }
  | { readonly kind: WithRetryAfter; readonly retryAfterSeconds: number };

export const SIMULATED_ERROR_KINDS = Object.keys(SIMULATED_ERRORS) as SimulatedErrorKind[];

const WITH_RETRY_AFTER: readonly WithRetryAfter[] = ['fhir_rate_limited', 'bulk_kickoff_throttled', 'bulk_slow_job'];
const simple = z.enum(
  SIMULATED_ERROR_KINDS.filter((k) => k !== 'token_expires_soon' && !(WITH_RETRY_AFTER as readonly string[]).includes(k)) as [
    Exclude<SimulatedErrorKind, WithParameters>,
    ...Exclude<SimulatedErrorKind, WithParameters>[],
  ],
);

/** zod schema of a SimulatedError (launch options are validated with it when stored and read). */
export const simulatedErrorSchema: z.ZodType<SimulatedError> = z.union([
  z.object({ kind: simple }).strict(),
  z.object({ kind: z.literal('token_expires_soon'), seconds: z.number().int().min(1).max(3600) }).strict(),
  z.object({ kind: z.enum(WITH_RETRY_AFTER as [WithRetryAfter, ...WithRetryAfter[]]), retryAfterSeconds: z.number().int().min(1).max(3600) }).strict(),
]);

/** Default parameters when the launcher picks a kind. */
export function defaultSimulatedError(kind: SimulatedErrorKind): SimulatedError {
  if (kind === 'token_expires_soon') return { kind, seconds: 10 };
  if (kind === 'fhir_rate_limited' || kind === 'bulk_slow_job') return { kind, retryAfterSeconds: 30 };
  if (kind === 'bulk_kickoff_throttled') return { kind, retryAfterSeconds: 10 };
  return { kind };
}

/** The endpoint that must apply a simulated error. */
export function simulatedErrorAppliesTo(error: SimulatedError): 'authorize' | 'token' | 'fhir' {
  return SIMULATED_ERRORS[error.kind].applies;
}

/** One line for the console, the launcher summary and audit records. */
export function describeSimulatedError(error: SimulatedError): string {
  const { label } = SIMULATED_ERRORS[error.kind];
  if (error.kind === 'token_expires_soon') return `${label.replace('N', String(error.seconds))}`;
  if (error.kind === 'fhir_rate_limited' || error.kind === 'bulk_kickoff_throttled' || error.kind === 'bulk_slow_job')
    return `${label}, Retry-After ${error.retryAfterSeconds} s`;
  return label;
}

/** What decides whether a simulated error can happen in a launch (pure: the launcher page uses it too). */
export interface SimulatedErrorFit {
  readonly launchType: 'provider-ehr' | 'patient-portal' | 'provider-standalone' | 'patient-standalone' | 'backend-service';
  readonly tokenEndpointAuthMethod: 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
}

/**
 * Why a simulated error cannot show in a launch of this type and client (so the launcher can refuse
 * it instead of arming an error that never fires), or null when it will fire.
 */
export function simulatedErrorProblem(error: SimulatedError, fit: SimulatedErrorFit): string | null {
  const backend = fit.launchType === 'backend-service';
  switch (error.kind) {
    case 'invalid_client_id':
    case 'invalid_redirect_uri':
    case 'invalid_scope':
    case 'state_mismatch':
      return backend ? 'a backend service never calls /oauth/authorize: choose a token or FHIR error' : null;
    case 'invalid_code':
    case 'pkce_verifier_mismatch':
      return backend ? 'a backend service exchanges no authorization code (client_credentials)' : null;
    case 'invalid_refresh_token':
      return backend ? 'backend services get no refresh token (SMART App Launch 2.2 §backend-services)' : null;
    case 'missing_launch_context':
      return backend ? 'a backend service has no launch context' : null;
    case 'expired_registration':
      return null;
    case 'expired_refresh_token':
    case 'refresh_token_revoked':
      return backend ? 'backend services get no refresh token (SMART App Launch 2.2 §backend-services)' : null;
    case 'patient_deleted':
      return backend ? 'a backend service has no patient in context' : null;
    case 'backend_invalid_scope':
      return backend ? null : 'only a backend service launch makes a client_credentials request';
    case 'invalid_jti':
      return fit.tokenEndpointAuthMethod === 'private_key_jwt'
        ? null
        : 'only clients that authenticate with private_key_jwt send a jti (backend services, asymmetric apps)';
    case 'invalid_client_secret':
    case 'invalid_access_token':
    case 'expired_access_token':
    case 'token_expires_soon':
    case 'fhir_rate_limited':
      return null;
    case 'bulk_kickoff_throttled':
    case 'bulk_status_transient_error':
    case 'bulk_slow_job':
    case 'bulk_error_outcome':
    case 'bulk_partial_output':
    case 'bulk_file_expired':
    case 'bulk_token_expired_mid_download':
      return backend ? null : 'Bulk Data export is a backend-services flow here: arm it on a backend service launch';
  }
}
