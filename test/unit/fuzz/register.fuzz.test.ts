/**
 * Fuzzing POST /oauth/register (RFC 7591): hostile redirect URIs (javascript:, data:, non-https
 * non-loopback, credentials, fragments …), hostile metadata of every field (wrong types, huge
 * arrays, Unicode), and bodies that are not JSON objects at all.
 * Invariants: 201 only for metadata an independent check accepts; otherwise 400
 * invalid_redirect_uri / invalid_client_metadata / invalid_request; never a 5xx or internals.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { handleRegister } from '../../../lib/oauth/endpoints/register';
import { ORIGIN, REDIRECT } from '../../../lib/oauth/test-support';
import { assertHealthy, assertOAuthError, CONTENT_TYPES, hostileString, NASTY, printSummary, runs, send, timeoutFor } from './fuzz-support';

const REGISTER = `${ORIGIN}/oauth/register`;
const ENDPOINT = 'POST /oauth/register';
const METADATA_ERRORS = ['invalid_redirect_uri', 'invalid_client_metadata', 'invalid_request'];

afterAll(() => printSummary());

function register(body: string, contentType: string | null = 'application/json'): Request {
  const headers = new Headers();
  if (contentType !== null) headers.set('content-type', contentType);
  return new Request(REGISTER, { method: 'POST', headers, body });
}

/** Redirect URIs no client may register (RFC 9700 §2.6, §4.1; RFC 8252 §7; RFC 6749 §3.1.2). */
const HOSTILE_REDIRECTS: readonly string[] = [
  'javascript:alert(1)',
  'JavaScript:alert(document.cookie)',
  ' javascript:alert(1)',
  'javascript://app.example.org/%0aalert(1)',
  'data:text/html,<script>alert(1)</script>',
  'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
  'vbscript:msgbox(1)',
  'file:///etc/passwd',
  'blob:https://app.example.org/uuid',
  'about:blank',
  'ws://localhost/cb',
  'ftp://app.example.org/cb',
  'http://app.example.org/callback',
  'http://evil.example/cb',
  'http://192.168.1.10/cb',
  'http://10.0.0.1/cb',
  'http://0.0.0.0/cb',
  'http://localhost.evil.example/cb',
  'http://127.0.0.1.evil.example/cb',
  'http://[::2]/cb',
  'https://user:pass@app.example.org/cb',
  'https://app.example.org/cb#frag',
  'https://app.example.org/cb#',
  'https:///cb',
  'https:\\\\evil.example\\cb',
  'https:app.example.org/cb',
  'http:/localhost/cb',
  'http:///localhost/cb',
  '/relative/callback',
  '//app.example.org/cb',
  'callback',
  'myapp:/cb',
  'https://app.example.org/c b',
  'https://app.example.org/\ncb',
  'x'.repeat(2001),
  `https://app.example.org/${'a'.repeat(2000)}`,
];

/** A redirect URI an independent reading of RFC 9700 §2.6 and RFC 8252 §7 accepts. */
function acceptableRedirect(uri: string): boolean {
  if (uri.length > 2000 || /\s|#/.test(uri)) return false;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  if (/^https?:/i.test(uri) && !/^https?:\/\/[^/?#\\]/i.test(uri)) return false;
  if (url.protocol === 'https:') return url.hostname !== '';
  if (url.protocol === 'http:') return ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname) || /^127(\.\d{1,3}){3}$/.test(url.hostname);
  return /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/.test(url.protocol) && !['javascript:', 'data:', 'vbscript:', 'file:'].includes(url.protocol);
}

const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: hostileString(), weight: 3 },
  { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 3 },
  { arbitrary: fc.array(hostileString(), { maxLength: 5 }), weight: 2 },
  { arbitrary: fc.constantFrom(null, true, 0, -1, 1e308, [], {}, [[]], { keys: [] }), weight: 1 },
  { arbitrary: fc.constantFrom(21, 5_000).map((n) => Array.from({ length: n }, (_, i) => `https://app.example.org/${i}`)), weight: 1 },
);

const FIELDS = [
  'redirect_uris',
  'token_endpoint_auth_method',
  'grant_types',
  'response_types',
  'client_name',
  'client_uri',
  'logo_uri',
  'scope',
  'contacts',
  'jwks_uri',
  'jwks',
  'software_id',
  'software_version',
  'launch_uris',
  'pkce_required',
  '__proto__',
  'constructor',
  'client_id',
  'client_secret',
] as const;

/** Field values that are nearly right, so that fuzzing reaches the rules behind the schema. */
const nearlyRight: Record<string, fc.Arbitrary<unknown>> = {
  redirect_uris: fc.array(fc.oneof(fc.constantFrom(REDIRECT, 'http://localhost:8080/cb', 'com.example.app:/cb', ...HOSTILE_REDIRECTS), hostileString()), {
    maxLength: 4,
  }),
  token_endpoint_auth_method: fc.constantFrom('none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt', 'tls_client_auth', 'NONE'),
  grant_types: fc.array(fc.constantFrom('authorization_code', 'refresh_token', 'client_credentials', 'implicit', 'password'), { maxLength: 4 }),
  response_types: fc.array(fc.constantFrom('code', 'token', 'id_token', 'code id_token'), { maxLength: 3 }),
  scope: fc.oneof(
    fc.constantFrom(
      'openid fhirUser launch/patient patient/*.rs',
      'system/*.rs',
      'patient/*.cruds user/*.cruds',
      'patient/Observation.rs?category=laboratory',
      'admin',
      '*',
    ),
    hostileString(),
  ),
  launch_uris: fc.array(fc.oneof(fc.constantFrom('https://app.example.org/launch', ...HOSTILE_REDIRECTS), hostileString()), { maxLength: 3 }),
  jwks: fc.constantFrom(
    { keys: [{ kty: 'oct', kid: 'k', k: 'c2VjcmV0' }] },
    { keys: [{ kty: 'RSA', kid: 'k', n: 'AQAB', e: 'AQAB', d: 'private' }] },
    { keys: [{ kty: 'EC', kid: '', crv: 'P-384', x: 'a', y: 'b' }] },
    { keys: 'all' },
  ),
  jwks_uri: fc.constantFrom('http://evil.example/jwks', 'https://app.example.org/jwks.json', 'javascript:alert(1)', 'file:///etc/passwd'),
  pkce_required: fc.constantFrom(false, true, 'false', 0),
};

describe('fuzz /oauth/register', () => {
  const n1 = runs(150);
  it(
    'a hostile redirect URI among valid metadata: 400 invalid_redirect_uri, nothing registered',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...HOSTILE_REDIRECTS),
          fc.nat({ max: 2 }),
          fc.constantFrom('none', 'client_secret_basic', 'client_secret_post'),
          async (hostile, position, method) => {
            const uris = [REDIRECT, 'http://localhost:9000/cb'];
            uris.splice(position, 0, hostile);
            const seen = await send(
              ENDPOINT,
              handleRegister,
              register(JSON.stringify({ client_name: 'fuzz', redirect_uris: uris, token_endpoint_auth_method: method })),
            );
            assertOAuthError(seen, hostile, ['invalid_redirect_uri']);
          },
        ),
        { numRuns: n1 },
      );
      await assertRegistrationWorks();
    },
    timeoutFor(n1),
  );

  const n2 = runs(250);
  it(
    'hostile metadata of every field (wrong types, huge arrays, Unicode): 201 only for acceptable metadata, else a 400 metadata error',
    async () => {
      const entry = fc
        .constantFrom(...FIELDS)
        .chain((name) => fc.tuple(fc.constant(name), fc.oneof((Object.hasOwn(nearlyRight, name) ? nearlyRight[name] : undefined) ?? anyJson, anyJson)));
      await fc.assert(
        fc.asyncProperty(fc.array(entry, { maxLength: 6 }), fc.boolean(), async (entries, withRedirect) => {
          const meta: Record<string, unknown> = withRedirect ? { redirect_uris: [REDIRECT] } : {};
          for (const [k, v] of entries) Object.defineProperty(meta, k, { value: v, enumerable: true, configurable: true, writable: true });
          const seen = await send(ENDPOINT, handleRegister, register(JSON.stringify(meta)));
          if (seen.status === 201) {
            // Explicit: what was registered is sane by a check independent of the server's.
            const body = JSON.parse(seen.text) as {
              client_id: string;
              redirect_uris: string[];
              launch_uris: string[];
              grant_types: string[];
              smart_client_type: string;
            };
            expect(typeof body.client_id).toBe('string');
            for (const uri of body.redirect_uris) expect(acceptableRedirect(uri), uri).toBe(true);
            for (const uri of body.launch_uris) expect(uri, uri).toMatch(/^(https:\/\/|http:\/\/(localhost|127\.0\.0\.1|\[::1\])[:/])/);
            expect(body.grant_types.includes('client_credentials') ? ['backend'] : ['public', 'confidential-symmetric', 'confidential-asymmetric']).toContain(
              body.smart_client_type,
            );
            expect(seen.text).not.toMatch(/"d"|"k":/);
          } else {
            assertOAuthError(seen, JSON.stringify(meta).slice(0, 300), METADATA_ERRORS);
          }
        }),
        { numRuns: n2 },
      );
      await assertRegistrationWorks();
    },
    timeoutFor(n2),
  );

  const n3 = runs(150);
  it(
    'bodies that are not a JSON object, wrong content types, huge bodies: a 400 error',
    async () => {
      const body = fc.oneof(
        hostileString({ huge: true }),
        fc.constantFrom(...NASTY),
        fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v === null || typeof v !== 'object' || Array.isArray(v) ? v : [v])),
        fc.constantFrom(
          '{',
          '{"redirect_uris":',
          '{"a":1}}',
          '\uFEFF{}',
          `[${'['.repeat(5000)}${']'.repeat(5000)}]`,
          `{"client_name":"${'n'.repeat(70_000)}"}`,
          'null',
          'true',
          '[]',
          '"x"',
        ),
      );
      await fc.assert(
        fc.asyncProperty(body, fc.constantFrom(...CONTENT_TYPES), async (text, contentType) => {
          const seen = await send(ENDPOINT, handleRegister, register(text, contentType));
          assertOAuthError(seen, `${contentType} ${text.slice(0, 200)}`, METADATA_ERRORS);
        }),
        { numRuns: n3 },
      );
      await assertRegistrationWorks();
    },
    timeoutFor(n3),
  );
});

/** After a property: a valid registration still succeeds, and health is ok. */
async function assertRegistrationWorks(): Promise<void> {
  const seen = await send(
    ENDPOINT,
    handleRegister,
    register(JSON.stringify({ client_name: 'after fuzz', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' })),
  );
  expect(seen.status, seen.text).toBe(201);
  await assertHealthy();
}
