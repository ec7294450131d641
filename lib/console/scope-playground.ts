/**
 * "Would this token be allowed to do GET /fhir/Observation?patient=X&category=vital-signs?" — the
 * request goes through the FHIR API's own decision code (lib/fhir/request-access.ts: the router's
 * routing, the route's permission, chains, the patient/ token naming another patient) with the
 * policy compiled from the token's scopes exactly as the API compiles it, after the token's own
 * state (a revoked or expired token is 401 whatever its scopes). What only the data can decide (a
 * read outside a granular filter, a resource that does not exist) is explained, not guessed.
 * test/integration/scope-playground-parity.test.ts proves the verdicts equal the API's.
 */
import type { AccessDecision, FhirInteraction } from '../smart/access-policy';
import { compileAccessPolicy, describeDecision } from '../smart/access-policy';
import { parseScopeString } from '../smart/scopes';
import { FhirError, FhirForbiddenError } from '../fhir/errors';
import { statusOf } from '../fhir/outcomes';
import type { FhirRoute } from '../fhir/request-access';
import { checkFhirRequest, routeAccess, routeFhirRequest, routeResourceType } from '../fhir/request-access';

export interface PlaygroundRequest {
  /** Granted scope string of the token. */
  scope: string;
  /** The token's patient context. */
  patientId?: string | null;
  /** The token's fhirUser (Practitioner/1, Patient/2). */
  fhirUser?: string | null;
  /** The state of the real token being explained; a scope string alone is taken as an active token. */
  tokenStatus?: 'active' | 'expired' | 'revoked';
  method: string;
  /** `/fhir/Observation?patient=X`, `Observation/1`, or an absolute URL. */
  url: string;
}

export interface PlaygroundAnswer {
  /**
   * 'allowed' (answers normally), 'narrowed' (allowed, but the server filters the results),
   * 'denied' (403), 'hidden' (404, flagged suspected BOLA), 'unauthorized' (401: the token itself is
   * refused), 'invalid' (the API refuses the URL or method: 400, 404 or 405).
   */
  readonly verdict: 'allowed' | 'narrowed' | 'denied' | 'hidden' | 'unauthorized' | 'invalid';
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

const ROUTE_SENTENCE: Partial<Record<FhirRoute['kind'], string>> = {
  capabilities: 'the CapabilityStatement (no token needed)',
  bulk: 'a Bulk Data request (decided per export job by its system/ or patient/ scopes)',
  batch: 'a batch Bundle (each entry is decided as the request it stands for)',
  'audit-search': 'an AuditEvent search (backend-services tokens only)',
  'audit-read': 'an AuditEvent read (backend-services tokens only)',
  expand: 'ValueSet $expand (published terminology: any valid token)',
  everything: 'Patient $everything (needs r on Patient; each compartment type is included as far as the scopes allow)',
  docref: 'DocumentReference $docref (a DocumentReference search)',
  'conditional-update': 'a conditional update (needs u, and c when nothing matches)',
  patch: 'a JSON Patch (needs u)',
};

/** The request's path below the FHIR base, split and decoded as the router does; the query as pairs. */
function requestParts(url: string): { segments: string[]; params: [string, string][]; shown: string } | { error: string } {
  let u: URL;
  try {
    u = new URL(url.trim(), 'http://sandbox.invalid/fhir/');
  } catch {
    return { error: 'not a URL' };
  }
  const path = u.pathname.replace(/^(?:\/s\/[^/]+)?\/fhir(\/|$)/, '/');
  const segments: string[] = [];
  for (const s of path.split('/')) {
    if (s === '') continue;
    try {
      segments.push(decodeURIComponent(s));
    } catch {
      return { error: 'Malformed URL path' };
    }
  }
  return { segments, params: [...u.searchParams], shown: `${path}${u.search}` };
}

function answer(partial: Omit<PlaygroundAnswer, 'interaction' | 'resourceType' | 'decision' | 'wouldAllow'> & Partial<PlaygroundAnswer>): PlaygroundAnswer {
  return { interaction: null, resourceType: null, decision: null, wouldAllow: null, ...partial };
}

/** Decides a request for a token the way the FHIR API does, with the reasons in order. */
export function evaluatePlaygroundRequest(input: PlaygroundRequest): PlaygroundAnswer {
  const method = input.method.toUpperCase();
  const parts = requestParts(input.url);
  if ('error' in parts) return answer({ verdict: 'invalid', status: 400, summary: parts.error, reasons: [] });
  const reasons: string[] = [];
  // The token comes first: the API checks it before anything about the URL is revealed (everything but /metadata).
  const isMetadata = parts.segments.length === 1 && parts.segments[0] === 'metadata';
  if (!isMetadata && input.tokenStatus && input.tokenStatus !== 'active') {
    reasons.push(
      `The token has ${input.tokenStatus === 'revoked' ? 'been revoked' : 'expired'}: the server answers 401 with WWW-Authenticate: Bearer error="invalid_token" whatever the request and the scopes (RFC 6750 §3.1).`,
    );
    return answer({
      verdict: 'unauthorized',
      status: 401,
      summary: `the access token has ${input.tokenStatus === 'revoked' ? 'been revoked' : 'expired'}`,
      reasons,
    });
  }
  const { scopes, errors } = parseScopeString(input.scope);
  const policy = compileAccessPolicy(scopes, { patientId: input.patientId ?? undefined, fhirUser: input.fhirUser ?? undefined });
  if (errors.length) reasons.push(`Ignored ${errors.length} scope(s) that do not parse: ${errors.map((e) => e.scope).join(' ')}.`);
  let verdict;
  try {
    verdict = checkFhirRequest(policy, { method, segments: parts.segments, params: parts.params, base: 'http://sandbox.invalid/fhir', strict: false });
  } catch (err) {
    if (err instanceof FhirForbiddenError) {
      // The route's own permission, when that is what refused: the audit trail's line for it.
      const route = routeFhirRequest(method, parts.segments, new URLSearchParams(parts.params));
      const access = routeAccess(route);
      const door = access ? policy.decide(access.interaction, access.type, access.level ? { level: access.level } : undefined) : null;
      reasons.unshift(
        `${method} ${parts.shown} is ${ROUTE_SENTENCE[route.kind] ?? (access ? `a FHIR ${INTERACTION_SENTENCE[access.interaction]} on ${access.type}` : route.kind)}.`,
      );
      reasons.push(err.message);
      reasons.push(`The server answers 403 with WWW-Authenticate: Bearer error="insufficient_scope", scope="${err.wouldAllow}".`);
      return answer({
        verdict: 'denied',
        status: 403,
        interaction: access?.interaction ?? null,
        resourceType: routeResourceType(route),
        decision: door,
        summary: door && !door.allowed ? describeDecision(door) : err.message,
        reasons,
        wouldAllow: err.wouldAllow,
      });
    }
    if (err instanceof FhirError) {
      reasons.push(`The FHIR API refuses this ${method} ${parts.shown}: ${err.message}.`);
      return answer({ verdict: 'invalid', status: statusOf(err.kind), summary: err.message, reasons });
    }
    throw err;
  }
  const { route, decision } = verdict;
  const access = routeAccess(route);
  const resourceType = routeResourceType(route);
  const routeText = ROUTE_SENTENCE[route.kind] ?? (access ? `a FHIR ${INTERACTION_SENTENCE[access.interaction]} on ${access.type}` : route.kind);
  reasons.unshift(`${method} ${parts.shown} is ${routeText}.`);
  const base = { interaction: access?.interaction ?? null, resourceType, decision };
  const nominal = route.kind === 'create' ? 201 : route.kind === 'delete' ? 204 : 200;
  if (!decision) {
    reasons.push(route.kind === 'capabilities' ? 'Anyone may read it.' : 'The token is valid; the rest is decided as the request is answered.');
    return answer({ ...base, verdict: 'allowed', status: nominal, summary: routeText, reasons });
  }
  const summary = describeDecision(decision);
  reasons.push(`Granted by ${decision.grantedBy.join(', ')}.`);
  const own = decision.compartmentPatientId;
  if (own !== null) {
    reasons.push(`The query is confined to patient ${own}'s compartment.`);
    const id = 'id' in route && typeof route.id === 'string' ? route.id : null;
    if ((resourceType === 'Patient' && id !== null && id !== own) || (route.kind === 'everything' && route.id !== own)) {
      reasons.push(
        `Patient/${id} is outside that compartment: the server answers 404 (the same as for a resource that does not exist) and flags the audit record suspected-bola.`,
      );
      return answer({ ...base, verdict: 'hidden', status: 404, summary, reasons });
    }
    if (id !== null) reasons.push(`${resourceType}/${id} is answered only if it is in that compartment; otherwise 404, as for a resource that does not exist.`);
  } else {
    reasons.push('No compartment restriction.');
  }
  if (decision.filters !== null) {
    const text = decision.filters
      .map((f) =>
        Object.entries(f)
          .map(([k, v]) => `${k}=${v.join(',')}`)
          .join('&'),
      )
      .join(' or ');
    const asked = new URLSearchParams(parts.params);
    const covered = decision.filters.some((f) =>
      Object.entries(f).every(([name, values]) => {
        const value = asked.get(name);
        return (
          value !== null && value.split(',').every((v) => values.some((allowed) => allowed === v || allowed.endsWith(`|${v}`) || v.endsWith(`|${allowed}`)))
        );
      }),
    );
    if (covered) {
      reasons.push(`The request already stays within the granular scope (${text}).`);
    } else {
      reasons.push(
        `Granular scope: the server adds ${text} to the query, so only matching resources come back${route.kind === 'search' ? '' : ' (a resource outside it answers 404)'}.`,
      );
      return answer({ ...base, verdict: 'narrowed', status: nominal, summary, reasons });
    }
  }
  return answer({ ...base, verdict: 'allowed', status: nominal, summary, reasons });
}
