import { beforeAll, describe, expect, it } from 'vitest';
import { ResourceStore } from '../fhir/store';
import { findPersonaByFhirUser, findPersonaByUsername, listFeaturedPersonas, PERSONA_PASSWORD, usernameFor, verifyPersonaCredentials } from './personas';

const S = 'default';

beforeAll(async () => {
  const store = new ResourceStore();
  await store.create(
    S,
    {
      resourceType: 'Practitioner',
      name: [{ family: 'Carroll', given: ['Georgianna'], prefix: ['Dr.'] }],
      identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: '1216926612' }],
    },
    'practitioner-2',
  );
  await store.create(S, { resourceType: 'Practitioner', name: [{ family: 'West', given: ['Ayana'] }] }, 'practitioner-10');
  await store.create(
    S,
    { resourceType: 'Patient', name: [{ use: 'official', family: 'Muñoz-O’Neil', given: ['José', 'Luis'] }], birthDate: '1980-02-03' },
    'pat-a',
  );
  await store.create(S, { resourceType: 'Patient', name: [{ family: '<script>alert(1)</script>', given: ['<b>'] }], birthDate: '1990-01-01' }, 'pat-b');
  await store.create(S, { resourceType: 'Patient', name: [{ family: 'Gone', given: ['Dead'] }], deceasedBoolean: true }, 'pat-c');
  await store.create(
    S,
    {
      resourceType: 'RelatedPerson',
      active: true,
      patient: { reference: 'Patient/pat-a', display: 'José Muñoz-O’Neil' },
      relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'MTH', display: 'mother' }], text: 'Mother' }],
      name: [{ use: 'official', family: 'Muñoz', given: ['Inés'] }],
    },
    'pat-a-rp1',
  );
});

describe('personas', () => {
  it('usernames are first.last in plain lower-case ASCII, or the id when the name has no letters', () => {
    expect(usernameFor({ resourceType: 'Patient', id: 'x', name: [{ family: 'Muñoz-O’Neil', given: ['José'] }] })).toBe('jose.munozoneil');
    expect(usernameFor({ resourceType: 'Patient', id: 'pat-b', name: [{ family: '<>', given: ['<b>'] }] })).toBe('pat-b');
  });

  it('finds a persona by username, id or reference', async () => {
    expect((await findPersonaByUsername(S, 'georgianna.carroll'))?.fhirUser).toBe('Practitioner/practitioner-2');
    expect((await findPersonaByUsername(S, 'Jose.MunozOneil'))?.fhirUser).toBe('Patient/pat-a');
    expect((await findPersonaByUsername(S, 'pat-b'))?.fhirUser).toBe('Patient/pat-b');
    expect((await findPersonaByUsername(S, 'Practitioner/practitioner-10'))?.name).toBe('Ayana West');
    expect(await findPersonaByUsername(S, 'nobody.here')).toBeNull();
    expect(await findPersonaByFhirUser(S, 'Patient/unknown')).toBeNull();
  });

  it('signs in only with the sandbox password', async () => {
    expect(await verifyPersonaCredentials(S, 'ayana.west', PERSONA_PASSWORD)).not.toBeNull();
    expect(await verifyPersonaCredentials(S, 'ayana.west', 'wrong')).toBeNull();
    expect(await verifyPersonaCredentials(S, 'nobody', PERSONA_PASSWORD)).toBeNull();
  });

  it('features practitioners in id order and living patients with readable names', async () => {
    const featured = await listFeaturedPersonas(S, { practitioners: 5, patients: 5 });
    expect(featured.filter((p) => p.kind === 'practitioner').map((p) => p.id)).toEqual(['practitioner-2', 'practitioner-10']);
    expect(featured.filter((p) => p.kind === 'patient').map((p) => p.id)).toEqual(['pat-a']);
    expect(featured.find((p) => p.id === 'practitioner-2')?.detail).toContain('NPI 1216926612');
  });

  it('a related person signs in as a proxy for the patient they are related to', async () => {
    const proxy = await findPersonaByUsername(S, 'ines.munoz');
    expect(proxy).toMatchObject({ kind: 'related-person', fhirUser: 'RelatedPerson/pat-a-rp1', patientId: 'pat-a', name: 'Inés Muñoz' });
    expect(proxy?.detail).toContain('Mother of José Muñoz-O’Neil');
    expect((await findPersonaByUsername(S, 'pat-a-rp1'))?.fhirUser).toBe('RelatedPerson/pat-a-rp1');
    expect((await findPersonaByFhirUser(S, 'RelatedPerson/pat-a-rp1'))?.patientId).toBe('pat-a');
    expect(await verifyPersonaCredentials(S, 'ines.munoz', PERSONA_PASSWORD)).not.toBeNull();
    const featured = await listFeaturedPersonas(S, { practitioners: 0, patients: 0, relatedPersons: 3 });
    expect(featured.map((p) => p.fhirUser)).toEqual(['RelatedPerson/pat-a-rp1']);
  });
});
