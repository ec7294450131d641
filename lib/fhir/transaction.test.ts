/**
 * Transaction Bundles through the FHIR handler (lib/fhir/transaction.ts): urn:uuid resolution in
 * every entry whatever the order, conditional entries and references, all-or-nothing (proved by
 * counting rows), identity overlaps, and the audit record of each entry.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, BundleEntry, OperationOutcome } from '@medplum/fhirtypes';
import { getDb } from '../db';
import { ResourceStore } from './store';
import { load, patientRecord, sharedResources } from './test-fixtures';
import { fhirRequest, testHandler, testTokens } from './test-support';

const A = 'tx-a';
const B = 'tx-b';
const store = new ResourceStore();
const tokens = testTokens();
const { handle, audits } = testHandler();
const user = await tokens.issue('user/*.cruds', { fhirUser: 'Practitioner/prac-1' });
const patientA = await tokens.issue('patient/*.cruds', { patientId: A });

beforeAll(async () => {
  await load(store, 'default', [...sharedResources(), ...patientRecord(A, 'Tauber', 'tag-ta'), ...patientRecord(B, 'Tiller', 'tag-tb')]);
});

/** A transaction-response Bundle, or the OperationOutcome of a failed transaction. */
type Answer = Omit<Bundle, 'resourceType'> & Omit<OperationOutcome, 'resourceType'> & { resourceType: string };

async function transaction(entries: BundleEntry[], token = user): Promise<{ status: number; body: Answer }> {
  const res = await handle(fhirRequest('', token, { method: 'POST', json: { resourceType: 'Bundle', type: 'transaction', entry: entries } }));
  return { status: res.status, body: (await res.json()) as Answer };
}

async function rows(): Promise<{ resources: number; versions: number; tokens: number; references: number; compartments: number }> {
  const db = getDb();
  const [resources, versions, tokens, references, compartments] = await Promise.all([
    db.resource.count(),
    db.resourceVersion.count(),
    db.searchToken.count(),
    db.searchReference.count(),
    db.compartmentMember.count(),
  ]);
  return { resources, versions, tokens, references, compartments };
}

const obs = (subject: string, marker: string) => ({
  resourceType: 'Observation' as const,
  status: 'final' as const,
  identifier: [{ system: 'urn:tx', value: marker }],
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  subject: { reference: subject },
  effectiveDateTime: '2024-01-02T03:04:05Z',
  valueQuantity: { value: 70, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
});

describe('transaction Bundles', () => {
  it('creates a patient and its observations, resolving urn:uuid references in entries before and after it', async () => {
    const p = 'urn:uuid:3f1c0f6e-0000-4000-8000-000000000001';
    const o = 'urn:uuid:3f1c0f6e-0000-4000-8000-000000000002';
    const r = await transaction([
      { fullUrl: o, request: { method: 'POST', url: 'Observation' }, resource: obs(p, 'tx-1') },
      {
        fullUrl: p,
        request: { method: 'POST', url: 'Patient' },
        resource: {
          resourceType: 'Patient',
          name: [{ family: 'Urnson' }],
          text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml"><a href="${o}">obs</a></div>` },
        },
      },
      { request: { method: 'GET', url: `Observation?subject=${encodeURIComponent(p)}` } },
    ]);
    expect(r.status).toBe(200);
    expect(r.body.type).toBe('transaction-response');
    const [e0, e1, e2] = r.body.entry!;
    expect(e0!.response!.status).toMatch(/^201/);
    expect(e1!.response!.status).toMatch(/^201/);
    expect(e1!.response!.location).toMatch(/\/Patient\/[^/]+\/_history\/1$/);
    expect(e0!.response!.etag).toBe('W/"1"');
    const patientId = e1!.resource!.id!;
    expect((e0!.resource as { subject?: { reference?: string } }).subject?.reference).toBe(`Patient/${patientId}`);
    expect((e1!.resource as { text?: { div?: string } }).text?.div).toContain(`href="Observation/${e0!.resource!.id}"`);
    // The search ran last, with the urn replaced: it finds the observation created in the same transaction.
    expect((e2!.resource as Bundle).entry?.map((e) => e.resource?.id)).toEqual([e0!.resource!.id]);
  });

  it('rolls back every write when one entry fails, and names the failing entry', async () => {
    const before = await rows();
    const r = await transaction([
      { fullUrl: 'urn:uuid:a', request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', name: [{ family: 'Gone' }] } },
      { request: { method: 'POST', url: 'Observation' }, resource: obs('urn:uuid:a', 'tx-rollback') },
      { request: { method: 'PUT', url: `Patient/${A}` }, resource: { resourceType: 'Patient', id: A, name: [{ family: 'Changed' }] } },
      { request: { method: 'DELETE', url: `Observation/${A}-lab` } },
      { request: { method: 'GET', url: 'Observation/does-not-exist' } },
    ]);
    expect(r.status).toBe(404);
    expect(r.body.resourceType).toBe('OperationOutcome');
    expect(r.body.issue?.at(-1)?.expression).toEqual(['Bundle.entry[4]']);
    expect(await rows()).toEqual(before);
    expect(((await store.read('default', 'Patient', A)).resource as { name?: { family?: string }[] }).name?.[0]?.family).toBe('Tauber');
  });

  it('conditional create, update and delete, and conditional references', async () => {
    const first = await transaction([
      {
        fullUrl: 'urn:uuid:org',
        request: { method: 'POST', url: 'Organization', ifNoneExist: 'identifier=urn:tx|org-1' },
        resource: { resourceType: 'Organization', identifier: [{ system: 'urn:tx', value: 'org-1' }], name: 'Tx Org' },
      },
      {
        request: { method: 'POST', url: 'Patient' },
        resource: { resourceType: 'Patient', identifier: [{ system: 'urn:tx', value: 'pat-1' }], managingOrganization: { reference: 'urn:uuid:org' } },
      },
    ]);
    expect(first.status).toBe(200);
    const orgId = first.body.entry![0]!.resource!.id!;
    const second = await transaction([
      {
        fullUrl: 'urn:uuid:org2',
        request: { method: 'POST', url: 'Organization', ifNoneExist: 'identifier=urn:tx|org-1' },
        resource: { resourceType: 'Organization', identifier: [{ system: 'urn:tx', value: 'org-1' }], name: 'Tx Org' },
      },
      {
        fullUrl: 'urn:uuid:pat',
        request: { method: 'PUT', url: 'Patient?identifier=urn:tx|pat-1' },
        resource: {
          resourceType: 'Patient',
          identifier: [{ system: 'urn:tx', value: 'pat-1' }],
          managingOrganization: { reference: 'urn:uuid:org2' },
          gender: 'other',
        },
      },
      // A create processed before the conditional update it refers to: that update runs first.
      { request: { method: 'POST', url: 'Observation' }, resource: obs('urn:uuid:pat', 'tx-cond') },
      { request: { method: 'POST', url: 'Observation' }, resource: obs('Patient?identifier=urn:tx|pat-1', 'tx-condref') },
      // A conditional reference whose criteria name another entry.
      {
        request: { method: 'POST', url: 'Observation' },
        resource: { ...obs('urn:uuid:pat', 'tx-chained'), hasMember: [{ reference: 'Observation?subject=urn:uuid:pat&identifier=urn:tx|tx-cond' }] },
      },
    ]);
    expect(second.status).toBe(200);
    const [org, pat, o1, o2] = second.body.entry!;
    expect(org!.response!.status).toMatch(/^200/);
    expect(org!.resource!.id).toBe(orgId);
    expect(pat!.response!.status).toMatch(/^200/);
    const patId = pat!.resource!.id!;
    expect((pat!.resource as { managingOrganization?: { reference?: string } }).managingOrganization?.reference).toBe(`Organization/${orgId}`);
    expect((o1!.resource as { subject?: { reference?: string } }).subject?.reference).toBe(`Patient/${patId}`);
    expect((o2!.resource as { subject?: { reference?: string } }).subject?.reference).toBe(`Patient/${patId}`);
    expect((second.body.entry![4]!.resource as { hasMember?: { reference?: string }[] }).hasMember?.[0]?.reference).toBe(`Observation/${o1!.resource!.id}`);
    // A conditional reference with no match fails the whole transaction with 412.
    const before = await rows();
    const none = await transaction([
      { request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient' } },
      { request: { method: 'POST', url: 'Observation' }, resource: obs('Patient?identifier=urn:tx|nobody', 'tx-none') },
    ]);
    expect(none.status).toBe(412);
    expect(await rows()).toEqual(before);
    // Conditional delete.
    const del = await transaction([{ request: { method: 'DELETE', url: 'Observation?identifier=urn:tx|tx-condref' } }]);
    expect(del.status).toBe(200);
    expect(del.body.entry![0]!.response!.status).toMatch(/^204/);
    expect((await handle(fhirRequest(`Observation/${o2!.resource!.id}`, user))).status).toBe(410);
  });

  it('two writes of one resource, or malformed entries, fail the transaction before anything is written', async () => {
    const before = await rows();
    for (const entry of [
      { fullUrl: 7, request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient' } },
      { request: { method: 'POST', url: 'Patient', ifNoneExist: 7 }, resource: { resourceType: 'Patient' } },
      { request: { method: 'POST', url: 'Patient' }, resource: 'not a resource' },
      { request: { method: 'PUT', url: 'Patient/x' } },
      null,
    ])
      expect((await transaction([entry as unknown as BundleEntry])).status, JSON.stringify(entry)).toBe(400);
    const r = await transaction([
      { request: { method: 'PUT', url: `Patient/${A}` }, resource: { resourceType: 'Patient', id: A } },
      { request: { method: 'DELETE', url: `Patient/${A}` } },
    ]);
    expect(r.status).toBe(400);
    expect(await rows()).toEqual(before);
  });

  it("a patient token's entry in another patient's compartment fails the whole transaction; one audit record per entry", async () => {
    const before = await rows();
    audits.length = 0;
    const r = await transaction(
      [
        { request: { method: 'POST', url: 'Observation' }, resource: obs(`Patient/${A}`, 'tx-own') },
        { request: { method: 'PUT', url: `Observation/${B}-lab` }, resource: { ...obs(`Patient/${A}`, 'tx-steal'), id: `${B}-lab` } },
      ],
      patientA,
    );
    expect(r.status).toBe(404);
    expect(await rows()).toEqual(before);
    const isOuter = (a: (typeof audits)[number]) => a.detail?.startsWith('transaction') ?? false;
    const records = audits.filter((a) => !isOuter(a));
    expect(records.map((a) => [a.method, a.status])).toEqual([
      ['POST', 201],
      ['PUT', 404],
    ]);
    expect(records[0]!.detail).toContain('rolled back');
    expect(audits.filter(isOuter).map((a) => [a.status, a.detail])).toEqual([[404, 'transaction: failed at Bundle.entry[1] with 404; rolled back']]);
  });
});
