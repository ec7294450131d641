import type { Observation, ObservationComponent, Quantity } from '@medplum/fhirtypes';
import type { Chart, Visit } from './chart';
import { DATA_ABSENT, OBSERVATION_CATEGORY, PROFILE, SYSTEM, concept, coding, loinc } from './codes';
import type { Code } from './codes';
import { toDateTime } from './dates';
import { adultBmi, bmiPercentile, childWeightKg, headCm, headPercentile, heightCm, weightForLengthPercentile } from './growth';

export const VITAL = {
  panel: loinc('85353-1', 'Vital signs, weight, height, head circumference, oxygen saturation and BMI panel'),
  bpPanel: loinc('85354-9', 'Blood pressure panel with all children optional'),
  systolic: loinc('8480-6', 'Systolic blood pressure'),
  diastolic: loinc('8462-4', 'Diastolic blood pressure'),
  heartRate: loinc('8867-4', 'Heart rate'),
  respiratoryRate: loinc('9279-1', 'Respiratory rate'),
  temperature: loinc('8310-5', 'Body temperature'),
  weight: loinc('29463-7', 'Body weight'),
  height: loinc('8302-2', 'Body height'),
  bmi: loinc('39156-5', 'Body mass index (BMI) [Ratio]'),
  spo2: loinc('59408-5', 'Oxygen saturation in Arterial blood by Pulse oximetry'),
  spo2Generic: loinc('2708-6', 'Oxygen saturation in Arterial blood'),
  headCircumference: loinc('9843-4', 'Head Occipital-frontal circumference'),
  bmiPercentile: loinc('59576-9', 'Body mass index (BMI) [Percentile] Per age and sex'),
  weightForLength: loinc('77606-2', 'Weight-for-length Per age and sex'),
  headPercentile: loinc('8289-1', 'Head Occipital-frontal circumference Percentile'),
  oxygenFlowRate: loinc('3151-8', 'Inhaled oxygen flow rate'),
  oxygenConcentration: loinc('3150-0', 'Inhaled oxygen concentration'),
} as const;

export function quantity(value: number, unit: string, code = unit, decimals = 1): Quantity {
  const f = 10 ** decimals;
  return { value: Math.round(value * f) / f, unit, system: SYSTEM.ucum, code };
}

/** Which vital signs to take: the full set at check-ups, a focused set at follow-ups. */
export type VitalsScope = 'full' | 'focused';

/** The physiological state vitals are drawn from at one visit. */
export interface VitalsState {
  hypertension: 'none' | 'untreated' | 'treated';
  respiratory: 'none' | 'chronic' | 'acute';
  fever: boolean;
  /** kg added to the adult weight (pregnancy). */
  extraWeightKg: number;
}

function vitalObservation(chart: Chart, visit: Visit, profile: string, code: Code, minute: number, codings: Code[] = [code]): Observation {
  return {
    resourceType: 'Observation',
    id: chart.id('obs'),
    meta: { profile: [profile] },
    status: 'final',
    category: [{ coding: [coding(OBSERVATION_CATEGORY.vitalSigns)], text: 'Vital Signs' }],
    code: { coding: codings.map(coding), text: code.display },
    subject: chart.subject,
    encounter: visit.ref,
    effectiveDateTime: toDateTime(visit.day, minute),
    performer: [{ reference: `Practitioner/${visit.practitioner.id}` }],
  };
}

/** Body measurements for the age: growth-chart values for children, BMI-driven weight for adults. */
export function bodySize(chart: Chart, day: number, extraWeightKg: number): { heightCm: number; weightKg: number } {
  const { sex, zHeight, zWeight } = chart.person;
  const months = Math.max(0, chart.ageMonths(day));
  const h = heightCm(sex, Math.min(months, 240), zHeight);
  if (months < 240) return { heightCm: h, weightKg: childWeightKg(sex, months, zWeight) };
  const bmi = adultBmi(sex, months / 12, zWeight);
  return { heightCm: h, weightKg: bmi * (h / 100) ** 2 + extraWeightKg };
}

/**
 * Records the vital signs of one visit. Infants get length, weight, head circumference and
 * their percentiles (no blood pressure, BMI or oximetry); children 2–19 get BMI-for-age; blood
 * pressure starts at 3 years, as pediatric guidelines do. A full set ends with the panel that groups it.
 */
export function recordVitals(chart: Chart, visit: Visit, state: VitalsState, scope: VitalsScope): Observation[] {
  const rng = chart.rng;
  const { sex } = chart.person;
  const months = chart.ageMonths(visit.day);
  const years = months / 12;
  let minute = visit.start + 5;
  const out: Observation[] = [];
  const push = (o: Observation): void => {
    out.push(chart.add(o, visit));
  };
  const size = bodySize(chart, visit.day, state.extraWeightKg);
  // Scales and stadiometers are not perfect: ±1% weight, ±0.5 cm height.
  const weightKg = size.weightKg * (1 + rng.normal(0, 0.01));
  const heightCmValue = size.heightCm + rng.normal(0, 0.3);

  if (years >= 3) {
    let sys: number;
    let dia: number;
    if (years < 13) {
      sys = rng.normal(100 + years, 6);
      dia = rng.normal(62, 5);
    } else if (state.hypertension === 'untreated') {
      sys = rng.normal(152, 7);
      dia = rng.normal(94, 5);
    } else if (state.hypertension === 'treated') {
      sys = rng.normal(132, 6);
      dia = rng.normal(82, 4);
    } else {
      sys = rng.normal(Math.min(128, 108 + 0.3 * Math.max(0, years - 18)), 7);
      dia = rng.normal(Math.min(82, 70 + 0.15 * Math.max(0, years - 18)), 5);
    }
    sys = Math.round(sys);
    dia = Math.round(Math.min(dia, sys - 25));
    const bp = vitalObservation(chart, visit, PROFILE.bloodPressure, VITAL.bpPanel, minute);
    const component = (c: Code, v: number): ObservationComponent => ({ code: concept(c), valueQuantity: quantity(v, 'mm[Hg]', 'mm[Hg]', 0) });
    bp.component = [component(VITAL.systolic, sys), component(VITAL.diastolic, dia)];
    if (sys >= 140 || dia >= 90) bp.interpretation = [{ coding: [{ system: SYSTEM.interpretation, code: 'H', display: 'High' }], text: 'High' }];
    push(bp);
  }

  const hrMean = years < 1 ? 135 : years < 3 ? 115 : years < 12 ? 90 : 74;
  const hr = vitalObservation(chart, visit, PROFILE.heartRate, VITAL.heartRate, minute);
  hr.valueQuantity = quantity(rng.normal(hrMean + (state.fever ? 12 : 0), years < 3 ? 10 : 7), '/min', '/min', 0);
  push(hr);

  if (scope === 'full' || state.respiratory !== 'none' || state.fever) {
    const rrMean = years < 1 ? 38 : years < 3 ? 28 : years < 12 ? 21 : 15;
    const rr = vitalObservation(chart, visit, PROFILE.respiratoryRate, VITAL.respiratoryRate, minute);
    rr.valueQuantity = quantity(rng.normal(rrMean + (state.respiratory === 'acute' ? 5 : 0), years < 3 ? 4 : 2), '/min', '/min', 0);
    push(rr);
    const t = vitalObservation(chart, visit, PROFILE.bodyTemperature, VITAL.temperature, minute);
    t.valueQuantity = quantity(state.fever ? rng.float(38.1, 39.3) : rng.normal(36.8, 0.25), 'Cel', 'Cel', 1);
    push(t);
  }

  minute += 3;
  const w = vitalObservation(chart, visit, PROFILE.bodyWeight, VITAL.weight, minute);
  w.valueQuantity = quantity(weightKg, 'kg', 'kg', years < 2 ? 2 : 1);
  push(w);
  if (scope === 'full' || years < 20) {
    const h = vitalObservation(chart, visit, PROFILE.bodyHeight, VITAL.height, minute);
    h.valueQuantity = quantity(heightCmValue, 'cm', 'cm', 1);
    push(h);
  }

  if (years < 2) {
    const hcValue = headCm(sex, months, chart.person.zHead) + rng.normal(0, 0.2);
    const hc = vitalObservation(chart, visit, PROFILE.headCircumference, VITAL.headCircumference, minute);
    hc.valueQuantity = quantity(hcValue, 'cm', 'cm', 1);
    push(hc);
    const hcp = vitalObservation(chart, visit, PROFILE.headCircumferencePercentile, VITAL.headPercentile, minute);
    hcp.valueQuantity = quantity(headPercentile(sex, months, hcValue), '%', '%', 1);
    push(hcp);
    const wfl = vitalObservation(chart, visit, PROFILE.pediatricWeightForLength, VITAL.weightForLength, minute);
    wfl.valueQuantity = quantity(weightForLengthPercentile(sex, heightCmValue, weightKg), '%', '%', 1);
    push(wfl);
  } else {
    const bmiValue = weightKg / (heightCmValue / 100) ** 2;
    const bmi = vitalObservation(chart, visit, PROFILE.bmi, VITAL.bmi, minute);
    bmi.valueQuantity = quantity(bmiValue, 'kg/m2', 'kg/m2', 1);
    push(bmi);
    if (years < 20) {
      const p = vitalObservation(chart, visit, PROFILE.pediatricBmi, VITAL.bmiPercentile, minute);
      p.valueQuantity = quantity(bmiPercentile(sex, months, bmiValue), '%', '%', 1);
      push(p);
    }
  }

  if (years >= 2 && (scope === 'full' || state.respiratory !== 'none')) {
    const spo2 = vitalObservation(chart, visit, PROFILE.pulseOximetry, VITAL.spo2, minute, [VITAL.spo2, VITAL.spo2Generic]);
    const mean = state.respiratory === 'acute' ? 92 : state.respiratory === 'chronic' ? 93.5 : 98;
    spo2.valueQuantity = quantity(Math.min(100, rng.normal(mean, 1.2)), '%', '%', 0);
    // With lung disease the oxygen breathed is part of the reading: room air (21 %, no flow), or
    // 2 L/min by nasal cannula when the saturation is low, whose concentration is not measured.
    if (state.respiratory !== 'none') {
      const onOxygen = (spo2.valueQuantity.value ?? 100) < 92;
      spo2.component = onOxygen
        ? [
            { code: concept(VITAL.oxygenFlowRate), valueQuantity: quantity(2, 'L/min', 'L/min', 0) },
            { code: concept(VITAL.oxygenConcentration), dataAbsentReason: concept(DATA_ABSENT.unknown) },
          ]
        : [
            { code: concept(VITAL.oxygenFlowRate), dataAbsentReason: concept(DATA_ABSENT.notApplicable) },
            { code: concept(VITAL.oxygenConcentration), valueQuantity: quantity(21, '%', '%', 0) },
          ];
    }
    push(spo2);
  }
  // The full set is also filed as one vital signs panel whose members are the measurements
  // (US Core Vital Signs: the generic profile, for a vital sign no specific profile covers).
  if (scope === 'full') {
    const panel = vitalObservation(chart, visit, PROFILE.vitalSigns, VITAL.panel, visit.start + 5);
    panel.hasMember = out.map((o) => ({ reference: `Observation/${o.id ?? ''}` }));
    push(panel);
  }
  return out;
}
