/**
 * Access-token verification for the FHIR API and introspection: signature with the cached key,
 * typ, expiry, audience, and the token's row (revocation) in one primary-key lookup
 * (SMART App Launch 2.2 §app-launch "access FHIR API"; RFC 9068 §4; checklist #113, #115).
 */
import type { JWTPayload } from 'jose';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { getDb } from '../db';
import type { Token as TokenRow } from '../generated/sqlite/client';
import { simulatedAccessTokenRejection, simulatedErrorOfLaunch } from '../launcher/apply-simulated-error';
import { getVerificationKey } from './keys';
import { ACCESS_TOKEN_ALG, ACCESS_TOKEN_TYP } from './tokens';

export interface VerifiedAccessToken {
  readonly jti: string;
  readonly clientId: string;
  readonly scope: string;
  readonly patientId: string | null;
  readonly encounterId: string | null;
  /** Relative reference of the user, e.g. Practitioner/123. */
  readonly fhirUser: string | null;
  readonly userId: string | null;
  /** Expiry, seconds since the epoch. */
  readonly exp: number;
  readonly launchId: string | null;
}

export type VerifyAccessTokenResult = { ok: true; token: VerifiedAccessToken } | { ok: false; error: 'invalid_token'; description: string };

/** Compares URLs as FHIR bases: scheme and host case-insensitive, default port and trailing slash ignored (checklist #4). */
export function normalizeBaseUrl(url: string): string | null {
  try {
    const u = new URL(url);
    if (u.search || u.hash || u.username || u.password) return null;
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return null;
  }
}

function invalid(description: string): VerifyAccessTokenResult {
  return { ok: false, error: 'invalid_token', description };
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Verifies signature, typ and expiry of one of our access tokens; returns its claims and row. */
export async function verifyAccessTokenCore(
  jwt: string,
  opts: { sandboxId: string; audience?: string },
): Promise<{ ok: true; payload: JWTPayload; row: TokenRow } | { ok: false; description: string }> {
  if (jwt.length > 8192 || !JWT_SHAPE.test(jwt)) return { ok: false, description: 'the access token is not a JWT issued by this server' };
  let kid: string | undefined;
  try {
    const header = decodeProtectedHeader(jwt);
    if (header.alg !== ACCESS_TOKEN_ALG || header.typ !== ACCESS_TOKEN_TYP) return { ok: false, description: 'the token is not an access token issued by this server' };
    kid = header.kid;
  } catch {
    return { ok: false, description: 'the access token is not a JWT issued by this server' };
  }
  if (!kid) return { ok: false, description: 'the access token has no kid' };
  const key = await getVerificationKey(kid, ACCESS_TOKEN_ALG);
  if (!key) return { ok: false, description: 'the access token was signed with an unknown key' };

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(jwt, key, { algorithms: [ACCESS_TOKEN_ALG], typ: ACCESS_TOKEN_TYP, requiredClaims: ['jti', 'exp', 'aud'] }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) return { ok: false, description: 'the access token has expired' };
    return { ok: false, description: 'the access token signature or claims are not valid' };
  }
  if (opts.audience !== undefined) {
    const want = normalizeBaseUrl(opts.audience);
    const auds = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!auds.some((a) => typeof a === 'string' && want !== null && normalizeBaseUrl(a) === want)) {
      return { ok: false, description: `the access token was issued for another FHIR server (aud ${String(payload.aud)})` };
    }
  }
  const row = await getDb().token.findUnique({ where: { id: String(payload.jti) } });
  if (!row || row.kind !== 'access') return { ok: false, description: 'the access token is not known to this server' };
  if (row.sandboxId !== opts.sandboxId) return { ok: false, description: 'the access token belongs to another sandbox' };
  if (row.revoked) return { ok: false, description: 'the access token has been revoked' };
  if (row.expiresAt.getTime() <= Date.now()) return { ok: false, description: 'the access token has expired' };
  // The launch's simulated invalid or expired token: refused here, so the FHIR API and introspection agree.
  const simulated = simulatedAccessTokenRejection(await simulatedErrorOfLaunch(typeof payload.launch_id === 'string' ? payload.launch_id : null), { refreshed: row.parentId !== null });
  if (simulated) return { ok: false, description: simulated };
  return { ok: true, payload, row };
}

/** Verifies a bearer access token for the FHIR API at `fhirBase` (fast: cached key, one indexed lookup). */
export async function verifyAccessToken(jwt: string, opts: { sandboxId: string; fhirBase: string }): Promise<VerifyAccessTokenResult> {
  const result = await verifyAccessTokenCore(jwt, { sandboxId: opts.sandboxId, audience: opts.fhirBase });
  if (!result.ok) return invalid(result.description);
  const { payload, row } = result;
  return {
    ok: true,
    token: {
      jti: row.id,
      clientId: row.clientId,
      scope: row.scope,
      patientId: row.patientId,
      encounterId: row.encounterId,
      fhirUser: typeof payload.fhirUser === 'string' ? payload.fhirUser : null,
      userId: row.userId,
      exp: Math.floor(row.expiresAt.getTime() / 1000),
      launchId: typeof payload.launch_id === 'string' ? payload.launch_id : null,
    },
  };
}
