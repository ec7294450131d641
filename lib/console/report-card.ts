/**
 * The app report card: how a client application itself behaves, graded from what the sandbox
 * observed of it in the audit trail (each record's outcome plus the request facts of
 * lib/audit/facts.ts). Each check says pass, fail or not yet seen (or does not apply to this kind
 * of client), with the evidence (audit record ids) and the specification section it comes from.
 * `gradeClient` is pure; `buildReportCard` reads the client's newest records.
 */
import { parseFacts } from '../audit/facts';
import type { AuditFacts } from '../audit/facts';
import { getDb } from '../db';
import { getClient } from '../oauth/clients';
import type { OAuthClient } from '../oauth/clients';
import { currentSandbox } from '../sandbox/context';
import { parseScopeString } from '../smart/scopes';

export type CheckStatus = 'pass' | 'fail' | 'not-seen' | 'not-applicable';

export interface ReportEvidence {
  auditId: string;
  at: string;
  method: string;
  endpoint: string;
  status: number;
  note: string;
}

export interface ReportCheck {
  id: string;
  title: string;
  status: CheckStatus;
  /** What was seen, in one sentence. */
  summary: string;
  /** Where the rule comes from. */
  spec: string;
  /** The records that decided the verdict (failures first), at most ten. */
  evidence: ReportEvidence[];
}

export interface ReportCard {
  clientId: string;
  clientName: string;
  clientType: string;
  generatedAt: string;
  /** The audit records the report is built from (the client's newest). */
  window: { records: number; from: string | null; to: string | null };
  summary: { pass: number; fail: number; notSeen: number; notApplicable: number };
  /** True when no check failed. */
  ok: boolean;
  checks: ReportCheck[];
}

/** The audit record fields the report reads. */
export interface ObservedRecord {
  id: string;
  at: Date;
  kind: string;
  method: string;
  endpoint: string;
  resourceType: string | null;
  scopes: string | null;
  status: number;
  errorCode: string | null;
  detail: string | null;
  origin: string | null;
  flags: string | null;
  facts: string | null;
}

/** How many of the client's newest records a report reads. */
export const REPORT_WINDOW = 5000;
const MAX_EVIDENCE = 10;
/** SMART App Launch 2.2 §app-launch: `state` SHALL contain at least 122 bits of entropy. */
const STATE_MIN_ENTROPY_BITS = 122;
/** SMART App Launch 2.2 §backend-services: the assertion's exp no more than five minutes in the future. */
const ASSERTION_MAX_LIFETIME_SECONDS = 300;
/** The search page size the server caps `_count` at. */
const COUNT_CAP = 1000;

interface Observed extends ObservedRecord {
  parsed: AuditFacts;
  flagList: string[];
  simulated: boolean;
}

function evidence(r: Observed, note: string): ReportEvidence {
  return { auditId: r.id, at: r.at.toISOString(), method: r.method, endpoint: r.endpoint, status: r.status, note };
}

function check(id: string, title: string, spec: string, status: CheckStatus, summary: string, ev: ReportEvidence[] = []): ReportCheck {
  return { id, title, spec, status, summary, evidence: ev.slice(0, MAX_EVIDENCE) };
}

const isAuthorize = (r: Observed) => r.kind === 'oauth' && r.endpoint === '/oauth/authorize' && r.parsed.statePresent !== undefined;
const isToken = (r: Observed) => r.kind === 'oauth' && r.endpoint === '/oauth/token' && r.parsed.grantType !== undefined;
const isFhir = (r: Observed) => r.kind === 'fhir';

/** Resource types a granted scope string reads (with `*` for all). */
function grantedResourceTypes(scope: string): Set<string> {
  const types = new Set<string>();
  for (const s of parseScopeString(scope).scopes) {
    if (s.kind === 'resource') types.add(s.resourceType);
  }
  return types;
}

/**
 * Grades a client from its audit records (any order). Pure: the same records give the same report.
 */
export function gradeClient(
  client: Pick<OAuthClient, 'clientId' | 'name' | 'clientType' | 'tokenEndpointAuthMethod'>,
  records: readonly ObservedRecord[],
  now: Date = new Date(),
): ReportCard {
  const all: Observed[] = [...records]
    .sort((a, b) => a.at.getTime() - b.at.getTime() || a.id.localeCompare(b.id))
    .map((r) => ({
      ...r,
      parsed: parseFacts(r.facts),
      flagList: (r.flags ?? '').split(' ').filter((f) => f !== ''),
      simulated: (r.flags ?? '').split(' ').includes('simulated') || (r.detail ?? '').includes('simulated error'),
    }));
  const authorizations = all.filter(isAuthorize);
  const tokens = all.filter(isToken);
  const fhir = all.filter(isFhir);
  const backend = client.clientType === 'backend';
  const confidential = client.clientType !== 'public';
  const checks: ReportCheck[] = [];
  const noAuthorize = (id: string, title: string, spec: string) =>
    backend
      ? check(id, title, spec, 'not-applicable', 'Backend services clients do not use the authorization endpoint.')
      : check(id, title, spec, 'not-seen', 'No authorization request seen yet.');

  // PKCE S256 on every authorization (SMART App Launch 2.2 §app-launch; RFC 9700 §2.1.1).
  {
    const spec = 'SMART App Launch 2.2 §app-launch (PKCE S256 required); RFC 9700 §2.1.1';
    const bad = authorizations.filter((r) => r.parsed.pkceMethod !== 'S256');
    checks.push(
      authorizations.length === 0
        ? noAuthorize('pkce-s256', 'PKCE with S256 on every authorization', spec)
        : bad.length
          ? check(
              'pkce-s256',
              'PKCE with S256 on every authorization',
              spec,
              'fail',
              `${bad.length} of ${authorizations.length} authorization requests lacked code_challenge_method=S256.`,
              bad.map((r) => evidence(r, r.parsed.pkceMethod ? `code_challenge_method=${r.parsed.pkceMethod}` : 'no code_challenge')),
            )
          : check(
              'pkce-s256',
              'PKCE with S256 on every authorization',
              spec,
              'pass',
              `All ${authorizations.length} authorization requests used S256.`,
              authorizations.slice(-1).map((r) => evidence(r, 'S256')),
            ),
    );
  }

  // state present, unguessable, never reused (SMART App Launch 2.2 §app-launch; RFC 9700 §4.7.1).
  {
    const spec = 'SMART App Launch 2.2 §app-launch (state: at least 122 bits of entropy); RFC 9700 §4.7.1';
    const seen = new Map<string, Observed>();
    const bad: ReportEvidence[] = [];
    for (const r of authorizations) {
      if (!r.parsed.statePresent) bad.push(evidence(r, 'no state'));
      else if ((r.parsed.stateEntropyBits ?? 0) < STATE_MIN_ENTROPY_BITS)
        bad.push(evidence(r, `state carries about ${r.parsed.stateEntropyBits} bits of entropy (at least ${STATE_MIN_ENTROPY_BITS} required)`));
      if (r.parsed.stateHash) {
        const first = seen.get(r.parsed.stateHash);
        if (first) bad.push(evidence(r, `state reused (first sent in ${first.id})`));
        else seen.set(r.parsed.stateHash, r);
      }
    }
    checks.push(
      authorizations.length === 0
        ? noAuthorize('state', 'state present, unguessable and never reused', spec)
        : bad.length
          ? check(
              'state',
              'state present, unguessable and never reused',
              spec,
              'fail',
              `${bad.length} problem(s) with state across ${authorizations.length} authorization requests.`,
              bad,
            )
          : check(
              'state',
              'state present, unguessable and never reused',
              spec,
              'pass',
              `Every one of ${authorizations.length} authorization requests sent a fresh, unguessable state.`,
            ),
    );
  }

  // aud sent and naming this FHIR server (SMART App Launch 2.2 §app-launch; RFC 9700 §4.10 audience restriction).
  {
    const spec = 'SMART App Launch 2.2 §app-launch (aud REQUIRED); RFC 9700 §4.10.1';
    const bad = authorizations.filter((r) => !r.parsed.audPresent || r.parsed.audMatches === false);
    checks.push(
      authorizations.length === 0
        ? noAuthorize('aud', 'aud sent and correct', spec)
        : bad.length
          ? check(
              'aud',
              'aud sent and correct',
              spec,
              'fail',
              `${bad.length} authorization requests had no aud or named another server.`,
              bad.map((r) => evidence(r, r.parsed.audPresent ? 'aud is not this FHIR server' : 'no aud')),
            )
          : check('aud', 'aud sent and correct', spec, 'pass', `All ${authorizations.length} authorization requests named this FHIR server as aud.`),
    );
  }

  // Exact redirect URI (RFC 9700 §2.1; RFC 6749 §3.1.2.3).
  {
    const spec = 'RFC 9700 §2.1 (exact redirect URI matching); RFC 6749 §3.1.2.3';
    const bad = authorizations.filter((r) => r.parsed.redirectUriRegistered === false);
    const checked = authorizations.filter((r) => r.parsed.redirectUriRegistered !== undefined);
    checks.push(
      checked.length === 0
        ? noAuthorize('redirect-uri', 'redirect URI exactly as registered', spec)
        : bad.length
          ? check(
              'redirect-uri',
              'redirect URI exactly as registered',
              spec,
              'fail',
              `${bad.length} authorization requests sent a redirect_uri that is not registered.`,
              bad.map((r) => evidence(r, 'redirect_uri not registered')),
            )
          : check(
              'redirect-uri',
              'redirect URI exactly as registered',
              spec,
              'pass',
              `All ${checked.length} authorization requests used a registered redirect URI.`,
            ),
    );
  }

  // Least privilege: scopes granted versus resource types actually read (SMART App Launch 2.2 §scopes-and-launch-context).
  {
    const spec = 'SMART App Launch 2.2 §scopes-and-launch-context (request only the scopes the app needs); RFC 9700 §2.3';
    const granted = tokens.filter((r) => r.status === 200 && r.scopes);
    const used = new Set(fhir.filter((r) => r.status < 300 && r.resourceType).map((r) => r.resourceType!));
    if (granted.length === 0 || fhir.length === 0) {
      checks.push(check('least-privilege', 'scopes requested versus scopes used', spec, 'not-seen', 'Needs at least one token and one FHIR call.'));
    } else {
      const types = new Set<string>();
      for (const r of granted) for (const t of grantedResourceTypes(r.scopes!)) types.add(t);
      const unused = [...types].filter((t) => t !== '*' && !used.has(t)).sort();
      const wildcard = types.has('*');
      const last = granted[granted.length - 1]!;
      if (unused.length || wildcard) {
        const parts = [];
        if (wildcard) parts.push(`a wildcard scope grants every resource type while the app read only ${[...used].sort().join(', ') || 'none'}`);
        if (unused.length) parts.push(`granted but never read: ${unused.join(', ')}`);
        checks.push(
          check('least-privilege', 'scopes requested versus scopes used', spec, 'fail', `${parts.join('; ')}.`, [evidence(last, `granted: ${last.scopes}`)]),
        );
      } else {
        checks.push(
          check(
            'least-privilege',
            'scopes requested versus scopes used',
            spec,
            'pass',
            `Every granted resource type was read (${[...types].sort().join(', ') || 'none'}).`,
            [evidence(last, `granted: ${last.scopes}`)],
          ),
        );
      }
    }
  }

  // Refresh instead of relaunching (SMART App Launch 2.2 §app-launch, refresh access token).
  {
    const spec = 'SMART App Launch 2.2 §app-launch (refresh access token)';
    const refreshes = tokens.filter((r) => r.parsed.grantType === 'refresh_token' && r.status === 200);
    const codeExchanges = tokens.filter((r) => r.parsed.grantType === 'authorization_code' && r.status === 200);
    const hadRefreshToken = codeExchanges.some((r) => /\b(offline_access|online_access)\b/.test(r.scopes ?? ''));
    if (backend)
      checks.push(
        check('refresh', 'refresh used instead of relaunching', spec, 'not-applicable', 'Backend services clients request a new token with a new assertion.'),
      );
    else if (refreshes.length)
      checks.push(
        check(
          'refresh',
          'refresh used instead of relaunching',
          spec,
          'pass',
          `${refreshes.length} refresh(es) seen.`,
          refreshes.slice(-1).map((r) => evidence(r, 'refresh_token grant')),
        ),
      );
    else if (hadRefreshToken && codeExchanges.length >= 2)
      checks.push(
        check(
          'refresh',
          'refresh used instead of relaunching',
          spec,
          'fail',
          `${codeExchanges.length} code exchanges and no refresh, although a refresh token was granted.`,
          codeExchanges.map((r) => evidence(r, 'authorization_code exchange')),
        ),
      );
    else checks.push(check('refresh', 'refresh used instead of relaunching', spec, 'not-seen', 'No refresh needed yet.'));
  }

  // After a 401 for an expired token, refresh rather than retry blindly (RFC 6750 §3.1).
  {
    const spec = 'RFC 6750 §3.1 (invalid_token: obtain a new token); SMART App Launch 2.2 §app-launch (refresh access token)';
    const bad: ReportEvidence[] = [];
    const good: ReportEvidence[] = [];
    all.forEach((r, i) => {
      if (!(isFhir(r) && r.parsed.tokenExpired)) return;
      const next = all.slice(i + 1).find((n) => !(isFhir(n) && n.parsed.tokenExpired && n.at.getTime() === r.at.getTime()));
      if (!next) return;
      if (isToken(next) || isAuthorize(next)) good.push(evidence(r, 'then obtained a new token'));
      else if (isFhir(next) && next.parsed.tokenExpired) bad.push(evidence(next, 'repeated the call with the same expired token'));
    });
    checks.push(
      bad.length
        ? check('expired-token', 'refreshes after a 401 for an expired token', spec, 'fail', `${bad.length} call(s) retried with an expired token.`, bad)
        : good.length
          ? check(
              'expired-token',
              'refreshes after a 401 for an expired token',
              spec,
              'pass',
              `Obtained a new token after each of ${good.length} expired-token 401s.`,
              good,
            )
          : check(
              'expired-token',
              'refreshes after a 401 for an expired token',
              spec,
              'not-seen',
              'No expired token seen yet (arm the "expired access token" simulated error to test it).',
            ),
    );
  }

  // Retry-After honoured after a 429 (RFC 6585 §4; RFC 9110 §10.2.3).
  {
    const spec = 'RFC 6585 §4 and RFC 9110 §10.2.3 (Retry-After)';
    const bad: ReportEvidence[] = [];
    const good: ReportEvidence[] = [];
    all.forEach((r, i) => {
      if (r.status !== 429 || r.parsed.retryAfterSeconds === undefined) return;
      const next = all[i + 1];
      if (!next) return;
      const waited = (next.at.getTime() - r.at.getTime()) / 1000;
      if (waited + 0.05 < r.parsed.retryAfterSeconds)
        bad.push(evidence(next, `came ${waited.toFixed(1)} s after a 429 that asked for ${r.parsed.retryAfterSeconds} s`));
      else good.push(evidence(next, `waited ${waited.toFixed(1)} s (asked: ${r.parsed.retryAfterSeconds} s)`));
    });
    checks.push(
      bad.length
        ? check('retry-after', 'Retry-After honoured after a 429', spec, 'fail', `${bad.length} request(s) came before the Retry-After had passed.`, bad)
        : good.length
          ? check('retry-after', 'Retry-After honoured after a 429', spec, 'pass', `Waited as asked after ${good.length} 429(s).`, good)
          : check(
              'retry-after',
              'Retry-After honoured after a 429',
              spec,
              'not-seen',
              'No 429 seen yet (arm the "429 rate limited" simulated error to test it).',
            ),
    );
  }

  // No calls outside the granted scopes (403) (SMART App Launch 2.2 §scopes-and-launch-context).
  {
    const spec = 'SMART App Launch 2.2 §scopes-and-launch-context; RFC 6750 §3.1 (insufficient_scope)';
    const bad = fhir.filter((r) => r.status === 403 && !r.simulated);
    checks.push(
      fhir.length === 0
        ? check('in-scope', 'no calls outside the granted scopes', spec, 'not-seen', 'No FHIR call seen yet.')
        : bad.length
          ? check(
              'in-scope',
              'no calls outside the granted scopes',
              spec,
              'fail',
              `${bad.length} of ${fhir.length} FHIR calls were refused as outside the token's scopes (403).`,
              bad.map((r) => evidence(r, r.detail ?? 'insufficient_scope')),
            )
          : check('in-scope', 'no calls outside the granted scopes', spec, 'pass', `None of ${fhir.length} FHIR calls went outside the granted scopes.`),
    );
  }

  // No calls outside the patient compartment (docs/SECURITY.md: BOLA).
  {
    const spec = 'SMART App Launch 2.2 §scopes-and-launch-context (patient-specific scopes); docs/CONFORMANCE.md #119, #175';
    const bad = fhir.filter((r) => r.flagList.includes('suspected-bola'));
    checks.push(
      fhir.length === 0
        ? check('compartment', "no calls outside the patient's compartment", spec, 'not-seen', 'No FHIR call seen yet.')
        : bad.length
          ? check(
              'compartment',
              "no calls outside the patient's compartment",
              spec,
              'fail',
              `${bad.length} FHIR call(s) reached for data outside the token's patient.`,
              bad.map((r) => evidence(r, r.detail ?? 'outside the compartment')),
            )
          : check('compartment', "no calls outside the patient's compartment", spec, 'pass', `All ${fhir.length} FHIR calls stayed inside the token's reach.`),
    );
  }

  // Accept header on FHIR calls (FHIR R4 http.html#mime-type).
  {
    const spec = 'FHIR R4 RESTful API §mime-type (Accept: application/fhir+json)';
    const bad = fhir.filter((r) => !/(application\/(fhir\+)?json)/i.test(r.parsed.accept ?? ''));
    checks.push(
      fhir.length === 0
        ? check('accept', 'Accept header sent', spec, 'not-seen', 'No FHIR call seen yet.')
        : bad.length
          ? check(
              'accept',
              'Accept header sent',
              spec,
              'fail',
              `${bad.length} of ${fhir.length} FHIR calls sent no JSON Accept header.`,
              bad.map((r) => evidence(r, r.parsed.accept ? `Accept: ${r.parsed.accept}` : 'no Accept header')),
            )
          : check('accept', 'Accept header sent', spec, 'pass', `All ${fhir.length} FHIR calls asked for FHIR JSON.`),
    );
  }

  // Paging followed rather than huge _count (FHIR R4 search §paging).
  {
    const spec = 'FHIR R4 search §paging (follow Bundle.link next)';
    const bad = fhir.filter((r) => (r.parsed.count ?? 0) > COUNT_CAP);
    const paged = fhir.filter((r) => r.parsed.pagingLink);
    checks.push(
      bad.length
        ? check(
            'paging',
            'paging followed rather than a huge _count',
            spec,
            'fail',
            `${bad.length} search(es) asked for more than ${COUNT_CAP} entries at once.`,
            bad.map((r) => evidence(r, `_count=${r.parsed.count}`)),
          )
        : paged.length
          ? check(
              'paging',
              'paging followed rather than a huge _count',
              spec,
              'pass',
              `Followed ${paged.length} next link(s).`,
              paged.slice(-1).map((r) => evidence(r, 'next link')),
            )
          : check('paging', 'paging followed rather than a huge _count', spec, 'not-seen', 'No multi-page search seen yet.'),
    );
  }

  // Tokens never in URLs (RFC 9700 §4.3.2; RFC 6750 §5.3).
  {
    const spec = 'RFC 6750 §5.3 and RFC 9700 §4.3.2 (no access tokens in URLs)';
    const bad = fhir.filter((r) => r.parsed.tokenInUrl);
    checks.push(
      fhir.length === 0
        ? check('token-in-url', 'tokens never sent in URLs', spec, 'not-seen', 'No FHIR call seen yet.')
        : bad.length
          ? check(
              'token-in-url',
              'tokens never sent in URLs',
              spec,
              'fail',
              `${bad.length} call(s) put an access token in the URL.`,
              bad.map((r) => evidence(r, 'access_token in the query')),
            )
          : check('token-in-url', 'tokens never sent in URLs', spec, 'pass', `None of ${fhir.length} FHIR calls put a token in the URL.`),
    );
  }

  // Confidential credentials never used from a browser (SMART App Launch 2.2 §app-launch client types; RFC 6749 §2.1).
  {
    const spec = 'SMART App Launch 2.2 §client-confidential-symmetric (a browser app is a public client); RFC 6749 §2.1';
    if (!confidential)
      checks.push(check('secret-in-browser', 'confidential credentials never used from a browser', spec, 'not-applicable', 'A public client has no secret.'));
    else {
      const authenticated = tokens.filter((r) => r.parsed.authMethod && r.parsed.authMethod !== 'none');
      const bad = authenticated.filter((r) => r.origin);
      checks.push(
        authenticated.length === 0
          ? check('secret-in-browser', 'confidential credentials never used from a browser', spec, 'not-seen', 'No token request seen yet.')
          : bad.length
            ? check(
                'secret-in-browser',
                'confidential credentials never used from a browser',
                spec,
                'fail',
                `${bad.length} token request(s) with the client's credentials came from a browser page (Origin ${bad[0]!.origin}).`,
                bad.map((r) => evidence(r, `Origin: ${r.origin}`)),
              )
            : check(
                'secret-in-browser',
                'confidential credentials never used from a browser',
                spec,
                'pass',
                `All ${authenticated.length} authenticated token requests came from a server.`,
              ),
      );
    }
  }

  // Backend assertions: fresh jti, exp at most five minutes ahead (SMART App Launch 2.2 §backend-services; RFC 7523 §3).
  {
    const spec = 'SMART App Launch 2.2 §backend-services and §client-confidential-asymmetric (jti unique, exp ≤ 5 minutes); RFC 7523 §3';
    if (client.tokenEndpointAuthMethod !== 'private_key_jwt')
      checks.push(
        check('client-assertion', 'client assertions fresh and short-lived', spec, 'not-applicable', 'This client does not authenticate with private_key_jwt.'),
      );
    else {
      const withAssertion = tokens.filter((r) => r.parsed.authMethod === 'private_key_jwt' || r.flagList.includes('assertion-replay'));
      const bad: ReportEvidence[] = [];
      for (const r of withAssertion) {
        if (r.flagList.includes('assertion-replay') && !r.simulated) bad.push(evidence(r, 'jti already used'));
        else if ((r.parsed.assertionLifetimeSeconds ?? 0) > ASSERTION_MAX_LIFETIME_SECONDS)
          bad.push(evidence(r, `assertion valid for ${r.parsed.assertionLifetimeSeconds} s`));
      }
      checks.push(
        withAssertion.length === 0
          ? check('client-assertion', 'client assertions fresh and short-lived', spec, 'not-seen', 'No client assertion seen yet.')
          : bad.length
            ? check(
                'client-assertion',
                'client assertions fresh and short-lived',
                spec,
                'fail',
                `${bad.length} of ${withAssertion.length} assertions were replayed or too long-lived.`,
                bad,
              )
            : check(
                'client-assertion',
                'client assertions fresh and short-lived',
                spec,
                'pass',
                `All ${withAssertion.length} assertions had a fresh jti and exp within five minutes.`,
              ),
      );
    }
  }

  const count = (s: CheckStatus) => checks.filter((c) => c.status === s).length;
  return {
    clientId: client.clientId,
    clientName: client.name,
    clientType: client.clientType,
    generatedAt: now.toISOString(),
    window: { records: all.length, from: all[0]?.at.toISOString() ?? null, to: all[all.length - 1]?.at.toISOString() ?? null },
    summary: { pass: count('pass'), fail: count('fail'), notSeen: count('not-seen'), notApplicable: count('not-applicable') },
    ok: count('fail') === 0,
    checks,
  };
}

/** The report card of a registered client, or null when there is no such client. */
export async function buildReportCard(clientId: string, options: { sandboxId?: string; now?: Date } = {}): Promise<ReportCard | null> {
  const sandboxId = options.sandboxId ?? currentSandbox().id;
  const client = await getClient(clientId, { sandboxId });
  if (!client) return null;
  const newest = await getDb().auditRecord.findMany({
    where: { sandboxId, clientId },
    orderBy: [{ at: 'desc' }, { id: 'desc' }],
    take: REPORT_WINDOW,
    select: {
      id: true,
      at: true,
      kind: true,
      method: true,
      endpoint: true,
      resourceType: true,
      scopes: true,
      status: true,
      errorCode: true,
      detail: true,
      origin: true,
      flags: true,
      facts: true,
    },
  });
  return gradeClient(client, newest, options.now);
}
