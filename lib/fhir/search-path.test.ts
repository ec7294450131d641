import { describe, expect, it } from 'vitest';
import type { Device, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { generateDataset } from '../synthetic';
import { getTypeDefinition } from './definitions';
import { indexResource } from './indexer';
import { toTypedValue } from './medplum';
import type { TypedValue } from './medplum';
import { NOT_COMPILED } from './search-path';

// Compiled search paths must give exactly what FHIRPath gives: same values, same types, hence
// the same index rows. The reference is indexResource with { fhirPathOnly: true }.

function datasetResources(patients: number, seed: number): Resource[] {
  const out: Resource[] = [];
  for (const item of generateDataset({ seed, patients, anchorDate: '2025-06-01', includeRoster: true })) {
    out.push(...(item.kind === 'patient' ? [item.record.patient, ...item.record.resources] : item.resources));
  }
  return out;
}

const plain = (values: TypedValue[]) => values.map((v) => ({ type: v.type, value: v.value as unknown }));

describe('compiled search paths', () => {
  it('index every generated resource (cohort, roster, shared) exactly as FHIRPath does', () => {
    const resources = datasetResources(40, 7);
    const types = new Set(resources.map((r) => r.resourceType));
    expect(types.size).toBeGreaterThanOrEqual(20);
    let rows = 0;
    for (const resource of resources) {
      const compiled = indexResource(resource);
      const reference = indexResource(resource, { fhirPathOnly: true });
      expect(compiled, `${resource.resourceType}/${resource.id}`).toEqual(reference);
      rows += reference.tokens.length + reference.strings.length + reference.dates.length + reference.references.length + reference.quantities.length;
    }
    expect(rows).toBeGreaterThan(resources.length * 10);
  }, 300_000);

  it('give the same typed values as FHIRPath for every compiled parameter, and almost never hand over to it', () => {
    let evaluated = 0;
    let handedOver = 0;
    for (const resource of datasetResources(10, 11)) {
      const def = getTypeDefinition(resource.resourceType)!;
      const root = toTypedValue(resource);
      const keys = Object.keys(resource);
      for (const param of def.params.values()) {
        // Parameters whose first element is absent are never evaluated (see indexResource).
        if (!param.compiled || (param.roots && !param.roots.some((r) => keys.some((k) => k === r || (k.startsWith(r) && /[A-Z]/.test(k.charAt(r.length)))))))
          continue;
        const compiled = param.compiled(root);
        evaluated++;
        if (compiled === NOT_COMPILED) {
          handedOver++;
          continue;
        }
        const reference = param.atom.eval({ variables: { '%resource': root, '%rootResource': root } }, [root]);
        expect(plain(compiled), `${resource.resourceType}/${resource.id} ${param.code}: ${param.expression}`).toEqual(plain(reference));
      }
    }
    expect(evaluated).toBeGreaterThan(50_000);
    // Only primitive extensions (data-absent-reason on a primitive, for instance) hand over.
    expect(handedOver / evaluated).toBeLessThan(0.001);
  }, 300_000);

  it('compile the parameters that matter for the generated types, and leave functions and operators to FHIRPath', () => {
    const compiledOf = (type: string) => [...getTypeDefinition(type)!.params.values()].filter((p) => p.compiled).map((p) => p.code);
    const observation = compiledOf('Observation');
    for (const code of [
      'code',
      'combo-code',
      'category',
      'date',
      'patient',
      'subject',
      'encounter',
      'value-quantity',
      'combo-value-quantity',
      'value-concept',
      'value-string',
      '_profile',
      '_tag',
    ])
      expect(observation).toContain(code);
    const patient = getTypeDefinition('Patient')!.params;
    expect(patient.get('name')!.compiled).not.toBeNull();
    expect(patient.get('race')!.compiled).toBeNull(); // extension.where(url = ...)
    expect(patient.get('deceased')!.compiled).toBeNull(); // exists() and !=
  });

  const cases: [string, Resource][] = [
    [
      'references of every shape to resolve()',
      {
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'x' },
        subject: { reference: 'http://example.org/fhir/Patient/abs' },
        focus: [
          { reference: 'Patient/p1/_history/2' },
          { reference: '#contained' },
          { reference: 'Patient?identifier=http://x|1' },
          { type: 'Patient', identifier: { system: 'http://x', value: '2' } },
          { display: 'no reference' },
        ],
        performer: [{ reference: 'Practitioner/d1' }, { reference: 'Patient/p2' }],
      } as Observation,
    ],
    ['a subject that is a Group', { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Group/g1' } } as Observation],
    [
      'a primitive extension (data-absent-reason on birthDate) and on a choice element',
      {
        resourceType: 'Patient',
        id: 'p1',
        birthDate: '1970',
        _birthDate: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] },
        name: [{ family: 'Ünïcode', given: ['A', 'A'], _given: [null, { extension: [{ url: 'http://example.org/x', valueString: 'y' }] }] }],
      } as unknown as Patient,
    ],
    [
      'union members that FHIRPath treats as duplicates',
      {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
        valueQuantity: { value: 120, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
        component: [
          {
            code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
            valueQuantity: { value: 120.004, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
          },
          { code: { text: 'period' }, valuePeriod: { start: '2020-01-01' } },
          { code: { text: 'concept' }, valueCodeableConcept: { text: 'a' } },
        ],
        valueCodeableConcept: { text: 'a' },
      } as unknown as Observation,
    ],
    [
      'strings repeated across union members',
      { resourceType: 'Device', deviceName: [{ name: 'Pump', type: 'user-friendly-name' }], type: { text: 'Pump', coding: [{ display: 'Pump' }] } } as Device,
    ],
    [
      'empty values',
      { resourceType: 'Observation', status: '', code: { coding: [] }, category: [], valueString: '', effectivePeriod: {} } as unknown as Observation,
    ],
    [
      'a contained resource in a Resource-typed element',
      {
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'x' },
        contained: [{ resourceType: 'Patient', id: 'c1' }],
        subject: { reference: '#c1' },
      } as Observation,
    ],
  ];
  for (const [label, resource] of cases) {
    it(`index ${label} exactly as FHIRPath does`, () => {
      expect(indexResource(resource)).toEqual(indexResource(resource, { fhirPathOnly: true }));
    });
  }
});
