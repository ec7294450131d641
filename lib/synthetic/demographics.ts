import type { Address, CodeableConcept, ContactPoint, Extension, HumanName, Identifier, Patient } from '@medplum/fhirtypes';
import type { Sex } from './chart';
import { PROFILE, SYSTEM } from './codes';
import type { Code } from './codes';
import { toDate, toDateTime } from './dates';
import type { Rng } from './random';
import { withFaker } from './random';
import { ORG } from './shared';
import type { StaffMember } from './shared';

const RACE = {
  white: { system: SYSTEM.raceEthnicity, code: '2106-3', display: 'White' },
  black: { system: SYSTEM.raceEthnicity, code: '2054-5', display: 'Black or African American' },
  asian: { system: SYSTEM.raceEthnicity, code: '2028-9', display: 'Asian' },
  aian: { system: SYSTEM.raceEthnicity, code: '1002-5', display: 'American Indian or Alaska Native' },
  nhpi: { system: SYSTEM.raceEthnicity, code: '2076-8', display: 'Native Hawaiian or Other Pacific Islander' },
} as const satisfies Record<string, Code>;

export const ASKED_DECLINED: Code = { system: SYSTEM.nullFlavor, code: 'ASKU', display: 'asked but unknown' };

const HISPANIC: Code = { system: SYSTEM.raceEthnicity, code: '2135-2', display: 'Hispanic or Latino' };
const NOT_HISPANIC: Code = { system: SYSTEM.raceEthnicity, code: '2186-5', display: 'Not Hispanic or Latino' };

/** US Core race extension: OMB categories plus the required `text`. */
export function raceExtension(categories: readonly Code[], text: string): Extension {
  return {
    url: PROFILE.race,
    extension: [
      ...categories.map((c) => ({ url: 'ombCategory', valueCoding: { system: c.system, code: c.code, display: c.display } })),
      { url: 'text', valueString: text },
    ],
  };
}

export function ethnicityExtension(category: Code, text: string): Extension {
  return {
    url: PROFILE.ethnicity,
    extension: [
      { url: 'ombCategory', valueCoding: { system: category.system, code: category.code, display: category.display } },
      { url: 'text', valueString: text },
    ],
  };
}

function pickRace(rng: Rng): { categories: Code[]; text: string } {
  const r = rng.next();
  if (r < 0.6) return { categories: [RACE.white], text: 'White' };
  if (r < 0.73) return { categories: [RACE.black], text: 'Black or African American' };
  if (r < 0.79) return { categories: [RACE.asian], text: 'Asian' };
  if (r < 0.8) return { categories: [RACE.aian], text: 'American Indian or Alaska Native' };
  if (r < 0.805) return { categories: [RACE.nhpi], text: 'Native Hawaiian or Other Pacific Islander' };
  if (r < 0.84) return { categories: [RACE.white, RACE.black], text: 'White and Black or African American' };
  if (r < 0.86) return { categories: [RACE.white, RACE.asian], text: 'White and Asian' };
  if (r < 0.88) return { categories: [ASKED_DECLINED], text: 'Declined to answer' };
  return { categories: [RACE.white], text: 'White' };
}

const LANGUAGE: Record<'en' | 'es', CodeableConcept> = {
  en: { coding: [{ system: SYSTEM.languages, code: 'en-US', display: 'English (United States)' }], text: 'English' },
  es: { coding: [{ system: SYSTEM.languages, code: 'es', display: 'Spanish' }], text: 'Spanish' },
};

const MARITAL: Record<'M' | 'S' | 'D' | 'W', string> = { M: 'Married', S: 'Never Married', D: 'Divorced', W: 'Widowed' };

/** Inputs to a Patient resource; names and addresses may be given by the roster. */
export interface DemographicsInput {
  readonly id: string;
  readonly sex: Sex;
  readonly gender?: Patient['gender'];
  readonly birthDay: number;
  readonly anchorDay: number;
  readonly deathDay?: number;
  readonly pcp: StaffMember;
  readonly given?: string[];
  readonly family?: string;
}

const STATES = ['MA', 'MA', 'MA', 'MA', 'CT', 'NH', 'NY', 'VT', 'RI'] as const;
const ZIP_PREFIX: Record<(typeof STATES)[number], string> = { MA: '010', CT: '060', NH: '030', NY: '120', VT: '050', RI: '028' };

/** A plausible New England home address (the clinic's catchment). */
export function homeAddress(rng: Rng, use: Address['use'] = 'home'): Address {
  const state = rng.pick(STATES);
  const [line, city] = withFaker(rng, (f) => [f.location.streetAddress(), f.location.city()]);
  return { use, type: 'both', line: [line], city, state, postalCode: `${ZIP_PREFIX[state]}${rng.digits(2)}`, country: 'US' };
}

export function phoneNumber(rng: Rng): string {
  return `(${rng.pick(['413', '508', '617', '781', '978'])}) 555-${rng.digits(4)}`;
}

function asciiFold(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/[^A-Za-z]/g, '')
    .toLowerCase();
}

/** Patient resource with US Core identifiers, names, telecom, address and race/ethnicity/birth sex extensions. */
export function buildPatient(rng: Rng, input: DemographicsInput): Patient {
  const { sex, birthDay, anchorDay } = input;
  const ageYears = (anchorDay - birthDay) / 365.25;
  const [first, middle, last] = withFaker(rng, (f) => [f.person.firstName(sex), f.person.middleName(sex), f.person.lastName()]);
  const given = input.given ?? (rng.chance(0.7) ? [first, middle] : [first]);
  const family = input.family ?? last;
  const race = pickRace(rng);
  const hispanic = rng.chance(0.18);
  const name: HumanName[] = [{ use: 'official', family, given, ...(ageYears >= 18 ? { prefix: [sex === 'female' ? 'Ms.' : 'Mr.'] } : {}) }];
  if (ageYears >= 25 && sex === 'female' && input.family === undefined && rng.chance(0.35)) {
    // A married name: the maiden name stays on file, ending at the marriage.
    const maiden = withFaker(rng, (f) => f.person.lastName());
    const marriedDay = birthDay + Math.floor(rng.float(22, Math.min(ageYears, 40)) * 365.25);
    name.push({ use: 'maiden', family: maiden, given, period: { end: toDate(marriedDay) } });
  }
  const identifier: Identifier[] = [
    {
      use: 'usual',
      type: { coding: [{ system: SYSTEM.v2_0203, code: 'MR', display: 'Medical record number' }], text: 'Medical record number' },
      system: SYSTEM.mrn,
      value: `MRN${rng.digits(8)}`,
    },
  ];
  if (ageYears >= 18 && rng.chance(0.6)) {
    // 999-prefixed numbers are never issued by the SSA: realistic shape, no real person.
    identifier.push({
      use: 'official',
      type: { coding: [{ system: SYSTEM.v2_0203, code: 'SS', display: 'Social Security number' }], text: 'Social Security number' },
      system: SYSTEM.ssn,
      value: `999-${rng.digits(2)}-${rng.digits(4)}`,
    });
  }
  const telecom: ContactPoint[] = [{ system: 'phone', value: phoneNumber(rng), use: rng.chance(0.7) ? 'mobile' : 'home', rank: 1 }];
  if (ageYears >= 16 && rng.chance(0.75)) {
    const domain = rng.pick(['example.com', 'example.net', 'example.org']);
    telecom.push({ system: 'email', value: `${asciiFold(given[0] ?? 'patient')}.${asciiFold(family)}${rng.digits(2)}@${domain}`, use: 'home' });
  }
  const address: Address[] = [homeAddress(rng)];
  if (ageYears >= 4 && rng.chance(0.25)) {
    const movedDay = anchorDay - rng.int(200, Math.min(3000, Math.floor(ageYears * 300)));
    const current = address[0];
    if (current) current.period = { start: toDate(movedDay) };
    address.push({ ...homeAddress(rng, 'old'), period: { start: toDate(Math.max(birthDay, movedDay - rng.int(400, 4000))), end: toDate(movedDay - 1) } });
  }
  const marital: keyof typeof MARITAL = ageYears < 20 ? 'S' : rng.weighted(['M', 'S', 'D', 'W'] as const, [50, 30, 12, ageYears > 65 ? 10 : 2]);
  const patient: Patient = {
    resourceType: 'Patient',
    id: input.id,
    meta: { profile: [PROFILE.patient] },
    extension: [
      raceExtension(race.categories, race.text),
      ethnicityExtension(hispanic ? HISPANIC : NOT_HISPANIC, hispanic ? 'Hispanic or Latino' : 'Not Hispanic or Latino'),
      { url: PROFILE.birthSex, valueCode: sex === 'female' ? 'F' : 'M' },
    ],
    identifier,
    active: true,
    name,
    telecom,
    gender: input.gender ?? sex,
    birthDate: toDate(birthDay),
    address,
    maritalStatus: { coding: [{ system: SYSTEM.maritalStatus, code: marital, display: MARITAL[marital] }], text: MARITAL[marital] },
    communication: [{ language: structuredClone(hispanic && rng.chance(0.4) ? LANGUAGE.es : LANGUAGE.en), preferred: true }],
    generalPractitioner: [{ reference: `Practitioner/${input.pcp.id}`, display: `Dr. ${input.pcp.given} ${input.pcp.family}` }],
    managingOrganization: { reference: `Organization/${ORG.clinic}` },
  };
  if (input.deathDay !== undefined) patient.deceasedDateTime = toDateTime(input.deathDay, 23 * 60);
  return patient;
}

/** "Given Family" for display and notes. */
export function displayName(patient: Patient): string {
  const n = patient.name?.[0];
  return [n?.given?.[0], n?.family].filter(Boolean).join(' ') || 'Unnamed patient';
}
