/**
 * PKCE values for the flow view (RFC 7636 §4.6). The server never stores a code_verifier; the
 * token endpoint may append `pkceAuditNote(verifier)` to its audit detail (a masked verifier and
 * its S256 hash — useless once the single-use code is redeemed), and the flow view reads it back.
 */
import { createHash } from 'node:crypto';

/** BASE64URL(SHA256(ASCII(verifier))), the S256 code_challenge of a verifier. */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** The note the token endpoint may append to its audit detail: `pkce verifier=abcd…wxyz(64) sha256=…` (first and last 4 characters only). */
export function pkceAuditNote(verifier: string): string {
  return `pkce verifier=${verifier.slice(0, 4)}…${verifier.slice(-4)}(${verifier.length}) sha256=${s256(verifier)}`;
}

/** Reads a pkceAuditNote back out of an audit detail, or null. */
export function parsePkceAuditNote(detail: string | null): { maskedVerifier: string; sha256: string } | null {
  const m = detail?.match(/pkce verifier=(\S+) sha256=([A-Za-z0-9_-]{43})/);
  return m?.[1] && m[2] ? { maskedVerifier: m[1].replace(/\((\d+)\)$/, ' ($1 chars)'), sha256: m[2] } : null;
}
