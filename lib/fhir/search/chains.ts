/**
 * Chained parameters and `_has` read a second resource type. Each such criterion is bound to the
 * access policy of that type before the query is built (lib/fhir/search/sql.ts linkedIds), so the
 * compartment and granular filters of the token apply to both sides of the chain.
 */
import type { LinkedCriterion, SearchFilter, SearchRequest } from './parse';
import type { AccessScope } from './scope';

function linkedOf(f: SearchFilter): LinkedCriterion[] {
  if (f.kind === 'chain') return f.targets;
  if (f.kind === 'has') return [f.source];
  return [];
}

/** The types a search reads besides its own (chain targets, `_has` sources), each once. */
export function linkedTypes(req: SearchRequest): string[] {
  return [...new Set(req.filters.flatMap(linkedOf).map((c) => c.type))];
}

/** The search with every chain and `_has` criterion bound to its type's access scope. */
export function withLinkedAccess(req: SearchRequest, scopeFor: (type: string) => AccessScope): SearchRequest {
  const bind = (c: LinkedCriterion): LinkedCriterion => ({ ...c, access: scopeFor(c.type) });
  const filters = req.filters.map((f): SearchFilter => {
    if (f.kind === 'chain') return { ...f, targets: f.targets.map(bind) };
    if (f.kind === 'has') return { ...f, source: bind(f.source) };
    return f;
  });
  return { ...req, filters };
}
