/**
 * A small clinical record per patient with one resource of every US Core type in the Patient
 * compartment, plus shared resources both patients refer to. Used by the FHIR API tests.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { ResourceStore } from './store';

export const OBS_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const LOINC = 'http://loinc.org';
const SCT = 'http://snomed.info/sct';

/** Shared (non-compartment) resources. */
export function sharedResources(): Resource[] {
  return [
    { resourceType: 'Organization', id: 'org-1', name: 'General Hospital', address: [{ city: 'Springfield', state: 'MA' }] },
    {
      resourceType: 'Practitioner',
      id: 'prac-1',
      name: [{ family: 'Careful', given: ['Carla'] }],
      identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' }],
    },
    {
      resourceType: 'PractitionerRole',
      id: 'role-1',
      practitioner: { reference: 'Practitioner/prac-1' },
      organization: { reference: 'Organization/org-1' },
      specialty: [{ coding: [{ system: 'http://nucc.org/provider-taxonomy', code: '207Q00000X' }] }],
    },
    { resourceType: 'Location', id: 'loc-1', name: 'Ward 1', address: { city: 'Springfield' }, managingOrganization: { reference: 'Organization/org-1' } },
    {
      resourceType: 'Medication',
      id: 'med-1',
      code: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '197361', display: 'Amlodipine 5 MG' }] },
    },
  ] as Resource[];
}

/** One patient's record: ids start with `${p}-`, every resource carries the tag `${tag}`. */
export function patientRecord(p: string, family: string, tag: string): Resource[] {
  const pat = { reference: `Patient/${p}` };
  const meta = { tag: [{ system: 'urn:test', code: tag }] };
  const enc = { reference: `Encounter/${p}-enc` };
  const res: Record<string, unknown>[] = [
    {
      resourceType: 'Patient',
      id: p,
      identifier: [{ system: 'urn:mrn', value: `mrn-${p}` }],
      name: [{ family, given: ['Zoë'] }],
      gender: p.endsWith('a') ? 'female' : 'male',
      birthDate: p.endsWith('a') ? '1970-03-04' : '1981-11-12',
      managingOrganization: { reference: 'Organization/org-1' },
      generalPractitioner: [{ reference: 'Practitioner/prac-1' }],
      address: [{ city: `${family}ville`, postalCode: '01234' }],
      telecom: [{ system: 'phone', value: `555-${p}` }],
    },
    {
      resourceType: 'Encounter',
      id: `${p}-enc`,
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      type: [{ coding: [{ system: SCT, code: '185349003' }] }],
      subject: pat,
      participant: [{ individual: { reference: 'Practitioner/prac-1' } }],
      period: { start: '2021-05-01T10:00:00Z', end: '2021-05-01T11:00:00Z' },
      location: [{ location: { reference: 'Location/loc-1' } }],
      serviceProvider: { reference: 'Organization/org-1' },
    },
    {
      resourceType: 'Observation',
      id: `${p}-lab`,
      status: 'final',
      category: [{ coding: [{ system: OBS_CATEGORY, code: 'laboratory' }] }],
      code: { coding: [{ system: LOINC, code: '2339-0', display: 'Glucose' }], text: 'Glucose' },
      subject: pat,
      encounter: enc,
      effectiveDateTime: '2021-05-01T10:30:00Z',
      valueQuantity: { value: 95.5, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
      performer: [{ reference: 'Practitioner/prac-1' }],
    },
    {
      resourceType: 'Observation',
      id: `${p}-vital`,
      status: 'final',
      category: [{ coding: [{ system: OBS_CATEGORY, code: 'vital-signs' }] }],
      code: { coding: [{ system: LOINC, code: '8867-4', display: 'Heart rate' }] },
      subject: pat,
      effectiveDateTime: '2022-02-02',
      valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
    },
    {
      resourceType: 'Condition',
      id: `${p}-cond`,
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] }],
      code: { coding: [{ system: SCT, code: '38341003', display: 'Hypertension' }] },
      subject: pat,
      onsetDateTime: '2019-01-01',
      recordedDate: '2019-01-02',
    },
    {
      resourceType: 'AllergyIntolerance',
      id: `${p}-allergy`,
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
      code: { coding: [{ system: SCT, code: '91936005', display: 'Penicillin allergy' }] },
      patient: pat,
      recordedDate: '2018-06-01',
    },
    {
      resourceType: 'MedicationRequest',
      id: `${p}-medrx`,
      status: 'active',
      intent: 'order',
      medicationReference: { reference: 'Medication/med-1' },
      subject: pat,
      encounter: enc,
      authoredOn: '2021-05-01',
      requester: { reference: 'Practitioner/prac-1' },
    },
    {
      resourceType: 'MedicationDispense',
      id: `${p}-disp`,
      status: 'completed',
      medicationReference: { reference: 'Medication/med-1' },
      subject: pat,
      authorizingPrescription: [{ reference: `MedicationRequest/${p}-medrx` }],
      whenHandedOver: '2021-05-02',
    },
    {
      resourceType: 'Immunization',
      id: `${p}-imm`,
      status: 'completed',
      vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '140' }] },
      patient: pat,
      occurrenceDateTime: '2020-10-10',
      lotNumber: `LOT-${p}`,
    },
    {
      resourceType: 'Procedure',
      id: `${p}-proc`,
      status: 'completed',
      code: { coding: [{ system: SCT, code: '80146002', display: 'Appendectomy' }] },
      subject: pat,
      performedPeriod: { start: '2017-03-03T08:00:00Z', end: '2017-03-03T09:00:00Z' },
    },
    {
      resourceType: 'DiagnosticReport',
      id: `${p}-dr`,
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB' }] }],
      code: { coding: [{ system: LOINC, code: '24323-8' }] },
      subject: pat,
      effectiveDateTime: '2021-05-01',
      issued: '2021-05-01T12:00:00Z',
      result: [{ reference: `Observation/${p}-lab` }],
      performer: [{ reference: 'Organization/org-1' }],
    },
    {
      resourceType: 'DocumentReference',
      id: `${p}-doc`,
      status: 'current',
      type: { coding: [{ system: LOINC, code: '11488-4' }] },
      category: [{ coding: [{ system: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category', code: 'clinical-note' }] }],
      subject: pat,
      date: '2021-05-01T12:00:00Z',
      author: [{ reference: 'Practitioner/prac-1' }],
      content: [{ attachment: { contentType: 'text/plain', url: `Binary/${p}-note` } }],
      context: { encounter: [enc], period: { start: '2021-05-01' } },
    },
    {
      resourceType: 'CarePlan',
      id: `${p}-cp`,
      status: 'active',
      intent: 'plan',
      category: [{ coding: [{ system: 'http://hl7.org/fhir/us/core/CodeSystem/careplan-category', code: 'assess-plan' }] }],
      subject: pat,
      period: { start: '2021-01-01' },
    },
    { resourceType: 'CareTeam', id: `${p}-ct`, status: 'active', subject: pat, participant: [{ member: { reference: 'Practitioner/prac-1' } }] },
    {
      resourceType: 'Goal',
      id: `${p}-goal`,
      lifecycleStatus: 'active',
      description: { text: 'Lower blood pressure' },
      subject: pat,
      target: [{ dueDate: '2023-01-01' }],
    },
    {
      resourceType: 'Coverage',
      id: `${p}-cov`,
      status: 'active',
      beneficiary: pat,
      payor: [{ reference: 'Organization/org-1' }],
      type: { coding: [{ system: 'urn:oid:2.16.840.1.113883.3.221.5', code: '1' }] },
    },
    {
      resourceType: 'Device',
      id: `${p}-dev`,
      status: 'active',
      udiCarrier: [{ deviceIdentifier: `0${p}` }],
      type: { coding: [{ system: SCT, code: '14106009' }] },
      patient: pat,
    },
    {
      resourceType: 'ServiceRequest',
      id: `${p}-sr`,
      status: 'active',
      intent: 'order',
      category: [{ coding: [{ system: SCT, code: '108252007' }] }],
      code: { coding: [{ system: LOINC, code: '24323-8' }] },
      subject: pat,
      authoredOn: '2021-04-30',
    },
    {
      resourceType: 'Specimen',
      id: `${p}-spec`,
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0487', code: 'BLD' }] },
      subject: pat,
      collection: { collectedDateTime: '2021-05-01T09:00:00Z' },
    },
    {
      resourceType: 'QuestionnaireResponse',
      id: `${p}-qr`,
      status: 'completed',
      subject: pat,
      authored: '2021-05-01T09:30:00Z',
      questionnaire: 'http://example.org/Questionnaire/phq-2',
    },
    {
      resourceType: 'RelatedPerson',
      id: `${p}-rp`,
      patient: pat,
      name: [{ family, given: ['Kin'] }],
      relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'MTH' }] }],
    },
    {
      resourceType: 'Provenance',
      id: `${p}-prov`,
      target: [{ reference: `Observation/${p}-lab` }, { reference: `Patient/${p}` }],
      recorded: '2021-05-01T10:31:00Z',
      agent: [{ who: { reference: 'Practitioner/prac-1' }, onBehalfOf: { reference: 'Organization/org-1' } }],
    },
  ];
  return res.map((r) => ({ ...r, meta })) as unknown as Resource[];
}

/** Writes resources with their own ids (update-as-create). */
export async function load(store: ResourceStore, sandboxId: string, resources: Resource[]): Promise<void> {
  for (const r of resources) await store.update(sandboxId, r.resourceType, r.id!, r);
}
