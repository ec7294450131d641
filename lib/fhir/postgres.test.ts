/**
 * The search SQL is hand-built (lib/fhir/search/sql.ts), so it runs on both dialects here: the
 * same data and the same requests on SQLite (this file's unit database) and on PostgreSQL (a
 * throwaway cluster, or TEST_DATABASE_URL) must give identical answers. Skipped when neither a
 * PostgreSQL server nor its binaries are available.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle } from '@medplum/fhirtypes';
import { createDb } from '../db';
import type { Db } from '../db';
import { ResourceStore } from './store';
import { load, patientRecord, sharedResources } from './test-fixtures';
import { fhirRequest, testHandler, testTokens } from './test-support';
// @ts-expect-error plain ESM helper without types
import { findPgBin, startCluster } from '../../scripts/lib/pg-cluster.mjs';
// @ts-expect-error plain ESM helper without types
import { applyMigrations } from '../../scripts/lib/schema-engine.mjs';

const available = Boolean(process.env.TEST_DATABASE_URL) || Boolean(findPgBin());
const tokens = testTokens();
const patient = await tokens.issue('patient/*.cruds', { patientId: 'pg-a' });
const user = await tokens.issue('user/*.cruds', { fhirUser: 'Practitioner/prac-1' });
const lab = await tokens.issue('patient/Observation.rs?category=laboratory', { patientId: 'pg-a' });

let cluster: { url: string; stop(): Promise<void> } | undefined;
let pg: Db | undefined;

const REQUESTS: [string, string][] = [
  ['Observation?patient=pg-a&category=laboratory&date=ge2021-01-01', patient],
  ['Observation?patient=Patient/pg-a&code=http://loinc.org|8867-4', patient],
  ['Observation?code:text=gluc&value-quantity=gt90', user],
  ['Observation?category:not=laboratory&_sort=-date', user],
  ['Observation?encounter:missing=true&_sort=date', user],
  ['Observation?date=2021&_lastUpdated=gt2000-01-01', user],
  ['Observation?_total=accurate&_count=1', patient],
  ['Observation?_total=accurate&_count=2', user],
  ['Observation?_total=accurate&_count=2&_sort=-date', user],
  ['Observation?_total=accurate&_count=2&_sort=date', user],
  ['Observation', lab],
  ['Patient?name=zo&_sort=-_id', user],
  ['Patient?family:exact=Berger', user],
  ['Patient?family:contains=nde', user],
  ['Patient?birthdate=lt1980&gender=female', user],
  ['Patient?_id=pg-a,pg-b', user],
  ['Patient?_id=pg-a,pg-b', patient],
  ['Encounter?date=2021-05-01T10:30:00Z&_sort=date', user],
  ['Procedure?date=ge2017-03-03T08:30:00%2B00:00', user],
  ['MedicationRequest?intent=order&status=active,completed&_include=MedicationRequest:medication&_revinclude=Provenance:target', patient],
  ['Organization?_revinclude=Patient:organization', patient],
  ['Condition?patient=pg-a&category=problem-list-item&_summary=count', patient],
  ['Observation/_history', patient],
  ['Observation/pg-a-lab/_history', patient],
  ['Observation/pg-b-lab', patient],
  ['Patient/pg-a/$everything?_count=7', patient],
  ['Observation?subject:Patient.name=zo&_sort=-date', user],
  ['Observation?patient.gender=female&category=laboratory', patient],
  ['Patient?_has:Observation:patient:category=laboratory', user],
  ['Patient?_has:Observation:patient:category=vital-signs', lab],
  ['Practitioner?_has:Encounter:practitioner:patient=pg-b', patient],
];

function summary(status: number, body: Bundle): unknown {
  return {
    status,
    total: body.total,
    ids: (body.entry ?? []).map((e) => `${e.search?.mode ?? ''}:${e.resource?.resourceType}/${e.resource?.id}`),
    links: (body.link ?? []).map((l) => l.relation),
  };
}

async function run(db: Db): Promise<unknown[]> {
  const { handle } = testHandler({ db, store: new ResourceStore(db) });
  const out: unknown[] = [];
  for (const [path, token] of REQUESTS) {
    let url: string | undefined = path;
    const pages: unknown[] = [];
    while (url) {
      const res = await handle(fhirRequest(url, token));
      const body = (await res.json()) as Bundle;
      pages.push(summary(res.status, body));
      url = body.link?.find((l) => l.relation === 'next')?.url.replace('http://localhost:3000/fhir/', '');
    }
    out.push([path, pages]);
  }
  return out;
}

describe.skipIf(!available)('the same requests on SQLite and PostgreSQL', () => {
  beforeAll(async () => {
    let url = process.env.TEST_DATABASE_URL;
    if (!url) {
      cluster = (await startCluster()) as { url: string; stop(): Promise<void> };
      url = cluster.url;
    }
    await applyMigrations({ kind: 'postgresql', url });
    pg = createDb(url).db;
    const data = [...sharedResources(), ...patientRecord('pg-a', 'Anders', 'a'), ...patientRecord('pg-b', 'Berger', 'b')];
    await load(new ResourceStore(pg), 'default', data);
    await load(new ResourceStore(), 'default', data);
  }, 120_000);

  afterAll(async () => {
    await pg?.$disconnect();
    await cluster?.stop();
  });

  it('plans every named statement for its own values (no generic plan for a search)', async () => {
    const rows = await pg!.$queryRawUnsafe<{ plan_cache_mode: string }[]>('SHOW plan_cache_mode');
    expect(rows[0]?.plan_cache_mode).toBe('force_custom_plan');
  });

  it('answers identically (search families, modifiers, sort, paging, includes, history, $everything)', async () => {
    const onSqlite = await run(createDb(process.env.DATABASE_URL ?? '').db);
    const onPostgres = await run(pg!);
    expect(onPostgres).toEqual(onSqlite);
    // The comparison is not vacuous: the requests do find data.
    expect(JSON.stringify(onSqlite)).toContain('Observation/pg-a-lab');
    expect(JSON.stringify(onSqlite)).toContain('include:Medication/med-1');
  }, 60_000);
});
