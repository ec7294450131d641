import { z } from 'zod';

/**
 * Simulated failures: the one place that knows them all (STYLE.md habit 12). The launcher stores
 * the chosen one in the Launch record's `options.simulatedError` (lib/launcher/launch-options.ts);
 * the authorization server and the FHIR API read it with `getLaunchOptions(launchId)` and make the
 * real endpoint misbehave in exactly the documented way, for this launch only, with the same
 * status, error code and headers a real failure has (so apps are tested against the real thing,
 * unlike smart-launcher-v2, where 3 of 11 simulated errors do nothing for app launches).
 *
 * How a launch is found from each endpoint:
 * - /oauth/authorize: the `launch` parameter (EHR launches). For standalone launches the launcher
 *   creates an "armed" Launch record for the client (`options.launchType` is a standalone type);
 *   `findArmedLaunch(clientId)` (lib/launcher/launch-options.ts) returns the newest unconsumed one,
 *   which /oauth/authorize should consume when the request carries no `launch`.
 * - /oauth/token, /fhir: through the grant the token belongs to (`Grant.launchId`). For backend
 *   services (no grant), the token endpoint asks `findArmedLaunch(clientId)` on client_credentials.
 *
 * What each one must do (the `applies` field says which endpoint owns it):
 */
export const SIMULATED_ERRORS = {
  invalid_client_id: {
    label: 'Invalid client id',
    applies: 'authorize',
    effect:
      '/oauth/authorize treats client_id as unknown: HTTP 400 error page naming the client_id, and no redirect (checklist #39).',
  },
  invalid_redirect_uri: {
    label: 'Invalid redirect URI',
    applies: 'authorize',
    effect: '/oauth/authorize treats redirect_uri as unregistered: HTTP 400 error page, and no redirect (checklist #39).',
  },
  invalid_scope: {
    label: 'Invalid scope',
    applies: 'authorize',
    effect: '/oauth/authorize redirects to the redirect_uri with error=invalid_scope, an error_description and the same state.',
  },
  invalid_client_secret: {
    label: 'Invalid client secret',
    applies: 'token',
    effect:
      'The authorization_code exchange fails client authentication: HTTP 401, error=invalid_client, WWW-Authenticate: Basic (RFC 6749 §5.2); the code is not consumed.',
  },
  invalid_access_token: {
    label: 'Invalid access token on FHIR calls',
    applies: 'fhir',
    effect:
      'Every FHIR call with this launch’s access tokens answers HTTP 401 with WWW-Authenticate: Bearer error="invalid_token" and an OperationOutcome; introspection says {"active": false}.',
  },
  expired_access_token: {
    label: 'Expired access token on FHIR calls',
    applies: 'fhir',
    effect:
      'Every FHIR call with this launch’s access tokens answers HTTP 401 with WWW-Authenticate: Bearer error="invalid_token", error_description="The access token expired"; a refresh still works.',
  },
  expired_refresh_token: {
    label: 'Expired refresh token',
    applies: 'token',
    effect: 'A refresh_token grant with this launch’s refresh token answers HTTP 400 error=invalid_grant ("refresh token expired").',
  },
  refresh_token_revoked: {
    label: 'Refresh token revoked',
    applies: 'token',
    effect:
      'The refresh token is recorded as revoked as soon as it is issued: a refresh_token grant answers HTTP 400 error=invalid_grant and introspection of it says {"active": false}.',
  },
  invalid_jti: {
    label: 'Invalid jti (client assertion replay)',
    applies: 'token',
    effect:
      'The token endpoint treats the private_key_jwt client assertion’s jti as already used: HTTP 401 error=invalid_client (RFC 7523 §3, checklist replay rule). Asymmetric and backend clients only.',
  },
  backend_invalid_scope: {
    label: 'Token endpoint invalid_scope (backend services)',
    applies: 'token',
    effect: 'A client_credentials request from this client answers HTTP 400 error=invalid_scope with an error_description naming the scope.',
  },
  token_expires_soon: {
    label: 'Access token expires after N seconds',
    applies: 'token',
    effect:
      'Access tokens of this launch are issued with expires_in = seconds and a matching exp; after that FHIR answers 401 invalid_token and the app must refresh.',
  },
  fhir_rate_limited: {
    label: 'FHIR calls rate-limited (429)',
    applies: 'fhir',
    effect:
      'Every FHIR call with this launch’s tokens answers HTTP 429 with Retry-After: retryAfterSeconds and an OperationOutcome with code "throttled".',
  },
  patient_deleted: {
    label: 'Patient in context deleted',
    applies: 'fhir',
    effect:
      'Reads of the patient in context answer HTTP 410 Gone (OperationOutcome "deleted"), and searches in that patient’s compartment return an empty Bundle; the stored data is untouched.',
  },
} as const satisfies Record<string, { label: string; applies: 'authorize' | 'token' | 'fhir'; effect: string }>;

export type SimulatedErrorKind = keyof typeof SIMULATED_ERRORS;

/** A simulated error with its parameters: one typed union. */
export type SimulatedError =
  | { readonly kind: Exclude<SimulatedErrorKind, 'token_expires_soon' | 'fhir_rate_limited'> }
  | { readonly kind: 'token_expires_soon'; readonly seconds: number }
  | { readonly kind: 'fhir_rate_limited'; readonly retryAfterSeconds: number };

export const SIMULATED_ERROR_KINDS = Object.keys(SIMULATED_ERRORS) as SimulatedErrorKind[];

const simple = z.enum(SIMULATED_ERROR_KINDS.filter((k) => k !== 'token_expires_soon' && k !== 'fhir_rate_limited') as [Exclude<SimulatedErrorKind, 'token_expires_soon' | 'fhir_rate_limited'>, ...Exclude<SimulatedErrorKind, 'token_expires_soon' | 'fhir_rate_limited'>[]]);

/** zod schema of a SimulatedError (launch options are validated with it when stored and read). */
export const simulatedErrorSchema: z.ZodType<SimulatedError> = z.union([
  z.object({ kind: simple }).strict(),
  z.object({ kind: z.literal('token_expires_soon'), seconds: z.number().int().min(1).max(3600) }).strict(),
  z.object({ kind: z.literal('fhir_rate_limited'), retryAfterSeconds: z.number().int().min(1).max(3600) }).strict(),
]);

/** Default parameters when the launcher picks a kind. */
export function defaultSimulatedError(kind: SimulatedErrorKind): SimulatedError {
  if (kind === 'token_expires_soon') return { kind, seconds: 10 };
  if (kind === 'fhir_rate_limited') return { kind, retryAfterSeconds: 30 };
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
  if (error.kind === 'fhir_rate_limited') return `${label}, Retry-After ${error.retryAfterSeconds} s`;
  return label;
}
