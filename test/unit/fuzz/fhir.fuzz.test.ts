/**
 * Fuzzing the FHIR API (lib/fhir/router.ts, with the real token verification and audit writer):
 * bad ids, path traversal in ids and types, injection in search values (SQL quotes, `%`, `_`,
 * Unicode, NUL), weird prefixes and modifiers, enormous `_count`, malformed JSON bodies, wrong
 * content types, enormous bodies, hostile headers.
 * Invariants: a 2xx/3xx FHIR JSON answer, or a 4xx OperationOutcome; never a 5xx or internals;
 * a patient token never sees nor changes the other patient's record (BOLA); the API still answers
 * a valid read afterwards.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFhirHandler } from '../../../lib/fhir/router';
import { ResourceStore } from '../../../lib/fhir/store';
import { load, patientRecord, sharedResources } from '../../../lib/fhir/test-fixtures';
import { BASE, testTokens } from '../../../lib/fhir/test-support';
import { DEFAULT_SANDBOX_ID } from '../../../lib/sandbox';
import type { Seen } from './fuzz-support';
import {
  assertHealthy,
  assertOperationOutcome,
  CONTENT_TYPES,
  hostileHeaderValue,
  hostileString,
  NASTY,
  printSummary,
  runs,
  send,
  timeoutFor,
  toQuery,
} from './fuzz-support';

const A = 'fz-a';
const B = 'fz-b';
const store = new ResourceStore();
const handle = createFhirHandler();
const tokens = testTokens();
let patientA: string;
let userTok: string;
let systemTok: string;
let expired: string;
let bVersions: Map<string, number>;

const TYPES = [
  'Patient',
  'Observation',
  'Condition',
  'Encounter',
  'MedicationRequest',
  'AllergyIntolerance',
  'Practitioner',
  'Organization',
  'DocumentReference',
  'Procedure',
  'Immunization',
  'Provenance',
  'AuditEvent',
];

beforeAll(async () => {
  const record = patientRecord(B, 'Bauer', 'tag-b');
  await load(store, DEFAULT_SANDBOX_ID, [...sharedResources(), ...patientRecord(A, 'Åberg', 'tag-a'), ...record]);
  bVersions = new Map(record.map((r) => [`${r.resourceType}/${r.id}`, 1]));
  patientA = await tokens.issue('launch/patient patient/*.cruds', { patientId: A });
  userTok = await tokens.issue('user/*.cruds', { fhirUser: 'Practitioner/prac-1' });
  systemTok = await tokens.issue('system/*.rs');
  expired = await tokens.issue('patient/*.rs', { patientId: A, expired: true });
});

afterAll(() => printSummary());

function fhir(req: Request, label: string): Promise<Seen> {
  return send(label, handle, req);
}

type Who = 'patientA' | 'user' | 'system' | 'none' | 'expired' | 'garbage';
const who = fc.constantFrom<Who>('patientA', 'patientA', 'patientA', 'user', 'system', 'none', 'expired', 'garbage');

function authOf(w: Who, garbage = 'not.a.token'): Record<string, string> {
  const t = { patientA, user: userTok, system: systemTok, expired, garbage, none: null }[w];
  return t === null ? {} : { authorization: `Bearer ${t}` };
}

/**
 * The shape of any answer: a 4xx OperationOutcome, or a 2xx FHIR JSON body (204/304 without one).
 * For patient A's token, nothing of patient B may appear in a resource that is returned.
 */
function assertFhirAnswer(seen: Seen, w: Who, where: string): Record<string, unknown> | null {
  if (seen.status >= 400) {
    assertOperationOutcome(seen, where);
    return null;
  }
  // Without a valid token, only the CapabilityStatement (or a CORS preflight) is ever a success.
  if (w === 'none' || w === 'expired' || w === 'garbage')
    expect(seen.status === 204 || JSON.parse(seen.text).resourceType === 'CapabilityStatement', `${where}: ${seen.text.slice(0, 200)}`).toBe(true);
  expect([200, 201, 204], `${where}: ${seen.text.slice(0, 200)}`).toContain(seen.status);
  if (seen.status === 204 || seen.text === '') return null;
  expect(seen.headers.get('content-type'), where).toMatch(/^application\/(fhir\+)?json/);
  const body = JSON.parse(seen.text) as Record<string, unknown>;
  expect(typeof body.resourceType, where).toBe('string');
  if (w === 'patientA') {
    const resources = body.resourceType === 'Bundle' ? ((body.entry as { resource?: unknown }[] | undefined) ?? []).map((e) => e.resource) : [body];
    for (const r of resources as ({ resourceType?: string; id?: string } | undefined)[]) {
      // Patient B's data: one of B's resources, or anything that refers to B.
      expect(bVersions.has(`${r?.resourceType}/${r?.id}`), `${where}: patient A's token saw ${r?.resourceType}/${r?.id}`).toBe(false);
      expect(JSON.stringify(r ?? null), `${where}: patient A's token saw patient B's data`).not.toMatch(/Patient\/fz-b\b/);
    }
  }
  return body;
}

const idLike = fc.oneof(
  { arbitrary: fc.constantFrom(A, B, `${A}-lab`, `${B}-lab`, `${B}-cond`, 'org-1', 'prac-1', 'does-not-exist', 'a'.repeat(64), 'a'.repeat(65)), weight: 3 },
  { arbitrary: hostileString(), weight: 4 },
  {
    arbitrary: fc.constantFrom(
      '..',
      '.',
      '%2e%2e',
      `..%2f${B}`,
      `..%2F..%2FPatient%2F${B}`,
      `${A}%00`,
      `${A}%2f..%2f${B}`,
      `${A}/../${B}`,
      '%zz',
      '%',
      '%c0%ae%c0%ae',
      `${A};${B}`,
      `${A}?_id=${B}`,
      `${A}#x`,
    ),
    weight: 2,
  },
);
const segment = fc.oneof(
  { arbitrary: fc.constantFrom(...TYPES), weight: 4 },
  {
    arbitrary: fc.constantFrom(
      'metadata',
      '_history',
      '_search',
      '$everything',
      '$export',
      '_meta',
      'patient',
      'PATIENT',
      'Patient.',
      'Patient%2fObservation',
      'Binary',
      'Resource',
      'DomainResource',
      '__proto__',
      'constructor',
    ),
    weight: 2,
  },
  { arbitrary: hostileString(), weight: 2 },
);

/** A path from segments, each percent-encoded or pasted raw (so `/`, `?`, `#` and bad `%` reach the URL). */
function pathOf(segments: readonly string[], raw: readonly boolean[]): string {
  return segments
    .map((s, i) => {
      if (raw[i]) return s;
      try {
        return encodeURIComponent(s);
      } catch {
        return s; // lone surrogate: paste it as it is; the URL parser replaces it
      }
    })
    .join('/');
}

const SEARCH_NAMES = [
  '_id',
  '_lastUpdated',
  'patient',
  'subject',
  'name',
  'family',
  'given',
  'birthdate',
  'gender',
  'identifier',
  'code',
  'category',
  'date',
  'status',
  'value-quantity',
  'encounter',
  'clinical-status',
  'address-city',
  'telecom',
  'combo-code',
  '_tag',
  '_profile',
  '_text',
  '_content',
  '_has',
  'general-practitioner',
  'organization',
  'subject.name',
  'patient._id',
  'subject:Patient._id',
  'general-practitioner.name',
  '_has:Observation:patient:_id',
  '_has:Observation:subject:code',
  '_has:Encounter:patient:status',
];
const MODIFIERS = [
  'exact',
  'contains',
  'missing',
  'not',
  'text',
  'above',
  'below',
  'in',
  'not-in',
  'of-type',
  'identifier',
  'Patient',
  'Observation',
  'iterate',
  'type',
  'x',
  '',
];
const PREFIXES = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap', 'EQ', 'xx', ''];
const VALUES = [
  A,
  B,
  `Patient/${A}`,
  `Patient/${B}`,
  `${BASE}/Patient/${B}`,
  'http://loinc.org|2339-0',
  '|2339-0',
  'http://loinc.org|',
  'laboratory',
  '2021-05-01',
  '2021',
  '2021-05-01T10:30:00Z',
  '2021-13-45',
  '95.5',
  '95.5|http://unitsofmeasure.org|mg/dL',
  '1e400',
  'true',
  'false',
  'Åberg',
  'aberg',
  'Zoë',
  'a\\,b',
  'a,b,,',
  'a$b',
  '\\',
  '%25',
  '_',
  '%',
];
const CONTROL: readonly [string, fc.Arbitrary<string>][] = [
  ['_count', fc.oneof(fc.constantFrom('0', '1', '10', '1000', '1001', '99999999999999999999', '-1', '1.5', '1e3', ' 5', '0x10', '', '٣'), hostileString())],
  [
    '_sort',
    fc.oneof(fc.constantFrom('_id', '-_id', 'date', '-date', '_lastUpdated', 'name', 'birthdate,-_id', '--date', 'value-quantity', 'unknown'), hostileString()),
  ],
  [
    '_include',
    fc.oneof(
      fc.constantFrom(
        'Observation:subject',
        'Observation:patient:Patient',
        'Observation:performer',
        '*',
        'Observation:*',
        'Patient:general-practitioner',
        'MedicationRequest:medication',
      ),
      hostileString(),
    ),
  ],
  ['_revinclude', fc.oneof(fc.constantFrom('Observation:subject', 'Provenance:target', '*', 'Observation:patient:Patient'), hostileString())],
  ['_elements', fc.oneof(fc.constantFrom('id', 'name,gender', 'subject', '*', '', 'resourceType'), hostileString())],
  ['_summary', fc.oneof(fc.constantFrom('count', 'true', 'false', 'data', 'text'), hostileString())],
  ['_total', fc.oneof(fc.constantFrom('accurate', 'estimate', 'none'), hostileString())],
  [
    '_cursor',
    fc.oneof(
      hostileString(),
      fc.constantFrom(
        Buffer.from('{"v":null,"i":"x"}').toString('base64url'),
        Buffer.from(`{"v":"' or 1=1 --","i":"${B}"}`).toString('base64url'),
        Buffer.from('{"v":{"$gt":0},"i":[]}').toString('base64url'),
        Buffer.from('Patient/fz-b').toString('base64url'),
        Buffer.from(`{"k":"search","v":null,"i":"${B}"}`).toString('base64url'),
      ),
    ),
  ],
  ['_format', fc.oneof(fc.constantFrom('json', 'xml', 'application/fhir+json', 'ttl'), hostileString())],
];

const searchParam: fc.Arbitrary<[string, string]> = fc.oneof(
  {
    arbitrary: fc
      .tuple(
        fc.oneof(fc.constantFrom(...SEARCH_NAMES), hostileString()),
        fc.option(fc.oneof(fc.constantFrom(...MODIFIERS), hostileString()), { nil: null }),
        fc.constantFrom(...PREFIXES),
        fc.oneof(fc.constantFrom(...VALUES), hostileString({ huge: true })),
      )
      .map(([name, mod, prefix, value]): [string, string] => [mod === null ? name : `${name}:${mod}`, `${prefix}${value}`]),
    weight: 4,
  },
  { arbitrary: fc.constantFrom(...CONTROL).chain(([name, value]) => value.map((v): [string, string] => [name, v])), weight: 2 },
);

describe('fuzz the FHIR API', () => {
  const n1 = runs(300);
  it(
    'bad ids, path traversal in ids and types, any token: 2xx FHIR JSON or a 4xx OperationOutcome; patient A never sees B',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          segment,
          fc.option(idLike, { nil: undefined }),
          fc.array(fc.oneof(fc.constantFrom('_history', '1', '0', '-1', '99999999999', '$everything', '_search', '$validate'), hostileString()), {
            maxLength: 2,
          }),
          fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
          fc.constantFrom('GET', 'GET', 'GET', 'POST', 'OPTIONS'),
          who,
          async (type, id, rest, raw, method, w) => {
            const segments = [type, ...(id === undefined ? [] : [id]), ...rest];
            const url = `${BASE}/${pathOf(segments, raw)}`;
            // POST here only reaches _search / $everything or a create with an empty body.
            const req = new Request(url, { method, headers: authOf(w) });
            const seen = await fhir(req, `${method === 'OPTIONS' ? 'OPTIONS' : method} /fhir/{type}/{id}…`);
            if (method === 'OPTIONS') {
              expect(seen.status).toBe(204);
              return;
            }
            const body = assertFhirAnswer(seen, w, `${method} ${url.slice(0, 300)}`);
            // Explicit: a POST with no body creates nothing.
            if (method === 'POST' && body) expect(body.resourceType === 'Bundle' || seen.status === 200, url).toBe(true);
          },
        ),
        { numRuns: n1 },
      );
      await assertStillWorks();
    },
    timeoutFor(n1),
  );

  const n2 = runs(300);
  it(
    'search with injection in values, weird prefixes and modifiers, enormous _count, GET or POST _search: a searchset Bundle or a 4xx OperationOutcome',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...TYPES),
          fc.array(searchParam, { maxLength: 6 }),
          fc.constantFrom('GET', 'GET', 'POST'),
          fc.constantFrom('encode' as const, 'encode' as const, 'raw' as const),
          fc.constantFrom<Who>('patientA', 'patientA', 'user', 'system'),
          fc.constantFrom(null, 'handling=strict', 'handling=lenient', 'handling=strict, return=minimal', 'handling'),
          fc.oneof({ arbitrary: fc.constant('application/x-www-form-urlencoded'), weight: 3 }, { arbitrary: fc.constantFrom(...CONTENT_TYPES), weight: 1 }),
          async (type, pairs, method, mode, w, prefer, contentType) => {
            const query = toQuery(pairs, mode);
            const headers: Record<string, string> = authOf(w);
            if (prefer) headers.prefer = prefer;
            let req: Request;
            if (method === 'GET') {
              req = new Request(`${BASE}/${type}?${query}`, { headers });
            } else {
              if (contentType !== null) headers['content-type'] = contentType;
              req = new Request(`${BASE}/${type}/_search`, { method: 'POST', headers, body: query });
            }
            const seen = await fhir(req, method === 'GET' ? 'GET /fhir/{type}?…' : 'POST /fhir/{type}/_search');
            const body = assertFhirAnswer(seen, w, `${method} ${type}?${query.slice(0, 300)}`);
            if (body) {
              expect(seen.status).toBe(200);
              expect(body).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
              expect(((body.entry as unknown[] | undefined) ?? []).length).toBeLessThanOrEqual(2100);
            }
          },
        ),
        { numRuns: n2 },
      );
      await assertStillWorks();
    },
    timeoutFor(n2),
  );

  const n3 = runs(200);
  it(
    'writes with malformed JSON, wrong content types, hostile or enormous bodies: a 4xx OperationOutcome, or a write inside patient A’s compartment; B unchanged',
    async () => {
      const observation = (subject: string) => ({ resourceType: 'Observation', status: 'final', code: { text: 'fuzz' }, subject: { reference: subject } });
      const bodyText = fc.oneof(
        { arbitrary: hostileString({ huge: true }), weight: 2 },
        { arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), weight: 2 },
        {
          arbitrary: fc
            .record({
              subject: fc.constantFrom(`Patient/${A}`, `Patient/${B}`, `${BASE}/Patient/${B}`, 'Patient/', 'Patient/../fz-b', `Patient/${A}/../${B}`),
              extra: fc.option(
                fc.tuple(
                  fc.oneof(fc.constantFrom('id', 'resourceType', 'meta', '__proto__', 'text', 'valueString', 'contained', 'subject'), hostileString()),
                  fc.oneof(hostileString(), fc.jsonValue({ maxDepth: 2 })),
                ),
              ),
            })
            .map(({ subject, extra }) => {
              const o: Record<string, unknown> = observation(subject);
              if (extra) Object.defineProperty(o, extra[0], { value: extra[1], enumerable: true, configurable: true, writable: true });
              return JSON.stringify(o);
            }),
          weight: 4,
        },
        {
          arbitrary: fc.constantFrom(
            '{',
            '{"resourceType":"Observation"',
            'null',
            '[]',
            '"Observation"',
            '{"resourceType":"Patient","id":"fz-b"}',
            '{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/fz-a"},"status":"final"}',
            `{"resourceType":"Observation","status":"final","code":{"text":"${'x'.repeat(6 * 1024 * 1024)}"}}`,
            `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
            '\uFEFF{"resourceType":"Observation"}',
            '{"resourceType":"Observation","status":"final","code":{"text":"\u0000"},"subject":{"reference":"Patient/fz-a"}}',
          ),
          weight: 2,
        },
      );
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('POST', 'POST', 'PUT', 'PUT', 'DELETE'),
          fc.constantFrom('Observation', 'Observation', 'Observation', 'Patient', 'Condition', 'Nonsense', 'observation'),
          fc.oneof(fc.constantFrom(`${B}-lab`, B, `${B}-cond`, 'fz-new-1', 'fz-new-2', `${A}-lab`), hostileString()),
          bodyText,
          fc.boolean(),
          fc.oneof(
            { arbitrary: fc.constantFrom('application/fhir+json', 'application/json'), weight: 3 },
            { arbitrary: fc.constantFrom(...CONTENT_TYPES), weight: 1 },
          ),
          fc.option(fc.oneof(fc.constantFrom('W/"1"', '"1"', '1', 'W/"999"', '*'), hostileHeaderValue()), { freq: 2 }),
          async (method, type, id, generated, carryId, contentType, ifMatch) => {
            // An update must carry the URL's id in the body: put it there half of the time.
            let text = generated;
            if (carryId && method === 'PUT' && text.startsWith('{"resourceType"')) text = `{"id":${JSON.stringify(id)},${text.slice(1)}`;
            const headers: Record<string, string> = authOf('patientA');
            if (contentType !== null) headers['content-type'] = contentType;
            if (ifMatch) headers['if-match'] = ifMatch;
            let path: string = type;
            if (method !== 'POST') {
              try {
                path = `${type}/${encodeURIComponent(id)}`;
              } catch {
                path = `${type}/x`;
              }
            }
            const req = new Request(`${BASE}/${path}`, { method, headers, ...(method === 'DELETE' ? {} : { body: text }) });
            const seen = await fhir(req, `${method} /fhir/{type}${method === 'POST' ? '' : '/{id}'}`);
            const body = assertFhirAnswer(seen, 'patientA', `${method} ${path.slice(0, 100)} ${contentType} ${text.slice(0, 200)}`);
            // Explicit: a successful write by patient A's token is a resource in A's compartment.
            if (body && method !== 'DELETE' && body.resourceType !== 'OperationOutcome') {
              expect(JSON.stringify(body), text.slice(0, 200)).toContain(`Patient/${A}`);
            }
          },
        ),
        { numRuns: n3 },
      );
      // BOLA on writes: nothing of patient B changed version or disappeared.
      for (const [key, version] of bVersions) {
        const [type, id] = key.split('/') as [string, string];
        const stored = await store.read(DEFAULT_SANDBOX_ID, type, id);
        expect(stored.versionId, key).toBe(version);
      }
      await assertStillWorks();
    },
    timeoutFor(n3, 300),
  );

  const n4 = runs(200);
  it(
    'hostile headers (Accept, Prefer, If-None-Match, Authorization, Origin, _format): 200 or a 4xx OperationOutcome',
    async () => {
      const header = fc.tuple(
        fc.constantFrom(
          'accept',
          'prefer',
          'if-none-match',
          'if-modified-since',
          'authorization',
          'origin',
          'content-type',
          'x-forwarded-host',
          'x-forwarded-proto',
          'host',
          'cookie',
        ),
        hostileHeaderValue(),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(header, { maxLength: 4 }),
          fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: fc.constantFrom(...NASTY, 'xml', 'json', 'text/turtle'), weight: 1 }),
          fc.constantFrom(`Patient/${A}`, 'Observation?patient=fz-a', 'metadata', `Patient/${A}/$everything`, `Patient/${A}/_history`),
          async (headers, format, path) => {
            const h = new Headers(authOf('patientA'));
            for (const [k, v] of headers) {
              try {
                h.set(k, v);
              } catch {
                // a value no HTTP client could send
              }
            }
            let url = `${BASE}/${path}`;
            if (format !== null) url += `${path.includes('?') ? '&' : '?'}_format=${encodeURIComponent(format.replace(/[\uD800-\uDFFF]/g, ''))}`;
            const seen = await fhir(new Request(url, { headers: h }), 'GET /fhir (hostile headers)');
            const w: Who = h.get('authorization') === `Bearer ${patientA}` ? 'patientA' : 'garbage';
            assertFhirAnswer(seen, w, `${url.slice(0, 200)} ${JSON.stringify(headers).slice(0, 300)}`);
          },
        ),
        { numRuns: n4 },
      );
      await assertStillWorks();
    },
    timeoutFor(n4),
  );

  const n5 = runs(150);
  it(
    'LIKE wildcards and escapes in string searches are literal: `%`, `_`, `\\` never widen a match',
    async () => {
      // No fixture Patient has %, _ or \ in a name or city, so every such search finds nothing.
      const piece = fc.constantFrom('', 'B', 'Bau', 'er', 'Å', 'ber', 'ville', 'a', 'Zo');
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('name', 'family', 'given', 'address-city', 'name:contains', 'family:contains', 'family:exact', 'address-city:contains'),
          piece,
          fc.constantFrom('%', '_', '%%', '_%', '%_', '\\%', '\\_', '\\', '[%]', '[_]', '*', '.*'),
          piece,
          async (name, before, wildcard, after) => {
            const value = `${before}${wildcard}${after}`;
            const seen = await fhir(
              new Request(`${BASE}/Patient?${new URLSearchParams([[name, value]]).toString()}&_total=accurate`, { headers: authOf('user') }),
              'GET /fhir/{type}?…',
            );
            const body = assertFhirAnswer(seen, 'user', `${name}=${value}`);
            expect(body, `${name}=${value}`).toMatchObject({ resourceType: 'Bundle', total: 0 });
          },
        ),
        { numRuns: n5 },
      );
      await assertStillWorks();
    },
    timeoutFor(n5),
  );
});

/** After a property: patient A's token still reads A, still cannot read B; health is ok. */
async function assertStillWorks(): Promise<void> {
  const ok = await fhir(new Request(`${BASE}/Patient/${A}`, { headers: authOf('patientA') }), 'GET /fhir/{type}/{id}…');
  expect(ok.status, ok.text).toBe(200);
  expect(JSON.parse(ok.text)).toMatchObject({ resourceType: 'Patient', id: A });
  const hidden = await fhir(new Request(`${BASE}/Patient/${B}`, { headers: authOf('patientA') }), 'GET /fhir/{type}/{id}…');
  expect(hidden.status).toBe(404);
  const search = await fhir(new Request(`${BASE}/Observation?patient=${A}&_count=5`, { headers: authOf('patientA') }), 'GET /fhir/{type}?…');
  expect(search.status).toBe(200);
  expect(JSON.parse(search.text)).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
  await assertHealthy();
}
