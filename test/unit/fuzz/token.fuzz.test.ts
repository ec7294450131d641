/**
 * Fuzzing POST /oauth/token: random forms, every grant with mutated inputs, malformed client
 * assertions (alg none, HS256 keyed with the public key, wrong kid, expired, future iat, bad aud,
 * wrong typ, garbage segments …), malformed code_verifiers and HTTP Basic garbage.
 * Invariants: an RFC 6749 §5.2 JSON error (4xx, no-store) unless the input is the valid one;
 * never a 5xx, never internals; the endpoint still issues tokens afterwards.
 */
import { createPublicKey, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { CryptoKey, JWK } from 'jose';
import { exportSPKI, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OAuthClient } from '../../../lib/oauth/clients';
import { CLIENT_ASSERTION_TYPE } from '../../../lib/oauth/config';
import { handleToken } from '../../../lib/oauth/endpoints/token';
import type { AssertionOverrides } from '../../../lib/oauth/test-support';
import { assertionKeys, assertionParams, basic, FHIR_BASE, form, getCode, newClient, ORIGIN, REDIRECT, TOKEN_URL } from '../../../lib/oauth/test-support';
import type { Seen } from './fuzz-support';
import {
  assertHealthy,
  assertOAuthError,
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

const ENDPOINT = 'POST /oauth/token';
const FORM = 'application/x-www-form-urlencoded';
const FIELDS = [
  'grant_type',
  'code',
  'redirect_uri',
  'code_verifier',
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
  'refresh_token',
  'scope',
  'aud',
  'resource',
];

interface Backend {
  client: OAuthClient;
  jwk: JWK;
  privateKey: CryptoKey;
  alg: 'ES384' | 'RS384';
  kid: string;
  sign: (clientId: string, over?: AssertionOverrides) => Promise<string>;
}

let symmetric: { client: OAuthClient; secret: string };
let publicApp: OAuthClient;
let backends: Backend[];

beforeAll(async () => {
  const sym = await newClient('confidential-symmetric');
  symmetric = { client: sym.client, secret: sym.clientSecret! };
  publicApp = (await newClient('public')).client;
  backends = [];
  for (const alg of ['ES384', 'RS384'] as const) {
    const keys = await assertionKeys(alg);
    const { client } = await newClient('backend', { jwks: { keys: [keys.jwk as never] }, scope: 'system/*.rs' });
    backends.push({ client, jwk: keys.jwk, privateKey: keys.privateKey, alg, kid: `${alg}-key`, sign: keys.sign });
  }
});

afterAll(() => printSummary());

function token(req: Request): Promise<Seen> {
  return send(ENDPOINT, handleToken, req);
}

function postForm(body: string, contentType: string | null = FORM, headers: Record<string, string> = {}, method = 'POST'): Request {
  const h = new Headers(headers);
  if (contentType !== null) h.set('content-type', contentType);
  return new Request(TOKEN_URL, { method, headers: h, ...(method === 'GET' || method === 'HEAD' ? {} : { body }) });
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function nowS(): number {
  return Math.floor(Date.now() / 1000);
}

function baseClaims(clientId: string): Record<string, unknown> {
  return { iss: clientId, sub: clientId, aud: TOKEN_URL, exp: nowS() + 300, jti: randomBytes(16).toString('hex') };
}

/** Every way of getting a client assertion wrong, and the one way of getting it right. */
const ASSERTION_FLAWS = [
  'valid',
  'alg-none',
  'alg-none-keeping-signature',
  'hs256-keyed-with-public-pem',
  'hs256-keyed-with-public-jwk',
  'rs256-instead-of-rs384',
  'wrong-kid',
  'no-kid',
  'expired',
  'future-iat',
  'future-nbf',
  'exp-too-far',
  'no-exp',
  'bad-aud',
  'aud-is-fhir-base',
  'wrong-typ',
  'no-typ',
  'iss-differs-from-sub',
  'unknown-iss',
  'no-jti',
  'jti-too-long',
  'foreign-jku',
  'claims-of-wrong-type',
  'payload-swapped-after-signing',
  'other-key-same-kid',
  'garbage-segments',
  'replayed',
] as const;
type Flaw = (typeof ASSERTION_FLAWS)[number];

async function flawedAssertion(b: Backend, flaw: Flaw, noise: string): Promise<string> {
  const id = b.client.clientId;
  const header = { alg: b.alg, kid: b.kid, typ: 'JWT' };
  const claims = baseClaims(id);
  switch (flaw) {
    case 'valid':
    case 'replayed':
      return b.sign(id);
    case 'alg-none':
      return `${b64({ ...header, alg: 'none' })}.${b64(claims)}.`;
    case 'alg-none-keeping-signature': {
      const [, payload, sig] = (await b.sign(id)).split('.');
      return `${b64({ ...header, alg: 'none' })}.${payload}.${sig}`;
    }
    case 'hs256-keyed-with-public-pem': {
      const pem = await exportSPKI(createPublicKey({ key: b.jwk as never, format: 'jwk' }) as never);
      return new SignJWT(claims).setProtectedHeader({ ...header, alg: 'HS256' }).sign(new TextEncoder().encode(pem));
    }
    case 'hs256-keyed-with-public-jwk':
      return new SignJWT(claims).setProtectedHeader({ ...header, alg: 'HS256' }).sign(new TextEncoder().encode(JSON.stringify(b.jwk)));
    case 'rs256-instead-of-rs384':
      return `${b64({ ...header, alg: b.alg === 'RS384' ? 'RS256' : 'ES256' })}.${(await b.sign(id)).split('.').slice(1).join('.')}`;
    case 'wrong-kid':
      return b.sign(id, { header: { kid: noise || 'other' } });
    case 'no-kid':
      return b.sign(id, { header: { kid: undefined } });
    case 'expired':
      return b.sign(id, { claims: { exp: nowS() - 3600, iat: nowS() - 3900 } });
    case 'future-iat':
      return b.sign(id, { claims: { iat: nowS() + 3600 } });
    case 'future-nbf':
      return b.sign(id, { claims: { nbf: nowS() + 3600 } });
    case 'exp-too-far':
      return b.sign(id, { claims: { exp: nowS() + 86_400 } });
    case 'no-exp':
      return b.sign(id, { omit: ['exp'] });
    case 'bad-aud':
      return b.sign(id, { claims: { aud: noise === TOKEN_URL || noise === ORIGIN ? 'x' : noise } });
    case 'aud-is-fhir-base':
      return b.sign(id, { claims: { aud: [FHIR_BASE, `${TOKEN_URL}/`] } });
    case 'wrong-typ':
      return b.sign(id, { header: { typ: ['at+jwt', 'JWS', 'dpop+jwt', noise, 123][noise.length % 5] } });
    case 'no-typ':
      return b.sign(id, { header: { typ: undefined } });
    case 'iss-differs-from-sub':
      return b.sign(id, { claims: { sub: noise || 'someone' } });
    case 'unknown-iss':
      return b.sign(id, { claims: { iss: noise || 'nobody', sub: noise || 'nobody' } });
    case 'no-jti':
      return b.sign(id, { omit: ['jti'] });
    case 'jti-too-long':
      return b.sign(id, { claims: { jti: 'j'.repeat(256) } });
    case 'foreign-jku':
      return b.sign(id, { header: { jku: 'https://evil.example/jwks.json' } });
    case 'claims-of-wrong-type':
      return b.sign(id, {
        claims: [{ exp: 'tomorrow' }, { iat: 'now' }, { aud: { url: TOKEN_URL } }, { jti: 42 }, { exp: 1e20 }, { iss: null }][noise.length % 6],
      });
    case 'payload-swapped-after-signing': {
      const [h, , s] = (await b.sign(id)).split('.');
      return `${h}.${b64({ ...claims, scope: 'system/*.cruds' })}.${s}`;
    }
    case 'other-key-same-kid': {
      const other = await assertionKeys(b.alg, b.kid);
      return other.sign(id);
    }
    case 'garbage-segments': {
      const parts = [b64(header), b64(claims), 'c2ln'];
      const n = noise.length % 6;
      if (n === 0) return noise;
      if (n === 1) return `${noise}.${noise}.${noise}`;
      if (n === 2) return `${b64(noise)}.${parts[1]}.${parts[2]}`;
      if (n === 3) return `${parts[0]}.${b64(noise)}.${parts[2]}`;
      if (n === 4) return `${parts[0]}.${parts[1]}`;
      return `${parts.join('.')}.${parts[2]}`;
    }
  }
}

describe('fuzz /oauth/token', () => {
  const n1 = runs(300);
  it(
    'random forms (any fields, values, content type, method, Authorization): a 4xx OAuth error',
    async () => {
      const pair = fc.tuple(
        fc.oneof(fc.constantFrom(...FIELDS), hostileString()),
        fc.oneof(
          hostileString({ huge: true }),
          fc.constantFrom('authorization_code', 'refresh_token', 'client_credentials', 'password', 'implicit', CLIENT_ASSERTION_TYPE),
        ),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(pair, { maxLength: 10 }),
          fc.constantFrom(...CONTENT_TYPES),
          fc.constantFrom('encode' as const, 'raw' as const),
          fc.option(hostileHeaderValue()),
          fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT'),
          async (pairs, contentType, mode, authorization, method) => {
            const seen = await token(postForm(toQuery(pairs, mode), contentType, authorization ? { authorization } : {}, method));
            assertOAuthError(seen, `${method} ${contentType} ${toQuery(pairs, mode).slice(0, 200)}`);
          },
        ),
        { numRuns: n1 },
      );
      await assertStillWorks();
    },
    timeoutFor(n1),
  );

  const n2 = runs(120);
  it(
    'authorization_code with mutated code, code_verifier, redirect_uri, client_id: only the untouched exchange succeeds',
    async () => {
      const verifierLike = fc.oneof(
        hostileString(),
        fc.string({ unit: fc.constantFrom(...'ABCxyz019-._~'), minLength: 0, maxLength: 200 }),
        fc.constantFrom(
          'a'.repeat(42),
          'a'.repeat(43),
          'a'.repeat(128),
          'a'.repeat(129),
          `${'a'.repeat(42)}=`,
          `${'a'.repeat(43)}\u00e9`,
          `${'a'.repeat(43)}+`,
        ),
      );
      const change = fc.option(
        fc.oneof(
          fc.record({ field: fc.constantFrom('code', 'code_verifier', 'redirect_uri', 'client_id'), value: fc.oneof(hostileString(), verifierLike) }),
          fc.record({ field: fc.constantFrom('drop-verifier', 'dup-code', 'dup-verifier'), value: fc.constant('') }),
        ),
      );
      await fc.assert(
        fc.asyncProperty(fc.boolean(), change, async (usePublic, mutation) => {
          const client = usePublic ? publicApp : symmetric.client;
          const { code, verifier } = await getCode(client);
          const fields: [string, string][] = [
            ['grant_type', 'authorization_code'],
            ['code', code],
            ['redirect_uri', REDIRECT],
            ['code_verifier', verifier],
          ];
          if (usePublic) fields.push(['client_id', client.clientId]);
          let list = fields;
          if (mutation) {
            const { field, value } = mutation;
            if (field === 'drop-verifier') list = fields.filter(([k]) => k !== 'code_verifier');
            else if (field === 'dup-code') list = [...fields, ['code', code]];
            else if (field === 'dup-verifier') list = [...fields, ['code_verifier', verifier]];
            else list = [...fields.filter(([k]) => k !== field), [field, value]];
          }
          const headers = usePublic ? {} : basic(client.clientId, symmetric.secret);
          const seen = await token(postForm(toQuery(list, 'encode'), FORM, headers));
          // Explicit: no mutation, or one that happens to send the right value again, is a valid exchange.
          const rightValue = mutation?.field === 'client_id' ? client.clientId : fields.find(([k]) => k === mutation?.field)?.[1];
          // An empty client_id counts as absent (RFC 6749 §3.1): fine when Basic already names the client.
          const emptyOptional = mutation?.field === 'client_id' && mutation.value === '' && !usePublic;
          const unchanged = mutation === null || emptyOptional || (rightValue !== undefined && rightValue === mutation.value);
          if (unchanged) {
            expect(seen.status, seen.text).toBe(200);
            expect(JSON.parse(seen.text)).toMatchObject({ token_type: 'Bearer' });
          } else {
            assertOAuthError(seen, `${JSON.stringify(mutation).slice(0, 200)}`, ['invalid_grant', 'invalid_request', 'invalid_client']);
          }
        }),
        { numRuns: n2 },
      );
      await assertStillWorks();
    },
    timeoutFor(n2, 300),
  );

  const n3 = runs(100);
  it(
    'refresh_token: hostile tokens are invalid_grant; hostile scopes on a real token are refused or narrow',
    async () => {
      const { code, verifier } = await getCode(publicApp);
      const first = await token(
        postForm(
          toQuery(
            [
              ['grant_type', 'authorization_code'],
              ['code', code],
              ['redirect_uri', REDIRECT],
              ['code_verifier', verifier],
              ['client_id', publicApp.clientId],
            ],
            'encode',
          ),
        ),
      );
      expect(first.status).toBe(200);
      let refresh = String((JSON.parse(first.text) as { refresh_token: string }).refresh_token);
      const granted = new Set('openid fhirUser launch/patient patient/*.rs offline_access'.split(' '));
      await fc.assert(
        fc.asyncProperty(
          fc.boolean(),
          fc.option(
            fc.oneof(
              hostileString(),
              fc.constantFrom(
                'patient/*.rs',
                'patient/Observation.rs',
                'patient/*.cruds',
                'user/*.rs',
                'system/*.rs',
                'openid',
                'patient/*.read',
                'patient/Observation.rs?category=x',
              ),
            ),
          ),
          hostileString(),
          async (useReal, scope, garbage) => {
            const fields: [string, string][] = [
              ['grant_type', 'refresh_token'],
              ['refresh_token', useReal ? refresh : garbage],
              ['client_id', publicApp.clientId],
            ];
            if (scope !== null) fields.push(['scope', scope]);
            const seen = await token(postForm(toQuery(fields, 'encode')));
            if (seen.status === 200) {
              // Explicit: only the real token succeeds, with the original scope or a narrowing of it.
              expect(useReal).toBe(true);
              const body = JSON.parse(seen.text) as { scope: string; refresh_token: string };
              for (const s of body.scope.split(' ')) expect(granted.has(s) || s.startsWith('patient/'), body.scope).toBe(true);
              refresh = body.refresh_token;
            } else {
              assertOAuthError(seen, `scope ${String(scope).slice(0, 100)}`, ['invalid_grant', 'invalid_request', 'invalid_scope', 'invalid_client']);
              if (!useReal) expect(['invalid_grant', 'invalid_request']).toContain(JSON.parse(seen.text).error);
            }
          },
        ),
        { numRuns: n3 },
      );
      await assertStillWorks();
    },
    timeoutFor(n3),
  );

  const n4 = runs(200);
  it(
    'client_credentials with malformed client assertions: invalid_client; only a fresh valid assertion gets a token',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 1 }),
          fc.constantFrom(...ASSERTION_FLAWS),
          fc.oneof(hostileString(), fc.constantFrom(...NASTY)),
          async (which, flaw, noise) => {
            const b = backends[which]!;
            const assertion = await flawedAssertion(b, flaw, noise);
            const request = () =>
              postForm(
                toQuery([['grant_type', 'client_credentials'], ['scope', 'system/Patient.rs'], ...Object.entries(assertionParams(assertion))], 'encode'),
              );
            let seen = await token(request());
            if (flaw === 'replayed') {
              expect(seen.status, seen.text).toBe(200);
              seen = await token(request());
            }
            if (flaw === 'valid') {
              expect(seen.status, seen.text).toBe(200);
              expect(JSON.parse(seen.text)).toMatchObject({ token_type: 'Bearer', scope: 'system/Patient.rs' });
            } else {
              assertOAuthError(seen, `${b.alg} ${flaw} ${noise.slice(0, 60)}`, ['invalid_client', 'invalid_request']);
            }
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
    'client authentication garbage (HTTP Basic, client_secret_post, assertion type): a 4xx OAuth error',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            hostileHeaderValue().map((h) => ({ authorization: h })),
            fc.tuple(hostileString(), hostileString()).map(([id, secret]) => basicOf(id, secret)),
            fc
              .tuple(fc.constantFrom(symmetric.client.clientId, ''), hostileString())
              .map(([id, secret]) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`, 'latin1').toString('base64')}` })),
            fc.constant({}),
          ),
          fc.array(fc.tuple(fc.constantFrom('client_id', 'client_secret', 'client_assertion', 'client_assertion_type'), hostileString()), { maxLength: 3 }),
          fc.constantFrom('authorization_code', 'refresh_token', 'client_credentials'),
          async (headers, extra, grantType) => {
            const seen = await token(
              postForm(
                toQuery(
                  [['grant_type', grantType], ['code', 'x'], ['redirect_uri', REDIRECT], ['refresh_token', 'y'], ['scope', 'system/*.rs'], ...extra],
                  'encode',
                ),
                FORM,
                headers,
              ),
            );
            assertOAuthError(seen, `${JSON.stringify(headers).slice(0, 120)} ${JSON.stringify(extra).slice(0, 120)}`);
          },
        ),
        { numRuns: n5 },
      );
      await assertStillWorks();
    },
    timeoutFor(n5),
  );
});

/** HTTP Basic as RFC 6749 §2.3.1 builds it, or raw UTF-8 when the id cannot be form-encoded (lone surrogates). */
function basicOf(id: string, secret: string): Record<string, string> {
  try {
    return basic(id, secret);
  } catch {
    return { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` };
  }
}

/** After a property: a backend client still gets a token, and health is ok. */
async function assertStillWorks(): Promise<void> {
  const b = backends[0]!;
  const seen = await token(
    form(TOKEN_URL, { grant_type: 'client_credentials', scope: 'system/Patient.rs', ...assertionParams(await b.sign(b.client.clientId)) }),
  );
  expect(seen.status, seen.text).toBe(200);
  await assertHealthy();
}
