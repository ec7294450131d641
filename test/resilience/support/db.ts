// Direct database access for checking what a server left behind (never used to drive behaviour
// the tests assert on, only to inspect it or to take time out of the picture).
import { createDb } from '../../../lib/db';
import type { Db } from '../../../lib/db';

/** Opens a Prisma client on a test database; close() disconnects it. */
export function openDb(url: string): { db: Db; close(): Promise<void> } {
  const { db } = createDb(url);
  return { db, close: () => db.$disconnect() };
}

/**
 * Runs `fn` with a client that is closed afterwards: on SQLite, scripts/prepare-db.mjs (the schema
 * engine) cannot migrate while another process has the file open.
 */
export async function withDb<T>(url: string, fn: (db: Db) => Promise<T>): Promise<T> {
  const { db, close } = openDb(url);
  try {
    return await fn(db);
  } finally {
    await close();
  }
}

export interface TokenInvariants {
  /** Token rows of the client whose grant does not exist. */
  readonly withoutGrant: string[];
  /** Refresh tokens marked rotated that have no successor, or more than one. */
  readonly badRotations: string[];
  /** Used codes whose grant has neither an access token nor a revocation. */
  readonly usedWithoutTokens: string[];
  /** Tokens still in force under a revoked grant (revocation must reach every token a grant produced). */
  readonly liveUnderRevokedGrant: string[];
}

/**
 * What must hold in the token tables whatever moment a server died at: every token belongs to an
 * existing grant; a refresh token is rotated exactly when its one successor exists; a code is used
 * only together with the tokens it produced (or the revocation its replay caused); a revoked grant
 * has no token in force.
 */
export async function tokenInvariants(db: Db, clientId: string): Promise<TokenInvariants> {
  const [tokens, grants, codes] = await Promise.all([
    db.token.findMany({ where: { clientId }, select: { id: true, kind: true, grantId: true, parentId: true, rotated: true, revoked: true } }),
    db.grant.findMany({ where: { clientId }, select: { id: true, revoked: true } }),
    db.authCode.findMany({ where: { clientId }, select: { codeHash: true, grantId: true, used: true } }),
  ]);
  const grantById = new Map(grants.map((g) => [g.id, g]));
  const withoutGrant = tokens.filter((t) => !t.grantId || !grantById.has(t.grantId)).map((t) => `${t.kind} ${t.id}`);
  const successors = new Map<string, number>();
  for (const t of tokens) if (t.kind === 'refresh' && t.parentId) successors.set(t.parentId, (successors.get(t.parentId) ?? 0) + 1);
  const badRotations = tokens
    .filter((t) => t.kind === 'refresh' && (t.rotated ? successors.get(t.id) !== 1 : (successors.get(t.id) ?? 0) !== 0))
    .map((t) => `${t.id}: rotated=${t.rotated}, successors=${successors.get(t.id) ?? 0}`);
  const grantsWithAccess = new Set(tokens.filter((t) => t.kind === 'access' && t.grantId).map((t) => t.grantId));
  const usedWithoutTokens = codes
    .filter((c) => c.used && !grantsWithAccess.has(c.grantId) && !grantById.get(c.grantId)?.revoked)
    .map((c) => c.codeHash.slice(0, 12));
  const liveUnderRevokedGrant = tokens.filter((t) => !t.revoked && t.grantId && grantById.get(t.grantId)?.revoked).map((t) => `${t.kind} ${t.id}`);
  return { withoutGrant, badRotations, usedWithoutTokens, liveUnderRevokedGrant };
}
