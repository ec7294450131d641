/**
 * The CapabilityStatement, generated from what the router and search layer implement: every R4
 * type with its search parameters from the definitions, the interactions of lib/fhir/router, the
 * US Core server it instantiates and the SMART security block (SMART App Launch 2.2 §conformance:
 * the oauth-uris extension must name the same endpoints as .well-known/smart-configuration).
 */
import type { CapabilityStatement, CapabilityStatementRestResource, CapabilityStatementRestResourceSearchParam } from '@medplum/fhirtypes';
import { oauthUrls } from '../oauth/config';
import { allResourceTypes, getTypeDefinition } from './definitions';

/**
 * The OAuth endpoint URLs: the same function (lib/oauth/config oauthUrls) builds the
 * .well-known/smart-configuration document, so the two can never disagree (docs/CONFORMANCE.md #20 of §20).
 */
export function smartEndpoints(origin: string): ReturnType<typeof oauthUrls> {
  return oauthUrls(origin);
}

const US_CORE = 'http://hl7.org/fhir/us/core/StructureDefinition';
/** Bulk Data Access IG 2.0.0 (docs/CONFORMANCE.md #147). */
const BULK = 'http://hl7.org/fhir/uv/bulkdata';

/** US Core 6.1.0 profiles per resource type (the profiles the synthetic data is written to). */
export const US_CORE_PROFILES: Readonly<Record<string, readonly string[]>> = {
  AllergyIntolerance: ['us-core-allergyintolerance'],
  CarePlan: ['us-core-careplan'],
  CareTeam: ['us-core-careteam'],
  Condition: ['us-core-condition-encounter-diagnosis', 'us-core-condition-problems-health-concerns'],
  Coverage: ['us-core-coverage'],
  Device: ['us-core-implantable-device'],
  DiagnosticReport: ['us-core-diagnosticreport-lab', 'us-core-diagnosticreport-note'],
  DocumentReference: ['us-core-documentreference'],
  Encounter: ['us-core-encounter'],
  Goal: ['us-core-goal'],
  Immunization: ['us-core-immunization'],
  Location: ['us-core-location'],
  Medication: ['us-core-medication'],
  MedicationDispense: ['us-core-medicationdispense'],
  MedicationRequest: ['us-core-medicationrequest'],
  Observation: [
    'us-core-observation-lab', 'us-core-vital-signs', 'us-core-blood-pressure', 'us-core-bmi', 'us-core-body-height', 'us-core-body-temperature',
    'us-core-body-weight', 'us-core-head-circumference', 'us-core-heart-rate', 'us-core-respiratory-rate', 'us-core-pulse-oximetry',
    'us-core-smokingstatus', 'us-core-observation-pregnancystatus', 'us-core-observation-pregnancyintent', 'us-core-observation-occupation',
    'us-core-observation-sexual-orientation', 'us-core-observation-screening-assessment', 'us-core-observation-clinical-result',
    'pediatric-bmi-for-age', 'pediatric-weight-for-height', 'head-occipital-frontal-circumference-percentile',
  ],
  Organization: ['us-core-organization'],
  Patient: ['us-core-patient'],
  Practitioner: ['us-core-practitioner'],
  PractitionerRole: ['us-core-practitionerrole'],
  Procedure: ['us-core-procedure'],
  Provenance: ['us-core-provenance'],
  QuestionnaireResponse: ['us-core-questionnaireresponse'],
  RelatedPerson: ['us-core-relatedperson'],
  ServiceRequest: ['us-core-servicerequest'],
  Specimen: ['us-core-specimen'],
};

const PARAM_TYPE_DOCS: Record<string, string> = {
  date: 'Prefixes eq ne gt lt ge le sa eb ap; a period matches when it overlaps the value',
  string: 'Starts-with on case- and accent-normalized text; :exact, :contains, :missing',
  token: 'system|code, |code, code; :text, :not, :missing',
  reference: 'id, Type/id or absolute URL; :[Type], :missing',
};

function searchParams(type: string): CapabilityStatementRestResourceSearchParam[] {
  const def = getTypeDefinition(type);
  const params: CapabilityStatementRestResourceSearchParam[] = [
    { name: '_id', type: 'token', documentation: 'Logical id; comma-separated ids are OR-ed' },
    { name: '_lastUpdated', type: 'date', documentation: PARAM_TYPE_DOCS.date },
  ];
  for (const p of [...(def?.params.values() ?? [])].sort((a, b) => a.code.localeCompare(b.code))) {
    const sp: CapabilityStatementRestResourceSearchParam = { name: p.code, type: p.type };
    const doc = PARAM_TYPE_DOCS[p.type];
    if (doc) sp.documentation = doc;
    params.push(sp);
  }
  return params;
}

function restResource(type: string): CapabilityStatementRestResource {
  const def = getTypeDefinition(type);
  const refs = [...(def?.params.values() ?? [])].filter((p) => p.type === 'reference').map((p) => `${type}:${p.code}`).sort();
  const r: CapabilityStatementRestResource = {
    type: type as CapabilityStatementRestResource['type'],
    interaction: ['read', 'vread', 'update', 'delete', 'history-instance', 'history-type', 'create', 'search-type'].map((code) => ({ code: code as 'read' })),
    versioning: 'versioned-update',
    readHistory: true,
    updateCreate: true,
    conditionalCreate: true,
    conditionalRead: 'not-supported',
    conditionalUpdate: false,
    conditionalDelete: 'not-supported',
    referencePolicy: ['literal', 'local'],
    searchInclude: refs,
    searchRevInclude: ['Provenance:target'],
    searchParam: searchParams(type),
  };
  const profiles = US_CORE_PROFILES[type];
  if (profiles) r.supportedProfile = profiles.map((p) => `${US_CORE}/${p}`);
  if (type === 'Patient') r.operation = [{ name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' }, { name: 'export', definition: `${BULK}/OperationDefinition/patient-export` }];
  if (type === 'Group') r.operation = [{ name: 'export', definition: `${BULK}/OperationDefinition/group-export` }];
  return r;
}

const cache = new Map<string, CapabilityStatement>();

/** The server's CapabilityStatement for a public origin (FHIR base `{origin}/fhir`). */
export function capabilityStatement(origin: string, fhirBase: string): CapabilityStatement {
  const key = `${origin} ${fhirBase}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const uris = smartEndpoints(origin);
  const cs: CapabilityStatement = {
    resourceType: 'CapabilityStatement',
    id: 'smart-sandbox',
    url: `${fhirBase}/metadata`,
    name: 'SmartSandboxFhirServer',
    title: 'SMART Sandbox FHIR R4 server',
    status: 'active',
    experimental: true,
    date: '2026-01-01',
    publisher: 'SMART Sandbox',
    kind: 'instance',
    instantiates: ['http://hl7.org/fhir/us/core/CapabilityStatement/us-core-server', `${BULK}/CapabilityStatement/bulk-data`],
    software: { name: 'SMART Sandbox', version: '0.1.0' },
    implementation: { description: 'SMART on FHIR sandbox with synthetic patients', url: fhirBase },
    fhirVersion: '4.0.1',
    format: ['json', 'application/fhir+json', 'application/json'],
    patchFormat: [],
    implementationGuide: ['http://hl7.org/fhir/us/core/ImplementationGuide/hl7.fhir.us.core|6.1.0'],
    rest: [
      {
        mode: 'server',
        documentation:
          'Every request needs a SMART access token except metadata. patient/ scopes are confined to the patient in context by the database query; resources outside the compartment answer 404 like absent ones.',
        security: {
          cors: true,
          service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR', display: 'SMART-on-FHIR' }], text: 'OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)' }],
          extension: [
            {
              url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
              extension: [
                { url: 'authorize', valueUri: uris.authorize },
                { url: 'token', valueUri: uris.token },
                { url: 'introspect', valueUri: uris.introspect },
                { url: 'revoke', valueUri: uris.revoke },
                { url: 'register', valueUri: uris.register },
                { url: 'manage', valueUri: uris.manage },
              ],
            },
          ],
        },
        resource: allResourceTypes().map(restResource),
        interaction: [],
        searchParam: [],
        operation: [{ name: 'export', definition: `${BULK}/OperationDefinition/export` }],
      },
    ],
  };
  cache.set(key, cs);
  return cs;
}
