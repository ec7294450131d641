import { describe, it, expect } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { indexResource } from './indexer';
import { patientCompartmentTypes } from './definitions';

const P = { reference: 'Patient/p1' };
const cases: [string, Resource][] = [
  ['Observation.subject', { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: P }],
  ['Encounter.subject', { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: P }],
  ['MedicationRequest.subject', { resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: P, medicationCodeableConcept: { text: 'x' } }],
  ['AllergyIntolerance.patient', { resourceType: 'AllergyIntolerance', patient: P }],
  ['Immunization.patient', { resourceType: 'Immunization', status: 'completed', vaccineCode: { text: 'x' }, patient: P, occurrenceDateTime: '2020-01-01' }],
  ['Condition.subject', { resourceType: 'Condition', subject: P }],
  ['Procedure.subject', { resourceType: 'Procedure', status: 'completed', subject: P }],
  ['DiagnosticReport.subject', { resourceType: 'DiagnosticReport', status: 'final', code: { text: 'x' }, subject: P }],
  ['DocumentReference.subject', { resourceType: 'DocumentReference', status: 'current', content: [], subject: P }],
  ['CarePlan.subject', { resourceType: 'CarePlan', status: 'active', intent: 'plan', subject: P }],
  ['CareTeam.subject', { resourceType: 'CareTeam', subject: P }],
  ['Goal.subject', { resourceType: 'Goal', lifecycleStatus: 'active', description: { text: 'x' }, subject: P }],
  ['Coverage.beneficiary', { resourceType: 'Coverage', status: 'active', beneficiary: P, payor: [{ reference: 'Organization/o1' }] }],
  ['ServiceRequest.subject', { resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: P }],
  ['Specimen.subject', { resourceType: 'Specimen', subject: P }],
  ['Device.patient', { resourceType: 'Device', patient: P }],
  ['Provenance.patient', { resourceType: 'Provenance', target: [P], recorded: '2020-01-01T00:00:00Z', agent: [] }],
  ['Patient itself', { resourceType: 'Patient', id: 'p1' }],
];

describe('Patient compartment assignment (R4 CompartmentDefinition/patient)', () => {
  for (const [label, resource] of cases) {
    it(`${label} places ${resource.resourceType} in p1's compartment`, () => {
      expect(indexResource(resource).compartments).toEqual(['p1']);
    });
  }

  it('a reference to another type (Group subject) puts it in no patient compartment', () => {
    const obs: Resource = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Group/g1' } };
    expect(indexResource(obs).compartments).toEqual([]);
  });

  it('several patients: an Observation performed by one patient about another belongs to both', () => {
    const obs: Resource = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: P, performer: [{ reference: 'Patient/p2' }] };
    expect(indexResource(obs).compartments.sort()).toEqual(['p1', 'p2']);
  });

  for (const resource of [
    { resourceType: 'Practitioner', id: 'x', name: [{ family: 'Doc' }] },
    { resourceType: 'Organization', id: 'x', name: 'Org', partOf: { reference: 'Organization/y' } },
    { resourceType: 'Medication', id: 'x', code: { text: 'aspirin' } },
    { resourceType: 'Location', id: 'x', name: 'Ward' },
  ] as Resource[]) {
    it(`${resource.resourceType} is in no patient compartment`, () => {
      expect(indexResource(resource).compartments).toEqual([]);
    });
  }

  it('the compartment type list comes from the definition, not a hand-written list', () => {
    const types = patientCompartmentTypes();
    expect(types).toContain('Observation');
    expect(types).toContain('Immunization');
    expect(types).not.toContain('Practitioner');
    expect(types).not.toContain('Medication');
    expect(types.length).toBeGreaterThan(40);
  });
});
