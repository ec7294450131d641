// The API fast path of `npm start` (scripts/lib/app-server.mjs) answers exactly as Next's route
// pipeline does: two servers built from the same build on the same database, one with the fast
// path and one with API_FAST_PATH=0, receive the same requests (every API endpoint, success and
// error, preflights, HEAD, methods a route lacks), and their answers are compared: status, every
// header (security headers, CORS, cache control, WWW-Authenticate, Allow, Location) and the body.
// Values that differ between any two requests (tokens, ids, times, the server's own port) are
// replaced by placeholders first; everything else must be identical.
import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { BrowserSession } from './support/browserless';
import {
  APP_REDIRECT_URI,
  buildAuthorizationRequest,
  discover,
  registerClient,
  registerPublicClient,
  registerSymmetricClient,
  runCodeFlow,
  systemToken,
} from './support/smart-client';
import type { RegisteredClient } from './support/smart-client';
import { auditWhere } from './support/own-server';
// @ts-expect-error plain ESM helper without types
import { startServer } from '../../scripts/lib/test-server.mjs';

const databaseUrl = inject('databaseUrl');
const PATIENT = 'pat-42-0';
const OTHER_PATIENT = 'pat-42-1';
const APP_ORIGIN = new URL(APP_REDIRECT_URI).origin;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const SCOPE = 'openid fhirUser launch/patient offline_access patient/*.cruds';
const CATEGORY = encodeURIComponent('http://terminology.hl7.org/CodeSystem/observation-category|vital-signs');

interface Server {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/** What a side needs to build its requests: its own tokens, codes and assertions (all single-use or bound to its origin). */
interface Side {
  base: string;
  symmetric: RegisteredClient;
  basic: string;
  patientToken: string;
  refreshToken: string;
  systemToken: string;
  code: { code: string; verifier: string };
  authorizeUrl: URL;
  assertion: () => Promise<string>;
  replayed: string;
  created: { id: string };
}

interface Case {
  name: string;
  send: (s: Side) => Promise<Response>;
}

const get =
  (path: string, headers: Record<string, string> = {}) =>
  (s: Side) =>
    fetch(`${s.base}${path}`, { headers, redirect: 'manual' });
const send =
  (method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}) =>
  (s: Side) =>
    fetch(`${s.base}${path}`, {
      method,
      redirect: 'manual',
      ...(init.headers ? { headers: init.headers } : {}),
      ...(init.body !== undefined ? { body: init.body } : {}),
    });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const preflight = (origin: string, method = 'GET', headers = 'authorization') => ({
  origin,
  'access-control-request-method': method,
  'access-control-request-headers': headers,
});

/** A sandbox served under `/s/{id}` (provisioned before the servers start), and an id no sandbox has. */
const SANDBOX = `parity${crypto.randomUUID().replace(/-/g, '')}`;
const NO_SANDBOX = `none${crypto.randomUUID().replace(/-/g, '')}`;

const CASES: Case[] = [
  // A sandbox under its prefix, and one that does not exist.
  { name: 'GET /s/{id}/fhir/.well-known/smart-configuration', send: get(`/s/${SANDBOX}/fhir/.well-known/smart-configuration`) },
  { name: 'GET /s/{id}/fhir/metadata', send: get(`/s/${SANDBOX}/fhir/metadata`) },
  { name: "GET /s/{id}/fhir/Patient with the default sandbox's token (401)", send: (s) => get(`/s/${SANDBOX}/fhir/Patient`, bearer(s.systemToken))(s) },
  { name: 'POST /s/{id}/oauth/token unsupported grant', send: send('POST', `/s/${SANDBOX}/oauth/token`, { headers: FORM, body: 'grant_type=password' }) },
  { name: 'GET /s/{unknown}/fhir/Patient (404 OperationOutcome)', send: get(`/s/${NO_SANDBOX}/fhir/Patient`) },
  {
    name: 'POST /s/{unknown}/oauth/token (404 OAuth error)',
    send: send('POST', `/s/${NO_SANDBOX}/oauth/token`, { headers: FORM, body: 'grant_type=password' }),
  },
  {
    name: 'GET /fhir/Patient naming the sandbox in the internal header (ignored: 401)',
    send: (s) => get('/fhir/Patient?_count=1', { 'x-smart-sandbox': SANDBOX, authorization: 'Bearer nope' })(s),
  },
  // Discovery, keys, the style file, health.
  { name: 'GET smart-configuration', send: get('/fhir/.well-known/smart-configuration') },
  { name: 'GET smart-configuration with Origin', send: get('/fhir/.well-known/smart-configuration', { origin: 'https://app.example' }) },
  {
    name: 'OPTIONS smart-configuration (preflight)',
    send: send('OPTIONS', '/fhir/.well-known/smart-configuration', { headers: preflight('https://app.example') }),
  },
  { name: 'HEAD smart-configuration', send: send('HEAD', '/fhir/.well-known/smart-configuration') },
  { name: 'GET openid-configuration', send: get('/.well-known/openid-configuration') },
  {
    name: 'OPTIONS openid-configuration (preflight)',
    send: send('OPTIONS', '/.well-known/openid-configuration', { headers: preflight('https://app.example') }),
  },
  { name: 'GET jwks.json', send: get('/.well-known/jwks.json') },
  { name: 'POST jwks.json (405)', send: send('POST', '/.well-known/jwks.json', { headers: FORM, body: 'x=1' }) },
  { name: 'OPTIONS jwks.json (Allow)', send: send('OPTIONS', '/.well-known/jwks.json') },
  { name: 'GET smart-style.json', send: get('/smart-style.json') },
  { name: 'GET /api/health', send: get('/api/health') },
  { name: 'HEAD /api/health', send: send('HEAD', '/api/health') },
  { name: 'GET /api/console/audit without sign-in', send: get('/api/console/audit') },
  { name: 'GET /api/console/audit.ndjson without sign-in', send: get('/api/console/audit.ndjson') },
  { name: 'GET /api/console/reseed without sign-in', send: get('/api/console/reseed') },
  {
    name: 'POST /api/console/tokens/{id}/revoke without sign-in',
    send: send('POST', '/api/console/tokens/none/revoke', { headers: { 'content-type': 'application/json' }, body: '{"scope":"token"}' }),
  },
  {
    name: 'GET /api/console/clients/{id}/report without credentials',
    send: (s) => get(`/api/console/clients/${encodeURIComponent(s.symmetric.client.client_id)}/report`)(s),
  },
  // The authorization endpoint.
  { name: 'GET /oauth/authorize (valid: to the interaction)', send: (s) => fetch(s.authorizeUrl, { redirect: 'manual' }) },
  {
    name: 'POST /oauth/authorize (valid: to the interaction)',
    send: (s) => fetch(`${s.base}/oauth/authorize`, { method: 'POST', redirect: 'manual', headers: FORM, body: s.authorizeUrl.searchParams.toString() }),
  },
  {
    name: 'GET /oauth/authorize (unknown client: error page)',
    send: get('/oauth/authorize?response_type=code&client_id=nobody&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&state=s'),
  },
  { name: 'OPTIONS /oauth/authorize (no CORS)', send: send('OPTIONS', '/oauth/authorize', { headers: preflight(APP_ORIGIN, 'POST', 'content-type') }) },
  { name: 'PUT /oauth/authorize (405)', send: send('PUT', '/oauth/authorize') },
  // The token endpoint.
  { name: 'POST /oauth/token unsupported grant', send: send('POST', '/oauth/token', { headers: FORM, body: 'grant_type=password' }) },
  { name: 'POST /oauth/token without a body', send: send('POST', '/oauth/token') },
  {
    name: 'POST /oauth/token authorization_code + PKCE',
    send: (s) =>
      fetch(`${s.base}/oauth/token`, {
        method: 'POST',
        headers: { ...FORM, authorization: s.basic },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: s.code.code,
          code_verifier: s.code.verifier,
          redirect_uri: APP_REDIRECT_URI,
        }).toString(),
      }),
  },
  {
    name: 'POST /oauth/token the same code again (replay)',
    send: (s) =>
      fetch(`${s.base}/oauth/token`, {
        method: 'POST',
        headers: { ...FORM, authorization: s.basic },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: s.code.code,
          code_verifier: s.code.verifier,
          redirect_uri: APP_REDIRECT_URI,
        }).toString(),
      }),
  },
  {
    name: 'POST /oauth/token refresh_token',
    send: (s) =>
      fetch(`${s.base}/oauth/token`, {
        method: 'POST',
        headers: { ...FORM, authorization: s.basic },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: s.refreshToken }).toString(),
      }),
  },
  {
    name: 'POST /oauth/token wrong client secret',
    send: (s) =>
      fetch(`${s.base}/oauth/token`, {
        method: 'POST',
        headers: { ...FORM, authorization: `Basic ${Buffer.from(`${s.symmetric.client.client_id}:wrong`).toString('base64')}` },
        body: 'grant_type=refresh_token&refresh_token=x',
      }),
  },
  {
    name: 'POST /oauth/token client_credentials (private_key_jwt ES384)',
    send: async (s) => fetch(`${s.base}/oauth/token`, { method: 'POST', headers: FORM, body: clientCredentials(await s.assertion()) }),
  },
  {
    name: 'POST /oauth/token client_credentials, replayed assertion',
    send: async (s) => {
      await (await fetch(`${s.base}/oauth/token`, { method: 'POST', headers: FORM, body: clientCredentials(s.replayed) })).arrayBuffer();
      return fetch(`${s.base}/oauth/token`, { method: 'POST', headers: FORM, body: clientCredentials(s.replayed) });
    },
  },
  {
    name: 'OPTIONS /oauth/token from a registered app origin',
    send: send('OPTIONS', '/oauth/token', { headers: preflight(APP_ORIGIN, 'POST', 'content-type') }),
  },
  {
    name: 'OPTIONS /oauth/token from another origin',
    send: send('OPTIONS', '/oauth/token', { headers: preflight('https://evil.example', 'POST', 'content-type') }),
  },
  { name: 'GET /oauth/token (405)', send: get('/oauth/token') },
  // Introspection, revocation, registration.
  { name: 'POST /oauth/introspect without client authentication', send: send('POST', '/oauth/introspect', { headers: FORM, body: 'token=x' }) },
  {
    name: 'POST /oauth/introspect an active token',
    send: (s) => fetch(`${s.base}/oauth/introspect`, { method: 'POST', headers: { ...FORM, authorization: s.basic }, body: `token=${s.patientToken}` }),
  },
  {
    name: 'POST /oauth/revoke an unknown token',
    send: (s) => fetch(`${s.base}/oauth/revoke`, { method: 'POST', headers: { ...FORM, authorization: s.basic }, body: 'token=unknown' }),
  },
  {
    name: 'OPTIONS /oauth/revoke from a registered app origin',
    send: send('OPTIONS', '/oauth/revoke', { headers: preflight(APP_ORIGIN, 'POST', 'content-type') }),
  },
  { name: 'POST /oauth/register bad JSON', send: send('POST', '/oauth/register', { headers: { 'content-type': 'application/json' }, body: '{' }) },
  {
    name: 'POST /oauth/register a public client',
    send: send('POST', '/oauth/register', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'parity app',
        token_endpoint_auth_method: 'none',
        redirect_uris: [APP_REDIRECT_URI],
        scope: 'launch/patient patient/*.rs',
      }),
    }),
  },
  // FHIR.
  { name: 'GET /fhir/metadata', send: get('/fhir/metadata') },
  { name: 'GET /fhir/metadata with Origin', send: get('/fhir/metadata', { origin: 'https://app.example' }) },
  { name: 'GET /fhir (base)', send: get('/fhir') },
  { name: 'GET /fhir/Patient without a token (401)', send: get('/fhir/Patient') },
  { name: 'GET /fhir/Patient with a malformed token (401)', send: get('/fhir/Patient', bearer('not-a-jwt')) },
  { name: 'GET /fhir/Patient/{id} (patient token)', send: (s) => get(`/fhir/Patient/${PATIENT}`, bearer(s.patientToken))(s) },
  { name: 'HEAD /fhir/Patient/{id} (patient token)', send: (s) => send('HEAD', `/fhir/Patient/${PATIENT}`, { headers: bearer(s.patientToken) })(s) },
  { name: 'GET /fhir/Patient/{other} (patient token: not in the compartment)', send: (s) => get(`/fhir/Patient/${OTHER_PATIENT}`, bearer(s.patientToken))(s) },
  { name: 'GET /fhir/Patient/{id} (system token)', send: (s) => get(`/fhir/Patient/${PATIENT}`, bearer(s.systemToken))(s) },
  {
    name: 'GET /fhir/Observation search (patient token)',
    send: (s) => get(`/fhir/Observation?patient=${PATIENT}&category=${CATEGORY}&_count=5`, bearer(s.patientToken))(s),
  },
  { name: 'GET /fhir/Patient?_count=3 (system token)', send: (s) => get('/fhir/Patient?_count=3&_sort=_id', bearer(s.systemToken))(s) },
  {
    name: 'GET /fhir/Observation?bogus=1 (unknown parameter)',
    send: (s) => get(`/fhir/Observation?patient=${PATIENT}&bogus=1`, { ...bearer(s.patientToken), prefer: 'handling=strict' })(s),
  },
  { name: 'GET /fhir/NoSuchType/1', send: (s) => get('/fhir/NoSuchType/1', bearer(s.systemToken))(s) },
  { name: 'OPTIONS /fhir/Patient (preflight)', send: send('OPTIONS', '/fhir/Patient', { headers: preflight('https://app.example') }) },
  {
    name: 'PATCH /fhir/Patient/{id} (405)',
    send: (s) =>
      send('PATCH', `/fhir/Patient/${PATIENT}`, { headers: { ...bearer(s.patientToken), 'content-type': 'application/json-patch+json' }, body: '[]' })(s),
  },
  { name: 'POST /fhir/Observation (patient token)', send: (s) => createObservation(s) },
  {
    name: 'PUT /fhir/Observation/{id} (patient token)',
    send: (s) =>
      send('PUT', `/fhir/Observation/${s.created.id}`, {
        headers: { ...bearer(s.patientToken), 'content-type': 'application/fhir+json' },
        body: JSON.stringify(observation(s.created.id)),
      })(s),
  },
  {
    name: 'DELETE /fhir/Observation/{id} (patient token)',
    send: (s) => send('DELETE', `/fhir/Observation/${s.created.id}`, { headers: bearer(s.patientToken) })(s),
  },
  {
    name: 'POST /fhir/Patient with a read-only system token (403)',
    send: (s) =>
      send('POST', '/fhir/Patient', {
        headers: { ...bearer(s.systemToken), 'content-type': 'application/fhir+json' },
        body: JSON.stringify({ resourceType: 'Patient' }),
      })(s),
  },
  // Paths Next normalises first: both servers leave them to Next.
  { name: 'GET /fhir/metadata/ (trailing slash)', send: get('/fhir/metadata/') },
];

function clientCredentials(assertion: string): string {
  return new URLSearchParams({
    grant_type: 'client_credentials',
    scope: 'system/Patient.rs',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion,
  }).toString();
}

function observation(id?: string): Record<string, unknown> {
  return {
    resourceType: 'Observation',
    ...(id ? { id } : {}),
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: `Patient/${PATIENT}` },
    effectiveDateTime: '2024-01-01',
    valueQuantity: { value: 70, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  };
}

async function createObservation(s: Side): Promise<Response> {
  const res = await fetch(`${s.base}/fhir/Observation`, {
    method: 'POST',
    headers: { ...bearer(s.patientToken), 'content-type': 'application/fhir+json' },
    body: JSON.stringify(observation()),
  });
  const copy = res.clone();
  if (res.status === 201) s.created.id = ((await copy.json()) as { id: string }).id;
  return res;
}

async function prepareSide(base: string): Promise<Side> {
  const as = await discover(base);
  const symmetric = await registerSymmetricClient(base);
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(symmetric.client.client_id)}:${encodeURIComponent(symmetric.secret!)}`).toString('base64')}`;
  const flow = await runCodeFlow(base, as, symmetric, { scope: SCOPE, interaction: { persona: `Patient/${PATIENT}` } });
  // A second code, exchanged by the cases themselves.
  const request = await buildAuthorizationRequest(as, symmetric.client.client_id, { scope: SCOPE, aud: `${base}/fhir` });
  const { callback } = await new BrowserSession(base).authorize(request.url, { persona: `Patient/${PATIENT}` });
  const code = { code: callback.searchParams.get('code') ?? '', verifier: request.verifier };
  const publicClient = await registerPublicClient(base);
  const authorizeUrl = (await buildAuthorizationRequest(as, publicClient.client.client_id, { scope: SCOPE, aud: `${base}/fhir` })).url;
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'parity', alg: 'ES384', use: 'sig' };
  const backend = await registerClient(base, {
    client_name: 'parity backend',
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [jwk] },
    scope: 'system/*.rs',
  });
  const assertion = () =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'ES384', kid: 'parity', typ: 'JWT' })
      .setIssuer(backend.client_id)
      .setSubject(backend.client_id)
      .setAudience(as.token_endpoint!)
      .setExpirationTime('4m')
      .setJti(crypto.randomUUID())
      .sign(privateKey);
  return {
    base,
    symmetric,
    basic,
    patientToken: flow.tokens.access_token,
    refreshToken: flow.tokens.refresh_token!,
    systemToken: await systemToken(base, as, 'system/*.rs'),
    code,
    authorizeUrl,
    assertion,
    replayed: await assertion(),
    created: { id: 'none' },
  };
}

const RANDOM = /[A-Za-z0-9_-]{20,}/g;

/** Replaces what differs between any two requests by placeholders. */
function normalise(text: string, base: string): string {
  return text
    .replaceAll(base, '{base}')
    .replaceAll(encodeURIComponent(base), '{base}')
    .replace(/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '{jwt}')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '{uuid}')
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})/g, '{time}')
    .replace(/(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT/g, '{http-date}')
    .replace(/"(iat|exp|nbf|auth_time|client_id_issued_at|latencyMs)":\s*[\d.]+/g, '"$1":{n}')
    .replace(RANDOM, (m) => (/^[a-z-]+$/.test(m) ? m : '{random}'));
}

/**
 * Headers that describe the connection or the moment, not the answer; and `x-middleware-rewrite`,
 * with which Next tells its client router that proxy.ts rewrote a `/s/{id}/…` path (the fast path
 * strips the prefix without a rewrite).
 */
const VOLATILE_HEADERS = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'x-middleware-rewrite']);

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Next's app router adds its own request headers (`rsc`, `next-router-*`) to the Vary of every
 * response it sends, for its client-side router cache; no API client sends them. They are the one
 * difference allowed, and only as Vary tokens: the rest of a Vary header must match.
 */
const NEXT_ROUTER_VARY = /^(rsc|next-router-state-tree|next-router-prefetch|next-router-segment-prefetch|next-url)$/i;

function withoutNextVary(value: string): string | null {
  const kept = value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '' && !NEXT_ROUTER_VARY.test(v));
  return kept.length ? kept.join(', ') : null;
}

async function answerOf(res: Response, base: string): Promise<Answer> {
  const headers: Record<string, string> = {};
  for (const [name, raw] of res.headers) {
    if (VOLATILE_HEADERS.has(name)) continue;
    const value = name === 'vary' ? withoutNextVary(raw) : raw;
    if (value !== null) headers[name] = normalise(value, base);
  }
  return { status: res.status, headers, body: normalise(await res.text(), base) };
}

let fast: Server;
let viaNext: Server;
let sides: [Side, Side];
// Rate limits off: the two servers count in the same database.
const ENV = { RATE_LIMIT_CLIENT: '0', RATE_LIMIT_PATIENT: '0', RATE_LIMIT_REGISTER_IP: '0' };

beforeAll(async () => {
  const [{ createDb }, { provisionSandbox }] = await Promise.all([import('../../lib/db'), import('../../lib/sandbox/provision')]);
  const { db } = createDb(databaseUrl);
  await provisionSandbox({ id: SANDBOX, name: 'parity' }, db);
  await db.$disconnect();
  [fast, viaNext] = (await Promise.all([startServer({ databaseUrl, env: ENV }), startServer({ databaseUrl, env: { ...ENV, API_FAST_PATH: '0' } })])) as [
    Server,
    Server,
  ];
  sides = [await prepareSide(fast.url), await prepareSide(viaNext.url)];
});

afterAll(async () => {
  await Promise.all([fast?.stop(), viaNext?.stop()]);
});

describe('the API fast path answers exactly as Next does', () => {
  it('lib sees the same request through both paths: the audit records of the same call match', async () => {
    const { createDb } = await import('../../lib/db');
    const { db } = createDb(databaseUrl);
    try {
      const records = [];
      for (const s of sides) {
        const agent = `parity-audit-${crypto.randomUUID()}`;
        const res = await fetch(`${s.base}/fhir/Patient/${PATIENT}?_elements=id`, {
          headers: { ...bearer(s.patientToken), 'user-agent': agent, origin: 'https://app.example' },
        });
        expect(res.status).toBe(200);
        const [row] = await auditWhere(db, { userAgent: agent }, 1);
        expect(row, s.base).toBeDefined();
        const { kind, method, endpoint, resourceType, resourceId, userId, patientId, scopes, status, errorCode, detail, resultCount, ip, origin } = row!;
        records.push({ kind, method, endpoint, resourceType, resourceId, userId, patientId, scopes, status, errorCode, detail, resultCount, ip, origin });
      }
      expect(records[0]).toEqual(records[1]);
      expect(records[0]!.ip).toBeTruthy();
    } finally {
      await db.$disconnect();
    }
  });

  it('the two servers are what they claim to be: one answers the API itself, one through Next', () => {
    expect(fast.output()).toContain('API fast path on');
    expect(viaNext.output()).toContain('API_FAST_PATH=0: every request through Next');
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const [a, b] = sides;
    const answerA = await answerOf(await c.send(a), a.base);
    const answerB = await answerOf(await c.send(b), b.base);
    expect(answerA.status, 'status').toBe(answerB.status);
    expect(answerA.headers, 'headers').toEqual(answerB.headers);
    expect(answerA.body, 'body').toBe(answerB.body);
  });
});
