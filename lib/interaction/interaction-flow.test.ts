import { describe, expect, it } from 'vitest';
import { DEFAULT_LAUNCH_OPTIONS } from '../launch-options/options';
import { decideStep } from './interaction-flow';
import type { InteractionDetails } from './interaction-port';
import type { PersonaSession } from './session';

function interaction(patch: Partial<InteractionDetails> = {}): InteractionDetails {
  return {
    id: 'i1',
    createdAt: new Date('2026-03-15T12:00:00Z'),
    clientId: 'app',
    clientName: 'App',
    requestedScope: 'launch/patient openid fhirUser patient/*.rs',
    droppedScopes: [],
    launchId: null,
    patientId: null,
    encounterId: null,
    userFhirUser: null,
    options: DEFAULT_LAUNCH_OPTIONS,
    needsPatient: true,
    needsEncounter: false,
    ...patch,
  };
}

const doctor: PersonaSession = { kind: 'practitioner', fhirUser: 'Practitioner/p1', name: 'Dr', sid: 's1' };
const patient: PersonaSession = { kind: 'patient', fhirUser: 'Patient/a', name: 'Pat', sid: 's2' };
const parent: PersonaSession = { kind: 'related-person', fhirUser: 'RelatedPerson/a-rp1', name: 'Parent', sid: 's3' };

describe('a practitioner signed in before a patient launch', () => {
  const requestAt = Date.parse('2026-03-15T12:00:00Z') / 1000;
  const patientLaunch = interaction({ options: { ...DEFAULT_LAUNCH_OPTIONS, launchType: 'patient-standalone' } });

  it('is asked to switch or continue, rather than carried on silently', () => {
    expect(decideStep(patientLaunch, { ...doctor, signedInAt: requestAt - 600 }, {}).kind).toBe('confirm-user');
    expect(decideStep(patientLaunch, { ...doctor, signedInAt: requestAt - 600 }, { patient: 'a' }).kind).toBe('confirm-user');
  });

  it('continues once they signed in (again) for this request, and a patient never needs to confirm', () => {
    expect(decideStep(patientLaunch, { ...doctor, signedInAt: requestAt + 5 }, {}).kind).toBe('patient');
    expect(decideStep(patientLaunch, { ...patient, signedInAt: requestAt - 600 }, {}).kind).toBe('consent');
  });

  it('within one second, the sign-in instant decides: before the request asks, after it carries on', () => {
    const sameSecond = interaction({ options: { ...DEFAULT_LAUNCH_OPTIONS, launchType: 'patient-standalone' }, createdAt: new Date((requestAt + 0.5) * 1000) });
    expect(decideStep(sameSecond, { ...doctor, signedInAt: requestAt + 0.2 }, {}).kind).toBe('confirm-user');
    expect(decideStep(sameSecond, { ...doctor, signedInAt: requestAt + 0.7 }, {}).kind).toBe('patient');
  });

  it('a provider launch carries the practitioner on', () => {
    const provider = interaction({ options: { ...DEFAULT_LAUNCH_OPTIONS, launchType: 'provider-standalone' } });
    expect(decideStep(provider, { ...doctor, signedInAt: requestAt - 600 }, {}).kind).toBe('patient');
  });
});

describe('interaction steps', () => {
  it('asks to sign in first', () => {
    expect(decideStep(interaction(), null, {}).kind).toBe('login');
  });

  it('a practitioner picks a patient, then consents for that patient', () => {
    expect(decideStep(interaction(), doctor, {})).toEqual({ kind: 'patient' });
    expect(decideStep(interaction(), doctor, { patient: 'x' })).toEqual({ kind: 'consent', patientId: 'x', encounterId: null });
  });

  it('a patient is their own patient context and sees no picker', () => {
    expect(decideStep(interaction(), patient, { patient: 'someone-else' })).toEqual({ kind: 'consent', patientId: 'a', encounterId: null });
  });

  it('patient/ scopes need a patient even without launch/patient', () => {
    expect(decideStep(interaction({ requestedScope: 'openid patient/Observation.rs', needsPatient: false }), doctor, {}).kind).toBe('patient');
  });

  it('the EHR launch context is kept and cannot be changed by the query string', () => {
    const ehr = interaction({ patientId: 'ctx', needsPatient: false, launchId: 'L' });
    expect(decideStep(ehr, doctor, { patient: 'other' })).toEqual({ kind: 'consent', patientId: 'ctx', encounterId: null });
  });

  it('refuses a patient signing in to another patient’s launch', () => {
    const ehr = interaction({ patientId: 'ctx', needsPatient: false, launchId: 'L' });
    expect(decideStep(ehr, patient, {}).kind).toBe('refused');
  });

  it('asks another user to switch when the launch was made for a given EHR user', () => {
    const ehr = interaction({ patientId: 'ctx', needsPatient: false, launchId: 'L', userFhirUser: 'Practitioner/p2' });
    const step = decideStep(ehr, doctor, {});
    expect(step.kind).toBe('login');
    expect(step.kind === 'login' && step.message).toContain('Practitioner/p2');
  });

  it('launch/encounter adds an encounter picker, with "none" allowed', () => {
    const it2 = interaction({ needsEncounter: true });
    expect(decideStep(it2, doctor, { patient: 'x' })).toEqual({ kind: 'encounter', patientId: 'x' });
    expect(decideStep(it2, doctor, { patient: 'x', encounter: 'e1' })).toEqual({ kind: 'consent', patientId: 'x', encounterId: 'e1' });
    expect(decideStep(it2, doctor, { patient: 'x', encounter: 'none' })).toEqual({ kind: 'consent', patientId: 'x', encounterId: null });
  });

  it('no patient context when no patient scope is asked for', () => {
    expect(decideStep(interaction({ requestedScope: 'openid fhirUser user/Patient.rs', needsPatient: false }), doctor, {})).toEqual({
      kind: 'consent',
      patientId: null,
      encounterId: null,
    });
  });

  it('a related person (proxy) always has the patient they are related to as context, whatever the scopes or the query string', () => {
    expect(decideStep(interaction(), parent, { patient: 'someone-else' }, 'a')).toEqual({ kind: 'consent', patientId: 'a', encounterId: null });
    const userScopes = interaction({ requestedScope: 'openid fhirUser user/*.rs', needsPatient: false });
    expect(decideStep(userScopes, parent, {}, 'a')).toEqual({ kind: 'consent', patientId: 'a', encounterId: null });
    expect(decideStep(interaction({ needsEncounter: true }), parent, {}, 'a')).toEqual({ kind: 'encounter', patientId: 'a' });
  });

  it('refuses a related person on another patient’s launch, or one linked to no patient', () => {
    expect(decideStep(interaction({ patientId: 'a', needsPatient: false, launchId: 'L' }), parent, {}, 'a').kind).toBe('consent');
    expect(decideStep(interaction({ patientId: 'ctx', needsPatient: false, launchId: 'L' }), parent, {}, 'a').kind).toBe('refused');
    expect(decideStep(interaction(), parent, {}, null).kind).toBe('refused');
  });
});
