import type { Resource } from '@medplum/fhirtypes';
import { toTypedValue } from './medplum';
import type { TypedValue } from './medplum';
import { getTypeDefinition } from './definitions';
import type { SearchParamDef } from './definitions';
import { dateRange, MAX_TIME, MIN_TIME } from './dates';
import { NOT_COMPILED } from './search-path';

export interface TokenRow { param: string; system: string | null; code: string | null; text: string | null }
export interface StringRow { param: string; value: string; exact: string }
export interface DateRow { param: string; start: number; end: number }
export interface ReferenceRow { param: string; targetType: string; targetId: string }
export interface QuantityRow { param: string; value: number; system: string | null; code: string | null }

/** Search index rows of one resource, plus the patients whose compartment it belongs to. */
export interface ResourceIndex {
  tokens: TokenRow[];
  strings: StringRow[];
  dates: DateRow[];
  references: ReferenceRow[];
  quantities: QuantityRow[];
  compartments: string[];
}

const NON_ASCII = /[\u0080-\uffff]/;

/** Lower-cases and strips accents: FHIR string search is case- and accent-insensitive. */
export function normalizeString(value: string): string {
  // ASCII text has nothing to decompose.
  if (!NON_ASCII.test(value)) return value.toLowerCase().trim();
  return value.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().trim();
}

const MAX_STRING = 256;

/** Parses a reference string into type and id ("Patient/1", absolute URLs, versioned). */
export function parseReference(reference: string): { type: string; id: string } | null {
  const m = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference);
  return m ? { type: m[1]!, id: m[2]! } : null;
}

function evaluateFhirPath(def: SearchParamDef, root: TypedValue): TypedValue[] {
  try {
    return def.atom.eval({ variables: { '%resource': root, '%rootResource': root } }, [root]);
  } catch {
    return [];
  }
}

function evaluate(def: SearchParamDef, root: TypedValue, fhirPathOnly: boolean): TypedValue[] {
  if (def.compiled && !fhirPathOnly) {
    try {
      const values = def.compiled(root);
      if (values !== NOT_COMPILED) return values;
    } catch {
      // Fall through: FHIRPath decides what an unexpected shape yields.
    }
  }
  return evaluateFhirPath(def, root);
}

/**
 * Names a resource's top-level keys can be searched from: each key, and for a choice element
 * (`valueQuantity`, `effectivePeriod`) every prefix that ends before a capital letter.
 */
function presentRoots(resource: Resource): Set<string> {
  const roots = new Set<string>();
  for (const key in resource) {
    roots.add(key);
    for (let i = 1; i < key.length; i++) {
      const c = key.charCodeAt(i);
      if (c >= 65 && c <= 90) roots.add(key.slice(0, i));
    }
  }
  return roots;
}

type Obj = Record<string, unknown>;
const str = (v: unknown): string | null => (typeof v === 'string' && v.length ? v : null);

function addTokens(rows: TokenRow[], param: string, tv: TypedValue): void {
  const v = tv.value as unknown;
  if (v === null || v === undefined) return;
  switch (tv.type) {
    case 'CodeableConcept': {
      const cc = v as Obj;
      const codings = Array.isArray(cc.coding) ? (cc.coding as Obj[]) : [];
      for (const c of codings) rows.push({ param, system: str(c.system), code: str(c.code), text: str(c.display) ? normalizeString(c.display as string).slice(0, MAX_STRING) : null });
      if (str(cc.text)) rows.push({ param, system: null, code: null, text: normalizeString(cc.text as string).slice(0, MAX_STRING) });
      return;
    }
    case 'Coding': {
      const c = v as Obj;
      rows.push({ param, system: str(c.system), code: str(c.code), text: str(c.display) ? normalizeString(c.display as string).slice(0, MAX_STRING) : null });
      return;
    }
    case 'Identifier': {
      const id = v as Obj;
      rows.push({ param, system: str(id.system), code: str(id.value), text: null });
      return;
    }
    case 'ContactPoint': {
      const cp = v as Obj;
      rows.push({ param, system: str(cp.system), code: str(cp.value), text: null });
      return;
    }
    case 'boolean':
      rows.push({ param, system: null, code: String(v), text: null });
      return;
    default:
      if (typeof v === 'string' || typeof v === 'number') rows.push({ param, system: null, code: String(v).slice(0, MAX_STRING), text: null });
  }
}

function addStrings(rows: StringRow[], param: string, tv: TypedValue): void {
  const v = tv.value as unknown;
  const push = (s: unknown) => {
    if (typeof s === 'string' && s.trim()) rows.push({ param, value: normalizeString(s).slice(0, MAX_STRING), exact: s.slice(0, MAX_STRING) });
  };
  if (typeof v === 'string') return push(v);
  if (!v || typeof v !== 'object') return;
  const o = v as Obj;
  if (tv.type === 'HumanName') {
    push(o.family);
    for (const g of (o.given as unknown[]) ?? []) push(g);
    for (const g of (o.prefix as unknown[]) ?? []) push(g);
    for (const g of (o.suffix as unknown[]) ?? []) push(g);
    push(o.text);
    return;
  }
  if (tv.type === 'Address') {
    for (const l of (o.line as unknown[]) ?? []) push(l);
    for (const k of ['city', 'district', 'state', 'postalCode', 'country', 'text']) push(o[k]);
    return;
  }
  push(o.text);
}

function addDates(rows: DateRow[], param: string, tv: TypedValue): void {
  const v = tv.value as unknown;
  if (typeof v === 'string') {
    const r = dateRange(v);
    if (r) rows.push({ param, start: r[0], end: r[1] });
    return;
  }
  if (!v || typeof v !== 'object') return;
  const o = v as Obj;
  if (tv.type === 'Period') {
    const s = typeof o.start === 'string' ? dateRange(o.start) : null;
    const e = typeof o.end === 'string' ? dateRange(o.end) : null;
    if (s || e) rows.push({ param, start: s ? s[0] : MIN_TIME, end: e ? e[1] : MAX_TIME });
    return;
  }
  if (tv.type === 'Timing') {
    for (const ev of (o.event as unknown[]) ?? []) addDates(rows, param, { type: 'dateTime', value: ev });
    const bounds = (o.repeat as Obj | undefined)?.boundsPeriod;
    if (bounds) addDates(rows, param, { type: 'Period', value: bounds });
  }
}

function addReferences(rows: ReferenceRow[], param: string, tv: TypedValue): void {
  const v = tv.value as unknown;
  const ref = typeof v === 'string' ? v : v && typeof v === 'object' ? str((v as Obj).reference) : null;
  if (!ref) return;
  const parsed = parseReference(ref);
  if (parsed) rows.push({ param, targetType: parsed.type, targetId: parsed.id });
}

function addQuantities(rows: QuantityRow[], param: string, tv: TypedValue): void {
  const v = tv.value as unknown;
  if (typeof v === 'number') {
    rows.push({ param, value: v, system: null, code: null });
    return;
  }
  if (v && typeof v === 'object' && typeof (v as Obj).value === 'number') {
    const q = v as Obj;
    rows.push({ param, value: q.value as number, system: str(q.system), code: str(q.code) ?? str(q.unit) });
  }
}

export interface IndexOptions {
  /**
   * Evaluate every expression with FHIRPath, never with its compiled form. Both give the same
   * rows (lib/fhir/search-path.test.ts compares them); this is the reference to compare with.
   */
  fhirPathOnly?: boolean;
}

/** Computes search index rows and Patient-compartment owners from the R4 definitions. */
export function indexResource(resource: Resource, options: IndexOptions = {}): ResourceIndex {
  const out: ResourceIndex = { tokens: [], strings: [], dates: [], references: [], quantities: [], compartments: [] };
  const def = getTypeDefinition(resource.resourceType);
  if (!def) return out;
  const fhirPathOnly = options.fhirPathOnly === true;
  const root = toTypedValue(resource);
  const compartment = new Set<string>();
  if (resource.resourceType === 'Patient' && resource.id) compartment.add(resource.id);
  const present = presentRoots(resource);
  for (const param of def.params.values()) {
    // Most parameters of a type are absent from a given resource: skip evaluating those whose
    // starting element (or value[x] choice) is not there.
    if (param.roots && !param.roots.some((r) => present.has(r))) continue;
    const values = evaluate(param, root, fhirPathOnly);
    if (!values.length) continue;
    for (const tv of values) {
      switch (param.type) {
        case 'token':
        case 'uri':
          addTokens(out.tokens, param.code, tv);
          break;
        case 'string':
          addStrings(out.strings, param.code, tv);
          break;
        case 'date':
          addDates(out.dates, param.code, tv);
          break;
        case 'reference':
          addReferences(out.references, param.code, tv);
          break;
        case 'quantity':
        case 'number':
          addQuantities(out.quantities, param.code, tv);
          break;
      }
    }
  }
  // Compartment membership: R4 CompartmentDefinition/patient lists the parameters per type.
  for (const p of def.compartmentParams) {
    for (const r of out.references) if (r.param === p && r.targetType === 'Patient') compartment.add(r.targetId);
  }
  // A compartment parameter may have no search-index form of its own (e.g. Patient.link);
  // evaluate it directly so membership never depends on indexing choices.
  out.compartments = [...compartment];
  return out;
}
