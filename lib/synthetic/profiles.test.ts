import type { Condition, DiagnosticReport, Encounter, Immunization, Media, MedicationDispense, Observation, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { PROFILE } from './codes';
import { generatePatient, generateRoster } from './index';
import type { PatientRecord } from './index';
import { PREGNANCY_INTENT_VALUE } from './social-history';

// The observations and links that make the data claim every US Core 6.1.0 profile, checked for
// what a client relies on: who they are recorded for, when, and what they point at.
const ANCHOR = '2025-06-01';
const RECORDS: PatientRecord[] = [];
for (let i = 0; i < 150; i++) RECORDS.push(generatePatient(i, { seed: 41, anchorDate: ANCHOR }));
for (let i = 0; i < 40; i++) RECORDS.push(generatePatient(i, { seed: 42, anchorDate: ANCHOR, condition: 'pregnancy' }));
RECORDS.push(...generateRoster({ anchorDate: ANCHOR }));

const DAY = 86_400_000;
const refOf = (r: Resource): string => `${r.resourceType}/${r.id ?? ''}`;
const ageAt = (birthDate: string | undefined, date: string): number => (Date.parse(date.slice(0, 10)) - Date.parse(birthDate ?? '')) / (365.25 * DAY);
const claims = (r: Resource, profile: string): boolean => r.meta?.profile?.includes(profile) === true;
function observations(r: PatientRecord, profile: string): Observation[] {
  return r.resources.filter((x): x is Observation => x.resourceType === 'Observation' && claims(x, profile));
}
function byRef(r: PatientRecord): Map<string, Resource> {
  return new Map(r.resources.map((x) => [refOf(x), x]));
}
function encounterDate(r: PatientRecord, o: { encounter?: { reference?: string } }): string {
  const e = byRef(r).get(o.encounter?.reference ?? '') as Encounter | undefined;
  return e?.period?.start ?? '';
}

describe('US Core profiles the data claims', () => {
  it('records one usual occupation with its industry for each adult seen at a check-up, held from adulthood', () => {
    let adults = 0;
    for (const r of RECORDS) {
      const jobs = observations(r, PROFILE.occupation);
      expect(jobs.length, r.patient.id).toBeLessThanOrEqual(1);
      for (const job of jobs) {
        adults++;
        const taken = encounterDate(r, job);
        expect(ageAt(r.patient.birthDate, taken)).toBeGreaterThanOrEqual(18);
        expect(job.code?.coding?.[0]?.code).toBe('11341-5');
        expect(job.valueCodeableConcept?.coding?.[0]?.system).toBe('http://terminology.hl7.org/CodeSystem/PHOccupationalDataForHealthODH');
        const industry = job.component?.find((c) => c.code?.coding?.[0]?.code === '86188-0');
        expect(industry?.valueCodeableConcept?.coding?.[0]?.code).toMatch(/^\d{6}\.\d{6}$/);
        const start = job.effectivePeriod?.start ?? '';
        expect(ageAt(r.patient.birthDate, start)).toBeGreaterThanOrEqual(18);
        expect(start <= taken.slice(0, 10)).toBe(true);
        if (job.effectivePeriod?.end) expect(job.effectivePeriod.end <= taken.slice(0, 10)).toBe(true);
      }
    }
    expect(adults).toBeGreaterThan(80);
  });

  it('asks adults their sexual orientation once, answered from the US Core value set', () => {
    const allowed = new Set(['20430005', '38628009', '42035005', 'OTH', 'UNK', 'ASKU']);
    const answers = new Set<string>();
    for (const r of RECORDS) {
      const asked = observations(r, PROFILE.sexualOrientation);
      expect(asked.length).toBeLessThanOrEqual(1);
      for (const o of asked) {
        expect(ageAt(r.patient.birthDate, encounterDate(r, o))).toBeGreaterThanOrEqual(18);
        const code = o.valueCodeableConcept?.coding?.[0]?.code ?? '';
        expect(allowed.has(code)).toBe(true);
        answers.add(code);
      }
    }
    expect(answers.size).toBeGreaterThan(2);
  });

  it('asks pregnancy intention of women of reproductive age who are not pregnant; those who conceive within the year mostly wanted to', () => {
    let before = 0;
    let wantedBefore = 0;
    let other = 0;
    let wantedOther = 0;
    for (const r of RECORDS) {
      const pregnancies = r.resources.filter((x): x is Condition => x.resourceType === 'Condition' && x.code?.coding?.[0]?.code === '72892002');
      for (const o of observations(r, PROFILE.pregnancyIntent)) {
        const when = o.effectiveDateTime ?? '';
        // Asked of female patients (roster-unknown-gender's gender and birth sex are unknown).
        expect(r.patient.gender).not.toBe('male');
        expect(r.patient.extension?.find((e) => e.url === PROFILE.birthSex)?.valueCode).not.toBe('M');
        const age = ageAt(r.patient.birthDate, when);
        expect(age).toBeGreaterThanOrEqual(15);
        expect(age).toBeLessThan(45);
        for (const p of pregnancies) {
          const since = (Date.parse(when) - Date.parse(p.onsetDateTime ?? '')) / DAY;
          expect(since >= 0 && since < 280, `${o.id ?? ''} during a pregnancy`).toBe(false);
        }
        const wanted = o.valueCodeableConcept?.coding?.[0]?.code === PREGNANCY_INTENT_VALUE.wants.code;
        const conceives = pregnancies.some((p) => (p.onsetDateTime ?? '') > when && Date.parse(p.onsetDateTime ?? '') - Date.parse(when) <= 365 * DAY);
        if (conceives) {
          before++;
          if (wanted) wantedBefore++;
        } else {
          other++;
          if (wanted) wantedOther++;
        }
      }
    }
    expect(before).toBeGreaterThan(5);
    expect(wantedBefore / before).toBeGreaterThan(0.5);
    expect(wantedOther / other).toBeLessThan(0.25);
  });

  it('records the cognitive status of adults from 65 as a simple observation', () => {
    let n = 0;
    for (const r of RECORDS) {
      for (const o of observations(r, PROFILE.simpleObservation)) {
        n++;
        expect(ageAt(r.patient.birthDate, o.effectiveDateTime ?? '')).toBeGreaterThanOrEqual(65);
        expect(o.category?.[0]?.coding?.[0]?.code).toBe('cognitive-status');
        expect(o.valueString).toMatch(/oriented/);
      }
    }
    expect(n).toBeGreaterThan(10);
  });

  it('groups each full set of vital signs in one panel whose members are that visit’s vital signs', () => {
    let panels = 0;
    for (const r of RECORDS) {
      const refs = byRef(r);
      for (const panel of observations(r, PROFILE.vitalSigns)) {
        panels++;
        expect(panel.code?.coding?.[0]?.code).toBe('85353-1');
        expect(panel.hasMember?.length).toBeGreaterThan(1);
        for (const m of panel.hasMember ?? []) {
          const member = refs.get(m.reference ?? '') as Observation | undefined;
          expect(member?.category?.[0]?.coding?.[0]?.code).toBe('vital-signs');
          expect(member?.encounter?.reference).toBe(panel.encounter?.reference);
        }
      }
    }
    expect(panels).toBeGreaterThan(300);
  });

  it('gives each imaging and ECG report its impression as a clinical result of the same visit, and each ECG its tracing', () => {
    let reports = 0;
    let tracings = 0;
    let unreadable = 0;
    for (const r of RECORDS) {
      const refs = byRef(r);
      for (const dr of r.resources.filter((x): x is DiagnosticReport => x.resourceType === 'DiagnosticReport' && claims(x, PROFILE.diagnosticReportNote))) {
        reports++;
        const result = refs.get(dr.result?.[0]?.reference ?? '') as Observation | undefined;
        expect(claims(result as Resource, PROFILE.clinicalResult)).toBe(true);
        expect(result?.encounter?.reference).toBe(dr.encounter?.reference);
        if (result?.dataAbsentReason) unreadable++;
        else expect(result?.valueString).toBe(dr.conclusion);
        if (dr.code?.coding?.[0]?.code === '11524-6') {
          const media = refs.get(dr.media?.[0]?.link?.reference ?? '') as Media | undefined;
          expect(media?.content.contentType).toBe('image/svg+xml');
          expect(media?.encounter?.reference).toBe(dr.encounter?.reference);
          tracings++;
        }
      }
    }
    expect(reports).toBeGreaterThan(30);
    expect(tracings).toBeGreaterThan(5);
    expect(unreadable).toBe(1);
  });

  it('links problem-focused visits to the problem on the list, and orders to the quantity each fill hands over', () => {
    let linked = 0;
    for (const r of RECORDS) {
      const refs = byRef(r);
      for (const e of r.resources.filter((x): x is Encounter => x.resourceType === 'Encounter')) {
        for (const reason of e.reasonReference ?? []) {
          linked++;
          const problem = refs.get(reason.reference ?? '') as Condition | undefined;
          expect(problem?.resourceType).toBe('Condition');
          expect(problem?.code?.coding?.[0]?.code).toBe(e.reasonCode?.[0]?.coding?.[0]?.code);
        }
      }
      for (const d of r.resources.filter((x): x is MedicationDispense => x.resourceType === 'MedicationDispense')) {
        const order = refs.get(d.authorizingPrescription?.[0]?.reference ?? '');
        if (order?.resourceType === 'MedicationRequest') expect(order.dispenseRequest?.quantity?.value).toBe(d.quantity?.value);
      }
    }
    expect(linked).toBeGreaterThan(200);
  });

  it('records a declined flu shot as not done, with the reason, for adults only', () => {
    let declined = 0;
    for (const r of RECORDS) {
      for (const imm of r.resources.filter((x): x is Immunization => x.resourceType === 'Immunization' && x.status === 'not-done')) {
        declined++;
        expect(imm.statusReason?.coding?.[0]?.code).toBe('PATOBJ');
        expect(imm.vaccineCode.coding?.[0]?.code).toBe('140');
        expect(ageAt(r.patient.birthDate, imm.occurrenceDateTime ?? '')).toBeGreaterThanOrEqual(18);
        expect(imm.lotNumber).toBeUndefined();
      }
    }
    expect(declined).toBeGreaterThan(5);
  });
});
