import type { DiagnosticReport, DocumentReference, Media, Observation, Provenance, Reference, Resource } from '@medplum/fhirtypes';
import type { Chart, Visit } from './chart';
import { OBSERVATION_CATEGORY, PROFILE, SYSTEM, concept, coding, loinc } from './codes';
import type { Code } from './codes';
import { toDateTime } from './dates';

export const NOTE_TYPE = {
  progress: loinc('11506-3', 'Progress note'),
  consult: loinc('11488-4', 'Consult note'),
  discharge: loinc('18842-5', 'Discharge summary'),
  emergency: loinc('34111-5', 'Emergency department Note'),
  historyPhysical: loinc('34117-2', 'History and physical note'),
} as const;

const RADIOLOGY_IMPRESSION = {
  code: loinc('19005-8', 'Radiology Imaging study [Impression] (narrative)'),
  category: OBSERVATION_CATEGORY.imaging,
} as const;

/** Imaging and ECG studies: the report's code and category, and the code and category of its impression result. */
export const IMAGING = {
  chestXray: { code: loinc('36643-5', 'XR Chest 2 Views'), category: loinc('LP29684-5', 'Radiology'), result: RADIOLOGY_IMPRESSION },
  ecg: {
    code: loinc('11524-6', 'EKG study'),
    category: loinc('LP29708-2', 'Cardiology'),
    result: { code: loinc('8601-7', 'EKG impression'), category: OBSERVATION_CATEGORY.procedure },
  },
  mammogram: { code: loinc('24606-6', 'MG Breast Screening'), category: loinc('LP29684-5', 'Radiology'), result: RADIOLOGY_IMPRESSION },
  obUltrasound: { code: loinc('11525-3', 'US Pelvis Fetus for pregnancy'), category: loinc('LP29684-5', 'Radiology'), result: RADIOLOGY_IMPRESSION },
} as const;
export type ImagingKey = keyof typeof IMAGING;

const CLINICAL_NOTE = { system: SYSTEM.usCoreDocCategory, code: 'clinical-note', display: 'Clinical Note' } as const;

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** Clinical note of a visit as a US Core DocumentReference with a text/plain attachment. */
export function recordNote(chart: Chart, visit: Visit, type: Code, text: string): DocumentReference {
  const when = toDateTime(visit.endDay, visit.end + 10);
  const doc: DocumentReference = {
    resourceType: 'DocumentReference',
    id: chart.id('doc'),
    meta: { profile: [PROFILE.documentReference] },
    identifier: [{ system: 'urn:ietf:rfc:3986', value: `urn:uuid:${uuidFrom(chart, visit)}` }],
    status: 'current',
    docStatus: 'final',
    type: concept(type),
    category: [concept(CLINICAL_NOTE)],
    subject: chart.subject,
    date: when,
    author: [{ reference: `Practitioner/${visit.practitioner.id}`, display: `Dr. ${visit.practitioner.given} ${visit.practitioner.family}` }],
    custodian: { reference: `Organization/${visit.practitioner.organizationId}` },
    content: [
      {
        attachment: { contentType: 'text/plain; charset=utf-8', language: 'en-US', data: base64(text), title: type.display, creation: when },
        format: {
          system: 'http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode',
          code: 'urn:ihe:iti:xds:2017:mimeTypeSufficient',
          display: 'mimeType Sufficient',
        },
      },
    ],
    context: { encounter: [visit.ref], period: { start: toDateTime(visit.day, visit.start), end: toDateTime(visit.endDay, visit.end) } },
  };
  return chart.add(doc, visit);
}

/** Deterministic RFC 4122-shaped UUID drawn from the patient's stream. */
function uuidFrom(chart: Chart, _visit: Visit): string {
  const hex = (n: number): string => {
    let s = '';
    for (let i = 0; i < n; i++) s += Math.floor(chart.rng.next() * 16).toString(16);
    return s;
  };
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[chart.rng.int(0, 3)] ?? '8'}${hex(3)}-${hex(12)}`;
}

/**
 * Imaging or ECG report (US Core DiagnosticReport for Report and Note Exchange) with its narrative
 * as presentedForm and its impression as a result (US Core Observation Clinical Result).
 */
export function recordImagingReport(chart: Chart, visit: Visit, key: ImagingKey, impression: string): DiagnosticReport {
  const def = IMAGING[key];
  const text = `${def.code.display}\nDate: ${toDateTime(visit.day, visit.start + 40)}\n\nIMPRESSION:\n${impression}\n`;
  const result: Observation = chart.add(
    {
      resourceType: 'Observation',
      id: chart.id('obs'),
      meta: { profile: [PROFILE.clinicalResult] },
      status: 'final',
      category: [{ coding: [coding(def.result.category)], text: def.result.category.display }],
      code: concept(def.result.code),
      subject: chart.subject,
      encounter: visit.ref,
      effectiveDateTime: toDateTime(visit.day, visit.start + 40),
      issued: toDateTime(visit.day, visit.start + 100),
      performer: [{ reference: `Practitioner/${visit.practitioner.id}` }],
      valueString: impression,
    },
    visit,
  );
  const report: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    id: chart.id('dr'),
    meta: { profile: [PROFILE.diagnosticReportNote] },
    status: 'final',
    category: [concept(def.category)],
    code: concept(def.code),
    subject: chart.subject,
    encounter: visit.ref,
    effectiveDateTime: toDateTime(visit.day, visit.start + 40),
    issued: toDateTime(visit.day, visit.start + 100),
    performer: [{ reference: `Practitioner/${visit.practitioner.id}` }],
    result: [{ reference: `Observation/${result.id ?? ''}`, display: def.result.code.display }],
    conclusion: impression,
    presentedForm: [{ contentType: 'text/plain; charset=utf-8', language: 'en-US', data: base64(text), title: def.code.display }],
  };
  if (key === 'ecg') {
    // The rate the impression reads, else a normal one.
    const rate = Number(/(\d+) bpm/.exec(impression)?.[1] ?? 75);
    const tracing = recordTracing(chart, visit, rate, /fibrillation/i.test(impression), visit.start + 38);
    report.media = [{ comment: 'Rhythm strip, lead II', link: { reference: `Media/${tracing.id ?? ''}` } }];
  }
  return chart.add(report, visit);
}

/** RR intervals of atrial fibrillation, as fractions of the mean: irregularly irregular. */
const IRREGULAR_RR = [1, 0.78, 1.27, 0.9, 1.12, 0.74, 1.31, 0.95, 0.83, 1.18] as const;

/**
 * A rhythm strip drawn as SVG at `rate` beats per minute over six seconds (100 px a second):
 * P wave, QRS and T wave per beat in sinus rhythm; in atrial fibrillation no P wave, a fibrillating
 * baseline and irregular RR intervals.
 */
function rhythmStrip(rate: number, fibrillation: boolean): string {
  const width = 600;
  const mean = Math.max(25, Math.round((60 / rate) * 100));
  const points: string[] = [];
  for (let x = 0, beat = 0; x < width; beat++) {
    const next = x + (fibrillation ? Math.max(70, Math.round(mean * (IRREGULAR_RR[beat % IRREGULAR_RR.length] ?? 1))) : Math.max(70, mean));
    if (!fibrillation) points.push(`${x},60`, `${x + 8},56`, `${x + 14},60`);
    points.push(`${x + 22},60`, `${x + 25},66`, `${x + 28},15`, `${x + 31},72`, `${x + 34},60`, `${x + 50},60`, `${x + 58},52`, `${x + 66},60`);
    // Fibrillatory waves fill the baseline up to the next beat.
    if (fibrillation) for (let w = x + 72, up = true; w < next + 22; w += 6, up = !up) points.push(`${w},${up ? 58 : 62}`);
    x = next;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="100" viewBox="0 0 ${width} 100"><polyline fill="none" stroke="black" stroke-width="1.5" points="${points.join(' ')}"/></svg>`;
}

/** The ECG tracing a report was read from (base R4 Media: US Core 6.1.0 does not profile it). */
function recordTracing(chart: Chart, visit: Visit, rate: number, fibrillation: boolean, minute: number): Media {
  return chart.add(
    {
      resourceType: 'Media',
      id: chart.id('media'),
      meta: { profile: [PROFILE.media] },
      status: 'completed',
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/media-type', code: 'image', display: 'Image' }], text: 'Image' },
      modality: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'ECG', display: 'Electrocardiography' }], text: 'ECG' },
      subject: chart.subject,
      encounter: visit.ref,
      createdDateTime: toDateTime(visit.day, minute),
      issued: toDateTime(visit.day, minute + 1),
      operator: { reference: `Practitioner/${visit.practitioner.id}` },
      content: {
        contentType: 'image/svg+xml',
        data: base64(rhythmStrip(rate, fibrillation)),
        title: 'Rhythm strip, lead II',
        creation: toDateTime(visit.day, minute),
      },
    },
    visit,
  );
}

/** US Core Provenance: the practitioner authored, on behalf of the organization, what the visit produced. */
export function recordProvenance(chart: Chart, visit: Visit): Provenance {
  const target: Reference[] = visit.produced.map((r) => ({ reference: `${r.resourceType}/${r.id ?? ''}` }));
  const prov: Provenance = {
    resourceType: 'Provenance',
    id: chart.id('prov'),
    meta: { profile: [PROFILE.provenance] },
    target,
    recorded: toDateTime(visit.endDay, visit.end + 15),
    agent: [
      {
        type: { coding: [{ system: SYSTEM.provenanceParticipant, code: 'author', display: 'Author' }], text: 'Author' },
        who: { reference: `Practitioner/${visit.practitioner.id}`, display: `Dr. ${visit.practitioner.given} ${visit.practitioner.family}` },
        onBehalfOf: { reference: `Organization/${visit.practitioner.organizationId}` },
      },
    ],
  };
  return chart.add(prov);
}

/**
 * US Core Provenance of what no visit produced (registration, insurance, the care team, a
 * minor's parent, pharmacy fills): the organization that keeps them authored them; `transmitted`
 * when it also sent them to the clinic (the pharmacy's fill reports).
 */
export function recordOrganizationProvenance(
  chart: Chart,
  targets: readonly Resource[],
  organization: { id: string; name: string },
  recorded: string,
  opts: { transmitted?: boolean } = {},
): Provenance {
  const prov: Provenance = {
    resourceType: 'Provenance',
    id: chart.id('prov'),
    meta: { profile: [PROFILE.provenance] },
    target: targets.map((r) => ({ reference: `${r.resourceType}/${r.id ?? ''}` })),
    recorded,
    agent: [
      {
        type: { coding: [{ system: SYSTEM.provenanceParticipant, code: 'author', display: 'Author' }], text: 'Author' },
        who: { reference: `Organization/${organization.id}`, display: organization.name },
      },
    ],
  };
  // An organization that sent its records to the clinic is also their transmitter (US Core 6.1 §basic-provenance).
  if (opts.transmitted) {
    prov.agent.push({
      type: { coding: [{ system: SYSTEM.usCoreProvenanceParticipant, code: 'transmitter', display: 'Transmitter' }], text: 'Transmitter' },
      who: { reference: `Organization/${organization.id}`, display: organization.name },
    });
  }
  return chart.add(prov);
}
