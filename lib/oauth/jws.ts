/**
 * Compact JWS signing and verification of the server's own tokens (ES256 access tokens, RS256
 * id_tokens) with node:crypto's one-shot `sign`/`verify` on a KeyObject derived once from the
 * cached CryptoKey (lib/oauth/keys.ts). jose does the same through WebCrypto, whose promise and
 * thread-pool round trip per call costs about twice the signature itself, on every FHIR request.
 * Only the key object is cached; every signature and every claim is checked on every call
 * (docs/CONFORMANCE.md #113). The claim rules are jose's `jwtVerify` rules (RFC 7519 §4.1.4,
 * §4.1.5; RFC 8725 §3.1): lib/oauth/jws.test.ts checks both ways against jose.
 */
import { KeyObject, sign, verify } from 'node:crypto';
import type { CryptoKey, JWTPayload } from 'jose';

/** The algorithms of the server's own tokens. */
export type OwnJwsAlg = 'ES256' | 'RS256';

// P-1363 (r || s) as JWS wants it (RFC 7518 §3.4); PKCS #1 v1.5 for RS256 (RFC 7518 §3.3).
const SIGN_OPTIONS: Record<OwnJwsAlg, { dsaEncoding?: 'ieee-p1363' }> = { ES256: { dsaEncoding: 'ieee-p1363' }, RS256: {} };
const KEY_TYPE: Record<OwnJwsAlg, string> = { ES256: 'ec', RS256: 'rsa' };

const keyObjects = new WeakMap<CryptoKey, KeyObject>();

/** The KeyObject of a CryptoKey, derived once per key. */
function keyObjectOf(key: CryptoKey, alg: OwnJwsAlg): KeyObject {
  let found = keyObjects.get(key);
  if (!found) {
    found = KeyObject.from(key);
    keyObjects.set(key, found);
  }
  if (found.asymmetricKeyType !== KEY_TYPE[alg]) throw new TypeError(`the key is not a ${alg} key`);
  return found;
}

function base64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** A compact JWS of `payload` with the protected header `header` (whose `alg` picks the algorithm). */
export function signJwt(header: { alg: OwnJwsAlg; kid?: string; typ?: string }, payload: JWTPayload, key: CryptoKey): string {
  for (const claim of ['iat', 'nbf', 'exp'] as const) {
    const value = payload[claim];
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError(`"${claim}" claim must be a finite number`);
  }
  const input = `${base64urlJson(header)}.${base64urlJson(payload)}`;
  const signature = sign('sha256', Buffer.from(input), { key: keyObjectOf(key, header.alg), ...SIGN_OPTIONS[header.alg] });
  return `${input}.${signature.toString('base64url')}`;
}

/** Why a JWT was refused; `expired` carries the payload of a genuine token (its signature verified) that has only expired. */
export type JwtRefusal = { ok: false; reason: 'malformed' | 'signature' | 'claims' } | { ok: false; reason: 'expired'; payload: JWTPayload };

const SEGMENT = /^[A-Za-z0-9_-]*$/;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function decodeJsonObject(segment: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(strictUtf8.decode(Buffer.from(segment, 'base64url'))) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Verifies a compact JWS signed by one of the server's keys and its registered claims, as jose's
 * `jwtVerify(jwt, key, { algorithms: [alg], typ, requiredClaims, currentDate })` does: header
 * `alg` and `typ` exact, no `crit` or `b64` extension, the signature, a JSON object payload, the
 * required claims present, `iat`/`nbf`/`exp` numbers when present, `nbf` not in the future and
 * `exp` in the future (no clock tolerance).
 */
export function verifyJwt(
  jwt: string,
  key: CryptoKey,
  opts: { alg: OwnJwsAlg; typ?: string; requiredClaims?: readonly string[]; currentDate?: Date },
): { ok: true; payload: JWTPayload; header: Record<string, unknown> } | JwtRefusal {
  const parts = jwt.split('.');
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) return { ok: false, reason: 'malformed' };
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJsonObject(h);
  if (!header || header.alg !== opts.alg) return { ok: false, reason: 'malformed' };
  if ('crit' in header || 'b64' in header) return { ok: false, reason: 'malformed' };
  let valid: boolean;
  try {
    valid = verify('sha256', Buffer.from(`${h}.${p}`), { key: keyObjectOf(key, opts.alg), ...SIGN_OPTIONS[opts.alg] }, Buffer.from(s, 'base64url'));
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, reason: 'signature' };
  const payload = decodeJsonObject(p) as JWTPayload | null;
  if (!payload) return { ok: false, reason: 'claims' };
  if (opts.typ !== undefined && header.typ !== opts.typ) return { ok: false, reason: 'claims' };
  for (const claim of opts.requiredClaims ?? []) if (!Object.hasOwn(payload, claim)) return { ok: false, reason: 'claims' };
  for (const claim of ['iat', 'nbf', 'exp'] as const) {
    if (payload[claim] !== undefined && typeof payload[claim] !== 'number') return { ok: false, reason: 'claims' };
  }
  const now = Math.floor((opts.currentDate ?? new Date()).getTime() / 1000);
  if (payload.nbf !== undefined && payload.nbf > now) return { ok: false, reason: 'claims' };
  if (payload.exp !== undefined && payload.exp <= now) return { ok: false, reason: 'expired', payload };
  return { ok: true, payload, header };
}
