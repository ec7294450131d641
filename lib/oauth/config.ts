/**
 * Fixed protocol settings of the authorization server. Lifetimes that operators may want to
 * change live in lib/env.ts (ACCESS_TOKEN_TTL, REFRESH_TOKEN_TTL); the rest are spec-driven.
 */
import { env } from '../env';

/** Authorization codes live about a minute (SMART App Launch 2.2 §app-launch; RFC 9700 §2.1; docs/CONFORMANCE.md #49). */
export const AUTH_CODE_TTL_SECONDS = 60;
/** Time a user has to sign in, pick a patient and consent. */
export const INTERACTION_TTL_SECONDS = 30 * 60;
/** Default lifetime of an EHR launch id (short-lived, single-use; docs/CONFORMANCE.md #156). */
export const LAUNCH_TTL_SECONDS = 10 * 60;
/** Backend-services tokens SHOULD be short-lived, ≤ 300 s (SMART App Launch 2.2 §backend-services; docs/CONFORMANCE.md #143). */
export const BACKEND_TOKEN_TTL_SECONDS = 300;
/** online_access refresh tokens also die with the session (docs/CONFORMANCE.md #83); this caps them. */
export const ONLINE_REFRESH_TTL_SECONDS = 12 * 60 * 60;
/** Client assertions may live at most 5 minutes (SMART App Launch 2.2 §client-confidential-asymmetric; docs/CONFORMANCE.md #71). */
export const ASSERTION_MAX_LIFETIME_SECONDS = 300;
/** Clock skew tolerated on client assertions (Inferno sends exp = now + 300 exactly; docs/CONFORMANCE.md #6). */
export const CLOCK_SKEW_SECONDS = 30;
/** How long an instance keeps using its cached active signing key before re-checking the database. */
export const SIGNING_KEY_RECHECK_SECONDS = 60;
/** Largest form or JSON body accepted by an OAuth endpoint. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Largest single parameter value (state, nonce, scope …) accepted at /oauth/authorize. */
export const MAX_PARAM_CHARS = 4096;

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Access token lifetime for user-facing grants (SMART: at most an hour recommended; docs/CONFORMANCE.md #63). */
export function accessTokenTtl(): number {
  return env.ACCESS_TOKEN_TTL;
}

/** Offline refresh token lifetime (ONC: ≥ 3 months; docs/CONFORMANCE.md #91). */
export function refreshTokenTtl(): number {
  return env.REFRESH_TOKEN_TTL;
}

/** Absolute URLs of the authorization server for an issuer (origin). */
export function oauthUrls(issuer: string) {
  return {
    authorize: `${issuer}/oauth/authorize`,
    token: `${issuer}/oauth/token`,
    introspect: `${issuer}/oauth/introspect`,
    revoke: `${issuer}/oauth/revoke`,
    register: `${issuer}/oauth/register`,
    jwks: `${issuer}/.well-known/jwks.json`,
    interaction: (id: string) => `${issuer}/interaction/${encodeURIComponent(id)}`,
    smartStyle: `${issuer}/smart-style.json`,
    // The user's access-management screen (lib/interaction/access-handlers.ts) — SMART App Launch 2.2 §conformance management_endpoint.
    manage: `${issuer}/interaction/access`,
  } as const;
}
