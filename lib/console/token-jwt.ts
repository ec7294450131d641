/**
 * An issued access token as the console's token page shows it: the raw JWT cut into its three
 * base64url parts (header.payload.signature), the decoded header and claims, and whether the
 * signature verifies against the authorization server's own JWK Set, the one resource servers use
 * (RFC 9068 §4: the resource server validates the signature with the issuer's published keys).
 */
import type { JWK } from 'jose';
import { compactVerify, createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors } from 'jose';
import { ACCESS_TOKEN_ALG } from '../oauth/tokens';

/** Outcome of checking a stored JWT's signature against the JWKS. */
export type SignatureCheck =
  | { readonly state: 'valid'; readonly kid: string; readonly detail: string }
  | { readonly state: 'invalid'; readonly kid: string | null; readonly detail: string }
  | { readonly state: 'unknown-key'; readonly kid: string | null; readonly detail: string };

/** A stored access token, decoded. */
export interface DecodedTokenJwt {
  readonly raw: string;
  /** The three base64url segments, as they appear in the token. */
  readonly parts: { readonly header: string; readonly payload: string; readonly signature: string };
  readonly header: Record<string, unknown>;
  readonly claims: Record<string, unknown>;
  readonly signature: SignatureCheck;
}

/**
 * Decodes a stored access-token JWT and verifies its signature (ES256 only, RFC 8725 §3.1: the
 * algorithm is fixed, never taken from the token) against `jwks`. Claims such as `exp` are not
 * checked: the page shows expired and revoked tokens too. Returns null when the value is not a
 * compact JWS at all.
 */
export async function decodeTokenJwt(raw: string, jwks: { readonly keys: readonly JWK[] }): Promise<DecodedTokenJwt | null> {
  const segments = raw.split('.');
  if (segments.length !== 3) return null;
  const [headerPart, payloadPart, signaturePart] = segments as [string, string, string];
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    header = { ...decodeProtectedHeader(raw) };
    claims = { ...decodeJwt(raw) };
  } catch {
    return null;
  }
  const kid = typeof header.kid === 'string' ? header.kid : null;
  return {
    raw,
    parts: { header: headerPart, payload: payloadPart, signature: signaturePart },
    header,
    claims,
    signature: await checkSignature(raw, kid, jwks),
  };
}

async function checkSignature(raw: string, kid: string | null, jwks: { readonly keys: readonly JWK[] }): Promise<SignatureCheck> {
  try {
    await compactVerify(raw, createLocalJWKSet({ keys: [...jwks.keys] }), { algorithms: [ACCESS_TOKEN_ALG] });
    return {
      state: 'valid',
      kid: kid ?? '',
      detail: `${ACCESS_TOKEN_ALG} signature verified with key '${kid ?? ''}' of the server's JWKS (/.well-known/jwks.json).`,
    };
  } catch (err) {
    if (err instanceof joseErrors.JWKSNoMatchingKey) {
      return {
        state: 'unknown-key',
        kid,
        detail: `No key of the server's JWKS has kid '${kid ?? '(none)'}' for ${ACCESS_TOKEN_ALG}: the signing key was rotated out (its tokens have all expired), so nobody can verify this token any more.`,
      };
    }
    if (err instanceof joseErrors.JWKSMultipleMatchingKeys)
      return { state: 'invalid', kid, detail: `Several keys of the JWKS match kid '${kid ?? ''}': kids must be unique.` };
    if (err instanceof joseErrors.JOSEAlgNotAllowed)
      return { state: 'invalid', kid, detail: `The header's alg is not ${ACCESS_TOKEN_ALG}, the only algorithm access tokens are signed with.` };
    if (err instanceof joseErrors.JWSSignatureVerificationFailed)
      return {
        state: 'invalid',
        kid,
        detail: `The signature does not verify with key '${kid ?? ''}': the token was altered or was not signed by this server.`,
      };
    return { state: 'invalid', kid, detail: `The token could not be verified: ${err instanceof Error ? err.message : String(err)}` };
  }
}

const CLAIM_MEANINGS: Readonly<Record<string, string>> = {
  iss: 'Issuer: the authorization server that signed the token.',
  sub: 'Subject: the signed-in user, or the client itself for a backend service.',
  aud: 'Audience: the FHIR server that must accept the token (RFC 9068 §2.2).',
  jti: "Token id: the key of this token's row (introspection, revocation, this page).",
  iat: 'Issued at (seconds since 1970-01-01 UTC).',
  exp: 'Expires at (seconds since 1970-01-01 UTC): the FHIR API refuses the token after this.',
  client_id: 'The app the token was issued to.',
  scope: 'The scopes granted: what the token allows.',
  patient: 'Launch context: the patient in context (patient/ scopes are limited to this compartment).',
  encounter: 'Launch context: the encounter in context.',
  fhirUser: 'The signed-in user as a FHIR resource.',
  launch_id: 'The launcher launch this token belongs to (its options and simulated error apply).',
};

const HEADER_MEANINGS: Readonly<Record<string, string>> = {
  alg: 'Signature algorithm: ES256 (ECDSA P-256 with SHA-256).',
  kid: "Key id: which key of the server's JWKS verifies the signature.",
  typ: 'at+jwt: an OAuth access token, so it cannot be mistaken for an id_token (RFC 9068 §2.1).',
};

/** Plain-language meaning of a JWT header member or claim, with dates spelled out; null when unknown. */
export function explainJwtMember(part: 'header' | 'claims', name: string, value: unknown): string | null {
  const meaning = (part === 'header' ? HEADER_MEANINGS : CLAIM_MEANINGS)[name] ?? null;
  if (meaning && part === 'claims' && (name === 'iat' || name === 'exp') && typeof value === 'number')
    return `${meaning} = ${new Date(value * 1000).toISOString()}`;
  return meaning;
}
