// What a seeded database must hold, checked against the deterministic generators: every patient
// present is whole (each resource its generator produces, with identical content), nothing else is
// stored, and every search-index and compartment row belongs to a stored resource and is there.
import { isDeepStrictEqual } from 'node:util';
import type { Resource } from '@medplum/fhirtypes';
import type { Db } from '../../../lib/db';
import { indexResource } from '../../../lib/fhir/indexer';
import { generatePatient, generateSharedResources, GroupCollector } from '../../../lib/synthetic';

export interface DatasetSpec {
  readonly seed: number;
  readonly anchorDate: string;
  readonly patients: number;
}

export interface DatasetReport {
  /** Cohort indexes whose Patient row is stored. */
  readonly storedPatients: number[];
  /** Problems found; empty when the database is consistent. */
  readonly problems: string[];
  readonly resources: number;
}

const key = (r: Resource) => `${r.resourceType}/${r.id}`;

/** Resources in order without duplicates, as the seed stores them. */
function unique(list: Resource[]): Map<string, Resource> {
  const out = new Map<string, Resource>();
  for (const r of list) if (!out.has(key(r))) out.set(key(r), r);
  return out;
}

/** The stored form compared with the generated one: the store adds meta.versionId and meta.lastUpdated. */
function comparable(content: string): unknown {
  const r = JSON.parse(content) as Resource & { meta?: Record<string, unknown> };
  if (r.meta) {
    delete r.meta.versionId;
    delete r.meta.lastUpdated;
    if (Object.keys(r.meta).length === 0) delete r.meta;
  }
  return r;
}

const INDEX_TABLES = [
  ['SearchToken', 'tokens'],
  ['SearchString', 'strings'],
  ['SearchDate', 'dates'],
  ['SearchReference', 'references'],
  ['SearchQuantity', 'quantities'],
] as const;

async function countRows(db: Db, sql: string): Promise<number> {
  const rows = (await db.$queryRawUnsafe(sql)) as { n: number | bigint }[];
  return Number(rows[0]?.n ?? 0);
}

/** Checks the default sandbox of a database seeded (completely or not) with a cohort dataset without roster. */
export async function checkDataset(db: Db, spec: DatasetSpec, sandboxId = 'default'): Promise<DatasetReport> {
  const problems: string[] = [];
  const rows = await db.resource.findMany({ where: { sandboxId }, select: { type: true, id: true, content: true } });
  const stored = new Map(rows.map((r) => [`${r.type}/${r.id}`, r.content]));
  const accounted = new Set<string>();
  const compare = (expected: Map<string, Resource>, owner: string) => {
    for (const [k, resource] of expected) {
      const content = stored.get(k);
      if (content === undefined) problems.push(`${owner}: ${k} is missing`);
      else if (!isDeepStrictEqual(comparable(content), JSON.parse(JSON.stringify(resource))))
        problems.push(`${owner}: ${k} differs from what the generator produces`);
      accounted.add(k);
    }
  };

  const shared = unique(generateSharedResources());
  const sharedStored = [...shared.keys()].filter((k) => stored.has(k)).length;
  if (sharedStored > 0) compare(shared, 'shared resources');

  const storedPatients: number[] = [];
  // The cohort Groups come last in a seed (lib/synthetic/dataset.ts): once stored, they must be
  // exactly the generator's Groups of every patient.
  const groups = new GroupCollector();
  for (let i = 0; i < spec.patients; i++) {
    const record = generatePatient(i, { seed: spec.seed, anchorDate: spec.anchorDate });
    groups.add(record);
    if (!stored.has(`Patient/${record.patient.id}`)) {
      // Not stored: none of its own resources may be either.
      const own = unique([record.patient, ...record.resources]);
      for (const k of own.keys()) if (stored.has(k) && !shared.has(k)) problems.push(`patient ${i} is absent but its ${k} is stored`);
      continue;
    }
    storedPatients.push(i);
    compare(unique([record.patient, ...record.resources]), `patient ${i}`);
  }
  if (storedPatients.length > 0 && sharedStored === 0) problems.push('patients are stored without the shared resources');
  if ([...stored.keys()].some((k) => k.startsWith('Group/'))) compare(unique(groups.groups()), 'cohort groups');
  for (const k of stored.keys()) if (!accounted.has(k)) problems.push(`${k} is stored but belongs to no whole patient`);

  // Index and compartment rows: exactly those of the stored resources, none dangling, none missing.
  const expected = { tokens: 0, strings: 0, dates: 0, references: 0, quantities: 0, compartments: 0 };
  for (const content of stored.values()) {
    const index = indexResource(JSON.parse(content) as Resource);
    for (const name of Object.keys(expected) as (keyof typeof expected)[]) expected[name] += index[name].length;
  }
  const where = `WHERE "sandboxId" = '${sandboxId}'`;
  for (const [table, name] of [...INDEX_TABLES, ['CompartmentMember', 'compartments'] as const]) {
    const dangling = await countRows(
      db,
      `SELECT COUNT(*) AS n FROM "${table}" x WHERE x."sandboxId" = '${sandboxId}' AND NOT EXISTS (SELECT 1 FROM "Resource" r WHERE r."sandboxId" = x."sandboxId" AND r."type" = x."type" AND r."id" = x."resourceId")`,
    );
    if (dangling > 0) problems.push(`${dangling} ${table} rows belong to no stored resource`);
    const total = await countRows(db, `SELECT COUNT(*) AS n FROM "${table}" ${where}`);
    if (total !== expected[name]) problems.push(`${table} holds ${total} rows; the stored resources index to ${expected[name]}`);
  }
  const versions = await countRows(db, `SELECT COUNT(*) AS n FROM "ResourceVersion" ${where}`);
  if (versions !== stored.size) problems.push(`${versions} ResourceVersion rows for ${stored.size} resources`);
  return { storedPatients, problems, resources: stored.size };
}
