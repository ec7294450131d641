import type { Resource } from '@medplum/fhirtypes';
import { toTypedValue } from './medplum';
import type { TypedValue } from './medplum';
import { getTypeDefinition, splitUnion } from './definitions';
import type { SearchParamDef, TypeDefinition } from './definitions';
import { dateRange, MAX_TIME, MIN_TIME } from './dates';
import { NOT_COMPILED } from './search-path';
import { FHIR_ID_SOURCE } from '../fhir-id';

export interface TokenRow {
  param: string;
  system: string | null;
  code: string | null;
  text: string | null;
}
export interface StringRow {
  param: string;
  value: string;
  exact: string;
}
export interface DateRow {
  param: string;
  start: number;
  end: number;
}
export interface ReferenceRow {
  param: string;
  targetType: string;
  targetId: string;
}
export interface QuantityRow {
  param: string;
  value: number;
  system: string | null;
  code: string | null;
}

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
  return value
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .trim();
}

const MAX_STRING = 256;

const REFERENCE_TAIL = new RegExp(`(?:^|/)([A-Z][A-Za-z]+)/(${FHIR_ID_SOURCE})(?:/_history/[^/]+)?$`);

/** Parses a reference string into type and id ("Patient/1", absolute URLs, versioned). */
export function parseReference(reference: string): { type: string; id: string } | null {
  const m = REFERENCE_TAIL.exec(reference);
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
 * A primitive that carries extensions (`"questionnaire": "…", "_questionnaire": {extension}`)
 * comes out of FHIRPath as a String, Number or Boolean object: its value is the primitive.
 */
function primitiveOf(tv: TypedValue): TypedValue {
  const v = tv.value as unknown;
  return v instanceof String || v instanceof Number || v instanceof Boolean ? { type: tv.type, value: v.valueOf() } : tv;
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
      for (const c of codings)
        rows.push({ param, system: str(c.system), code: str(c.code), text: str(c.display) ? normalizeString(c.display as string).slice(0, MAX_STRING) : null });
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

/**
 * The `targetType` of the reference rows that hold a canonical URL (a `canonical` or `uri` element
 * of a reference parameter, like `QuestionnaireResponse.questionnaire`): `targetId` is the URL, once
 * without its `|version` and once with it, so `url` matches every version and `url|version` one
 * (FHIR R4 search.html#reference, "References to canonical URLs"). Never a resource type name.
 */
export const CANONICAL_TARGET = 'canonical';

function addReferences(rows: ReferenceRow[], param: string, tv: TypedValue): void {
  const v = tv.value as unknown;
  if (tv.type === 'canonical' || tv.type === 'uri') {
    if (typeof v !== 'string' || !v) return;
    const bar = v.indexOf('|');
    rows.push({ param, targetType: CANONICAL_TARGET, targetId: bar < 0 ? v : v.slice(0, bar) });
    if (bar >= 0) rows.push({ param, targetType: CANONICAL_TARGET, targetId: v });
    return;
  }
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

/**
 * Drops the token rows of one parameter (those from `start` on) that no search can tell apart
 * from another row of it: exact repeats, and text-only rows (a CodeableConcept's `text`) whose
 * text is already the display of one of its codings. Every criterion is a semi-join on the
 * resource id, so a row that only ever matches together with another one is pure write cost:
 * most coded concepts repeat their display as text, a third of all token rows.
 */
function removeRedundantTokens(rows: TokenRow[], start: number): void {
  // A parameter rarely has more than a few rows: comparing them pairwise allocates nothing.
  const few = rows.length - start <= 16;
  const displays = few
    ? null
    : new Set(
        rows
          .slice(start)
          .filter((r) => r.text !== null && (r.system !== null || r.code !== null))
          .map((r) => r.text),
      );
  const seen = few ? null : new Set<string>();
  let kept = start;
  for (let i = start; i < rows.length; i++) {
    const r = rows[i]!;
    if (
      r.system === null &&
      r.code === null &&
      r.text !== null &&
      (displays ? displays.has(r.text) : hasDisplay(rows, i + 1, r.text) || hasDisplay(rows, start, r.text, kept))
    )
      continue;
    if (seen) {
      const key = JSON.stringify([r.system, r.code, r.text]);
      if (seen.has(key)) continue;
      seen.add(key);
    } else if (hasRow(rows, start, kept, r)) continue;
    rows[kept++] = r;
  }
  rows.length = kept;
}

/** True when a coded row among rows[from..to) has this text as its display. */
function hasDisplay(rows: TokenRow[], from: number, text: string, to = rows.length): boolean {
  for (let j = from; j < to; j++) {
    const o = rows[j]!;
    if (o.text === text && (o.system !== null || o.code !== null)) return true;
  }
  return false;
}

/** True when rows[from..to) holds a row equal to r. */
function hasRow(rows: TokenRow[], from: number, to: number, r: TokenRow): boolean {
  for (let j = from; j < to; j++) {
    const o = rows[j]!;
    if (o.system === r.system && o.code === r.code && o.text === r.text) return true;
  }
  return false;
}

/**
 * How a search parameter is stored when it is defined from other parameters of its type: the
 * union of their rows, or (reference parameters) their rows that point at one target type.
 */
export interface StoredAs {
  params: string[];
  targetType: string | null;
}

/** A union branch, trimmed and without parentheses around the whole of it. */
function normalizeBranch(branch: string): string {
  let b = branch.trim();
  while (b.startsWith('(') && b.endsWith(')') && splitUnion(b.slice(1, -1)).length === 1 && balanced(b.slice(1, -1))) b = b.slice(1, -1).trim();
  return b;
}

function balanced(text: string): boolean {
  let depth = 0;
  for (const ch of text) {
    if (ch === '(') depth++;
    else if (ch === ')' && --depth < 0) return false;
  }
  return depth === 0;
}

const RESOLVE_IS = /^(.+)\.where\(resolve\(\) is ([A-Z][A-Za-z]+)\)$/;

const storedForms = new WeakMap<TypeDefinition, Map<string, StoredAs>>();

/**
 * The parameters of a type that need no rows of their own, derived from the definitions: a union
 * of other parameters (`combo-code` = `code | component-code`), or another reference parameter
 * restricted to one target type (`patient` = `subject.where(resolve() is Patient)`). Such rows
 * would repeat others: searches read those instead (storedAs).
 */
function storedFormsOf(def: TypeDefinition): Map<string, StoredAs> {
  let forms = storedForms.get(def);
  if (forms) return forms;
  forms = new Map();
  const branches = new Map<string, string[]>();
  for (const p of def.params.values()) branches.set(p.code, [...new Set(splitUnion(p.expression).map(normalizeBranch))]);
  const params = [...def.params.values()];
  for (const p of params) {
    const own = branches.get(p.code)!;
    if (p.type !== 'reference' || own.length !== 1) continue;
    const m = RESOLVE_IS.exec(own[0]!);
    if (!m) continue;
    const base = params.find((q) => q.code !== p.code && q.type === 'reference' && branches.get(q.code)!.length === 1 && branches.get(q.code)![0] === m[1]);
    if (base) forms.set(p.code, { params: [base.code], targetType: m[2]! });
  }
  for (const p of params) {
    const own = branches.get(p.code)!;
    if (own.length < 2 || forms.has(p.code)) continue;
    const parts = params.filter(
      (q) =>
        q.code !== p.code &&
        q.type === p.type &&
        !forms!.has(q.code) &&
        branches.get(q.code)!.length < own.length &&
        branches.get(q.code)!.every((b) => own.includes(b)),
    );
    const covered = new Set(parts.flatMap((q) => branches.get(q.code)!));
    if (parts.length && own.every((b) => covered.has(b))) forms.set(p.code, { params: parts.map((q) => q.code), targetType: null });
  }
  storedForms.set(def, forms);
  return forms;
}

/** Where the rows of a search parameter are: null when under its own name, else the parameters (and target type) it is defined from. */
export function storedAs(resourceType: string, code: string): StoredAs | null {
  const def = getTypeDefinition(resourceType);
  return def ? (storedFormsOf(def).get(code) ?? null) : null;
}

/** The index rows of one resource that answer a search parameter (its own, or those it is stored as). */
export function rowsOfParam<R extends { param: string }>(rows: R[], resourceType: string, code: string): R[] {
  const form = storedAs(resourceType, code);
  if (!form) return rows.filter((r) => r.param === code);
  return rows.filter((r) => form.params.includes(r.param) && (form.targetType === null || (r as { targetType?: string }).targetType === form.targetType));
}

export interface IndexOptions {
  /**
   * Evaluate every expression with FHIRPath, never with its compiled form, and on every resource
   * whether its starting elements are there or not. Both give the same rows
   * (lib/fhir/search-path.test.ts compares them); this is the reference to compare with.
   */
  fhirPathOnly?: boolean;
  /**
   * Also give the parameters stored as others (storedAs) rows of their own: the reference the
   * stored form is checked against (lib/fhir/indexer.test.ts).
   */
  everyParameter?: boolean;
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
  const forms = storedFormsOf(def);
  const everyParameter = options.everyParameter === true;
  for (const param of def.params.values()) {
    if (!everyParameter && forms.has(param.code)) continue;
    // Most parameters of a type are absent from a given resource: skip evaluating those whose
    // starting element (or value[x] choice) is not there, taking what the expression yields then.
    const absent = !fhirPathOnly && param.roots !== null && !param.roots.some((r) => present.has(r));
    if (absent && !param.whenAbsent.length) continue;
    const values = absent ? param.whenAbsent : evaluate(param, root, fhirPathOnly);
    if (!values.length) continue;
    const firstToken = out.tokens.length;
    for (const value of values) {
      const tv = primitiveOf(value);
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
    if (out.tokens.length - firstToken > 1) removeRedundantTokens(out.tokens, firstToken);
  }
  // Patient compartment membership: R4 CompartmentDefinition/patient lists the parameters per type.
  for (const p of def.compartmentParams) {
    const form = forms.get(p);
    // A parameter stored as another one counts through that one's rows (to its target type).
    const params = form ? form.params : [p];
    if (form && form.targetType !== null && form.targetType !== 'Patient') continue;
    for (const r of out.references) if (r.targetType === 'Patient' && params.includes(r.param)) compartment.add(r.targetId);
  }
  // A compartment parameter may have no search-index form of its own (e.g. Patient.link);
  // evaluate it directly so membership never depends on indexing choices.
  out.compartments = [...compartment];
  return out;
}
