/**
 * FHIR search parameters → a typed search request (FHIR R4 search.html). Everything a client sends
 * is checked here against the R4 + US Core definitions (an allow-list): unknown parameters are
 * collected (reported in an OperationOutcome, or 400 with `Prefer: handling=strict`), bad values
 * and unknown modifiers are 400.
 */
import { FhirError } from '../errors';
import { getTypeDefinition } from '../definitions';
import type { SearchParamDef } from '../definitions';
import { dateRange } from '../dates';
import { normalizeString } from '../indexer';
import { FHIR_ID_PATTERN, FHIR_ID_SOURCE } from '../../fhir-id';
import { decodePagingCursor, encodePagingCursor } from '../paging-cursor';
import type { PagingCursor } from '../paging-cursor';
import type { AccessScope } from './scope';

export type Prefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb' | 'ap';
const PREFIXES: readonly Prefix[] = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'];

/** A date value as the inclusive instant range its precision covers (epoch ms). */
export interface DateValue {
  prefix: Prefix;
  start: number;
  end: number;
}

/** `system|code`: system undefined = any system; null = no system (`|code`); code undefined = any code (`system|`). */
export interface TokenValue {
  system: string | null | undefined;
  code: string | undefined;
}

export interface NumberValue {
  prefix: Prefix;
  value: number;
  /** Implicit range of the value's precision (FHIR R4 search.html §3.1.1.4.1). */
  low: number;
  high: number;
  system: string | null | undefined;
  code: string | undefined;
}

export interface ReferenceValue {
  type: string | null;
  id: string;
}

/** One search criterion; the values of one criterion are OR-ed, criteria are AND-ed. */
export type SearchFilter =
  | { kind: 'id'; code: '_id'; values: string[] }
  | { kind: 'lastUpdated'; code: '_lastUpdated'; values: DateValue[] }
  | { kind: 'token'; code: string; modifier: null | 'not'; values: TokenValue[] }
  | { kind: 'token-text'; code: string; values: string[] }
  | { kind: 'string'; code: string; modifier: null | 'exact' | 'contains'; values: string[] }
  | { kind: 'date'; code: string; values: DateValue[] }
  /** `values` match literal references; `canonicals` (`url` or `url|version`) match canonical elements. Either may match. */
  | { kind: 'reference'; code: string; values: ReferenceValue[]; canonicals: string[] }
  | { kind: 'number'; code: string; values: NumberValue[] }
  | { kind: 'missing'; code: string; table: IndexTable; missing: boolean }
  /** `subject:Patient.name=x`: the reference `code` points at a resource of one of the targets that matches. */
  | { kind: 'chain'; code: string; targets: LinkedCriterion[] }
  /** `_has:Observation:patient:code=x`: a resource of `source.type` that matches refers here through `code`. */
  | { kind: 'has'; code: string; source: LinkedCriterion };

/**
 * The far side of a chain or `_has` (FHIR R4 search.html §3.1.1.4.13-14): a criterion on another
 * type, evaluated under that type's own access policy so that a chain can never tell whether a
 * resource the token cannot see matched.
 */
export interface LinkedCriterion {
  type: string;
  filter: SearchFilter;
  /** The policy of `type`; null until bound (lib/fhir/search/chains.ts withLinkedAccess). */
  access: AccessScope | null;
}

export type IndexTable = 'SearchToken' | 'SearchString' | 'SearchDate' | 'SearchReference' | 'SearchQuantity';

export interface SortSpec {
  code: string;
  descending: boolean;
  kind: 'id' | 'lastUpdated' | 'date' | 'number' | 'string';
}

export interface IncludeSpec {
  /** The type whose reference parameter is followed (the searched type for _include). */
  sourceType: string;
  param: string;
  /** Restricts the target type (`MedicationRequest:medication:Medication`), else every target of the param. */
  targetTypes: string[];
  /** The text as written, for self links. */
  text: string;
}

/** Where the previous page ended: its last entry's sort key (null when sorting by _id) and id. */
export type Cursor = PagingCursor<'search'>;

export interface SearchRequest {
  resourceType: string;
  filters: SearchFilter[];
  count: number;
  /** The `_count` asked for when it was above MAX_COUNT (the page size is then MAX_COUNT), else null. */
  countAsked: number | null;
  sort: SortSpec;
  summary: 'count' | 'data' | null;
  elements: string[] | null;
  include: IncludeSpec[];
  revinclude: IncludeSpec[];
  total: 'none' | 'estimate' | 'accurate' | null;
  cursor: Cursor | null;
  /** Parameters that were ignored (lenient handling), with the reason. */
  ignored: { name: string; reason: string }[];
  /** The accepted parameters as given, for self/next links (without _cursor, _format). */
  echo: [string, string][];
}

export const DEFAULT_COUNT = 100;
export const MAX_COUNT = 1000;

/**
 * The search result parameters parseSearch understands on every type (FHIR R4 search.html §3.1.1.5),
 * with what the CapabilityStatement says of them (lib/fhir/capability.ts declares exactly these).
 */
export const RESULT_PARAMETERS: readonly { name: string; type: 'number' | 'string' | 'token' | 'special'; documentation: string }[] = [
  {
    name: '_count',
    type: 'number',
    documentation: `Page size, default ${DEFAULT_COUNT}, at most ${MAX_COUNT} (a larger value is capped and the Bundle says so in an OperationOutcome entry); 0 gives the total only`,
  },
  { name: '_sort', type: 'string', documentation: 'One key: _id, _lastUpdated, or a date, number, quantity or string parameter; - for descending' },
  { name: '_summary', type: 'token', documentation: 'count (total only), data (without narrative) or false' },
  { name: '_elements', type: 'string', documentation: 'Top-level elements to return (the resources are marked SUBSETTED)' },
  {
    name: '_total',
    type: 'token',
    documentation: 'none, estimate or accurate; without it, total is given when the result fits one page or the search is confined to one patient',
  },
  {
    name: '_include',
    type: 'special',
    documentation: "Type:reference-parameter[:TargetType], one level (see searchInclude); included resources are read under the token's policy",
  },
  {
    name: '_revinclude',
    type: 'special',
    documentation: "Type:reference-parameter[:TargetType], one level (see searchRevInclude); included resources are read under the token's policy",
  },
  {
    name: '_has',
    type: 'special',
    documentation:
      "Reverse chaining, one level: _has:Type:reference-parameter:parameter[:modifier]=value; the referring type is searched under the token's policy (403 without a scope for it)",
  },
];

// Result parameters, plus the paging cursor and the format parameters (handled by the HTTP layer).
const CONTROL = new Set([...RESULT_PARAMETERS.map((p) => p.name).filter((n) => n !== '_has'), '_cursor', '_format', '_pretty']);

function tableOf(def: SearchParamDef): IndexTable {
  switch (def.type) {
    case 'token':
    case 'uri':
      return 'SearchToken';
    case 'string':
      return 'SearchString';
    case 'date':
      return 'SearchDate';
    case 'reference':
      return 'SearchReference';
    case 'quantity':
    case 'number':
      return 'SearchQuantity';
  }
}

/**
 * The modifiers parseFilter accepts per parameter type (besides `:missing`, which every type takes);
 * a reference parameter also takes `:[TargetType]` and one level of chaining.
 */
export const MODIFIERS: Readonly<Record<SearchParamDef['type'], readonly string[]>> = {
  token: ['text', 'not'],
  uri: ['text', 'not'],
  string: ['exact', 'contains'],
  date: [],
  reference: [],
  number: [],
  quantity: [],
};

/** Splits on unescaped `sep` (FHIR R4 search.html §3.1.1.1.8: `\,` `\|` `\$` `\\`). */
export function splitEscaped(value: string, sep: ',' | '|'): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === '\\' && i + 1 < value.length) {
      cur += ch + value[i + 1]!;
      i++;
    } else if (ch === sep) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function unescape(value: string): string {
  return value.replace(/\\([\\,|$])/g, '$1');
}

function splitOnce(value: string): [string, string | undefined] {
  const parts = splitEscaped(value, '|');
  if (parts.length === 1) return [parts[0]!, undefined];
  return [parts[0]!, parts.slice(1).join('|')];
}

function bad(name: string, message: string): FhirError {
  return new FhirError('invalid', `Search parameter '${name.slice(0, 60)}': ${message}`, name.slice(0, 60));
}

function parsePrefix(raw: string): [Prefix, string] {
  const p = raw.slice(0, 2) as Prefix;
  if (PREFIXES.includes(p) && /^[a-z]{2}[-+0-9.]/.test(raw)) return [p, raw.slice(2)];
  return ['eq', raw];
}

export function parseDateValue(name: string, raw: string): DateValue {
  // An unencoded `+` in a timezone arrives as a space from form decoding; a space is never valid here.
  const [prefix, text] = parsePrefix(raw.trim().replace(/ /g, '+'));
  const range = dateRange(text);
  if (!range)
    throw bad(
      name,
      `'${raw.slice(0, 40)}' is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[.sss]Z|±hh:mm), optionally prefixed by ${PREFIXES.join(' ')}`,
    );
  return { prefix, start: range[0], end: range[1] };
}

function parseToken(raw: string): TokenValue {
  const [a, b] = splitOnce(raw);
  if (b === undefined) return { system: undefined, code: unescape(a) };
  return { system: a === '' ? null : unescape(a), code: b === '' ? undefined : unescape(b) };
}

function parseNumber(name: string, raw: string, quantity: boolean): NumberValue {
  const parts = quantity ? splitEscaped(raw, '|') : [raw];
  const [prefix, num] = parsePrefix(parts[0]!);
  if (!/^-?\d+(\.\d+)?$/.test(num)) throw bad(name, `'${raw.slice(0, 40)}' is not a number`);
  const value = Number(num);
  const decimals = num.includes('.') ? num.split('.')[1]!.length : 0;
  const half = 0.5 * 10 ** -decimals;
  const system = parts.length > 1 ? (parts[1] === '' ? undefined : unescape(parts[1]!)) : undefined;
  const code = parts.length > 2 && parts[2] !== '' ? unescape(parts.slice(2).join('|')) : undefined;
  return { prefix, value, low: value - half, high: value + half, system, code };
}

// id, Type/id, or an absolute URL of one, optionally versioned.
const SEARCH_REFERENCE = new RegExp(`^(?:(?:https?://[^\\s]+/)?([A-Z][A-Za-z]+)/)?(${FHIR_ID_SOURCE})(?:/_history/\\d+)?$`);

function parseReference(name: string, raw: string, def: SearchParamDef, typeModifier: string | null, base: string | null): ReferenceValue {
  let text = unescape(raw.trim());
  if (base && text.startsWith(`${base}/`)) text = text.slice(base.length + 1);
  const m = SEARCH_REFERENCE.exec(text);
  if (!m) throw bad(name, `'${raw.slice(0, 60)}' is not a reference (id, Type/id or an absolute URL of one)`);
  const type = m[1] ?? typeModifier ?? (def.targets.length === 1 ? def.targets[0]! : null);
  if (m[1] && typeModifier && m[1] !== typeModifier) throw bad(name, `'${raw.slice(0, 60)}' contradicts the :${typeModifier} modifier`);
  if (type && def.targets.length && !def.targets.includes(type)) throw bad(name, `${type} is not a target type of this parameter (${def.targets.join(', ')})`);
  return { type, id: m[2]! };
}

/** A value of a parameter holding literal and canonical references, as a literal reference when it is one the parameter can hold. */
function literalReferenceOf(name: string, raw: string, def: SearchParamDef, typeModifier: string | null, base: string | null): ReferenceValue[] {
  try {
    return [parseReference(name, raw, def, typeModifier, base)];
  } catch {
    return [];
  }
}

/** A canonical URL search value: `url` or `url|version` (no spaces; the version is not empty). */
function parseCanonical(name: string, raw: string): string {
  const text = unescape(raw.trim());
  if (/\s/.test(text) || text.endsWith('|') || text.startsWith('|') || text.split('|').length > 2)
    throw bad(name, `'${raw.slice(0, 60)}' is not a canonical URL (url or url|version)`);
  return text;
}

/**
 * Parses the values of one search parameter (already split on commas) with an optional
 * modifier. Used for client parameters and for granular scope filters alike.
 */
export function parseFilter(resourceType: string, name: string, modifier: string | null, rawValues: string[], base: string | null = null): SearchFilter {
  const values = rawValues.filter((v) => v !== '');
  if (name === '_id') {
    if (modifier !== null) throw bad(name, `modifier :${modifier} is not supported on _id`);
    for (const v of values) if (!FHIR_ID_PATTERN.test(unescape(v))) throw bad(name, `'${v.slice(0, 70)}' is not a FHIR id`);
    return { kind: 'id', code: '_id', values: values.map(unescape) };
  }
  if (name === '_lastUpdated') {
    if (modifier !== null) throw bad(name, `modifier :${modifier} is not supported on _lastUpdated`);
    return { kind: 'lastUpdated', code: '_lastUpdated', values: values.map((v) => parseDateValue(name, v)) };
  }
  const def = getTypeDefinition(resourceType)?.params.get(name);
  if (!def) throw new FhirError('invalid', `Unknown search parameter '${name.slice(0, 60)}' for ${resourceType}`, name.slice(0, 60));
  if (modifier === 'missing') {
    if (values.length !== 1 || (values[0] !== 'true' && values[0] !== 'false')) throw bad(name, ':missing takes true or false');
    return { kind: 'missing', code: name, table: tableOf(def), missing: values[0] === 'true' };
  }
  switch (def.type) {
    case 'token':
    case 'uri':
      if (modifier === 'text') return { kind: 'token-text', code: name, values: values.map((v) => normalizeString(unescape(v))) };
      if (modifier !== null && modifier !== 'not') throw bad(name, `modifier :${modifier} is not supported (use :text, :not or :missing)`);
      return {
        kind: 'token',
        code: name,
        modifier,
        values: def.type === 'uri' ? values.map((v) => ({ system: undefined, code: unescape(v) })) : values.map(parseToken),
      };
    case 'string':
      if (modifier !== null && modifier !== 'exact' && modifier !== 'contains')
        throw bad(name, `modifier :${modifier} is not supported (use :exact, :contains or :missing)`);
      return { kind: 'string', code: name, modifier, values: values.map((v) => (modifier === 'exact' ? unescape(v) : normalizeString(unescape(v)))) };
    case 'date':
      if (modifier !== null) throw bad(name, `modifier :${modifier} is not supported on dates`);
      return { kind: 'date', code: name, values: values.map((v) => parseDateValue(name, v)) };
    case 'reference': {
      let typeModifier: string | null = null;
      if (modifier !== null) {
        if (!/^[A-Z][A-Za-z]+$/.test(modifier) || !getTypeDefinition(modifier))
          throw bad(name, `modifier :${modifier} is not supported (use :[ResourceType] or :missing)`);
        typeModifier = modifier;
      }
      if (!def.holds.canonical)
        return { kind: 'reference', code: name, values: values.map((v) => parseReference(name, v, def, typeModifier, base)), canonicals: [] };
      // A parameter over canonical elements (FHIR R4 search.html#reference, "References to
      // canonical URLs") takes `url` or `url|version`; one that also holds literal references
      // matches a value either way.
      if (typeModifier !== null && def.targets.length && !def.targets.includes(typeModifier))
        throw bad(name, `${typeModifier} is not a target type of this parameter (${def.targets.join(', ')})`);
      const canonicals = values.map((v) => parseCanonical(name, v));
      const literal = def.holds.literal ? values.flatMap((v) => literalReferenceOf(name, v, def, typeModifier, base)) : [];
      return { kind: 'reference', code: name, values: literal, canonicals };
    }
    case 'number':
    case 'quantity':
      if (modifier !== null) throw bad(name, `modifier :${modifier} is not supported on numbers`);
      return { kind: 'number', code: name, values: values.map((v) => parseNumber(name, v, def.type === 'quantity')) };
  }
}

/**
 * A chained parameter (FHIR R4 search.html §3.1.1.4.13): `param[:Type].chained[:modifier]`, one
 * level, on any reference parameter. Without `:Type` the chain applies to every target type of
 * the parameter that has the chained parameter.
 */
function parseChain(resourceType: string, key: string, rawValues: string[], base: string | null): SearchFilter {
  const dot = key.indexOf('.');
  const [param = '', typeModifier, ...extra] = key.slice(0, dot).split(':');
  const tail = key.slice(dot + 1);
  const def = getTypeDefinition(resourceType)?.params.get(param);
  if (!def || def.type !== 'reference')
    throw bad(key, `'${param.slice(0, 60)}' is not a reference parameter of ${resourceType}; only reference parameters can be chained`);
  if (extra.length) throw bad(key, 'write a chain as reference-parameter[:Type].parameter');
  if (tail.includes('.')) throw bad(key, 'one level of chaining is supported');
  const [chained = '', modifier = null, ...more] = tail.split(':');
  if (more.length) throw bad(key, 'the chained parameter takes at most one modifier');
  if (typeModifier !== undefined && !def.targets.includes(typeModifier))
    throw bad(key, `${typeModifier.slice(0, 60)} is not a target type of ${resourceType}:${param} (${def.targets.join(', ')})`);
  const candidates = typeModifier !== undefined ? [typeModifier] : def.targets;
  const types = candidates.filter((t) => chained === '_id' || chained === '_lastUpdated' || getTypeDefinition(t)?.params.has(chained));
  if (!types.length) throw bad(key, `'${chained.slice(0, 60)}' is not a search parameter of ${candidates.join(', ')}`);
  return { kind: 'chain', code: param, targets: types.map((type) => ({ type, filter: parseFilter(type, chained, modifier, rawValues, base), access: null })) };
}

/** Reverse chaining (FHIR R4 search.html §3.1.1.4.14): `_has:Type:reference-parameter:parameter[:modifier]`, one level. */
function parseHas(resourceType: string, key: string, rawValues: string[], base: string | null): SearchFilter {
  const [, sourceType = '', ref = '', param = '', modifier = null, ...more] = key.split(':');
  if (param === '_has') throw bad(key, 'one level of _has is supported');
  if (!param || more.length) throw bad(key, 'write _has as _has:Type:reference-parameter:parameter');
  const def = getTypeDefinition(sourceType)?.params.get(ref);
  if (!def || def.type !== 'reference') throw bad(key, `'${ref.slice(0, 60)}' is not a reference parameter of ${sourceType.slice(0, 60) || '(no type)'}`);
  if (def.targets.length && !def.targets.includes(resourceType)) throw bad(key, `${sourceType}:${ref} cannot refer to ${resourceType}`);
  if (param.includes('.')) throw bad(key, 'a chain inside _has is not supported');
  return { kind: 'has', code: ref, source: { type: sourceType, filter: parseFilter(sourceType, param, modifier, rawValues, base), access: null } };
}

/** Encodes a search paging cursor (an opaque, URL-safe keyset position). */
export function encodeCursor(c: Cursor): string {
  return encodePagingCursor('search', c);
}

function parseCount(raw: string): number {
  if (!/^\d{1,9}$/.test(raw)) throw bad('_count', 'must be a non-negative integer');
  return Number(raw);
}

function parseSort(resourceType: string, raw: string, ignored: SearchRequest['ignored']): SortSpec {
  const keys = raw
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  const first = keys[0];
  if (!first) throw bad('_sort', 'is empty');
  if (keys.length > 1) ignored.push({ name: '_sort', reason: `only the first sort key is used ('${first}'); results are then ordered by _id` });
  const descending = first.startsWith('-');
  const code = descending ? first.slice(1) : first;
  if (code === '_id') return { code, descending, kind: 'id' };
  if (code === '_lastUpdated') return { code, descending, kind: 'lastUpdated' };
  const def = getTypeDefinition(resourceType)?.params.get(code);
  if (!def) throw bad('_sort', `unknown parameter '${code.slice(0, 60)}' for ${resourceType}`);
  if (def.type === 'date') return { code, descending, kind: 'date' };
  if (def.type === 'number' || def.type === 'quantity') return { code, descending, kind: 'number' };
  if (def.type === 'string') return { code, descending, kind: 'string' };
  throw bad('_sort', `sorting by the ${def.type} parameter '${code}' is not supported (use a date, number or string parameter, _id or _lastUpdated)`);
}

function parseInclude(name: '_include' | '_revinclude', raw: string, resourceType: string, ignored: SearchRequest['ignored']): IncludeSpec | null {
  if (raw === '*') {
    ignored.push({ name, reason: `${name}=* is not supported; name the parameter (e.g. MedicationRequest:medication)` });
    return null;
  }
  const [sourceType = '', param = '', target, ...rest] = raw.split(':');
  const def = getTypeDefinition(sourceType)?.params.get(param);
  if (!def || def.type !== 'reference' || rest.length) throw bad(name, `'${raw.slice(0, 80)}' is not Type:reference-parameter[:TargetType]`);
  if (name === '_include' && sourceType !== resourceType) {
    ignored.push({ name, reason: `'${raw}' does not start from ${resourceType}` });
    return null;
  }
  if (target !== undefined && !def.targets.includes(target)) throw bad(name, `${target.slice(0, 60)} is not a target of ${sourceType}:${param}`);
  if (name === '_revinclude' && def.targets.length && !def.targets.includes(resourceType) && !def.targets.includes('Resource')) {
    ignored.push({ name, reason: `${sourceType}:${param} cannot refer to ${resourceType}` });
    return null;
  }
  const targetTypes = target !== undefined ? [target] : name === '_revinclude' ? [resourceType] : def.targets;
  return { sourceType, param, targetTypes, text: raw };
}

/**
 * Parses a search (URL query and, for POST _search, the form body) for one resource type.
 * `strict` (Prefer: handling=strict) turns ignored parameters into a 400.
 */
export function parseSearch(resourceType: string, params: [string, string][], opts: { strict: boolean; base: string | null }): SearchRequest {
  const req: SearchRequest = {
    resourceType,
    filters: [],
    count: DEFAULT_COUNT,
    countAsked: null,
    sort: { code: '_id', descending: false, kind: 'id' },
    summary: null,
    elements: null,
    include: [],
    revinclude: [],
    total: null,
    cursor: null,
    ignored: [],
    echo: [],
  };
  let sawSort = false;
  for (const [key, value] of params) {
    if (key.length > 100) throw bad(key, 'name too long');
    if (value.length > 4000) throw bad(key, 'value too long');
    const colon = key.indexOf(':');
    const name = colon < 0 ? key : key.slice(0, colon);
    const modifier = colon < 0 ? null : key.slice(colon + 1);
    if (name === '_format' || name === '_pretty') continue;
    if (name === '_cursor') {
      req.cursor = decodePagingCursor('search', value);
      continue;
    }
    if (CONTROL.has(name)) {
      switch (name) {
        case '_count':
          req.count = parseCount(value);
          // FHIR R4 search.html §3.1.1.5.7: the server may return fewer than _count; the Bundle says so (see the router).
          req.countAsked = req.count > MAX_COUNT ? req.count : null;
          req.count = Math.min(req.count, MAX_COUNT);
          break;
        case '_sort':
          if (sawSort) throw bad('_sort', 'given twice');
          sawSort = true;
          req.sort = parseSort(resourceType, value, req.ignored);
          break;
        case '_summary':
          if (value === 'count') req.summary = 'count';
          else if (value === 'data') req.summary = 'data';
          else if (value === 'false') req.summary = null;
          else if (value === 'true' || value === 'text')
            req.ignored.push({ name: key, reason: `_summary=${value} is not supported; full resources are returned` });
          else throw bad('_summary', 'must be true, text, data, count or false');
          break;
        case '_elements': {
          const els = value
            .split(',')
            .map((e) => e.trim())
            .filter(Boolean);
          for (const e of els) if (!/^[a-z][A-Za-z0-9]{0,63}(\[x\])?$/.test(e)) throw bad('_elements', `'${e.slice(0, 40)}' is not a top-level element name`);
          req.elements = [...(req.elements ?? []), ...els];
          break;
        }
        case '_include':
        case '_revinclude': {
          if (modifier !== null && modifier !== 'iterate' && modifier !== 'recurse') throw bad(key, `modifier :${modifier} is not supported`);
          if (modifier !== null) req.ignored.push({ name: key, reason: ':iterate is not supported; one level of inclusion is returned' });
          for (const one of value.split(',')) {
            const spec = parseInclude(name, one.trim(), resourceType, req.ignored);
            if (spec) (name === '_include' ? req.include : req.revinclude).push(spec);
          }
          break;
        }
        case '_total':
          if (value !== 'none' && value !== 'estimate' && value !== 'accurate') throw bad('_total', 'must be none, estimate or accurate');
          req.total = value;
          break;
      }
      req.echo.push([key, value]);
      continue;
    }
    if (value === '') continue; // FHIR R4 search.html §3.1.1.1.1: empty parameters are ignored.
    if (name === '_has' || key.includes('.')) {
      req.filters.push(
        name === '_has' ? parseHas(resourceType, key, splitEscaped(value, ','), opts.base) : parseChain(resourceType, key, splitEscaped(value, ','), opts.base),
      );
      req.echo.push([key, value]);
      continue;
    }
    const def = name === '_id' || name === '_lastUpdated' ? true : getTypeDefinition(resourceType)?.params.get(name);
    if (!def) {
      req.ignored.push({ name: key, reason: `unknown search parameter for ${resourceType}` });
      continue;
    }
    req.filters.push(parseFilter(resourceType, name, modifier, splitEscaped(value, ','), opts.base));
    req.echo.push([key, value]);
  }
  if (opts.strict && req.ignored.length) {
    const first = req.ignored[0]!;
    throw new FhirError(
      'invalid',
      `Search parameter '${first.name.slice(0, 60)}' was not understood (${first.reason}); Prefer: handling=strict forbids ignoring it`,
      first.name.slice(0, 60),
    );
  }
  return req;
}
