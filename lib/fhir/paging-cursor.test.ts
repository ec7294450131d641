/**
 * Paging cursors: one format for search, $everything, _history and AuditEvent; every next link
 * leads to the following page, and a cursor the server did not write (garbage, tampered, another
 * kind's) is a 400 OperationOutcome, never a 500.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { recordAudit } from '../audit/record';
import { FhirError } from './errors';
import { decodePagingCursor, encodePagingCursor } from './paging-cursor';
import { ResourceStore } from './store';
import { load, patientRecord, sharedResources } from './test-fixtures';
import { BASE, fhirRequest, testHandler, testTokens } from './test-support';

const P = 'pc-a';
const store = new ResourceStore();
const tokens = testTokens();
const { handle } = testHandler();
const b64 = (text: string) => Buffer.from(text).toString('base64url');

type Body = Omit<Bundle, 'resourceType'> & Omit<OperationOutcome, 'resourceType'> & { resourceType: string };

async function get(path: string, token: string): Promise<{ status: number; body: Body }> {
  const res = await handle(fhirRequest(path.replace(`${BASE}/`, ''), token));
  return { status: res.status, body: (await res.json()) as Body };
}

/** Follows next links from `path`; the ids of every page's matches (and history versions). */
async function walk(path: string, token: string): Promise<{ pages: number; ids: string[] }> {
  const ids: string[] = [];
  let url: string | undefined = path;
  let pages = 0;
  while (url) {
    const r = await get(url, token);
    expect(r.status, url).toBe(200);
    pages++;
    for (const e of r.body.entry ?? [])
      if (e.search?.mode !== 'include' && e.search?.mode !== 'outcome')
        ids.push(`${e.resource?.resourceType ?? e.request?.url}/${e.resource?.id ?? ''}@${e.response?.etag ?? ''}`);
    url = r.body.link?.find((l) => l.relation === 'next')?.url;
  }
  return { pages, ids };
}

let patientToken = '';
let auditToken = '';

beforeAll(async () => {
  await load(store, 'default', [...sharedResources(), ...patientRecord(P, 'Cursor', 'tag-pc')]);
  // Three versions of one Observation, for _history paging.
  const obs = patientRecord(P, 'Cursor', 'tag-pc').find((r) => r.id === `${P}-vital`) as Resource & { status: string };
  await store.update('default', 'Observation', obs.id!, { ...obs, status: 'amended' } as Resource);
  await store.update('default', 'Observation', obs.id!, { ...obs, status: 'corrected' } as Resource);
  for (let i = 0; i < 5; i++)
    await recordAudit({
      kind: 'fhir',
      method: 'GET',
      endpoint: `/fhir/Observation/pc${i}`,
      resourceType: 'Observation',
      resourceId: `pc${i}`,
      clientId: 'pc-app',
      patientId: P,
      scopes: 'patient/Observation.rs',
      status: 200,
      latencyMs: 1,
      flags: [],
    });
  patientToken = await tokens.issue('patient/*.rs', { patientId: P });
  auditToken = await tokens.issue('system/AuditEvent.rs');
});

describe('paging cursor codec', () => {
  it('round-trips each kind', () => {
    expect(decodePagingCursor('search', encodePagingCursor('search', { v: 'doe', i: 'p-1' }))).toEqual({ v: 'doe', i: 'p-1' });
    expect(decodePagingCursor('search', encodePagingCursor('search', { v: null, i: 'p-1' }))).toEqual({ v: null, i: 'p-1' });
    expect(decodePagingCursor('everything', encodePagingCursor('everything', { type: 'Observation', id: 'o.1' }))).toEqual({ type: 'Observation', id: 'o.1' });
    expect(decodePagingCursor('history', encodePagingCursor('history', { at: 1700000000000, id: 'o-1', v: 3 }))).toEqual({
      at: 1700000000000,
      id: 'o-1',
      v: 3,
    });
    expect(decodePagingCursor('audit', encodePagingCursor('audit', { at: '2026-01-02T03:04:05.678Z', id: 'a1' }))).toEqual({
      at: '2026-01-02T03:04:05.678Z',
      id: 'a1',
    });
  });

  it('refuses garbage, tampered values and another kind’s cursor with FhirError invalid', () => {
    const search = encodePagingCursor('search', { v: 1, i: 'x' });
    const bad = [
      '',
      '!!!',
      'a'.repeat(2000),
      b64('not json'),
      b64('null'),
      b64('[]'),
      b64('{"v":null,"i":"x"}'), // no kind
      b64('{"k":"search","v":{"$gt":0},"i":"x"}'),
      b64('{"k":"search","v":null,"i":"x/../y"}'),
      b64('{"k":"search","v":null,"i":"x","extra":1}'),
      b64(`{"k":"search","v":"${'z'.repeat(301)}","i":"x"}`),
      b64('Patient/p-1'), // the former $everything format
      `${search.slice(0, -2)}%%`,
    ];
    for (const text of bad) expect(() => decodePagingCursor('search', text), text.slice(0, 40)).toThrow(FhirError);
    expect(() => decodePagingCursor('history', search)).toThrow('_cursor is not a paging cursor from this server');
    expect(() => decodePagingCursor('audit', b64('{"k":"audit","at":"yesterday","id":"a"}'))).toThrow(FhirError);
    expect(() => decodePagingCursor('history', b64('{"k":"history","at":1e300,"id":"a","v":1}'))).toThrow(FhirError);
  });
});

describe('paging over HTTP', () => {
  it('search, $everything, _history and AuditEvent: next links visit every entry once', async () => {
    const search = await walk(`Observation?patient=${P}&_count=1&_sort=date`, patientToken);
    expect(search.pages).toBeGreaterThan(1);
    expect(new Set(search.ids).size).toBe(search.ids.length);
    expect(search.ids.length).toBe(patientRecord(P, 'x', 'y').filter((r) => r.resourceType === 'Observation').length);

    const everything = await walk(`Patient/${P}/$everything?_count=5`, patientToken);
    expect(everything.pages).toBeGreaterThan(2);
    expect(new Set(everything.ids).size).toBe(everything.ids.length);
    expect(everything.ids.length).toBe(patientRecord(P, 'x', 'y').length);

    const history = await walk(`Observation/${P}-vital/_history?_count=1`, patientToken);
    expect(history.pages).toBe(3);
    expect(new Set(history.ids).size).toBe(3);

    const audit = await walk(`AuditEvent?patient=${P}&_count=2`, auditToken);
    expect(audit.pages).toBeGreaterThanOrEqual(3);
    expect(new Set(audit.ids).size).toBe(audit.ids.length);
  });

  it('a garbage, tampered or foreign cursor is a 400 OperationOutcome on every paged answer', async () => {
    const garbage = [
      '!!!',
      'x',
      b64('{"k":"search","v":null,"i":"a b"}'),
      b64('Observation/x'),
      b64('1.x.1'),
      b64(`${new Date().toISOString()}|id`),
      encodePagingCursor('everything', { type: 'Patient', id: P }),
    ];
    const paths: [string, string, string[]][] = [
      [`Observation?patient=${P}`, patientToken, garbage],
      [`Patient/${P}/$everything`, patientToken, [...garbage.slice(0, -1), encodePagingCursor('search', { v: null, i: P })]],
      [`Observation/${P}-vital/_history`, patientToken, garbage],
      ['AuditEvent', auditToken, garbage],
    ];
    for (const [path, token, cursors] of paths) {
      for (const cursor of cursors) {
        const r = await get(`${path}${path.includes('?') ? '&' : '?'}_cursor=${encodeURIComponent(cursor)}`, token);
        expect(r.status, `${path} _cursor=${cursor}`).toBe(400);
        expect(r.body.resourceType).toBe('OperationOutcome');
        expect(r.body.issue?.[0]?.diagnostics).toContain('_cursor');
      }
    }
  });
});
