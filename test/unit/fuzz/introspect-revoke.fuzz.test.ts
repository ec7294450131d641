/**
 * Fuzzing POST /oauth/introspect and POST /oauth/revoke: hostile token values, forgeries of our
 * own access tokens (alg none, HS256 keyed with our public key, swapped payload, truncated),
 * hostile token_type_hint, and garbage caller authentication.
 * Invariants: introspection answers exactly `{"active":false}` for anything but a real token, or a
 * 4xx OAuth error; revocation answers 200 `{}` for unknown tokens (RFC 7009 §2.2), or a 4xx OAuth
 * error; never a 5xx or internals; both still work afterwards.
 */
import fc from 'fast-check';
import { exportSPKI, importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OAuthClient } from '../../../lib/oauth/clients';
import { handleIntrospect } from '../../../lib/oauth/endpoints/introspect';
import { handleRevoke } from '../../../lib/oauth/endpoints/revoke';
import { getPublicJwks } from '../../../lib/oauth/keys';
import { basic, exchange, getCode, newClient, ORIGIN } from '../../../lib/oauth/test-support';
import {
  assertHealthy,
  assertOAuthError,
  CONTENT_TYPES,
  hostileHeaderValue,
  hostileString,
  printSummary,
  runs,
  send,
  timeoutFor,
  toQuery,
} from './fuzz-support';

const INTROSPECT = `${ORIGIN}/oauth/introspect`;
const REVOKE = `${ORIGIN}/oauth/revoke`;
const FORM = 'application/x-www-form-urlencoded';

let caller: { client: OAuthClient; secret: string };
let app: OAuthClient;
let accessToken: string;
let refreshToken: string;

beforeAll(async () => {
  const sym = await newClient('confidential-symmetric', { introspectAnyToken: true });
  caller = { client: sym.client, secret: sym.clientSecret! };
  app = (await newClient('public')).client;
  const { code, verifier } = await getCode(app);
  const body = (await (await exchange(code, verifier, { params: { client_id: app.clientId } })).json()) as { access_token: string; refresh_token: string };
  accessToken = body.access_token;
  refreshToken = body.refresh_token;
});

afterAll(() => printSummary());

function post(
  url: string,
  pairs: [string, string][],
  headers: Record<string, string> = {},
  contentType: string | null = FORM,
  mode: 'encode' | 'raw' = 'encode',
): Request {
  const h = new Headers(headers);
  if (contentType !== null) h.set('content-type', contentType);
  return new Request(url, { method: 'POST', headers: h, body: toQuery(pairs, mode) });
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

const FORGERIES = ['alg-none', 'hs256-with-our-public-key', 'payload-swapped', 'truncated', 'signature-flipped', 'refresh-with-a-char-changed'] as const;

/** A forgery of a real token of ours: none of these may ever be reported active. */
async function forge(kind: (typeof FORGERIES)[number]): Promise<string> {
  const [h, p, s] = accessToken.split('.') as [string, string, string];
  const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  switch (kind) {
    case 'alg-none':
      return `${b64({ ...header, alg: 'none' })}.${p}.`;
    case 'hs256-with-our-public-key': {
      const jwk = (await getPublicJwks()).keys.find((k) => k.kid === header.kid)!;
      const pem = await exportSPKI((await importJWK(jwk, String(jwk.alg), { extractable: true })) as CryptoKey);
      return new SignJWT(payload).setProtectedHeader({ ...header, alg: 'HS256' } as { alg: string }).sign(new TextEncoder().encode(pem));
    }
    case 'payload-swapped':
      return `${h}.${b64({ ...payload, scope: 'system/*.cruds', patient: 'someone-else' })}.${s}`;
    case 'truncated':
      return accessToken.slice(0, -5);
    case 'signature-flipped':
      return `${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`;
    case 'refresh-with-a-char-changed':
      return `${refreshToken.startsWith('A') ? 'B' : 'A'}${refreshToken.slice(1)}`;
  }
}

const tokenValue = fc.oneof(
  { arbitrary: hostileString({ huge: true }), weight: 4 },
  { arbitrary: fc.constantFrom(...FORGERIES).map((k) => ({ forge: k })), weight: 2 },
  { arbitrary: fc.tuple(hostileString(), hostileString(), hostileString()).map(([a, b, c]) => `${a}.${b}.${c}`), weight: 1 },
);

async function tokenOf(v: string | { forge: (typeof FORGERIES)[number] }): Promise<string> {
  return typeof v === 'string' ? v : forge(v.forge);
}

const hint = fc.option(fc.oneof(fc.constantFrom('access_token', 'refresh_token', 'id_token', 'ACCESS_TOKEN'), hostileString()));

describe('fuzz /oauth/introspect', () => {
  const n1 = runs(200);
  it(
    'an authenticated caller, hostile or forged tokens, any hint: exactly {"active":false} or a 4xx error',
    async () => {
      await fc.assert(
        fc.asyncProperty(tokenValue, hint, async (value, typeHint) => {
          const token = await tokenOf(value);
          const pairs: [string, string][] = [['token', token]];
          if (typeHint !== null) pairs.push(['token_type_hint', typeHint]);
          const seen = await send('POST /oauth/introspect', handleIntrospect, post(INTROSPECT, pairs, basic(caller.client.clientId, caller.secret)));
          if (seen.status === 200) expect(JSON.parse(seen.text), `${JSON.stringify(value).slice(0, 100)}`).toEqual({ active: false });
          else assertOAuthError(seen, `token ${token.slice(0, 100)}`, ['invalid_request']);
        }),
        { numRuns: n1 },
      );
      await assertIntrospectionWorks();
    },
    timeoutFor(n1),
  );

  const n2 = runs(150);
  it(
    'garbage caller authentication, content types and bodies: a 4xx OAuth error, never token facts',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.option(hostileHeaderValue()),
          fc.array(
            fc.tuple(
              fc.oneof(fc.constantFrom('token', 'client_id', 'client_secret', 'client_assertion', 'client_assertion_type', 'token_type_hint'), hostileString()),
              hostileString({ huge: true }),
            ),
            { maxLength: 6 },
          ),
          fc.constantFrom(...CONTENT_TYPES),
          fc.constantFrom('encode' as const, 'raw' as const),
          fc.boolean(),
          async (authorization, pairs, contentType, mode, withRealToken) => {
            const all: [string, string][] = withRealToken ? [['token', accessToken], ...pairs] : pairs;
            const seen = await send(
              'POST /oauth/introspect',
              handleIntrospect,
              post(INTROSPECT, all, authorization ? { authorization } : {}, contentType, mode),
            );
            assertOAuthError(seen, `${authorization?.slice(0, 80)} ${contentType} ${toQuery(all, mode).slice(0, 200)}`);
          },
        ),
        { numRuns: n2 },
      );
      await assertIntrospectionWorks();
    },
    timeoutFor(n2),
  );
});

describe('fuzz /oauth/revoke', () => {
  const n3 = runs(200);
  it(
    'a public client revoking hostile or forged tokens: 200 {} (nothing revoked) or a 4xx error; the real tokens stay valid',
    async () => {
      await fc.assert(
        fc.asyncProperty(tokenValue, hint, fc.boolean(), async (value, typeHint, asCaller) => {
          const token = await tokenOf(value);
          const pairs: [string, string][] = [['token', token]];
          if (typeHint !== null) pairs.push(['token_type_hint', typeHint]);
          const req = asCaller ? post(REVOKE, pairs, basic(caller.client.clientId, caller.secret)) : post(REVOKE, [...pairs, ['client_id', app.clientId]]);
          const seen = await send('POST /oauth/revoke', handleRevoke, req);
          if (seen.status === 200) expect(JSON.parse(seen.text)).toEqual({});
          else assertOAuthError(seen, `token ${token.slice(0, 100)}`, ['invalid_request', 'invalid_grant', 'unsupported_token_type']);
        }),
        { numRuns: n3 },
      );
      // Explicit: no forgery revoked (or disturbed) the real tokens.
      expect(await introspect(accessToken)).toMatchObject({ active: true });
      expect(await introspect(refreshToken)).toMatchObject({ active: true });
      await assertHealthy();
    },
    timeoutFor(n3),
  );

  const n4 = runs(150);
  it(
    'garbage client authentication, content types and bodies: a 4xx OAuth error, nothing revoked',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.option(hostileHeaderValue()),
          fc.array(
            fc.tuple(
              fc.oneof(fc.constantFrom('token', 'client_id', 'client_secret', 'client_assertion', 'client_assertion_type'), hostileString()),
              hostileString({ huge: true }),
            ),
            { maxLength: 6 },
          ),
          fc.constantFrom(...CONTENT_TYPES),
          fc.constantFrom('encode' as const, 'raw' as const),
          async (authorization, pairs, contentType, mode) => {
            // The real access token, sent by someone who cannot authenticate as its client.
            const all: [string, string][] = [['token', accessToken], ...pairs];
            const seen = await send('POST /oauth/revoke', handleRevoke, post(REVOKE, all, authorization ? { authorization } : {}, contentType, mode));
            assertOAuthError(seen, `${authorization?.slice(0, 80)} ${contentType} ${toQuery(all, mode).slice(0, 200)}`);
          },
        ),
        { numRuns: n4 },
      );
      expect(await introspect(accessToken)).toMatchObject({ active: true });
      await assertHealthy();
    },
    timeoutFor(n4),
  );
});

async function introspect(token: string): Promise<Record<string, unknown>> {
  const seen = await send('POST /oauth/introspect', handleIntrospect, post(INTROSPECT, [['token', token]], basic(caller.client.clientId, caller.secret)));
  expect(seen.status, seen.text).toBe(200);
  return JSON.parse(seen.text) as Record<string, unknown>;
}

/** After a property: the real tokens introspect as active, and health is ok. */
async function assertIntrospectionWorks(): Promise<void> {
  expect(await introspect(accessToken)).toMatchObject({ active: true, client_id: app.clientId });
  expect(await introspect(refreshToken)).toMatchObject({ active: true, client_id: app.clientId });
  await assertHealthy();
}
