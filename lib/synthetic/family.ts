import type { Patient, RelatedPerson } from '@medplum/fhirtypes';
import type { Chart } from './chart';
import { PROFILE, SYSTEM } from './codes';
import { DAYS_PER_YEAR, toDate } from './dates';
import { Rng, hashString, mixSeed, withFaker } from './random';

/** Age (years, at the anchor or at death) under which a patient's parent is on record. */
export const MINOR_AGE = 18;

/**
 * The parent of a minor, as a US Core RelatedPerson in the child's compartment: the guardian who
 * signs in for the child (a proxy persona whose fhirUser is this RelatedPerson).
 *
 * The parent is drawn from a stream of its own, seeded by the household (family name, birth date,
 * home address), so adding the parent leaves every other draw of the record unchanged and twins
 * get the same parent.
 */
export function recordParent(chart: Chart, patient: Patient): RelatedPerson {
  const name = patient.name?.find((n) => n.use === 'official') ?? patient.name?.[0];
  const home = patient.address?.find((a) => a.use === 'home' && !a.period?.end) ?? patient.address?.[0];
  const household = `${name?.family ?? ''}|${patient.birthDate ?? ''}|${home?.line?.join(' ') ?? ''}`;
  const rng = new Rng(mixSeed(hashString(household), 0x9a4e));
  const mother = rng.chance(0.6);
  const given = withFaker(rng, (f) => f.person.firstName(mother ? 'female' : 'male'));
  const family = name?.family ?? withFaker(rng, (f) => f.person.lastName());
  const birthDay = chart.person.birthDay - Math.round(rng.float(22, 40) * DAYS_PER_YEAR);
  const role = mother ? { code: 'MTH', display: 'mother' } : { code: 'FTH', display: 'father' };
  const parent: RelatedPerson = {
    resourceType: 'RelatedPerson',
    id: chart.id('rp'),
    meta: { profile: [PROFILE.relatedPerson] },
    active: true,
    patient: chart.subject,
    relationship: [
      { coding: [{ system: SYSTEM.roleCode, code: role.code, display: role.display }], text: mother ? 'Mother' : 'Father' },
      { coding: [{ system: SYSTEM.v2_0131, code: 'N', display: 'Next-of-Kin' }], text: 'Next of kin' },
    ],
    name: [{ use: 'official', family, given: [given] }],
    gender: mother ? 'female' : 'male',
    birthDate: toDate(birthDay),
  };
  const phone = patient.telecom?.find((t) => t.system === 'phone');
  // The household's phone and home address (a data-absent patient's parent has no telecom either).
  if (phone?.value) parent.telecom = [{ system: 'phone', value: phone.value, use: 'home' }];
  if (home) {
    const { period: _period, ...address } = home;
    parent.address = [{ ...structuredClone(address), use: 'home' }];
  }
  return chart.add(parent);
}
