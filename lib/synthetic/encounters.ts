import type { Encounter } from '@medplum/fhirtypes';
import type { Chart, Visit } from './chart';
import { ENCOUNTER_CLASS, PROFILE, SYSTEM, concept, coding } from './codes';
import type { Code } from './codes';
import { toDateTime } from './dates';
import type { StaffMember } from './shared';

export type VisitClass = keyof typeof ENCOUNTER_CLASS;

export interface VisitSpec {
  readonly day: number;
  readonly start: number;
  readonly minutes: number;
  /** Inpatient stays last several days. */
  readonly nights?: number;
  readonly cls: VisitClass;
  readonly type: Code;
  readonly practitioner: StaffMember;
  readonly locationId: string;
  readonly reason?: Code;
  /** Discharge disposition of an inpatient stay (e.g. expired). */
  readonly discharge?: 'home' | 'expired';
}

/** Opens a finished US Core Encounter and returns the visit the clinical modules fill. */
export function openVisit(chart: Chart, spec: VisitSpec): Visit {
  const id = chart.id('enc');
  const endDay = spec.day + (spec.nights ?? 0);
  const end = spec.nights ? 10 * 60 + 30 + chart.rng.int(0, 360) : spec.start + spec.minutes;
  const performer = `Dr. ${spec.practitioner.given} ${spec.practitioner.family}`;
  const encounter: Encounter = {
    resourceType: 'Encounter',
    id,
    meta: { profile: [PROFILE.encounter] },
    identifier: [{ system: SYSTEM.encounterId, value: id }],
    status: 'finished',
    class: coding(ENCOUNTER_CLASS[spec.cls]),
    type: [concept(spec.type)],
    subject: chart.subject,
    participant: [
      {
        type: [{ coding: [{ system: SYSTEM.participationType, code: 'PPRF', display: 'primary performer' }], text: 'primary performer' }],
        period: { start: toDateTime(spec.day, spec.start), end: toDateTime(endDay, end) },
        individual: { reference: `Practitioner/${spec.practitioner.id}`, display: performer },
      },
    ],
    period: { start: toDateTime(spec.day, spec.start), end: toDateTime(endDay, end) },
    location: [{ location: { reference: `Location/${spec.locationId}` }, status: 'completed' }],
    serviceProvider: { reference: `Organization/${spec.practitioner.organizationId}` },
  };
  if (spec.reason) encounter.reasonCode = [concept(spec.reason)];
  if (spec.cls === 'IMP') {
    encounter.hospitalization = {
      dischargeDisposition:
        spec.discharge === 'expired'
          ? { coding: [{ system: SYSTEM.dischargeDisposition, code: 'exp', display: 'Expired' }], text: 'Expired' }
          : { coding: [{ system: SYSTEM.dischargeDisposition, code: 'home', display: 'Home' }], text: 'Home' },
    };
  }
  const visit: Visit = {
    encounter,
    ref: { reference: `Encounter/${id}` },
    day: spec.day,
    start: spec.start,
    endDay,
    end,
    practitioner: spec.practitioner,
    produced: [],
  };
  chart.add(encounter, visit);
  return visit;
}
