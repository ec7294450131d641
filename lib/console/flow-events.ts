/**
 * Every flow of a sandbox, not only completed launches: each authorization the user approved (a
 * grant, lib/console/flows.ts rebuilds it step by step), and each flow that ended early or never
 * had a grant, taken from the audit trail: refused authorization requests, denied consents,
 * backend-services token requests (granted or refused), refused code exchanges and refreshes, and
 * FHIR calls with an expired, revoked or missing token. Newest first, filtered, paged by keyset
 * (time, id): a page never repeats or skips a flow however many arrive meanwhile.
 */
import type { AuditRecord, Prisma } from '../generated/sqlite/client';
import { getDb } from '../db';
import { parseFacts } from '../audit/facts';
import { toGrant } from '../oauth/grant-store';
import { currentSandbox } from '../sandbox/context';
import type { AuditPosition } from './audit';
import { splitList } from './format';
import type { FlowRule } from './flow-rules';
import { refusalRuleOf } from './flow-rules';
import type { Flow, FlowParam, FlowStep } from './flows';
import { getFlow, requestOf } from './flows';

/** What a flow is. `launch`: an approved authorization (EHR or standalone) and all that followed it. */
export const FLOW_KINDS = ['launch', 'authorize', 'consent', 'token', 'refresh', 'backend', 'token-use'] as const;
export type FlowKind = (typeof FLOW_KINDS)[number];

export const FLOW_KIND_LABELS: Record<FlowKind, string> = {
  launch: 'Launch (authorized)',
  authorize: 'Authorization refused',
  consent: 'Consent denied',
  token: 'Code exchange refused',
  refresh: 'Refresh refused',
  backend: 'Backend services',
  'token-use': 'Expired or revoked token used',
};

export type FlowOutcome = 'ok' | 'failed';

/** One row of the flows list. `id` is the grant's id for launches, the audit record's otherwise. */
export interface FlowListItem {
  readonly id: string;
  readonly kind: FlowKind;
  readonly outcome: FlowOutcome;
  readonly at: Date;
  readonly clientId: string | null;
  readonly clientName: string | null;
  readonly userId: string | null;
  readonly patientId: string | null;
  readonly launchId: string | null;
  /** One line: what happened. */
  readonly summary: string;
  readonly errorCode: string | null;
  readonly rule: Pick<FlowRule, 'id' | 'title' | 'spec'> | null;
  readonly scope: string | null;
  /** Launches: the grant was revoked. */
  readonly revoked: boolean;
  readonly flags: readonly string[];
}

export interface FlowFilters {
  readonly clientId?: string;
  readonly userId?: string;
  readonly patientId?: string;
  readonly outcome?: FlowOutcome;
  readonly kind?: FlowKind;
}

/** Reads the list filters from query parameters (`client`, `user`, `patient`, `outcome`, `kind`); unknown values are ignored. */
export function parseFlowFilters(params: URLSearchParams | Record<string, string | string[] | undefined>): FlowFilters {
  const get = (name: string): string | undefined => {
    const v = params instanceof URLSearchParams ? params.get(name) : params[name];
    const text = Array.isArray(v) ? v[0] : (v ?? undefined);
    return text && text.trim() !== '' ? text.trim().slice(0, 200) : undefined;
  };
  const outcome = get('outcome');
  const kind = get('kind');
  return {
    ...(get('client') ? { clientId: get('client') } : {}),
    ...(get('user') ? { userId: get('user') } : {}),
    ...(get('patient') ? { patientId: get('patient') } : {}),
    ...(outcome === 'ok' || outcome === 'failed' ? { outcome } : {}),
    ...(kind && (FLOW_KINDS as readonly string[]).includes(kind) ? { kind: kind as FlowKind } : {}),
  };
}

// The audit records that start a flow of their own, per kind (the detail of a token request starts with its grant type).
const FAILED: Prisma.AuditRecordWhereInput = { OR: [{ errorCode: { not: null } }, { status: { gte: 400 } }] };
const EVENT_KINDS: Record<Exclude<FlowKind, 'launch'>, Prisma.AuditRecordWhereInput> = {
  authorize: { endpoint: '/oauth/authorize', ...FAILED },
  consent: { endpoint: { startsWith: '/interaction/' }, errorCode: { not: null }, method: 'POST' },
  token: {
    endpoint: '/oauth/token',
    ...FAILED,
    NOT: [{ detail: { startsWith: 'refresh_token' } }, { detail: { startsWith: 'client_credentials' } }],
  },
  refresh: { endpoint: '/oauth/token', detail: { startsWith: 'refresh_token' }, ...FAILED },
  backend: { endpoint: '/oauth/token', OR: [{ detail: { startsWith: 'client_credentials' } }, { detail: { startsWith: 'issued backend access token' } }] },
  'token-use': { kind: 'fhir', status: 401 },
};

function kindOfRecord(r: AuditRecord): Exclude<FlowKind, 'launch'> | null {
  const failed = r.errorCode !== null || r.status >= 400;
  const detail = r.detail ?? '';
  if (r.endpoint === '/oauth/authorize') return failed ? 'authorize' : null;
  if (r.endpoint.startsWith('/interaction/')) return r.method === 'POST' && r.errorCode !== null ? 'consent' : null;
  if (r.endpoint === '/oauth/token') {
    if (detail.startsWith('client_credentials') || detail.startsWith('issued backend access token')) return 'backend';
    if (!failed) return null;
    return detail.startsWith('refresh_token') ? 'refresh' : 'token';
  }
  if (r.kind === 'fhir' && r.status === 401) return 'token-use';
  return null;
}

const EVENT_SUMMARY: Record<Exclude<FlowKind, 'launch'>, (r: AuditRecord) => string> = {
  authorize: (r) => `GET /oauth/authorize refused: ${r.errorCode ?? r.status}`,
  consent: () => 'The user denied the authorization on the consent screen',
  token: (r) => `Token request refused: ${r.errorCode ?? r.status}`,
  refresh: (r) => `Refresh refused: ${r.errorCode ?? r.status}`,
  backend: (r) =>
    r.status < 400 ? `Backend access token issued${r.scopes ? ` (${r.scopes})` : ''}` : `Backend token request refused: ${r.errorCode ?? r.status}`,
  'token-use': (r) => `${r.method} ${r.endpoint.slice(0, 80)} refused: ${(r.detail ?? '').replace(/^[a-z-]+: /, '')}`,
};

async function clientNames(ids: readonly (string | null)[]): Promise<Map<string, string>> {
  const wanted = [...new Set(ids.filter((id): id is string => id !== null))];
  if (!wanted.length) return new Map();
  const rows = await getDb().client.findMany({ where: { clientId: { in: wanted } }, select: { clientId: true, name: true } });
  return new Map(rows.map((c) => [c.clientId, c.name]));
}

/** How many access tokens each grant got by refreshing (its refresh chain). */
async function refreshCounts(grantIds: readonly string[]): Promise<Map<string, number>> {
  if (!grantIds.length) return new Map();
  const rows = await getDb().token.groupBy({
    by: ['grantId'],
    where: { grantId: { in: [...grantIds] }, kind: 'access', parentId: { not: null } },
    _count: { _all: true },
  });
  return new Map(rows.flatMap((r) => (r.grantId ? [[r.grantId, r._count._all] as const] : [])));
}

function refreshSummary(n: number): string {
  return n === 0 ? '' : `; refreshed ${n} time${n === 1 ? '' : 's'}`;
}

function eventItem(r: AuditRecord, kind: Exclude<FlowKind, 'launch'>, names: Map<string, string>): FlowListItem {
  const rule = refusalRuleOf(r);
  return {
    id: r.id,
    kind,
    outcome: r.errorCode !== null || r.status >= 400 ? 'failed' : 'ok',
    at: r.at,
    clientId: r.clientId,
    clientName: r.clientId ? (names.get(r.clientId) ?? null) : null,
    userId: r.userId,
    patientId: r.patientId,
    launchId: r.launchId,
    summary: EVENT_SUMMARY[kind](r),
    errorCode: r.errorCode,
    rule: rule ? { id: rule.id, title: rule.title, spec: rule.spec } : null,
    scope: r.scopes,
    revoked: false,
    flags: splitList(r.flags),
  };
}

function auditBefore(position: AuditPosition | null | undefined): Prisma.AuditRecordWhereInput[] {
  return position ? [{ OR: [{ at: { lt: position.at } }, { at: position.at, id: { lt: position.id } }] }] : [];
}

function grantBefore(position: AuditPosition | null | undefined): Prisma.GrantWhereInput[] {
  return position ? [{ OR: [{ createdAt: { lt: position.at } }, { createdAt: position.at, id: { lt: position.id } }] }] : [];
}

/**
 * One page of flows, newest first. `before` is the position of the last flow of the previous page
 * (encodeAuditPosition of its `at` and `id`); `next` continues after this page while a full page came back.
 */
export async function listAllFlows(
  filters: FlowFilters = {},
  options: { sandboxId?: string; limit?: number; before?: AuditPosition | null } = {},
): Promise<{ items: FlowListItem[]; next: AuditPosition | null }> {
  const db = getDb();
  const sandboxId = options.sandboxId ?? currentSandbox().id;
  const limit = Math.min(Math.max(options.limit ?? 50, 1), 500);
  const wantLaunches = (filters.kind === undefined || filters.kind === 'launch') && filters.outcome !== 'failed';
  const eventKinds = (Object.keys(EVENT_KINDS) as Exclude<FlowKind, 'launch'>[]).filter((k) => filters.kind === undefined || filters.kind === k);

  const grants = wantLaunches
    ? await db.grant.findMany({
        where: {
          sandboxId,
          ...(filters.clientId ? { clientId: filters.clientId } : {}),
          ...(filters.userId ? { userId: filters.userId } : {}),
          // The context is stored as JSON.stringify output: `"patient":"<id>"` names the patient exactly.
          ...(filters.patientId ? { context: { contains: `"patient":${JSON.stringify(filters.patientId)}` } } : {}),
          AND: grantBefore(options.before),
        },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit,
      })
    : [];

  const records = eventKinds.length
    ? await db.auditRecord.findMany({
        where: {
          sandboxId,
          OR: eventKinds.map((k) => EVENT_KINDS[k]),
          AND: [
            ...auditBefore(options.before),
            ...(filters.outcome === 'failed' ? [FAILED] : filters.outcome === 'ok' ? [{ errorCode: null, status: { lt: 400 } }] : []),
          ],
          ...(filters.clientId ? { clientId: filters.clientId } : {}),
          ...(filters.userId ? { userId: filters.userId } : {}),
          ...(filters.patientId ? { patientId: filters.patientId } : {}),
        },
        orderBy: [{ at: 'desc' }, { id: 'desc' }],
        take: limit,
      })
    : [];

  const [names, refreshed] = await Promise.all([
    clientNames([...grants.map((g) => g.clientId), ...records.map((r) => r.clientId)]),
    refreshCounts(grants.map((g) => g.id)),
  ]);
  const launches: FlowListItem[] = grants.map((row) => {
    const g = toGrant(row);
    return {
      id: g.id,
      kind: 'launch',
      outcome: 'ok',
      at: g.createdAt,
      clientId: g.clientId,
      clientName: names.get(g.clientId) ?? null,
      userId: g.userId,
      patientId: g.context.patient,
      launchId: g.launchId,
      summary: `${g.context.launchKind} launch authorized${g.launchId ? ' from the EHR' : ''}${refreshSummary(refreshed.get(g.id) ?? 0)}`,
      errorCode: null,
      rule: null,
      scope: g.scope,
      revoked: g.revoked,
      flags: [],
    };
  });
  const events = records.flatMap((r) => {
    const kind = kindOfRecord(r);
    return kind ? [eventItem(r, kind, names)] : [];
  });
  const newestFirst = (a: FlowListItem, b: FlowListItem) => b.at.getTime() - a.at.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
  const items = [...launches, ...events].sort(newestFirst).slice(0, limit);
  const last = items[items.length - 1];
  // A full page may have more after it in either source.
  const full = items.length === limit;
  return { items, next: full && last ? { at: last.at, id: last.id } : null };
}

export interface FlowFailure {
  /** The step that failed (its key in `steps`). */
  readonly stepKey: string;
  readonly rule: FlowRule;
  readonly errorCode: string | null;
  /** The server's error_description, as recorded. */
  readonly description: string;
}

/** A flow as the flow page and the exports show it: its steps in order and, when it failed, why. */
export interface FlowDocument {
  readonly id: string;
  readonly kind: FlowKind;
  readonly outcome: FlowOutcome;
  readonly at: Date;
  readonly title: string;
  readonly clientId: string | null;
  readonly clientName: string | null;
  readonly userId: string | null;
  readonly patientId: string | null;
  readonly launchId: string | null;
  /** The grant of a launch, or the grant a refused refresh or code exchange belonged to. */
  readonly grantId: string | null;
  readonly steps: readonly FlowStep[];
  readonly notes: readonly string[];
  /** The first failed step and the rule it broke; null when nothing failed. */
  readonly failure: FlowFailure | null;
  /** The grant flow this document was built from (launches only). */
  readonly grantFlow: Flow | null;
}

function failureOf(steps: readonly FlowStep[]): FlowFailure | null {
  const failed = steps.find((s) => s.outcome === 'error' && s.rule);
  if (!failed?.rule) return null;
  return { stepKey: failed.key, rule: failed.rule, errorCode: failed.errorCode ?? null, description: failed.errorDescription ?? failed.summary };
}

/** The flow with this id (a grant's id, or the id of the audit record a flow of another kind starts with), or null. */
export async function getFlowDocument(id: string, options: { origin: string; sandboxId?: string; now?: Date }): Promise<FlowDocument | null> {
  const sandboxId = options.sandboxId ?? currentSandbox().id;
  const grantFlow = await getFlow(id, { ...options, sandboxId });
  if (grantFlow) {
    const s = grantFlow.summary;
    const failure = failureOf(grantFlow.steps);
    return {
      id,
      kind: 'launch',
      // An approved authorization is a launch that happened; a refused step inside it is shown as its failure.
      outcome: 'ok',
      at: s.createdAt,
      title: `${s.clientName ?? s.clientId}: ${s.launchKind} launch`,
      clientId: s.clientId,
      clientName: s.clientName,
      userId: s.userId,
      patientId: s.patientId,
      launchId: s.launchId,
      grantId: s.grantId,
      steps: grantFlow.steps,
      notes: grantFlow.notes,
      failure,
      grantFlow,
    };
  }
  const db = getDb();
  const record = await db.auditRecord.findFirst({ where: { id, sandboxId } });
  if (!record) return null;
  const kind = kindOfRecord(record);
  if (!kind) return null;
  const names = await clientNames([record.clientId]);
  const item = eventItem(record, kind, names);
  const built = await EVENT_STEPS[kind](record, { ...options, sandboxId });
  return {
    id,
    kind,
    outcome: item.outcome,
    at: record.at,
    title: `${item.clientName ?? item.clientId ?? 'unknown client'}: ${FLOW_KIND_LABELS[kind].toLowerCase()}`,
    clientId: record.clientId,
    clientName: item.clientName,
    userId: record.userId,
    patientId: record.patientId,
    launchId: record.launchId,
    grantId: parseFacts(record.facts).grantId ?? (await grantOfToken(parseFacts(record.facts).tokenId)),
    steps: built.steps,
    notes: built.notes,
    failure: failureOf(built.steps),
    grantFlow: null,
  };
}

interface BuildOptions {
  origin: string;
  sandboxId: string;
}
type Built = { steps: FlowStep[]; notes: string[] };

/** A step made of one audit record: outcome, error, rule and the record's link. */
export function recordStep(
  r: AuditRecord,
  partial: Pick<FlowStep, 'key' | 'kind' | 'from' | 'to' | 'label' | 'title' | 'summary'> & { params?: FlowParam[] },
): FlowStep {
  const failed = r.errorCode !== null || r.status >= 400;
  const rule = failed ? refusalRuleOf(r) : null;
  const flags = splitList(r.flags);
  return {
    params: [],
    ...partial,
    at: r.at,
    outcome: failed ? 'error' : flags.length ? 'warning' : 'ok',
    auditId: r.id,
    flags,
    request: requestOf(r),
    response: { status: r.status, errorCode: r.errorCode, detail: r.detail, resultCount: r.resultCount },
    ...(rule ? { rule, errorCode: r.errorCode, errorDescription: r.detail ?? '' } : {}),
  };
}

function authorizeParamsOf(r: AuditRecord): FlowParam[] {
  const params = parseFacts(r.facts).authorizeParams ?? {};
  return Object.entries(params).map(([name, value]) => ({ name, value, explanation: 'As the app sent it.' }));
}

const EVENT_STEPS: Record<Exclude<FlowKind, 'launch'>, (r: AuditRecord, o: BuildOptions) => Promise<Built>> = {
  async authorize(r) {
    const redirected = r.status === 302 || r.status === 303;
    const steps = [
      recordStep(r, {
        key: 'authorize',
        kind: 'authorize',
        from: 'app',
        to: 'auth',
        label: 'GET /oauth/authorize',
        title: 'Authorization request',
        summary: `The server refused the authorization request with ${r.errorCode ?? r.status}: ${r.detail ?? ''}`,
        params: authorizeParamsOf(r),
      }),
    ];
    steps.push({
      key: 'authorize-error',
      kind: 'other',
      at: r.at,
      from: 'auth',
      to: redirected ? 'app' : 'browser',
      label: redirected ? `${r.status} redirect_uri?error=${r.errorCode ?? ''}` : `${r.status} error page`,
      title: redirected ? 'Error sent back to the app' : 'Error page shown to the user',
      outcome: 'info',
      summary: redirected
        ? 'The client and redirect URI were known, so the error went back to the app’s redirect URI with error, error_description, state and iss (RFC 6749 §4.1.2.1).'
        : 'The client or the redirect URI could not be trusted, so the server showed an error page instead of redirecting (RFC 6749 §4.1.2.1): the app never hears of this failure.',
      params: [],
      auditId: null,
      flags: [],
    });
    return { steps, notes: [] };
  },
  async consent(r) {
    const db = getDb();
    const interactionId = r.endpoint.split('/')[2] ?? '';
    const authorize = await db.auditRecord.findFirst({
      where: { sandboxId: r.sandboxId, endpoint: '/oauth/authorize', detail: { startsWith: `interaction ${interactionId}` } },
    });
    const steps: FlowStep[] = [];
    if (authorize)
      steps.push(
        recordStep(authorize, {
          key: 'authorize',
          kind: 'authorize',
          from: 'app',
          to: 'auth',
          label: 'GET /oauth/authorize',
          title: 'Authorization request',
          summary: 'The server accepted the request and sent the browser to sign-in and consent.',
          params: authorizeParamsOf(authorize),
        }),
      );
    steps.push(
      recordStep(r, {
        key: 'consent',
        kind: 'consent',
        from: 'browser',
        to: 'auth',
        label: 'deny',
        title: 'Consent denied',
        summary: `The user refused the app's request for: ${r.scopes ?? '(scopes not recorded)'}.`,
      }),
    );
    steps.push({
      key: 'consent-error',
      kind: 'other',
      at: r.at,
      from: 'auth',
      to: 'app',
      label: '303 redirect_uri?error=access_denied',
      title: 'Error sent back to the app',
      outcome: 'info',
      summary: 'The browser returns to the redirect URI with error=access_denied, the state and iss.',
      params: [],
      auditId: null,
      flags: [],
    });
    return { steps, notes: [] };
  },
  async token(r) {
    return { steps: [tokenStep(r, 'Token request (authorization code)')], notes: grantNote(r) };
  },
  async refresh(r) {
    return { steps: [tokenStep(r, 'Refresh')], notes: grantNote(r) };
  },
  async backend(r) {
    const steps = [tokenStep(r, 'Token request (client_credentials)')];
    const tokenId = parseFacts(r.facts).tokenId;
    if (tokenId && r.status < 400) {
      const calls = await fhirCallsOfToken(r.sandboxId, tokenId, r.at);
      for (const c of calls) steps.push(fhirStep(c));
    }
    return {
      steps,
      notes: r.status < 400 && !parseFacts(r.facts).tokenId ? ['This token request was recorded before tokens were linked to their FHIR calls.'] : [],
    };
  },
  async 'token-use'(r) {
    return { steps: [fhirStep(r)], notes: [] };
  },
};

async function grantOfToken(tokenId: string | undefined): Promise<string | null> {
  if (!tokenId) return null;
  return (await getDb().token.findUnique({ where: { id: tokenId }, select: { grantId: true } }))?.grantId ?? null;
}

function grantNote(r: AuditRecord): string[] {
  const grantId = parseFacts(r.facts).grantId;
  return grantId ? [`This request presented a code or refresh token of grant ${grantId}: its launch flow shows what came before.`] : [];
}

function tokenStep(r: AuditRecord, title: string): FlowStep {
  const facts = parseFacts(r.facts);
  return recordStep(r, {
    key: `token-${r.id}`,
    kind: facts.grantType === 'refresh_token' ? 'refresh' : 'token-request',
    from: 'app',
    to: 'auth',
    label: `POST /oauth/token (${facts.grantType ?? 'grant'})`,
    title,
    summary: r.status < 400 ? (r.detail ?? 'Token issued.') : `${r.status} ${r.errorCode ?? ''}: ${r.detail ?? ''}`,
    params: [
      ...(facts.grantType ? [{ name: 'grant_type', value: facts.grantType, explanation: 'As the app sent it.' }] : []),
      ...(facts.authMethod ? [{ name: 'client authentication', value: facts.authMethod, explanation: 'How the client proved who it is.' }] : []),
      ...(facts.assertionLifetimeSeconds !== undefined
        ? [
            {
              name: 'assertion lifetime',
              value: `${facts.assertionLifetimeSeconds} s`,
              explanation: 'exp − iat of the client assertion: at most 300 s (SMART App Launch 2.2 §backend-services).',
            },
          ]
        : []),
      ...(r.scopes ? [{ name: 'scope', value: r.scopes, explanation: r.status < 400 ? 'Granted.' : 'Requested.' }] : []),
    ],
  });
}

/** A FHIR call as a step. */
export function fhirStep(r: AuditRecord): FlowStep {
  return recordStep(r, {
    key: `fhir-${r.id}`,
    kind: 'fhir',
    from: 'app',
    to: 'fhir',
    label: `${r.method} ${r.endpoint.replace(/^\/fhir/, '')}`.slice(0, 60),
    title: `FHIR ${r.method} ${r.endpoint}`,
    summary: `${r.status}${r.errorCode ? ` ${r.errorCode}` : ''}${r.resultCount !== null ? `, ${r.resultCount} result(s)` : ''} — ${r.detail ?? ''}${r.scopes ? ` (scopes used: ${r.scopes})` : ''}`,
  });
}

/** The FHIR calls made with one access token (the audit trail records the jti of the token presented), oldest first. */
export async function fhirCallsOfToken(sandboxId: string, tokenId: string, from: Date): Promise<AuditRecord[]> {
  const token = await getDb().token.findUnique({ where: { id: tokenId }, select: { clientId: true, expiresAt: true } });
  if (!token) return [];
  const rows = await getDb().auditRecord.findMany({
    where: { sandboxId, kind: 'fhir', clientId: token.clientId, at: { gte: from, lte: new Date(token.expiresAt.getTime() + 60_000) } },
    orderBy: [{ at: 'asc' }, { id: 'asc' }],
    take: 2000,
  });
  return rows.filter((row) => parseFacts(row.facts).tokenId === tokenId);
}
