/**
 * Granular scope filters (SMART App Launch 2.2 §finer-grained-resource-constraints-using-search-parameters)
 * are applied twice: reads push them into SQL (accessSql, lib/fhir/search/sql.ts), writes evaluate them
 * in memory on the version about to be stored (matchesGranular, lib/fhir/access.ts). On generated
 * US Core resources (lib/synthetic) and generated filters, both must give every resource the same
 * verdict; otherwise a token could write what it cannot read, or read what it cannot write.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import type { Resource } from '@medplum/fhirtypes';
import { getDb } from '../db';
import { rawQuery } from '../db/direct';
import { env } from '../env';
import type { AllowedDecision, GranularFilter } from '../smart/access-policy';
import { generatePatient, generateSharedResources } from '../synthetic';
import { matchesGranular } from './access';
import { createBulkWriter } from './bulk-writer';
import { getTypeDefinition } from './definitions';
import type { ResourceIndex } from './indexer';
import { indexResource } from './indexer';
import { accessSql, raw, sql } from './search/sql';

const SANDBOX = 'granular-parity';
const byType = new Map<string, { resource: Resource; index: ResourceIndex }[]>();

beforeAll(async () => {
  // Date.now() decides the `ap` prefix's width on both sides: freeze it.
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date('2025-06-01T12:00:00Z'));
  const resources: Resource[] = [...generateSharedResources()];
  for (let i = 0; i < 3; i++) {
    const record = generatePatient(i, { seed: 7, anchorDate: '2025-06-01' });
    resources.push(record.patient, ...record.resources);
  }
  // Records of one dataset may repeat a shared resource: keep one of each.
  const unique = [...new Map(resources.map((r) => [`${r.resourceType}/${r.id}`, r])).values()];
  resources.length = 0;
  resources.push(...unique);
  const writer = createBulkWriter(env.DATABASE_URL);
  try {
    await writer.write(SANDBOX, resources);
  } finally {
    await writer.close();
  }
  for (const resource of resources) {
    const list = byType.get(resource.resourceType) ?? [];
    list.push({ resource, index: indexResource(resource) });
    byType.set(resource.resourceType, list);
  }
});

afterAll(() => {
  vi.useRealTimers();
});

async function sqlVerdict(type: string, filters: GranularFilter[]): Promise<string[]> {
  const t = { sandboxId: SANDBOX, type, idCol: raw('r."id"') };
  const rows = await rawQuery<{ id: string }>(
    getDb(),
    sql`SELECT r."id" FROM "Resource" r WHERE r."sandboxId" = ${SANDBOX} AND r."type" = ${type} AND r."deleted" = false AND ${accessSql(t, { compartmentPatientId: null, filters })}`,
  );
  return rows.map((r) => r.id).sort();
}

function memoryVerdict(type: string, filters: GranularFilter[]): string[] {
  const decision: AllowedDecision = { allowed: true, compartmentPatientId: null, filters, grantedBy: ['system/x.rs'], interaction: 'update', resourceType: type };
  return (byType.get(type) ?? [])
    .filter(({ resource, index }) => matchesGranular(index, resource, decision))
    .map(({ resource }) => resource.id!)
    .sort();
}

const PREFIXES = ['', 'eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'];

/** Dates at every precision FHIR search allows, from an indexed instant. */
function dateTexts(ms: number): string[] {
  const iso = new Date(ms).toISOString();
  return [iso.slice(0, 4), iso.slice(0, 7), iso.slice(0, 10), `${iso.slice(0, 19)}Z`, `${iso.slice(0, 16)}:00+05:00`];
}

/** One criterion (name → OR of values) built from a resource's own index rows, often hitting, sometimes not. */
function criterionFrom(type: string, resource: Resource, index: ResourceIndex): fc.Arbitrary<[string, string[]]> {
  const options: fc.Arbitrary<[string, string]>[] = [fc.constant(['_id', resource.id!]), fc.constant(['_id', `${resource.id!}x`])];
  for (const r of index.tokens) {
    if (r.code !== null) {
      options.push(fc.constantFrom<[string, string]>([r.param, r.code], [r.param, `${r.system ?? ''}|${r.code}`], [r.param, `${r.code}0`]));
      if (r.system !== null) options.push(fc.constant<[string, string]>([r.param, `${r.system}|`]));
    }
  }
  for (const r of index.strings) options.push(fc.integer({ min: 1, max: Math.max(1, r.value.length) }).map((n): [string, string] => [r.param, r.value.slice(0, n)]));
  for (const r of index.references) options.push(fc.constantFrom<[string, string]>([r.param, `${r.targetType}/${r.targetId}`], [r.param, r.targetId], [r.param, `${r.targetType}/${r.targetId}0`]));
  for (const r of index.dates) {
    options.push(fc.tuple(fc.constantFrom(...PREFIXES), fc.constantFrom(...dateTexts(r.start), ...dateTexts(r.end))).map(([p, d]): [string, string] => [r.param, `${p}${d}`]));
  }
  for (const r of index.quantities) {
    options.push(
      fc.tuple(fc.constantFrom(...PREFIXES), fc.constantFrom(r.value, Math.round(r.value), r.value * 1.05), fc.boolean()).map(([p, v, unit]): [string, string] => [
        r.param,
        `${p}${v}${unit && r.code !== null ? `|${r.system ?? ''}|${r.code}` : ''}`,
      ]),
    );
  }
  // Parameters the type has but this resource may lack, and names no granular filter can use.
  const params = [...(getTypeDefinition(type)?.params.keys() ?? [])];
  if (params.length) options.push(fc.tuple(fc.constantFrom(...params), fc.constantFrom('final', 'laboratory', '2020', 'ge2020-01-01', 'Patient/x', '5', 'x|y')).map(([p, v]): [string, string] => [p, v]));
  options.push(fc.constantFrom<[string, string]>(['code:text', 'glucose'], ['status:not', 'final'], ['unknown-param', 'x'], ['_lastUpdated', 'ge2000-01-01']));
  return fc.oneof(...options).chain(([name, first]) => fc.constantFrom<string[]>([first], [first, 'nothing-matches']).map((values): [string, string[]] => [name, values]));
}

const filtersArb: fc.Arbitrary<{ type: string; filters: GranularFilter[] }> = fc
  .constantFrom(...['Observation', 'Condition', 'Encounter', 'Patient', 'MedicationRequest', 'Immunization', 'Procedure', 'DiagnosticReport', 'AllergyIntolerance', 'Practitioner', 'Organization'])
  .chain((type) => {
    const pool = byType.get(type) ?? [];
    if (!pool.length) return fc.constant({ type, filters: [] as GranularFilter[] });
    const one = fc.constantFrom(...pool).chain(({ resource, index }) => fc.array(criterionFrom(type, resource, index), { minLength: 1, maxLength: 3 }));
    return fc.array(one, { minLength: 1, maxLength: 3 }).map((groups) => ({ type, filters: groups.map((criteria) => Object.fromEntries(criteria) as GranularFilter) }));
  });

describe('granular filters: the SQL of reads and the in-memory check of writes agree', () => {
  it('has generated data of the types it draws from', () => {
    for (const type of ['Observation', 'Condition', 'Encounter', 'Patient']) expect(byType.get(type)?.length ?? 0, type).toBeGreaterThan(0);
  });

  it('gives every generated resource the same verdict for generated filters', async () => {
    let hits = 0;
    let partial = 0;
    await fc.assert(
      fc.asyncProperty(filtersArb, async ({ type, filters }) => {
        const viaSql = await sqlVerdict(type, filters);
        const inMemory = memoryVerdict(type, filters);
        expect(inMemory, `${type} ${JSON.stringify(filters)}`).toEqual(viaSql);
        if (viaSql.length) hits++;
        if (viaSql.length && viaSql.length < (byType.get(type)?.length ?? 0)) partial++;
      }),
      { numRuns: 300, seed: 17 },
    );
    // Not vacuous: many filters select some resources and leave others out.
    expect(hits).toBeGreaterThan(100);
    expect(partial).toBeGreaterThan(50);
  });
});
