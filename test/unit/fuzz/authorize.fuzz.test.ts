/**
 * Fuzzing /oauth/authorize (GET and POST form): every parameter mutated, dropped, duplicated or
 * made huge; unknown parameters; bad percent-encodings; wrong methods and content types.
 * Invariants: a 303 (to the interaction screens, or an error redirect to the registered
 * redirect_uri only) or the 400 HTML error page; never a 5xx, never internals.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OAuthClient } from '../../../lib/oauth/clients';
import { handleAuthorize } from '../../../lib/oauth/endpoints/authorize';
import { authorizeQuery, newClient, ORIGIN, pkce, REDIRECT } from '../../../lib/oauth/test-support';
import type { Seen } from './fuzz-support';
import {
  assertAuthorizeErrorPage,
  assertHealthy,
  CONTENT_TYPES,
  hostileString,
  OAUTH_ERROR_CODES,
  printSummary,
  runs,
  send,
  timeoutFor,
  toQuery,
} from './fuzz-support';

const AUTHORIZE = `${ORIGIN}/oauth/authorize`;
const PARAMS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'aud',
  'code_challenge',
  'code_challenge_method',
  'launch',
  'nonce',
  'prompt',
  'max_age',
  'login_hint',
  'id_token_hint',
  'request',
  'request_uri',
  'response_mode',
  'display',
  'claims',
] as const;

type Pair = readonly [string, string];
type Mutation = { op: 'set' | 'dup' | 'add'; name: string; value: string } | { op: 'drop'; name: string };

let publicClient: OAuthClient;
let confidential: OAuthClient;

beforeAll(async () => {
  publicClient = (await newClient('public')).client;
  confidential = (await newClient('confidential-symmetric')).client;
});

afterAll(() => printSummary());

function validPairs(client: OAuthClient): Pair[] {
  return [...authorizeQuery({ client_id: client.clientId, nonce: 'n-1' }, pkce().challenge)];
}

function apply(pairs: Pair[], mutations: readonly Mutation[]): Pair[] {
  let out = [...pairs];
  for (const m of mutations) {
    if (m.op === 'drop') out = out.filter(([k]) => k !== m.name);
    else if (m.op === 'set') out = [...out.filter(([k]) => k !== m.name), [m.name, m.value]];
    else out = [...out, [m.name, m.value]];
  }
  return out;
}

const paramName = fc.oneof({ arbitrary: fc.constantFrom(...PARAMS), weight: 5 }, { arbitrary: hostileString(), weight: 1 });
const paramValue = fc.oneof(
  { arbitrary: hostileString({ huge: true }), weight: 5 },
  // Values that are almost right: other casing, extra spaces, neighbouring spellings.
  {
    arbitrary: fc.constantFrom(
      'code',
      'CODE',
      'code ',
      'token',
      'code id_token',
      'S256',
      's256',
      'plain',
      'openid',
      'launch',
      'http://localhost:3000/fhir',
      'http://localhost:3000/fhir/',
      REDIRECT,
      `${REDIRECT}/`,
      `${REDIRECT}?x=1`,
    ),
    weight: 2,
  },
);
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), name: paramName, value: paramValue }),
  fc.record({ op: fc.constant('dup' as const), name: paramName, value: paramValue }),
  fc.record({ op: fc.constant('add' as const), name: hostileString(), value: paramValue }),
  fc.record({ op: fc.constant('drop' as const), name: fc.constantFrom(...PARAMS) }),
);

function buildRequest(method: string, pairs: Pair[], mode: 'encode' | 'raw', contentType: string | null): Request {
  const query = toQuery(pairs, mode);
  if (method === 'GET' || method === 'HEAD') return new Request(`${AUTHORIZE}?${query}`, { method });
  const headers = new Headers();
  if (contentType !== null) headers.set('content-type', contentType);
  return new Request(AUTHORIZE, { method, headers, body: query });
}

/** The parameters as the server parses them (query, plus the body of a form POST). */
async function parsedParams(req: Request): Promise<URLSearchParams> {
  const all = new URLSearchParams(new URL(req.url).search);
  if (req.method === 'POST') for (const [k, v] of new URLSearchParams(await req.clone().text())) all.append(k, v);
  return all;
}

/**
 * The invariant of every answer: 303 to our own interaction screens, 303 to the client's
 * registered redirect_uri carrying an RFC error code, iss and the state as sent — or the HTML page.
 */
function assertAuthorizeAnswer(seen: Seen, sent: URLSearchParams, where: string): 'interaction' | 'error-redirect' | 'page' {
  if (seen.status === 400) {
    assertAuthorizeErrorPage(seen, where);
    return 'page';
  }
  expect(seen.status, `${where}: ${seen.text.slice(0, 300)}`).toBe(303);
  const location = seen.headers.get('location') ?? '';
  if (location.startsWith(`${ORIGIN}/interaction/`)) return 'interaction';
  expect(location.startsWith(`${REDIRECT}?`), `${where}: redirected to an unregistered target ${location.slice(0, 200)}`).toBe(true);
  // Only when client_id and redirect_uri were each sent once and exactly as registered.
  expect(sent.getAll('redirect_uri'), where).toEqual([REDIRECT]);
  expect(sent.getAll('client_id').length, where).toBe(1);
  const back = new URL(location).searchParams;
  expect(OAUTH_ERROR_CODES.has(back.get('error') ?? ''), `${where}: ${location.slice(0, 300)}`).toBe(true);
  expect(back.has('code'), where).toBe(false);
  expect(back.get('iss'), where).toBe(ORIGIN);
  const states = sent.getAll('state');
  if (states.length === 1 && states[0] !== '') expect(back.get('state'), where).toBe(states[0]);
  return 'error-redirect';
}

describe('fuzz /oauth/authorize', () => {
  const n1 = runs(300);
  it(
    'mutated valid requests (set, drop, duplicate, add; GET or POST; encoded or raw): interaction, registered error redirect or 400 page',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.boolean(),
          fc.array(mutation, { minLength: 0, maxLength: 4 }),
          fc.constantFrom('GET', 'POST'),
          fc.constantFrom('encode' as const, 'encode' as const, 'raw' as const),
          async (usePublic, mutations, method, mode) => {
            const client = usePublic ? publicClient : confidential;
            const pairs = apply(validPairs(client), mutations);
            const req = buildRequest(method, pairs, mode, 'application/x-www-form-urlencoded');
            const sent = await parsedParams(req);
            const seen = await send(`${method} /oauth/authorize`, handleAuthorize, req);
            const outcome = assertAuthorizeAnswer(seen, sent, `${method} ${toQuery(pairs, mode).slice(0, 300)}`);
            // Explicit: an unchanged valid request succeeds; a client_id or redirect_uri that is not
            // exactly the registered one (or is repeated) is never redirected.
            if (mutations.length === 0) expect(outcome).toBe('interaction');
            const singleExact =
              sent.getAll('client_id').length === 1 && sent.get('client_id') === client.clientId && sent.getAll('redirect_uri').join('\n') === REDIRECT;
            if (!singleExact) expect(outcome).toBe('page');
          },
        ),
        { numRuns: n1 },
      );
      await assertStillWorks();
    },
    timeoutFor(n1),
  );

  const n2 = runs(200);
  it(
    'random query strings and bodies, any method and content type: the 400 page, never a redirect',
    async () => {
      const pairs = fc.array(fc.tuple(hostileString(), hostileString({ huge: true })), { maxLength: 8 });
      await fc.assert(
        fc.asyncProperty(
          pairs,
          pairs,
          fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
          fc.constantFrom(...CONTENT_TYPES),
          fc.constantFrom('encode' as const, 'raw' as const),
          async (query, body, method, contentType, mode) => {
            const headers = new Headers();
            if (contentType !== null) headers.set('content-type', contentType);
            const req = new Request(`${AUTHORIZE}?${toQuery(query, mode)}`, { method, headers, ...(method === 'GET' ? {} : { body: toQuery(body, mode) }) });
            const seen = await send(`${method === 'GET' || method === 'POST' ? method : 'other'} /oauth/authorize`, handleAuthorize, req);
            assertAuthorizeErrorPage(seen, `${method} ${contentType} ${toQuery(query, mode).slice(0, 200)}`);
          },
        ),
        { numRuns: n2 },
      );
      await assertStillWorks();
    },
    timeoutFor(n2),
  );

  const n3 = runs(100);
  it(
    'too many or too long parameters, for a registered client: the 400 page',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('GET', 'POST'), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 3 }), async (method, kind, where) => {
          const base = validPairs(publicClient);
          const extra: Pair[] =
            kind === 0
              ? Array.from({ length: 101 }, (_, i) => [`x${i}`, 'y'] as const)
              : kind === 1
                ? [[PARAMS[where] ?? 'state', 'z'.repeat(4097)]]
                : [['n'.repeat(101), '1']];
          const req = buildRequest(
            method,
            kind === 1 ? apply(base, [{ op: 'set', name: extra[0]![0], value: extra[0]![1] }]) : [...base, ...extra],
            'encode',
            'application/x-www-form-urlencoded',
          );
          const seen = await send(`${method} /oauth/authorize`, handleAuthorize, req);
          assertAuthorizeErrorPage(seen, `${method} kind ${kind}`);
        }),
        { numRuns: n3 },
      );
      await assertStillWorks();
    },
    timeoutFor(n3),
  );
});

/** After a property: a valid request still reaches the interaction screens, and health is ok. */
async function assertStillWorks(): Promise<void> {
  const req = new Request(`${AUTHORIZE}?${toQuery(validPairs(publicClient), 'encode')}`);
  const seen = await send('GET /oauth/authorize', handleAuthorize, req);
  expect(seen.status).toBe(303);
  expect(seen.headers.get('location')).toMatch(new RegExp(`^${ORIGIN}/interaction/`));
  await assertHealthy();
}
