import type { Endpoint, Location, Medication, Organization, Practitioner, PractitionerRole, Resource } from '@medplum/fhirtypes';
import { PROFILE, SYSTEM, coding } from './codes';
import type { Code } from './codes';
import { MEDICATIONS, medicationId } from './medications';
import { screeningQuestionnaires } from './screening-forms';
import { Rng, withFaker } from './random';

/**
 * The fictional clinic every patient visits. It does not depend on the dataset seed: the roster
 * references it, personas sign in as its practitioners, and two datasets loaded side by side share it.
 */
const SHARED_SEED = 0x51a7;

export type Specialty =
  'family' | 'internal' | 'pediatrics' | 'endocrinology' | 'cardiology' | 'pulmonology' | 'nephrology' | 'oncology' | 'obstetrics' | 'psychiatry' | 'emergency';

const SPECIALTY_CODE: Record<Specialty, Code> = {
  family: { system: SYSTEM.nucc, code: '207Q00000X', display: 'Family Medicine Physician' },
  internal: { system: SYSTEM.nucc, code: '207R00000X', display: 'Internal Medicine Physician' },
  pediatrics: { system: SYSTEM.nucc, code: '208000000X', display: 'Pediatrics Physician' },
  endocrinology: { system: SYSTEM.nucc, code: '207RE0101X', display: 'Endocrinology, Diabetes & Metabolism Physician' },
  cardiology: { system: SYSTEM.nucc, code: '207RC0000X', display: 'Cardiovascular Disease Physician' },
  pulmonology: { system: SYSTEM.nucc, code: '207RP1001X', display: 'Pulmonary Disease Physician' },
  nephrology: { system: SYSTEM.nucc, code: '207RN0300X', display: 'Nephrology Physician' },
  oncology: { system: SYSTEM.nucc, code: '207RX0202X', display: 'Medical Oncology Physician' },
  obstetrics: { system: SYSTEM.nucc, code: '207V00000X', display: 'Obstetrics & Gynecology Physician' },
  psychiatry: { system: SYSTEM.nucc, code: '2084P0800X', display: 'Psychiatry Physician' },
  emergency: { system: SYSTEM.nucc, code: '207P00000X', display: 'Emergency Medicine Physician' },
};

const STAFF: readonly Specialty[] = [
  'family',
  'family',
  'family',
  'family',
  'internal',
  'internal',
  'pediatrics',
  'pediatrics',
  'pediatrics',
  'endocrinology',
  'cardiology',
  'pulmonology',
  'nephrology',
  'oncology',
  'obstetrics',
  'psychiatry',
  'emergency',
  'emergency',
];

export const ORG = {
  clinic: 'org-clinic',
  hospital: 'org-hospital',
  medicare: 'org-medicare',
  medicaid: 'org-medicaid',
  privatePayer: 'org-lakeside-health-plan',
  pharmacy: 'org-pharmacy',
} as const;

/** Electronic endpoints of the clinic and the hospital (PractitionerRole.endpoint, Organization.endpoint). */
export const ENDPOINT = { clinicDirect: 'endpoint-clinic-direct', hospitalFhir: 'endpoint-hospital-fhir' } as const;
export const LOCATION = { clinic: 'loc-clinic', specialty: 'loc-specialty', hospital: 'loc-hospital', emergency: 'loc-emergency' } as const;

/** Practitioner of the shared staff, with what the generators need to schedule them. */
export interface StaffMember {
  readonly id: string;
  readonly roleId: string;
  readonly specialty: Specialty;
  readonly given: string;
  readonly family: string;
  readonly organizationId: string;
  readonly locationId: string;
}

const CITY = 'Riverbend';
const STATE = 'MA';
const ZIP = '01089';

/** NPI with a valid Luhn check digit (prefix 80840, as CMS specifies); the leading 1 marks an individual, 2 an organization. */
function npi(rng: Rng, first: '1' | '2'): string {
  const body = first + rng.digits(8);
  const digits = `80840${body}`;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return body + String((10 - (sum % 10)) % 10);
}

function phone(rng: Rng): string {
  return `(413) 555-${rng.digits(4)}`;
}

interface SharedSet {
  readonly resources: readonly Resource[];
  readonly staff: readonly StaffMember[];
}

let cache: SharedSet | undefined;

function build(): SharedSet {
  const rng = new Rng(SHARED_SEED);
  const resources: Resource[] = [];
  const orgs: [string, string, Code, string][] = [
    [ORG.clinic, 'Riverbend Family Health', { system: SYSTEM.organizationType, code: 'prov', display: 'Healthcare Provider' }, '120 Main Street'],
    [ORG.hospital, 'Riverbend General Hospital', { system: SYSTEM.organizationType, code: 'prov', display: 'Healthcare Provider' }, '400 Hospital Drive'],
    [ORG.medicare, 'Medicare', { system: SYSTEM.organizationType, code: 'pay', display: 'Payer' }, '7500 Security Boulevard'],
    [ORG.medicaid, 'MassHealth (Medicaid)', { system: SYSTEM.organizationType, code: 'pay', display: 'Payer' }, '1 Ashburton Place'],
    [ORG.privatePayer, 'Lakeside Health Plan', { system: SYSTEM.organizationType, code: 'ins', display: 'Insurance Company' }, '88 Harbor Way'],
  ];
  for (const [id, name, type, line] of orgs) {
    const org: Organization = {
      resourceType: 'Organization',
      id,
      meta: { profile: [PROFILE.organization] },
      identifier: [{ system: SYSTEM.npi, value: npi(rng, '2') }],
      active: true,
      type: [{ coding: [coding(type)], text: type.display }],
      name,
      telecom: [{ system: 'phone', value: phone(rng), use: 'work' }],
      address: [{ use: 'work', line: [line], city: CITY, state: STATE, postalCode: ZIP, country: 'US' }],
    };
    resources.push(org);
  }

  const locations: [string, string, string, string][] = [
    [LOCATION.clinic, 'Riverbend Family Health Main Clinic', ORG.clinic, 'HOSP'],
    [LOCATION.specialty, 'Riverbend Specialty Center', ORG.hospital, 'HOSP'],
    [LOCATION.hospital, 'Riverbend General Hospital Inpatient Wards', ORG.hospital, 'HOSP'],
    [LOCATION.emergency, 'Riverbend General Hospital Emergency Department', ORG.hospital, 'ER'],
  ];
  for (const [id, name, orgId, role] of locations) {
    const loc: Location = {
      resourceType: 'Location',
      id,
      meta: { profile: [PROFILE.location] },
      status: 'active',
      name,
      mode: 'instance',
      type: [{ coding: [{ system: SYSTEM.roleCode, code: role, display: role === 'ER' ? 'Emergency room' : 'Hospital' }] }],
      telecom: [{ system: 'phone', value: phone(rng), use: 'work' }],
      address: {
        use: 'work',
        line: [id === LOCATION.clinic ? '120 Main Street' : '400 Hospital Drive'],
        city: CITY,
        state: STATE,
        postalCode: ZIP,
        country: 'US',
      },
      physicalType: { coding: [{ system: SYSTEM.locationPhysicalType, code: 'bu', display: 'Building' }] },
      managingOrganization: { reference: `Organization/${orgId}` },
    };
    resources.push(loc);
  }

  const staff: StaffMember[] = [];
  const usedNames = new Set<string>();
  STAFF.forEach((specialty, i) => {
    const n = i + 1;
    const female = rng.chance(0.5);
    let given = '';
    let family = '';
    // Unique names keep persona usernames (first.last) unique without numeric suffixes.
    do {
      [given, family] = withFaker(rng, (f) => [f.person.firstName(female ? 'female' : 'male'), f.person.lastName()]);
    } while (usedNames.has(`${given} ${family}`) || /[^A-Za-z]/.test(given + family));
    usedNames.add(`${given} ${family}`);
    const hospitalBased =
      specialty === 'emergency' ||
      specialty === 'oncology' ||
      specialty === 'nephrology' ||
      specialty === 'cardiology' ||
      specialty === 'pulmonology' ||
      specialty === 'endocrinology';
    const member: StaffMember = {
      id: `practitioner-${n}`,
      roleId: `practitionerrole-${n}`,
      specialty,
      given,
      family,
      organizationId: hospitalBased ? ORG.hospital : ORG.clinic,
      locationId: specialty === 'emergency' ? LOCATION.emergency : hospitalBased ? LOCATION.specialty : LOCATION.clinic,
    };
    staff.push(member);
    const practitioner: Practitioner = {
      resourceType: 'Practitioner',
      id: member.id,
      meta: { profile: [PROFILE.practitioner] },
      identifier: [{ system: SYSTEM.npi, value: npi(rng, '1') }],
      active: true,
      name: [{ use: 'official', family, given: [given], prefix: ['Dr.'], suffix: ['MD'] }],
      telecom: [{ system: 'email', value: `${given}.${family}@riverbend-health.example.org`.toLowerCase(), use: 'work' }],
      address: [
        {
          use: 'work',
          line: [member.organizationId === ORG.clinic ? '120 Main Street' : '400 Hospital Drive'],
          city: CITY,
          state: STATE,
          postalCode: ZIP,
          country: 'US',
        },
      ],
      gender: female ? 'female' : 'male',
      qualification: [
        { code: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0360', code: 'MD', display: 'Doctor of Medicine' }], text: 'MD' } },
      ],
    };
    const role: PractitionerRole = {
      resourceType: 'PractitionerRole',
      id: member.roleId,
      meta: { profile: [PROFILE.practitionerRole] },
      active: true,
      practitioner: { reference: `Practitioner/${member.id}`, display: `Dr. ${given} ${family}` },
      organization: { reference: `Organization/${member.organizationId}` },
      code: [{ coding: [{ system: SYSTEM.practitionerRole, code: 'doctor', display: 'Doctor' }] }],
      specialty: [{ coding: [coding(SPECIALTY_CODE[specialty])], text: SPECIALTY_CODE[specialty].display }],
      location: [{ reference: `Location/${member.locationId}` }],
      // One telecom only: Medplum's FHIRPath misreads invariant pd-1 when there are two.
      telecom: [{ system: 'phone', value: phone(rng), use: 'work' }],
      endpoint: [{ reference: `Endpoint/${member.organizationId === ORG.clinic ? ENDPOINT.clinicDirect : ENDPOINT.hospitalFhir}` }],
    };
    resources.push(practitioner, role);
  });

  for (const def of Object.values(MEDICATIONS)) {
    const med: Medication = {
      resourceType: 'Medication',
      id: medicationId(def.key),
      meta: { profile: [PROFILE.medication] },
      code: { coding: [coding(def.code)], text: def.code.display },
      status: 'active',
    };
    resources.push(med);
  }

  // Added after everything above, so that the draws before them (names, NPIs, phones) stay as they were.
  const endpoints: [string, string, Code, Code, string][] = [
    [
      ENDPOINT.clinicDirect,
      'Riverbend Family Health Direct messaging',
      { system: SYSTEM.endpointConnectionType, code: 'direct-project', display: 'Direct Project' },
      { system: SYSTEM.endpointPayloadType, code: 'any', display: 'Any' },
      'mailto:referrals@direct.riverbend-health.example.org',
    ],
    [
      ENDPOINT.hospitalFhir,
      'Riverbend General Hospital FHIR R4 API',
      { system: SYSTEM.endpointConnectionType, code: 'hl7-fhir-rest', display: 'HL7 FHIR' },
      { system: SYSTEM.endpointPayloadType, code: 'any', display: 'Any' },
      'https://fhir.riverbend-health.example.org/r4',
    ],
  ];
  for (const [id, name, connectionType, payloadType, address] of endpoints) {
    const endpoint: Endpoint = {
      resourceType: 'Endpoint',
      id,
      meta: { profile: [PROFILE.endpoint] },
      status: 'active',
      connectionType: coding(connectionType),
      name,
      managingOrganization: { reference: `Organization/${id === ENDPOINT.clinicDirect ? ORG.clinic : ORG.hospital}` },
      payloadType: [{ coding: [coding(payloadType)], text: payloadType.display }],
      payloadMimeType: id === ENDPOINT.hospitalFhir ? ['application/fhir+json'] : ['application/pdf', 'text/plain'],
      address,
    };
    resources.push(endpoint);
  }
  for (const org of resources) {
    if (org.resourceType !== 'Organization') continue;
    if (org.id === ORG.clinic) org.endpoint = [{ reference: `Endpoint/${ENDPOINT.clinicDirect}` }];
    if (org.id === ORG.hospital) org.endpoint = [{ reference: `Endpoint/${ENDPOINT.hospitalFhir}` }];
  }
  const pharmacy: Organization = {
    resourceType: 'Organization',
    id: ORG.pharmacy,
    meta: { profile: [PROFILE.organization] },
    identifier: [{ system: SYSTEM.npi, value: npi(rng, '2') }],
    active: true,
    type: [{ coding: [coding({ system: SYSTEM.organizationType, code: 'prov', display: 'Healthcare Provider' })], text: 'Pharmacy' }],
    name: 'Riverbend Community Pharmacy',
    telecom: [{ system: 'phone', value: phone(rng), use: 'work' }],
    address: [{ use: 'work', line: ['118 Main Street'], city: CITY, state: STATE, postalCode: ZIP, country: 'US' }],
  };
  resources.push(pharmacy, ...screeningQuestionnaires());
  return { resources, staff };
}

function shared(): SharedSet {
  cache ??= build();
  return cache;
}

/**
 * Organizations (the clinic, the hospital, payers, the pharmacy), Locations, Practitioners,
 * PractitionerRoles, Medications, Endpoints and the screening Questionnaires every patient record points to.
 */
export function generateSharedResources(): Resource[] {
  // Callers own the array they get; the cache stays intact.
  return shared().resources.map((r) => structuredClone(r));
}

/** Practitioners of the shared staff (for scheduling and personas). */
export function staff(): readonly StaffMember[] {
  return shared().staff;
}

/** Staff members of one specialty, never empty. */
const bySpecialty = new Map<Specialty, readonly StaffMember[]>();
export function staffOf(specialty: Specialty): readonly StaffMember[] {
  let list = bySpecialty.get(specialty);
  if (!list) {
    list = shared().staff.filter((s) => s.specialty === specialty);
    if (list.length === 0) throw new Error(`no staff for ${specialty}`);
    bySpecialty.set(specialty, list);
  }
  return list;
}
