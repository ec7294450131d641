// Every flow visible, over real HTTP on a server of its own (a fresh database, so the flows listed
// are exactly the ones made here, and a configured console account): launches and every kind of
// flow that failed — a refused authorization (no PKCE), a denied consent, a refused refresh, a
// refused backend token request, a call with a revoked token — listed newest first by the console's
// JSON API, filtered and paged by keyset; a failed flow names its step, rule, spec and advice; the
// flow exports (shell transcript, Postman collection) replay the real requests and leak no secret.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startOwnServer } from './support/own-server';
import type { OwnServer } from './support/own-server';
import { BrowserSession, unescapeHtml } from './support/browserless';
import { buildAuthorizationRequest, discover, insecure, registerPublicClient, registerSymmetricClient, runCodeFlow } from './support/smart-client';
import type { CompletedFlow, RegisteredClient } from './support/smart-client';

const CONSOLE_USER = 'flows-teacher';
const CONSOLE_PASSWORD = 'flows-console-password-1';
const PATIENT = 'pat-42-0';
const SCOPE = 'openid fhirUser launch/patient offline_access patient/Patient.rs patient/Observation.rs';

interface ListedFlow {
  id: string;
  kind: string;
  outcome: 'ok' | 'failed';
  at: string;
  clientId: string | null;
  userId: string | null;
  patientId: string | null;
  rule: { id: string; title: string; spec: string } | null;
  href: string;
}
interface FlowList {
  flows: ListedFlow[];
  next: string | null;
}
interface FlowDoc {
  id: string;
  kind: string;
  outcome: string;
  steps: { key: string; kind: string; outcome: string; request?: { method: string; path: string }; response?: { status: number } }[];
  failure: { stepKey: string; errorCode: string | null; description: string; rule: { id: string; title: string; spec: string; advice: string } } | null;
}

let server: OwnServer;
let base = '';
let admin: BrowserSession;
let as: oauth.AuthorizationServer;
let pub: RegisteredClient;
let confidential: RegisteredClient;
let launch: CompletedFlow;
let live: CompletedFlow;
let liveAccess = '';
let backendClientId = '';
let backendToken = '';
let pkceRefusedAt = '';

async function consoleGet(path: string): Promise<Response> {
  return admin.request(`${base}${path}`);
}

async function list(query = ''): Promise<FlowList> {
  const res = await consoleGet(`/api/console/flows${query ? `?${query}` : ''}`);
  expect(res.status).toBe(200);
  return (await res.json()) as FlowList;
}

async function flowDoc(id: string): Promise<FlowDoc> {
  const res = await consoleGet(`/api/console/flows/${encodeURIComponent(id)}`);
  expect(res.status).toBe(200);
  return (await res.json()) as FlowDoc;
}

async function backendAssertion(clientId: string, key: CryptoKey, jti: string): Promise<string> {
  return new SignJWT({ jti })
    .setProtectedHeader({ alg: 'ES384', kid: 'flows-key', typ: 'JWT' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(as.token_endpoint!)
    .setExpirationTime('4m')
    .sign(key);
}

async function backendTokenRequest(clientId: string, key: CryptoKey, jti: string): Promise<Response> {
  return fetch(as.token_endpoint!, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: 'system/Patient.rs',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await backendAssertion(clientId, key, jti),
    }).toString(),
  });
}

beforeAll(async () => {
  server = await startOwnServer('flows', { CONSOLE_USER, CONSOLE_PASSWORD, RATE_LIMIT_REGISTER_IP: '0' });
  base = server.url;
  as = await discover(base);
  admin = new BrowserSession(base);
  const csrf = (await (await admin.request(`${base}/api/console/auth/csrf`)).json()) as { csrfToken: string };
  const signIn = await admin.request(`${base}/api/console/auth/callback/console`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(base).origin },
    body: new URLSearchParams({
      csrfToken: csrf.csrfToken,
      username: CONSOLE_USER,
      password: CONSOLE_PASSWORD,
      callbackUrl: '/console',
      json: 'true',
    }).toString(),
  });
  expect(signIn.status).toBeLessThan(400);

  // 1. A launch that completes, calls FHIR, then has its token revoked and used again.
  pub = await registerPublicClient(base);
  launch = await runCodeFlow(base, as, pub, { scope: SCOPE, interaction: { persona: `Patient/${PATIENT}` } });
  const auth = { authorization: `Bearer ${launch.tokens.access_token}`, accept: 'application/fhir+json' };
  expect((await fetch(`${base}/fhir/Patient/${PATIENT}`, { headers: auth })).status).toBe(200);
  expect((await fetch(`${base}/fhir/Observation?patient=${PATIENT}&_count=2`, { headers: auth })).status).toBe(200);
  const revoked = await fetch(as.revocation_endpoint!, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: launch.tokens.access_token, client_id: pub.client.client_id }).toString(),
  });
  expect(revoked.status).toBe(200);
  expect((await fetch(`${base}/fhir/Patient/${PATIENT}`, { headers: auth })).status).toBe(401);

  // 2. An authorization refused for missing PKCE (client and redirect URI known: redirected with the error).
  const noPkce = await buildAuthorizationRequest(as, pub.client.client_id, { scope: SCOPE, aud: `${base}/fhir` });
  noPkce.url.searchParams.delete('code_challenge');
  noPkce.url.searchParams.delete('code_challenge_method');
  const refused = await fetch(noPkce.url, { redirect: 'manual' });
  expect(refused.status).toBe(303);
  expect(new URL(refused.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
  pkceRefusedAt = new Date().toISOString();

  // 3. A denied consent.
  const denied = await buildAuthorizationRequest(as, pub.client.client_id, { scope: SCOPE, aud: `${base}/fhir` });
  const { callback } = await new BrowserSession(base).authorize(denied.url, { persona: `Patient/${PATIENT}`, consent: { deny: true } });
  expect(callback.searchParams.get('error')).toBe('access_denied');

  // 4. A refused refresh (a refresh token that was never issued).
  const badRefresh = await fetch(as.token_endpoint!, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'not-a-refresh-token', client_id: pub.client.client_id }).toString(),
  });
  expect(badRefresh.status).toBe(400);

  // 5. Backend services: one token granted and used, one refused (replayed assertion).
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'flows-key', alg: 'ES384', use: 'sig' };
  const reg = await fetch(`${base}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'flows backend',
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [jwk] },
      scope: 'system/Patient.rs',
    }),
  });
  backendClientId = ((await reg.json()) as { client_id: string }).client_id;
  const jti = crypto.randomUUID();
  const granted = await backendTokenRequest(backendClientId, privateKey, jti);
  expect(granted.status).toBe(200);
  backendToken = ((await granted.json()) as { access_token: string }).access_token;
  expect((await fetch(`${base}/fhir/Patient?_count=1`, { headers: { authorization: `Bearer ${backendToken}`, accept: 'application/fhir+json' } })).status).toBe(
    200,
  );
  expect((await backendTokenRequest(backendClientId, privateKey, jti)).status).toBe(401);

  // 6. A second launch, of a confidential client, whose token stays valid (for the export with tokens included).
  confidential = await registerSymmetricClient(base);
  live = await runCodeFlow(base, as, confidential, { scope: SCOPE, interaction: { persona: `Patient/${PATIENT}` } });
  // Its refresh chain: one rotation, then a call with the new token.
  const refreshed = await oauth.processRefreshTokenResponse(
    as,
    confidential.client,
    await oauth.refreshTokenGrantRequest(as, confidential.client, confidential.auth(), live.tokens.refresh_token!, insecure),
  );
  liveAccess = refreshed.access_token;
  expect((await fetch(`${base}/fhir/Observation?patient=${PATIENT}&_count=1`, { headers: { authorization: `Bearer ${liveAccess}` } })).status).toBe(200);
}, 180_000);

afterAll(async () => {
  await server?.stop();
});

describe('flows list (GET /api/console/flows)', () => {
  it('needs a console session', async () => {
    expect((await fetch(`${base}/api/console/flows`)).status).toBe(401);
    expect((await fetch(`${base}/api/console/flows/anything/export?format=curl`)).status).toBe(401);
  });

  it('lists every kind of flow, newest first, failed ones marked with their rule', async () => {
    const { flows } = await list('limit=100');
    const kinds = new Set(flows.map((f) => f.kind));
    for (const k of ['launch', 'authorize', 'consent', 'refresh', 'backend', 'token-use']) expect(kinds, k).toContain(k);
    const times = flows.map((f) => Date.parse(f.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const launches = flows.filter((f) => f.kind === 'launch');
    expect(launches.map((f) => f.clientId)).toEqual([confidential.client.client_id, pub.client.client_id]);
    // The refresh chain shows on the launch it belongs to.
    expect((launches[0] as ListedFlow & { summary: string }).summary).toMatch(/refreshed 1 time$/);
    expect((await flowDoc(launches[0]!.id)).steps.filter((s) => s.kind === 'refresh')).toHaveLength(1);
    const pkce = flows.find((f) => f.kind === 'authorize')!;
    expect(pkce).toMatchObject({ outcome: 'failed', clientId: pub.client.client_id, rule: { id: 'pkce-s256' } });
    expect(Date.parse(pkce.at)).toBeLessThanOrEqual(Date.parse(pkceRefusedAt));
    expect(flows.find((f) => f.kind === 'consent')).toMatchObject({ outcome: 'failed', rule: { id: 'consent-denied' } });
    expect(flows.find((f) => f.kind === 'refresh')).toMatchObject({ outcome: 'failed', rule: { id: 'refresh-invalid' } });
    expect(flows.find((f) => f.kind === 'token-use')).toMatchObject({ outcome: 'failed', rule: { id: 'token-revoked' } });
    const backend = flows.filter((f) => f.kind === 'backend');
    expect(backend.map((f) => f.outcome)).toEqual(['failed', 'ok']);
    expect(backend[0]!.rule?.id).toBe('assertion-replay');
    for (const f of flows) if (f.outcome === 'failed') expect(f.rule?.spec.length, f.kind).toBeGreaterThan(4);
  });

  it('filters by outcome, kind, client, user and patient', async () => {
    const failed = (await list('outcome=failed&limit=100')).flows;
    expect(failed.length).toBeGreaterThanOrEqual(5);
    expect(failed.every((f) => f.outcome === 'failed')).toBe(true);
    const ok = (await list('outcome=ok&limit=100')).flows;
    expect(ok.every((f) => f.outcome === 'ok')).toBe(true);
    expect(ok.map((f) => f.kind).sort()).toEqual(['backend', 'launch', 'launch']);
    expect((await list('kind=consent')).flows.map((f) => f.kind)).toEqual(['consent']);
    const byBackend = (await list(`client=${encodeURIComponent(backendClientId)}`)).flows;
    expect(byBackend.map((f) => f.kind)).toEqual(['backend', 'backend']);
    const user = ok.find((f) => f.kind === 'launch')!.userId!;
    const byUser = (await list(`user=${encodeURIComponent(user)}&limit=100`)).flows;
    expect(byUser.length).toBeGreaterThanOrEqual(2);
    expect(byUser.every((f) => f.userId === user)).toBe(true);
    const byPatient = (await list(`patient=${PATIENT}&kind=launch`)).flows;
    expect(byPatient.map((f) => f.clientId).sort()).toEqual([confidential.client.client_id, pub.client.client_id].sort());
    expect((await list('patient=pat-42-9&kind=launch')).flows).toEqual([]);
  });

  it('pages by keyset: every flow once, in order, whatever the page size', async () => {
    const all = (await list('limit=100')).flows.map((f) => f.id);
    const paged: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: FlowList = await list(`limit=2${cursor ? `&before=${cursor}` : ''}`);
      paged.push(...page.flows.map((f) => f.id));
      cursor = page.next;
      pages++;
    } while (cursor && pages < 50);
    expect(paged).toEqual(all);
    expect(pages).toBeGreaterThan(3);
    // A filter holds across pages.
    const failedPaged: string[] = [];
    cursor = null;
    do {
      const page: FlowList = await list(`outcome=failed&limit=2${cursor ? `&before=${cursor}` : ''}`);
      failedPaged.push(...page.flows.map((f) => f.id));
      cursor = page.next;
    } while (cursor);
    expect(failedPaged).toEqual((await list('outcome=failed&limit=100')).flows.map((f) => f.id));
  });

  it('answers bad parameters with 400', async () => {
    expect((await consoleGet('/api/console/flows?kind=nope')).status).toBe(400);
    expect((await consoleGet('/api/console/flows?outcome=maybe')).status).toBe(400);
    expect((await consoleGet('/api/console/flows?before=garbage')).status).toBe(400);
    expect((await consoleGet('/api/console/flows?limit=abc')).status).toBe(400);
    expect((await consoleGet('/api/console/flows/no-such-flow')).status).toBe(404);
  });
});

describe('a failed flow', () => {
  it('names the step that failed, the rule, its spec and what the app should do instead', async () => {
    const pkce = (await list('kind=authorize')).flows[0]!;
    const doc = await flowDoc(pkce.id);
    expect(doc.outcome).toBe('failed');
    expect(doc.failure).toMatchObject({ stepKey: 'authorize', errorCode: 'invalid_request', rule: { id: 'pkce-s256' } });
    expect(doc.failure!.rule.spec).toMatch(/RFC 7636/);
    expect(doc.failure!.rule.spec).toMatch(/docs\/CONFORMANCE\.md #/);
    expect(doc.failure!.rule.advice).toMatch(/code_challenge/);
    expect(doc.failure!.description).toMatch(/code_challenge is required/);

    // The console page shows the same, and the list marks the flow failed.
    const page = unescapeHtml((await (await consoleGet(`/console/flows/${encodeURIComponent(pkce.id)}`)).text()).replace(/<!-- -->/g, ''));
    expect(page).toContain('data-testid="flow-failure"');
    expect(page).toContain(doc.failure!.rule.title);
    expect(page).toContain(doc.failure!.rule.advice);
    const listPage = (await (await consoleGet('/console/flows?outcome=failed')).text()).replace(/<!-- -->/g, '');
    expect(listPage).toContain('data-outcome="failed"');
    expect(listPage).not.toContain('data-outcome="ok"');
  });

  it('a denied consent shows the authorization before it and the denial', async () => {
    const consent = (await list('kind=consent')).flows[0]!;
    const doc = await flowDoc(consent.id);
    expect(doc.steps.map((s) => s.kind)).toEqual(['authorize', 'consent', 'other']);
    expect(doc.failure).toMatchObject({ stepKey: 'consent', errorCode: 'access_denied', rule: { id: 'consent-denied' } });
  });

  it('a backend flow shows its token request and the FHIR calls made with that token', async () => {
    const ok = (await list(`client=${encodeURIComponent(backendClientId)}&outcome=ok`)).flows[0]!;
    const doc = await flowDoc(ok.id);
    expect(doc.failure).toBeNull();
    expect(doc.steps.map((s) => s.kind)).toEqual(['token-request', 'fhir']);
    expect(doc.steps[1]!.request).toMatchObject({ method: 'GET', path: '/fhir/Patient?_count=1' });
  });
});

describe('flow exports', () => {
  const launchOf = async (clientId: string) => (await list(`kind=launch&client=${encodeURIComponent(clientId)}`)).flows[0]!;

  it('a shell transcript of the real requests, responses as comments, that runs', async () => {
    const flow = await launchOf(pub.client.client_id);
    const res = await consoleGet(`/api/console/flows/${encodeURIComponent(flow.id)}/export?format=curl`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/attachment; filename="flow-.*\.sh"/);
    const script = await res.text();
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain(`--data-urlencode 'grant_type=authorization_code'`);
    expect(script).toContain(`"$BASE/fhir/Patient/${PATIENT}"`);
    expect(script).toContain(`"$BASE/fhir/Observation?patient=${PATIENT}&_count=2"`);
    expect(script).toMatch(/# → HTTP 200, 1 result\(s\)/);
    expect(script).toMatch(/# → HTTP 401, error=invalid_token/);
    expect(script).toContain(`client_id=${pub.client.client_id}`);
    expect(script).toContain(`code_challenge=${launch.request.challenge}`);
    // No credential of any kind: not the (revoked) token, not the code, verifier, refresh token or state.
    for (const secret of [launch.tokens.access_token, launch.code, launch.request.verifier, launch.tokens.refresh_token!, launch.request.state])
      expect(script).not.toContain(secret);
    // Syntax-checked by the shell.
    const dir = mkdtempSync(join(tmpdir(), 'flow-export-'));
    try {
      writeFileSync(join(dir, 'flow.sh'), script);
      execFileSync('sh', ['-n', join(dir, 'flow.sh')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('includes the flow’s own still-valid access token on request, and runs against the server with it', async () => {
    const flow = await launchOf(confidential.client.client_id);
    const redacted = await (await consoleGet(`/api/console/flows/${encodeURIComponent(flow.id)}/export?format=curl`)).text();
    expect(redacted).not.toContain(liveAccess);
    const script = await (await consoleGet(`/api/console/flows/${encodeURIComponent(flow.id)}/export?format=curl&tokens=include`)).text();
    // The newest live token of the flow: the one its refresh gave.
    expect(script).toContain(liveAccess);
    // Never another flow's token, the client's secret, the refresh token, code or verifier.
    for (const secret of [launch.tokens.access_token, backendToken, confidential.secret!, live.tokens.refresh_token!, live.code, live.request.verifier])
      expect(script).not.toContain(secret);
    // The revoked token of the other launch is not included even on request.
    const other = await launchOf(pub.client.client_id);
    expect(await (await consoleGet(`/api/console/flows/${encodeURIComponent(other.id)}/export?format=curl&tokens=include`)).text()).not.toContain(
      launch.tokens.access_token,
    );
    // Run it: the FHIR call of the transcript answers 200 with the included token.
    const dir = mkdtempSync(join(tmpdir(), 'flow-export-'));
    try {
      writeFileSync(join(dir, 'flow.sh'), script);
      const out = execFileSync('sh', [join(dir, 'flow.sh')], { encoding: 'utf8', timeout: 60_000 });
      expect(out).toMatch(/HTTP\/1\.1 200[\s\S]*"resourceType":"Bundle"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a backend flow exports its token request (the assertion a variable) and the calls made with its token', async () => {
    const flow = (await list(`client=${encodeURIComponent(backendClientId)}&outcome=ok`)).flows[0]!;
    const url = `/api/console/flows/${encodeURIComponent(flow.id)}/export?format=curl`;
    const script = await (await consoleGet(url)).text();
    expect(script).toContain(`--data-urlencode 'grant_type=client_credentials'`);
    expect(script).toContain(`--data-urlencode "client_assertion=$CLIENT_ASSERTION"`);
    expect(script).toContain(`"$BASE/fhir/Patient?_count=1"`);
    expect(script).not.toContain(backendToken);
    expect(await (await consoleGet(`${url}&tokens=include`)).text()).toContain(backendToken);
  });

  it('a Postman collection v2.1 with one item per request and the recorded responses', async () => {
    const flow = await launchOf(pub.client.client_id);
    const res = await consoleGet(`/api/console/flows/${encodeURIComponent(flow.id)}/export?format=postman`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const collection = JSON.parse(text) as {
      info: { schema: string; name: string };
      variable: { key: string; value: string }[];
      item: { name: string; request: { method: string; url: { raw: string; path: string[] } }; response: { code: number }[] }[];
    };
    expect(collection.info.schema).toBe('https://schema.getpostman.com/json/collection/v2.1.0/collection.json');
    expect(collection.variable.find((v) => v.key === 'baseUrl')?.value).toBe(base);
    expect(collection.variable.find((v) => v.key === 'access_token')?.value).toBe('<redacted>');
    const requests = collection.item.map((i) => `${i.request.method} ${i.request.url.raw}`);
    expect(requests[0]).toMatch(/^GET \{\{baseUrl\}\}\/oauth\/authorize\?/);
    expect(requests).toContain('POST {{baseUrl}}/oauth/token');
    expect(requests).toContain(`GET {{baseUrl}}/fhir/Patient/${PATIENT}`);
    expect(collection.item.flatMap((i) => i.response.map((r) => r.code))).toEqual(expect.arrayContaining([200, 401]));
    for (const secret of [launch.tokens.access_token, launch.code, launch.request.verifier, launch.tokens.refresh_token!]) expect(text).not.toContain(secret);
    expect((await consoleGet(`/api/console/flows/${encodeURIComponent(flow.id)}/export?format=pdf`)).status).toBe(400);
  });

  it('a printable handout: the sequence diagram and each step explained', async () => {
    const flow = await launchOf(pub.client.client_id);
    const res = await consoleGet(`/console/flows/${encodeURIComponent(flow.id)}/handout`);
    expect(res.status).toBe(200);
    const html = unescapeHtml((await res.text()).replace(/<!-- -->/g, ''));
    expect(html).toContain('data-testid="flow-handout"');
    expect(html).toContain('aria-label="Sequence diagram of the flow"');
    expect(html).toContain('Token request');
    expect(html).toContain(`/fhir/Patient/${PATIENT}`);
    expect(html).not.toContain(launch.tokens.access_token);
  });
});
