/**
 * The summary document $docref generates on demand conforms: the DocumentReference to US Core 6.1
 * DocumentReference, the Composition and every resource it carries to base R4 and the profiles
 * they claim (the offline validator of lib/synthetic/testing), built from a generated patient.
 */
import { describe, expect, it } from 'vitest';
import type { Bundle, Composition, Patient, Resource } from '@medplum/fhirtypes';
import { generateDataset } from '../synthetic';
import { createValidator } from '../synthetic/testing/us-core-validator';
import { SUMMARY_SECTIONS, summaryDocument, summaryDocumentReference } from './summary-document';

function firstPatient(): { patient: Patient; resources: Resource[]; shared: Resource[] } {
  let shared: Resource[] = [];
  for (const item of generateDataset({ seed: 7, patients: 3, anchorDate: '2025-06-01' })) {
    if (item.kind === 'shared') shared = item.resources;
    if (item.kind === 'patient') return { patient: item.record.patient as Patient, resources: item.record.resources, shared };
  }
  throw new Error('no patient generated');
}

/** Every literal reference (`Type/id`) in a value. */
function referencesIn(value: unknown): string[] {
  return [...JSON.stringify(value).matchAll(/"reference":"([A-Z][A-Za-z]+\/[^"#]+)"/g)].map((m) => m[1]!);
}

describe('summary document', () => {
  it('validates: DocumentReference (US Core), Composition and every entry; sections withheld or empty say why', () => {
    const { patient, resources } = firstPatient();
    const ofType = (type: string) => resources.filter((r) => r.resourceType === type).slice(0, 50);
    const sections = SUMMARY_SECTIONS.map((section) =>
      section.type === 'AllergyIntolerance'
        ? { section, resources: null }
        : section.code === '29762-2'
          ? { section, resources: [] }
          : { section, resources: ofType(section.type) },
    );
    const document = summaryDocument('http://localhost:3000/fhir', patient, sections, new Date('2025-06-01T00:00:00Z'));
    const reference = summaryDocumentReference(document, patient, { start: '2024-01-01T00:00:00Z', end: null });
    const validator = createValidator();
    expect(validator.validate(reference)).toEqual([]);
    // The validator is not vacuous: the same reference without its required type fails.
    expect(validator.validate({ ...reference, type: undefined } as unknown as Resource).length).toBeGreaterThan(0);
    const composition = document.entry?.[0]?.resource as Composition;
    expect(validator.validate(composition)).toEqual([]);
    for (const e of document.entry ?? []) expect(validator.validate(e.resource!), `${e.resource?.resourceType}/${e.resource?.id}`).toEqual([]);
    expect(validator.validate(document)).toEqual([]);

    const decoded = JSON.parse(Buffer.from(reference.content[0]!.attachment.data!, 'base64').toString('utf8')) as Bundle;
    expect(decoded).toEqual(document);
    expect(reference.content[0]!.attachment.size).toBe(Buffer.byteLength(JSON.stringify(document)));
    const byCode = new Map(composition.section!.map((s) => [s.code?.coding?.[0]?.code, s]));
    expect(byCode.get('48765-2')?.emptyReason?.coding?.[0]?.code).toBe('withheld');
    expect(byCode.get('29762-2')?.emptyReason?.coding?.[0]?.code).toBe('nilknown');
    // Narrative text is escaped XHTML.
    for (const s of composition.section!) expect(s.text?.div).toMatch(/^<div xmlns="http:\/\/www.w3.org\/1999\/xhtml">/);
    expect((byCode.get('11450-4')?.entry ?? []).length).toBe(ofType('Condition').length);
    // Without the organization in the bundle, the author is named, not referenced.
    expect(composition.author).toEqual([{ display: 'SMART Sandbox' }]);
  });

  it('carries the resources its entries and author refer to, so every reference resolves inside the document (FHIR R4 documents.html §3.3.1)', () => {
    const { patient, resources, shared } = firstPatient();
    const sections = SUMMARY_SECTIONS.map((section) => ({ section, resources: resources.filter((r) => r.resourceType === section.type).slice(0, 50) }));
    const byKey = new Map([...shared, ...resources].map((r) => [`${r.resourceType}/${r.id}`, r]));
    const carried = [patient, ...sections.flatMap((s) => s.resources)];
    const wanted = [...new Set(referencesIn(carried))].filter((ref) => !carried.some((r) => `${r.resourceType}/${r.id}` === ref));
    const referenced = wanted.map((ref) => byKey.get(ref)).filter((r): r is Resource => r !== undefined);
    // The generated record refers to practitioners, an organization and encounters outside the sections.
    expect(referenced.map((r) => r.resourceType)).toEqual(expect.arrayContaining(['Organization', 'Practitioner']));
    const document = summaryDocument('http://localhost:3000/fhir', patient, sections, new Date('2025-06-01T00:00:00Z'), [...referenced, referenced[0]!]);
    const inBundle = new Set((document.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`));
    // Each resource once; every reference of the Composition, the patient and the entries resolves
    // inside the document (what the referenced resources refer to in turn is not followed).
    expect(inBundle.size).toBe((document.entry ?? []).length);
    const composition = document.entry![0]!.resource as Composition;
    const firstLevel = referencesIn([composition, ...carried]);
    expect(firstLevel.length).toBeGreaterThan(sections.length);
    for (const ref of firstLevel) expect(inBundle.has(ref), ref).toBe(true);
    expect(composition.author).toEqual([{ reference: patient.managingOrganization!.reference }]);
    const validator = createValidator();
    for (const e of document.entry ?? []) expect(validator.validate(e.resource!), `${e.resource?.resourceType}/${e.resource?.id}`).toEqual([]);
  });
});
