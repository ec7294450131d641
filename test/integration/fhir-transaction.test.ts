// Transaction Bundles and conditional create over real HTTP, on the suite's database (SQLite, or
// PostgreSQL with TEST_DB=postgresql): urn:uuid references resolved across entries, conditional
// entries, all-or-nothing proved by counting the rows of every table a write touches, and the BOLA
// matrix of transactions: a patient token's transaction that touches another patient's compartment
// by any entry fails entirely, writes nothing and reveals nothing; each entry leaves one audit record.
// Conditional create (If-None-Exist): none → 201, one → 200 without a write, several → 412, and a
// match outside the token's reach is never revealed.
import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest';
import type * as oauth from 'oauth4webapi';
import { createDb } from '../../lib/db';
import { bundleRefs, discover, fhirGet, registerSymmetricClient, runCodeFlow, systemToken } from './support/smart-client';
import type { FhirJson } from './support/smart-client';

const base = inject('baseUrl');
const { db } = createDb(inject('databaseUrl'));
// Deterministic seed (SEED=42): the victim's record is never reachable by the holder's token.
const VICTIM = 'pat-42-0';
const HOLDER = 'pat-42-8';
const run = `${Date.now()}`;

let as: oauth.AuthorizationServer;
let reader = '';
let writer = '';
let holder = '';
let holderClient = '';
let victimObs = '';
let victimObsBefore: FhirJson = {};

interface Answer {
  status: number;
  body: Omit<FhirJson, 'issue' | 'entry'> & {
    type?: string;
    issue?: { severity: string; code: string; diagnostics?: string; expression?: string[] }[];
    entry?: { resource?: FhirJson; response?: { status: string; location?: string; etag?: string; outcome?: FhirJson } }[];
  };
  text: string;
}

async function send(path: string, token: string, method: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${base}/fhir${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', accept: 'application/fhir+json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Answer['body'], text };
}

const transaction = (token: string, entry: unknown[]) => send('', token, 'POST', { resourceType: 'Bundle', type: 'transaction', entry });

/** Rows of every table a FHIR write touches. */
async function rows(): Promise<Record<string, number>> {
  const [resources, versions, tokens, strings, dates, references, quantities, compartments] = await Promise.all([
    db.resource.count(),
    db.resourceVersion.count(),
    db.searchToken.count(),
    db.searchString.count(),
    db.searchDate.count(),
    db.searchReference.count(),
    db.searchQuantity.count(),
    db.compartmentMember.count(),
  ]);
  return { resources, versions, tokens, strings, dates, references, quantities, compartments };
}

const observation = (subject: string, marker: string, value = 70) => ({
  resourceType: 'Observation',
  status: 'final',
  identifier: [{ system: `urn:it-tx:${run}`, value: marker }],
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  subject: { reference: subject },
  effectiveDateTime: '2024-05-06T07:08:09Z',
  valueQuantity: { value, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
});

const statusOf = (e: { response?: { status: string } } | undefined) => Number(e?.response?.status.split(' ')[0]);

beforeAll(async () => {
  as = await discover(base);
  reader = await systemToken(base, as, 'system/*.rs');
  writer = await systemToken(base, as, 'system/Patient.cruds system/Observation.cruds system/Organization.cruds');
  const reg = await registerSymmetricClient(base);
  holderClient = reg.client.client_id;
  const flow = await runCodeFlow(base, as, reg, {
    scope: 'launch/patient openid fhirUser patient/Patient.rs patient/Observation.cruds',
    interaction: { persona: `Patient/${HOLDER}` },
  });
  expect(flow.tokens.patient).toBe(HOLDER);
  holder = flow.tokens.access_token;
  const found = await fhirGet(base, `Observation?patient=${VICTIM}&_count=1`, reader);
  victimObs = found.body.entry?.[0]?.resource?.id ?? '';
  expect(victimObs).not.toBe('');
  victimObsBefore = (await fhirGet(base, `Observation/${victimObs}`, reader)).body;
}, 120_000);

afterAll(async () => {
  await db.$disconnect();
});

describe('transaction Bundles (FHIR R4 http.html §3.1.0.11.2)', () => {
  it('the CapabilityStatement declares batch, transaction and the conditional interactions this file proves', async () => {
    const cap = (await fhirGet(base, 'metadata')).body as {
      rest?: {
        interaction?: { code: string }[];
        resource?: { type: string; conditionalCreate?: boolean; conditionalUpdate?: boolean; conditionalDelete?: string }[];
      }[];
    };
    const rest = cap.rest?.[0];
    expect(rest?.interaction?.map((i) => i.code)).toEqual(expect.arrayContaining(['batch', 'transaction']));
    for (const type of ['Patient', 'Observation', 'Organization']) {
      const r = rest?.resource?.find((x) => x.type === type);
      expect([r?.conditionalCreate, r?.conditionalUpdate, r?.conditionalDelete], type).toEqual([true, true, 'single']);
    }
  });

  it('creates a patient, an organization and observations in one transaction: urn:uuid references resolved in every entry, locations and etags', async () => {
    const patient = `urn:uuid:${crypto.randomUUID()}`;
    const org = `urn:uuid:${crypto.randomUUID()}`;
    const r = await transaction(writer, [
      // Refers to the patient created by a later entry.
      { fullUrl: `urn:uuid:${crypto.randomUUID()}`, request: { method: 'POST', url: 'Observation' }, resource: observation(patient, 'urn-1') },
      {
        fullUrl: patient,
        request: { method: 'POST', url: 'Patient' },
        resource: {
          resourceType: 'Patient',
          identifier: [{ system: `urn:it-tx:${run}`, value: 'p1' }],
          name: [{ family: 'Transactor' }],
          managingOrganization: { reference: org },
        },
      },
      {
        fullUrl: org,
        request: { method: 'POST', url: 'Organization', ifNoneExist: `identifier=urn:it-tx:${run}|org` },
        resource: { resourceType: 'Organization', identifier: [{ system: `urn:it-tx:${run}`, value: 'org' }], name: 'Transaction Clinic' },
      },
      { request: { method: 'GET', url: `Observation?subject=${encodeURIComponent(patient)}` } },
    ]);
    expect(r.status, r.text).toBe(200);
    expect(r.body.resourceType).toBe('Bundle');
    expect(r.body.type).toBe('transaction-response');
    const [obs, pat, organization, search] = r.body.entry ?? [];
    expect([obs, pat, organization].map(statusOf)).toEqual([201, 201, 201]);
    for (const e of [obs, pat, organization]) {
      expect(e?.response?.location).toMatch(new RegExp(`^${base}/fhir/(Observation|Patient|Organization)/[A-Za-z0-9.-]+/_history/1$`));
      expect(e?.response?.etag).toBe('W/"1"');
    }
    const patientId = pat?.resource?.id ?? '';
    const orgId = organization?.resource?.id ?? '';
    // Stored with the references rewritten, read back over HTTP.
    expect((await fhirGet(base, `Observation/${obs?.resource?.id}`, reader)).body.subject).toEqual({ reference: `Patient/${patientId}` });
    expect((await fhirGet(base, `Patient/${patientId}`, reader)).body.managingOrganization).toEqual({ reference: `Organization/${orgId}` });
    // The search ran after the writes, its urn replaced too.
    expect(statusOf(search)).toBe(200);
    expect(bundleRefs(search?.resource ?? {})).toEqual([`Observation/${obs?.resource?.id}`]);

    // Conditional entries: the organization exists (200, no write), the patient is updated by identifier,
    // and an observation refers to it by a conditional reference.
    const again = await transaction(writer, [
      {
        fullUrl: org,
        request: { method: 'POST', url: 'Organization', ifNoneExist: `identifier=urn:it-tx:${run}|org` },
        resource: { resourceType: 'Organization', identifier: [{ system: `urn:it-tx:${run}`, value: 'org' }], name: 'Transaction Clinic' },
      },
      {
        request: { method: 'PUT', url: `Patient?identifier=urn:it-tx:${run}|p1` },
        resource: {
          resourceType: 'Patient',
          identifier: [{ system: `urn:it-tx:${run}`, value: 'p1' }],
          name: [{ family: 'Transacted' }],
          managingOrganization: { reference: org },
        },
      },
      { request: { method: 'POST', url: 'Observation' }, resource: observation(`Patient?identifier=urn:it-tx:${run}|p1`, 'cond-ref') },
    ]);
    expect(again.status, again.text).toBe(200);
    expect((again.body.entry ?? []).map(statusOf)).toEqual([200, 200, 201]);
    expect(again.body.entry?.[0]?.resource?.id).toBe(orgId);
    expect(again.body.entry?.[1]?.resource?.id).toBe(patientId);
    expect(again.body.entry?.[1]?.response?.etag).toBe('W/"2"');
    expect((again.body.entry?.[2]?.resource as { subject?: unknown }).subject).toEqual({ reference: `Patient/${patientId}` });
    expect((await fhirGet(base, `Organization?identifier=urn:it-tx:${run}|org`, reader)).body.entry).toHaveLength(1);

    // Conditional delete of both observations' owner-less leftovers: one match each.
    const cleanup = await transaction(writer, [
      { request: { method: 'DELETE', url: `Observation?identifier=urn:it-tx:${run}|urn-1` } },
      { request: { method: 'DELETE', url: `Observation?identifier=urn:it-tx:${run}|cond-ref` } },
    ]);
    expect(cleanup.status, cleanup.text).toBe(200);
    expect((cleanup.body.entry ?? []).map(statusOf)).toEqual([204, 204]);
    expect((await fhirGet(base, `Observation/${obs?.resource?.id}`, reader)).status).toBe(410);
  });

  it('all or nothing: a failing entry rolls back every write (rows counted in every table) and is named in one OperationOutcome', async () => {
    const own = await send('/Observation', writer, 'POST', observation(`Patient/${HOLDER}`, 'rollback-target', 50));
    expect(own.status).toBe(201);
    const ownId = own.body.id ?? '';
    const toDelete = await send('/Observation', writer, 'POST', observation(`Patient/${HOLDER}`, 'rollback-delete', 51));
    expect(toDelete.status).toBe(201);
    const deletedId = toDelete.body.id ?? '';
    const before = await rows();
    const failures: [string, unknown, number, number][] = [
      // entry 4: a stale If-Match → 412
      ['stale If-Match', { request: { method: 'PUT', url: `Patient/${HOLDER}`, ifMatch: 'W/"7"' }, resource: { resourceType: 'Patient', id: HOLDER } }, 412, 4],
      // entry 4: a read of a missing resource → 404
      ['missing read', { request: { method: 'GET', url: `Observation/missing-${run}` } }, 404, 4],
      // entry 4: an invalid resource → 400
      ['invalid body', { request: { method: 'POST', url: 'Observation' }, resource: { resourceType: 'Observation', id: 'bad id!' } }, 400, 4],
      // entry 4: a conditional reference that matches nothing → 412
      [
        'unmatched conditional reference',
        { request: { method: 'POST', url: 'Observation' }, resource: observation('Patient?identifier=urn:none|none', 'x') },
        412,
        4,
      ],
    ];
    for (const [label, failing, status, index] of failures) {
      const r = await transaction(writer, [
        {
          fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111',
          request: { method: 'POST', url: 'Patient' },
          resource: { resourceType: 'Patient', name: [{ family: 'Never' }] },
        },
        { request: { method: 'POST', url: 'Observation' }, resource: observation('urn:uuid:11111111-1111-4111-8111-111111111111', 'never') },
        { request: { method: 'PUT', url: `Observation/${ownId}` }, resource: { ...observation(`Patient/${HOLDER}`, 'rollback-target', 99), id: ownId } },
        { request: { method: 'DELETE', url: `Observation/${deletedId}` } },
        failing,
      ]);
      expect(r.status, `${label}: ${r.text}`).toBe(status);
      expect(r.body.resourceType, label).toBe('OperationOutcome');
      expect(r.body.issue?.at(-1)?.expression, label).toEqual([`Bundle.entry[${index}]`]);
      expect(r.body.issue?.at(-1)?.diagnostics, label).toContain('nothing was written');
      expect(await rows(), label).toEqual(before);
    }
    const after = (await fhirGet(base, `Observation/${ownId}`, reader)).body;
    expect((after.valueQuantity as { value?: number }).value).toBe(50);
    expect((after.meta as { versionId?: string }).versionId).toBe('1');
    expect((await fhirGet(base, `Observation/${deletedId}`, reader)).status).toBe(200);
    for (const id of [ownId, deletedId]) expect((await send(`/Observation/${id}`, writer, 'DELETE', undefined)).status).toBe(204);
  });

  it('concurrent transactions, failing ones and plain reads all complete; each transaction is all or nothing on its own', async () => {
    const urn = (i: number) => `urn:uuid:33333333-3333-4333-8333-${String(i).padStart(12, '0')}`;
    const family = (kind: string, i: number) => `Concurrent${kind}${run}x${i}`;
    const good = (i: number) =>
      transaction(writer, [
        { fullUrl: urn(i), request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', name: [{ family: family('Kept', i) }] } },
        { request: { method: 'POST', url: 'Observation' }, resource: observation(urn(i), `concurrent-${i}`) },
      ]);
    const bad = (i: number) =>
      transaction(writer, [
        { request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', name: [{ family: family('Lost', i) }] } },
        { request: { method: 'GET', url: `Patient/missing-${run}-${i}` } },
      ]);
    const n = [0, 1, 2, 3];
    const [goods, bads, reads] = await Promise.all([
      Promise.all(n.map(good)),
      Promise.all(n.map(bad)),
      Promise.all([...n, ...n].map(() => fhirGet(base, `Patient/${HOLDER}`, reader))),
    ]);
    expect(goods.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(bads.map((r) => r.status)).toEqual([404, 404, 404, 404]);
    expect(reads.map((r) => r.status)).toEqual(Array(8).fill(200));
    for (const [i, r] of goods.entries()) {
      const patientId = r.body.entry?.[0]?.resource?.id;
      expect((r.body.entry?.[1]?.resource as { subject?: unknown }).subject).toEqual({ reference: `Patient/${patientId}` });
      expect(bundleRefs((await fhirGet(base, `Patient?family=${family('Kept', i)}`, reader)).body)).toEqual([`Patient/${patientId}`]);
      expect((await fhirGet(base, `Patient?family=${family('Lost', i)}`, reader)).body.entry ?? []).toEqual([]);
    }
  });

  it('two writes of one resource, a cycle of references between conditional entries, and operations are refused before anything is written', async () => {
    const before = await rows();
    const overlap = await transaction(writer, [
      { request: { method: 'PUT', url: `Patient/${HOLDER}` }, resource: { resourceType: 'Patient', id: HOLDER } },
      { request: { method: 'DELETE', url: `Patient/${HOLDER}` } },
    ]);
    expect(overlap.status).toBe(400);
    const operation = await transaction(writer, [{ request: { method: 'GET', url: 'Patient/$export' } }]);
    expect(operation.status).toBe(400);
    const org = (self: string, other: string) => ({
      fullUrl: `urn:uuid:${self}`,
      request: { method: 'POST', url: 'Organization', ifNoneExist: `identifier=urn:it-tx:${run}|${self}` },
      resource: { resourceType: 'Organization', identifier: [{ system: `urn:it-tx:${run}`, value: self }], partOf: { reference: `urn:uuid:${other}` } },
    });
    const a = crypto.randomUUID();
    const b = crypto.randomUUID();
    const cycle = await transaction(writer, [org(a, b), org(b, a)]);
    expect(cycle.status, cycle.text).toBe(400);
    expect(cycle.body.issue?.[0]?.diagnostics).toContain('refer to each other');
    const unknown = await transaction(writer, [
      { request: { method: 'POST', url: 'Observation' }, resource: observation('urn:uuid:00000000-0000-4000-8000-000000000000', 'x') },
    ]);
    expect(unknown.status).toBe(400);
    expect(await rows()).toEqual(before);
  });
});

describe('BOLA matrix: transactions of a patient token (docs/CONFORMANCE.md #116, #119)', () => {
  it("the own record is written; any entry touching the other patient's compartment fails the whole transaction, writes nothing and reveals nothing", async () => {
    const ok = await transaction(holder, [
      {
        fullUrl: 'urn:uuid:22222222-2222-4222-8222-222222222222',
        request: { method: 'POST', url: 'Observation' },
        resource: observation(`Patient/${HOLDER}`, 'own-1'),
      },
      { request: { method: 'GET', url: `Patient/${HOLDER}` } },
    ]);
    expect(ok.status, ok.text).toBe(200);
    const ownId = ok.body.entry?.[0]?.resource?.id ?? '';
    expect((await fhirGet(base, `Observation/${ownId}`, reader)).body.subject).toEqual({ reference: `Patient/${HOLDER}` });

    const own = { request: { method: 'POST', url: 'Observation' }, resource: observation(`Patient/${HOLDER}`, 'own-2') };
    const attempts: [string, unknown, number[]][] = [
      ['read the other patient', { request: { method: 'GET', url: `Patient/${VICTIM}` } }, [404]],
      ["read the other patient's Observation", { request: { method: 'GET', url: `Observation/${victimObs}` } }, [404]],
      ['search naming the other patient', { request: { method: 'GET', url: `Observation?patient=${VICTIM}` } }, [403]],
      ['create in the other record', { request: { method: 'POST', url: 'Observation' }, resource: observation(`Patient/${VICTIM}`, 'steal') }, [403, 404, 422]],
      [
        "update the other patient's Observation",
        { request: { method: 'PUT', url: `Observation/${victimObs}` }, resource: { ...observation(`Patient/${HOLDER}`, 'steal'), id: victimObs } },
        [404],
      ],
      ["delete the other patient's Observation", { request: { method: 'DELETE', url: `Observation/${victimObs}` } }, [404]],
      [
        "patch the other patient's Observation",
        {
          request: { method: 'PATCH', url: `Observation/${victimObs}` },
          resource: {
            resourceType: 'Binary',
            contentType: 'application/json-patch+json',
            data: Buffer.from(JSON.stringify([{ op: 'replace', path: '/status', value: 'entered-in-error' }])).toString('base64'),
          },
        },
        [404],
      ],
      [
        'a conditional reference to the other patient',
        { request: { method: 'POST', url: 'Observation' }, resource: observation(`Patient?_id=${VICTIM}`, 'steal') },
        [403],
      ],
    ];
    const before = await rows();
    for (const [label, attempt, statuses] of attempts) {
      const r = await transaction(holder, [own, attempt]);
      expect(statuses, `${label}: ${r.status} ${r.text}`).toContain(r.status);
      expect(r.body.resourceType, label).toBe('OperationOutcome');
      expect(r.body.issue?.at(-1)?.expression, label).toEqual(['Bundle.entry[1]']);
      expect(r.text, label).not.toContain(`"id":"${VICTIM}"`);
      expect(r.text, label).not.toContain('"resourceType":"Observation"');
      expect(await rows(), label).toEqual(before);
    }
    expect((await fhirGet(base, `Observation/${victimObs}`, reader)).body).toEqual(victimObsBefore);

    // Conditional entries only ever match within the token's reach: criteria naming the other
    // patient's Observation match nothing the token may update or delete.
    const condDelete = await transaction(holder, [{ request: { method: 'DELETE', url: `Observation?_id=${victimObs}` } }]);
    expect(condDelete.status).toBe(200);
    expect(statusOf(condDelete.body.entry?.[0])).toBe(204);
    expect((await fhirGet(base, `Observation/${victimObs}`, reader)).body).toEqual(victimObsBefore);
    // A conditional reference the other patient's data would satisfy answers exactly as one nobody satisfies.
    const victim = (await fhirGet(base, `Patient/${VICTIM}`, reader)).body as { identifier?: { system?: string; value?: string }[] };
    const id = victim.identifier?.[0];
    expect(id?.value).toBeTruthy();
    const hidden = await transaction(holder, [
      { request: { method: 'POST', url: 'Observation' }, resource: observation(`Patient?identifier=${id?.system}|${id?.value}`, 'steal') },
    ]);
    const nobody = await transaction(holder, [
      { request: { method: 'POST', url: 'Observation' }, resource: observation(`Patient?identifier=${id?.system}|nobody-${run}`, 'steal') },
    ]);
    expect(hidden.status).toBe(412);
    expect(nobody.status).toBe(412);
    expect(hidden.body.issue?.map((i) => i.code)).toEqual(nobody.body.issue?.map((i) => i.code));
    expect(await rows()).toEqual(before);
    expect((await send(`/Observation/${ownId}`, holder, 'DELETE', undefined)).status).toBe(204);
  });

  it('one audit record per entry, each with its own status; the rolled-back ones say so', async () => {
    const auditor = await systemToken(base, as, 'system/AuditEvent.rs');
    const records = async (): Promise<FhirJson[]> =>
      ((await fhirGet(base, `AuditEvent?agent=${encodeURIComponent(holderClient)}&_count=200`, auditor)).body.entry ?? [])
        .map((e) => e.resource ?? {})
        .filter((r) => JSON.stringify(r).includes('/fhir'));
    const settle = async (n: number) => {
      let found = await records();
      for (let i = 0; i < 40 && found.length < n; i++) {
        await new Promise((r) => setTimeout(r, 100));
        found = await records();
      }
      return found;
    };
    const start = (await settle(0)).length;
    const r = await transaction(holder, [
      { request: { method: 'POST', url: 'Observation' }, resource: observation(`Patient/${HOLDER}`, 'audited') },
      { request: { method: 'GET', url: `Patient/${HOLDER}` } },
      { request: { method: 'GET', url: `Patient/${VICTIM}` } },
    ]);
    expect(r.status).toBe(404);
    // The transaction's own record and one per entry that ran (all three: GETs run last, the failing one last of all).
    const found = await settle(start + 4);
    expect(found.length).toBe(start + 4);
    const text = JSON.stringify(found.slice(0, 4));
    expect(text).toContain('rolled back');
    expect(text).toContain('suspected');
  });
});

describe('conditional create (If-None-Exist, FHIR R4 http.html §3.1.0.8.1)', () => {
  it('none → 201, one → 200 with the existing resource and no write, several → 412', async () => {
    const body = observation(`Patient/${HOLDER}`, 'cc-one');
    const criteria = `identifier=urn:it-tx:${run}|cc-one`;
    const first = await send('/Observation', holder, 'POST', body, { 'if-none-exist': criteria });
    expect(first.status).toBe(201);
    const before = await rows();
    const again = await send('/Observation', holder, 'POST', body, { 'if-none-exist': criteria });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(await rows()).toEqual(before);
    expect((await send('/Observation', writer, 'POST', body)).status).toBe(201);
    const several = await send('/Observation', holder, 'POST', body, { 'if-none-exist': criteria });
    expect(several.status).toBe(412);
    expect(several.body.resourceType).toBe('OperationOutcome');
    expect(await rows()).not.toEqual(before);
    const all = (await fhirGet(base, `Observation?${criteria}`, reader)).body.entry ?? [];
    expect(all).toHaveLength(2);
    for (const e of all) expect((await send(`/Observation/${e.resource?.id}`, writer, 'DELETE', undefined)).status).toBe(204);
  });

  it('the criteria are a search: a create-only token is refused with 403, as its search would be, and nothing is written', async () => {
    const reg = await registerSymmetricClient(base);
    const flow = await runCodeFlow(base, as, reg, {
      scope: 'launch/patient openid fhirUser patient/Observation.c',
      interaction: { persona: `Patient/${HOLDER}` },
    });
    const createOnly = flow.tokens.access_token;
    const body = observation(`Patient/${HOLDER}`, 'cc-create-only');
    const before = await rows();
    const refused = await send('/Observation', createOnly, 'POST', body, { 'if-none-exist': `identifier=urn:it-tx:${run}|cc-create-only` });
    expect(refused.status).toBe(403);
    expect(refused.body.resourceType).toBe('OperationOutcome');
    expect(await rows()).toEqual(before);
    // Control: the plain create is allowed.
    const plain = await send('/Observation', createOnly, 'POST', body);
    expect(plain.status).toBe(201);
    expect((await send(`/Observation/${plain.body.id}`, writer, 'DELETE', undefined)).status).toBe(204);
  });

  it("a match outside the token's reach is never revealed: the patient token creates its own, the system token gets the match", async () => {
    const body = observation(`Patient/${HOLDER}`, 'cc-hidden');
    const hidden = await send('/Observation', holder, 'POST', body, { 'if-none-exist': `_id=${victimObs}` });
    expect(hidden.status).toBe(201);
    expect(hidden.body.id).not.toBe(victimObs);
    expect(hidden.text).not.toContain(VICTIM);
    // Control: the same criteria with a token that reaches the other patient match its Observation.
    const seen = await send('/Observation', writer, 'POST', body, { 'if-none-exist': `_id=${victimObs}` });
    expect(seen.status).toBe(200);
    expect(seen.body.id).toBe(victimObs);
    expect((await fhirGet(base, `Observation/${victimObs}`, reader)).body).toEqual(victimObsBefore);
    expect((await send(`/Observation/${hidden.body.id}`, holder, 'DELETE', undefined)).status).toBe(204);
  });
});

describe('conditional update and delete (FHIR R4 http.html §3.1.0.4.3, §3.1.0.7.1): a search, under the search policy', () => {
  const marker = (m: string) => `identifier=${encodeURIComponent(`urn:it-tx:${run}|${m}`)}`;

  it('a token with update and delete but no search permission is refused with 403 and changes nothing; the plain calls are allowed', async () => {
    const reg = await registerSymmetricClient(base);
    const flow = await runCodeFlow(base, as, reg, {
      scope: 'launch/patient openid fhirUser patient/Observation.rud',
      interaction: { persona: `Patient/${HOLDER}` },
    });
    const noSearch = flow.tokens.access_token;
    const own = await send('/Observation', writer, 'POST', observation(`Patient/${HOLDER}`, 'cu-no-search'));
    expect(own.status).toBe(201);
    const before = await rows();
    const put = await send(`/Observation?${marker('cu-no-search')}`, noSearch, 'PUT', observation(`Patient/${HOLDER}`, 'cu-no-search', 99));
    expect(put.status).toBe(403);
    expect(put.body.resourceType).toBe('OperationOutcome');
    expect(put.text).toContain('.s');
    const del = await send(`/Observation?${marker('cu-no-search')}`, noSearch, 'DELETE', undefined);
    expect(del.status).toBe(403);
    // The same refusal whether or not anything matches: nothing is learnt from it.
    expect((await send(`/Observation?${marker('cu-nothing-matches')}`, noSearch, 'DELETE', undefined)).status).toBe(403);
    expect(await rows()).toEqual(before);
    expect((await fhirGet(base, `Observation/${own.body.id}`, reader)).body.valueQuantity).toEqual(own.body.valueQuantity);
    // Control: the same token updates and deletes the resource by id.
    const body = { ...observation(`Patient/${HOLDER}`, 'cu-no-search', 98), id: own.body.id };
    expect((await send(`/Observation/${own.body.id}`, noSearch, 'PUT', body)).status).toBe(200);
    expect((await send(`/Observation/${own.body.id}`, noSearch, 'DELETE', undefined)).status).toBe(204);
  });

  it('one match is updated or deleted, none creates (update) or does nothing (delete), several are 412', async () => {
    const first = await send(`/Observation?${marker('cu-flow')}`, holder, 'PUT', observation(`Patient/${HOLDER}`, 'cu-flow', 71));
    expect(first.status).toBe(201);
    const again = await send(`/Observation?${marker('cu-flow')}`, holder, 'PUT', observation(`Patient/${HOLDER}`, 'cu-flow', 72));
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect((again.body.meta as { versionId?: string } | undefined)?.versionId).toBe('2');
    expect((await send('/Observation', holder, 'POST', observation(`Patient/${HOLDER}`, 'cu-flow'))).status).toBe(201);
    const before = await rows();
    expect((await send(`/Observation?${marker('cu-flow')}`, holder, 'PUT', observation(`Patient/${HOLDER}`, 'cu-flow', 73))).status).toBe(412);
    expect((await send(`/Observation?${marker('cu-flow')}`, holder, 'DELETE', undefined)).status).toBe(412);
    expect(await rows()).toEqual(before);
    for (const e of (await fhirGet(base, `Observation?${marker('cu-flow')}`, reader)).body.entry ?? [])
      expect((await send(`/Observation?_id=${e.resource?.id}`, holder, 'DELETE', undefined)).status).toBe(204);
    expect((await fhirGet(base, `Observation?${marker('cu-flow')}`, reader)).body.entry ?? []).toEqual([]);
    expect((await send(`/Observation?${marker('cu-flow')}`, holder, 'DELETE', undefined)).status).toBe(204);
  });
});

describe("BOLA matrix: conditional update and delete of a patient token never reach another patient's resource", () => {
  const marker = (m: string) => `identifier=${encodeURIComponent(`urn:it-tx:${run}|${m}`)}`;

  it("a match in the other patient's compartment behaves as no match: no 412, no update, no delete, nothing revealed", async () => {
    // The same identifier on one Observation of each patient: the system token sees two.
    const victims = await send('/Observation', writer, 'POST', observation(`Patient/${VICTIM}`, 'cu-shared', 60));
    expect(victims.status).toBe(201);
    const victimBefore = (await fhirGet(base, `Observation/${victims.body.id}`, reader)).body;
    const owned = await send('/Observation', writer, 'POST', observation(`Patient/${HOLDER}`, 'cu-shared', 61));
    expect(owned.status).toBe(201);
    // Control: with a token that reaches both, the criteria match twice.
    expect((await send(`/Observation?${marker('cu-shared')}`, writer, 'PUT', observation(`Patient/${HOLDER}`, 'cu-shared', 62))).status).toBe(412);
    expect((await send(`/Observation?${marker('cu-shared')}`, writer, 'DELETE', undefined)).status).toBe(412);

    // The patient token sees only its own: the update is of its own Observation, not a 412.
    const put = await send(`/Observation?${marker('cu-shared')}`, holder, 'PUT', observation(`Patient/${HOLDER}`, 'cu-shared', 63));
    expect(put.status).toBe(200);
    expect(put.body.id).toBe(owned.body.id);
    expect(put.text).not.toContain(VICTIM);
    // By the other patient's id: no match, so a new Observation of its own; the other one untouched.
    const byId = await send(`/Observation?_id=${victims.body.id}`, holder, 'PUT', observation(`Patient/${HOLDER}`, 'cu-by-id', 64));
    expect(byId.status).toBe(201);
    expect(byId.body.id).not.toBe(victims.body.id);
    expect(byId.text).not.toContain(VICTIM);
    expect((await send(`/Observation?_id=${victimObs}`, holder, 'DELETE', undefined)).status).toBe(204);
    expect((await send(`/Observation?_id=${victims.body.id}`, holder, 'DELETE', undefined)).status).toBe(204);
    expect((await send(`/Observation?${marker('cu-shared')}`, holder, 'DELETE', undefined)).status).toBe(204);
    // Naming the other patient is refused as the search would be (docs/CONFORMANCE.md #119).
    for (const method of ['PUT', 'DELETE']) {
      const named = await send(`/Observation?patient=${VICTIM}`, holder, method, method === 'PUT' ? observation(`Patient/${HOLDER}`, 'cu-named') : undefined);
      expect(named.status, method).toBe(403);
      expect(named.text).not.toContain(victims.body.id as string);
    }

    // Every Observation of the other patient is as it was; the holder's own was deleted.
    expect((await fhirGet(base, `Observation/${victims.body.id}`, reader)).body).toEqual(victimBefore);
    expect((await fhirGet(base, `Observation/${victimObs}`, reader)).body).toEqual(victimObsBefore);
    expect((await fhirGet(base, `Observation/${owned.body.id}`, reader)).status).toBe(410);
    expect((await send(`/Observation/${victims.body.id}`, writer, 'DELETE', undefined)).status).toBe(204);
    expect((await send(`/Observation/${byId.body.id}`, holder, 'DELETE', undefined)).status).toBe(204);
  });

  it("conditional entries of a transaction follow the same rule: the other patient's match is not found, the transaction does not leak it", async () => {
    const victims = await send('/Observation', writer, 'POST', observation(`Patient/${VICTIM}`, 'cu-tx', 50));
    const victimBefore = (await fhirGet(base, `Observation/${victims.body.id}`, reader)).body;
    const result = await transaction(holder, [
      { request: { method: 'DELETE', url: `Observation?${marker('cu-tx')}` } },
      { resource: observation(`Patient/${HOLDER}`, 'cu-tx-new', 51), request: { method: 'PUT', url: `Observation?_id=${victims.body.id}` } },
    ]);
    expect(result.status).toBe(200);
    expect(result.body.entry?.map(statusOf)).toEqual([204, 201]);
    expect(result.text).not.toContain(VICTIM);
    expect((await fhirGet(base, `Observation/${victims.body.id}`, reader)).body).toEqual(victimBefore);
    const created = /\/Observation\/([^/]+)\/_history\//.exec(result.body.entry?.[1]?.response?.location ?? '')?.[1];
    expect(created).toBeDefined();
    expect((await send(`/Observation/${created}`, holder, 'DELETE', undefined)).status).toBe(204);
    expect((await send(`/Observation/${victims.body.id}`, writer, 'DELETE', undefined)).status).toBe(204);
  });
});
