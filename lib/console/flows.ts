/**
 * Flow reconstruction: for one grant (one authorization), the whole exchange in order — EHR launch,
 * authorize request, sign-in, patient pick, consent, code, token request with its PKCE check, the
 * token response, then each FHIR call with its scope decision — rebuilt from AuditRecord rows (same
 * launch, or same client in the grant's time window) and the Launch, Grant, AuthCode and Token rows.
 * Secrets are never available here (codes and refresh tokens are stored hashed), and shown masked.
 */
import type { AuditRecord } from '../generated/sqlite/client';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { getDb } from '../db';
import type { GrantRecord } from '../oauth/grant-store';
import { toGrant } from '../oauth/grant-store';
import { currentSandbox } from '../sandbox/context';
import { parseScopeString } from '../smart/scopes';
import { splitList } from './format';
import type { FlowRule } from './flow-rules';
import { refusalRuleOf } from './flow-rules';
import { parseFacts } from '../audit/facts';
import { parsePkceAuditNote } from '../oauth/pkce';
import { evaluatePlaygroundRequest } from './scope-playground';
import { explainParsedScope } from './scope-explain';
import { accessTokenClaimsOf, tokenStatus } from './tokens';
import { sandboxNow } from '../sandbox/context';

/** The parties of a SMART launch, left to right in the sequence diagram. */
export const LANES = ['ehr', 'browser', 'app', 'auth', 'fhir'] as const;
export type Lane = (typeof LANES)[number];
export const LANE_LABELS: Record<Lane, string> = {
  ehr: 'EHR (launcher)',
  browser: 'User / browser',
  app: 'SMART app',
  auth: 'Authorization server',
  fhir: 'FHIR server',
};

export interface FlowParam {
  readonly name: string;
  readonly value: string;
  readonly explanation: string;
}

export interface FlowStep {
  readonly key: string;
  readonly kind:
    'launch' | 'authorize' | 'sign-in' | 'patient' | 'consent' | 'code' | 'token-request' | 'token-response' | 'fhir' | 'refresh' | 'revoke' | 'other';
  readonly at: Date | null;
  readonly from: Lane;
  readonly to: Lane;
  /** Arrow label in the sequence diagram. */
  readonly label: string;
  readonly title: string;
  readonly outcome: 'ok' | 'error' | 'info' | 'warning';
  readonly summary: string;
  readonly params: readonly FlowParam[];
  readonly auditId: string | null;
  readonly flags: readonly string[];
  /** PKCE check of the token request. */
  readonly pkce?: { verifier: string; verifierSha256: string; storedChallenge: string; method: string; match: 'yes' | 'no' | 'unknown'; explanation: string };
  /** Decoded token response. */
  readonly tokenResponse?: { header: Record<string, string>; claims: Record<string, string | number>; extras: FlowParam[] };
  /** FHIR call: the access decision. */
  readonly decision?: { verdict: string; summary: string; reasons: readonly string[] };
  /** The request as the audit trail recorded it (credentials in the query already redacted). */
  readonly request?: FlowRequest;
  /** The response as the audit trail recorded it. */
  readonly response?: { readonly status: number; readonly errorCode: string | null; readonly detail: string | null; readonly resultCount: number | null };
  /** A refused step: the rule it broke, the error code and the server's description. */
  readonly rule?: FlowRule;
  readonly errorCode?: string | null;
  readonly errorDescription?: string;
}

/** A request as the audit trail kept it: method, path with query, and what it recorded of how it was made. */
export interface FlowRequest {
  readonly method: string;
  readonly path: string;
  /** /oauth/authorize: the parameters sent (without state and nonce). */
  readonly query?: Readonly<Record<string, string>>;
  /** /oauth/token: the grant type and the client authentication method. */
  readonly grantType?: string;
  readonly authMethod?: string;
  /** FHIR: the Accept header sent. */
  readonly accept?: string | null;
  /** /oauth/token: the access token issued; FHIR: the one presented (jti). */
  readonly tokenId?: string;
}

/** The request of an audit record, with the facts that describe it. */
export function requestOf(r: AuditRecord): FlowRequest {
  const f = parseFacts(r.facts);
  return {
    method: r.method,
    path: r.endpoint,
    ...(f.authorizeParams ? { query: f.authorizeParams } : {}),
    ...(f.grantType ? { grantType: f.grantType } : {}),
    ...(f.authMethod ? { authMethod: f.authMethod } : {}),
    ...(f.accept !== undefined ? { accept: f.accept } : {}),
    ...(f.tokenId ? { tokenId: f.tokenId } : {}),
  };
}

export interface FlowSummary {
  readonly grantId: string;
  readonly clientId: string;
  readonly clientName: string | null;
  readonly userId: string | null;
  readonly patientId: string | null;
  readonly launchId: string | null;
  readonly launchKind: string;
  readonly createdAt: Date;
  readonly revoked: boolean;
  readonly scope: string;
}

export interface Flow {
  readonly summary: FlowSummary;
  readonly grant: GrantRecord;
  readonly steps: readonly FlowStep[];
  readonly notes: readonly string[];
}

/** Grants of the sandbox, newest first: one flow each. */
export async function listFlows(options: { sandboxId?: string; clientId?: string; limit?: number } = {}): Promise<FlowSummary[]> {
  const db = getDb();
  const rows = await db.grant.findMany({
    where: { sandboxId: options.sandboxId ?? currentSandbox().id, ...(options.clientId ? { clientId: options.clientId } : {}) },
    orderBy: { createdAt: 'desc' },
    take: Math.min(options.limit ?? 100, 500),
  });
  const names = new Map(
    (await db.client.findMany({ where: { clientId: { in: [...new Set(rows.map((r) => r.clientId))] } }, select: { clientId: true, name: true } })).map((c) => [
      c.clientId,
      c.name,
    ]),
  );
  return rows.map((r) => summaryOf(toGrant(r), names.get(r.clientId) ?? null));
}

function summaryOf(g: GrantRecord, clientName: string | null): FlowSummary {
  return {
    grantId: g.id,
    clientId: g.clientId,
    clientName,
    userId: g.userId,
    patientId: g.context.patient,
    launchId: g.launchId,
    launchKind: g.context.launchKind,
    createdAt: g.createdAt,
    revoked: g.revoked,
    scope: g.scope,
  };
}

const AUTHORIZE_PARAMS: Record<string, string> = {
  response_type: 'Always "code": the authorization code flow (RFC 6749 §4.1).',
  client_id: 'Which registered app is asking.',
  redirect_uri: 'Where the browser returns with the code; must exactly match a registered URI.',
  scope: 'What the app asks for; the user may approve less.',
  state: 'Random value the app checks on return, against CSRF (RFC 6749 §10.12). Not kept by the server after use.',
  aud: "The FHIR server the token is for; must be this sandbox's FHIR base (SMART App Launch 2.2 §app-launch).",
  launch: 'The opaque EHR launch id from the launch URL: binds the authorization to the EHR context.',
  code_challenge: 'BASE64URL(SHA256(code_verifier)): proves later that the same app redeems the code (RFC 7636).',
  code_challenge_method: 'Always S256 here (plain is refused).',
  nonce: 'OpenID Connect: echoed in the id_token so the app can detect replays.',
};

function step(partial: Omit<FlowStep, 'params' | 'auditId' | 'flags'> & Partial<Pick<FlowStep, 'params' | 'auditId' | 'flags'>>): FlowStep {
  return { params: [], auditId: null, flags: [], ...partial };
}

function outcomeOf(r: AuditRecord): FlowStep['outcome'] {
  if (r.flags) return 'warning';
  return r.status >= 400 ? 'error' : 'ok';
}

/** The whole flow of one grant, or null when the grant is unknown. */
export async function getFlow(grantId: string, options: { origin: string; sandboxId?: string; now?: Date }): Promise<Flow | null> {
  const db = getDb();
  const now = options.now ?? sandboxNow();
  const row = await db.grant.findFirst({ where: { id: grantId, sandboxId: options.sandboxId ?? currentSandbox().id } });
  if (!row) return null;
  const grant = toGrant(row);
  const [client, launch, codes, tokens, nextGrant] = await Promise.all([
    db.client.findUnique({ where: { clientId: grant.clientId }, select: { name: true } }),
    grant.launchId ? db.launch.findUnique({ where: { id: grant.launchId } }) : Promise.resolve(null),
    db.authCode.findMany({ where: { grantId }, orderBy: { createdAt: 'asc' } }),
    db.token.findMany({ where: { grantId }, orderBy: [{ issuedAt: 'asc' }, { kind: 'asc' }] }),
    db.grant.findFirst({ where: { clientId: grant.clientId, createdAt: { gt: grant.createdAt } }, orderBy: { createdAt: 'asc' }, select: { createdAt: true } }),
  ]);
  const notes: string[] = [];
  const start = new Date((launch?.createdAt ?? grant.createdAt).getTime() - (launch ? 1000 : 15 * 60 * 1000));
  const end = nextGrant?.createdAt ?? now;
  const tokenIds = tokens.map((t) => t.id);

  const candidates = await db.auditRecord.findMany({
    where: {
      sandboxId: grant.sandboxId,
      OR: [...(grant.launchId ? [{ launchId: grant.launchId }] : []), { clientId: grant.clientId, at: { gte: start, lte: end } }],
    },
    orderBy: [{ at: 'asc' }, { id: 'asc' }],
    take: 2000,
  });

  // The consent record (POST /interaction/{id}) closest to the grant's creation names the interaction, which names the authorize request.
  const consent = candidates
    .filter((r) => r.endpoint.startsWith('/interaction/') && r.method === 'POST' && r.clientId === grant.clientId && r.errorCode === null)
    .sort((a, b) => Math.abs(a.at.getTime() - grant.createdAt.getTime()) - Math.abs(b.at.getTime() - grant.createdAt.getTime()))[0];
  const interactionId = consent?.endpoint.split('/')[2] ?? null;
  const authorize =
    (interactionId ? candidates.find((r) => r.endpoint === '/oauth/authorize' && (r.detail ?? '').startsWith(`interaction ${interactionId}`)) : undefined) ??
    [...candidates].reverse().find((r) => r.endpoint === '/oauth/authorize' && r.at <= grant.createdAt && r.status < 400);

  const belongs = (r: AuditRecord): boolean => {
    if (grant.launchId && r.launchId === grant.launchId) return true;
    if (r.clientId !== grant.clientId) return false;
    if (r.kind === 'fhir') {
      // The token presented, when recorded, decides; older records are matched by client, user and patient.
      const tokenId = parseFacts(r.facts).tokenId;
      if (tokenId) return tokenIds.includes(tokenId);
      return grant.launchId === null && r.patientId === grant.context.patient && r.userId === grant.userId;
    }
    if (r.kind === 'console') return tokenIds.some((id) => r.endpoint.includes(id));
    if (r.endpoint === '/oauth/token') {
      // The grant of the code or refresh token presented, when recorded, decides.
      const grantId = parseFacts(r.facts).grantId;
      if (grantId) return grantId === grant.id;
      return r.launchId === grant.launchId && r.userId === grant.userId && r.at >= grant.createdAt;
    }
    return false;
  };
  const records = candidates.filter((r) => r !== authorize && r !== consent && belongs(r));
  if (!grant.launchId)
    notes.push(
      "Standalone launch: FHIR calls are matched by client, user and patient within the grant's time window, so calls of another authorization of the same app and user may appear.",
    );

  const steps: FlowStep[] = [];
  const launchOptions = (() => {
    try {
      return launch ? (JSON.parse(launch.options) as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  })();

  // 1. EHR launch.
  if (launch) {
    steps.push(
      step({
        key: 'launch',
        kind: 'launch',
        at: launch.createdAt,
        from: 'ehr',
        to: 'app',
        label: 'open launch URL ?iss&launch',
        title: 'EHR launch',
        outcome: 'ok',
        summary: "The EHR stored the launch context server-side under an opaque id and opened the app's launch URL with iss and launch.",
        params: [
          { name: 'iss', value: `${options.origin}/fhir`, explanation: 'The FHIR base: the app fetches .well-known/smart-configuration from it.' },
          { name: 'launch', value: launch.id, explanation: 'Opaque, single-use, bound to this client; the app passes it back to /oauth/authorize.' },
          { name: 'patient (server-side)', value: launch.patientId ?? '—', explanation: 'Patient open in the EHR.' },
          { name: 'encounter (server-side)', value: launch.encounterId ?? '—', explanation: 'Encounter open in the EHR.' },
          { name: 'user (server-side)', value: launch.userId ?? '—', explanation: 'EHR user the launch was made for.' },
          ...Object.entries(launchOptions).map(([k, v]) => ({
            name: `option ${k}`,
            value: JSON.stringify(v),
            explanation: 'Launch option (simulated errors and token response extras).',
          })),
        ],
      }),
    );
  }

  // 2. Authorization request.
  const code = codes[0];
  const requested = authorize?.scopes ?? null;
  steps.push(
    step({
      key: 'authorize',
      kind: 'authorize',
      at: authorize?.at ?? null,
      from: 'app',
      to: 'auth',
      label: 'GET /oauth/authorize',
      title: 'Authorization request',
      outcome: authorize ? outcomeOf(authorize) : 'info',
      summary: authorize
        ? `The app sent the browser to /oauth/authorize; the server validated every parameter and answered ${authorize.status} to the sign-in screen.${authorize.detail?.includes('not grantable') ? ` ${authorize.detail.replace(/^interaction \S+; /, '')}.` : ''}`
        : 'No audit record of the authorization request was found (it may be older than the audit trail).',
      params: [
        { name: 'response_type', value: 'code', explanation: AUTHORIZE_PARAMS.response_type ?? '' },
        { name: 'client_id', value: grant.clientId, explanation: AUTHORIZE_PARAMS.client_id ?? '' },
        { name: 'redirect_uri', value: code?.redirectUri ?? '(not recorded)', explanation: AUTHORIZE_PARAMS.redirect_uri ?? '' },
        { name: 'scope', value: requested ?? '(not recorded; granted scope below)', explanation: AUTHORIZE_PARAMS.scope ?? '' },
        { name: 'state', value: '(sent by the app, returned unchanged)', explanation: AUTHORIZE_PARAMS.state ?? '' },
        { name: 'aud', value: `${options.origin}/fhir`, explanation: AUTHORIZE_PARAMS.aud ?? '' },
        ...(grant.launchId ? [{ name: 'launch', value: grant.launchId, explanation: AUTHORIZE_PARAMS.launch ?? '' }] : []),
        { name: 'code_challenge', value: code?.codeChallenge ?? '(none: PKCE not used)', explanation: AUTHORIZE_PARAMS.code_challenge ?? '' },
        { name: 'code_challenge_method', value: code?.codeChallengeMethod ?? '—', explanation: AUTHORIZE_PARAMS.code_challenge_method ?? '' },
        { name: 'nonce', value: code?.nonce ? '(present)' : '(absent)', explanation: AUTHORIZE_PARAMS.nonce ?? '' },
      ],
      auditId: authorize?.id ?? null,
      flags: splitList(authorize?.flags),
    }),
  );

  // 3. Sign-in, 4. patient, 5. consent.
  steps.push(
    step({
      key: 'sign-in',
      kind: 'sign-in',
      at: consent?.at ?? grant.createdAt,
      from: 'browser',
      to: 'auth',
      label: 'sign in',
      title: 'Sign-in',
      outcome: grant.userId ? 'ok' : 'info',
      summary: grant.userId
        ? `The user signed in as ${grant.userId}${grant.context.fhirUser ? ` (fhirUser ${grant.context.fhirUser})` : ''}.`
        : 'No user (backend or anonymous grant).',
    }),
  );
  const patientFromLaunch = launch?.patientId && launch.patientId === grant.context.patient;
  steps.push(
    step({
      key: 'patient',
      kind: 'patient',
      at: consent?.at ?? grant.createdAt,
      from: 'browser',
      to: 'auth',
      label: grant.context.patient ? `patient ${grant.context.patient}` : 'no patient',
      title: 'Patient selection',
      outcome: grant.context.patient ? 'ok' : 'info',
      summary: grant.context.patient
        ? patientFromLaunch
          ? `Patient ${grant.context.patient} came from the EHR launch context (no picker shown).`
          : `The user picked patient ${grant.context.patient} in the patient picker.`
        : 'No patient in context: patient/ scopes grant nothing without one.',
      params: grant.context.encounter ? [{ name: 'encounter', value: grant.context.encounter, explanation: 'Encounter in context.' }] : [],
    }),
  );
  const dropped = consent?.detail?.match(/not granted: (.*)$/)?.[1] ?? null;
  steps.push(
    step({
      key: 'consent',
      kind: 'consent',
      at: consent?.at ?? grant.createdAt,
      from: 'browser',
      to: 'auth',
      label: 'approve scopes',
      title: 'Consent',
      outcome: consent ? outcomeOf(consent) : 'info',
      summary: `The user approved: ${grant.scope}${dropped ? `. Not granted: ${dropped}` : ''}.`,
      params: parseScopeString(grant.scope).scopes.map((s) => {
        const e = explainParsedScope(s);
        return { name: e.scope, value: e.version ? `SMART v${e.version}` : e.kind, explanation: e.explanation };
      }),
      auditId: consent?.id ?? null,
    }),
  );

  // 6. Code.
  if (code) {
    steps.push(
      step({
        key: 'code',
        kind: 'code',
        at: code.createdAt,
        from: 'auth',
        to: 'app',
        label: '303 redirect_uri?code&state',
        title: 'Authorization code issued',
        outcome: 'ok',
        summary: `A single-use code valid ${Math.round((code.expiresAt.getTime() - code.createdAt.getTime()) / 1000)} s was sent back through the browser to the redirect URI with state and iss. ${code.used ? 'It has been redeemed.' : 'It was never redeemed.'}`,
        params: [
          {
            name: 'code',
            value: `•••• (stored only as SHA-256 ${code.codeHash.slice(0, 10)}…)`,
            explanation: 'Useless without the PKCE verifier, and single-use: a second use revokes everything it produced.',
          },
          { name: 'redirect_uri', value: code.redirectUri, explanation: 'The token request must send the same value.' },
          { name: 'iss', value: options.origin, explanation: 'RFC 9207: lets the app check which server answered (mix-up defence).' },
        ],
      }),
    );
  }

  // 7–8. Token request(s) and responses, then FHIR calls, refreshes and revocations, in time order.
  const firstAccess = tokens.find((t) => t.kind === 'access' && t.parentId === null);
  const firstRefresh = tokens.find((t) => t.kind === 'refresh' && t.parentId === null);
  let codeExchangeSeen = false;
  for (const r of records) {
    const flags = splitList(r.flags);
    if (r.endpoint === '/oauth/token') {
      const detail = r.detail ?? '';
      const isCode = !codeExchangeSeen && (detail.startsWith('authorization_code') || detail.startsWith('issued access token'));
      if (isCode && !flags.includes('code-replay')) {
        codeExchangeSeen = r.status < 400;
        const noted = parsePkceAuditNote(r.detail);
        const pkceFailed = r.status >= 400 && /code_verifier/.test(r.detail ?? '');
        const challenge = code?.codeChallenge ?? null;
        steps.push(
          step({
            key: `token-${r.id}`,
            kind: 'token-request',
            at: r.at,
            from: 'app',
            to: 'auth',
            label: 'POST /oauth/token (code + verifier)',
            title: 'Token request',
            outcome: outcomeOf(r),
            summary:
              r.status < 400
                ? "The app exchanged the code for tokens; the server checked the client, the redirect URI, the code (unused, unexpired, this client's) and PKCE."
                : `The token request failed: ${r.errorCode ?? r.status} — ${r.detail ?? ''}`,
            params: [
              { name: 'grant_type', value: 'authorization_code', explanation: 'Redeem an authorization code.' },
              { name: 'code', value: '•••• (masked)', explanation: 'The code from the redirect.' },
              { name: 'redirect_uri', value: code?.redirectUri ?? '—', explanation: 'Must equal the one of the authorization request.' },
              {
                name: 'client authentication',
                value: r.detail?.includes('private_key_jwt') ? 'private_key_jwt' : '(per client registration)',
                explanation: 'Public apps send client_id only; confidential ones a secret or a signed assertion.',
              },
            ],
            auditId: r.id,
            flags,
            ...(challenge
              ? {
                  pkce: {
                    verifier: noted?.maskedVerifier ?? '(not recorded: the server never stores the verifier)',
                    verifierSha256: noted?.sha256 ?? (r.status < 400 ? `${challenge} (implied: the server accepted the verifier)` : '(unknown)'),
                    storedChallenge: challenge,
                    method: code?.codeChallengeMethod ?? 'S256',
                    match: noted ? (noted.sha256 === challenge ? 'yes' : 'no') : r.status < 400 ? 'yes' : pkceFailed ? 'no' : 'unknown',
                    explanation:
                      'RFC 7636 §4.6: the server computes BASE64URL(SHA256(code_verifier)) and compares it, in constant time, with the code_challenge stored with the code.',
                  },
                }
              : {}),
          }),
        );
        if (r.status < 400 && firstAccess) {
          const status = tokenStatus(firstAccess, now);
          const extras: FlowParam[] = [
            { name: 'token_type', value: 'Bearer', explanation: 'Sent as Authorization: Bearer <access_token>.' },
            {
              name: 'expires_in',
              value: String(Math.round((firstAccess.expiresAt.getTime() - firstAccess.issuedAt.getTime()) / 1000)),
              explanation: 'Seconds until the access token expires.',
            },
            { name: 'scope', value: firstAccess.scope, explanation: 'What was granted (may be less than requested).' },
            ...(grant.context.patient ? [{ name: 'patient', value: grant.context.patient, explanation: 'Launch context: the patient in context.' }] : []),
            ...(grant.context.encounter ? [{ name: 'encounter', value: grant.context.encounter, explanation: 'Launch context: the encounter.' }] : []),
            ...(firstRefresh
              ? [
                  {
                    name: 'refresh_token',
                    value: '•••• (stored hashed)',
                    explanation: `Lets the app get new access tokens until ${firstRefresh.expiresAt.toISOString()}.`,
                  },
                ]
              : []),
            ...(parseScopeString(grant.scope).scopes.some((s) => s.kind === 'identity' && s.name === 'openid')
              ? [
                  {
                    name: 'id_token',
                    value: '(RS256 JWT)',
                    explanation: `Who signed in: sub ${grant.userId ?? '—'}${grant.context.fhirUser ? `, fhirUser ${options.origin}/fhir/${grant.context.fhirUser}` : ''}.`,
                  },
                ]
              : []),
            { name: 'access token status now', value: status, explanation: 'active, expired or revoked.' },
          ];
          // The token as issued when it was kept (Token.jwt); rebuilt from its row for older tokens.
          const issued = decodedJwtOf(firstAccess.jwt);
          const claims = issued?.claims ?? accessTokenClaimsOf(firstAccess, options.origin, grant);
          steps.push(
            step({
              key: `token-response-${r.id}`,
              kind: 'token-response',
              at: r.at,
              from: 'auth',
              to: 'app',
              label: '200 access_token, patient, …',
              title: 'Token response (decoded)',
              outcome: 'ok',
              summary: issued
                ? "The access token is an ES256-signed JWT (typ at+jwt); header and claims are decoded from the token exactly as the app received it (the console's token page shows the raw JWT)."
                : 'The access token is an ES256-signed JWT (typ at+jwt); its claims are rebuilt from the token row (the token was issued before raw tokens were kept).',
              tokenResponse: { header: issued?.header ?? { alg: 'ES256', typ: 'at+jwt' }, claims, extras },
              auditId: r.id,
            }),
          );
        }
        continue;
      }
      const refresh = detail.includes('refresh') || flags.includes('refresh-replay');
      steps.push(
        step({
          key: `token-${r.id}`,
          kind: refresh ? 'refresh' : 'other',
          at: r.at,
          from: 'app',
          to: 'auth',
          label: refresh ? 'POST /oauth/token (refresh)' : 'POST /oauth/token',
          title: refresh ? 'Refresh' : 'Token request',
          outcome: outcomeOf(r),
          summary: `${r.status}${r.errorCode ? ` ${r.errorCode}` : ''}: ${r.detail ?? ''}`,
          auditId: r.id,
          flags,
        }),
      );
      continue;
    }
    if (r.kind === 'fhir') {
      // The decision of the token's scopes (a call refused for its token, 401, had none to make).
      const answer = evaluatePlaygroundRequest({
        ...(r.status === 401 ? { tokenStatus: /expired/.test(r.detail ?? '') ? ('expired' as const) : ('revoked' as const) } : {}),
        scope: grant.scope,
        patientId: grant.context.patient,
        fhirUser: grant.context.fhirUser,
        method: r.method,
        url: r.endpoint,
      });
      steps.push(
        step({
          key: `fhir-${r.id}`,
          kind: 'fhir',
          at: r.at,
          from: 'app',
          to: 'fhir',
          label: `${r.method} ${r.endpoint.replace(/^\/fhir/, '')}`.slice(0, 60),
          title: `FHIR ${r.method} ${r.endpoint}`,
          outcome: outcomeOf(r),
          summary: `${r.status}${r.errorCode ? ` ${r.errorCode}` : ''}${r.resultCount !== null ? `, ${r.resultCount} result(s)` : ''} — ${r.detail ?? ''}${r.scopes ? ` (scopes used: ${r.scopes})` : ''}`,
          auditId: r.id,
          flags,
          decision: { verdict: answer.verdict, summary: answer.summary, reasons: answer.reasons },
        }),
      );
      continue;
    }
    if (r.kind === 'console') {
      steps.push(
        step({
          key: `console-${r.id}`,
          kind: 'revoke',
          at: r.at,
          from: 'auth',
          to: 'auth',
          label: 'revoked in console',
          title: 'Console action',
          outcome: 'warning',
          summary: r.detail ?? '',
          auditId: r.id,
        }),
      );
      continue;
    }
    if (r.endpoint === '/oauth/revoke' || r.endpoint === '/oauth/introspect') {
      steps.push(
        step({
          key: `oauth-${r.id}`,
          kind: r.endpoint === '/oauth/revoke' ? 'revoke' : 'other',
          at: r.at,
          from: 'app',
          to: 'auth',
          label: `POST ${r.endpoint}`,
          title: r.endpoint,
          outcome: outcomeOf(r),
          summary: `${r.status}: ${r.detail ?? ''}`,
          auditId: r.id,
          flags,
        }),
      );
    }
  }
  if (!codeExchangeSeen && code?.used) notes.push('The code was redeemed but its token request is not in the audit trail.');
  const byId = new Map(candidates.map((r) => [r.id, r]));
  return { summary: summaryOf(grant, client?.name ?? null), grant, steps: steps.map((s) => withRecord(s, s.auditId ? byId.get(s.auditId) : undefined)), notes };
}

/** A step with the request and response its audit record kept and, when it was refused, the rule it broke. */
function withRecord(s: FlowStep, r: AuditRecord | undefined): FlowStep {
  if (!r) return s;
  const failed = r.errorCode !== null || r.status >= 400;
  const rule = failed ? refusalRuleOf(r) : null;
  return {
    ...s,
    ...(failed ? { outcome: 'error' as const } : {}),
    request: requestOf(r),
    response: { status: r.status, errorCode: r.errorCode, detail: r.detail, resultCount: r.resultCount },
    ...(rule ? { rule, errorCode: r.errorCode, errorDescription: r.detail ?? '' } : {}),
  };
}

/** Header and claims of a stored JWT, or null when there is none or it does not decode. */
function decodedJwtOf(jwt: string | null): { header: Record<string, string>; claims: Record<string, string | number> } | null {
  if (!jwt) return null;
  const shown = (v: unknown): string | number => (typeof v === 'number' || typeof v === 'string' ? v : JSON.stringify(v));
  try {
    const header = Object.fromEntries(Object.entries(decodeProtectedHeader(jwt)).map(([k, v]) => [k, String(shown(v))]));
    const claims = Object.fromEntries(Object.entries(decodeJwt(jwt)).map(([k, v]) => [k, shown(v)]));
    return { header, claims };
  } catch {
    return null;
  }
}
