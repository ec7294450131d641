/**
 * Alerts: flagged audit records grouped by flag and by client, with counts, the last occurrence
 * and a link to the matching audit records. Also raises "repeated invalid tokens" per caller:
 * invalid-token records usually carry no client (the token did not verify), so they are grouped
 * by IP address and user agent instead.
 */
import type { AuditFlag } from '../audit/record';
import { getDb } from '../db';
import { currentSandbox } from '../sandbox/context';
import { AUDIT_FLAGS } from './audit';

/** What each flag means, for the alerts page. */
export const FLAG_DESCRIPTIONS: Record<AuditFlag, string> = {
  'suspected-bola':
    'Cross-compartment attempt: a token asked for a resource or patient outside its compartment (a read answered 404, a search naming another patient 403).',
  'code-replay': 'An authorization code was used twice; every token issued with it was revoked (RFC 6749 §4.1.2).',
  'refresh-replay': 'A rotated refresh token was used again; its grant was revoked (RFC 9700 §4.14.2).',
  'assertion-replay': 'A client assertion (private_key_jwt) was replayed with a jti already seen (RFC 7523 §3).',
  'excessive-results': 'A request returned more resources than AUDIT_EXCESSIVE_RESULTS.',
  'rate-limited': 'A caller hit a rate limit.',
  'invalid-token': 'A request carried a missing, expired, revoked or forged access token.',
  simulated: 'The outcome was a simulated error armed in the launcher: a test of the app, not an attack.',
};

/** Flags that mark abuse or attack attempts (everything but the simulated marker). */
const ATTACK_FLAGS = AUDIT_FLAGS.filter((f) => f !== 'simulated');

/** How many repeated invalid-token records from one caller make an alert. */
export const REPEATED_INVALID_TOKEN_THRESHOLD = 5;

export interface AlertGroup {
  readonly flag: AuditFlag;
  readonly clientId: string | null;
  readonly count: number;
  readonly last: Date;
  /** Link to the audit list filtered to these records. */
  readonly href: string;
}

export interface InvalidTokenCaller {
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly count: number;
  readonly last: Date;
}

export interface AlertsSummary {
  readonly total: number;
  readonly byFlag: readonly { flag: AuditFlag; description: string; count: number; last: Date | null; href: string }[];
  readonly byClient: readonly { clientId: string | null; count: number; flags: Record<string, number>; href: string }[];
  readonly groups: readonly AlertGroup[];
  readonly repeatedInvalidTokens: readonly InvalidTokenCaller[];
  /** Records whose outcome a simulated error caused: listed apart, never counted as attacks. */
  readonly simulated: {
    readonly count: number;
    readonly byClient: readonly { clientId: string | null; count: number; flags: Record<string, number>; href: string }[];
    readonly href: string;
  };
}

function auditHref(params: Record<string, string | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) p.set(k, v);
  return `${currentSandbox().basePath}/console/audit?${p.toString()}`;
}

function isFlag(s: string): s is AuditFlag {
  return (AUDIT_FLAGS as readonly string[]).includes(s);
}

/** Flag × client counts over every flagged record of the sandbox (optionally since a date). */
export async function summarizeAlerts(options: { sandboxId?: string; since?: Date } = {}): Promise<AlertsSummary> {
  const sandboxId = options.sandboxId ?? currentSandbox().id;
  const db = getDb();
  const where = { sandboxId, flags: { not: null }, ...(options.since ? { at: { gte: options.since } } : {}) };
  const rows = await db.auditRecord.groupBy({ by: ['flags', 'clientId'], where, _count: { _all: true }, _max: { at: true } });

  const groups = new Map<string, { flag: AuditFlag; clientId: string | null; count: number; last: Date }>();
  const simulatedByClient = new Map<string, { clientId: string | null; count: number; flags: Record<string, number> }>();
  let total = 0;
  let simulatedCount = 0;
  for (const row of rows) {
    const count = row._count._all;
    const last = row._max.at ?? new Date(0);
    const flags = (row.flags ?? '').split(' ').filter(isFlag);
    if (flags.includes('simulated')) {
      simulatedCount += count;
      const c = simulatedByClient.get(row.clientId ?? '') ?? { clientId: row.clientId, count: 0, flags: {} };
      c.count += count;
      for (const flag of flags) if (flag !== 'simulated') c.flags[flag] = (c.flags[flag] ?? 0) + count;
      simulatedByClient.set(row.clientId ?? '', c);
      continue;
    }
    total += count;
    for (const flag of (row.flags ?? '').split(' ').filter(isFlag)) {
      const key = `${flag}\0${row.clientId ?? ''}`;
      const g = groups.get(key) ?? { flag, clientId: row.clientId, count: 0, last };
      g.count += count;
      if (last > g.last) g.last = last;
      groups.set(key, g);
    }
  }
  const list: AlertGroup[] = [...groups.values()]
    .map((g) => ({ ...g, href: auditHref({ flag: g.flag, clientId: g.clientId }) }))
    .sort((a, b) => b.count - a.count || b.last.getTime() - a.last.getTime());

  const byFlag = ATTACK_FLAGS.map((flag) => {
    const of = list.filter((g) => g.flag === flag);
    const last = of.reduce<Date | null>((m, g) => (m === null || g.last > m ? g.last : m), null);
    return { flag, description: FLAG_DESCRIPTIONS[flag], count: of.reduce((n, g) => n + g.count, 0), last, href: auditHref({ flag }) };
  });

  const clients = new Map<string, { clientId: string | null; count: number; flags: Record<string, number> }>();
  for (const g of list) {
    const key = g.clientId ?? '';
    const c = clients.get(key) ?? { clientId: g.clientId, count: 0, flags: {} };
    c.count += g.count;
    c.flags[g.flag] = (c.flags[g.flag] ?? 0) + g.count;
    clients.set(key, c);
  }
  const byClient = [...clients.values()].map((c) => ({ ...c, href: auditHref({ flag: 'any', clientId: c.clientId }) })).sort((a, b) => b.count - a.count);

  const callers = await db.auditRecord.groupBy({
    by: ['ip', 'userAgent'],
    where: {
      sandboxId,
      AND: [{ flags: { contains: 'invalid-token' } }, { NOT: { flags: { contains: 'simulated' } } }],
      ...(options.since ? { at: { gte: options.since } } : {}),
    },
    _count: { _all: true },
    _max: { at: true },
  });
  const repeatedInvalidTokens = callers
    .filter((c) => c._count._all >= REPEATED_INVALID_TOKEN_THRESHOLD)
    .map((c) => ({ ip: c.ip, userAgent: c.userAgent, count: c._count._all, last: c._max.at ?? new Date(0) }))
    .sort((a, b) => b.count - a.count);

  const simulated = {
    count: simulatedCount,
    byClient: [...simulatedByClient.values()]
      .map((c) => ({ ...c, href: auditHref({ flag: 'simulated', clientId: c.clientId }) }))
      .sort((a, b) => b.count - a.count),
    href: auditHref({ flag: 'simulated' }),
  };
  return { total, byFlag, byClient, groups: list, repeatedInvalidTokens, simulated };
}
