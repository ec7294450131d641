/**
 * Bearer tokens on the FHIR API (RFC 6750; SMART App Launch 2.2 §access-fhir-api,
 * docs/CONFORMANCE.md #113–#115). Verification itself belongs to lib/oauth; this module reads the header and maps
 * failures to 401s with the right challenge.
 */
import type { VerifiedAccessToken, VerifyAccessTokenResult } from '../oauth/access-token';
import { FhirAuthError } from './errors';

/** What a verified access token says (lib/oauth/access-token). */
export type TokenClaims = VerifiedAccessToken;

export type VerifyResult = VerifyAccessTokenResult;

/** Verifies an access token for this FHIR base (signature, expiry, revocation, audience). */
export type Authenticate = (jwt: string, ctx: { sandboxId: string; fhirBase: string }) => Promise<VerifyResult>;

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/** The bearer token of a request, or throws the 401 RFC 6750 §3 asks for. Tokens in the URL are not accepted (RFC 6750 §2.3 is a MUST NOT for us). */
export function bearerTokenOf(req: Request): string {
  const header = req.headers.get('authorization');
  if (header === null || header.trim() === '') throw new FhirAuthError('This request needs an access token (Authorization: Bearer …)', null);
  const m = BEARER.exec(header.trim());
  if (!m || header.length > 16_384) throw new FhirAuthError('The Authorization header is not a Bearer token', 'invalid_token');
  return m[1]!;
}

/** RFC 6750 §3 challenge for a 401 (realm = the FHIR base). */
export function wwwAuthenticate(realm: string, err: FhirAuthError): string {
  const q = (s: string) => s.replace(/["\\]/g, '').slice(0, 200);
  if (err.oauthError === null) return `Bearer realm="${q(realm)}"`;
  return `Bearer realm="${q(realm)}", error="${err.oauthError}", error_description="${q(err.message)}"`;
}
