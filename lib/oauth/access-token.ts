/**
 * Access-token verification for the FHIR API and introspection: signature with the cached key,
 * typ, expiry, audience, and the token's row (revocation) in one primary-key lookup
 * (SMART App Launch 2.2 §app-launch "access FHIR API"; RFC 9068 §4; docs/CONFORMANCE.md #113, #115).
 */
import type { JWTPayload } from 'jose';
import { decodeProtectedHeader } from 'jose';
import { getDb } from '../db';
import { rawQuery } from '../db/direct';
import { Prisma } from '../generated/sqlite/client';
import { simulatedErrorOfLaunch } from '../launch-options/lookup';
import { simulatedAccessTokenRejection } from './simulated-failures';
import { getVerificationKey } from './keys';
import { verifyJwt } from './jws';
import type { GrantRecord } from './grant-store';
import type { TokenRecord } from './tokens';
import { ACCESS_TOKEN_ALG, ACCESS_TOKEN_TYP, GRANT_COLUMNS, grantOfRow, TOKEN_COLUMNS, tokenOfRow } from './tokens';
import { sandboxNow, sandboxNowMs } from '../sandbox/context';

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

/**
 * A refused token; `expiredClientId` names the client of a genuine token (signature verified) that
 * has only expired, so the audit record can attribute the call (the app report card checks that the
 * app refreshes after it).
 */
export type VerifyAccessTokenResult =
  | { ok: true; token: VerifiedAccessToken }
  | { ok: false; error: 'invalid_token'; description: string; expiredClientId?: string; simulated?: true; refusedToken?: RefusedToken };
/** A genuine token of this sandbox (signature verified, row found) refused as revoked or expired: its jti and client, for the audit record. */
export interface RefusedToken {
  readonly id: string;
  readonly clientId: string;
}
type Refusal = { ok: false; description: string; expiredClientId?: string; simulated?: true; refusedToken?: RefusedToken };

/** Compares URLs as FHIR bases: scheme and host case-insensitive, default port and trailing slash ignored (docs/CONFORMANCE.md #4). */
export function normalizeBaseUrl(url: string): string | null {
  try {
    const u = new URL(url);
    if (u.search || u.hash || u.username || u.password) return null;
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return null;
  }
}

function invalid(refusal: Refusal): VerifyAccessTokenResult {
  return {
    ok: false,
    error: 'invalid_token',
    description: refusal.description,
    ...(refusal.expiredClientId ? { expiredClientId: refusal.expiredClientId } : {}),
    ...(refusal.simulated ? { simulated: true as const } : {}),
    ...(refusal.refusedToken ? { refusedToken: refusal.refusedToken } : {}),
  };
}

function expired(payload: JWTPayload | undefined): Refusal {
  const clientId = payload?.client_id;
  return typeof clientId === 'string'
    ? { ok: false, description: 'the access token has expired', expiredClientId: clientId }
    : { ok: false, description: 'the access token has expired' };
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Signature, typ and the registered claims of a JWT, checked on every request: only the key
 * object is cached (lib/oauth/keys.ts), never a verdict, so nothing about an earlier check of the
 * same string is trusted (docs/CONFORMANCE.md #113).
 */
async function verifiedPayload(jwt: string): Promise<{ ok: true; payload: JWTPayload } | Refusal> {
  if (jwt.length > 8192 || !JWT_SHAPE.test(jwt)) return { ok: false, description: 'the access token is not a JWT issued by this server' };
  let kid: string | undefined;
  try {
    const header = decodeProtectedHeader(jwt);
    if (header.alg !== ACCESS_TOKEN_ALG || header.typ !== ACCESS_TOKEN_TYP)
      return { ok: false, description: 'the token is not an access token issued by this server' };
    kid = header.kid;
  } catch {
    return { ok: false, description: 'the access token is not a JWT issued by this server' };
  }
  if (!kid) return { ok: false, description: 'the access token has no kid' };
  const key = await getVerificationKey(kid, ACCESS_TOKEN_ALG);
  if (!key) return { ok: false, description: 'the access token was signed with an unknown key' };

  const verified = verifyJwt(jwt, key, { alg: ACCESS_TOKEN_ALG, typ: ACCESS_TOKEN_TYP, requiredClaims: ['jti', 'exp', 'aud'], currentDate: sandboxNow() });
  if (verified.ok) return { ok: true, payload: verified.payload };
  // The signature is checked before the claims: the payload of an expired token is genuine.
  if (verified.reason === 'expired') return expired(verified.payload);
  return { ok: false, description: 'the access token signature or claims are not valid' };
}

/** The Token row of a jti, and its grant when asked (one indexed read, raw: this runs on every FHIR request), or null. */
async function findTokenRow(jti: string, withGrant: boolean): Promise<{ row: TokenRecord; grant: GrantRecord | null } | null> {
  const rows = await rawQuery(
    getDb(),
    withGrant
      ? Prisma.sql`SELECT ${TOKEN_COLUMNS}, ${GRANT_COLUMNS} FROM "Token" t LEFT JOIN "Grant" g ON g."id" = t."grantId" WHERE t."id" = ${jti}`
      : Prisma.sql`SELECT ${TOKEN_COLUMNS} FROM "Token" t WHERE t."id" = ${jti}`,
  );
  const r = rows[0];
  return r ? { row: tokenOfRow(r), grant: withGrant ? grantOfRow(r) : null } : null;
}

/**
 * Verifies signature, typ and expiry of one of our access tokens; returns its claims and row, and
 * with `withGrant` the grant it was issued under (null for grant-less backend tokens).
 */
export async function verifyAccessTokenCore(
  jwt: string,
  opts: { sandboxId: string; audience?: string; withGrant?: boolean },
): Promise<{ ok: true; payload: JWTPayload; row: TokenRecord; grant: GrantRecord | null } | Refusal> {
  const verified = await verifiedPayload(jwt);
  if (!verified.ok) return verified;
  const { payload } = verified;
  if (opts.audience !== undefined) {
    const want = normalizeBaseUrl(opts.audience);
    const auds = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!auds.some((a) => typeof a === 'string' && want !== null && normalizeBaseUrl(a) === want)) {
      return { ok: false, description: `the access token was issued for another FHIR server (aud ${String(payload.aud)})` };
    }
  }
  const found = await findTokenRow(String(payload.jti), opts.withGrant === true);
  if (!found || found.row.kind !== 'access') return { ok: false, description: 'the access token is not known to this server' };
  const { row } = found;
  if (row.sandboxId !== opts.sandboxId) return { ok: false, description: 'the access token belongs to another sandbox' };
  const refusedToken = { id: row.id, clientId: row.clientId };
  if (row.revoked) return { ok: false, description: 'the access token has been revoked', refusedToken };
  if (row.expiresAt.getTime() <= sandboxNowMs()) return { ok: false, description: 'the access token has expired', expiredClientId: row.clientId, refusedToken };
  // The launch's simulated invalid or expired token: refused here, so the FHIR API and introspection agree.
  const simulated = simulatedAccessTokenRejection(await simulatedErrorOfLaunch(typeof payload.launch_id === 'string' ? payload.launch_id : null), {
    refreshed: row.parentId !== null,
  });
  if (simulated)
    return {
      ok: false,
      description: simulated,
      simulated: true,
      refusedToken,
      ...(simulated === 'the access token has expired' ? { expiredClientId: row.clientId } : {}),
    };
  return { ok: true, payload, row, grant: found.grant };
}

/** Verifies a bearer access token for the FHIR API at `fhirBase` (fast: cached key, one indexed lookup). */
export async function verifyAccessToken(jwt: string, opts: { sandboxId: string; fhirBase: string }): Promise<VerifyAccessTokenResult> {
  const result = await verifyAccessTokenCore(jwt, { sandboxId: opts.sandboxId, audience: opts.fhirBase });
  if (!result.ok) return invalid(result);
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
