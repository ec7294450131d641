/**
 * Token issuance: access tokens (JWT, ES256, RFC 9068 profile), refresh tokens (random, stored
 * hashed), id_tokens (RS256), every one recorded in the Token table (introspection, revocation
 * and the console read that row), and the token response body of SMART App Launch 2.2 §app-launch (docs/CONFORMANCE.md §4, §9).
 */
import { getDb, getDbKind } from '../db';
import { rawExecute, rawTransaction } from '../db/direct';
import type { Grant as GrantRow, Token as TokenRow } from '../generated/sqlite/client';
import { Prisma } from '../generated/sqlite/client';
import { simulatedErrorOfLaunch } from '../launch-options/lookup';
import { simulatedIssuance } from './simulated-failures';
import type { OAuthClient } from './clients';
import { nowSeconds, randomToken, sha256 } from './crypto';
import type { GrantContext, GrantRecord } from './grant-store';
import { toGrant } from './grant-store';
import { InvalidGrant } from './errors';
import { getSigningKey } from './keys';
import { signJwt } from './jws';

/** RFC 9068 §2.1: the typ of JWT access tokens, checked on verification so an id_token is never taken for one. */
export const ACCESS_TOKEN_TYP = 'at+jwt';
export const ACCESS_TOKEN_ALG = 'ES256';

/** The JSON body of a successful token response. */
export interface TokenResponseBody {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  id_token?: string;
  refresh_token?: string;
  patient?: string;
  encounter?: string;
  fhirContext?: GrantContext['fhirContext'];
  need_patient_banner?: boolean;
  smart_style_url?: string;
  intent?: string;
  tenant?: string;
}

export interface IssueInput {
  sandboxId: string;
  client: OAuthClient;
  grantId: string | null;
  userId: string | null;
  context: GrantContext;
  launchId: string | null;
  /** Scope of the access token (space-separated, as granted). */
  scope: string;
  accessTtlSeconds: number;
  issuer: string;
  fhirBase: string;
  /** Issue a refresh token with this scope and lifetime. */
  refresh?: { scope: string; ttlSeconds: number; parentId: string | null } | null;
  /** Issue an id_token (openid granted). */
  idToken?: { nonce: string | null } | null;
  /**
   * The single-use step of the grant being exercised (marking the code used, rotating the refresh
   * token): a conditional UPDATE run in ONE transaction with the token rows, so that a crash at any
   * moment leaves the code unused or used with its tokens, the refresh token current or rotated
   * with its successor — never consumed for nothing. Changing no row means another request used it
   * first: issueTokens then throws IssuanceClaimLost and records nothing.
   */
  claim?: Prisma.Sql;
}

/** The issuance's claim changed no row: the code or refresh token was used by another request. */
export class IssuanceClaimLost extends Error {
  constructor() {
    super('the code or refresh token was used by another request');
    this.name = 'IssuanceClaimLost';
  }
}

/** The per-row part of a Token insert (the rest is the same for both rows of one issuance). */
interface TokenInsert {
  id: string;
  kind: 'access' | 'refresh';
  scope: string;
  tokenHash: string | null;
  jwt: string | null;
  parentId: string | null;
  revoked: boolean;
  expiresAt: Date;
}

export interface IssuedTokens {
  body: TokenResponseBody;
  accessJti: string;
  refreshId: string | null;
}

/** Absolute fhirUser URL for the id_token (SMART App Launch 2.2 §scopes-and-launch-context; docs/CONFORMANCE.md #80). */
export function absoluteFhirUser(fhirUser: string | null, fhirBase: string): string | null {
  if (!fhirUser) return null;
  return /^https?:\/\//.test(fhirUser) ? fhirUser : `${fhirBase}/${fhirUser}`;
}

/** Launch-context members of the token response (and of introspection; docs/CONFORMANCE.md #131). */
export function contextResponseFields(context: GrantContext): Partial<TokenResponseBody> {
  const out: Partial<TokenResponseBody> = {};
  if (context.patient) out.patient = context.patient;
  if (context.encounter) out.encounter = context.encounter;
  if (context.fhirContext?.length) out.fhirContext = context.fhirContext;
  if (context.needPatientBanner !== undefined) out.need_patient_banner = context.needPatientBanner;
  if (context.smartStyleUrl) out.smart_style_url = context.smartStyleUrl;
  if (context.intent) out.intent = context.intent;
  if (context.tenant) out.tenant = context.tenant;
  return out;
}

/** The SMART claims an access token carries besides iss, sub, aud, jti, iat and exp. */
export function accessTokenPrivateClaims(t: {
  clientId: string;
  scope: string;
  patient?: string | null;
  encounter?: string | null;
  fhirUser?: string | null;
  launchId?: string | null;
}): Record<string, string> {
  const claims: Record<string, string> = { client_id: t.clientId, scope: t.scope };
  if (t.patient) claims.patient = t.patient;
  if (t.encounter) claims.encounter = t.encounter;
  if (t.fhirUser) claims.fhirUser = t.fhirUser;
  if (t.launchId) claims.launch_id = t.launchId;
  return claims;
}

// Raw rows: Prisma maps DATETIME/timestamp columns to Date and BOOLEAN columns to boolean on both
// databases; these guards keep a driver difference from ever turning into a wrong answer.
/** A raw column as a boolean (true, 1 or 1n). */
export function rawBool(v: unknown): boolean {
  return v === true || v === 1 || v === 1n || v === '1' || v === 't';
}
/** A raw column as a Date. */
export function rawDate(v: unknown): Date {
  return v instanceof Date ? v : new Date(typeof v === 'bigint' ? Number(v) : (v as string | number));
}
/** A raw column as a string or null. */
export function rawText(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

/** The columns of Grant, prefixed `g_`, for a join. */
export const GRANT_COLUMNS = Prisma.raw(
  ['id', 'sandboxId', 'clientId', 'userId', 'scope', 'context', 'launchId', 'sessionId', 'revoked', 'createdAt'].map((c) => `g."${c}" AS "g_${c}"`).join(', '),
);

/** The joined grant of a raw row (null when the LEFT JOIN found none). */
export function grantOfRow(r: Record<string, unknown>): GrantRecord | null {
  if (r.g_id === null || r.g_id === undefined) return null;
  const row: GrantRow = {
    id: String(r.g_id),
    sandboxId: String(r.g_sandboxId),
    clientId: String(r.g_clientId),
    userId: rawText(r.g_userId),
    scope: String(r.g_scope),
    context: String(r.g_context ?? '{}'),
    launchId: rawText(r.g_launchId),
    sessionId: rawText(r.g_sessionId),
    revoked: rawBool(r.g_revoked),
    createdAt: rawDate(r.g_createdAt),
  };
  return toGrant(row);
}

/** A Token row as the checks read it: every column but the issued JWT, which no check needs. */
export type TokenRecord = Omit<TokenRow, 'jwt'>;

/** Token columns (all but the issued JWT), prefixed `t.`. */
export const TOKEN_COLUMNS = Prisma.raw(
  [
    'id',
    'sandboxId',
    'kind',
    'grantId',
    'clientId',
    'userId',
    'patientId',
    'encounterId',
    'scope',
    'tokenHash',
    'parentId',
    'revoked',
    'rotated',
    'issuedAt',
    'expiresAt',
  ]
    .map((c) => `t."${c}"`)
    .join(', '),
);

/** A raw Token row (TOKEN_COLUMNS) as the model type. */
export function tokenOfRow(r: Record<string, unknown>): TokenRecord {
  return {
    id: String(r.id),
    sandboxId: String(r.sandboxId),
    kind: String(r.kind),
    grantId: rawText(r.grantId),
    clientId: String(r.clientId),
    userId: rawText(r.userId),
    patientId: rawText(r.patientId),
    encounterId: rawText(r.encounterId),
    scope: String(r.scope),
    tokenHash: rawText(r.tokenHash),
    parentId: rawText(r.parentId),
    revoked: rawBool(r.revoked),
    rotated: rawBool(r.rotated),
    issuedAt: rawDate(r.issuedAt),
    expiresAt: rawDate(r.expiresAt),
  };
}

/**
 * One statement that records every token of an issuance. Under a grant, the rows are written only
 * while the grant is not revoked, atomically with respect to revokeGrant(): a code or refresh
 * token replayed concurrently with its legitimate use (RFC 6749 §4.1.2; RFC 9700 §4.14.2) either
 * revokes these rows after they are written or finds them never written, so no token of a
 * replayed grant survives. SQLite serialises writers; PostgreSQL takes a share lock on the grant
 * row, which revokeGrant's UPDATE of that row waits for (and after which the check is re-read).
 */
function insertTokenRows(input: IssueInput, issuedAt: Date, rows: readonly TokenInsert[]): Prisma.Sql {
  const pg = getDbKind() === 'postgresql';
  // PostgreSQL types a VALUES list on its own (parameters would be text); the casts give the columns' types.
  const bool = (v: boolean) => (pg ? Prisma.sql`CAST(${v} AS BOOLEAN)` : Prisma.sql`${v}`);
  const time = (v: Date) => (pg ? Prisma.sql`CAST(${v} AS TIMESTAMP(3))` : Prisma.sql`${v}`);
  const tuples = rows.map(
    (r) =>
      Prisma.sql`(${r.id}, ${input.sandboxId}, ${r.kind}, ${input.grantId}, ${input.client.clientId}, ${input.userId}, ${input.context.patient}, ${input.context.encounter}, ${r.scope}, ${r.tokenHash}, ${r.jwt}, ${r.parentId}, ${bool(r.revoked)}, ${bool(false)}, ${time(issuedAt)}, ${time(r.expiresAt)})`,
  );
  const columns = Prisma.raw(
    '"id", "sandboxId", "kind", "grantId", "clientId", "userId", "patientId", "encounterId", "scope", "tokenHash", "jwt", "parentId", "revoked", "rotated", "issuedAt", "expiresAt"',
  );
  if (input.grantId === null) return Prisma.sql`INSERT INTO "Token" (${columns}) VALUES ${Prisma.join(tuples)}`;
  const lock = Prisma.raw(pg ? ' FOR SHARE' : '');
  return Prisma.sql`INSERT INTO "Token" (${columns}) SELECT * FROM (VALUES ${Prisma.join(tuples)}) AS v
    WHERE EXISTS (SELECT 1 FROM "Grant" g WHERE g."id" = ${input.grantId} AND g."revoked" = false${lock})`;
}

/** Signs an access token, records its row (and the refresh token's), and builds the response body. */
export async function issueTokens(input: IssueInput): Promise<IssuedTokens> {
  // The launch's simulated lifetimes or refresh-token state (token_expires_soon, expired/revoked refresh token).
  const issuance = simulatedIssuance(await simulatedErrorOfLaunch(input.launchId), {
    accessTtlSeconds: input.accessTtlSeconds,
    refreshTtlSeconds: input.refresh?.ttlSeconds ?? null,
    refreshRevoked: false,
  });
  const iat = nowSeconds();
  const exp = iat + issuance.accessTtlSeconds;
  const jti = randomToken(18);
  const subject = input.userId ?? input.client.clientId;

  // Both keys are cached (lib/oauth/keys.ts); signing is node:crypto's one-shot sign (lib/oauth/jws.ts).
  const [accessKey, idKey] = await Promise.all([getSigningKey(ACCESS_TOKEN_ALG), input.idToken ? getSigningKey('RS256') : null]);
  const claims = accessTokenPrivateClaims({
    clientId: input.client.clientId,
    scope: input.scope,
    patient: input.context.patient,
    encounter: input.context.encounter,
    fhirUser: input.context.fhirUser,
    launchId: input.launchId,
  });
  const accessToken = signJwt(
    { alg: ACCESS_TOKEN_ALG, kid: accessKey.kid, typ: ACCESS_TOKEN_TYP },
    { ...claims, iss: input.issuer, sub: subject, aud: input.fhirBase, jti, iat, exp },
    accessKey.privateKey,
  );

  let idToken: string | null = null;
  if (input.idToken && idKey) {
    // OpenID Connect Core §2 / SMART App Launch 2.2 §scopes-and-launch-context (docs/CONFORMANCE.md #76–#80).
    const idClaims: Record<string, unknown> = {};
    const fhirUser = absoluteFhirUser(input.context.fhirUser, input.fhirBase);
    const granted = input.scope.split(' ');
    // The fhirUser claim only with the fhirUser scope (or SMART v1 `profile`, its alias): openid
    // alone asks for an id_token, not for the user's FHIR resource (SMART App Launch 2.2
    // §scopes-and-launch-context; docs/CONFORMANCE.md #76, #81).
    if (fhirUser && (granted.includes('fhirUser') || granted.includes('profile'))) idClaims.fhirUser = fhirUser;
    if (fhirUser && granted.includes('profile')) idClaims.profile = fhirUser;
    if (input.idToken.nonce) idClaims.nonce = input.idToken.nonce;
    idToken = signJwt(
      { alg: 'RS256', kid: idKey.kid, typ: 'JWT' },
      { ...idClaims, iss: input.issuer, sub: subject, aud: input.client.clientId, iat, exp },
      idKey.privateKey,
    );
  }

  const body: TokenResponseBody = { access_token: accessToken, token_type: 'Bearer', expires_in: issuance.accessTtlSeconds, scope: input.scope };
  if (idToken !== null) body.id_token = idToken;

  const rows: TokenInsert[] = [
    {
      id: jti,
      kind: 'access',
      scope: input.scope,
      tokenHash: null,
      jwt: accessToken,
      parentId: input.refresh?.parentId ?? null,
      revoked: false,
      expiresAt: new Date(exp * 1000),
    },
  ];
  let refreshId: string | null = null;
  if (input.refresh) {
    const refreshToken = randomToken(32);
    refreshId = randomToken(18);
    body.refresh_token = refreshToken;
    rows.push({
      id: refreshId,
      kind: 'refresh',
      scope: input.refresh.scope,
      tokenHash: sha256(refreshToken),
      jwt: null,
      parentId: input.refresh.parentId,
      revoked: issuance.refreshRevoked,
      expiresAt: new Date((iat + (issuance.refreshTtlSeconds ?? input.refresh.ttlSeconds)) * 1000),
    });
  }
  const insert = insertTokenRows(input, new Date(iat * 1000), rows);
  // The grant was revoked (a replayed code or refresh token) after the grant module read it.
  const revoked = () => new InvalidGrant('the authorization grant has been revoked');
  const claim = input.claim;
  if (claim) {
    await rawTransaction(getDb(), async (tx) => {
      // The insert first: on PostgreSQL it takes the grant's share lock before the claim locks the
      // code or refresh token row, the order revokeGrant() locks them in (grant, then tokens and
      // codes). The reverse order deadlocks a refresh with a concurrent replay of an older refresh
      // token of the same grant, and the aborted side may be the revocation.
      const inserted = await tx.execute(insert);
      // Thrown inside: the claim and the rows are rolled back together. A lost claim is a replay,
      // whatever else failed.
      if ((await tx.execute(claim)) === 0) throw new IssuanceClaimLost();
      if (inserted !== rows.length) throw revoked();
    });
  } else if ((await rawExecute(getDb(), insert)) !== rows.length) throw revoked();

  Object.assign(body, contextResponseFields(input.context));
  return { body, accessJti: jti, refreshId };
}
