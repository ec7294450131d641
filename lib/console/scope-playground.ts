/**
 * "Would this token be allowed to do GET /fhir/Observation?patient=X&category=vital-signs?" — the
 * request is mapped to a FHIR interaction the way the FHIR router maps it, decided by the same
 * compiled access policy, and then checked against the compartment and granular filters the
 * server would push into its query. Pure code over lib/smart/access-policy.ts.
 */
import type { AccessDecision, FhirInteraction } from '../smart/access-policy';
import { compileAccessPolicy, describeDecision } from '../smart/access-policy';
import { isFhirResourceType, parseScopeString } from '../smart/scopes';
import { FHIR_ID_SOURCE } from '../fhir-id';

export interface PlaygroundRequest {
  /** Granted scope string of the token. */
  scope: string;
  /** The token's patient context. */
  patientId?: string | null;
  /** The token's fhirUser (Practitioner/1, Patient/2). */
  fhirUser?: string | null;
  method: string;
  /** `/fhir/Observation?patient=X`, `Observation/1`, or an absolute URL. */
  url: string;
}

export interface PlaygroundAnswer {
  /** 'allowed' (answers normally), 'narrowed' (allowed, but the server filters the results), 'denied' (403), 'hidden' (404 / empty, flagged suspected BOLA), 'invalid'. */
  readonly verdict: 'allowed' | 'narrowed' | 'denied' | 'hidden' | 'invalid';
  readonly status: number | null;
  readonly interaction: FhirInteraction | null;
  readonly resourceType: string | null;
  readonly decision: AccessDecision | null;
  /** describeDecision(), the line the audit trail shows. */
  readonly summary: string;
  /** Each further step of the reasoning, in order. */
  readonly reasons: readonly string[];
  readonly wouldAllow: string | null;
}

interface ParsedRequest {
  interaction: FhirInteraction;
  resourceType: string;
  id: string | null;
  level?: 'instance' | 'type';
  query: URLSearchParams;
}

const INTERACTION_SENTENCE: Record<FhirInteraction, string> = {
  read: 'read (needs the r permission)',
  vread: 'vread (needs r)',
  search: 'search (needs s)',
  history: 'history (instance history needs r, type history needs s)',
  create: 'create (needs c)',
  update: 'update (needs u)',
  delete: 'delete (needs d)',
  operation: 'operation (needs r and s)',
};

/** Maps method + path to the FHIR interaction the router would perform. */
export function parseFhirRequest(method: string, url: string): ParsedRequest | { error: string } {
  let u: URL;
  try {
    u = new URL(url.trim(), 'http://sandbox.invalid/fhir/');
  } catch {
    return { error: 'not a URL' };
  }
  const path = u.pathname.replace(/^\/fhir(\/|$)/, '/');
  const segments = path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => decodeURIComponent(s));
  const [type, second, third] = segments;
  const m = method.toUpperCase();
  if (!type) return { error: 'name a resource type, e.g. /fhir/Observation?patient=123' };
  if (!isFhirResourceType(type)) return { error: `'${type}' is not a FHIR R4 resource type (types are case-sensitive)` };
  const query = u.searchParams;
  const base = { resourceType: type, query };
  if (second === '_history') return m === 'GET' ? { ...base, interaction: 'history', id: null, level: 'type' } : { error: 'history is GET only' };
  if (second?.startsWith('$')) return { ...base, interaction: 'operation', id: null };
  if (second === '_search') return m === 'POST' ? { ...base, interaction: 'search', id: null } : { error: '_search is POST only' };
  if (second === undefined) {
    if (m === 'GET') return { ...base, interaction: 'search', id: null };
    if (m === 'POST') return { ...base, interaction: 'create', id: null };
    if (m === 'PUT') return { ...base, interaction: 'update', id: null };
    if (m === 'DELETE') return { ...base, interaction: 'delete', id: null };
    return { error: `${m} is not a FHIR interaction on a type` };
  }
  if (third === '_history')
    return m === 'GET' ? { ...base, interaction: segments[3] ? 'vread' : 'history', id: second, level: 'instance' } : { error: 'history is GET only' };
  if (third?.startsWith('$')) return { ...base, interaction: 'operation', id: second };
  if (m === 'GET') return { ...base, interaction: 'read', id: second };
  if (m === 'PUT') return { ...base, interaction: 'update', id: second };
  if (m === 'DELETE') return { ...base, interaction: 'delete', id: second };
  return { error: `${m} is not a FHIR interaction on an instance` };
}

const NAMED_PATIENT = new RegExp(`^(?:.*/)?(?:Patient/)?(${FHIR_ID_SOURCE})$`);

// The patient ids a search names (patient=, subject=Patient/…, Patient?_id=), as the router's BOLA check reads them.
function namedPatients(req: ParsedRequest): string[] {
  const out: string[] = [];
  for (const [name, value] of req.query) {
    const bare = name.split(':')[0];
    if (bare === 'patient' || bare === 'subject') {
      for (const v of value.split(',')) {
        const m = v.match(NAMED_PATIENT);
        if (m?.[1] && (bare === 'patient' || v.includes('Patient/'))) out.push(m[1]);
      }
    }
    if (bare === '_id' && req.resourceType === 'Patient') out.push(...value.split(','));
  }
  if (req.resourceType === 'Patient' && req.id) out.push(req.id);
  return out;
}

function fail(summary: string): PlaygroundAnswer {
  return { verdict: 'invalid', status: null, interaction: null, resourceType: null, decision: null, summary, reasons: [], wouldAllow: null };
}

/** Decides a request for a token the way the FHIR API would, with the reasons in order. */
export function evaluatePlaygroundRequest(input: PlaygroundRequest): PlaygroundAnswer {
  const req = parseFhirRequest(input.method, input.url);
  if ('error' in req) return fail(req.error);
  const { scopes, errors } = parseScopeString(input.scope);
  const policy = compileAccessPolicy(scopes, { patientId: input.patientId ?? undefined, fhirUser: input.fhirUser ?? undefined });
  const decision = policy.decide(req.interaction, req.resourceType, req.level ? { level: req.level } : undefined);
  const reasons: string[] = [`${input.method.toUpperCase()} ${input.url.trim()} is a FHIR ${INTERACTION_SENTENCE[req.interaction]} on ${req.resourceType}.`];
  if (errors.length) reasons.push(`Ignored ${errors.length} scope(s) that do not parse: ${errors.map((e) => e.scope).join(' ')}.`);
  const base = { interaction: req.interaction, resourceType: req.resourceType, decision, summary: describeDecision(decision) };
  if (!decision.allowed) {
    reasons.push(decision.reason);
    reasons.push(`The server answers 403 with WWW-Authenticate: Bearer error="insufficient_scope", scope="${decision.wouldAllow}".`);
    return { ...base, verdict: 'denied', status: 403, reasons, wouldAllow: decision.wouldAllow };
  }
  reasons.push(`Granted by ${decision.grantedBy.join(', ')}.`);
  const own = decision.compartmentPatientId;
  if (own !== null) {
    reasons.push(`The query is confined to patient ${own}'s compartment.`);
    const others = namedPatients(req).filter((p) => p !== own);
    if (others.length) {
      if (!req.id) {
        reasons.push(
          `The search names patient ${others.join(', ')}, outside that compartment: the server refuses it with 403 and flags the audit record suspected-bola (docs/CONFORMANCE.md #119).`,
        );
        return { ...base, verdict: 'denied', status: 403, reasons, wouldAllow: `user/${req.resourceType}.s` };
      }
      reasons.push(
        `${req.resourceType}/${req.id} is outside that compartment: the server answers 404 (the same as for a resource that does not exist) and flags the audit record suspected-bola.`,
      );
      return { ...base, verdict: 'hidden', status: 404, reasons, wouldAllow: null };
    }
  } else {
    reasons.push('No compartment restriction.');
  }
  if (decision.filters !== null) {
    const filters = decision.filters;
    const covered = filters.some((f) =>
      Object.entries(f).every(([name, values]) => {
        const asked = req.query.get(name);
        return (
          asked !== null && asked.split(',').every((v) => values.some((allowed) => allowed === v || allowed.endsWith(`|${v}`) || v.endsWith(`|${allowed}`)))
        );
      }),
    );
    const text = filters
      .map((f) =>
        Object.entries(f)
          .map(([k, v]) => `${k}=${v.join(',')}`)
          .join('&'),
      )
      .join(' or ');
    if (covered) {
      reasons.push(`The request already stays within the granular scope (${text}).`);
    } else {
      reasons.push(
        `Granular scope: the server adds ${text} to the query, so only matching resources come back${req.id ? ' (a read of a resource outside it answers 404)' : ''}.`,
      );
      return { ...base, verdict: 'narrowed', status: 200, reasons, wouldAllow: null };
    }
  }
  const status = req.interaction === 'create' ? 201 : req.interaction === 'delete' ? 204 : 200;
  return { ...base, verdict: 'allowed', status, reasons, wouldAllow: null };
}
