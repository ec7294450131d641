/**
 * The patient directory the launcher, the pickers and the EHR banner search: its criteria are FHIR
 * searches run by the search engine, as the EHR itself (no token, no compartment).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { findEncounter, findPatientBanner, listEncounters, listPractitioners, searchPatients } from './patient-directory';
import { ResourceStore } from './store';
import { load, patientRecord, sharedResources } from './test-fixtures';

const S = 'directory';
const store = new ResourceStore();
const ids = (list: { id: string }[]) => list.map((p) => p.id);

beforeAll(async () => {
  const extra: Resource[] = [
    {
      resourceType: 'Encounter',
      id: 'dir-a-enc2',
      status: 'finished',
      class: { code: 'EMER' },
      subject: { reference: 'Patient/dir-a' },
      period: { start: '2023-01-01T00:00:00Z' },
    } as Resource,
    {
      resourceType: 'AllergyIntolerance',
      id: 'dir-a-old',
      clinicalStatus: { coding: [{ code: 'resolved' }] },
      code: { text: 'Latex' },
      patient: { reference: 'Patient/dir-a' },
    } as Resource,
    { resourceType: 'Condition', id: 'dir-b-dm', code: { text: 'Type 2 diabetes mellitus' }, subject: { reference: 'Patient/dir-b' } } as Resource,
    {
      resourceType: 'Patient',
      id: 'dir-c',
      name: [{ family: 'Çelik', given: ['Ayşe'] }],
      gender: 'female',
      birthDate: `${new Date().getUTCFullYear() - 30}-01-01`,
      identifier: [{ system: 'urn:ssn', value: '123,45' }],
    } as Resource,
  ];
  await load(store, S, [...sharedResources(), ...patientRecord('dir-a', 'Åberg', 'tag-a'), ...patientRecord('dir-b', 'Bauer', 'tag-b'), ...extra]);
  // A deleted patient is never listed.
  await load(
    store,
    S,
    patientRecord('dir-gone', 'Bauer', 'tag-g').filter((r) => r.resourceType === 'Patient'),
  );
  await store.delete(S, 'Patient', 'dir-gone');
}, 60_000);

describe('searchPatients', () => {
  it('lists every current patient without criteria, by name', async () => {
    expect(ids(await searchPatients(S, {}))).toEqual(['dir-c', 'dir-a', 'dir-b']);
  });

  it('matches name words as prefixes of any name part, accent- and case-insensitively', async () => {
    expect(ids(await searchPatients(S, { name: 'aberg' }))).toEqual(['dir-a']);
    expect(ids(await searchPatients(S, { name: 'zoë BAU' }))).toEqual(['dir-b']);
    expect(ids(await searchPatients(S, { name: 'celik ayse' }))).toEqual(['dir-c']);
    expect(await searchPatients(S, { name: 'erg' })).toEqual([]);
  });

  it('matches identifiers exactly, with or without system, commas included', async () => {
    expect(ids(await searchPatients(S, { identifier: 'mrn-dir-a' }))).toEqual(['dir-a']);
    expect(ids(await searchPatients(S, { identifier: 'urn:mrn|mrn-dir-b' }))).toEqual(['dir-b']);
    expect(await searchPatients(S, { identifier: 'other|mrn-dir-b' })).toEqual([]);
    expect(ids(await searchPatients(S, { identifier: '123,45' }))).toEqual(['dir-c']);
  });

  it('matches birthdate at its precision, gender, and an age range', async () => {
    expect(ids(await searchPatients(S, { birthdate: '1970' }))).toEqual(['dir-a']);
    expect(ids(await searchPatients(S, { birthdate: '1981-11-12' }))).toEqual(['dir-b']);
    expect(await searchPatients(S, { birthdate: 'yesterday' })).toEqual([]);
    expect(ids(await searchPatients(S, { gender: 'male' }))).toEqual(['dir-b']);
    expect(ids(await searchPatients(S, { minAge: 25, maxAge: 35 }))).toEqual(['dir-c']);
    expect(ids(await searchPatients(S, { minAge: 40, gender: 'female' }))).toEqual(['dir-a']);
  });

  it('finds the patients with a condition by the words of its text', async () => {
    expect(ids(await searchPatients(S, { condition: 'hypertension' }))).toEqual(['dir-a', 'dir-b']);
    expect(ids(await searchPatients(S, { condition: 'diabetes', name: 'bauer' }))).toEqual(['dir-b']);
    expect(await searchPatients(S, { condition: 'asthma' })).toEqual([]);
  });

  it('honours the limit', async () => {
    expect(await searchPatients(S, { limit: 2 })).toHaveLength(2);
  });
});

describe('encounters, banner, practitioners', () => {
  it('lists a patient’s encounters newest first and finds one with its patient', async () => {
    expect(ids(await listEncounters(S, 'dir-a'))).toEqual(['dir-a-enc2', 'dir-a-enc']);
    expect(await listEncounters(S, 'dir-nobody')).toEqual([]);
    expect((await findEncounter(S, 'dir-b-enc'))?.patientId).toBe('dir-b');
  });

  it('shows active allergies only on the banner', async () => {
    const banner = await findPatientBanner(S, 'dir-a');
    expect(banner?.allergies).toEqual(['Penicillin allergy']);
    expect(await findPatientBanner(S, 'dir-gone')).toBeNull();
  });

  it('lists practitioners', async () => {
    expect(ids(await listPractitioners(S))).toEqual(['prac-1']);
  });
});
