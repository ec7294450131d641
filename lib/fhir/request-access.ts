/**
 * How the FHIR API routes a request and the access it checks before reading any data: pure code,
 * used by the router for every request and by the console's scope playground, so the two give the
 * same verdict (docs/CONFORMANCE.md #119: a patient-scoped search naming another patient is 403;
 * SMART App Launch 2.2 §scopes-and-launch-context: an interaction needs its permission letter).
 */
import type { AccessPolicy, AllowedDecision, FhirInteraction } from '../smart/access-policy';
import { isFhirId } from '../fhir-id';
import { decideOrThrow, scopeOf } from './access';
import { assertAuditReader } from './audit-events';
import { bulkRequestOf } from './bulk/endpoints';
import type { BulkRequest } from './bulk/endpoints';
import { FhirError, FhirForbiddenError } from './errors';
import { withLinkedAccess } from './search/chains';
import type { SearchFilter, SearchRequest } from './search/parse';
import { parseSearch } from './search/parse';
import { assertId, assertResourceType } from './store';

/** The handler a request goes to. */
export type FhirRoute =
  | { readonly kind: 'capabilities' }
  | { readonly kind: 'bulk'; readonly bulk: BulkRequest }
  | { readonly kind: 'batch' }
  | { readonly kind: 'audit-search' }
  | { readonly kind: 'audit-read'; readonly id: string; readonly rest: string | undefined }
  | { readonly kind: 'search'; readonly type: string; readonly form: boolean }
  | { readonly kind: 'create'; readonly type: string }
  | { readonly kind: 'conditional-update'; readonly type: string }
  | { readonly kind: 'conditional-delete'; readonly type: string }
  | { readonly kind: 'history'; readonly type: string; readonly id: string | null }
  | { readonly kind: 'vread'; readonly type: string; readonly id: string; readonly version: string }
  | { readonly kind: 'expand'; readonly id: string | null }
  | { readonly kind: 'docref' }
  | { readonly kind: 'read' | 'update' | 'delete' | 'patch'; readonly type: string; readonly id: string }
  | { readonly kind: 'everything'; readonly id: string };

/** The resource type of a route, when it names one. */
export function routeResourceType(route: FhirRoute): string | null {
  switch (route.kind) {
    case 'audit-search':
    case 'audit-read':
      return 'AuditEvent';
    case 'expand':
      return 'ValueSet';
    case 'docref':
      return 'DocumentReference';
    case 'everything':
      return 'Patient';
    case 'capabilities':
    case 'bulk':
    case 'batch':
      return null;
    default:
      return route.type;
  }
}

/**
 * Routes a request by method and decoded path segments (below the FHIR base). Throws the FhirError
 * the API answers for a URL or method it does not serve (404 / 405 not-supported / 400).
 */
export function routeFhirRequest(method: string, segments: readonly string[], params: URLSearchParams): FhirRoute {
  const [first, second, third, fourth, ...rest] = segments;
  if (first === 'metadata' && segments.length === 1) {
    if (method !== 'GET') throw new FhirError('not-supported', `${method} is not supported on metadata`);
    return { kind: 'capabilities' };
  }
  const bulk = bulkRequestOf([...segments]);
  if (bulk) return { kind: 'bulk', bulk };
  if (first === undefined) {
    if (method === 'POST') return { kind: 'batch' };
    throw new FhirError('not-supported', 'System-level search is not supported; search a resource type');
  }
  assertResourceType(first);
  if (rest.length) throw new FhirError('not-found', 'Unknown FHIR URL');
  if (first === 'AuditEvent') {
    if (method !== 'GET') throw new FhirError('not-supported', 'AuditEvent is read-only');
    if (second === undefined) return { kind: 'audit-search' };
    return { kind: 'audit-read', id: second, rest: third };
  }
  if (second === undefined) {
    if (method === 'GET') return { kind: 'search', type: first, form: false };
    if (method === 'POST') return { kind: 'create', type: first };
    const conditional = [...params].some(([k]) => k !== '_format' && k !== '_pretty');
    if (method === 'PUT' && conditional) return { kind: 'conditional-update', type: first };
    if (method === 'DELETE' && conditional) return { kind: 'conditional-delete', type: first };
    throw new FhirError('not-supported', `${method} is not supported on a resource type`);
  }
  if (second === '_search' && third === undefined) {
    if (method !== 'POST' && method !== 'GET') throw new FhirError('not-supported', `${method} is not supported on _search`);
    return { kind: 'search', type: first, form: method === 'POST' };
  }
  if (second === '_history' && third === undefined) {
    if (method !== 'GET') throw new FhirError('not-supported', `${method} is not supported on _history`);
    return { kind: 'history', type: first, id: null };
  }
  if (second === '$expand' && first === 'ValueSet' && third === undefined) {
    if (method !== 'GET' && method !== 'POST') throw new FhirError('not-supported', `${method} is not supported on $expand`);
    return { kind: 'expand', id: null };
  }
  if (second === '$docref' && first === 'DocumentReference' && third === undefined) {
    if (method !== 'GET' && method !== 'POST') throw new FhirError('not-supported', `${method} is not supported on $docref`);
    return { kind: 'docref' };
  }
  if (second.startsWith('$') || second.startsWith('_')) throw new FhirError('not-supported', `Operation ${second.slice(0, 40)} is not supported on ${first}`);
  assertId(second);
  if (third === undefined) {
    if (method === 'GET') return { kind: 'read', type: first, id: second };
    if (method === 'PUT') return { kind: 'update', type: first, id: second };
    if (method === 'DELETE') return { kind: 'delete', type: first, id: second };
    if (method === 'PATCH') return { kind: 'patch', type: first, id: second };
    throw new FhirError('not-supported', `${method} is not supported on a resource`);
  }
  if (third === '$expand' && first === 'ValueSet' && fourth === undefined) {
    if (method !== 'GET' && method !== 'POST') throw new FhirError('not-supported', `${method} is not supported on $expand`);
    return { kind: 'expand', id: second };
  }
  if (third === '$everything' && first === 'Patient' && fourth === undefined) {
    if (method !== 'GET' && method !== 'POST') throw new FhirError('not-supported', `${method} is not supported on $everything`);
    return { kind: 'everything', id: second };
  }
  if (third === '_history') {
    if (method !== 'GET') throw new FhirError('not-supported', `${method} is not supported on _history`);
    if (fourth === undefined) return { kind: 'history', type: first, id: second };
    return { kind: 'vread', type: first, id: second, version: fourth };
  }
  if (third.startsWith('$')) throw new FhirError('not-supported', `Operation ${third.slice(0, 40)} is not supported on ${first}`);
  throw new FhirError('not-found', 'Unknown FHIR URL');
}

/** The permission a route's handler checks first, before reading anything (null: decided per entry, per job, or open to any valid token). */
export function routeAccess(route: FhirRoute): { interaction: FhirInteraction; type: string; level?: 'instance' | 'type' } | null {
  switch (route.kind) {
    case 'search':
      return { interaction: 'search', type: route.type };
    case 'create':
      return { interaction: 'create', type: route.type };
    case 'conditional-update':
    case 'update':
    case 'patch':
      return { interaction: 'update', type: route.type };
    case 'delete':
    case 'conditional-delete':
      return { interaction: 'delete', type: route.type };
    case 'read':
      return { interaction: 'read', type: route.type };
    case 'vread':
      return { interaction: 'vread', type: route.type };
    case 'history':
      return { interaction: 'history', type: route.type, level: route.id === null ? 'type' : 'instance' };
    case 'everything':
      return { interaction: 'read', type: 'Patient' };
    case 'docref':
      return { interaction: 'search', type: 'DocumentReference' };
    default:
      return null;
  }
}

/** The patient ids a search names (`patient=`, `subject=Patient/…`, `Patient?_id=`), on either side of chains and `_has`. */
export function patientsNamedIn(req: SearchRequest): string[] {
  return req.filters.flatMap((f) => patientsNamedBy(req.resourceType, f));
}

const PATIENT_PARAMS = new Set(['patient', 'subject', 'beneficiary', 'link']);

function patientsNamedBy(type: string, f: SearchFilter): string[] {
  if (f.kind === 'reference') return f.values.filter((v) => v.type === 'Patient' || (v.type === null && PATIENT_PARAMS.has(f.code))).map((v) => v.id);
  if (f.kind === 'id' && type === 'Patient') return f.values;
  if (f.kind === 'chain') return f.targets.flatMap((c) => patientsNamedBy(c.type, c.filter));
  if (f.kind === 'has') return patientsNamedBy(f.source.type, f.source.filter);
  return [];
}

/**
 * Parses a search and binds its chains and `_has` to the policy of each type they read: the token
 * must be allowed to search that type (403 otherwise), and that type's compartment and granular
 * filters confine the far side. `onLinked` sees each decision (the router notes its scopes).
 */
export function parseAuthorizedSearch(
  policy: AccessPolicy,
  type: string,
  params: [string, string][],
  opts: { strict: boolean; base: string },
  onLinked: (d: AllowedDecision) => void = () => undefined,
): SearchRequest {
  return withLinkedAccess(parseSearch(type, params, opts), (linked) => {
    const d = decideOrThrow(policy, 'search', linked);
    onLinked(d);
    return scopeOf(d);
  });
}

/**
 * A patient/ token's search that names another patient (`Observation?patient=<other>`,
 * `Observation?subject=Patient/<other>`, `Patient?_id=<other>`, alone or OR-ed with its own id) is
 * refused with 403 before anything is queried (docs/CONFORMANCE.md #119, #175). A read of
 * `Patient/<other>` stays 404, indistinguishable from a missing id. Returns the other patients named
 * (empty when none) so the caller can flag the audit record before the error is thrown.
 */
export function otherPatientsNamed(req: SearchRequest, d: AllowedDecision): string[] {
  const own = d.compartmentPatientId;
  if (own === null) return [];
  return [...new Set(patientsNamedIn(req).filter((id) => id !== own))];
}

/** The 403 for a search naming another patient (see otherPatientsNamed). */
export function otherPatientError(req: SearchRequest, own: string, others: readonly string[]): FhirForbiddenError {
  return new FhirForbiddenError(
    `The search names patient ${others.slice(0, 3).join(', ')}, outside the compartment of patient ${own} this token is bound to: a patient-scoped token may search only its own patient's data`,
    `user/${req.resourceType}.s`,
  );
}

/** What the API decides about a request before reading any data. */
export interface DoorVerdict {
  readonly route: FhirRoute;
  /** The decision of the route's own permission (null when the route has none). */
  readonly decision: AllowedDecision | null;
  /** A search: as parsed, chains bound to the policy. */
  readonly search: SearchRequest | null;
}

/**
 * Everything the API checks about a request before reading data, in the router's order: the route
 * (404/405/400), the route's permission (403), AuditEvent's backend-only rule, a search's parameters
 * (400 in strict handling), its chains' permissions and a patient/ token naming another patient
 * (403). Throws the FhirError the API answers with. `params` are the query (and, for POST
 * `_search`, the form body).
 */
export function checkFhirRequest(
  policy: AccessPolicy,
  input: { method: string; segments: readonly string[]; params: [string, string][]; base: string; strict: boolean },
): DoorVerdict {
  const route = routeFhirRequest(input.method, input.segments, new URLSearchParams(input.params));
  const access = routeAccess(route);
  if (route.kind === 'audit-search') assertAuditReader(policy, 'search');
  if (route.kind === 'audit-read') {
    assertAuditReader(policy, 'read');
    if (route.rest !== undefined) throw new FhirError('not-supported', 'AuditEvent has no history');
    if (!isFhirId(route.id)) throw new FhirError('invalid', 'Invalid AuditEvent id');
  }
  const decision = access ? decideOrThrow(policy, access.interaction, access.type, access.level ? { level: access.level } : undefined) : null;
  if (route.kind === 'search' && decision) {
    const search = parseAuthorizedSearch(policy, route.type, input.params, { strict: input.strict, base: input.base });
    const others = otherPatientsNamed(search, decision);
    if (others.length) throw otherPatientError(search, decision.compartmentPatientId!, others);
    return { route, decision, search };
  }
  if ((route.kind === 'conditional-update' || route.kind === 'conditional-delete') && decision) {
    // A conditional update or delete is defined by a search on its criteria (FHIR R4 http.html
    // §3.1.0.4.3, §3.1.0.7.1): it needs the search permission too, and is that search's 403s.
    const searching = decideOrThrow(policy, 'search', route.type);
    const params = input.params.filter(([k]) => k !== '_format' && k !== '_pretty');
    const search = parseAuthorizedSearch(policy, route.type, params, { strict: true, base: input.base });
    if (!search.filters.length)
      throw new FhirError('invalid', `The conditional ${route.kind === 'conditional-update' ? 'update' : 'delete'} has no search criteria`);
    const others = otherPatientsNamed(search, searching);
    if (others.length) throw otherPatientError(search, searching.compartmentPatientId!, others);
    return { route, decision, search };
  }
  return { route, decision, search: null };
}
