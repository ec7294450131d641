import type { Condition } from '@medplum/fhirtypes';
import type { Chart, Sex, Visit } from './chart';
import { PROFILE, SYSTEM, concept, loinc, sct } from './codes';
import type { Code } from './codes';
import { toDate, toDateTime } from './dates';
import type { MedicationKey } from './medications';
import type { Specialty } from './shared';

/** Chronic conditions a cohort can be built around (`condition` option of the generators). */
export const CONDITION_KEYS = [
  'diabetes',
  'hypertension',
  'hyperlipidemia',
  'asthma',
  'copd',
  'depression',
  'anxiety',
  'ckd',
  'cancer',
  'pregnancy',
  'cad',
  'afib',
  'hypothyroidism',
  'osteoarthritis',
] as const;
export type ConditionKey = (typeof CONDITION_KEYS)[number];

export function isConditionKey(s: string): s is ConditionKey {
  return (CONDITION_KEYS as readonly string[]).includes(s);
}

/** How a chronic condition shows up in a record. */
export interface ChronicDef {
  readonly key: ConditionKey;
  readonly code: (sex: Sex) => Code;
  readonly minAge: number;
  readonly maxAge?: number;
  readonly sex?: Sex;
  /** Chance of having it by a given age (before cohort forcing). */
  readonly prevalence: (years: number, ctx: { sex: Sex; zWeight: number; smoker: boolean }) => number;
  /** Days between follow-up visits (first year, then later). */
  readonly followUp: readonly [number, number];
  readonly specialty?: Specialty;
  readonly medications: (sex: Sex) => readonly MedicationKey[];
  /** The care plan written at diagnosis (SNOMED category when one fits) and the goal it pursues. */
  readonly carePlan?: { readonly title: string; readonly code?: Code; readonly goal: string; readonly goalCode?: Code };
}

const ramp = (from: number, to: number, max: number) => (years: number) => (years <= from ? 0 : Math.min(max, (max * (years - from)) / (to - from)));

export const CHRONIC: Record<ConditionKey, ChronicDef> = {
  diabetes: {
    key: 'diabetes',
    code: () => sct('44054006', 'Diabetes mellitus type 2 (disorder)'),
    minAge: 30,
    prevalence: (y, c) => ramp(30, 70, 0.22)(y) * (c.zWeight > 1 ? 1.8 : 1),
    followUp: [91, 182],
    specialty: 'endocrinology',
    medications: () => ['metformin'],
    carePlan: {
      title: 'Diabetes self-management plan',
      code: sct('698360004', 'Diabetes self management plan (record artifact)'),
      goal: 'Hemoglobin A1c below 7.0%',
      goalCode: loinc('4548-4', 'Hemoglobin A1c/Hemoglobin.total in Blood'),
    },
  },
  hypertension: {
    key: 'hypertension',
    code: () => sct('38341003', 'Hypertensive disorder, systemic arterial (disorder)'),
    minAge: 25,
    prevalence: (y, c) => ramp(25, 75, 0.6)(y) * (c.zWeight > 1 ? 1.4 : 1),
    followUp: [120, 182],
    medications: () => ['lisinopril'],
    carePlan: {
      title: 'Hypertension lifestyle plan',
      code: sct('443402002', 'Lifestyle education regarding hypertension (procedure)'),
      goal: 'Blood pressure below 130/80 mmHg',
      goalCode: loinc('85354-9', 'Blood pressure panel with all children optional'),
    },
  },
  hyperlipidemia: {
    key: 'hyperlipidemia',
    code: () => sct('55822004', 'Hyperlipidemia (disorder)'),
    minAge: 35,
    prevalence: ramp(35, 70, 0.3),
    followUp: [365, 365],
    medications: () => ['simvastatin'],
  },
  asthma: {
    key: 'asthma',
    code: () => sct('195967001', 'Asthma (disorder)'),
    minAge: 3,
    prevalence: () => 0.08,
    followUp: [182, 365],
    medications: () => ['albuterol', 'fluticasone'],
    carePlan: {
      title: 'Asthma action plan',
      code: sct('699728000', 'Asthma self management (procedure)'),
      goal: 'No nighttime awakenings from asthma symptoms',
      goalCode: sct('473391009', 'Asthma never causes night symptoms (finding)'),
    },
  },
  copd: {
    key: 'copd',
    code: () => sct('13645005', 'Chronic obstructive lung disease (disorder)'),
    minAge: 45,
    prevalence: (y, c) => ramp(45, 80, 0.08)(y) * (c.smoker ? 3 : 0.3),
    followUp: [182, 182],
    specialty: 'pulmonology',
    medications: () => ['fluticasoneSalmeterol', 'albuterol'],
    carePlan: {
      title: 'COPD management plan',
      code: sct('412776001', 'Chronic obstructive pulmonary disease clinical management plan (record artifact)'),
      goal: 'Walk 30 minutes a day without stopping for breath',
    },
  },
  depression: {
    key: 'depression',
    code: () => sct('370143000', 'Major depressive disorder (disorder)'),
    minAge: 13,
    prevalence: () => 0.08,
    followUp: [91, 182],
    specialty: 'psychiatry',
    medications: () => ['fluoxetine'],
    carePlan: {
      title: 'Depression treatment plan',
      goal: 'PHQ-9 score below 5',
      goalCode: loinc('44261-6', 'Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]'),
    },
  },
  anxiety: {
    key: 'anxiety',
    code: () => sct('197480006', 'Anxiety disorder (disorder)'),
    minAge: 13,
    prevalence: () => 0.06,
    followUp: [182, 365],
    medications: () => ['sertraline'],
  },
  ckd: {
    key: 'ckd',
    code: () => sct('433144002', 'Chronic kidney disease stage 3 (disorder)'),
    minAge: 45,
    prevalence: ramp(45, 85, 0.14),
    followUp: [182, 182],
    specialty: 'nephrology',
    medications: () => ['lisinopril'],
    carePlan: {
      title: 'Chronic kidney disease management plan',
      goal: 'Slow the decline of kidney function (eGFR loss under 3 mL/min/1.73m2 a year)',
      goalCode: loinc('33914-3', 'Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum or Plasma by Creatinine-based formula (MDRD)'),
    },
  },
  cancer: {
    key: 'cancer',
    code: (sex) =>
      sex === 'female' ? sct('254837009', 'Malignant neoplasm of breast (disorder)') : sct('399068003', 'Malignant tumor of prostate (disorder)'),
    minAge: 40,
    prevalence: ramp(40, 80, 0.06),
    followUp: [91, 182],
    specialty: 'oncology',
    medications: (sex) => (sex === 'female' ? ['tamoxifen'] : []),
    carePlan: { title: 'Cancer survivorship plan', code: sct('395082007', 'Cancer care plan (record artifact)'), goal: 'Remain free of recurrence at 5 years' },
  },
  pregnancy: {
    key: 'pregnancy',
    code: () => sct('72892002', 'Normal pregnancy (finding)'),
    minAge: 18,
    maxAge: 42,
    sex: 'female',
    prevalence: (y) => (y >= 18 && y <= 42 ? 0.12 : 0),
    followUp: [28, 28],
    specialty: 'obstetrics',
    medications: () => [],
    carePlan: { title: 'Prenatal care plan', code: sct('134435003', 'Routine antenatal care (regime/therapy)'), goal: 'Healthy full-term delivery' },
  },
  cad: {
    key: 'cad',
    code: () => sct('53741008', 'Coronary arteriosclerosis (disorder)'),
    minAge: 50,
    prevalence: (y, c) => ramp(50, 85, 0.12)(y) * (c.sex === 'male' ? 1.4 : 0.7) * (c.smoker ? 1.5 : 1),
    followUp: [182, 365],
    specialty: 'cardiology',
    medications: () => ['clopidogrel', 'atorvastatin', 'metoprolol', 'nitroglycerin'],
  },
  afib: {
    key: 'afib',
    code: () => sct('49436004', 'Atrial fibrillation (disorder)'),
    minAge: 60,
    prevalence: ramp(60, 90, 0.12),
    followUp: [182, 365],
    specialty: 'cardiology',
    medications: () => ['warfarin', 'metoprolol'],
  },
  hypothyroidism: {
    key: 'hypothyroidism',
    code: () => sct('40930008', 'Hypothyroidism (disorder)'),
    minAge: 20,
    prevalence: (y, c) => ramp(20, 70, 0.08)(y) * (c.sex === 'female' ? 1.5 : 0.4),
    followUp: [365, 365],
    medications: () => ['levothyroxine'],
  },
  osteoarthritis: {
    key: 'osteoarthritis',
    code: () => sct('396275006', 'Osteoarthritis (disorder)'),
    minAge: 45,
    prevalence: ramp(45, 85, 0.3),
    followUp: [365, 365],
    medications: () => ['ibuprofen'],
  },
};

/** A self-limiting problem diagnosed at one visit. */
export interface AcuteDef {
  readonly key: string;
  readonly code: Code;
  readonly minAge: number;
  readonly maxAge: number;
  readonly sex?: Sex;
  readonly days: number;
  readonly fever: boolean;
  readonly respiratory: boolean;
  readonly emergency?: boolean;
  readonly medication?: (years: number) => MedicationKey | undefined;
}

/** Self-limiting problems seen in primary care, weighted by how often they come up. */
export const ACUTE: readonly (AcuteDef & { readonly weight: number })[] = [
  {
    key: 'sinusitis',
    code: sct('444814009', 'Viral sinusitis (disorder)'),
    minAge: 2,
    maxAge: 110,
    days: 10,
    fever: false,
    respiratory: false,
    weight: 5,
    medication: () => 'acetaminophen',
  },
  {
    key: 'pharyngitis',
    code: sct('195662009', 'Acute viral pharyngitis (disorder)'),
    minAge: 2,
    maxAge: 110,
    days: 7,
    fever: true,
    respiratory: false,
    weight: 4,
  },
  {
    key: 'strep',
    code: sct('43878008', 'Streptococcal sore throat (disorder)'),
    minAge: 3,
    maxAge: 60,
    days: 10,
    fever: true,
    respiratory: false,
    weight: 2,
    medication: () => 'penicillinV',
  },
  { key: 'bronchitis', code: sct('10509002', 'Acute bronchitis (disorder)'), minAge: 1, maxAge: 110, days: 14, fever: false, respiratory: true, weight: 3 },
  {
    key: 'otitis',
    code: sct('65363002', 'Otitis media (disorder)'),
    minAge: 0.5,
    maxAge: 10,
    days: 10,
    fever: true,
    respiratory: false,
    weight: 4,
    medication: () => 'amoxicillinPediatric',
  },
  {
    key: 'uti',
    code: sct('68566005', 'Urinary tract infectious disease (disorder)'),
    minAge: 16,
    maxAge: 110,
    sex: 'female',
    days: 5,
    fever: false,
    respiratory: false,
    weight: 2,
    medication: () => 'ciprofloxacin',
  },
  {
    key: 'sprain',
    code: sct('44465007', 'Sprain of ankle (disorder)'),
    minAge: 8,
    maxAge: 80,
    days: 21,
    fever: false,
    respiratory: false,
    weight: 2,
    medication: (y) => (y >= 12 ? 'ibuprofen' : 'acetaminophen'),
  },
  {
    key: 'backpain',
    code: sct('279039007', 'Low back pain (finding)'),
    minAge: 18,
    maxAge: 110,
    days: 28,
    fever: false,
    respiratory: false,
    weight: 2,
    medication: () => 'ibuprofen',
  },
  {
    key: 'pneumonia',
    code: sct('233604007', 'Pneumonia (disorder)'),
    minAge: 1,
    maxAge: 110,
    days: 21,
    fever: true,
    respiratory: true,
    emergency: true,
    weight: 1,
    medication: (y) => (y >= 12 ? 'amoxicillin' : 'amoxicillinPediatric'),
  },
];

const CLINICAL = {
  active: { system: SYSTEM.conditionClinical, code: 'active', display: 'Active' },
  resolved: { system: SYSTEM.conditionClinical, code: 'resolved', display: 'Resolved' },
  remission: { system: SYSTEM.conditionClinical, code: 'remission', display: 'Remission' },
} as const;
const CONFIRMED = { system: SYSTEM.conditionVerification, code: 'confirmed', display: 'Confirmed' } as const;
const CATEGORY = {
  problem: { system: SYSTEM.conditionCategory, code: 'problem-list-item', display: 'Problem List Item' },
  diagnosis: { system: SYSTEM.conditionCategory, code: 'encounter-diagnosis', display: 'Encounter Diagnosis' },
} as const;

export type ClinicalStatus = keyof typeof CLINICAL;

/** FHIR core extension US Core 6.1 profiles on Condition: the date the condition was first asserted. */
const ASSERTED_DATE = 'http://hl7.org/fhir/StructureDefinition/condition-assertedDate';

function assertedDate(day: number): NonNullable<Condition['extension']> {
  return [{ url: ASSERTED_DATE, valueDateTime: toDate(day) }];
}

/** Problem-list entry (US Core Condition Problems and Health Concerns). */
export function problemListCondition(
  chart: Chart,
  code: Code,
  onsetDay: number,
  opts: { visit?: Visit; status: ClinicalStatus; abatementDay?: number },
): Condition {
  const c: Condition = {
    resourceType: 'Condition',
    id: chart.id('cond'),
    meta: { profile: [PROFILE.problem] },
    // First asserted when diagnosed: at the visit, or at onset for a problem diagnosed elsewhere.
    extension: assertedDate(opts.visit?.day ?? onsetDay),
    clinicalStatus: concept(CLINICAL[opts.status]),
    verificationStatus: concept(CONFIRMED),
    category: [concept(CATEGORY.problem)],
    code: concept(code),
    subject: chart.subject,
    onsetDateTime: toDateTime(onsetDay, opts.visit?.start ?? 12 * 60),
    recordedDate: toDateTime(opts.visit?.day ?? onsetDay, (opts.visit?.start ?? 12 * 60) + 20),
  };
  if (opts.visit) c.encounter = opts.visit.ref;
  if (opts.visit) c.recorder = { reference: `Practitioner/${opts.visit.practitioner.id}` };
  if (opts.abatementDay !== undefined) c.abatementDateTime = toDate(opts.abatementDay);
  return chart.add(c, opts.visit);
}

/** Diagnosis made at a visit (US Core Condition Encounter Diagnosis). */
export function encounterDiagnosis(
  chart: Chart,
  visit: Visit,
  code: Code,
  opts: { status: ClinicalStatus; abatementDay?: number; onsetDay?: number },
): Condition {
  const c: Condition = {
    resourceType: 'Condition',
    id: chart.id('cond'),
    meta: { profile: [PROFILE.encounterDiagnosis] },
    extension: assertedDate(visit.day),
    clinicalStatus: concept(CLINICAL[opts.status]),
    verificationStatus: concept(CONFIRMED),
    category: [concept(CATEGORY.diagnosis)],
    code: concept(code),
    subject: chart.subject,
    encounter: visit.ref,
    onsetDateTime: toDateTime(opts.onsetDay ?? visit.day, opts.onsetDay === undefined ? visit.start : 12 * 60),
    recordedDate: toDateTime(visit.day, visit.start + 20),
    recorder: { reference: `Practitioner/${visit.practitioner.id}` },
  };
  if (opts.abatementDay !== undefined) c.abatementDateTime = toDate(opts.abatementDay);
  return chart.add(c, visit);
}
