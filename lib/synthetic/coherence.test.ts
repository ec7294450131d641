import type { Bundle, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { CHRONIC } from './conditions';
import { CONDITION_KEYS, generatePatient, generateRoster, generateSharedResources } from './index';
import type { PatientRecord } from './index';

const ANCHOR = '2025-06-01';
const DATE = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/;

function cohort(n: number, opts: { seed?: number; condition?: string; minAge?: number; maxAge?: number } = {}): PatientRecord[] {
  const out: PatientRecord[] = [];
  for (let i = 0; i < n; i++) out.push(generatePatient(i, { seed: opts.seed ?? 21, anchorDate: ANCHOR, ...opts }));
  return out;
}

const COHORT = cohort(150);
const ROSTER = [...generateRoster({ anchorDate: ANCHOR })];
const SHARED = generateSharedResources();
const SHARED_KEYS = new Set(SHARED.map((r) => `${r.resourceType}/${r.id ?? ''}`));

/** Every `reference` string anywhere in a resource. */
function references(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) references(n, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'reference' && typeof v === 'string') out.push(v);
      else references(v, out);
    }
  }
  return out;
}

/** Every date/dateTime value with the key it sits under. */
function dates(node: unknown, key = '', out: [string, string][] = []): [string, string][] {
  if (Array.isArray(node)) for (const n of node) dates(n, key, out);
  else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) dates(v, k, out);
  else if (typeof node === 'string' && DATE.test(node)) out.push([key, node]);
  return out;
}

function code(o: Observation): string | undefined {
  return o.code?.coding?.[0]?.code;
}

function ageYearsAt(patient: Patient, date: string): number {
  return (Date.parse(date.slice(0, 10)) - Date.parse(patient.birthDate ?? '')) / (365.25 * 86_400_000);
}

describe('coherence', () => {
  const records = [...COHORT, ...ROSTER];

  it('has a median of about 150 resources per ordinary patient', () => {
    const sizes = COHORT.map((r) => r.resources.length).sort((a, b) => a - b);
    const median = sizes[Math.floor(sizes.length / 2)] ?? 0;
    expect(median).toBeGreaterThanOrEqual(120);
    expect(median).toBeLessThanOrEqual(260);
  });

  it('resolves every reference within the patient record and the shared resources', () => {
    for (const { resources } of records) {
      const local = new Set(resources.map((r) => `${r.resourceType}/${r.id ?? ''}`));
      for (const r of resources) {
        for (const ref of references(r)) expect(local.has(ref) || SHARED_KEYS.has(ref), `${r.resourceType}/${r.id ?? ''} → ${ref}`).toBe(true);
      }
    }
    for (const r of SHARED) for (const ref of references(r)) expect(SHARED_KEYS.has(ref), ref).toBe(true);
  });

  it('binds encounter diagnoses and observations to encounters of the same patient', () => {
    let diagnoses = 0;
    for (const { patient, resources } of records) {
      const encounters = new Set(resources.filter((r) => r.resourceType === 'Encounter').map((r) => `Encounter/${r.id ?? ''}`));
      for (const r of resources) {
        if (r.resourceType === 'Condition' && r.category?.[0]?.coding?.[0]?.code === 'encounter-diagnosis') {
          diagnoses++;
          expect(encounters.has(r.encounter?.reference ?? ''), r.id).toBe(true);
        }
        if (r.resourceType === 'Observation' && r.encounter) expect(encounters.has(r.encounter.reference ?? ''), r.id).toBe(true);
        if ('subject' in r && r.subject && typeof r.subject === 'object' && 'reference' in r.subject && r.subject.reference?.startsWith('Patient/')) {
          expect(r.subject.reference).toBe(`Patient/${patient.id ?? ''}`);
        }
      }
    }
    expect(diagnoses).toBeGreaterThan(100);
  });

  it('records nothing after the date of death', () => {
    const deceased = records.filter((r) => r.patient.deceasedDateTime);
    expect(deceased.length).toBeGreaterThan(0);
    for (const { patient, resources } of deceased) {
      const death = (patient.deceasedDateTime ?? '').slice(0, 10);
      for (const r of resources) {
        // A device's expiry is a property of the product, not an event in the patient's life.
        for (const [key, d] of dates(r))
          if (key !== 'expirationDate') expect(d.slice(0, 10) <= death, `${r.resourceType}/${r.id ?? ''} ${key}=${d} after ${death}`).toBe(true);
      }
      const last = resources.filter((r) => r.resourceType === 'Encounter').pop();
      expect(last?.resourceType === 'Encounter' && last.hospitalization?.dischargeDisposition?.coding?.[0]?.code).toBe('exp');
    }
  });

  it('records no event after the anchor date (plans and validity periods may extend past it)', () => {
    const FUTURE_OK = new Set(['dueDate', 'expirationDate', 'end']);
    for (const { resources } of COHORT) {
      for (const r of resources)
        for (const [key, d] of dates(r)) if (!FUTURE_OK.has(key)) expect(d.slice(0, 10) < ANCHOR, `${r.resourceType}/${r.id ?? ''} ${key}=${d}`).toBe(true);
    }
  });

  it('takes no adult vital signs from infants and keeps their values in infant ranges', () => {
    let infantVitals = 0;
    for (const { patient, resources } of records) {
      for (const r of resources) {
        if (r.resourceType !== 'Observation' || r.category?.[0]?.coding?.[0]?.code !== 'vital-signs') continue;
        const age = ageYearsAt(patient, r.effectiveDateTime ?? '');
        if (age >= 1) continue;
        infantVitals++;
        expect(['85354-9', '39156-5', '59408-5', '59576-9']).not.toContain(code(r));
        if (code(r) === '8867-4') expect(r.valueQuantity?.value ?? 0).toBeGreaterThan(90);
        if (code(r) === '29463-7') expect(r.valueQuantity?.value ?? 99).toBeLessThan(15);
      }
    }
    expect(infantVitals).toBeGreaterThan(0);
  });

  it('keeps children on their growth curve', () => {
    const growth = ROSTER.find((r) => r.patient.id === 'roster-growth');
    const heights = (growth?.resources ?? [])
      .filter((r): r is Observation => r.resourceType === 'Observation' && code(r) === '8302-2')
      .map((o) => o.valueQuantity?.value ?? 0);
    expect(heights.length).toBeGreaterThanOrEqual(10);
    for (let i = 1; i < heights.length; i++) expect((heights[i] ?? 0) - (heights[i - 1] ?? 0)).toBeGreaterThan(-1);
    expect(heights[0] ?? 0).toBeLessThan(60);
    expect(heights[heights.length - 1] ?? 0).toBeGreaterThan(105);
  });

  it('gives every diabetic HbA1c and glucose results over time, metformin, an endocrinology visit and a care plan', () => {
    const diabetics = cohort(30, { condition: 'diabetes', seed: 3 });
    for (const { resources } of diabetics) {
      const obs = resources.filter((r): r is Observation => r.resourceType === 'Observation');
      expect(obs.filter((o) => code(o) === '4548-4').length).toBeGreaterThanOrEqual(1);
      expect(obs.some((o) => code(o) === '2345-7')).toBe(true);
      expect(resources.some((r) => r.resourceType === 'Condition' && r.code?.coding?.[0]?.code === '44054006')).toBe(true);
      expect(resources.some((r) => r.resourceType === 'MedicationRequest' && r.medicationReference?.reference === 'Medication/med-860975')).toBe(true);
      expect(resources.some((r) => r.resourceType === 'CarePlan')).toBe(true);
    }
    const consults = diabetics.filter(({ resources }) =>
      resources.some((r) => r.resourceType === 'Encounter' && r.type?.[0]?.coding?.[0]?.code === '11429006'),
    );
    expect(consults.length).toBe(diabetics.length);
  });

  it('raises the blood pressure of untreated hypertensives and treats them', () => {
    const hypertensives = cohort(25, { condition: 'hypertension', seed: 4 });
    let high = 0;
    for (const { resources } of hypertensives) {
      expect(resources.some((r) => r.resourceType === 'MedicationRequest' && r.medicationReference?.reference === 'Medication/med-314076')).toBe(true);
      for (const r of resources) if (r.resourceType === 'Observation' && code(r) === '85354-9' && (r.component?.[0]?.valueQuantity?.value ?? 0) >= 140) high++;
    }
    expect(high).toBeGreaterThan(hypertensives.length);
  });

  it('gives every cohort patient the chosen condition and respects the age range', () => {
    for (const condition of CONDITION_KEYS) {
      for (const { patient, resources } of cohort(4, { condition, seed: 9 })) {
        const wanted = CHRONIC[condition].code(patient.gender === 'male' ? 'male' : 'female').code;
        const problem = resources.find(
          (r) => r.resourceType === 'Condition' && r.category?.[0]?.coding?.[0]?.code === 'problem-list-item' && r.code?.coding?.[0]?.code === wanted,
        );
        expect(problem, `${condition} ${patient.id ?? ''}`).toBeDefined();
      }
    }
    for (const { patient } of cohort(40, { minAge: 30, maxAge: 40 })) {
      const age = ageYearsAt(patient, ANCHOR);
      expect(age).toBeGreaterThanOrEqual(30);
      expect(age).toBeLessThan(41);
    }
    for (const { patient } of cohort(10, { condition: 'pregnancy' })) expect(patient.gender).toBe('female');
  });

  it('lists clinical problems only: no social findings as Conditions, no digits in names', () => {
    for (const { patient, resources } of COHORT) {
      for (const n of patient.name ?? []) expect(`${n.given?.join(' ') ?? ''} ${n.family ?? ''}`).not.toMatch(/\d/);
      for (const r of resources) {
        if (r.resourceType !== 'Condition') continue;
        const display = r.code?.coding?.[0]?.display ?? '';
        expect(display).toMatch(/\((disorder|finding)\)$/);
        expect(display).not.toMatch(/employment|education|housing|income|social/i);
      }
    }
  });

  it('keeps medication periods sensible and their status consistent', () => {
    for (const { patient, resources } of records) {
      for (const r of resources) {
        if (r.resourceType !== 'MedicationRequest' || r.status === 'entered-in-error') continue;
        const period = r.dispenseRequest?.validityPeriod;
        expect((period?.start ?? '') <= (period?.end ?? ''), r.id).toBe(true);
        expect(period?.start).toBe(r.authoredOn?.slice(0, 10));
        if (r.status === 'active') {
          expect(patient.deceasedDateTime).toBeUndefined();
          expect((period?.end ?? '') >= ANCHOR, r.id).toBe(true);
        }
        if (r.status === 'stopped') expect(period?.end).toBe(patient.deceasedDateTime?.slice(0, 10));
      }
    }
  });

  it('writes notes as real base64 text that matches the structured data', () => {
    const { resources } = COHORT[0] as PatientRecord;
    const notes = resources.filter((r) => r.resourceType === 'DocumentReference');
    expect(notes.length).toBeGreaterThan(0);
    for (const n of notes) {
      const text = Buffer.from(n.content?.[0]?.attachment?.data ?? '', 'base64').toString('utf8');
      expect(text).toMatch(/SUBJECTIVE:/);
      expect(text.length).toBeGreaterThan(100);
    }
  });

  it('streams as transactions per patient would: every record starts with its Patient', () => {
    for (const { patient, resources } of records) {
      expect(resources[0]).toBe(patient);
      const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: resources.map((resource: Resource) => ({ resource })) };
      expect(bundle.entry?.length).toBe(resources.length);
    }
  });
});
