import type { Dosage } from '@medplum/fhirtypes';
import { SYSTEM, sct } from './codes';
import type { Code } from './codes';

/** A prescribable product: RxNorm SCD plus the usual sig. */
export interface MedicationDef {
  readonly key: string;
  readonly code: Code;
  readonly sig: string;
  readonly doseValue: number;
  readonly doseUnit: string;
  readonly doseUcum: string;
  readonly frequency: number;
  readonly period: number;
  readonly periodUnit: 'h' | 'd' | 'wk';
  readonly route: Code;
  readonly asNeeded?: boolean;
  /** Course length in days for short courses (antibiotics); absent for long-term medications. */
  readonly courseDays?: number;
}

const ORAL = sct('26643006', 'Oral route (qualifier value)');
const INHALED = sct('447694001', 'Respiratory tract route (qualifier value)');
const MUCOSAL = sct('372473007', 'Oromucosal route (qualifier value)');

function rx(code: string, display: string): Code {
  return { system: SYSTEM.rxnorm, code, display };
}

const TABLET = { doseUnit: 'tablet', doseUcum: '{tbl}' } as const;
const CAPSULE = { doseUnit: 'capsule', doseUcum: '{capsule}' } as const;
const PUFF = { doseUnit: 'puff', doseUcum: '{puff}' } as const;

/** Medications the generator prescribes, keyed for the clinical modules. */
export const MEDICATIONS = {
  metformin: {
    key: 'metformin',
    code: rx('860975', '24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet'),
    sig: 'Take 1 tablet by mouth once daily with the evening meal.',
    doseValue: 1,
    ...TABLET,
    frequency: 1,
    period: 1,
    periodUnit: 'd',
    route: ORAL,
  },
  lisinopril: {
    key: 'lisinopril',
    code: rx('314076', 'lisinopril 10 MG Oral Tablet'),
    sig: 'Take 1 tablet by mouth once daily.',
    doseValue: 1,
    ...TABLET,
    frequency: 1,
    period: 1,
    periodUnit: 'd',
    route: ORAL,
  },
  amlodipine: {
    key: 'amlodipine',
    code: rx('197361', 'amlodipine 5 MG Oral Tablet'),
    sig: 'Take 1 tablet by mouth once daily.',
    doseValue: 1,
    ...TABLET,
    frequency: 1,
    period: 1,
    periodUnit: 'd',
    route: ORAL,
  },
  hydrochlorothiazide: {
    key: 'hydrochlorothiazide',
    code: rx('310798', 'hydrochlorothiazide 25 MG Oral Tablet'),
    sig: 'Take 1 tablet by mouth every morning.',
    doseValue: 1,
    ...TABLET,
    frequency: 1,
    period: 1,
    periodUnit: 'd',
    route: ORAL,
  },
  simvastatin: {
    key: 'simvastatin',
    code: rx('314231', 'simvastatin 10 MG Oral Tablet'),
    sig: 'Take 1 tablet by mouth at bedtime.',
    doseValue: 1,
    ...TABLET,
    frequency: 1,
    period: 1,
    periodUnit: 'd',
    route: ORAL,
  },
  atorvastatin: {
    key: 'atorvastatin',
    code: rx('259255', 'atorvastatin 80 MG Oral Tablet'),
    sig: 'Take 1 tablet by mouth once daily.',
    doseValue: 1,
    ...TABLET,
    frequency: 1,
    period: 1,
    periodUnit: 'd',
    route: ORAL,
  },
  albuterol: {
    key: 'albuterol',
    code: rx('745679', '200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler'),
    sig: 'Inhale 2 puffs every 4 to 6 hours as needed for wheezing or shortness of breath.',
    doseValue: 2,
    ...PUFF,
    frequency: 1,
    period: 4,
    periodUnit: 'h',
    route: INHALED,
    asNeeded: true,
  },
  fluticasone: {
    key: 'fluticasone',
    code: rx('895994', '120 ACTUAT fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler'),
    sig: 'Inhale 2 puffs twice daily. Rinse mouth after use.',
    doseValue: 2,
    ...PUFF,
    frequency: 2,
    period: 1,
    periodUnit: 'd',
    route: INHALED,
  },
  fluticasoneSalmeterol: {
    key: 'fluticasoneSalmeterol',
    code: rx('896209', '60 ACTUAT fluticasone propionate 0.25 MG/ACTUAT / salmeterol 0.05 MG/ACTUAT Dry Powder Inhaler'),
    sig: 'Inhale 1 puff twice daily.',
    doseValue: 1,
    ...PUFF,
    frequency: 2,
    period: 1,
    periodUnit: 'd',
    route: INHALED,
  },
  sertraline: {
    key: 'sertraline',
    code: rx('312938', 'sertraline 100 MG Oral Tablet'),
    sig: 'Take 1 tablet by mouth once daily.',
    doseValue: 1,
    ...TABLET,
    frequency: 1,
    period: 1,
    periodUnit: 'd',
    route: ORAL,
  },
  fluoxetine: {
    key: 'fluoxetine',
    code: rx('310385', 'fluoxetine 20 MG Oral Capsule'),
    sig: 'Take 1 capsule by mouth every morning.',
    doseValue: 1,
    ...CAPSULE,
    frequency: 1,
    period: 1,
    periodUnit: 'd',
    route: ORAL,
  },
  levothyroxine: {
    key: 'levothyroxine',
    code: rx('966222', 'levothyroxine sodium 0.075 MG Oral Tablet'),
    sig: 'Take 1 tablet by mouth every morning on an empty stomach.',
    doseValue: 1,
    ...TABLET,
    frequency: 1,
    period: 1,
    periodUnit: 'd',
    route: ORAL,
  },
  warfarin: {
    key: 'warfarin',
    code: rx('855332', 'warfarin sodium 5 MG Oral Tablet'),
    sig: 'Take 1 tablet by mouth once daily or as directed by the anticoagulation clinic.',
    doseValue: 1,
    ...TABLET,
    frequency: 1,
    period: 1,
    periodUnit: 'd',
    route: ORAL,
  },
  metoprolol: {
    key: 'metoprolol',
    code: rx('866412', '24 HR metoprolol succinate 100 MG Extended Release Oral Tablet'),
    sig: 'Take 1 tablet by mouth once daily.',
    doseValue: 1,
    ...TABLET,
    frequency: 1,
    period: 1,
    periodUnit: 'd',
    route: ORAL,
  },
  clopidogrel: {
    key: 'clopidogrel',
    code: rx('309362', 'clopidogrel 75 MG Oral Tablet'),
    sig: 'Take 1 tablet by mouth once daily.',
    doseValue: 1,
    ...TABLET,
    frequency: 1,
    period: 1,
    periodUnit: 'd',
    route: ORAL,
  },
  nitroglycerin: {
    key: 'nitroglycerin',
    code: rx('705129', 'nitroglycerin 0.4 MG/ACTUAT Mucosal Spray'),
    sig: 'Spray 1 dose under the tongue at onset of chest pain; may repeat every 5 minutes, up to 3 doses.',
    doseValue: 1,
    ...PUFF,
    frequency: 1,
    period: 5,
    periodUnit: 'h',
    route: MUCOSAL,
    asNeeded: true,
  },
  amoxicillin: {
    key: 'amoxicillin',
    code: rx('308192', 'amoxicillin 500 MG Oral Tablet'),
    sig: 'Take 1 tablet by mouth every 8 hours for 10 days.',
    doseValue: 1,
    ...TABLET,
    frequency: 3,
    period: 1,
    periodUnit: 'd',
    route: ORAL,
    courseDays: 10,
  },
  amoxicillinPediatric: {
    key: 'amoxicillinPediatric',
    code: rx('308182', 'amoxicillin 250 MG Oral Capsule'),
    sig: 'Take 1 capsule by mouth every 8 hours for 10 days.',
    doseValue: 1,
    ...CAPSULE,
    frequency: 3,
    period: 1,
    periodUnit: 'd',
    route: ORAL,
    courseDays: 10,
  },
  penicillinV: {
    key: 'penicillinV',
    code: rx('834061', 'penicillin V potassium 250 MG Oral Tablet'),
    sig: 'Take 1 tablet by mouth every 6 hours for 10 days.',
    doseValue: 1,
    ...TABLET,
    frequency: 4,
    period: 1,
    periodUnit: 'd',
    route: ORAL,
    courseDays: 10,
  },
  ciprofloxacin: {
    key: 'ciprofloxacin',
    code: rx('309309', 'ciprofloxacin 500 MG Oral Tablet'),
    sig: 'Take 1 tablet by mouth every 12 hours for 3 days.',
    doseValue: 1,
    ...TABLET,
    frequency: 2,
    period: 1,
    periodUnit: 'd',
    route: ORAL,
    courseDays: 3,
  },
  acetaminophen: {
    key: 'acetaminophen',
    code: rx('313782', 'acetaminophen 325 MG Oral Tablet'),
    sig: 'Take 2 tablets by mouth every 6 hours as needed for pain or fever.',
    doseValue: 2,
    ...TABLET,
    frequency: 1,
    period: 6,
    periodUnit: 'h',
    route: ORAL,
    asNeeded: true,
    courseDays: 7,
  },
  ibuprofen: {
    key: 'ibuprofen',
    code: rx('310965', 'ibuprofen 200 MG Oral Tablet'),
    sig: 'Take 2 tablets by mouth every 8 hours as needed for pain, with food.',
    doseValue: 2,
    ...TABLET,
    frequency: 1,
    period: 8,
    periodUnit: 'h',
    route: ORAL,
    asNeeded: true,
  },
  prednisone: {
    key: 'prednisone',
    code: rx('312617', 'predniSONE 5 MG Oral Tablet'),
    sig: 'Take 8 tablets (40 mg) by mouth once daily for 5 days.',
    doseValue: 8,
    ...TABLET,
    frequency: 1,
    period: 1,
    periodUnit: 'd',
    route: ORAL,
    courseDays: 5,
  },
  ferrousSulfate: {
    key: 'ferrousSulfate',
    code: rx('310325', 'ferrous sulfate 325 MG Oral Tablet'),
    sig: 'Take 1 tablet by mouth once daily.',
    doseValue: 1,
    ...TABLET,
    frequency: 1,
    period: 1,
    periodUnit: 'd',
    route: ORAL,
  },
  tamoxifen: {
    key: 'tamoxifen',
    code: rx('198240', 'tamoxifen 10 MG Oral Tablet'),
    sig: 'Take 2 tablets by mouth once daily.',
    doseValue: 2,
    ...TABLET,
    frequency: 1,
    period: 1,
    periodUnit: 'd',
    route: ORAL,
  },
  cetirizine: {
    key: 'cetirizine',
    code: rx('1014676', 'cetirizine hydrochloride 5 MG Oral Tablet'),
    sig: 'Take 1 tablet by mouth once daily as needed for allergy symptoms.',
    doseValue: 1,
    ...TABLET,
    frequency: 1,
    period: 1,
    periodUnit: 'd',
    route: ORAL,
    asNeeded: true,
  },
} as const satisfies Record<string, MedicationDef>;

export type MedicationKey = keyof typeof MEDICATIONS;

/** Id of the shared Medication resource for a catalog entry. */
export function medicationId(key: MedicationKey): string {
  return `med-${MEDICATIONS[key].code.code}`;
}

/** Doses (tablets, puffs, ...) a supply of `days` days holds, rounded up. */
export function supplyQuantity(med: MedicationDef, days: number): number {
  const periodDays = med.periodUnit === 'h' ? med.period / 24 : med.periodUnit === 'wk' ? med.period * 7 : med.period;
  return Math.ceil(((med.frequency * med.doseValue) / periodDays) * days);
}

/** FHIR Dosage for a catalog entry. */
export function toDosage(med: MedicationDef): Dosage {
  return {
    sequence: 1,
    text: med.sig,
    timing: { repeat: { frequency: med.frequency, period: med.period, periodUnit: med.periodUnit } },
    asNeededBoolean: med.asNeeded ?? false,
    route: { coding: [{ system: med.route.system, code: med.route.code, display: med.route.display }], text: med.route.display },
    doseAndRate: [{ doseQuantity: { value: med.doseValue, unit: med.doseUnit, system: SYSTEM.ucum, code: med.doseUcum } }],
  };
}
