/**
 * Console queries and actions on issued tokens: the list with filters, one token's page (claims,
 * explained scopes, launch context, refresh chain) and revocation. An access token's page shows the
 * JWT as issued (`Token.jwt`) with its signature checked against the server's JWKS; tokens issued
 * before that column existed get their claims rebuilt from the row. Refresh tokens are kept only as
 * a hash and can never be shown.
 */
import { recordAudit } from '../audit/record';
import { getDb } from '../db';
import type { Prisma, Token as TokenRow } from '../generated/sqlite/client';
import type { GrantRecord } from '../oauth/grant-store';
import { toGrant } from '../oauth/grant-store';
import { getPublicJwks } from '../oauth/keys';
import { accessTokenPrivateClaims } from '../oauth/tokens';
import { currentSandbox } from '../sandbox/context';
import { parseScopeString } from '../smart/scopes';
import type { ExplainedScope } from './scope-explain';
import { explainParsedScope } from './scope-explain';
import type { DecodedTokenJwt } from './token-jwt';
import { decodeTokenJwt } from './token-jwt';
import { sandboxNow } from '../sandbox/context';

export const TOKEN_STATUSES = ['active', 'expired', 'revoked'] as const;
export type TokenStatus = (typeof TOKEN_STATUSES)[number];

export interface TokenFilters {
  clientId?: string;
  userId?: string;
  patientId?: string;
  status?: TokenStatus;
  kind?: 'access' | 'refresh';
  grantId?: string;
}

/** A token row as the console lists it. */
export interface TokenSummary {
  readonly id: string;
  readonly kind: string;
  readonly clientId: string;
  readonly userId: string | null;
  readonly patientId: string | null;
  readonly scope: string;
  readonly status: TokenStatus;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  readonly grantId: string | null;
  readonly parentId: string | null;
  readonly rotated: boolean;
}

/**
 * The claims an access token was signed with, rebuilt from its row and grant with the issuer's
 * own claim builder (for tokens issued before the JWT itself was stored).
 */
export function accessTokenClaimsOf(
  row: Pick<TokenRow, 'id' | 'userId' | 'clientId' | 'issuedAt' | 'expiresAt' | 'scope' | 'patientId' | 'encounterId'>,
  origin: string,
  grant: Pick<GrantRecord, 'context' | 'launchId'> | null,
): Record<string, string | number> {
  return {
    iss: origin,
    sub: row.userId ?? row.clientId,
    aud: `${origin}/fhir`,
    jti: row.id,
    iat: Math.floor(row.issuedAt.getTime() / 1000),
    exp: Math.floor(row.expiresAt.getTime() / 1000),
    ...accessTokenPrivateClaims({
      clientId: row.clientId,
      scope: row.scope,
      patient: row.patientId,
      encounter: row.encounterId,
      fhirUser: grant?.context.fhirUser,
      launchId: grant?.launchId,
    }),
  };
}

/** active / expired / revoked, revoked first (a revoked token stays revoked after it expires). */
export function tokenStatus(row: Pick<TokenRow, 'revoked' | 'expiresAt'>, now: Date = sandboxNow()): TokenStatus {
  if (row.revoked) return 'revoked';
  return row.expiresAt.getTime() <= now.getTime() ? 'expired' : 'active';
}

function toSummary(row: TokenRow, now: Date): TokenSummary {
  return {
    id: row.id,
    kind: row.kind,
    clientId: row.clientId,
    userId: row.userId,
    patientId: row.patientId,
    scope: row.scope,
    status: tokenStatus(row, now),
    issuedAt: row.issuedAt,
    expiresAt: row.expiresAt,
    grantId: row.grantId,
    parentId: row.parentId,
    rotated: row.rotated,
  };
}

/** Reads token filters from query parameters (unknown values ignored). */
export function parseTokenFilters(params: URLSearchParams): TokenFilters {
  const f: TokenFilters = {};
  const text = (name: string) => {
    const v = params.get(name)?.trim();
    return v && v.length <= 200 ? v : undefined;
  };
  const clientId = text('clientId');
  if (clientId) f.clientId = clientId;
  const userId = text('userId');
  if (userId) f.userId = userId;
  const patientId = text('patientId');
  if (patientId) f.patientId = patientId;
  const grantId = text('grantId');
  if (grantId) f.grantId = grantId;
  const status = params.get('status');
  if (status && (TOKEN_STATUSES as readonly string[]).includes(status)) f.status = status as TokenStatus;
  const kind = params.get('kind');
  if (kind === 'access' || kind === 'refresh') f.kind = kind;
  return f;
}

/** Tokens of the sandbox, newest first. */
export async function listTokens(filters: TokenFilters, options: { limit?: number; now?: Date; sandboxId?: string } = {}): Promise<TokenSummary[]> {
  const now = options.now ?? sandboxNow();
  const where: Prisma.TokenWhereInput = { sandboxId: options.sandboxId ?? currentSandbox().id };
  if (filters.clientId) where.clientId = filters.clientId;
  if (filters.userId) where.userId = filters.userId;
  if (filters.patientId) where.patientId = filters.patientId;
  if (filters.kind) where.kind = filters.kind;
  if (filters.grantId) where.grantId = filters.grantId;
  if (filters.status === 'revoked') where.revoked = true;
  if (filters.status === 'active') Object.assign(where, { revoked: false, expiresAt: { gt: now } });
  if (filters.status === 'expired') Object.assign(where, { revoked: false, expiresAt: { lte: now } });
  const rows = await getDb().token.findMany({ where, orderBy: [{ issuedAt: 'desc' }, { id: 'asc' }], take: Math.min(options.limit ?? 200, 1000) });
  return rows.map((r) => toSummary(r, now));
}

/** Distinct values for the filter drop-downs. */
export async function tokenFilterOptions(sandboxId: string = currentSandbox().id): Promise<{ clients: string[]; users: string[]; patients: string[] }> {
  const db = getDb();
  const [clients, users, patients] = await Promise.all([
    db.token.findMany({ where: { sandboxId }, distinct: ['clientId'], select: { clientId: true }, take: 200 }),
    db.token.findMany({ where: { sandboxId, userId: { not: null } }, distinct: ['userId'], select: { userId: true }, take: 200 }),
    db.token.findMany({ where: { sandboxId, patientId: { not: null } }, distinct: ['patientId'], select: { patientId: true }, take: 200 }),
  ]);
  return {
    clients: clients.map((c) => c.clientId).sort(),
    users: users.flatMap((u) => (u.userId ? [u.userId] : [])).sort(),
    patients: patients.flatMap((p) => (p.patientId ? [p.patientId] : [])).sort(),
  };
}

export interface TokenDetail {
  readonly token: TokenSummary;
  readonly encounterId: string | null;
  readonly clientName: string | null;
  readonly grant: GrantRecord | null;
  /** The stored JWT of an access token, decoded, with its signature checked (null: refresh token, or issued before JWTs were stored). */
  readonly jwt: DecodedTokenJwt | null;
  /** Decoded header and claims: from the stored JWT, else rebuilt from the row (`claimsSource`); null for a refresh token. */
  readonly header: Record<string, unknown> | null;
  readonly claims: Record<string, unknown> | null;
  readonly claimsSource: 'jwt' | 'rebuilt' | null;
  /** First characters of a refresh token's stored SHA-256 hash (the token itself is not retrievable). */
  readonly refreshHashPrefix: string | null;
  readonly scopes: readonly ExplainedScope[];
  readonly scopeErrors: readonly string[];
  /** Tokens of the same grant, oldest first, with their parent (refresh chain). */
  readonly chain: readonly TokenSummary[];
  readonly launch: { id: string; patientId: string | null; encounterId: string | null; userId: string | null; options: string; createdAt: Date } | null;
}

/** One token with everything its console page shows, or null. */
export async function getTokenDetail(id: string, options: { origin: string; now?: Date; sandboxId?: string }): Promise<TokenDetail | null> {
  const now = options.now ?? sandboxNow();
  const db = getDb();
  const row = await db.token.findFirst({ where: { id, sandboxId: options.sandboxId ?? currentSandbox().id } });
  if (!row) return null;
  const [grantRow, client, chainRows, key] = await Promise.all([
    row.grantId ? db.grant.findUnique({ where: { id: row.grantId } }) : Promise.resolve(null),
    db.client.findUnique({ where: { clientId: row.clientId }, select: { name: true } }),
    row.grantId ? db.token.findMany({ where: { grantId: row.grantId }, orderBy: [{ issuedAt: 'asc' }, { kind: 'asc' }], take: 200 }) : Promise.resolve([row]),
    row.kind === 'access' && !row.jwt
      ? db.signingKey.findFirst({ where: { alg: 'ES256', createdAt: { lte: row.issuedAt } }, orderBy: { createdAt: 'desc' }, select: { kid: true } })
      : Promise.resolve(null),
  ]);
  const grant = grantRow ? toGrant(grantRow) : null;
  const launchRow = grant?.launchId ? await db.launch.findUnique({ where: { id: grant.launchId } }) : null;
  const parsed = parseScopeString(row.scope);

  let jwt: DecodedTokenJwt | null = null;
  let header: Record<string, unknown> | null = null;
  let claims: Record<string, unknown> | null = null;
  let claimsSource: TokenDetail['claimsSource'] = null;
  if (row.kind === 'access') {
    jwt = row.jwt ? await decodeTokenJwt(row.jwt, await getPublicJwks()) : null;
    if (jwt) {
      header = jwt.header;
      claims = jwt.claims;
      claimsSource = 'jwt';
    } else {
      header = { alg: 'ES256', typ: 'at+jwt', ...(key ? { kid: key.kid } : {}) };
      claims = accessTokenClaimsOf(row, options.origin, grant);
      claimsSource = 'rebuilt';
    }
  }

  return {
    token: toSummary(row, now),
    encounterId: row.encounterId,
    clientName: client?.name ?? null,
    grant,
    jwt,
    header,
    claims,
    claimsSource,
    refreshHashPrefix: row.kind === 'refresh' && row.tokenHash ? row.tokenHash.slice(0, 12) : null,
    scopes: parsed.scopes.map(explainParsedScope),
    scopeErrors: parsed.errors.map((e) => e.reason),
    chain: chainRows.map((r) => toSummary(r, now)),
    launch: launchRow
      ? {
          id: launchRow.id,
          patientId: launchRow.patientId,
          encounterId: launchRow.encounterId,
          userId: launchRow.userId,
          options: launchRow.options,
          createdAt: launchRow.createdAt,
        }
      : null,
  };
}

/** What a console revocation covers: the one token, or the whole grant it belongs to. */
export type RevocationScope = 'token' | 'grant';

/**
 * Revokes from the console: the FHIR API's next call with a revoked token gets 401 (the verifier
 * checks the row). `token`: this token, and for a refresh token the access tokens issued from it;
 * the grant's other tokens (its refresh token) keep working. `grant`: the grant itself and every
 * token issued under it, refresh tokens included, so the app must be authorized again (RFC 7009
 * §2.1 lets a server revoke the grant with the token). A backend token has no grant: `grant` then
 * revokes just the token. Writes a `console` audit record saying which it did.
 */
export async function revokeTokenFromConsole(
  id: string,
  actor: string,
  options: { sandboxId?: string; scope?: RevocationScope } = {},
): Promise<{ revoked: number; scope: RevocationScope } | null> {
  const db = getDb();
  const row = await db.token.findFirst({ where: { id, sandboxId: options.sandboxId ?? currentSandbox().id } });
  if (!row) return null;
  const started = performance.now();
  const scope: RevocationScope = options.scope === 'grant' && row.grantId ? 'grant' : 'token';
  let count: number;
  let detail: string;
  if (scope === 'grant') {
    const grantId = row.grantId!;
    const [, tokens] = await db.$transaction([
      db.grant.updateMany({ where: { id: grantId }, data: { revoked: true } }),
      db.token.updateMany({ where: { grantId, revoked: false }, data: { revoked: true } }),
    ]);
    count = tokens.count;
    detail = `grant ${grantId.slice(0, 8)}… revoked from the console by ${actor} with every token issued under it (${count} still active), from ${row.kind} token ${id.slice(0, 8)}…`;
  } else {
    const ids = [id];
    if (row.kind === 'refresh') {
      const children = await db.token.findMany({ where: { parentId: id, kind: 'access' }, select: { id: true } });
      ids.push(...children.map((c) => c.id));
    }
    count = (await db.token.updateMany({ where: { id: { in: ids }, revoked: false }, data: { revoked: true } })).count;
    detail = `${row.kind} token ${id.slice(0, 8)}… revoked from the console by ${actor}${ids.length > 1 ? ` (with ${ids.length - 1} access token(s) issued from it)` : ''}`;
  }
  await recordAudit({
    sandboxId: row.sandboxId,
    kind: 'console',
    method: 'POST',
    endpoint: `/console/tokens/${id}/revoke`,
    clientId: row.clientId,
    userId: row.userId,
    patientId: row.patientId,
    scopes: row.scope,
    status: 200,
    detail,
    latencyMs: performance.now() - started,
  });
  return { revoked: count, scope };
}
