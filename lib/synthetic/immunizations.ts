import type { Immunization } from '@medplum/fhirtypes';
import type { Chart, Visit } from './chart';
import { CVX, PROFILE, SYSTEM, concept, sct } from './codes';
import type { Code } from './codes';
import { toDateTime } from './dates';

type Vaccine = keyof typeof CVX;

/** Childhood schedule (CDC): vaccines due at a well-child visit, by age in months. */
const CHILD_SCHEDULE: readonly (readonly [number, readonly Vaccine[]])[] = [
  [0, ['hepB']],
  [2, ['hepB', 'dtap', 'ipv', 'hib', 'pcv13', 'rotavirus']],
  [4, ['dtap', 'ipv', 'hib', 'pcv13', 'rotavirus']],
  [6, ['hepB', 'dtap', 'ipv', 'pcv13', 'rotavirus']],
  [12, ['mmr', 'varicella', 'hepA', 'hib', 'pcv13']],
  [15, ['dtap']],
  [18, ['hepA']],
  [48, ['dtap', 'ipv', 'mmr', 'varicella']],
  [132, ['tdap', 'hpv9', 'mcv4']],
  [144, ['hpv9']],
  [192, ['mcv4']],
];

const INTRAMUSCULAR = sct('78421000', 'Intramuscular route (qualifier value)');
const ORAL = sct('26643006', 'Oral route (qualifier value)');
const SUBCUTANEOUS = sct('34206005', 'Subcutaneous route (qualifier value)');
const ROUTE: Partial<Record<Vaccine, Code>> = { rotavirus: ORAL, mmr: SUBCUTANEOUS, varicella: SUBCUTANEOUS };

/**
 * Vaccines due at a check-up given the age in months and what was already given: the childhood
 * series at its milestones, influenza every season from 6 months, Td every 10 years, zoster from
 * 50, pneumococcal at 65.
 */
export function vaccinesDue(months: number, given: ReadonlyMap<Vaccine, number>, day: number, lastFluDay: number | undefined, zosterDoses?: number): Vaccine[] {
  const due: Vaccine[] = [];
  for (const [at, list] of CHILD_SCHEDULE) {
    // A milestone is due at a visit within a few months after it (visits are not exactly on the birthday).
    if (months >= at && months < at + (at < 24 ? 2 : 12)) for (const v of list) due.push(v);
  }
  if (months >= 6 && (lastFluDay === undefined || day - lastFluDay > 300)) due.push('flu');
  const years = months / 12;
  if (years >= 21) {
    // Without a Td on file, the booster falls in the year the age ends in 1 (every 10 years).
    const lastTd = given.get('td');
    if (lastTd === undefined ? Math.floor(years) % 10 === 1 : day - lastTd > 3650) due.push('td');
  }
  if (years >= 50 && (zosterDoses ?? 0) < 2) due.push('zoster');
  if (years >= 65 && !given.has('ppsv23')) due.push('ppsv23');
  return due;
}

/** Records one administered vaccine (US Core Immunization). */
export function immunize(chart: Chart, visit: Visit, vaccine: Vaccine, minute: number): Immunization {
  const imm: Immunization = {
    ...offered(chart, visit, vaccine, minute, 'completed'),
    lotNumber: `${String.fromCharCode(65 + chart.rng.int(0, 25))}${chart.rng.digits(5)}`,
    route: concept(ROUTE[vaccine] ?? INTRAMUSCULAR),
    doseQuantity: { value: vaccine === 'rotavirus' ? 2 : 0.5, unit: 'mL', system: SYSTEM.ucum, code: 'mL' },
    performer: [
      {
        function: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0443', code: 'AP', display: 'Administering Provider' }] },
        actor: { reference: `Practitioner/${visit.practitioner.id}` },
      },
    ],
  };
  return chart.add(imm, visit);
}

/**
 * Records a vaccine the patient declined when it was offered (US Core Immunization with status
 * not-done and the reason).
 */
export function recordDeclinedImmunization(chart: Chart, visit: Visit, vaccine: Vaccine, minute: number): Immunization {
  const imm: Immunization = {
    ...offered(chart, visit, vaccine, minute, 'not-done'),
    statusReason: concept({ system: SYSTEM.actReason, code: 'PATOBJ', display: 'patient objection' }, 'Patient declined'),
  };
  return chart.add(imm, visit);
}

/** What every Immunization of a visit records, given or declined (US Core Immunization). */
function offered(chart: Chart, visit: Visit, vaccine: Vaccine, minute: number, status: Immunization['status']): Immunization {
  return {
    resourceType: 'Immunization',
    id: chart.id('imm'),
    meta: { profile: [PROFILE.immunization] },
    status,
    vaccineCode: concept(CVX[vaccine]),
    patient: chart.subject,
    encounter: visit.ref,
    occurrenceDateTime: toDateTime(visit.day, minute),
    recorded: toDateTime(visit.day, minute + 2),
    primarySource: true,
    location: { reference: `Location/${visit.practitioner.locationId}` },
  };
}

export type { Vaccine };
