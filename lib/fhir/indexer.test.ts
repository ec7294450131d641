/**
 * What the search index stores, and that searching it answers as if every parameter had rows of
 * its own: redundant token rows are left out, and parameters defined from others (`combo-code`,
 * `patient`) are answered from those others' rows.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { BundleEntry, Encounter, Observation, Patient, Provenance, Resource } from '@medplum/fhirtypes';
import { generateDataset } from '../synthetic';
import { getTypeDefinition } from './definitions';
import { indexResource, rowsOfParam, storedAs } from './indexer';
import type { ResourceIndex } from './indexer';
import { ResourceStore } from './store';
import { load } from './test-fixtures';
import { fhirRequest, testHandler, testTokens } from './test-support';

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';

function datasetResources(patients: number, seed: number): Resource[] {
  const out: Resource[] = [];
  for (const item of generateDataset({ seed, patients, anchorDate: '2025-06-01', includeRoster: true })) {
    out.push(...(item.kind === 'patient' ? [item.record.patient, ...item.record.resources] : item.resources));
  }
  return out;
}

type Table = Exclude<keyof ResourceIndex, 'compartments'>;
const TABLES: Table[] = ['tokens', 'strings', 'dates', 'references', 'quantities'];

/** The rows of one parameter without their parameter name, as a set of comparable strings. */
function valuesOf(rows: { param: string }[]): string[] {
  return [...new Set(rows.map(({ param: _param, ...rest }) => JSON.stringify(rest)))].sort();
}

describe('index rows', () => {
  it('hold what an expression yields when its element is absent: a patient with no deceased[x] is deceased=false (FHIR R4 patient.html#search)', () => {
    const tokens = (p: Patient) =>
      indexResource(p)
        .tokens.filter((t) => t.param === 'deceased')
        .map((t) => t.code);
    expect(tokens({ resourceType: 'Patient', id: 'p1' })).toEqual(['false']);
    expect(tokens({ resourceType: 'Patient', id: 'p2', deceasedBoolean: false })).toEqual(['false']);
    expect(tokens({ resourceType: 'Patient', id: 'p3', deceasedBoolean: true })).toEqual(['true']);
    expect(tokens({ resourceType: 'Patient', id: 'p4', deceasedDateTime: '2020-01-02' })).toEqual(['true']);
    // Whatever the resource lacks, the rows equal those of evaluating every expression with FHIRPath.
    for (const type of ['Patient', 'Observation', 'Condition', 'MedicationRequest', 'Encounter', 'Practitioner', 'Organization']) {
      const empty = { resourceType: type, id: 'e1' } as Resource;
      const fast = indexResource(empty);
      const reference = indexResource(empty, { fhirPathOnly: true });
      for (const table of TABLES) expect(valuesOf(fast[table]), `${type} ${table}`).toEqual(valuesOf(reference[table]));
    }
  });

  it('leave out token rows no search can tell apart: a text equal to a display, repeated codings', () => {
    const obs: Observation = {
      resourceType: 'Observation',
      id: 'o1',
      status: 'final',
      code: {
        coding: [
          { system: LOINC, code: '2339-0', display: 'Glucose' },
          { system: LOINC, code: '2339-0', display: 'Glucose' },
        ],
        text: 'GLUCOSE',
      },
      category: [{ coding: [{ system: 'urn:c', code: 'laboratory' }], text: 'Lab results' }],
      subject: { reference: 'Patient/p1' },
    };
    const rows = indexResource(obs).tokens;
    expect(rows.filter((r) => r.param === 'code')).toEqual([{ param: 'code', system: LOINC, code: '2339-0', text: 'glucose' }]);
    // A text of its own stays searchable with :text.
    expect(rows.filter((r) => r.param === 'category')).toEqual([
      { param: 'category', system: 'urn:c', code: 'laboratory', text: null },
      { param: 'category', system: null, code: null, text: 'lab results' },
    ]);
  });

  it('name the parameters stored as others, from the definitions', () => {
    expect(storedAs('Observation', 'combo-code')).toEqual({ params: ['code', 'component-code'], targetType: null });
    expect(storedAs('Observation', 'combo-value-quantity')).toEqual({ params: ['component-value-quantity', 'value-quantity'], targetType: null });
    expect(storedAs('Observation', 'patient')).toEqual({ params: ['subject'], targetType: 'Patient' });
    expect(storedAs('Encounter', 'practitioner')).toEqual({ params: ['participant'], targetType: 'Practitioner' });
    expect(storedAs('Provenance', 'patient')).toEqual({ params: ['target'], targetType: 'Patient' });
    // Parameters with an expression of their own keep their rows.
    for (const [type, code] of [
      ['Observation', 'code'],
      ['Observation', 'subject'],
      ['Immunization', 'patient'],
      ['AllergyIntolerance', 'code'],
      ['Observation', 'value-date'],
    ]) {
      expect(storedAs(type!, code!), `${type}.${code}`).toBeNull();
    }
  });

  it('answer every parameter of every generated resource exactly as rows of its own would', () => {
    const resources = datasetResources(30, 11);
    let derived = 0;
    for (const resource of resources) {
      const stored = indexResource(resource);
      const full = indexResource(resource, { everyParameter: true });
      const what = `${resource.resourceType}/${resource.id}`;
      expect(stored.compartments, what).toEqual(full.compartments);
      const derivedParams = [...getTypeDefinition(resource.resourceType)!.params.keys()].filter((code) => storedAs(resource.resourceType, code));
      for (const table of TABLES) {
        // Every other parameter keeps exactly its rows; these have none of their own.
        expect(stored[table], `${what} ${table}`).toEqual((full[table] as { param: string }[]).filter((r) => !derivedParams.includes(r.param)));
        for (const code of derivedParams) {
          const own = (full[table] as { param: string }[]).filter((r) => r.param === code);
          expect(valuesOf(rowsOfParam<{ param: string }>(stored[table], resource.resourceType, code)), `${what} ${code}`).toEqual(valuesOf(own));
          derived += own.length;
        }
      }
    }
    expect(derived).toBeGreaterThan(resources.length);
  }, 120_000);
});

describe('searching parameters stored as others (FHIR R4 search.html)', () => {
  const store = new ResourceStore();
  const tokens = testTokens();
  const { handle } = testHandler();
  const TAG = 'urn:test|stored-params';
  const meta = { tag: [{ system: 'urn:test', code: 'stored-params' }] };
  const P = 'stored-p';
  let user = '';

  const bp: Observation = {
    resourceType: 'Observation',
    id: 'stored-bp',
    meta,
    status: 'final',
    code: { coding: [{ system: LOINC, code: '85354-9', display: 'Blood pressure panel' }] },
    subject: { reference: `Patient/${P}` },
    effectiveDateTime: '2024-01-01',
    component: [
      { code: { coding: [{ system: LOINC, code: '8480-6' }] }, valueQuantity: { value: 142, unit: 'mm[Hg]', system: UCUM, code: 'mm[Hg]' } },
      { code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: { value: 91, unit: 'mm[Hg]', system: UCUM, code: 'mm[Hg]' } },
    ],
  };
  const hr: Observation = {
    resourceType: 'Observation',
    id: 'stored-hr',
    meta,
    status: 'final',
    code: { coding: [{ system: LOINC, code: '8867-4', display: 'Heart rate' }], text: 'Heart rate' },
    subject: { reference: `Patient/${P}` },
    effectiveDateTime: '2024-01-02',
    valueQuantity: { value: 120, unit: '/min', system: UCUM, code: '/min' },
  };
  // Same id as the patient, but a Group: `patient=` must not find it.
  const groupObs: Observation = {
    resourceType: 'Observation',
    id: 'stored-group',
    meta,
    status: 'final',
    code: { coding: [{ system: LOINC, code: '8867-4' }] },
    subject: { reference: `Group/${P}` },
    valueQuantity: { value: 60, system: UCUM, code: '/min' },
  };
  const enc: Encounter = {
    resourceType: 'Encounter',
    id: 'stored-enc',
    meta,
    status: 'finished',
    class: { system: 'urn:c', code: 'AMB' },
    subject: { reference: `Patient/${P}` },
    participant: [{ individual: { reference: 'Practitioner/stored-doc' } }, { individual: { reference: 'RelatedPerson/stored-doc' } }],
  };
  const prov: Provenance = {
    resourceType: 'Provenance',
    id: 'stored-prov',
    meta,
    target: [{ reference: 'Observation/stored-hr' }, { reference: `Patient/${P}` }],
    recorded: '2024-01-02T00:00:00Z',
    agent: [{ who: { reference: 'Practitioner/stored-doc' } }],
  };
  const patient: Patient = { resourceType: 'Patient', id: P, meta, name: [{ family: 'Stored' }] };

  beforeAll(async () => {
    await load(store, 'default', [
      patient,
      { resourceType: 'Practitioner', id: 'stored-doc', meta, name: [{ family: 'Doc' }] } as Resource,
      bp,
      hr,
      groupObs,
      enc,
      prov,
    ]);
    user = await tokens.issue('user/*.cruds', { fhirUser: 'Practitioner/stored-doc' });
  });

  async function search(path: string): Promise<string[]> {
    const res = await handle(fhirRequest(`${path}&_tag=${encodeURIComponent(TAG)}`, user));
    expect(res.status, path).toBe(200);
    const body = (await res.json()) as { entry?: BundleEntry[] };
    return (body.entry ?? []).filter((e) => e.search?.mode !== 'outcome').map((e) => `${e.resource!.resourceType}/${e.resource!.id}`);
  }

  it('combo-code and combo-value-quantity match the resource code and value and those of its components', async () => {
    expect(await search('Observation?combo-code=8480-6')).toEqual(['Observation/stored-bp']);
    expect(await search(`Observation?combo-code=${encodeURIComponent(`${LOINC}|85354-9`)}`)).toEqual(['Observation/stored-bp']);
    expect(await search('Observation?combo-code=8867-4&_sort=_id')).toEqual(['Observation/stored-group', 'Observation/stored-hr']);
    expect(await search('Observation?combo-code:text=heart')).toEqual(['Observation/stored-hr']);
    expect(await search('Observation?combo-value-quantity=gt130&_sort=_id')).toEqual(['Observation/stored-bp']);
    expect(await search('Observation?combo-value-quantity=gt100&_sort=_id')).toEqual(['Observation/stored-bp', 'Observation/stored-hr']);
    expect(await search('Observation?value-quantity=gt130')).toEqual([]);
    expect(await search('Observation?combo-value-quantity=91&_sort=-combo-value-quantity')).toEqual(['Observation/stored-bp']);
    expect(await search('Observation?_sort=-combo-value-quantity')).toEqual(['Observation/stored-bp', 'Observation/stored-hr', 'Observation/stored-group']);
    expect(await search('Observation?combo-code:not=8480-6&_sort=_id')).toEqual(['Observation/stored-group', 'Observation/stored-hr']);
  });

  it('patient and practitioner match only references to that type', async () => {
    expect(await search(`Observation?patient=${P}&_sort=_id`)).toEqual(['Observation/stored-bp', 'Observation/stored-hr']);
    expect(await search(`Observation?subject=${P}&_sort=_id`)).toEqual(['Observation/stored-bp', 'Observation/stored-group', 'Observation/stored-hr']);
    expect(await search('Observation?patient:missing=true')).toEqual(['Observation/stored-group']);
    expect(await search(`Provenance?patient=Patient/${P}`)).toEqual(['Provenance/stored-prov']);
    expect(await search('Encounter?practitioner=stored-doc')).toEqual(['Encounter/stored-enc']);
    expect(await search('Encounter?participant=RelatedPerson/stored-doc')).toEqual(['Encounter/stored-enc']);
  });

  it('_include and _revinclude follow them', async () => {
    expect(await search('Observation?_id=stored-hr,stored-group&_include=Observation:patient&_sort=_id')).toEqual([
      'Observation/stored-group',
      'Observation/stored-hr',
      `Patient/${P}`,
    ]);
    expect(await search(`Patient?_id=${P}&_revinclude=Observation:patient&_revinclude=Provenance:patient`)).toEqual([
      `Patient/${P}`,
      'Observation/stored-bp',
      'Observation/stored-hr',
      'Provenance/stored-prov',
    ]);
  });
});
