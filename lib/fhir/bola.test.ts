/**
 * The BOLA matrix: a patient-scoped token for patient A never returns, counts or reveals anything
 * of patient B — by any resource type, any search parameter (built from B's own index rows, so
 * every parameter family and value form is exercised), _include/_revinclude, history, vread,
 * $everything or paging. The same queries with a practitioner token must find B's resources,
 * which proves each query really targets B's data (the matrix is not vacuous).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { ResourceStore } from './store';
import { CANONICAL_TARGET, indexResource } from './indexer';
import { getTypeDefinition } from './definitions';
import { load, patientRecord, sharedResources } from './test-fixtures';
import { fhirRequest, testHandler, testTokens } from './test-support';
import { encodePagingCursor } from './paging-cursor';

const A = 'pat-a';
const B = 'pat-b';
const recordA = patientRecord(A, 'Anders', 'tag-a');
const recordB = patientRecord(B, 'Berger', 'SECRET-B');
const idsB = new Set(recordB.map((r) => `${r.resourceType}/${r.id}`));
const types = [...new Set(recordB.map((r) => r.resourceType))];

const tokens = testTokens();
const { handle, audits } = testHandler();
const patientTokens = {
  v1: await tokens.issue('launch/patient openid fhirUser patient/*.read', { patientId: A, fhirUser: `Patient/${A}` }),
  v2: await tokens.issue('launch/patient patient/*.rs', { patientId: A }),
  v2typed: await tokens.issue(
    types.map((t) => `patient/${t}.rs`).join(' ') + ' patient/Medication.rs patient/Practitioner.rs patient/Organization.rs patient/Location.rs',
    { patientId: A },
  ),
};
const userToken = await tokens.issue('user/*.rs', { fhirUser: 'Practitioner/prac-1' });

beforeAll(async () => {
  const store = new ResourceStore();
  await load(store, 'default', [...sharedResources(), ...recordA, ...recordB]);
});

async function get(path: string, token: string): Promise<{ status: number; text: string; body: Bundle & Resource }> {
  const res = await handle(fhirRequest(path, token));
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as Bundle & Resource };
}

/** Asserts that nothing of B is in a response: no resource, no tag, no id in links or cursors. */
function assertNothingOfB(path: string, r: { status: number; text: string; body: Bundle & Resource }): void {
  // Links echo the caller's own query (which may name B); everything else must not mention B.
  const withoutLinks = JSON.stringify({ ...r.body, link: undefined });
  expect(withoutLinks, path).not.toContain('SECRET-B');
  expect(withoutLinks, path).not.toContain('Berger');
  if (r.body.resourceType === 'Bundle') {
    for (const e of r.body.entry ?? []) {
      const res = e.resource;
      if (res && res.resourceType !== 'OperationOutcome')
        expect(idsB.has(`${res.resourceType}/${res.id}`), `${path} returned ${res.resourceType}/${res.id}`).toBe(false);
    }
    for (const l of r.body.link ?? []) {
      const cursor = new URL(l.url).searchParams.get('_cursor');
      if (cursor) expect(Buffer.from(cursor, 'base64url').toString('utf8')).not.toMatch(/pat-b/);
    }
  }
}

/** Search values that select B's resource, built from its own index rows (every parameter family). */
function queriesSelecting(resource: Resource): string[] {
  const index = indexResource(resource);
  const q: string[] = [];
  const enc = encodeURIComponent;
  for (const t of index.tokens) {
    if (t.code && t.system) q.push(`${t.param}=${enc(`${t.system}|${t.code}`)}`);
    if (t.code) q.push(`${t.param}=${enc(t.code)}`);
    if (t.text) q.push(`${t.param}:text=${enc(t.text.slice(0, 5))}`);
  }
  for (const s of index.strings) {
    q.push(`${s.param}=${enc(s.value.slice(0, 3))}`, `${s.param}:exact=${enc(s.exact)}`, `${s.param}:contains=${enc(s.value.slice(1, 4))}`);
  }
  for (const d of index.dates) {
    if (d.start > -8e15)
      q.push(
        `${d.param}=${enc(new Date(d.start).toISOString())}`,
        `${d.param}=ge${enc(new Date(d.start).toISOString())}`,
        `${d.param}=le${enc(new Date(d.start).toISOString().slice(0, 10))}`,
      );
  }
  for (const r of index.references) {
    if (r.targetType === CANONICAL_TARGET) q.push(`${r.param}=${enc(r.targetId)}`);
    else q.push(`${r.param}=${enc(`${r.targetType}/${r.targetId}`)}`, `${r.param}=${enc(r.targetId)}`);
  }
  for (const n of index.quantities) q.push(`${n.param}=${n.value}`, `${n.param}=ge${n.value}`);
  const present = new Set([...index.tokens, ...index.strings, ...index.dates, ...index.references, ...index.quantities].map((r) => r.param));
  for (const p of present) q.push(`${p}:missing=false`);
  q.push(`_id=${resource.id}`, `_lastUpdated=ge2000-01-01`, `_tag=${enc('urn:test|SECRET-B')}`);
  return [...new Set(q)];
}

/** True when a query names patient B (as `Patient/B`, or as B's bare id). */
function namesB(query: string): boolean {
  const value = decodeURIComponent(query.slice(query.indexOf('=') + 1));
  return value === `Patient/${B}` || value === B;
}

describe('BOLA matrix: patient A token vs patient B data', () => {
  for (const resource of recordB) {
    const type = resource.resourceType;
    const id = resource.id!;
    it(`${type}: every search parameter selecting B's resource finds it with a user token and never with A's tokens`, async () => {
      for (const query of queriesSelecting(resource)) {
        const path = `${type}?${query}&_total=accurate`;
        const asUser = await get(path, userToken);
        expect(asUser.status, path).toBe(200);
        expect(
          asUser.body.entry?.some((e) => e.resource?.id === id),
          `user token should find ${type}/${id} with ${query}`,
        ).toBe(true);
        for (const [name, token] of Object.entries(patientTokens)) {
          const r = await get(path, token);
          // A query that names patient B is refused outright (docs/CONFORMANCE.md #119); every other one answers only A's data.
          if (r.status === 403) {
            expect(namesB(query), `${name} ${path}: 403 only for a query naming patient B`).toBe(true);
            expect(r.body.resourceType).toBe('OperationOutcome');
            assertNothingOfB(`${name} ${path}`, r);
            continue;
          }
          expect(r.status, `${name} ${path}`).toBe(200);
          assertNothingOfB(`${name} ${path}`, r);
          const matches = (r.body.entry ?? []).filter((e) => e.search?.mode === 'match').length;
          expect(r.body.total, `${name} ${path}: total counts only A's`).toBe(matches);
          const counted = await get(`${type}?${query}&_summary=count`, token);
          expect(counted.body.total, `${name} ${path} _summary=count`).toBe(matches);
        }
      }
    });

    it(`${type}: read, vread and instance history of B's resource are 404 for A, like absence`, async () => {
      for (const token of Object.values(patientTokens)) {
        for (const path of [`${type}/${id}`, `${type}/${id}/_history/1`, `${type}/${id}/_history`]) {
          const r = await get(path, token);
          const absent = await get(path.replace(id, 'no-such-id'), token);
          expect(r.status, path).toBe(404);
          expect(r.text.replace(id, 'X')).toBe(absent.text.replace('no-such-id', 'X'));
        }
      }
      const audit = audits.findLast((a) => a.endpoint === `/fhir/${type}/${id}/_history`);
      expect(audit?.flags).toContain('suspected-bola');
    });

    it(`${type}: an unfiltered search, type history and a search naming B return only A's data`, async () => {
      const own = recordA.filter((r) => r.resourceType === type).length;
      for (const token of Object.values(patientTokens)) {
        const all = await get(`${type}?_total=accurate`, token);
        assertNothingOfB(type, all);
        expect(all.body.total).toBe(own);
        for (const e of all.body.entry ?? []) expect(indexResource(e.resource!).compartments).toContain(A);
        const hist = await get(`${type}/_history`, token);
        expect(hist.status).toBe(200);
        assertNothingOfB(`${type}/_history`, hist);
        for (const p of ['patient', 'subject', 'beneficiary', 'link']) {
          if (!getTypeDefinition(type)?.params.has(p)) continue;
          // docs/CONFORMANCE.md #119, #175: refused with 403, not answered with an empty Bundle.
          const r = await get(`${type}?${p}=Patient/${B}&_total=accurate`, token);
          expect(r.status, `${type}?${p}=Patient/${B}`).toBe(403);
          expect(r.body.resourceType).toBe('OperationOutcome');
          assertNothingOfB(`${type}?${p}=B`, r);
        }
      }
    });
  }

  it('Patient?_id=B and Observation?subject=Patient/B are refused with 403 (GET and POST _search); Patient/B/$everything is 404', async () => {
    for (const token of Object.values(patientTokens)) {
      for (const path of [
        `Patient?_id=${B}&_total=accurate`,
        `Patient?_id=${A},${B}&_total=accurate`,
        `Observation?subject=Patient/${B}&_total=accurate`,
        `Observation?patient=${B}&_summary=count`,
      ]) {
        const r = await get(path, token);
        expect(r.status, path).toBe(403);
        expect(r.body.resourceType, path).toBe('OperationOutcome');
        assertNothingOfB(path, r);
      }
      const post = await handle(
        fhirRequest('Observation/_search', token, {
          method: 'POST',
          body: `subject=Patient/${B}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }),
      );
      expect(post.status).toBe(403);
      expect((await get(`Patient?_id=${A}&_total=accurate`, token)).body.total).toBe(1);
      expect((await get(`Patient/${B}/$everything`, token)).status).toBe(404);
    }
    expect(audits.findLast((a) => a.endpoint.startsWith('/fhir/Observation?subject=Patient/pat-b'))?.flags).toContain('suspected-bola');
  });

  it("$everything of A returns A's compartment and the shared resources it refers to, nothing of B, across pages", async () => {
    for (const token of Object.values(patientTokens)) {
      let url: string | undefined = `Patient/${A}/$everything?_count=5`;
      const seen: string[] = [];
      while (url) {
        const r = await get(url, token);
        expect(r.status).toBe(200);
        assertNothingOfB(url, r);
        seen.push(...(r.body.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => `${e.resource!.resourceType}/${e.resource!.id}`));
        url = r.body.link?.find((l) => l.relation === 'next')?.url.replace('http://localhost:3000/fhir/', '');
      }
      expect(seen.sort()).toEqual(recordA.map((r) => `${r.resourceType}/${r.id}`).sort());
    }
    const one = await get(`Patient/${A}/$everything`, patientTokens.v2);
    const included = (one.body.entry ?? []).filter((e) => e.search?.mode === 'include').map((e) => `${e.resource!.resourceType}/${e.resource!.id}`);
    expect(included).toEqual(expect.arrayContaining(['Medication/med-1', 'Practitioner/prac-1', 'Organization/org-1', 'Location/loc-1']));
  });

  it("_include and _revinclude through shared resources never pull in B's resources", async () => {
    const cases = [
      'Organization?_revinclude=Patient:organization',
      'Practitioner?_revinclude=Encounter:participant&_revinclude=Observation:performer&_revinclude=MedicationRequest:requester',
      'Medication?_revinclude=MedicationRequest:medication&_revinclude=MedicationDispense:medication',
      'Location?_revinclude=Encounter:location',
      'Organization?_revinclude=Coverage:payor&_revinclude=Provenance:agent',
      'MedicationRequest?_include=MedicationRequest:medication&_include=MedicationRequest:patient&_revinclude=Provenance:target',
      'Observation?_revinclude=Provenance:target&_revinclude=DiagnosticReport:result',
      `Patient?_revinclude=Provenance:target&_revinclude=Observation:subject`,
      'MedicationDispense?_include=MedicationDispense:prescription&_include=MedicationDispense:medication',
    ];
    for (const path of cases) {
      const asUser = await get(path, userToken);
      expect(asUser.text, `user token should see B via ${path}`).toContain('SECRET-B');
      for (const token of Object.values(patientTokens)) {
        const r = await get(path, token);
        expect(r.status, path).toBe(200);
        assertNothingOfB(path, r);
      }
    }
    const withMed = await get('MedicationRequest?patient=pat-a&_include=MedicationRequest:medication', patientTokens.v2);
    expect(withMed.body.entry?.map((e) => `${e.search?.mode} ${e.resource?.resourceType}/${e.resource?.id}`)).toEqual([
      'match MedicationRequest/pat-a-medrx',
      'include Medication/med-1',
    ]);
  });

  it("paging: next links carry only a keyset position of A's own data and every page stays within A", async () => {
    for (const token of Object.values(patientTokens)) {
      for (const type of ['Observation', 'Provenance', 'Patient']) {
        let url: string | undefined = `${type}?_count=1&_total=accurate`;
        let n = 0;
        while (url) {
          const r = await get(url, token);
          assertNothingOfB(url, r);
          n += (r.body.entry ?? []).filter((e) => e.search?.mode === 'match').length;
          url = r.body.link?.find((l) => l.relation === 'next')?.url.replace('http://localhost:3000/fhir/', '');
        }
        expect(n).toBe(recordA.filter((r) => r.resourceType === type).length);
      }
    }
  });

  it('a forged cursor naming B positions the page but cannot return B', async () => {
    const cursor = encodePagingCursor('search', { v: null, i: 'pat-a' });
    const r = await get(`Patient?_cursor=${cursor}`, patientTokens.v2);
    expect(r.status).toBe(200);
    expect(r.body.entry ?? []).toEqual([]);
  });
});

describe("BOLA matrix: conditional update and delete of patient A's token never reach B's resources", () => {
  it("for every type, criteria selecting B's resource match nothing: DELETE deletes nothing (204, 403 when they name B), PUT creates A's own (201), B's resource is unchanged", async () => {
    const writerA = await tokens.issue('launch/patient patient/*.cruds', { patientId: A });
    for (const resource of recordB) {
      const type = resource.resourceType;
      const before = await get(`${type}/${resource.id}`, userToken);
      expect(before.status).toBe(200);
      for (const criteria of [`_id=${resource.id}`, `_tag=${encodeURIComponent('urn:test|SECRET-B')}`]) {
        // Control: the same criteria as a search find B's resource with the user token.
        expect((await get(`${type}?${criteria}`, userToken)).body.entry?.some((e) => e.resource?.id === resource.id)).toBe(true);
        const del = await handle(fhirRequest(`${type}?${criteria}`, writerA, { method: 'DELETE' }));
        // Criteria naming patient B are refused as the search is (docs/CONFORMANCE.md #119).
        expect(del.status, `DELETE ${type}?${criteria}`).toBe(type === 'Patient' && criteria.startsWith('_id=') ? 403 : 204);
        const own = recordA.find((r) => r.resourceType === type);
        if (!own || type === 'Patient') continue;
        const body = { ...own, id: undefined, meta: undefined };
        const put = await handle(fhirRequest(`${type}?${criteria}`, writerA, { method: 'PUT', json: body }));
        const text = await put.text();
        expect(put.status, `PUT ${type}?${criteria}: ${text.slice(0, 200)}`).toBe(201);
        expect(text).not.toContain('SECRET-B');
        const created = (JSON.parse(text) as Resource).id;
        expect(created).not.toBe(resource.id);
        expect((await handle(fhirRequest(`${type}/${created}`, writerA, { method: 'DELETE' }))).status).toBe(204);
      }
      const after = await get(`${type}/${resource.id}`, userToken);
      expect(after.status).toBe(200);
      expect(after.body).toEqual(before.body);
    }
  });
});
