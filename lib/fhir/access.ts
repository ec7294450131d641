/**
 * The bridge between the SMART access policy (lib/smart/access-policy) and the FHIR layer:
 * decisions become query scopes (reads) or checks of a resource about to be written (writes).
 */
import type { Resource } from '@medplum/fhirtypes';
import type { AccessDecision, AccessPolicy, AllowedDecision, DecideOptions, FhirInteraction } from '../smart/access-policy';
import { FhirForbiddenError } from './errors';
import type { ResourceIndex } from './indexer';
import { indexResource, rowsOfParam } from './indexer';
import type { AccessScope } from './search/sql';
import type { SearchFilter } from './search/parse';
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

function matchesFilter(index: ResourceIndex, resource: Resource, f: SearchFilter): boolean {
  switch (f.kind) {
    case 'id':
      return resource.id !== undefined && f.values.includes(resource.id);
    case 'token': {
      const rows = rowsOfParam(index.tokens, resource.resourceType, f.code);
      const hit = f.values.some((v) =>
        rows.some((r) => (v.system === undefined || (v.system === null ? r.system === null : r.system === v.system)) && (v.code === undefined || r.code === v.code)),
      );
      return f.modifier === 'not' ? !hit : hit;
    }
    case 'reference': {
      const rows = rowsOfParam(index.references, resource.resourceType, f.code);
      return f.values.some((v) => rows.some((r) => r.targetId === v.id && (v.type === null || r.targetType === v.type)));
    }
    case 'string': {
      const rows = rowsOfParam(index.strings, resource.resourceType, f.code);
      return f.values.some((v) => rows.some((r) => (f.modifier === 'exact' ? r.exact === v : f.modifier === 'contains' ? r.value.includes(v) : r.value.startsWith(v))));
    }
    default:
      // Granular scopes in practice constrain tokens (category, code, status); anything else
      // cannot be proved in memory, so the write is refused (fail closed).
      return false;
  }
}

/** True when the resource satisfies one of the decision's granular filters (or there are none). */
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
    throw new FhirForbiddenError(`The ${which === 'new' ? 'resource' : 'current version'} does not match the granular scope (${d.grantedBy.join(', ')})`, `${d.grantedBy[0]?.split('/')[0] ?? 'patient'}/${resource.resourceType}.${d.interaction === 'create' ? 'c' : 'u'}`);
  }
  return index;
}
