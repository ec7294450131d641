/**
 * The patient-facing access-management screen behind discovery's `management_endpoint`
 * (SMART App Launch 2.2 §conformance; docs/CONFORMANCE.md #19, #136): the signed-in persona sees
 * the apps it authorized, what each may read, and revokes any of them. Revoking an app revokes
 * every grant the persona gave it, and with each grant its access and refresh tokens and unused
 * codes (lib/oauth/grant-store.ts), so the app's next FHIR call answers 401 and its next refresh
 * `invalid_grant` at once (ONC asks for within one hour).
 */
import { getDb } from '../db';
import type { Db } from '../db';
import { listActiveGrants, revokeGrant } from '../oauth/grant-store';
import type { GrantRecord } from '../oauth/grant-store';
import { explainScope, formatScope, parseScopeString } from '../smart/scopes';

/** One scope of a grant, with the sentence the consent screen showed for it. */
export interface ExplainedScope {
  readonly scope: string;
  readonly explanation: string;
}

/** One authorization the persona gave an app. */
export interface AuthorizedGrant {
  readonly id: string;
  readonly scope: string;
  readonly scopes: readonly ExplainedScope[];
  /** The patient the app may act for (patient/ scopes), or null. */
  readonly patient: string | null;
  readonly launchKind: string;
  readonly authorizedAt: Date;
  /** Latest expiry of a live token of the grant (access or refresh). */
  readonly activeUntil: Date;
  /** True when a live refresh token lets the app keep access after the user leaves. */
  readonly refreshable: boolean;
}

/** An app with the grants the persona gave it, newest first. */
export interface AuthorizedApp {
  readonly clientId: string;
  readonly clientName: string;
  readonly grants: readonly AuthorizedGrant[];
}

function explain(scope: string): ExplainedScope[] {
  return parseScopeString(scope).scopes.map((s) => ({ scope: formatScope(s), explanation: explainScope(s) }));
}

/**
 * The apps a persona (`Patient/…` or `Practitioner/…`) has authorized and can still use: grants
 * not revoked with at least one live token. A grant whose tokens all expired gives no access any
 * more and is not shown.
 */
export async function listAuthorizedApps(sandboxId: string, fhirUser: string, now: Date = new Date(), db: Db = getDb()): Promise<AuthorizedApp[]> {
  const grants = await listActiveGrants({ sandboxId, userId: fhirUser });
  if (!grants.length) return [];
  const live = await db.token.findMany({
    where: { sandboxId, grantId: { in: grants.map((g) => g.id) }, revoked: false, rotated: false, expiresAt: { gt: now } },
    select: { grantId: true, kind: true, expiresAt: true },
  });
  const byGrant = new Map<string, { until: Date; refresh: boolean }>();
  for (const t of live) {
    if (!t.grantId) continue;
    const seen = byGrant.get(t.grantId);
    const until = seen && seen.until > t.expiresAt ? seen.until : t.expiresAt;
    byGrant.set(t.grantId, { until, refresh: (seen?.refresh ?? false) || t.kind === 'refresh' });
  }
  const clients = await db.client.findMany({
    where: { sandboxId, clientId: { in: [...new Set(grants.map((g) => g.clientId))] } },
    select: { clientId: true, name: true },
  });
  const names = new Map(clients.map((c) => [c.clientId, c.name]));
  const apps = new Map<string, AuthorizedGrant[]>();
  for (const g of grants) {
    const tokens = byGrant.get(g.id);
    if (!tokens) continue;
    const list = apps.get(g.clientId) ?? [];
    list.push(toAuthorizedGrant(g, tokens.until, tokens.refresh));
    apps.set(g.clientId, list);
  }
  return [...apps].map(([clientId, list]) => ({ clientId, clientName: names.get(clientId) ?? clientId, grants: list }));
}

function toAuthorizedGrant(g: GrantRecord, activeUntil: Date, refreshable: boolean): AuthorizedGrant {
  return {
    id: g.id,
    scope: g.scope,
    scopes: explain(g.scope),
    patient: g.context.patient,
    launchKind: g.context.launchKind,
    authorizedAt: g.createdAt,
    activeUntil,
    refreshable,
  };
}

/**
 * Revokes every grant the persona gave an app (with their tokens and codes). Returns the number of
 * grants revoked: 0 when the persona has given this app nothing (another persona's grants are
 * never touched).
 */
export async function revokeAppAccess(sandboxId: string, fhirUser: string, clientId: string): Promise<number> {
  const grants = await listActiveGrants({ sandboxId, userId: fhirUser, clientId });
  for (const g of grants) await revokeGrant(g.id);
  return grants.length;
}
