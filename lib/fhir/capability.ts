/**
 * The CapabilityStatement, generated from what the router and search layer implement: every R4
 * type with its search parameters from the definitions, the interactions of lib/fhir/router, the
 * US Core server it instantiates and the SMART security block (SMART App Launch 2.2 §conformance:
 * the oauth-uris extension must name the same endpoints as .well-known/smart-configuration).
 */
import type { CapabilityStatement, CapabilityStatementRestResource, CapabilityStatementRestResourceSearchParam } from '@medplum/fhirtypes';
import { oauthUrls } from '../oauth/config';
import { AUDIT_EVENT_SEARCH_PARAMS } from './audit-events';
import { MAX_BATCH_ENTRIES } from './batch';
import { allResourceTypes, getTypeDefinition } from './definitions';
import type { SearchParamDef } from './definitions';
import { MODIFIERS, RESULT_PARAMETERS } from './search/parse';

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

/**
 * US Core 6.1.0 profiles per resource type: every profile the US Core server CapabilityStatement
 * lists (capability.test.ts compares them with the package in fhir-packages/), each claimed by the
 * generated data, except the SDC Questionnaire profile (a SHOULD): its package is not in
 * fhir-packages/, so no Questionnaire is validated against it and none claims it.
 */
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
    'us-core-observation-lab',
    'us-core-vital-signs',
    'us-core-blood-pressure',
    'us-core-bmi',
    'us-core-body-height',
    'us-core-body-temperature',
    'us-core-body-weight',
    'us-core-head-circumference',
    'us-core-heart-rate',
    'us-core-respiratory-rate',
    'us-core-pulse-oximetry',
    'us-core-smokingstatus',
    'us-core-observation-pregnancystatus',
    'us-core-observation-pregnancyintent',
    'us-core-observation-occupation',
    'us-core-observation-sexual-orientation',
    'us-core-observation-screening-assessment',
    'us-core-observation-clinical-result',
    'us-core-simple-observation',
    'pediatric-bmi-for-age',
    'pediatric-weight-for-height',
    'head-occipital-frontal-circumference-percentile',
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

function profileUrl(p: string): string {
  return p.includes('/') ? p : `${US_CORE}/${p}`;
}

/**
 * Operations the router answers, by where they are invoked: `system` (`[base]/$op`), a resource
 * type (`[base]/Type/$op`) or an instance (`[base]/Type/[id]/$op`). Bulk data export adds its
 * operations here (system, Patient and Group level) alongside its route.
 */
export const OPERATIONS: readonly { level: 'system' | 'type' | 'instance'; type: string | null; name: string; definition: string; documentation?: string }[] = [
  {
    level: 'instance',
    type: 'Patient',
    name: 'everything',
    definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything',
    documentation: "The patient's compartment of every type the token may search, plus the shared resources it refers to; _type, _count",
  },
  {
    level: 'type',
    type: 'DocumentReference',
    name: 'docref',
    definition: 'http://hl7.org/fhir/us/core/OperationDefinition/docref',
    documentation:
      "GET or POST (Parameters or form): patient (required), start, end, type (system|code, OR-ed), on-demand, profile (ignored). Stored documents: with start or end, those whose care period (context.period) overlaps them; with neither, the current ones. Unless type names only other types, the first page also holds the patient's Continuity of Care Document (LOINC 34133-9) generated on demand: a FHIR document Bundle (Composition with the CCD sections: allergies, problems, medications, immunizations, procedures, results, vital signs, social history, encounters; at most 50 entries each, the most recent first, within start/end) inline as base64 application/fhir+json data of a DocumentReference that is not stored (it is generated again on each call). It holds only what the token may read: the patient under its Patient read policy, each section under its type's search policy (compartment and granular scopes; a section the token may not search is empty, emptyReason withheld). on-demand=true answers the generated document only (an empty searchset when the token cannot read the patient).",
  },
  {
    level: 'type',
    type: 'ValueSet',
    name: 'expand',
    definition: 'http://hl7.org/fhir/OperationDefinition/ValueSet-expand',
    documentation:
      'ValueSet/$expand?url=… or ValueSet/[id]/$expand, GET or POST: the R4 and US Core 6.1.0 value sets, expanded from their compose (filter on code and display, count, offset); one needing LOINC, SNOMED CT or another code system not held here answers 422. Any valid token may expand.',
  },
  // Bulk Data Access IG 2.0.0 (docs/CONFORMANCE.md §14): asynchronous NDJSON export.
  {
    level: 'system',
    type: null,
    name: 'export',
    definition: `${BULK}/OperationDefinition/export`,
    documentation: 'Every resource the backend token may read, as NDJSON files (Prefer: respond-async)',
  },
  {
    level: 'type',
    type: 'Patient',
    name: 'export',
    definition: `${BULK}/OperationDefinition/patient-export`,
    documentation: 'The compartments of every patient the token may read, as NDJSON files',
  },
  {
    level: 'instance',
    type: 'Group',
    name: 'export',
    definition: `${BULK}/OperationDefinition/group-export`,
    documentation: "The compartments of the group's members, as NDJSON files",
  },
];

/** The interactions the router answers on every resource type (AuditEvent: read and search only). */
const INTERACTIONS = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'] as const;

function modifierDoc(type: SearchParamDef['type']): string {
  const mods = [...MODIFIERS[type].map((m) => `:${m}`), ':missing'];
  if (type === 'reference') mods.unshift(':[TargetType]');
  return mods.join(', ');
}

const PARAM_TYPE_DOCS: Record<SearchParamDef['type'], string> = {
  date: `Prefixes eq ne gt lt ge le sa eb ap; a period matches when it overlaps the value. Modifiers ${modifierDoc('date')}`,
  string: `Starts-with on case- and accent-normalized text. Modifiers ${modifierDoc('string')}`,
  token: `system|code, |code, code. Modifiers ${modifierDoc('token')}`,
  uri: `Exact URI. Modifiers ${modifierDoc('uri')}`,
  reference: `id, Type/id or absolute URL; a parameter over canonical elements (QuestionnaireResponse questionnaire, the instantiates-canonical ones, …) takes the canonical url (any version) or url|version; chainable one level (param[:TargetType].parameter of the target type, under the token's policy for it; a canonical is followed to the target with that url). Modifiers ${modifierDoc('reference')}`,
  number: `Prefixes eq ne gt lt ge le sa eb ap. Modifiers ${modifierDoc('number')}`,
  quantity: `number|system|code with prefixes eq ne gt lt ge le sa eb ap. Modifiers ${modifierDoc('quantity')}`,
};

/** How each parameter type matches, and its modifiers (rest.documentation). */
function searchRules(): string {
  return Object.entries(PARAM_TYPE_DOCS)
    .map(([type, doc]) => `${type}: ${doc}.`)
    .join(' ');
}

/** The search parameters a type answers: _id, _lastUpdated and every definition of lib/fhir/definitions. */
function searchParams(type: string): CapabilityStatementRestResourceSearchParam[] {
  if (type === 'AuditEvent') return AUDIT_EVENT_SEARCH_PARAMS.map((p) => ({ name: p.name, type: p.type, documentation: p.documentation }));
  const def = getTypeDefinition(type);
  const params: CapabilityStatementRestResourceSearchParam[] = [
    { name: '_id', type: 'token', documentation: 'Logical id; comma-separated ids are OR-ed' },
    { name: '_lastUpdated', type: 'date', documentation: 'Prefixes eq ne gt lt ge le sa eb ap' },
  ];
  // Each type's matching rules and modifiers are stated once, in rest.documentation (searchRules).
  for (const p of [...(def?.params.values() ?? [])].sort((a, b) => a.code.localeCompare(b.code))) params.push({ name: p.code, type: p.type });
  return params;
}

/**
 * `Type:param` for every reference parameter of a type, and `Type:param:Target` for each target of
 * a parameter with several (with one target, the typed form is the same include).
 */
function includesOf(type: string): string[] {
  const out: string[] = [];
  for (const p of getTypeDefinition(type)?.params.values() ?? []) {
    if (p.type !== 'reference') continue;
    out.push(`${type}:${p.code}`);
    if (p.targets.length > 1) for (const target of p.targets) out.push(`${type}:${p.code}:${target}`);
  }
  return out.sort();
}

/** Every `Source:param` whose reference parameter can point at the type (what _revinclude accepts). */
function revIncludesOf(type: string, all: string[]): string[] {
  const out: string[] = [];
  for (const source of all) {
    if (source === 'AuditEvent') continue; // not stored as resources (lib/fhir/audit-events.ts)
    for (const p of getTypeDefinition(source)?.params.values() ?? []) {
      if (p.type === 'reference' && (!p.targets.length || p.targets.includes(type) || p.targets.includes('Resource'))) out.push(`${source}:${p.code}`);
    }
  }
  return out.sort();
}

function restResource(type: string, all: string[]): CapabilityStatementRestResource {
  if (type === 'AuditEvent') {
    return {
      type: 'AuditEvent',
      documentation: 'The audit trail, one AuditEvent per recorded request, newest first; read-only, for tokens with system/AuditEvent.rs',
      interaction: [{ code: 'read' }, { code: 'search-type' }],
      searchParam: searchParams(type),
    };
  }
  const r: CapabilityStatementRestResource = {
    type: type as CapabilityStatementRestResource['type'],
    interaction: INTERACTIONS.map((code) => ({ code })),
    versioning: 'versioned-update',
    readHistory: true,
    updateCreate: true,
    conditionalCreate: true,
    conditionalRead: 'not-supported',
    conditionalUpdate: true,
    conditionalDelete: 'single',
    referencePolicy: ['literal', 'local'],
    searchInclude: includesOf(type),
    searchRevInclude: revIncludesOf(type, all),
    searchParam: searchParams(type),
  };
  const profiles = US_CORE_PROFILES[type];
  if (profiles) r.supportedProfile = profiles.map(profileUrl);
  const operations = OPERATIONS.filter((o) => o.type === type).map(({ name, definition, documentation }) => ({
    name,
    definition,
    ...(documentation ? { documentation } : {}),
  }));
  if (operations.length) r.operation = operations;
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
    // JSON only: XML is not offered (a request for it answers 415).
    format: ['json', 'application/fhir+json', 'application/json'],
    patchFormat: ['application/json-patch+json'],
    implementationGuide: ['http://hl7.org/fhir/us/core/ImplementationGuide/hl7.fhir.us.core|6.1.0'],
    rest: [
      {
        mode: 'server',
        documentation: `Every request needs a SMART access token except metadata. patient/ scopes are confined to the patient in context by the database query; resources outside the compartment answer 404 like absent ones. Search: ${searchRules()} Unknown parameters are ignored and reported in an OperationOutcome entry (Prefer: handling=strict makes them 400).`,
        security: {
          cors: true,
          service: [
            {
              coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR', display: 'SMART-on-FHIR' }],
              text: 'OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)',
            },
          ],
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
        resource: allResourceTypes().map((type, _i, all) => restResource(type, all)),
        interaction: [
          {
            code: 'batch',
            documentation: `Each entry is answered as the request it stands for, with the caller's token; at most ${MAX_BATCH_ENTRIES} entries.`,
          },
          {
            code: 'transaction',
            documentation: `All or nothing, on one database transaction: entries are processed DELETE, POST, PUT/PATCH, then GET, each authorized as the request it stands for with the caller's token; urn:uuid fullUrls and conditional references (Type?criteria, exactly one match) are resolved in every entry; the first failing entry rolls back every write and is named in the OperationOutcome. At most ${MAX_BATCH_ENTRIES} entries; no operations.`,
          },
        ],
        searchParam: RESULT_PARAMETERS.map(({ name, type, documentation }) => ({ name, type, documentation })),
        operation: OPERATIONS.filter((o) => o.level === 'system').map(({ name, definition, documentation }) => ({
          name,
          definition,
          ...(documentation ? { documentation } : {}),
        })),
      },
    ],
  };
  cache.set(key, cs);
  return cs;
}
