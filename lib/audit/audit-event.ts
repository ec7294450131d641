/**
 * An audit record as a FHIR R4 AuditEvent (served at GET /fhir/AuditEvent to admin tokens and in
 * the console's FHIR export). Codes from the R4 value sets: audit-event-type (DICOM DCM + FHIR
 * `rest`), restful-interaction subtypes, audit-event-action, audit-event-outcome,
 * security-source-type, audit-entity-type and object-role. FHIR R4 §auditevent.
 */
import type { AuditEvent, AuditEventAgent, AuditEventEntity, Coding, Reference } from '@medplum/fhirtypes';
import type { AuditRecord } from '../generated/sqlite/client';
import { referencePattern } from '../fhir-id';

/** Code system of the sandbox's own codes (OAuth endpoints, flags). */
export const SANDBOX_CODE_SYSTEM = 'urn:smart-sandbox:audit';

const REST: Coding = { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' };
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const USER_AUTHENTICATION: Coding = { system: DCM, code: '110114', display: 'User Authentication' };
const APPLICATION_ACTIVITY: Coding = { system: DCM, code: '110100', display: 'Application Activity' };
const RESTFUL = 'http://hl7.org/fhir/restful-interaction';

const INTERACTIONS: Record<string, { code: string; display: string; action: AuditEvent['action'] }> = {
  read: { code: 'read', display: 'read', action: 'R' },
  vread: { code: 'vread', display: 'vread', action: 'R' },
  search: { code: 'search-type', display: 'search type', action: 'E' },
  history: { code: 'history-instance', display: 'history instance', action: 'R' },
  create: { code: 'create', display: 'create', action: 'C' },
  update: { code: 'update', display: 'update', action: 'U' },
  delete: { code: 'delete', display: 'delete', action: 'D' },
  operation: { code: 'operation', display: 'operation', action: 'E' },
  capabilities: { code: 'capabilities', display: 'capabilities', action: 'R' },
};

function methodAction(method: string): AuditEvent['action'] {
  switch (method.toUpperCase()) {
    case 'GET':
    case 'HEAD':
      return 'R';
    case 'PUT':
    case 'PATCH':
      return 'U';
    case 'DELETE':
      return 'D';
    default:
      return 'E';
  }
}

// audit-event-outcome: 0 success, 4 minor failure (the request was refused), 8 serious failure (server error).
function outcomeCode(status: number): AuditEvent['outcome'] {
  if (status >= 500) return '8';
  if (status >= 400) return '4';
  return '0';
}

const USER_REFERENCE = referencePattern(['Practitioner', 'Patient', 'RelatedPerson', 'PractitionerRole']);

function userReference(userId: string): AuditEventAgent['who'] {
  if (USER_REFERENCE.test(userId)) return { reference: userId } as AuditEventAgent['who'];
  return { identifier: { system: `${SANDBOX_CODE_SYSTEM}:user`, value: userId }, display: userId };
}

/** Maps one audit record to a FHIR R4 AuditEvent. */
export function toAuditEvent(r: AuditRecord): AuditEvent {
  const interactionName = r.kind === 'fhir' ? ((r.detail ?? '').split(':')[0]?.trim() ?? '') : '';
  const interaction = Object.hasOwn(INTERACTIONS, interactionName) ? INTERACTIONS[interactionName] : undefined;

  let type: Coding;
  const subtype: Coding[] = [];
  if (r.kind === 'fhir') {
    type = REST;
    if (interaction) subtype.push({ system: RESTFUL, code: interaction.code, display: interaction.display });
  } else if (r.kind === 'oauth' || r.kind === 'launch') {
    type = r.kind === 'oauth' ? USER_AUTHENTICATION : APPLICATION_ACTIVITY;
    const path = r.endpoint.split('?')[0] ?? r.endpoint;
    const code = path.startsWith('/interaction/') ? 'interaction' : path.replace(/^\/(oauth\/)?/, '') || 'request';
    subtype.push({ system: SANDBOX_CODE_SYSTEM, code, display: path.startsWith('/interaction/') ? 'sign-in / consent' : path });
  } else {
    type = APPLICATION_ACTIVITY;
    subtype.push({ system: SANDBOX_CODE_SYSTEM, code: 'console', display: 'developer console' });
  }

  const agents: AuditEventAgent[] = [];
  const network = r.ip ? { address: r.ip, type: '2' as const } : undefined;
  if (r.clientId) {
    agents.push({
      type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110150', display: 'Application' }] },
      who: { identifier: { system: `${SANDBOX_CODE_SYSTEM}:client`, value: r.clientId }, display: r.clientId },
      requestor: r.userId === null,
      ...(network ? { network } : {}),
    });
  }
  if (r.userId) {
    agents.push({
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP', display: 'information recipient' }] },
      who: userReference(r.userId),
      requestor: true,
      ...(network && !r.clientId ? { network } : {}),
    });
  }
  if (agents.length === 0) {
    agents.push({
      who: { display: r.userAgent ? `unidentified caller (${r.userAgent.slice(0, 80)})` : 'unidentified caller' },
      requestor: true,
      ...(network ? { network } : {}),
    });
  }

  const entities: AuditEventEntity[] = [];
  if (r.resourceType) {
    const what: Reference = r.resourceId ? { reference: `${r.resourceType}/${r.resourceId}` } : { display: r.resourceType };
    const query = r.kind === 'fhir' && r.endpoint.includes('?') ? r.endpoint.slice(r.endpoint.indexOf('?') + 1) : null;
    entities.push({
      what,
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
      ...(query ? { query: Buffer.from(query, 'utf8').toString('base64') } : {}),
    });
  }
  if (r.patientId) {
    entities.push({
      what: { reference: `Patient/${r.patientId}` },
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
    });
  }
  const details: { type: string; valueString: string }[] = [
    { type: 'endpoint', valueString: `${r.method} ${r.endpoint}` },
    { type: 'status', valueString: String(r.status) },
  ];
  if (r.scopes) details.push({ type: 'scopes', valueString: r.scopes });
  if (r.flags) details.push({ type: 'flags', valueString: r.flags });
  if (r.resultCount !== null) details.push({ type: 'resultCount', valueString: String(r.resultCount) });
  if (r.launchId) details.push({ type: 'launch', valueString: r.launchId });
  details.push({ type: 'latencyMs', valueString: r.latencyMs.toFixed(1) });
  entities.push({
    what: { display: `${r.method} ${r.endpoint}`.slice(0, 500) },
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
    description: r.kind === 'fhir' ? 'FHIR request' : r.kind === 'oauth' ? 'OAuth request' : `${r.kind} request`,
    detail: details,
  });

  const outcomeDesc = [r.errorCode, r.detail].filter((s): s is string => !!s).join(': ');
  return {
    resourceType: 'AuditEvent',
    id: r.id,
    meta: { lastUpdated: r.at.toISOString() },
    type,
    ...(subtype.length ? { subtype } : {}),
    action: interaction?.action ?? methodAction(r.method),
    period: { start: r.at.toISOString(), end: new Date(r.at.getTime() + Math.max(0, Math.round(r.latencyMs))).toISOString() },
    recorded: r.at.toISOString(),
    outcome: outcomeCode(r.status),
    ...(outcomeDesc ? { outcomeDesc: outcomeDesc.slice(0, 1000) } : {}),
    agent: agents,
    source: {
      site: 'SMART Sandbox',
      observer: { display: 'SMART Sandbox' },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '3', display: 'Web Server' }],
    },
    entity: entities,
  };
}
