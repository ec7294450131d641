import type { Condition, MedicationRequest, Observation, Reference } from '@medplum/fhirtypes';
import type { Chart, Visit } from './chart';
import { PROFILE, SYSTEM } from './codes';
import { toDate, toDateTime } from './dates';
import { MEDICATIONS, medicationId, supplyQuantity, toDosage } from './medications';
import type { MedicationKey } from './medications';

const COMMUNITY = { system: SYSTEM.medicationRequestCategory, code: 'community', display: 'Community' } as const;
const OUTPATIENT = { system: SYSTEM.medicationRequestCategory, code: 'outpatient', display: 'Outpatient' } as const;

/**
 * Prescribes a catalog medication at a visit. Long-term medications are written for a year as a
 * 90-day supply with three refills (renewed at a later visit with `priorPrescription`); short
 * courses for their course length, filled once.
 * The validity period never runs past death, and the status follows from the period: a course
 * that ended before the anchor is completed, one cut short by death is stopped.
 */
export function prescribe(
  chart: Chart,
  visit: Visit,
  key: MedicationKey,
  opts: { reason?: Reference<Condition | Observation>; prior?: MedicationRequest; stopDay?: number } = {},
): MedicationRequest {
  const med = MEDICATIONS[key];
  const courseDays: number = 'courseDays' in med ? med.courseDays : 365;
  const supplyDays = courseDays < 365 ? courseDays : 90;
  const naturalEnd = visit.day + courseDays;
  // A prescription may run past the anchor date (it is still valid today), never past death.
  const endDay = Math.min(naturalEnd, opts.stopDay ?? Infinity, chart.alive ? Infinity : chart.lastDay);
  const stoppedByDeath = !chart.alive && naturalEnd > chart.lastDay;
  const status: MedicationRequest['status'] = stoppedByDeath ? 'stopped' : endDay < chart.anchorDay || opts.stopDay !== undefined ? 'completed' : 'active';
  const mr: MedicationRequest = {
    resourceType: 'MedicationRequest',
    id: chart.id('mr'),
    meta: { profile: [PROFILE.medicationRequest] },
    status,
    intent: 'order',
    category: [{ coding: [courseDays < 365 ? OUTPATIENT : COMMUNITY], text: courseDays < 365 ? 'Outpatient' : 'Community' }],
    reportedBoolean: false,
    medicationReference: { reference: `Medication/${medicationId(key)}`, display: med.code.display },
    subject: chart.subject,
    encounter: visit.ref,
    authoredOn: toDateTime(visit.day, visit.start + 25),
    requester: { reference: `Practitioner/${visit.practitioner.id}`, display: `Dr. ${visit.practitioner.given} ${visit.practitioner.family}` },
    dosageInstruction: [toDosage(med)],
    dispenseRequest: {
      validityPeriod: { start: toDate(visit.day), end: toDate(endDay) },
      numberOfRepeatsAllowed: courseDays < 365 ? 0 : 3,
      quantity: { value: supplyQuantity(med, supplyDays), unit: med.doseUnit, system: SYSTEM.ucum, code: med.doseUcum },
      expectedSupplyDuration: { value: supplyDays, unit: 'days', system: SYSTEM.ucum, code: 'd' },
    },
  };
  if (opts.reason) mr.reasonReference = [opts.reason];
  if (opts.prior) mr.priorPrescription = { reference: `MedicationRequest/${opts.prior.id ?? ''}` };
  return chart.add(mr, visit);
}
