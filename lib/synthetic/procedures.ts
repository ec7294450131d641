import type { Condition, Device, Procedure, Reference } from '@medplum/fhirtypes';
import type { Chart, Visit } from './chart';
import { PROFILE, concept, sct } from './codes';
import type { Code } from './codes';
import { toDate, toDateTime } from './dates';

export const PROCEDURE = {
  spirometry: sct('127783003', 'Spirometry (procedure)'),
  chestXray: sct('399208008', 'Plain chest X-ray (procedure)'),
  ecg: sct('29303009', 'Electrocardiographic procedure (procedure)'),
  mammography: sct('71651007', 'Mammography (procedure)'),
  colonoscopy: sct('73761001', 'Colonoscopy (procedure)'),
  eyeExam: sct('36228007', 'Ophthalmic examination and evaluation (procedure)'),
  depressionScreening: sct('171207006', 'Depression screening (procedure)'),
  medicationReconciliation: sct('430193006', 'Medication reconciliation (procedure)'),
  coronaryStent: sct('36969009', 'Placement of stent in coronary artery (procedure)'),
  pacemaker: sct('307280005', 'Implantation of cardiac pacemaker (procedure)'),
  chemotherapy: sct('367336001', 'Chemotherapy (procedure)'),
  biopsy: sct('86273004', 'Biopsy (procedure)'),
  obUltrasound: sct('268445003', 'Ultrasound scan - obstetric (procedure)'),
  delivery: sct('236973005', 'Delivery procedure (procedure)'),
  appendectomy: sct('80146002', 'Appendectomy (procedure)'),
} as const;

/** Records a completed procedure (US Core Procedure) at a visit. */
export function recordProcedure(
  chart: Chart,
  visit: Visit,
  code: Code,
  opts: { minutes?: number; reason?: Reference<Condition>; offset?: number } = {},
): Procedure {
  const start = visit.start + (opts.offset ?? 20);
  const proc: Procedure = {
    resourceType: 'Procedure',
    id: chart.id('proc'),
    meta: { profile: [PROFILE.procedure] },
    status: 'completed',
    code: concept(code),
    subject: chart.subject,
    encounter: visit.ref,
    performedPeriod: { start: toDateTime(visit.day, start), end: toDateTime(visit.day, start + (opts.minutes ?? 15)) },
    performer: [{ actor: { reference: `Practitioner/${visit.practitioner.id}` } }],
    location: { reference: `Location/${visit.practitioner.locationId}` },
  };
  if (opts.reason) proc.reasonReference = [opts.reason];
  return chart.add(proc, visit);
}

const DEVICES = {
  stent: {
    type: sct('705643001', 'Coronary artery stent (physical object)'),
    name: 'Drug-eluting coronary stent system',
    manufacturer: 'Riverbend Medical Devices',
    di: '0884521',
  },
  pacemaker: {
    type: sct('14106009', 'Cardiac pacemaker, device (physical object)'),
    name: 'Dual-chamber implantable pacemaker',
    manufacturer: 'Riverbend Medical Devices',
    di: '0884522',
  },
} as const;

/** GS1 check digit of a 13-digit GTIN body. */
function gs1Check(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum += Number(body[body.length - 1 - i]) * (i % 2 === 0 ? 3 : 1);
  return String((10 - (sum % 10)) % 10);
}

/** Implanted device with its UDI (US Core Implantable Device), linked from the implant procedure. */
export function implantDevice(chart: Chart, visit: Visit, kind: keyof typeof DEVICES, procedure: Procedure): Device {
  const def = DEVICES[kind];
  const rng = chart.rng;
  const gtinBody = `0${def.di}${rng.digits(5)}`;
  const di = gtinBody + gs1Check(gtinBody);
  const manufactured = visit.day - rng.int(60, 400);
  const expires = visit.day + rng.int(365, 1400);
  const lot = `L${rng.digits(6)}`;
  const serial = `SN${rng.digits(8)}`;
  const yymmdd = (day: number): string => toDate(day).slice(2).replace(/-/g, '');
  const device: Device = {
    resourceType: 'Device',
    id: chart.id('dev'),
    meta: { profile: [PROFILE.implantableDevice] },
    udiCarrier: [
      {
        deviceIdentifier: di,
        issuer: 'http://hl7.org/fhir/NamingSystem/gs1-di',
        jurisdiction: 'http://hl7.org/fhir/NamingSystem/fda-udi',
        carrierHRF: `(01)${di}(11)${yymmdd(manufactured)}(17)${yymmdd(expires)}(10)${lot}(21)${serial}`,
        entryType: 'barcode',
      },
    ],
    distinctIdentifier: serial,
    status: chart.alive ? 'active' : 'inactive',
    manufacturer: def.manufacturer,
    manufactureDate: toDate(manufactured),
    expirationDate: toDate(expires),
    lotNumber: lot,
    serialNumber: serial,
    deviceName: [{ name: def.name, type: 'user-friendly-name' }],
    type: concept(def.type),
    patient: chart.subject,
  };
  chart.add(device, visit);
  procedure.focalDevice = [
    { action: concept(sct('129338005', 'Surgical implantation - action (qualifier value)')), manipulated: { reference: `Device/${device.id ?? ''}` } },
  ];
  return device;
}
