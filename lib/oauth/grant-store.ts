/**
 * Grants: what a user approved for a client. Codes, access tokens and refresh tokens hang off a
 * grant, so revoking the grant stops everything it produced (code replay, refresh replay, the
 * patient's access-management screen; RFC 9700 §4.14, docs/CONFORMANCE.md #127, #137).
 */
import type { Grant as GrantRow } from '../generated/sqlite/client';
import { getDb } from '../db';
import type { FhirContextItem } from '../launch-options/options';

/** Launch context approved with a grant; repeated in every token response (docs/CONFORMANCE.md §9). */
export interface GrantContext {
  patient: string | null;
  encounter: string | null;
  /** Relative FHIR reference of the signed-in user, e.g. Practitioner/123. */
  fhirUser: string | null;
  fhirContext?: FhirContextItem[];
  needPatientBanner?: boolean;
  smartStyleUrl?: string;
  intent?: string;
  tenant?: string;
  launchKind: 'ehr' | 'standalone' | 'backend';
  /** Access token lifetime chosen by the launcher for this launch (options.tokenLifetimeSeconds), else the server default. */
  accessTtlSeconds?: number;
  /**
   * The FHIR base (`aud`) the user authorized: the code and its refresh tokens are redeemed only at
   * the token endpoint of that server (RFC 7636 §4.4; RFC 9700 §2.1.1; docs/CONFORMANCE.md #44).
   */
  aud?: string;
  /** When the user's sign-in session ends (Unix seconds): online_access refresh tokens end with it (docs/CONFORMANCE.md #83). */
  sessionExpiresAt?: number;
}

export interface GrantRecord {
  readonly id: string;
  readonly sandboxId: string;
  readonly clientId: string;
  readonly userId: string | null;
  readonly scope: string;
  readonly context: GrantContext;
  readonly launchId: string | null;
  readonly sessionId: string | null;
  readonly revoked: boolean;
  readonly createdAt: Date;
}

/** Parses a stored grant row. */
export function toGrant(row: GrantRow): GrantRecord {
  let context: GrantContext = { patient: null, encounter: null, fhirUser: null, launchKind: 'standalone' };
  try {
    context = { ...context, ...(JSON.parse(row.context) as Partial<GrantContext>) };
  } catch {
    // keep the empty context
  }
  return {
    id: row.id,
    sandboxId: row.sandboxId,
    clientId: row.clientId,
    userId: row.userId,
    scope: row.scope,
    context,
    launchId: row.launchId,
    sessionId: row.sessionId,
    revoked: row.revoked,
    createdAt: row.createdAt,
  };
}

/** A grant by id, or null. */
export async function findGrant(id: string): Promise<GrantRecord | null> {
  const row = await getDb().grant.findUnique({ where: { id } });
  return row ? toGrant(row) : null;
}

/** Revokes a grant and every token issued under it; unused codes of the grant can no longer be redeemed. */
export async function revokeGrant(grantId: string): Promise<void> {
  const db = getDb();
  await db.$transaction([
    db.grant.updateMany({ where: { id: grantId }, data: { revoked: true } }),
    db.token.updateMany({ where: { grantId, revoked: false }, data: { revoked: true } }),
    db.authCode.updateMany({ where: { grantId, used: false }, data: { used: true } }),
  ]);
}

/** Grants of a sandbox that are still in force (for the patient's access-management screen). */
export async function listActiveGrants(options: { sandboxId: string; userId?: string; clientId?: string }): Promise<GrantRecord[]> {
  const rows = await getDb().grant.findMany({
    where: {
      sandboxId: options.sandboxId,
      revoked: false,
      ...(options.userId ? { userId: options.userId } : {}),
      ...(options.clientId ? { clientId: options.clientId } : {}),
    },
    orderBy: { createdAt: 'desc' },
  });
  return rows.map(toGrant);
}

/**
 * The user's session ended (sign-out): grants approved with online_access in that session stop
 * working (SMART App Launch 2.2 §scopes-and-launch-context online_access; docs/CONFORMANCE.md #83).
 */
export async function endSession(sessionId: string): Promise<number> {
  const rows = await getDb().grant.findMany({ where: { sessionId, revoked: false }, select: { id: true, scope: true } });
  const online = rows.filter((g) => g.scope.split(' ').includes('online_access') && !g.scope.split(' ').includes('offline_access'));
  for (const g of online) await revokeGrant(g.id);
  return online.length;
}
