/**
 * Derives the consent screen's category choices from the US Core 6.1.0 package kept in
 * fhir-packages/ and writes them to lib/interaction/us-core-categories.json (checked in; a unit
 * test re-derives and compares, so the file cannot go stale).
 *
 * The categories of a type are the ones US Core's profiles of that type name for `category`:
 * - the code a `category` slice fixes (a pattern, or fixed `coding.system` + `coding.code`);
 * - every code of the US Core value set a `category` slice is bound to (required), as the value set
 *   lists them, or, for a value set that takes a whole code system in, that code system's concepts
 *   when the package holds it (the base FHIR `observation-category` system is not in the package:
 *   its codes enter through the profiles and value sets that name them).
 * docs/CONFORMANCE.md #100 lists the ones ONC (g)(10) requires; all of them are among these.
 *
 * Usage: node --import tsx scripts/us-core-categories.ts [--check]
 */
import { writeFileSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CodeSystem, ElementDefinition, StructureDefinition, ValueSet } from '@medplum/fhirtypes';
// @medplum/core (loaded by the validator module) needs a WebSocket global on Node 20.
import '../lib/fhir/websocket-shim';
import { readTgz, US_CORE_PACKAGE } from '../lib/synthetic/testing/us-core-validator';

/** The types the consent screen offers categories for. */
const TYPES = ['Observation', 'Condition'] as const;

export interface UsCoreCategory {
  /** `system|code`, exactly as it goes into a granular scope's `?category=` value. */
  readonly value: string;
  readonly system: string;
  readonly code: string;
  readonly label: string;
}

export type UsCoreCategories = Record<(typeof TYPES)[number], UsCoreCategory[]>;

export const OUTPUT = new URL('../lib/interaction/us-core-categories.json', import.meta.url);

function humanize(code: string): string {
  const words = code.replace(/-/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The category choices of each type, derived from the package (see the file comment). */
export function deriveUsCoreCategories(packagePath: URL | string = US_CORE_PACKAGE): UsCoreCategories {
  const files = readTgz(packagePath);
  const resources = [...files.entries()]
    .filter(([path]) => /^package\/[^/]+\.json$/.test(path) && !path.endsWith('package.json') && !path.endsWith('.index.json'))
    .map(([, buf]) => JSON.parse(buf.toString('utf8')) as { resourceType?: string; url?: string });
  const valueSets = new Map<string, ValueSet>();
  const codeSystems = new Map<string, CodeSystem>();
  const profiles: StructureDefinition[] = [];
  for (const r of resources) {
    if (r.resourceType === 'ValueSet' && r.url) valueSets.set(r.url, r as ValueSet);
    if (r.resourceType === 'CodeSystem' && r.url) codeSystems.set(r.url, r as CodeSystem);
    if (r.resourceType === 'StructureDefinition') profiles.push(r as StructureDefinition);
  }
  const displayOf = (system: string, code: string): string | undefined => codeSystems.get(system)?.concept?.find((c) => c.code === code)?.display;

  const out = {} as UsCoreCategories;
  for (const type of TYPES) {
    const found = new Map<string, UsCoreCategory>();
    const add = (system: string | undefined, code: string | undefined, display?: string) => {
      if (!system || !code) return;
      const value = `${system}|${code}`;
      if (!found.has(value)) found.set(value, { value, system, code, label: display ?? displayOf(system, code) ?? humanize(code) });
    };
    const ofType = profiles.filter((p) => p.type === type && p.derivation === 'constraint').sort((a, b) => (a.url ?? '').localeCompare(b.url ?? ''));
    for (const profile of ofType) {
      const elements: ElementDefinition[] = profile.snapshot?.element ?? [];
      const slices = elements.filter((e) => e.path === `${type}.category` && e.sliceName);
      for (const slice of slices) {
        for (const coding of slice.patternCodeableConcept?.coding ?? []) add(coding.system, coding.code, coding.display);
        const system = elements.find((e) => e.id === `${slice.id}.coding.system`)?.fixedUri;
        const code = elements.find((e) => e.id === `${slice.id}.coding.code`)?.fixedCode;
        add(system, code);
        const bound = slice.binding?.strength === 'required' ? valueSets.get(slice.binding.valueSet?.split('|')[0] ?? '') : undefined;
        for (const include of bound?.compose?.include ?? []) {
          if (!include.system) continue;
          const concepts = include.concept ?? codeSystems.get(include.system)?.concept ?? [];
          for (const c of concepts) add(include.system, c.code, c.display);
        }
      }
    }
    out[type] = [...found.values()];
  }
  return out;
}

/** The JSON text written to OUTPUT. */
export function categoriesJson(categories: UsCoreCategories): string {
  return `${JSON.stringify(categories, null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = categoriesJson(deriveUsCoreCategories());
  if (process.argv.includes('--check')) {
    if (readFileSync(OUTPUT, 'utf8') !== text) {
      console.error(`${fileURLToPath(OUTPUT)} is stale: run node --import tsx scripts/us-core-categories.ts`);
      process.exit(1);
    }
  } else {
    writeFileSync(OUTPUT, text);
    console.log(`wrote ${fileURLToPath(OUTPUT)}`);
  }
}
