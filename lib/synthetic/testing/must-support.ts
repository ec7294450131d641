import type { ElementDefinition, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { readTgz, US_CORE_PACKAGE } from '../us-core-package';

/**
 * Coverage of the US Core 6.1.0 package by a dataset: which of its resource profiles some resource
 * claims, and which must-support elements of each profile some resource claiming it fills in.
 */
export interface ProfileCoverage {
  /** Canonical URLs of every resource profile of the package (kind resource, derivation constraint). */
  readonly profiles: readonly string[];
  /** Looks at one resource (call for every resource of the dataset). */
  add(resource: Resource): void;
  /** Profiles of the package no resource claims. */
  unclaimed(): string[];
  /**
   * `profile element-id` of every must-support element no resource claiming the profile (or one
   * derived from it) fills in.
   */
  missingMustSupport(): string[];
}

interface Segment {
  readonly name: string;
  readonly slice?: string;
  /** Id of the element this segment ends at (for slice definitions). */
  readonly id: string;
}

function parseId(id: string): Segment[] {
  const parts = id.split('.');
  const out: Segment[] = [];
  let prefix = parts[0] ?? '';
  for (const part of parts.slice(1)) {
    prefix += `.${part}`;
    const [name = '', slice] = part.split(':');
    out.push(slice === undefined ? { name, id: prefix } : { name, slice, id: prefix });
  }
  return out;
}

type Json = unknown;

function children(node: Json, key: string): Json[] {
  if (node === null || typeof node !== 'object') return [];
  const record = node as Record<string, unknown>;
  const values: unknown[] = [];
  if (key.endsWith('[x]')) {
    const stem = key.slice(0, -3);
    for (const [k, v] of Object.entries(record)) if (k.startsWith(stem) && /^[A-Z]/.test(k.slice(stem.length))) values.push(v);
  } else if (key in record) {
    // A primitive's extensions are in its `_` sibling (FHIR R4 §json).
    const primitiveElement = record[`_${key}`];
    values.push(
      primitiveElement && typeof primitiveElement === 'object' && !Array.isArray(primitiveElement) ? { ...primitiveElement, value: record[key] } : record[key],
    );
  }
  return values.flatMap((v) => (Array.isArray(v) ? v : [v]));
}

/** True when `value` contains everything `pattern` has (FHIR pattern[x] semantics). */
function matchesPattern(value: Json, pattern: Json): boolean {
  if (pattern === null || typeof pattern !== 'object') return value === pattern;
  if (Array.isArray(pattern)) {
    const items = Array.isArray(value) ? value : [value];
    return pattern.every((p) => items.some((v) => matchesPattern(v, p)));
  }
  if (value === null || typeof value !== 'object') return false;
  const record = value as Record<string, unknown>;
  return Object.entries(pattern as Record<string, unknown>).every(([k, p]) => matchesPattern(record[k], p));
}

function fixedOrPattern(e: ElementDefinition): Json | undefined {
  for (const [k, v] of Object.entries(e)) if (k.startsWith('pattern') || k.startsWith('fixed')) return v as Json;
  return undefined;
}

class ProfileElements {
  readonly byId = new Map<string, ElementDefinition>();
  readonly mustSupport: string[] = [];

  constructor(readonly sd: StructureDefinition) {
    for (const e of sd.snapshot?.element ?? []) {
      if (!e.id) continue;
      this.byId.set(e.id, e);
      if (e.mustSupport) this.mustSupport.push(e.id);
    }
  }

  /** Keeps the items of a slice: extensions by URL, others by the fixed or pattern values of the slice and its direct children. */
  private inSlice(items: Json[], seg: Segment): Json[] {
    const def = this.byId.get(seg.id);
    if (!def || seg.name.endsWith('[x]')) return items;
    if (seg.name === 'extension' || seg.name === 'modifierExtension') {
      const url = def.type?.[0]?.profile?.[0];
      return url ? items.filter((i) => (i as { url?: string }).url === url) : items;
    }
    const tests: ((item: Json) => boolean)[] = [];
    const own = fixedOrPattern(def);
    if (own !== undefined) tests.push((item) => matchesPattern(item, own));
    for (const [id, child] of this.byId) {
      if (!id.startsWith(`${seg.id}.`) || id.slice(seg.id.length + 1).includes('.')) continue;
      const value = fixedOrPattern(child);
      const key = id.slice(seg.id.length + 1);
      if (value !== undefined && !key.includes(':')) tests.push((item) => children(item, key).some((c) => matchesPattern(c, value)));
    }
    return items.filter((i) => tests.every((t) => t(i)));
  }

  /** Whether `resource` has a value at the element `id`, slices respected. */
  present(resource: Resource, id: string): boolean {
    let nodes: Json[] = [resource];
    for (const seg of parseId(id)) {
      const key = seg.name.endsWith('[x]') && seg.slice ? seg.slice : seg.name;
      nodes = nodes.flatMap((n) => children(n, key));
      if (seg.slice !== undefined) nodes = this.inSlice(nodes, seg);
      if (nodes.length === 0) return false;
    }
    return true;
  }
}

/** Reads the package's resource profiles and tracks a dataset's coverage of them. */
export function createProfileCoverage(): ProfileCoverage {
  const profiles = new Map<string, ProfileElements>();
  for (const [path, data] of readTgz(US_CORE_PACKAGE)) {
    if (!path.startsWith('package/StructureDefinition-') || !path.endsWith('.json')) continue;
    const sd = JSON.parse(data.toString('utf8')) as StructureDefinition;
    if (sd.kind === 'resource' && sd.derivation === 'constraint' && sd.url) profiles.set(sd.url, new ProfileElements(sd));
  }
  const claimed = new Set<string>();
  const missing = new Map<string, Set<string>>();
  for (const [url, p] of profiles) {
    // What a profile inherits from another profile of the package and does not constrain again is
    // checked where it is defined, over every resource conforming to it.
    const base = p.sd.baseDefinition ? profiles.get(p.sd.baseDefinition) : undefined;
    const own = new Set((p.sd.differential?.element ?? []).map((e) => e.id));
    missing.set(url, new Set(p.mustSupport.filter((id) => !base?.mustSupport.includes(id) || own.has(id))));
  }
  return {
    profiles: [...profiles.keys()].sort(),
    add(resource) {
      for (const claim of resource.meta?.profile ?? []) {
        if (profiles.has(claim)) claimed.add(claim);
        // A resource conforms to the profiles its profile is derived from (US Core Vital Signs for
        // every vital sign): their must-support elements count it too.
        for (let url: string | undefined = claim, p = profiles.get(claim); p && url; url = p.sd.baseDefinition, p = url ? profiles.get(url) : undefined) {
          const open = missing.get(url);
          if (!open?.size) continue;
          for (const id of open) if (p.present(resource, id)) open.delete(id);
        }
      }
    },
    unclaimed: () => [...profiles.keys()].filter((u) => !claimed.has(u)).sort(),
    missingMustSupport: () => [...missing].flatMap(([url, ids]) => [...ids].map((id) => `${url.slice(url.lastIndexOf('/') + 1)} ${id}`)).sort(),
  };
}
