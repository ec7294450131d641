/**
 * FHIR REST behaviour a client notices: status codes, enforcement, granular scopes, search
 * modifiers and prefixes, paging over changing data, POST _search, writes, history, metadata, CORS.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { BundleEntry, BundleLink, CapabilityStatement, Observation, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { ResourceStore } from './store';
import { load, OBS_CATEGORY, patientRecord, sharedResources } from './test-fixtures';
import { BASE, fhirRequest, testHandler, testTokens } from './test-support';
import { statusOf } from './outcomes';

const A = 'api-a';
const B = 'api-b';
const store = new ResourceStore();
const tokens = testTokens();
const { handle, audits } = testHandler({ excessiveResults: 20 });
const patientA = await tokens.issue('launch/patient patient/*.cruds', { patientId: A });
const v1ReadA = await tokens.issue('patient/*.read', { patientId: A });
const userTok = await tokens.issue('user/*.cruds', { fhirUser: 'Practitioner/prac-1' });

interface Body {
  resourceType: string;
  id?: string;
  type?: string;
  total?: number;
  entry?: BundleEntry[];
  link?: BundleLink[];
  issue?: OperationOutcomeIssue[];
}

async function call(
  path: string,
  token: string | null = patientA,
  init: RequestInit & { json?: unknown } = {},
): Promise<{ status: number; headers: Headers; body: Body; text: string }> {
  const res = await handle(fhirRequest(path, token, init));
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as Body, text };
}

function ids(b: Body): string[] {
  return (b.entry ?? []).filter((e) => e.search?.mode !== 'outcome').map((e) => e.resource!.id!);
}

function vital(id: string, patient: string, date: string, value: number): Observation {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    category: [{ coding: [{ system: OBS_CATEGORY, code: 'vital-signs' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: date,
    valueQuantity: { value, system: 'http://unitsofmeasure.org', code: '/min' },
  };
}

beforeAll(async () => {
  await load(store, 'default', [...sharedResources(), ...patientRecord(A, 'Åberg', 'tag-a'), ...patientRecord(B, 'Bauer', 'tag-b')]);
  await load(store, 'default', [
    vital('v-2019', A, '2019-06-15T12:00:00Z', 60),
    vital('v-2020', A, '2020-06-15', 70),
    vital('v-2020b', A, '2020-12-31T23:30:00+00:00', 80),
    vital('v-b', B, '2020-06-15', 90),
  ]);
});

describe('authentication (RFC 6750 §3, docs/CONFORMANCE.md #113–#115)', () => {
  it('no token → 401 with a Bearer challenge naming the realm, even for an unknown resource', async () => {
    for (const path of [`Patient/${A}`, 'Nonsense/1', 'Observation?patient=x']) {
      const r = await call(path, null);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe(`Bearer realm="${BASE}"`);
      expect(r.body.resourceType).toBe('OperationOutcome');
    }
  });

  it('an unknown, revoked or expired token → 401 invalid_token, flagged in the audit', async () => {
    const expired = await tokens.issue('patient/*.rs', { patientId: A, expired: true });
    const revoked = await tokens.issue('patient/*.rs', { patientId: A });
    await tokens.revoke(revoked);
    for (const t of ['garbage', expired, revoked]) {
      const r = await call(`Patient/${A}`, t);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer realm="[^"]+", error="invalid_token"/);
      expect(audits.at(-1)?.flags).toContain('invalid-token');
    }
    const bad = await handle(new Request(`${BASE}/Patient/${A}`, { headers: { authorization: 'Basic abc' } }));
    expect(bad.status).toBe(401);
  });

  it('metadata needs no token; OPTIONS answers the CORS preflight', async () => {
    expect((await call('metadata', null)).status).toBe(200);
    const pre = await handle(
      new Request(`${BASE}/Patient`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-headers': 'authorization' } }),
    );
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(pre.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    const r = await handle(fhirRequest(`Patient/${A}`, patientA, { headers: { origin: 'https://app.example' } }));
    expect(r.headers.get('access-control-expose-headers')).toMatch(/Location.*ETag/);
    expect(r.headers.get('access-control-expose-headers')).toMatch(/Retry-After/);
  });
});

describe('scopes (docs/CONFORMANCE.md #116–#121)', () => {
  it('an interaction no scope grants → 403 naming the scope that would allow it', async () => {
    const obsOnly = await tokens.issue('patient/Observation.read', { patientId: A });
    const r = await call(`AllergyIntolerance?patient=${A}`, obsOnly);
    expect(r.status).toBe(403);
    expect(r.body.issue?.[0]?.code).toBe('forbidden');
    expect(r.body.issue?.[0]?.diagnostics).toContain('patient/AllergyIntolerance.s');
    expect(r.headers.get('www-authenticate')).toContain('insufficient_scope');
    const write = await call('Observation', v1ReadA, { method: 'POST', json: vital('x', A, '2020-01-01', 1) });
    expect(write.status).toBe(403);
    expect(write.body.issue?.[0]?.diagnostics).toContain('patient/Observation.c');
    const onlyRead = await tokens.issue('patient/Observation.r', { patientId: A });
    expect((await call('Observation', onlyRead)).status).toBe(403);
    expect((await call(`Observation/${A}-lab`, onlyRead)).status).toBe(200);
  });

  it('shared resources are readable with patient scopes', async () => {
    for (const path of ['Medication/med-1', 'Practitioner/prac-1', 'Organization/org-1', 'Location/loc-1', 'PractitionerRole/role-1'])
      expect((await call(path, v1ReadA)).status, path).toBe(200);
    expect((await call('Practitioner?name=careful', v1ReadA)).body.total).toBe(1);
  });

  it('granular patient/Observation.rs?category=laboratory: search returns all and only lab results; a vital sign by id is 404', async () => {
    const lab = await tokens.issue(`patient/Observation.rs?category=${OBS_CATEGORY}|laboratory`, { patientId: A });
    const all = await call('Observation?_total=accurate', lab);
    expect(ids(all.body)).toEqual([`${A}-lab`]);
    expect(all.body.total).toBe(1);
    expect(ids((await call(`Observation?patient=${A}&category=vital-signs`, lab)).body)).toEqual([]);
    expect((await call(`Observation/${A}-lab`, lab)).status).toBe(200);
    const hidden = await call(`Observation/${A}-vital`, lab);
    expect(hidden.status).toBe(404);
    expect(hidden.text).toBe((await call('Observation/nothing-here', lab)).text.replace('nothing-here', `${A}-vital`));
    expect(audits.at(-2)?.flags).toContain('suspected-bola');
    // Granular writes: a new vital sign does not match the scope.
    const labWrite = await tokens.issue(`patient/Observation.crs?category=${OBS_CATEGORY}|laboratory`, { patientId: A });
    expect((await call('Observation', labWrite, { method: 'POST', json: vital('x', A, '2020-01-01', 1) })).status).toBe(403);
  });

  it('two granular scopes are OR-ed; a user token sees every patient', async () => {
    const both = await tokens.issue('patient/Observation.rs?category=laboratory patient/Observation.rs?category=vital-signs', { patientId: A });
    expect(ids((await call('Observation?_count=100', both)).body).length).toBe(5);
    expect(ids((await call('Observation?code=8867-4&_count=100', userTok)).body).sort()).toEqual(
      [`${A}-vital`, `${B}-vital`, 'v-2019', 'v-2020', 'v-2020b', 'v-b'].sort(),
    );
  });
});

describe('status codes (one function decides them)', () => {
  it('maps every failure kind', () => {
    expect([
      statusOf('invalid'),
      statusOf('unauthorized'),
      statusOf('forbidden'),
      statusOf('not-found'),
      statusOf('not-supported'),
      statusOf('conflict'),
      statusOf('gone'),
      statusOf('version-conflict'),
      statusOf('unsupported-media-type'),
      statusOf('unprocessable'),
      statusOf('too-many-requests'),
    ]).toEqual([400, 401, 403, 404, 405, 409, 410, 412, 415, 422, 429]);
  });

  it('answers 400, 404, 405, 410, 412 and 415 with OperationOutcomes and never a stack trace', async () => {
    const cases: [string, number, RequestInit & { json?: unknown }][] = [
      ['Observation?date=yesterday', 400, {}],
      ['Observation?code:below=x', 400, {}],
      ['Observation?_count=abc', 400, {}],
      ['Observation?_sort=status', 400, {}],
      ['Observation?_cursor=!!!', 400, {}],
      ['Observation/bad id', 400, {}],
      ['Unicorn/1', 404, {}],
      ['Observation/none', 404, {}],
      [`Observation/${A}-lab/_history/99`, 404, {}],
      [`Observation/${A}-lab`, 415, { method: 'PATCH' }],
      ['Observation', 405, { method: 'PUT', json: vital(`${A}-lab`, A, '2020-01-01', 1) }],
      ['', 400, { method: 'POST', json: { resourceType: 'Bundle' } }],
      ['', 400, { method: 'POST', json: { resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'GET', url: 'Patient/$export' } }] } }],
      ['Observation?_format=xml', 415, {}],
      ['Observation', 415, { method: 'POST', body: '<Observation/>', headers: { 'content-type': 'application/fhir+xml' } }],
      ['Observation', 400, { method: 'POST', body: '{not json', headers: { 'content-type': 'application/fhir+json' } }],
      ['Observation', 400, { method: 'POST', json: { resourceType: 'Patient' } }],
      ['Observation', 400, { method: 'POST', json: [1, 2] }],
      [`Observation/${A}-lab`, 400, { method: 'PUT', json: { ...vital(`${A}-lab`, A, '2020-01-01', 1), id: 'other' } }],
      [`Observation/${A}-lab`, 400, { method: 'PUT', json: vital(`${A}-lab`, A, '2020-01-01', 1), headers: { 'if-match': 'banana' } }],
      [`Observation/${A}-lab`, 412, { method: 'PUT', json: vital(`${A}-lab`, A, '2020-01-01', 1), headers: { 'if-match': 'W/"42"' } }],
    ];
    for (const [path, status, init] of cases) {
      const r = await call(path, patientA, init);
      expect(r.status, `${init.method ?? 'GET'} ${path}`).toBe(status);
      expect(r.body.resourceType, path).toBe('OperationOutcome');
      expect(r.text).not.toMatch(/\bat .*\.ts:\d+/);
    }
  });

  it('strict handling: an unknown parameter is 400; lenient: reported in an outcome entry', async () => {
    const lenient = await call(`Observation?patient=${A}&foo=bar`);
    expect(lenient.status).toBe(200);
    const outcome = lenient.body.entry?.find((e) => e.search?.mode === 'outcome');
    expect(JSON.stringify(outcome)).toContain('foo');
    const strict = await call(`Observation?patient=${A}&foo=bar`, patientA, { headers: { prefer: 'handling=strict' } });
    expect(strict.status).toBe(400);
  });
});

describe('search semantics', () => {
  const q = async (query: string, token = patientA) => ids((await call(`Observation?${query}&_count=1000`, token)).body).sort();

  it('patient=X, patient=Patient/X, subject:Patient=X and absolute references agree', async () => {
    const expected = await q(`patient=${A}`);
    expect(expected.length).toBe(5);
    expect(await q(`patient=Patient/${A}`)).toEqual(expected);
    expect(await q(`subject:Patient=${A}`)).toEqual(expected);
    expect(await q(`subject=${encodeURIComponent(`${BASE}/Patient/${A}`)}`)).toEqual(expected);
  });

  it('token forms: system|code, |code, code, comma OR, :not, :text, :missing', async () => {
    expect(await q(`category=${encodeURIComponent(`${OBS_CATEGORY}|vital-signs`)}`)).toEqual([`${A}-vital`, 'v-2019', 'v-2020', 'v-2020b']);
    expect(await q('category=vital-signs')).toEqual([`${A}-vital`, 'v-2019', 'v-2020', 'v-2020b']);
    expect(await q('category=|vital-signs')).toEqual([]);
    expect(await q('code=2339-0,http://loinc.org|8867-4')).toHaveLength(5);
    expect(await q('category:not=vital-signs')).toEqual([`${A}-lab`]);
    expect(await q('code:text=gluc')).toEqual([`${A}-lab`]);
    expect(await q('value-quantity:missing=true')).toEqual([]);
    expect(await q('encounter:missing=false')).toEqual([`${A}-lab`]);
    expect(await q('status=registered,preliminary,final,amended')).toHaveLength(5);
  });

  it('date prefixes with precision: eq ne gt lt ge le sa eb ap', async () => {
    expect(await q('date=2020')).toEqual(['v-2020', 'v-2020b']);
    expect(await q('date=2020-06')).toEqual(['v-2020']);
    expect(await q('date=eq2020-06-15')).toEqual(['v-2020']);
    expect(await q('date=ne2020')).toEqual([`${A}-lab`, `${A}-vital`, 'v-2019']);
    expect(await q('date=gt2020-06-15')).toEqual([`${A}-lab`, `${A}-vital`, 'v-2020b']);
    expect(await q('date=ge2020-06-15')).toEqual([`${A}-lab`, `${A}-vital`, 'v-2020', 'v-2020b']);
    expect(await q('date=lt2020-06-15')).toEqual(['v-2019']);
    expect(await q('date=le2020-06-15')).toEqual(['v-2019', 'v-2020']);
    expect(await q('date=sa2020-12-31')).toEqual([`${A}-lab`, `${A}-vital`]);
    expect(await q('date=eb2020-01-01')).toEqual(['v-2019']);
    const approx = await q('date=ap2020-06-14');
    expect(approx).toContain('v-2020');
    expect(approx).not.toContain('v-2019');
    // Inferno's form: a full dateTime with an encoded + offset, and the unencoded form decoded to a space.
    expect(await q(`date=gt${encodeURIComponent('2020-12-31T22:00:00+00:00')}`)).toEqual([`${A}-lab`, `${A}-vital`, 'v-2020b']);
    expect(await q('date=gt2020-12-31T22:00:00+00:00')).toEqual([`${A}-lab`, `${A}-vital`, 'v-2020b']);
    expect(await q('date=ge2020-01-01&date=lt2021-01-01')).toEqual(['v-2020', 'v-2020b']);
  });

  it('a Period target overlaps the searched date (Encounter.period, Procedure.performed)', async () => {
    expect(ids((await call(`Encounter?patient=${A}&date=2021-05-01T10:30:00Z`)).body)).toEqual([`${A}-enc`]);
    expect(ids((await call(`Encounter?patient=${A}&date=gt2021-05-02`)).body)).toEqual([]);
    expect(ids((await call(`Procedure?patient=${A}&date=ge2017-03-03`)).body)).toEqual([`${A}-proc`]);
  });

  it('strings: starts-with, accent- and case-insensitive; :exact; :contains', async () => {
    const p = async (query: string) => ids((await call(`Patient?${query}`, userTok)).body).sort();
    expect(await p('name=aber')).toEqual([A]);
    expect(await p('family=ÅBERG')).toEqual([A]);
    expect(await p('name=zoe')).toEqual([A, B]);
    expect(await p('family:exact=Åberg')).toEqual([A]);
    expect(await p('family:exact=aberg')).toEqual([]);
    expect(await p('family:contains=aue')).toEqual([B]);
    expect(await p('name=100%25')).toEqual([]);
    expect(await p(`identifier=urn:mrn|mrn-${A}`)).toEqual([A]);
    expect(await p('gender=female&birthdate=1970-03-04')).toEqual([A]);
    expect(await p('birthdate=ge1980')).toEqual([B]);
  });

  it('quantities and numbers with prefixes and units', async () => {
    expect(await q('value-quantity=70')).toEqual(['v-2020']);
    expect(await q('value-quantity=gt70')).toEqual([`${A}-lab`, `${A}-vital`, 'v-2020b']);
    expect(await q(`value-quantity=${encodeURIComponent('le72|http://unitsofmeasure.org|/min')}`)).toEqual([`${A}-vital`, 'v-2019', 'v-2020']);
    expect(await q('value-quantity=95.5')).toEqual([`${A}-lab`]);
  });

  it('_id, _lastUpdated, _sort, _elements, _summary, _total', async () => {
    expect(await q(`_id=v-2019,v-2020,v-b`)).toEqual(['v-2019', 'v-2020']);
    expect(await q('_lastUpdated=gt2000-01-01')).toHaveLength(5);
    expect(await q('_lastUpdated=lt2000-01-01')).toEqual([]);
    const sorted = await call('Observation?code=8867-4&_sort=-date');
    expect(ids(sorted.body)).toEqual([`${A}-vital`, 'v-2020b', 'v-2020', 'v-2019']);
    expect(ids((await call('Observation?code=8867-4&_sort=date')).body)).toEqual(['v-2019', 'v-2020', 'v-2020b', `${A}-vital`]);
    expect(ids((await call('Observation?code=8867-4&_sort=-_id')).body)).toEqual(['v-2020b', 'v-2020', 'v-2019', `${A}-vital`]);
    expect((await call('Observation?_sort=_lastUpdated')).status).toBe(200);
    const el = await call('Observation?_id=v-2019&_elements=status,valueQuantity');
    const obs = el.body.entry?.[0]?.resource as Observation;
    expect(Object.keys(obs).sort()).toEqual(['id', 'meta', 'resourceType', 'status', 'valueQuantity']);
    expect(obs.meta?.tag?.some((t) => t.code === 'SUBSETTED')).toBe(true);
    const count = await call('Observation?category=vital-signs&_summary=count');
    expect(count.body.total).toBe(4);
    expect(count.body.entry).toEqual([]);
    const paged = await call('Observation?_count=2&_total=accurate');
    expect(paged.body.total).toBe(5);
    expect(paged.body.entry).toHaveLength(2);
  });

  it('POST _search (form body) returns exactly what GET returns', async () => {
    for (const query of [`patient=${A}&category=vital-signs&date=ge2020`, `patient=Patient/${A}&code=8867-4&_sort=-date`, `patient=${B}`]) {
      const get = await call(`Observation?${query}`);
      const post = await call('Observation/_search', patientA, {
        method: 'POST',
        body: query,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(post.status).toBe(get.status);
      // Naming another patient is refused the same way by both (docs/CONFORMANCE.md #119).
      expect(post.status).toBe(query === `patient=${B}` ? 403 : 200);
      expect(ids(post.body)).toEqual(ids(get.body));
      expect(post.body.total).toEqual(get.body.total);
    }
  });

  it('_include=MedicationRequest:medication and _revinclude=Provenance:target', async () => {
    const r = await call(`MedicationRequest?patient=${A}&intent=order&_include=MedicationRequest:medication&_revinclude=Provenance:target`);
    expect(r.body.entry?.map((e) => `${e.search?.mode}:${e.resource?.resourceType}`)).toEqual(['match:MedicationRequest', 'include:Medication']);
    const prov = await call(`Observation?patient=${A}&code=2339-0&_revinclude=Provenance:target`);
    expect(prov.body.entry?.map((e) => `${e.search?.mode}:${e.resource?.resourceType}/${e.resource?.id}`)).toEqual([
      `match:Observation/${A}-lab`,
      `include:Provenance/${A}-prov`,
    ]);
    const noProvScope = await tokens.issue('patient/Observation.rs', { patientId: A });
    const left = await call(`Observation?patient=${A}&code=2339-0&_revinclude=Provenance:target`, noProvScope);
    expect(left.body.entry?.map((e) => e.search?.mode)).toEqual(['match', 'outcome']);
  });
});

describe('paging across a changing dataset', () => {
  it('keyset next links neither repeat nor skip resources that exist throughout', async () => {
    const P = 'pager';
    await load(store, 'default', [
      { resourceType: 'Patient', id: P } as Resource,
      ...Array.from({ length: 12 }, (_, i) => vital(`pg-${String(i).padStart(2, '0')}`, P, `2021-01-${String(i + 1).padStart(2, '0')}`, i)),
    ]);
    const tok = await tokens.issue('patient/*.cruds', { patientId: P });
    for (const sort of ['', '&_sort=date', '&_sort=-date']) {
      const seen: string[] = [];
      let url: string | undefined = `Observation?_count=3${sort}`;
      let round = 0;
      while (url) {
        const r = await call(url, tok);
        expect(r.status).toBe(200);
        seen.push(...ids(r.body));
        // Data changes between pages: a new resource, an update that touches lastUpdated, a deletion.
        await store.create('default', vital(`ignored-${round}`, P, '2021-02-01', 99));
        if (round === 1) await store.update('default', 'Observation', 'pg-00', vital('pg-00', P, '2021-01-01', 100));
        round++;
        url = r.body.link?.find((l) => l.relation === 'next')?.url.replace(`${BASE}/`, '');
      }
      const originals = seen.filter((id) => id.startsWith('pg-'));
      expect(new Set(seen).size).toBe(seen.length);
      expect(originals.sort()).toEqual(Array.from({ length: 12 }, (_, i) => `pg-${String(i).padStart(2, '0')}`));
      for (const r of await store.history('default', 'Observation', 'pg-00')) void r;
      const extra = await call(`Observation?code=8867-4&value-quantity=99&_count=1000`, tok);
      for (const e of extra.body.entry ?? []) await store.delete('default', 'Observation', e.resource!.id!);
    }
  });
});

describe('writes keep compartment ownership', () => {
  it('create: 201 with Location, ETag and Last-Modified; the id in the body is replaced', async () => {
    const r = await call('Observation', patientA, { method: 'POST', json: vital('client-id', A, '2023-01-01', 55) });
    expect(r.status).toBe(201);
    expect(r.body.id).not.toBe('client-id');
    expect(r.headers.get('location')).toBe(`${BASE}/Observation/${r.body.id}/_history/1`);
    expect(r.headers.get('etag')).toBe('W/"1"');
    expect(r.headers.get('last-modified')).toMatch(/GMT$/);
    const minimal = await call('Observation', patientA, { method: 'POST', json: vital('x', A, '2023-01-02', 56), headers: { prefer: 'return=minimal' } });
    expect(minimal.status).toBe(201);
    expect(minimal.text).toBe('');
  });

  it("a patient token cannot create, move or touch another patient's data", async () => {
    expect((await call('Observation', patientA, { method: 'POST', json: vital('x', B, '2023-01-01', 1) })).status).toBe(403);
    const twoPatients = { ...vital('x', A, '2023-01-01', 1), performer: [{ reference: `Patient/${B}` }] };
    expect((await call('Observation', patientA, { method: 'POST', json: twoPatients })).status).toBe(403);
    expect((await call('Observation', patientA, { method: 'POST', json: { ...vital('x', A, '2023-01-01', 1), subject: undefined } })).status).toBe(403);
    expect((await call('Patient', patientA, { method: 'POST', json: { resourceType: 'Patient' } })).status).toBe(403);
    expect((await call('Practitioner', patientA, { method: 'POST', json: { resourceType: 'Practitioner' } })).status).toBe(403);
    const move = await call('Observation/v-2019', patientA, { method: 'PUT', json: vital('v-2019', B, '2019-06-15T12:00:00Z', 60) });
    expect(move.status).toBe(403);
    const foreign = await call('Observation/v-b', patientA, { method: 'PUT', json: vital('v-b', A, '2020-06-15', 90) });
    expect(foreign.status).toBe(404);
    expect(audits.at(-1)?.flags).toContain('suspected-bola');
    expect((await call('Observation/v-b', patientA, { method: 'DELETE' })).status).toBe(404);
    expect((await store.read('default', 'Observation', 'v-b')).versionId).toBe(1);
    expect((await call('Observation/new-for-b', patientA, { method: 'PUT', json: vital('new-for-b', B, '2020-06-15', 90) })).status).toBe(403);
  });

  it('update with If-Match, history, vread, delete then 410', async () => {
    const created = await call('Observation', patientA, { method: 'POST', json: vital('x', A, '2023-03-03', 61) });
    const id = created.body.id!;
    const updated = await call(`Observation/${id}`, patientA, { method: 'PUT', json: { ...vital(id, A, '2023-03-03', 62) }, headers: { 'if-match': 'W/"1"' } });
    expect(updated.status).toBe(200);
    expect(updated.headers.get('etag')).toBe('W/"2"');
    expect((await call(`Observation/${id}`, patientA, { method: 'PUT', json: vital(id, A, '2023-03-03', 63), headers: { 'if-match': 'W/"1"' } })).status).toBe(
      412,
    );
    const hist = await call(`Observation/${id}/_history`);
    expect(hist.body.type).toBe('history');
    expect(hist.body.entry?.map((e) => e.response?.etag)).toEqual(['W/"2"', 'W/"1"']);
    expect(((await call(`Observation/${id}/_history/1`)).body as unknown as Observation).valueQuantity?.value).toBe(61);
    expect((await call(`Observation/${id}`, patientA, { method: 'DELETE' })).status).toBe(204);
    expect((await call(`Observation/${id}`)).status).toBe(410);
    expect((await call(`Observation/${id}/_history`)).body.entry).toHaveLength(3);
    expect(ids((await call(`Observation?_id=${id}`)).body)).toEqual([]);
    const other = await tokens.issue('patient/*.cruds', { patientId: B });
    expect((await call(`Observation/${id}`, other)).status).toBe(404);
    expect((await call(`Observation/${id}/_history`, other)).status).toBe(404);
  });

  it('conditional create (If-None-Exist): one match returns it, none creates, several are 412', async () => {
    const body = { ...vital('x', A, '2024-01-01', 1), identifier: [{ system: 'urn:cc', value: 'one' }] };
    const first = await call('Observation', patientA, { method: 'POST', json: body, headers: { 'if-none-exist': 'identifier=urn:cc|one' } });
    expect(first.status).toBe(201);
    const again = await call('Observation', patientA, { method: 'POST', json: body, headers: { 'if-none-exist': 'identifier=urn:cc|one' } });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    await call('Observation', userTok, { method: 'POST', json: body });
    expect((await call('Observation', userTok, { method: 'POST', json: body, headers: { 'if-none-exist': 'identifier=urn:cc|one' } })).status).toBe(412);
    // B's token does not see A's match, so it cannot learn about it: its own create proceeds.
    const tokB = await tokens.issue('patient/*.cruds', { patientId: B });
    const forB = await call('Observation', tokB, {
      method: 'POST',
      json: { ...body, subject: { reference: `Patient/${B}` } },
      headers: { 'if-none-exist': 'identifier=urn:cc|one' },
    });
    expect(forB.status).toBe(201);
  });
});

describe('CapabilityStatement and formats', () => {
  it('is generated from what is implemented, with the SMART security block', async () => {
    const r = await call('metadata', null);
    const cs = r.body as unknown as CapabilityStatement;
    expect(cs.fhirVersion).toBe('4.0.1');
    expect(cs.instantiates).toContain('http://hl7.org/fhir/us/core/CapabilityStatement/us-core-server');
    const rest = cs.rest![0]!;
    expect(rest.security?.service?.[0]?.coding?.[0]?.code).toBe('SMART-on-FHIR');
    const uris = rest.security?.extension?.[0]?.extension?.map((e) => [e.url, e.valueUri]);
    expect(uris).toEqual(
      expect.arrayContaining([
        ['authorize', 'http://localhost:3000/oauth/authorize'],
        ['token', 'http://localhost:3000/oauth/token'],
      ]),
    );
    const obs = rest.resource!.find((x) => x.type === 'Observation')!;
    expect(obs.searchParam?.map((p) => p.name)).toEqual(expect.arrayContaining(['patient', 'category', 'code', 'date', '_id', '_lastUpdated']));
    expect(obs.supportedProfile).toContain('http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-lab');
    expect(obs.interaction?.map((i) => i.code)).toEqual(
      expect.arrayContaining(['read', 'vread', 'search-type', 'create', 'update', 'delete', 'history-instance', 'history-type']),
    );
    expect(obs.searchRevInclude).toContain('Provenance:target');
    expect(rest.resource!.find((x) => x.type === 'MedicationRequest')!.searchInclude).toContain('MedicationRequest:medication');
    expect(rest.resource!.find((x) => x.type === 'Patient')!.operation?.[0]?.name).toBe('everything');
  });

  it('JSON flavours, _format and _pretty', async () => {
    const json = await handle(fhirRequest(`Patient/${A}?_format=json&_pretty=true`, patientA));
    expect(json.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    expect(await json.text()).toContain('\n  "resourceType"');
    const plain = await handle(fhirRequest(`Patient/${A}`, patientA, { headers: { accept: 'application/json' } }));
    expect(plain.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await handle(fhirRequest(`Patient/${A}`, patientA, { headers: { accept: 'application/fhir+xml' } }))).status).toBe(415);
  });
});

describe('audit', () => {
  it('one record per request with client, patient, interaction, scopes, status, count and latency; excessive results flagged', async () => {
    const local = testHandler({ excessiveResults: 3 });
    await local.handle(fhirRequest(`Observation?patient=${A}&category=laboratory`, userTok));
    await local.handle(fhirRequest('Observation?_total=accurate&_count=1', userTok));
    expect(local.audits).toHaveLength(2);
    const [small, big] = local.audits;
    expect(small).toMatchObject({
      kind: 'fhir',
      method: 'GET',
      endpoint: `/fhir/Observation?patient=${A}&category=laboratory`,
      resourceType: 'Observation',
      clientId: 'test-client',
      scopes: 'user/*.cruds',
      status: 200,
      resultCount: 1,
    });
    expect(small!.latencyMs).toBeGreaterThan(0);
    expect(small!.flags).toEqual([]);
    expect(big!.resultCount).toBeGreaterThan(3);
    expect(big!.flags).toContain('excessive-results');
  });
});
