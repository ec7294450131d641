import { describe, it, expect, beforeAll } from 'vitest';
import type { AuditEvent, Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { recordAudit } from '../audit/record';
import { validateResource } from './medplum';
import { createFhirHandler } from './router';
import { fhirRequest, testTokens } from './test-support';

const tokens = testTokens();
const handle = createFhirHandler();

beforeAll(async () => {
  for (let i = 0; i < 3; i++) {
    await recordAudit({
      kind: 'fhir',
      method: 'GET',
      endpoint: `/fhir/Observation/o${i}`,
      resourceType: 'Observation',
      resourceId: `o${i}`,
      clientId: 'app-1',
      patientId: 'pat-a',
      scopes: 'patient/Observation.rs',
      status: i === 2 ? 404 : 200,
      latencyMs: 2,
      flags: i === 2 ? ['suspected-bola'] : [],
    });
  }
});

describe('GET /fhir/AuditEvent (issue 7: the audit trail as FHIR)', () => {
  it('returns valid AuditEvents, newest first, to a backend-services token with system/AuditEvent.rs', async () => {
    const token = await tokens.issue('system/AuditEvent.rs');
    const res = await handle(fhirRequest('AuditEvent?patient=pat-a&_count=2', token));
    expect(res.status).toBe(200);
    const bundle = (await res.json()) as Bundle<AuditEvent>;
    expect(bundle.type).toBe('searchset');
    expect(bundle.entry).toHaveLength(2);
    for (const e of bundle.entry ?? []) {
      expect(e.resource?.resourceType).toBe('AuditEvent');
      expect(validateResource(e.resource!).filter((i) => i.severity === 'error')).toEqual([]);
    }
    const next = bundle.link?.find((l) => l.relation === 'next')?.url;
    expect(next).toBeDefined();
    const page2 = (await (await handle(fhirRequest(next!.replace('http://localhost:3000/fhir/', ''), token))).json()) as Bundle<AuditEvent>;
    const ids = [...(bundle.entry ?? []), ...(page2.entry ?? [])].map((e) => e.resource?.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(3);

    const one = await handle(fhirRequest(`AuditEvent/${ids[0]}`, token));
    expect(one.status).toBe(200);
  });

  it('refuses a patient token with 403 naming the scope that would allow it', async () => {
    const token = await tokens.issue('patient/*.rs', { patientId: 'pat-a' });
    const res = await handle(fhirRequest('AuditEvent', token));
    expect(res.status).toBe(403);
    const outcome = (await res.json()) as OperationOutcome;
    expect(JSON.stringify(outcome)).toContain('system/AuditEvent.rs');
  });

  it('refuses a user token too: audit records span every patient', async () => {
    const token = await tokens.issue('user/*.rs', { fhirUser: 'Practitioner/p1', userId: 'Practitioner/p1' });
    expect((await handle(fhirRequest('AuditEvent', token))).status).toBe(403);
  });

  it('is read-only and rejects unknown parameters with 400', async () => {
    const token = await tokens.issue('system/AuditEvent.cruds');
    expect((await handle(fhirRequest('AuditEvent', token, { method: 'POST', json: { resourceType: 'AuditEvent' } }))).status).toBe(405);
    expect((await handle(fhirRequest('AuditEvent?evil=1', token))).status).toBe(400);
  });
});
