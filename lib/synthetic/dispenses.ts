import type { MedicationDispense, MedicationRequest, Resource } from '@medplum/fhirtypes';
import type { Chart } from './chart';
import { PROFILE, SYSTEM } from './codes';
import { parseDay, toDateTime } from './dates';
import { MEDICATIONS, medicationId, supplyQuantity } from './medications';
import type { MedicationDef, MedicationKey } from './medications';
import { ORG } from './shared';

const FIRST_FILL = { system: SYSTEM.actCode, code: 'FF', display: 'First Fill' } as const;
const REFILL = { system: SYSTEM.actCode, code: 'RF', display: 'Refill' } as const;
/** Pharmacy counter hours in UTC (early afternoon in the clinic's time zone). */
const HANDED_OVER_MINUTE = 18 * 60;

const BY_MEDICATION_ID = new Map<string, MedicationDef>(
  Object.values(MEDICATIONS).map((m): [string, MedicationDef] => [medicationId(m.key as MedicationKey), m]),
);

/**
 * The pharmacy fills of every prescription in a record (US Core MedicationDispense): the first
 * fill on the day it was written, then a refill each supply period while the prescription is
 * valid, not replaced by a renewal, and the patient alive, never after the record's last day.
 */
export function recordDispenses(chart: Chart): MedicationDispense[] {
  const requests = chart.resources.filter((r: Resource): r is MedicationRequest => r.resourceType === 'MedicationRequest');
  const renewedOn = new Map<string, number>();
  for (const mr of requests) {
    const prior = mr.priorPrescription?.reference;
    const start = mr.dispenseRequest?.validityPeriod?.start;
    if (prior && start) renewedOn.set(prior, parseDay(start));
  }
  const out: MedicationDispense[] = [];
  for (const mr of requests) {
    if (mr.status === 'entered-in-error' || mr.status === 'cancelled' || mr.status === 'draft') continue;
    const id = mr.medicationReference?.reference?.replace(/^Medication\//, '') ?? '';
    const med = BY_MEDICATION_ID.get(id);
    const period = mr.dispenseRequest?.validityPeriod;
    const supplyDays = mr.dispenseRequest?.expectedSupplyDuration?.value;
    if (!med || !period?.start || !period.end || !supplyDays) continue;
    const first = parseDay(period.start);
    const renewal = renewedOn.get(`MedicationRequest/${mr.id ?? ''}`);
    // Nothing is dated after death: the last fill is the day before it.
    const lastDay = chart.alive ? chart.lastDay : chart.lastDay - 1;
    const last = Math.min(parseDay(period.end) - 1, renewal !== undefined ? renewal - 1 : Infinity, lastDay);
    const fills = 1 + (mr.dispenseRequest?.numberOfRepeatsAllowed ?? 0);
    const quantity = supplyQuantity(med, supplyDays);
    for (let n = 0; n < fills; n++) {
      const day = first + n * supplyDays;
      if (day > last && n > 0) break;
      if (day > lastDay) break;
      const handedOver = toDateTime(day, HANDED_OVER_MINUTE);
      const dispense: MedicationDispense = {
        resourceType: 'MedicationDispense',
        id: chart.id('md'),
        meta: { profile: [PROFILE.medicationDispense] },
        identifier: [{ system: SYSTEM.prescriptionNumber, value: `${mr.id ?? ''}-${n}` }],
        status: 'completed',
        medicationReference: { reference: `Medication/${id}`, display: med.code.display },
        subject: chart.subject,
        performer: [{ actor: { reference: `Organization/${ORG.pharmacy}`, display: 'Riverbend Community Pharmacy' } }],
        authorizingPrescription: [{ reference: `MedicationRequest/${mr.id ?? ''}` }],
        type: { coding: [n === 0 ? FIRST_FILL : REFILL], text: n === 0 ? 'First fill' : 'Refill' },
        quantity: { value: quantity, unit: med.doseUnit, system: SYSTEM.ucum, code: med.doseUcum },
        daysSupply: { value: supplyDays, unit: 'days', system: SYSTEM.ucum, code: 'd' },
        whenPrepared: toDateTime(day, HANDED_OVER_MINUTE - 45),
        whenHandedOver: handedOver,
        dosageInstruction: structuredClone(mr.dosageInstruction ?? []),
      };
      if (n === 0 && mr.encounter) dispense.context = mr.encounter;
      out.push(chart.add(dispense));
    }
  }
  return out;
}
