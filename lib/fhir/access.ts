/**
 * The bridge between the SMART access policy (lib/smart/access-policy) and the FHIR layer:
 * decisions become query scopes (reads) or checks of a resource about to be written (writes).
 */
import type { Resource } from '@medplum/fhirtypes';
import type { AccessDecision, AccessPolicy, AllowedDecision, DecideOptions, FhirInteraction } from '../smart/access-policy';
import { FhirForbiddenError } from './errors';
import type { QuantityRow, ResourceIndex } from './indexer';
import { MAX_TIME, MIN_TIME } from './dates';
import { CANONICAL_TARGET, indexResource, rowsOfParam } from './indexer';
import type { AccessScope } from './search/sql';
import type { DateValue, IndexTable, NumberValue, SearchFilter } from './search/parse';
import { parseFilter } from './search/parse';

/** Decides an interaction or throws 403 naming the scope that would allow it. */
export function decideOrThrow(policy: AccessPolicy, interaction: FhirInteraction, resourceType: string, options?: DecideOptions): AllowedDecision {
  const d: AccessDecision = policy.decide(interaction, resourceType, options);
  if (!d.allowed) throw new FhirForbiddenError(`${d.reason}. The scope ${d.wouldAllow} would allow it.`, d.wouldAllow);
  return d;
}

/** The part of a decision that goes into a query. */
export function scopeOf(d: AllowedDecision): AccessScope {
  return { compartmentPatientId: d.compartmentPatientId, filters: d.filters };
}

// The in-memory twin of filterSql (lib/fhir/search/sql.ts), criterion by criterion, over the index rows
// the store would write for this version; lib/fhir/granular-parity.test.ts proves both give the same
// verdict on generated resources and filters.
function matchesFilter(index: ResourceIndex, resource: Resource, f: SearchFilter): boolean {
  const type = resource.resourceType;
  switch (f.kind) {
    case 'id':
      return resource.id !== undefined && f.values.includes(resource.id);
    case 'token': {
      const rows = rowsOfParam(index.tokens, type, f.code);
      const hit = f.values.some((v) =>
        rows.some(
          (r) => (v.system === undefined || (v.system === null ? r.system === null : r.system === v.system)) && (v.code === undefined || r.code === v.code),
        ),
      );
      return f.modifier === 'not' ? !hit : hit;
    }
    case 'token-text': {
      const rows = rowsOfParam(index.tokens, type, f.code);
      return f.values.some((v) => rows.some((r) => r.text !== null && r.text.includes(v)));
    }
    case 'reference': {
      const rows = rowsOfParam(index.references, type, f.code);
      return (
        f.values.some((v) => rows.some((r) => r.targetId === v.id && (v.type === null || r.targetType === v.type))) ||
        f.canonicals.some((c) => rows.some((r) => r.targetType === CANONICAL_TARGET && r.targetId === c))
      );
    }
    case 'string': {
      const rows = rowsOfParam(index.strings, type, f.code);
      return f.values.some((v) =>
        rows.some((r) => (f.modifier === 'exact' ? r.exact === v : f.modifier === 'contains' ? r.value.includes(v) : r.value.startsWith(v))),
      );
    }
    case 'date': {
      const rows = rowsOfParam(index.dates, type, f.code);
      return f.values.some((v) => rows.some((r) => dateMatches(r.start, r.end, v)));
    }
    case 'number': {
      const rows = rowsOfParam(index.quantities, type, f.code);
      return f.values.some((v) => rows.some((r) => numberMatches(r, v)));
    }
    case 'missing': {
      const rows = rowsOfParam(indexRowsOf(index, f.table), type, f.code);
      return f.missing ? rows.length === 0 : rows.length > 0;
    }
    case 'lastUpdated':
    case 'chain':
    case 'has':
      // Not an index row of this resource: a granular filter of these kinds fails closed.
      return false;
  }
}

function indexRowsOf(index: ResourceIndex, table: IndexTable): { param: string; targetType?: string }[] {
  switch (table) {
    case 'SearchToken':
      return index.tokens;
    case 'SearchString':
      return index.strings;
    case 'SearchDate':
      return index.dates;
    case 'SearchReference':
      return index.references;
    case 'SearchQuantity':
      return index.quantities;
  }
}

// FHIR R4 search.html §3.1.1.4.1: the value and the indexed period are both ranges [start, end].
function dateMatches(start: number, end: number, v: DateValue): boolean {
  switch (v.prefix) {
    case 'eq':
      return start <= v.end && end >= v.start;
    case 'ne':
      return start > v.end || end < v.start;
    case 'gt':
      return end > v.end;
    case 'lt':
      return start < v.start;
    case 'ge':
      return end >= v.start;
    case 'le':
      return start <= v.end;
    case 'sa':
      return start > v.end;
    case 'eb':
      return end < v.start;
    case 'ap': {
      const delta = Math.max(86_400_000, Math.abs(Date.now() - v.start) * 0.1);
      return start <= Math.min(v.end + delta, MAX_TIME) && end >= Math.max(v.start - delta, MIN_TIME);
    }
  }
}

function numberMatches(r: QuantityRow, v: NumberValue): boolean {
  if (v.system !== undefined && v.system !== null && r.system !== v.system) return false;
  if (v.code !== undefined && r.code !== v.code) return false;
  switch (v.prefix) {
    case 'eq':
      return r.value >= v.low && r.value < v.high;
    case 'ne':
      return r.value < v.low || r.value >= v.high;
    case 'gt':
    case 'sa':
      return r.value > v.value;
    case 'lt':
    case 'eb':
      return r.value < v.value;
    case 'ge':
      return r.value >= v.value;
    case 'le':
      return r.value <= v.value;
    case 'ap':
      return r.value >= v.value - Math.abs(v.value) * 0.1 && r.value <= v.value + Math.abs(v.value) * 0.1;
  }
}

/**
 * Granular scope filters on writes (SMART App Launch 2.2 §finer-grained-resource-constraints-using-search-parameters):
 * true when the resource satisfies one of the decision's filters (or there are none). Reads apply
 * the same filters in SQL (accessSql in lib/fhir/search/sql.ts).
 */
export function matchesGranular(index: ResourceIndex, resource: Resource, d: AllowedDecision): boolean {
  if (d.filters === null) return true;
  return d.filters.some((filter) =>
    Object.entries(filter).every(([name, values]) => {
      try {
        return matchesFilter(index, resource, parseFilter(resource.resourceType, name, null, [...values]));
      } catch {
        return false;
      }
    }),
  );
}

/**
 * Checks a resource version about to be written (or being replaced) against a write decision:
 * with a compartment-bound decision, the version must belong to that patient's compartment and no
 * other (so a patient token can neither create data for another patient nor move data there), and
 * it must satisfy the granular filters. Throws 403.
 */
export function assertWriteAllowed(resource: Resource, d: AllowedDecision, which: 'new' | 'current'): ResourceIndex {
  const index = indexResource(resource);
  const owner = d.compartmentPatientId;
  if (owner !== null) {
    const others = index.compartments.filter((p) => p !== owner);
    if (!index.compartments.includes(owner) || others.length) {
      const what = which === 'new' ? 'The resource would' : 'The current version does';
      throw new FhirForbiddenError(
        `${what} not belong to patient ${owner}'s compartment only${others.length ? ' (it refers to another patient)' : ''}: a patient-scoped token may write only that patient's data`,
        `user/${resource.resourceType}.${d.interaction === 'create' ? 'c' : d.interaction === 'delete' ? 'd' : 'u'}`,
      );
    }
  }
  if (!matchesGranular(index, resource, d)) {
    throw new FhirForbiddenError(
      `The ${which === 'new' ? 'resource' : 'current version'} does not match the granular scope (${d.grantedBy.join(', ')})`,
      `${d.grantedBy[0]?.split('/')[0] ?? 'patient'}/${resource.resourceType}.${d.interaction === 'create' ? 'c' : 'u'}`,
    );
  }
  return index;
}
