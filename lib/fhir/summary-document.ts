/**
 * The summary document `DocumentReference/$docref` generates on demand (US Core 6.1
 * OperationDefinition-docref: "If no parameters are specified, the server SHALL return a
 * DocumentReference to the patient's current C-CDA CCD"). It is a FHIR document Bundle shaped
 * like a CCD (Composition of LOINC 34133-9 "Summary of episode note" with the CCD's sections),
 * holding the patient and the section entries the caller's token may search, attached inline
 * (base64 `data`) to a US Core DocumentReference. Pure: the router reads the resources, each
 * section under the token's policy for its type.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Bundle, Composition, CompositionSection, DocumentReference, Patient, Resource } from '@medplum/fhirtypes';

const LOINC = 'http://loinc.org';

/** The document type generated: C-CDA Clinical Summary of Care (CCD), LOINC 34133-9. */
export const SUMMARY_TYPE = { system: LOINC, code: '34133-9', display: 'Summary of episode note' } as const;

/** At most this many entries per section, the most recent first. */
export const SECTION_ENTRIES = 50;

/** One section of the summary: what it holds and how its entries are searched. */
export interface SummarySection {
  /** LOINC section code (C-CDA R2.1 CCD sections). */
  code: string;
  title: string;
  type: string;
  /** Search criteria narrowing the type to the section (besides the patient). */
  criteria: [string, string][];
  /** The type's date parameter: the sort key, and what start and end narrow. */
  date: string;
}

/** The CCD's sections (C-CDA R2.1 Continuity of Care Document), each from the US Core type that records it. */
export const SUMMARY_SECTIONS: readonly SummarySection[] = [
  { code: '48765-2', title: 'Allergies and Intolerances', type: 'AllergyIntolerance', criteria: [], date: 'date' },
  { code: '11450-4', title: 'Problems', type: 'Condition', criteria: [], date: 'onset-date' },
  { code: '10160-0', title: 'Medications', type: 'MedicationRequest', criteria: [], date: 'authoredon' },
  { code: '11369-6', title: 'Immunizations', type: 'Immunization', criteria: [], date: 'date' },
  { code: '47519-4', title: 'Procedures', type: 'Procedure', criteria: [], date: 'date' },
  {
    code: '30954-2',
    title: 'Results',
    type: 'Observation',
    criteria: [['category', 'http://terminology.hl7.org/CodeSystem/observation-category|laboratory']],
    date: 'date',
  },
  {
    code: '8716-3',
    title: 'Vital Signs',
    type: 'Observation',
    criteria: [['category', 'http://terminology.hl7.org/CodeSystem/observation-category|vital-signs']],
    date: 'date',
  },
  {
    code: '29762-2',
    title: 'Social History',
    type: 'Observation',
    criteria: [['category', 'http://terminology.hl7.org/CodeSystem/observation-category|social-history']],
    date: 'date',
  },
  { code: '46240-8', title: 'Encounters', type: 'Encounter', criteria: [], date: 'date' },
];

/** What the router found for one section: its entries, or null when the token may not search the type. */
export interface SectionContent {
  section: SummarySection;
  resources: Resource[] | null;
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

type Obj = Record<string, unknown>;

function conceptText(value: unknown): string | null {
  if (!value || typeof value !== 'object') return null;
  const cc = value as { text?: string; coding?: { display?: string; code?: string }[] };
  return cc.text ?? cc.coding?.find((c) => c.display)?.display ?? cc.coding?.[0]?.code ?? null;
}

/** A one-line description of a resource for the section narrative: what it is and when. */
function labelOf(resource: Resource): string {
  const r = resource as unknown as Obj;
  const what =
    conceptText(r.code) ??
    conceptText(r.vaccineCode) ??
    conceptText(r.medicationCodeableConcept) ??
    conceptText((r.type as unknown[] | undefined)?.[0]) ??
    (r.medicationReference as { display?: string } | undefined)?.display ??
    `${resource.resourceType}/${resource.id ?? ''}`;
  const period = r.period as { start?: string } | undefined;
  const when = [r.effectiveDateTime, r.onsetDateTime, r.authoredOn, r.occurrenceDateTime, r.performedDateTime, period?.start, r.recordedDate].find(
    (v): v is string => typeof v === 'string',
  );
  const q = r.valueQuantity as { value?: number; unit?: string } | undefined;
  const value =
    q?.value !== undefined ? ` ${q.value}${q.unit ? ` ${q.unit}` : ''}` : conceptText(r.valueCodeableConcept) ? ` ${conceptText(r.valueCodeableConcept)}` : '';
  return `${what}${value}${when ? ` (${when.slice(0, 10)})` : ''}`;
}

function narrative(items: string[]): { status: 'generated'; div: string } {
  const body = items.length ? `<ul>${items.map((i) => `<li>${escapeXml(i)}</li>`).join('')}</ul>` : '<p>None recorded.</p>';
  return { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${body}</div>` };
}

function fullUrlOf(base: string, r: Resource): string {
  return `${base}/${r.resourceType}/${r.id ?? ''}`;
}

/**
 * The FHIR document (Bundle.type document, FHIR R4 documents.html): the Composition first, then
 * the patient, every section entry and the `referenced` resources (what those refer to and the
 * caller may read). A section the token may not search is present, empty,
 * with emptyReason `withheld`; one with nothing recorded says so with `nilknown`.
 */
export function summaryDocument(base: string, patient: Patient, sections: SectionContent[], now: Date, referenced: readonly Resource[] = []): Bundle {
  const compositionUrl = `urn:uuid:${randomUUID()}`;
  const entries: Resource[] = [patient];
  const seen = new Set([`${patient.resourceType}/${patient.id ?? ''}`]);
  const compositionSections: CompositionSection[] = sections.map(({ section, resources }) => {
    const out: CompositionSection = { title: section.title, code: { coding: [{ system: LOINC, code: section.code, display: section.title }] } };
    if (resources === null) {
      out.text = narrative(['Not available to this application (its access token does not allow reading these records).']);
      out.emptyReason = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/list-empty-reason', code: 'withheld', display: 'Information Withheld' }] };
      return out;
    }
    out.text = narrative(resources.map(labelOf));
    if (!resources.length) {
      out.emptyReason = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/list-empty-reason', code: 'nilknown', display: 'Nil Known' }] };
      return out;
    }
    out.entry = resources.map((r) => ({ reference: `${r.resourceType}/${r.id ?? ''}` }));
    for (const r of resources) {
      const key = `${r.resourceType}/${r.id ?? ''}`;
      if (!seen.has(key)) entries.push(r);
      seen.add(key);
    }
    return out;
  });
  for (const r of referenced) {
    const key = `${r.resourceType}/${r.id ?? ''}`;
    if (!seen.has(key)) entries.push(r);
    seen.add(key);
  }
  // The author is the patient's organization when the document carries it (every reference of the
  // Composition resolves inside the bundle: FHIR R4 documents.html §3.3.1), else named only.
  const orgRef = patient.managingOrganization?.reference;
  const organization = orgRef && seen.has(orgRef) ? { reference: orgRef } : undefined;
  const composition: Composition = {
    resourceType: 'Composition',
    status: 'final',
    type: { coding: [SUMMARY_TYPE], text: 'Summary of episode note' },
    subject: { reference: `Patient/${patient.id ?? ''}` },
    date: now.toISOString(),
    author: [organization ?? { display: 'SMART Sandbox' }],
    title: 'Continuity of Care Document (generated on demand)',
    section: compositionSections,
  };
  return {
    resourceType: 'Bundle',
    identifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${randomUUID()}` },
    type: 'document',
    timestamp: now.toISOString(),
    entry: [{ fullUrl: compositionUrl, resource: composition }, ...entries.map((r) => ({ fullUrl: fullUrlOf(base, r), resource: r }))],
  };
}

/**
 * The US Core DocumentReference of a generated document: the document inline as base64 `data`
 * (FHIR R4 datatypes.html#Attachment), with its size and SHA-1 hash. It is not stored: it
 * describes the record as it was when asked (see the router's $docref).
 */
export function summaryDocumentReference(document: Bundle, patient: Patient, period: { start: string | null; end: string | null }): DocumentReference {
  const json = Buffer.from(JSON.stringify(document), 'utf8');
  const hash = createHash('sha1').update(json).digest('base64');
  const context: DocumentReference['context'] = {};
  if (period.start !== null || period.end !== null)
    context.period = { ...(period.start ? { start: period.start } : {}), ...(period.end ? { end: period.end } : {}) };
  return {
    resourceType: 'DocumentReference',
    meta: { profile: ['http://hl7.org/fhir/us/core/StructureDefinition/us-core-documentreference'] },
    identifier: [{ system: 'urn:ietf:rfc:3986', value: document.identifier?.value ?? `urn:uuid:${randomUUID()}` }],
    status: 'current',
    docStatus: 'final',
    type: { coding: [SUMMARY_TYPE], text: 'Summary of episode note' },
    category: [
      { coding: [{ system: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category', code: 'clinical-note', display: 'Clinical Note' }] },
    ],
    subject: { reference: `Patient/${patient.id ?? ''}` },
    date: document.timestamp,
    author: patient.managingOrganization?.reference ? [{ reference: patient.managingOrganization.reference }] : undefined,
    description: 'Continuity of Care Document generated on demand from the records this application may read',
    content: [
      {
        attachment: {
          contentType: 'application/fhir+json',
          data: json.toString('base64'),
          size: json.length,
          hash,
          title: 'Continuity of Care Document',
          creation: document.timestamp,
        },
      },
    ],
    ...(context.period ? { context } : {}),
  };
}
