import type { DiagnosticReport, Observation, ObservationReferenceRange, ServiceRequest, Specimen } from '@medplum/fhirtypes';
import type { Chart, Sex, Visit } from './chart';
import { INTERPRETATION, OBSERVATION_CATEGORY, PROFILE, SYSTEM, concept, coding, loinc, sct } from './codes';
import type { Code } from './codes';
import { toDateTime } from './dates';
import { ORG } from './shared';
import { quantity } from './vitals';

interface AnalyteDef {
  readonly code: Code;
  readonly unit: string;
  readonly decimals: number;
  /** Normal range by sex; `undefined` bounds are open. */
  readonly range: (sex: Sex) => readonly (number | undefined)[];
}

const both = (low: number | undefined, high: number | undefined) => (): readonly (number | undefined)[] => [low, high];

/** Laboratory analytes (LOINC, UCUM) with adult reference ranges. */
export const ANALYTE = {
  glucose: { code: loinc('2345-7', 'Glucose [Mass/volume] in Serum or Plasma'), unit: 'mg/dL', decimals: 0, range: both(70, 99) },
  bun: { code: loinc('3094-0', 'Urea nitrogen [Mass/volume] in Serum or Plasma'), unit: 'mg/dL', decimals: 0, range: both(7, 20) },
  creatinine: {
    code: loinc('2160-0', 'Creatinine [Mass/volume] in Serum or Plasma'),
    unit: 'mg/dL',
    decimals: 2,
    range: (s: Sex) => (s === 'male' ? [0.74, 1.35] : [0.59, 1.04]),
  },
  sodium: { code: loinc('2951-2', 'Sodium [Moles/volume] in Serum or Plasma'), unit: 'mmol/L', decimals: 0, range: both(135, 145) },
  potassium: { code: loinc('2823-3', 'Potassium [Moles/volume] in Serum or Plasma'), unit: 'mmol/L', decimals: 1, range: both(3.5, 5.1) },
  chloride: { code: loinc('2075-0', 'Chloride [Moles/volume] in Serum or Plasma'), unit: 'mmol/L', decimals: 0, range: both(98, 107) },
  co2: { code: loinc('2028-9', 'Carbon dioxide, total [Moles/volume] in Serum or Plasma'), unit: 'mmol/L', decimals: 0, range: both(22, 29) },
  calcium: { code: loinc('17861-6', 'Calcium [Mass/volume] in Serum or Plasma'), unit: 'mg/dL', decimals: 1, range: both(8.6, 10.3) },
  egfr: {
    code: loinc('33914-3', 'Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum or Plasma by Creatinine-based formula (MDRD)'),
    unit: 'mL/min/{1.73_m2}',
    decimals: 0,
    range: both(60, undefined),
  },
  cholesterol: { code: loinc('2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma'), unit: 'mg/dL', decimals: 0, range: both(undefined, 200) },
  triglycerides: { code: loinc('2571-8', 'Triglyceride [Mass/volume] in Serum or Plasma'), unit: 'mg/dL', decimals: 0, range: both(undefined, 150) },
  hdl: { code: loinc('2085-9', 'Cholesterol in HDL [Mass/volume] in Serum or Plasma'), unit: 'mg/dL', decimals: 0, range: both(40, undefined) },
  ldl: {
    code: loinc('18262-6', 'Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay'),
    unit: 'mg/dL',
    decimals: 0,
    range: both(undefined, 100),
  },
  wbc: { code: loinc('6690-2', 'Leukocytes [#/volume] in Blood by Automated count'), unit: '10*3/uL', decimals: 1, range: both(4.5, 11) },
  rbc: {
    code: loinc('789-8', 'Erythrocytes [#/volume] in Blood by Automated count'),
    unit: '10*6/uL',
    decimals: 2,
    range: (s: Sex) => (s === 'male' ? [4.35, 5.65] : [3.92, 5.13]),
  },
  hemoglobin: {
    code: loinc('718-7', 'Hemoglobin [Mass/volume] in Blood'),
    unit: 'g/dL',
    decimals: 1,
    range: (s: Sex) => (s === 'male' ? [13.2, 16.6] : [11.6, 15]),
  },
  hematocrit: {
    code: loinc('4544-3', 'Hematocrit [Volume Fraction] of Blood by Automated count'),
    unit: '%',
    decimals: 1,
    range: (s: Sex) => (s === 'male' ? [38.3, 48.6] : [35.5, 44.9]),
  },
  platelets: { code: loinc('777-3', 'Platelets [#/volume] in Blood by Automated count'), unit: '10*3/uL', decimals: 0, range: both(150, 400) },
  hba1c: { code: loinc('4548-4', 'Hemoglobin A1c/Hemoglobin.total in Blood'), unit: '%', decimals: 1, range: both(4, 5.6) },
  microalbumin: { code: loinc('14959-1', 'Microalbumin/Creatinine [Mass Ratio] in Urine'), unit: 'mg/g', decimals: 0, range: both(undefined, 30) },
  tsh: { code: loinc('3016-3', 'Thyrotropin [Units/volume] in Serum or Plasma'), unit: 'm[IU]/L', decimals: 2, range: both(0.4, 4.5) },
  psa: { code: loinc('2857-1', 'Prostate specific Ag [Mass/volume] in Serum or Plasma'), unit: 'ng/mL', decimals: 1, range: both(undefined, 4) },
  cea: { code: loinc('2039-6', 'Carcinoembryonic Ag [Mass/volume] in Serum or Plasma'), unit: 'ng/mL', decimals: 1, range: both(undefined, 3) },
  ca153: { code: loinc('6875-9', 'Cancer Ag 15-3 [Units/volume] in Serum or Plasma'), unit: 'U/mL', decimals: 0, range: both(undefined, 30) },
} as const satisfies Record<string, AnalyteDef>;

export type AnalyteKey = keyof typeof ANALYTE;

type SpecimenKind = 'serum' | 'blood' | 'urine';
const SPECIMEN_TYPE: Record<SpecimenKind, Code> = {
  serum: sct('119364003', 'Serum specimen (specimen)'),
  blood: sct('122555007', 'Venous blood specimen (specimen)'),
  urine: sct('122575003', 'Urine specimen (specimen)'),
};

interface PanelDef {
  readonly code: Code;
  readonly analytes: readonly AnalyteKey[];
  readonly specimen: SpecimenKind;
}

/** Orderable tests: a panel, or a single analyte reported on its own. */
export const PANEL = {
  bmp: {
    code: loinc('24321-2', 'Basic metabolic 2000 panel - Serum or Plasma'),
    analytes: ['glucose', 'bun', 'creatinine', 'egfr', 'sodium', 'potassium', 'chloride', 'co2', 'calcium'],
    specimen: 'serum',
  },
  lipid: {
    code: loinc('57698-3', 'Lipid panel with direct LDL - Serum or Plasma'),
    analytes: ['cholesterol', 'triglycerides', 'hdl', 'ldl'],
    specimen: 'serum',
  },
  cbc: { code: loinc('58410-2', 'CBC panel - Blood by Automated count'), analytes: ['wbc', 'rbc', 'hemoglobin', 'hematocrit', 'platelets'], specimen: 'blood' },
  hba1c: { code: ANALYTE.hba1c.code, analytes: ['hba1c'], specimen: 'blood' },
  glucose: { code: ANALYTE.glucose.code, analytes: ['glucose'], specimen: 'serum' },
  renal: { code: loinc('24362-6', 'Renal function 2000 panel - Serum or Plasma'), analytes: ['creatinine', 'egfr', 'bun', 'potassium'], specimen: 'serum' },
  microalbumin: { code: ANALYTE.microalbumin.code, analytes: ['microalbumin'], specimen: 'urine' },
  tsh: { code: ANALYTE.tsh.code, analytes: ['tsh'], specimen: 'serum' },
  psa: { code: ANALYTE.psa.code, analytes: ['psa'], specimen: 'serum' },
  cea: { code: ANALYTE.cea.code, analytes: ['cea'], specimen: 'serum' },
  ca153: { code: ANALYTE.ca153.code, analytes: ['ca153'], specimen: 'serum' },
} as const satisfies Record<string, PanelDef>;

export type PanelKey = keyof typeof PANEL;

const LAB_PROCEDURE = sct('108252007', 'Laboratory procedure (procedure)');
const LAB_SECTION = { system: SYSTEM.v2_0074, code: 'LAB', display: 'Laboratory' } as const;

/** CKD-EPI 2021 creatinine equation (race-free), mL/min/1.73 m². */
export function egfrFromCreatinine(creatinine: number, years: number, sex: Sex): number {
  const k = sex === 'female' ? 0.7 : 0.9;
  const a = sex === 'female' ? -0.241 : -0.302;
  const r = creatinine / k;
  return 142 * Math.min(r, 1) ** a * Math.max(r, 1) ** -1.2 * 0.9938 ** years * (sex === 'female' ? 1.012 : 1);
}

/** Creatinine that gives the wanted eGFR (inverse of the equation above, by bisection). */
export function creatinineForEgfr(egfr: number, years: number, sex: Sex): number {
  let lo = 0.2;
  let hi = 15;
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2;
    if (egfrFromCreatinine(mid, years, sex) > egfr) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

function interpretation(value: number, low: number | undefined, high: number | undefined): Code {
  if (high !== undefined && value > high) return INTERPRETATION.H;
  if (low !== undefined && value < low) return INTERPRETATION.L;
  return INTERPRETATION.N;
}

function referenceRange(def: AnalyteDef, sex: Sex): ObservationReferenceRange {
  const [low, high] = def.range(sex);
  const range: ObservationReferenceRange = {};
  if (low !== undefined) range.low = quantity(low, def.unit, def.unit, def.decimals);
  if (high !== undefined) range.high = quantity(high, def.unit, def.unit, def.decimals);
  range.text =
    low !== undefined && high !== undefined ? `${low}-${high} ${def.unit}` : low !== undefined ? `>=${low} ${def.unit}` : `<=${high ?? ''} ${def.unit}`;
  return range;
}

export interface LabResult {
  readonly report: DiagnosticReport;
  readonly observations: Observation[];
}

/**
 * Orders, collects and reports one test: ServiceRequest → Specimen → Observations → DiagnosticReport,
 * all bound to the visit. `values` gives each analyte of the panel.
 */
export function recordLab(chart: Chart, visit: Visit, panelKey: PanelKey, values: Readonly<Partial<Record<AnalyteKey, number>>>): LabResult {
  const panel: PanelDef = PANEL[panelKey];
  const sex = chart.person.sex;
  const ordered = toDateTime(visit.day, visit.start + 15);
  const collected = toDateTime(visit.day, visit.start + 25);
  const issued = toDateTime(visit.day, visit.start + 150);
  const requester = { reference: `Practitioner/${visit.practitioner.id}`, display: `Dr. ${visit.practitioner.given} ${visit.practitioner.family}` };
  const order: ServiceRequest = chart.add(
    {
      resourceType: 'ServiceRequest',
      id: chart.id('sr'),
      meta: { profile: [PROFILE.serviceRequest] },
      identifier: [{ system: SYSTEM.placerOrder, value: `ORD-${chart.rng.digits(9)}` }],
      status: 'completed',
      intent: 'order',
      category: [concept(LAB_PROCEDURE)],
      code: concept(panel.code),
      subject: chart.subject,
      encounter: visit.ref,
      occurrenceDateTime: collected,
      authoredOn: ordered,
      requester,
    },
    visit,
  );
  const specimen: Specimen = chart.add(
    {
      resourceType: 'Specimen',
      id: chart.id('spec'),
      meta: { profile: [PROFILE.specimen] },
      identifier: [{ system: SYSTEM.accession, value: `ACC-${chart.rng.digits(9)}` }],
      accessionIdentifier: { system: SYSTEM.accession, value: `A${chart.rng.digits(10)}` },
      status: 'available',
      type: concept(SPECIMEN_TYPE[panel.specimen]),
      subject: chart.subject,
      request: [{ reference: `ServiceRequest/${order.id ?? ''}` }],
      collection: { collectedDateTime: collected },
    },
    visit,
  );
  const observations: Observation[] = [];
  for (const key of panel.analytes) {
    const def: AnalyteDef = ANALYTE[key];
    const raw = values[key];
    if (raw === undefined) continue;
    const [low, high] = def.range(sex);
    const f = 10 ** def.decimals;
    const value = Math.round(raw * f) / f;
    const interp = interpretation(value, low, high);
    const obs: Observation = {
      resourceType: 'Observation',
      id: chart.id('obs'),
      meta: { profile: [PROFILE.lab] },
      basedOn: [{ reference: `ServiceRequest/${order.id ?? ''}` }],
      status: 'final',
      category: [{ coding: [coding(OBSERVATION_CATEGORY.laboratory)], text: 'Laboratory' }],
      code: concept(def.code),
      subject: chart.subject,
      encounter: visit.ref,
      effectiveDateTime: collected,
      issued,
      performer: [{ reference: `Organization/${ORG.hospital}` }],
      valueQuantity: quantity(value, def.unit, def.unit, def.decimals),
      interpretation: [{ coding: [coding(interp)], text: interp.display }],
      specimen: { reference: `Specimen/${specimen.id ?? ''}` },
      referenceRange: [referenceRange(def, sex)],
    };
    observations.push(chart.add(obs, visit));
  }
  const report: DiagnosticReport = chart.add(
    {
      resourceType: 'DiagnosticReport',
      id: chart.id('dr'),
      meta: { profile: [PROFILE.diagnosticReportLab] },
      basedOn: [{ reference: `ServiceRequest/${order.id ?? ''}` }],
      status: 'final',
      category: [{ coding: [coding(LAB_SECTION)], text: 'Laboratory' }],
      code: concept(panel.code),
      subject: chart.subject,
      encounter: visit.ref,
      effectiveDateTime: collected,
      issued,
      performer: [{ reference: `Organization/${ORG.hospital}`, display: 'Riverbend General Hospital Laboratory' }],
      resultsInterpreter: [requester],
      specimen: [{ reference: `Specimen/${specimen.id ?? ''}` }],
      result: observations.map((o) => ({ reference: `Observation/${o.id ?? ''}`, display: o.code?.text ?? '' })),
    },
    visit,
  );
  return { report, observations };
}
