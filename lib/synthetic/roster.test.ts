import type { Observation, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { PAGING_RECORD_SIZE, ROSTER_IDS, generateRoster, generateRosterPatient, personas } from './index';
import type { PatientRecord, RosterId } from './index';

const ANCHOR = '2025-06-01';
const roster = new Map<string, PatientRecord>([...generateRoster({ anchorDate: ANCHOR })].map((r) => [r.patient.id ?? '', r]));

function get(id: RosterId): PatientRecord {
  const r = roster.get(id);
  if (!r) throw new Error(`missing ${id}`);
  return r;
}

function observations(r: PatientRecord, loinc?: string): Observation[] {
  return r.resources.filter((x): x is Observation => x.resourceType === 'Observation' && (loinc === undefined || x.code?.coding?.[0]?.code === loinc));
}

function ofType<T extends Resource['resourceType']>(r: PatientRecord, type: T): Extract<Resource, { resourceType: T }>[] {
  return r.resources.filter((x): x is Extract<Resource, { resourceType: T }> => x.resourceType === type);
}

const ageAt = (birthDate: string | undefined, date: string): number => (Date.parse(date) - Date.parse(birthDate ?? '')) / (365.25 * 86_400_000);

describe('edge-case roster', () => {
  it('contains every documented patient, independent of any seed', () => {
    expect([...roster.keys()]).toEqual([...ROSTER_IDS]);
    expect(JSON.stringify(generateRosterPatient('roster-twin-a', { anchorDate: ANCHOR }))).toBe(JSON.stringify(get('roster-twin-a')));
  });

  it('roster-deceased: died, with a final inpatient stay ending in death', () => {
    const r = get('roster-deceased');
    expect(r.patient.deceasedDateTime).toBeDefined();
    const last = ofType(r, 'Encounter').at(-1);
    expect(last?.hospitalization?.dischargeDisposition?.coding?.[0]?.code).toBe('exp');
    expect(last?.period?.end?.slice(0, 10)).toBe(r.patient.deceasedDateTime?.slice(0, 10));
  });

  it('roster-newborn: days old, infant measurements only', () => {
    const r = get('roster-newborn');
    expect(ageAt(r.patient.birthDate, ANCHOR) * 365.25).toBeLessThan(30);
    const codes = new Set(observations(r).map((o) => o.code?.coding?.[0]?.code));
    expect(codes.has('9843-4')).toBe(true);
    expect(codes.has('77606-2')).toBe(true);
    expect(codes.has('85354-9')).toBe(false);
    expect(codes.has('39156-5')).toBe(false);
    expect(ofType(r, 'Immunization').map((i) => i.vaccineCode?.coding?.[0]?.code)).toEqual(['08']);
  });

  it('roster-growth: a growth series from birth with percentiles', () => {
    const r = get('roster-growth');
    expect(observations(r, '29463-7').length).toBeGreaterThanOrEqual(12);
    expect(observations(r, '77606-2').length).toBeGreaterThanOrEqual(5);
    expect(observations(r, '59576-9').length).toBeGreaterThanOrEqual(3);
    // Staying on a growth channel: the BMI-for-age percentile moves little between visits.
    const bmiPercentiles = observations(r, '59576-9').map((o) => o.valueQuantity?.value ?? 0);
    expect(Math.max(...bmiPercentiles) - Math.min(...bmiPercentiles)).toBeLessThan(30);
  });

  it('roster-centenarian: over 100 and alive', () => {
    const r = get('roster-centenarian');
    expect(ageAt(r.patient.birthDate, ANCHOR)).toBeGreaterThanOrEqual(100);
    expect(r.patient.deceasedDateTime).toBeUndefined();
  });

  it('roster-multiple-names: official, usual, old and maiden names with periods', () => {
    const names = get('roster-multiple-names').patient.name ?? [];
    expect(names.map((n) => n.use)).toEqual(['official', 'usual', 'old', 'maiden']);
    expect(names.find((n) => n.use === 'old')?.period?.end).toBeDefined();
    expect(names.find((n) => n.use === 'maiden')?.period?.end).toBeDefined();
  });

  it('roster-non-ascii and roster-long-name: names beyond ASCII and beyond 100 characters', () => {
    const names = get('roster-non-ascii').patient.name ?? [];
    expect(names[0]?.family).toBe('Ñúñez-Ødegård');
    expect(names.some((n) => n.family === '山田')).toBe(true);
    const long = get('roster-long-name').patient.name?.[0];
    expect(`${long?.given?.join(' ') ?? ''} ${long?.family ?? ''}`.length).toBeGreaterThan(120);
  });

  it('roster-single-name: a family name and no given name', () => {
    const [name] = get('roster-single-name').patient.name ?? [];
    expect(name?.given).toBeUndefined();
    expect(name?.family).toBe('Teller');
  });

  it('roster-unknown-gender: gender unknown, birth sex UNK', () => {
    const p = get('roster-unknown-gender').patient;
    expect(p.gender).toBe('unknown');
    expect(p.extension?.find((e) => e.url.endsWith('us-core-birthsex'))?.valueCode).toBe('UNK');
  });

  it('roster-moved: several addresses with consecutive periods', () => {
    const addresses = get('roster-moved').patient.address ?? [];
    const old = addresses.filter((a) => a.use === 'old');
    expect(old.length).toBe(3);
    for (const a of old) expect((a.period?.start ?? '') < (a.period?.end ?? '')).toBe(true);
  });

  it('roster-demographics-only: nothing but the Patient', () => {
    expect(get('roster-demographics-only').resources.map((r) => r.resourceType)).toEqual(['Patient']);
  });

  it('roster-paging: exactly 5,000 resources', () => {
    const r = get('roster-paging');
    expect(r.resources.length).toBe(PAGING_RECORD_SIZE);
    expect(observations(r).length).toBeGreaterThan(3000);
  });

  it('roster-data-absent: declined demographics and data-absent-reason values', () => {
    const r = get('roster-data-absent');
    const race = r.patient.extension?.find((e) => e.url.endsWith('us-core-race'));
    expect(race?.extension?.find((e) => e.url === 'ombCategory')?.valueCoding?.code).toBe('ASKU');
    const reasons = observations(r)
      .flatMap((o) => [o.dataAbsentReason, ...(o.component ?? []).map((c) => c.dataAbsentReason)])
      .filter(Boolean);
    const codes = new Set(reasons.map((c) => c?.coding?.[0]?.code));
    expect(codes.has('asked-declined')).toBe(true);
    expect(codes.has('not-performed')).toBe(true);
    expect(observations(r, '72166-2')[0]?.valueCodeableConcept?.coding?.[0]?.code).toBe('266927001');
  });

  it('roster-corrections: entered-in-error and amended records', () => {
    const r = get('roster-corrections');
    expect(observations(r).some((o) => o.status === 'entered-in-error')).toBe(true);
    expect(observations(r).some((o) => o.status === 'amended')).toBe(true);
    expect(ofType(r, 'DiagnosticReport').some((d) => d.status === 'amended')).toBe(true);
    expect(ofType(r, 'Condition').some((c) => c.verificationStatus?.coding?.[0]?.code === 'entered-in-error' && c.clinicalStatus === undefined)).toBe(true);
    expect(ofType(r, 'MedicationRequest').some((m) => m.status === 'entered-in-error')).toBe(true);
    expect(ofType(r, 'AllergyIntolerance').some((a) => a.verificationStatus?.coding?.[0]?.code === 'entered-in-error')).toBe(true);
    const docs = ofType(r, 'DocumentReference');
    const replaced = docs.find((d) => d.status === 'superseded');
    expect(docs.some((d) => d.relatesTo?.[0]?.code === 'replaces' && d.relatesTo[0].target?.reference === `DocumentReference/${replaced?.id ?? ''}`)).toBe(
      true,
    );
  });

  it('roster-html-name: markup and SQL in names, kept verbatim', () => {
    const name = get('roster-html-name').patient.name?.[0];
    expect(name?.given?.[0]).toBe('<script>alert("pwned")</script>');
    expect(name?.family).toContain('<b>');
  });

  it('roster-twin-a / roster-twin-b: same birth date, family, address and phone; different ids and given names', () => {
    const a = get('roster-twin-a').patient;
    const b = get('roster-twin-b').patient;
    expect(a.birthDate).toBe(b.birthDate);
    expect(a.name?.[0]?.family).toBe(b.name?.[0]?.family);
    expect(a.address).toEqual(b.address);
    expect(a.telecom).toEqual(b.telecom);
    expect(a.name?.[0]?.given?.[0]).not.toBe(b.name?.[0]?.given?.[0]);
    expect([a.multipleBirthInteger, b.multipleBirthInteger]).toEqual([1, 2]);
    expect(a.identifier?.[0]?.value).not.toBe(b.identifier?.[0]?.value);
  });

  it('offers sign-in personas with unique lowercase usernames', () => {
    const list = personas({ anchorDate: ANCHOR, seed: 1, patients: 5 });
    const usernames = list.map((p) => p.username);
    expect(new Set(usernames).size).toBe(usernames.length);
    for (const u of usernames) expect(u).toMatch(/^[a-z0-9.-]+$/);
    expect(list.filter((p) => p.kind === 'practitioner').length).toBeGreaterThan(10);
    expect(list.find((p) => p.fhirUser === 'Patient/roster-non-ascii')?.username).toBe('zoe.nunezdegard');
  });

  it('offers the parents of the roster minors as proxy personas for their child', () => {
    const proxies = personas({ anchorDate: ANCHOR }).filter((p) => p.kind === 'related-person');
    expect(proxies.map((p) => [p.fhirUser, p.patient])).toEqual([
      ['RelatedPerson/roster-newborn-rp1', 'Patient/roster-newborn'],
      ['RelatedPerson/roster-growth-rp1', 'Patient/roster-growth'],
    ]);
    for (const p of proxies) {
      const child = get(p.patient?.replace('Patient/', '') as RosterId);
      const parent = child.resources.find((r) => `${r.resourceType}/${r.id ?? ''}` === p.fhirUser);
      expect(parent?.resourceType).toBe('RelatedPerson');
      expect(p.username).toMatch(/^[a-z]+\.(ferreira|lindgren)$/);
    }
  });
});
