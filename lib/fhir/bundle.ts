import type { Bundle, BundleEntry, BundleLink, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { StoredJson } from './http';

/** Builds a searchset or history Bundle (FHIR R4 bundle.html). */
export function bundle(type: 'searchset' | 'history', entries: BundleEntry[], opts: { total?: number; links: BundleLink[] }): Bundle {
  const b: Bundle = { resourceType: 'Bundle', type, meta: { lastUpdated: new Date().toISOString() } };
  if (opts.total !== undefined) b.total = opts.total;
  b.link = opts.links;
  b.entry = entries;
  return b;
}

/** A search entry with its absolute fullUrl. */
export function searchEntry(base: string, resource: Resource, mode: 'match' | 'include'): BundleEntry {
  return { fullUrl: `${base}/${resource.resourceType}/${resource.id ?? ''}`, resource, search: { mode } };
}

/** A search entry of a stored resource, its JSON text sent as stored (see StoredJson). */
export function storedEntry(base: string, row: { type: string; id: string; content: string }, mode: 'match' | 'include'): BundleEntry {
  return { fullUrl: `${base}/${row.type}/${row.id}`, resource: new StoredJson(row.content) as unknown as Resource, search: { mode } };
}

/** The OperationOutcome entry of a search (search.mode = outcome), e.g. for ignored parameters. */
export function outcomeEntry(outcome: OperationOutcome): BundleEntry {
  return { resource: outcome, search: { mode: 'outcome' } };
}

/** Keeps only the listed top-level elements (FHIR R4 search.html §3.1.1.5.9 `_elements`), marking the resource SUBSETTED. */
export function selectElements(resource: Resource, elements: string[]): Resource {
  const keep = new Set(['resourceType', 'id', 'meta', ...elements.map((e) => e.replace('[x]', ''))]);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(resource)) {
    if (keep.has(k) || [...keep].some((e) => k.startsWith(e) && /^[A-Z]/.test(k.slice(e.length)) && elements.includes(`${e}[x]`))) out[k] = v;
  }
  return withSubsetted(out as unknown as Resource);
}

/** Drops the narrative (`_summary=data`), marking the resource SUBSETTED. */
export function withoutText(resource: Resource): Resource {
  const copy = { ...resource } as Record<string, unknown>;
  delete copy.text;
  return withSubsetted(copy as unknown as Resource);
}

function withSubsetted(resource: Resource): Resource {
  const tag = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED', display: 'subsetted' };
  const meta = resource.meta ?? {};
  return { ...resource, meta: { ...meta, tag: [...(meta.tag ?? []), tag] } } as Resource;
}
