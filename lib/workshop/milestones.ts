/**
 * Workshop milestones, derived from a sandbox's audit trail (never self-reported): each is the
 * first audit record that proves the attendee did the thing, with its time. A sandbox belongs to
 * one attendee, so its records are theirs.
 */
import { parseFacts } from '../audit/facts';

/** The milestones the instructor's grid shows, in teaching order. */
export const MILESTONES = [
  { id: 'client-registered', label: 'Registered a client' },
  { id: 'ehr-launch', label: 'Completed an EHR launch' },
  { id: 'standalone-launch', label: 'Completed a standalone launch' },
  { id: 'pkce-exchange', label: 'Exchanged a code with PKCE' },
  { id: 'confidential-client', label: 'Authenticated with a client secret' },
  { id: 'refresh', label: 'Refreshed a token (rotation)' },
  { id: 'backend-token', label: 'Backend token with a signed assertion' },
  { id: 'granular-scopes', label: 'Token with granular scopes' },
  { id: 'scope-refused', label: 'FHIR call refused for scope' },
  { id: 'expired-token', label: 'Presented an expired token' },
  { id: 'expired-recovered', label: 'Recovered from an expired token' },
  { id: 'bola-flagged', label: 'Read outside the compartment (flagged)' },
  { id: 'bola-fixed', label: 'Fixed the compartment read' },
  { id: 'simulated-error', label: 'Met a simulated error' },
] as const;

export type MilestoneId = (typeof MILESTONES)[number]['id'];

const MILESTONE_IDS: ReadonlySet<string> = new Set(MILESTONES.map((m) => m.id));

/** True when `id` names a milestone. */
export function isMilestoneId(id: string): id is MilestoneId {
  return MILESTONE_IDS.has(id);
}

/** The label of a milestone. */
export function milestoneLabel(id: MilestoneId): string {
  return MILESTONES.find((m) => m.id === id)?.label ?? id;
}

/** The columns of an audit record that milestones read. */
export interface MilestoneAuditRow {
  readonly at: Date;
  readonly kind: string;
  readonly endpoint: string;
  readonly status: number;
  readonly clientId: string | null;
  readonly scopes: string | null;
  readonly detail: string | null;
  readonly flags: string | null;
  readonly facts: string | null;
}

/** When each milestone was first reached (milestones not reached are absent). */
export type MilestoneTimes = Partial<Record<MilestoneId, Date>>;

function scopeList(scopes: string | null): string[] {
  return scopes ? scopes.split(/\s+/).filter(Boolean) : [];
}

function isFhir(row: MilestoneAuditRow): boolean {
  return row.kind === 'fhir';
}

/**
 * The milestones a sandbox's audit records prove, oldest record first. `clientsCreatedAt` are the
 * creation times of clients registered in the console (which writes no audit record of its own).
 */
export function deriveMilestones(rows: readonly MilestoneAuditRow[], clientsCreatedAt: readonly Date[] = []): MilestoneTimes {
  const reached: MilestoneTimes = {};
  const reach = (id: MilestoneId, at: Date) => {
    const previous = reached[id];
    if (!previous || at < previous) reached[id] = at;
  };
  for (const at of clientsCreatedAt) reach('client-registered', at);

  // Clients that were flagged for a compartment read or met an expired token and have not yet
  // made a successful FHIR call since.
  const awaitingBolaFix = new Set<string>();
  const awaitingRecovery = new Set<string>();
  const sorted = [...rows].sort((a, b) => a.at.getTime() - b.at.getTime());
  for (const row of sorted) {
    const flags = row.flags ? row.flags.split(' ') : [];
    const client = row.clientId ?? '';
    if (flags.includes('simulated')) reach('simulated-error', row.at);
    if (row.kind === 'oauth' && row.endpoint === '/oauth/register' && row.status === 201) reach('client-registered', row.at);

    if (row.kind === 'oauth' && row.endpoint === '/oauth/token' && row.status === 200) {
      const facts = parseFacts(row.facts);
      const scopes = scopeList(row.scopes);
      if (scopes.some((s) => s.includes('?'))) reach('granular-scopes', row.at);
      if (facts.authMethod === 'client_secret_basic' || facts.authMethod === 'client_secret_post') reach('confidential-client', row.at);
      if (facts.grantType === 'authorization_code') {
        // SMART App Launch 2.2 §scopes-for-requesting-context-data: an EHR launch asks for `launch`,
        // a standalone launch does not.
        reach(scopes.includes('launch') ? 'ehr-launch' : 'standalone-launch', row.at);
        if (row.detail?.includes('pkce verifier=')) reach('pkce-exchange', row.at);
      }
      if (facts.grantType === 'refresh_token') reach('refresh', row.at);
      if (facts.grantType === 'client_credentials' && facts.authMethod === 'private_key_jwt') reach('backend-token', row.at);
      continue;
    }

    if (!isFhir(row)) continue;
    if (flags.includes('suspected-bola')) {
      reach('bola-flagged', row.at);
      awaitingBolaFix.add(client);
      continue;
    }
    if (row.status === 403 && !flags.includes('simulated')) reach('scope-refused', row.at);
    if (row.status === 401 && parseFacts(row.facts).tokenExpired) {
      reach('expired-token', row.at);
      awaitingRecovery.add(client);
    }
    if (row.status >= 200 && row.status < 300) {
      if (awaitingBolaFix.delete(client)) reach('bola-fixed', row.at);
      if (awaitingRecovery.delete(client)) reach('expired-recovered', row.at);
    }
  }
  return reached;
}
