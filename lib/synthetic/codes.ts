import type { CodeableConcept, Coding } from '@medplum/fhirtypes';

/** Code systems and identifier namespaces, spelled as FHIR R4 / US Core 6.1.0 name them. */
export const SYSTEM = {
  snomed: 'http://snomed.info/sct',
  loinc: 'http://loinc.org',
  rxnorm: 'http://www.nlm.nih.gov/research/umls/rxnorm',
  cvx: 'http://hl7.org/fhir/sid/cvx',
  ucum: 'http://unitsofmeasure.org',
  npi: 'http://hl7.org/fhir/sid/us-npi',
  ssn: 'http://hl7.org/fhir/sid/us-ssn',
  nucc: 'http://nucc.org/provider-taxonomy',
  raceEthnicity: 'urn:oid:2.16.840.1.113883.6.238',
  nullFlavor: 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor',
  actCode: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  actReason: 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
  participationType: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
  interpretation: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
  observationCategory: 'http://terminology.hl7.org/CodeSystem/observation-category',
  conditionCategory: 'http://terminology.hl7.org/CodeSystem/condition-category',
  conditionClinical: 'http://terminology.hl7.org/CodeSystem/condition-clinical',
  conditionVerification: 'http://terminology.hl7.org/CodeSystem/condition-ver-status',
  allergyClinical: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical',
  allergyVerification: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification',
  usCoreCategory: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-category',
  usCoreDocCategory: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category',
  carePlanCategory: 'http://hl7.org/fhir/us/core/CodeSystem/careplan-category',
  v2_0203: 'http://terminology.hl7.org/CodeSystem/v2-0203',
  v2_0074: 'http://terminology.hl7.org/CodeSystem/v2-0074',
  v2_0131: 'http://terminology.hl7.org/CodeSystem/v2-0131',
  endpointConnectionType: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type',
  endpointPayloadType: 'http://terminology.hl7.org/CodeSystem/endpoint-payload-type',
  v2_0487: 'http://terminology.hl7.org/CodeSystem/v2-0487',
  dataAbsentReason: 'http://terminology.hl7.org/CodeSystem/data-absent-reason',
  dischargeDisposition: 'http://terminology.hl7.org/CodeSystem/discharge-disposition',
  provenanceParticipant: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
  usCoreProvenanceParticipant: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-provenance-participant-type',
  subscriberRelationship: 'http://terminology.hl7.org/CodeSystem/subscriber-relationship',
  coverageClass: 'http://terminology.hl7.org/CodeSystem/coverage-class',
  payerType: 'https://nahdo.org/sopt',
  medicationRequestCategory: 'http://terminology.hl7.org/CodeSystem/medicationrequest-category',
  organizationType: 'http://terminology.hl7.org/CodeSystem/organization-type',
  roleCode: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode',
  practitionerRole: 'http://terminology.hl7.org/CodeSystem/practitioner-role',
  locationPhysicalType: 'http://terminology.hl7.org/CodeSystem/location-physical-type',
  languages: 'urn:ietf:bcp:47',
  maritalStatus: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus',
  // Identifier namespaces of the sandbox's fictional clinic (example.org is reserved, RFC 2606).
  mrn: 'http://smart-sandbox.example.org/fhir/sid/mrn',
  encounterId: 'http://smart-sandbox.example.org/fhir/sid/encounter',
  accession: 'http://smart-sandbox.example.org/fhir/sid/accession',
  placerOrder: 'http://smart-sandbox.example.org/fhir/sid/order',
  memberId: 'http://smart-sandbox.example.org/fhir/sid/member',
  prescriptionNumber: 'http://smart-sandbox.example.org/fhir/sid/rx',
  formResponse: 'http://smart-sandbox.example.org/fhir/sid/form-response',
  questionnaire: 'http://smart-sandbox.example.org/fhir/Questionnaire',
  odh: 'http://terminology.hl7.org/CodeSystem/PHOccupationalDataForHealthODH',
} as const;

/** US Core 6.1.0 StructureDefinition canonical URLs (and the base R4 one of the types US Core does not profile). */
const US_CORE = 'http://hl7.org/fhir/us/core/StructureDefinition/';
export const PROFILE = {
  patient: `${US_CORE}us-core-patient`,
  practitioner: `${US_CORE}us-core-practitioner`,
  practitionerRole: `${US_CORE}us-core-practitionerrole`,
  organization: `${US_CORE}us-core-organization`,
  location: `${US_CORE}us-core-location`,
  encounter: `${US_CORE}us-core-encounter`,
  problem: `${US_CORE}us-core-condition-problems-health-concerns`,
  encounterDiagnosis: `${US_CORE}us-core-condition-encounter-diagnosis`,
  bloodPressure: `${US_CORE}us-core-blood-pressure`,
  heartRate: `${US_CORE}us-core-heart-rate`,
  respiratoryRate: `${US_CORE}us-core-respiratory-rate`,
  bodyTemperature: `${US_CORE}us-core-body-temperature`,
  bodyWeight: `${US_CORE}us-core-body-weight`,
  bodyHeight: `${US_CORE}us-core-body-height`,
  bmi: `${US_CORE}us-core-bmi`,
  pulseOximetry: `${US_CORE}us-core-pulse-oximetry`,
  headCircumference: `${US_CORE}us-core-head-circumference`,
  pediatricBmi: `${US_CORE}pediatric-bmi-for-age`,
  pediatricWeightForLength: `${US_CORE}pediatric-weight-for-height`,
  headCircumferencePercentile: `${US_CORE}head-occipital-frontal-circumference-percentile`,
  lab: `${US_CORE}us-core-observation-lab`,
  smokingStatus: `${US_CORE}us-core-smokingstatus`,
  screeningAssessment: `${US_CORE}us-core-observation-screening-assessment`,
  pregnancyStatus: `${US_CORE}us-core-observation-pregnancystatus`,
  pregnancyIntent: `${US_CORE}us-core-observation-pregnancyintent`,
  occupation: `${US_CORE}us-core-observation-occupation`,
  sexualOrientation: `${US_CORE}us-core-observation-sexual-orientation`,
  simpleObservation: `${US_CORE}us-core-simple-observation`,
  clinicalResult: `${US_CORE}us-core-observation-clinical-result`,
  vitalSigns: `${US_CORE}us-core-vital-signs`,
  diagnosticReportLab: `${US_CORE}us-core-diagnosticreport-lab`,
  diagnosticReportNote: `${US_CORE}us-core-diagnosticreport-note`,
  documentReference: `${US_CORE}us-core-documentreference`,
  medication: `${US_CORE}us-core-medication`,
  medicationRequest: `${US_CORE}us-core-medicationrequest`,
  allergy: `${US_CORE}us-core-allergyintolerance`,
  immunization: `${US_CORE}us-core-immunization`,
  procedure: `${US_CORE}us-core-procedure`,
  carePlan: `${US_CORE}us-core-careplan`,
  careTeam: `${US_CORE}us-core-careteam`,
  goal: `${US_CORE}us-core-goal`,
  coverage: `${US_CORE}us-core-coverage`,
  serviceRequest: `${US_CORE}us-core-servicerequest`,
  specimen: `${US_CORE}us-core-specimen`,
  implantableDevice: `${US_CORE}us-core-implantable-device`,
  provenance: `${US_CORE}us-core-provenance`,
  medicationDispense: `${US_CORE}us-core-medicationdispense`,
  questionnaireResponse: `${US_CORE}us-core-questionnaireresponse`,
  relatedPerson: `${US_CORE}us-core-relatedperson`,
  // US Core 6.1.0 profiles none of these: they claim the base R4 definition.
  questionnaire: 'http://hl7.org/fhir/StructureDefinition/Questionnaire',
  endpoint: 'http://hl7.org/fhir/StructureDefinition/Endpoint',
  media: 'http://hl7.org/fhir/StructureDefinition/Media',
  race: `${US_CORE}us-core-race`,
  ethnicity: `${US_CORE}us-core-ethnicity`,
  birthSex: `${US_CORE}us-core-birthsex`,
} as const;

/** A code with its system and display, the unit every table below is made of. */
export interface Code {
  readonly system: string;
  readonly code: string;
  readonly display: string;
}

export function sct(code: string, display: string): Code {
  return { system: SYSTEM.snomed, code, display };
}
export function loinc(code: string, display: string): Code {
  return { system: SYSTEM.loinc, code, display };
}

export function coding(c: Code): Coding {
  return { system: c.system, code: c.code, display: c.display };
}

/** CodeableConcept with one coding and `text` = display (what most EHRs send). */
export function concept(c: Code, text?: string): CodeableConcept {
  return { coding: [coding(c)], text: text ?? c.display };
}

export const OBSERVATION_CATEGORY = {
  vitalSigns: { system: SYSTEM.observationCategory, code: 'vital-signs', display: 'Vital Signs' },
  laboratory: { system: SYSTEM.observationCategory, code: 'laboratory', display: 'Laboratory' },
  socialHistory: { system: SYSTEM.observationCategory, code: 'social-history', display: 'Social History' },
  survey: { system: SYSTEM.observationCategory, code: 'survey', display: 'Survey' },
  exam: { system: SYSTEM.observationCategory, code: 'exam', display: 'Exam' },
  imaging: { system: SYSTEM.observationCategory, code: 'imaging', display: 'Imaging' },
  procedure: { system: SYSTEM.observationCategory, code: 'procedure', display: 'Procedure' },
  sdoh: { system: SYSTEM.usCoreCategory, code: 'sdoh', display: 'SDOH' },
  cognitiveStatus: { system: SYSTEM.usCoreCategory, code: 'cognitive-status', display: 'Cognitive Status' },
} as const satisfies Record<string, Code>;

export const DATA_ABSENT = {
  askedDeclined: { system: SYSTEM.dataAbsentReason, code: 'asked-declined', display: 'Asked But Declined' },
  unknown: { system: SYSTEM.dataAbsentReason, code: 'unknown', display: 'Unknown' },
  notPerformed: { system: SYSTEM.dataAbsentReason, code: 'not-performed', display: 'Not Performed' },
  error: { system: SYSTEM.dataAbsentReason, code: 'error', display: 'Error' },
  masked: { system: SYSTEM.dataAbsentReason, code: 'masked', display: 'Masked' },
  notApplicable: { system: SYSTEM.dataAbsentReason, code: 'not-applicable', display: 'Not Applicable' },
} as const satisfies Record<string, Code>;

export const INTERPRETATION = {
  H: { system: SYSTEM.interpretation, code: 'H', display: 'High' },
  L: { system: SYSTEM.interpretation, code: 'L', display: 'Low' },
  N: { system: SYSTEM.interpretation, code: 'N', display: 'Normal' },
  HH: { system: SYSTEM.interpretation, code: 'HH', display: 'Critical high' },
} as const satisfies Record<string, Code>;

/** Encounter types (SNOMED CT, within US Core's extensible Encounter Type binding). */
export const ENCOUNTER_TYPE = {
  checkUp: sct('185349003', 'Encounter for check up (procedure)'),
  wellChild: sct('410620009', 'Well child visit (procedure)'),
  problem: sct('185347001', 'Encounter for problem (procedure)'),
  symptom: sct('185345009', 'Encounter for symptom (procedure)'),
  followUp: sct('390906007', 'Follow-up encounter (procedure)'),
  consultation: sct('11429006', 'Consultation (procedure)'),
  emergency: sct('50849002', 'Emergency room admission (procedure)'),
  admission: sct('32485007', 'Hospital admission (procedure)'),
  prenatalInitial: sct('424441002', 'Prenatal initial visit (regime/therapy)'),
  prenatal: sct('424619006', 'Prenatal visit (regime/therapy)'),
} as const;

export const ENCOUNTER_CLASS = {
  AMB: { system: SYSTEM.actCode, code: 'AMB', display: 'ambulatory' },
  EMER: { system: SYSTEM.actCode, code: 'EMER', display: 'emergency' },
  IMP: { system: SYSTEM.actCode, code: 'IMP', display: 'inpatient encounter' },
} as const satisfies Record<string, Code>;

/** CVX codes with the CDC short description as display. */
export const CVX = {
  hepB: { system: SYSTEM.cvx, code: '08', display: 'Hep B, adolescent or pediatric' },
  dtap: { system: SYSTEM.cvx, code: '20', display: 'DTaP' },
  ipv: { system: SYSTEM.cvx, code: '10', display: 'IPV' },
  hib: { system: SYSTEM.cvx, code: '49', display: 'Hib (PRP-OMP)' },
  pcv13: { system: SYSTEM.cvx, code: '133', display: 'Pneumococcal conjugate PCV 13' },
  rotavirus: { system: SYSTEM.cvx, code: '116', display: 'rotavirus, pentavalent' },
  mmr: { system: SYSTEM.cvx, code: '03', display: 'MMR' },
  varicella: { system: SYSTEM.cvx, code: '21', display: 'varicella' },
  hepA: { system: SYSTEM.cvx, code: '83', display: 'Hep A, ped/adol, 2 dose' },
  tdap: { system: SYSTEM.cvx, code: '115', display: 'Tdap' },
  hpv9: { system: SYSTEM.cvx, code: '165', display: 'HPV9' },
  mcv4: { system: SYSTEM.cvx, code: '114', display: 'meningococcal MCV4P' },
  flu: { system: SYSTEM.cvx, code: '140', display: 'Influenza, seasonal, injectable, preservative free' },
  td: { system: SYSTEM.cvx, code: '113', display: 'Td (adult) preservative free' },
  zoster: { system: SYSTEM.cvx, code: '187', display: 'zoster recombinant' },
  ppsv23: { system: SYSTEM.cvx, code: '33', display: 'pneumococcal polysaccharide PPV23' },
} as const satisfies Record<string, Code>;
