// Load and audit completeness (issue 8 item 4): several registered clients hit the built app on
// loopback at once with a mix of token requests (client_credentials with a freshly signed
// private_key_jwt assertion each time, refresh-token rotation, authorization-code exchanges) and
// FHIR reads and searches with patient and system tokens. Every request carries its own
// User-Agent, which the audit record stores, so afterwards the trail can be matched request by
// request: zero 5xx, and exactly one audit record per request sent, with the status that was sent.
//
// Bounded in time: LOAD_SECONDS (5 by default; `npm run test:soak` runs a longer form). Runs on a
// fresh SQLite file, and on a fresh PostgreSQL database when TEST_DATABASE_URL names a server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrivateKey, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import * as oauth from 'oauth4webapi';
import { createDb } from '../../lib/db';
import type { Db } from '../../lib/db';
import { BrowserSession } from '../integration/support/browserless';
import {
  APP_REDIRECT_URI,
  buildAuthorizationRequest,
  discover,
  registerClient,
  registerPublicClient,
  registerSymmetricClient,
  runCodeFlow,
} from '../integration/support/smart-client';
import type { RegisteredClient } from '../integration/support/smart-client';
// @ts-expect-error plain ESM helper without types
import { prepareDatabase, startServer } from '../../scripts/lib/test-server.mjs';
// @ts-expect-error plain ESM helper without types
import { freshPostgresDatabase } from '../../scripts/lib/pg-database.mjs';

const LOAD_SECONDS = Number(process.env.LOAD_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS ?? 16);
const PATIENTS = ['pat-42-0', 'pat-42-1', 'pat-42-2'];
const PATIENT_SCOPE = 'openid fhirUser launch/patient offline_access patient/*.rs';
const SYSTEM_SCOPE = 'system/*.rs';
const VITALS = encodeURIComponent('http://terminology.hl7.org/CodeSystem/observation-category|vital-signs');
/** Rate limits off, so that the load measures the server rather than the limiter. */
const UNLIMITED = { RATE_LIMIT_CLIENT: '0', RATE_LIMIT_PATIENT: '0', RATE_LIMIT_REGISTER_IP: '0' };

interface Server {
  url: string;
  stop(): Promise<void>;
  output(): string;
}

interface Target {
  readonly name: string;
  databaseUrl(): Promise<string>;
}

const cleanups: (() => void)[] = [];
const targets: Target[] = [
  {
    name: 'SQLite',
    databaseUrl: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sandbox-load-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      return `file:${join(dir, 'load.db')}`;
    },
  },
];
if (process.env.TEST_DATABASE_URL) {
  const serverUrl = process.env.TEST_DATABASE_URL;
  targets.push({ name: 'PostgreSQL', databaseUrl: async () => (await freshPostgresDatabase(serverUrl, 'load')) as string });
}

afterAll(() => {
  for (const cleanup of cleanups) cleanup();
});

// ---------------------------------------------------------------------------------------------
// Clients and credentials, all obtained over HTTP

/** A backend-services client whose assertions are signed synchronously (autocannon's hooks are sync). */
interface BackendClient {
  readonly clientId: string;
  readonly kid: string;
  readonly key: KeyObject;
}

async function registerBackend(base: string, n: number): Promise<BackendClient> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const kid = `load-${n}`;
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES384', use: 'sig' };
  const { client_id } = await registerClient(base, {
    client_name: `load backend ${n}`,
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [jwk] },
    scope: SYSTEM_SCOPE,
  });
  return { clientId: client_id, kid, key: createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' })) };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A client assertion with a jti of its own (SMART App Launch 2.2 §client-confidential-asymmetric; RFC 7523 §3). */
function assertion(client: BackendClient, tokenEndpoint: string): string {
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'ES384', kid: client.kid, typ: 'JWT' })}.${b64({ iss: client.clientId, sub: client.clientId, aud: tokenEndpoint, iat: now, exp: now + 120, jti: randomUUID() })}`;
  const signature = sign('sha384', Buffer.from(input), { key: client.key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return `${input}.${signature}`;
}

function form(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

function basicAuth(reg: RegisteredClient): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(reg.client.client_id)}:${encodeURIComponent(reg.secret ?? '')}`).toString('base64')}`;
}

interface Code {
  readonly code: string;
  readonly verifier: string;
  readonly reg: RegisteredClient;
}

interface Credentials {
  readonly backends: BackendClient[];
  readonly systemTokens: string[];
  readonly apps: RegisteredClient[];
  /** Patient tokens with the patient in their context. */
  readonly patientTokens: { token: string; patient: string }[];
  /** Unused refresh tokens; a refresh takes one out and its response puts the rotated one back. */
  readonly refreshTokens: { token: string; reg: RegisteredClient }[];
  /** Unused authorization codes (valid for 60 s). */
  readonly codes: Code[];
}

async function credentials(base: string, codesWanted: number): Promise<Credentials> {
  const as = await discover(base);
  const tokenEndpoint = `${base}/oauth/token`;
  const backends = await Promise.all([1, 2, 3].map((n) => registerBackend(base, n)));
  const systemTokens: string[] = [];
  for (const b of backends) {
    const res = await fetch(tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form(ccBody(b, tokenEndpoint)),
    });
    expect(res.status).toBe(200);
    systemTokens.push(((await res.json()) as { access_token: string }).access_token);
  }
  const apps = [await registerSymmetricClient(base), await registerSymmetricClient(base), await registerPublicClient(base)];
  const patientTokens: Credentials['patientTokens'] = [];
  const refreshTokens: Credentials['refreshTokens'] = [];
  const sessions = new Map<string, BrowserSession>();
  for (const patient of PATIENTS) {
    for (const reg of apps.slice(0, 2)) {
      const session = sessions.get(patient) ?? new BrowserSession(base);
      sessions.set(patient, session);
      const flow = await runCodeFlow(base, as, reg, { scope: PATIENT_SCOPE, session, interaction: { persona: `Patient/${patient}` } });
      expect(flow.tokens.patient).toBe(patient);
      patientTokens.push({ token: flow.tokens.access_token, patient });
      refreshTokens.push({ token: flow.tokens.refresh_token ?? '', reg });
    }
  }
  // Warm-up, and a check that both kinds of token work: the first FHIR request loads the FHIR
  // route's code, which would otherwise dominate the first second of a short run.
  const p0 = patientTokens[0]!;
  for (const [path, token] of [
    [`Patient/${p0.patient}`, p0.token],
    [`Observation?patient=${p0.patient}&category=${VITALS}`, p0.token],
    [`Condition?patient=${p0.patient}`, systemTokens[0]!],
  ] as const) {
    const res = await fetch(`${base}/fhir/${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status, path).toBe(200);
    await res.arrayBuffer();
  }
  const codes: Code[] = [];
  for (let i = 0; i < codesWanted; i++) {
    const reg = apps[i % apps.length]!;
    const patient = PATIENTS[i % PATIENTS.length]!;
    const session = sessions.get(patient)!;
    const request = await buildAuthorizationRequest(as, reg.client.client_id, { scope: PATIENT_SCOPE, aud: `${base}/fhir` });
    const { callback } = await session.authorize(request.url, { persona: `Patient/${patient}` });
    const params = oauth.validateAuthResponse(as, reg.client, callback, request.state);
    codes.push({ code: params.get('code') ?? '', verifier: request.verifier, reg });
  }
  return { backends, systemTokens, apps, patientTokens, refreshTokens, codes };
}

function ccBody(b: BackendClient, tokenEndpoint: string): Record<string, string> {
  return {
    grant_type: 'client_credentials',
    scope: SYSTEM_SCOPE,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion(b, tokenEndpoint),
  };
}

// ---------------------------------------------------------------------------------------------
// The mixed load

type Kind =
  | 'client_credentials'
  | 'refresh_token'
  | 'authorization_code'
  | 'read (patient token)'
  | 'search (patient token)'
  | 'read (system token)'
  | 'search (system token)'
  | 'cross-patient read';

interface Planned {
  readonly kind: Kind;
  /** Status the request earns when no limit applies. */
  readonly expected: number;
  readonly request: autocannon.Request;
  readonly onOk?: (body: string) => void;
}

/** Sent request → what was expected and what came back. */
interface Sent {
  readonly kind: Kind;
  readonly expected: number;
  status?: number;
}

interface LoadRun {
  readonly tag: string;
  readonly sent: Map<string, Sent>;
  readonly result: autocannon.Result;
  readonly seconds: number;
}

/** A token request (one of the three grants) or one of the FHIR kinds. */
type Slot = 'token' | Exclude<Kind, 'client_credentials' | 'refresh_token' | 'authorization_code'>;

const ROTATION: readonly Slot[] = [
  'token',
  'read (patient token)',
  'search (patient token)',
  'read (system token)',
  'token',
  'search (system token)',
  'read (patient token)',
  'cross-patient read',
  'token',
  'search (patient token)',
];

function planner(base: string, creds: Credentials): (seq: number) => Planned {
  const tokenEndpoint = `${base}/oauth/token`;
  const urlencoded = { 'content-type': 'application/x-www-form-urlencoded' };
  let tokenTurn = 0;
  return (seq) => {
    const slot = ROTATION[seq % ROTATION.length]!;
    const patientToken = creds.patientTokens[seq % creds.patientTokens.length]!;
    const systemToken = creds.systemTokens[seq % creds.systemTokens.length]!;
    const bearer = (token: string) => ({ authorization: `Bearer ${token}`, accept: 'application/fhir+json' });
    if (slot === 'token') {
      const turn = tokenTurn++ % 3;
      // Oldest first: codes live 60 s.
      const code = turn === 1 ? creds.codes.shift() : undefined;
      if (code) {
        const headers = code.reg.secret ? { ...urlencoded, authorization: basicAuth(code.reg) } : urlencoded;
        const body = {
          grant_type: 'authorization_code',
          code: code.code,
          code_verifier: code.verifier,
          redirect_uri: APP_REDIRECT_URI,
          ...(code.reg.secret ? {} : { client_id: code.reg.client.client_id }),
        };
        return { kind: 'authorization_code', expected: 200, request: { method: 'POST', path: '/oauth/token', headers, body: form(body) } };
      }
      const refresh = turn === 2 ? creds.refreshTokens.shift() : undefined;
      if (refresh) {
        return {
          kind: 'refresh_token',
          expected: 200,
          request: {
            method: 'POST',
            path: '/oauth/token',
            headers: { ...urlencoded, authorization: basicAuth(refresh.reg) },
            body: form({ grant_type: 'refresh_token', refresh_token: refresh.token }),
          },
          onOk: (body) => {
            const tokens = JSON.parse(body) as { refresh_token: string; access_token: string; patient: string };
            creds.refreshTokens.push({ token: tokens.refresh_token, reg: refresh.reg });
            // Fresh access tokens replace old ones, so a long run never outlives its tokens.
            const slot = creds.patientTokens.findIndex((t) => t.patient === tokens.patient);
            if (slot >= 0) creds.patientTokens[slot] = { token: tokens.access_token, patient: tokens.patient };
          },
        };
      }
      const backend = creds.backends[seq % creds.backends.length]!;
      return {
        kind: 'client_credentials',
        expected: 200,
        request: { method: 'POST', path: '/oauth/token', headers: urlencoded, body: form(ccBody(backend, tokenEndpoint)) },
        // System tokens live 5 minutes: keep using fresh ones.
        onOk: (body) => void (creds.systemTokens[seq % creds.systemTokens.length] = (JSON.parse(body) as { access_token: string }).access_token),
      };
    }
    const p = patientToken.patient;
    const other = PATIENTS.find((x) => x !== p)!;
    switch (slot) {
      case 'read (patient token)':
        return { kind: slot, expected: 200, request: { method: 'GET', path: `/fhir/Patient/${p}`, headers: bearer(patientToken.token) } };
      case 'search (patient token)':
        return {
          kind: slot,
          expected: 200,
          request: { method: 'GET', path: `/fhir/Observation?patient=${p}&category=${VITALS}&_count=20`, headers: bearer(patientToken.token) },
        };
      case 'read (system token)':
        return {
          kind: slot,
          expected: 200,
          request: { method: 'GET', path: `/fhir/Patient/${PATIENTS[seq % PATIENTS.length]}`, headers: bearer(systemToken) },
        };
      case 'search (system token)':
        return {
          kind: slot,
          expected: 200,
          request: { method: 'GET', path: `/fhir/Condition?patient=${PATIENTS[seq % PATIENTS.length]}&_count=10`, headers: bearer(systemToken) },
        };
      case 'cross-patient read':
        // Outside the token's compartment: 404, as if it did not exist (docs/SECURITY.md, BOLA).
        return { kind: slot, expected: 404, request: { method: 'GET', path: `/fhir/Patient/${other}`, headers: bearer(patientToken.token) } };
    }
  };
}

/** autocannon's per-connection client, with the two counters it keeps (not in its typings). */
interface CannonClient {
  reqsMade: number;
  responseMax?: number;
}

/**
 * Runs the mixed load for `seconds`. At the deadline each connection stops after the response to
 * the request it has in flight, so every request written to a socket is answered and counted.
 */
async function runLoad(base: string, creds: Credentials, seconds: number): Promise<LoadRun> {
  const tag = `load-test/${randomUUID()}`;
  const plan = planner(base, creds);
  const sent = new Map<string, Sent>();
  const byTag = new Map<string, Planned>();
  const clients: CannonClient[] = [];
  let seq = 0;
  const started = performance.now();
  const deadline = setTimeout(() => {
    for (const c of clients) c.responseMax = Math.max(1, c.reqsMade);
  }, seconds * 1000);
  try {
    const result = await autocannon({
      url: base,
      connections: CONNECTIONS,
      pipelining: 1,
      // A safety net only: the deadline above ends the run; this duration would cut requests off.
      duration: seconds + 120,
      timeout: 60,
      setupClient: (client) => void clients.push(client as unknown as CannonClient),
      requests: [
        {
          // Called once per request, right before it is written (autocannon builds, then sends).
          setupRequest: (req, context) => {
            const id = `${tag}/${seq}`;
            const planned = plan(seq++);
            sent.set(id, { kind: planned.kind, expected: planned.expected });
            byTag.set(id, planned);
            (context as { id?: string }).id = id;
            // `req` carries autocannon's host and port: keep them, replace the rest.
            return { ...req, ...planned.request, headers: { ...planned.request.headers, 'user-agent': id } };
          },
          onResponse: (status, body, context) => {
            const id = (context as { id?: string }).id ?? '';
            const s = sent.get(id);
            if (s) s.status = status;
            if (status === 200) byTag.get(id)?.onOk?.(body);
          },
        },
      ],
    });
    return { tag, sent, result, seconds: (performance.now() - started) / 1000 };
  } finally {
    clearTimeout(deadline);
  }
}

interface AuditedRow {
  readonly status: number;
  readonly errorCode: string | null;
  readonly detail: string | null;
}

/** Audit records of one run: user agent → the records written for it. */
async function auditedRequests(db: Db, tag: string): Promise<Map<string, AuditedRow[]>> {
  const rows = await db.auditRecord.findMany({
    where: { userAgent: { startsWith: `${tag}/` } },
    select: { userAgent: true, status: true, errorCode: true, detail: true },
  });
  const byAgent = new Map<string, AuditedRow[]>();
  for (const r of rows) byAgent.set(r.userAgent!, [...(byAgent.get(r.userAgent!) ?? []), r]);
  return byAgent;
}

function histogram(values: Iterable<number | string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[String(v)] = (out[String(v)] ?? 0) + 1;
  return out;
}

/** The invariants of a run; `allowed` says which statuses each request may get. */
async function expectCompleteAudit(db: Db, run: LoadRun, allowed: (s: Sent) => number[], label: string): Promise<{ audited: number }> {
  const { result, sent } = run;
  const answered = [...sent.values()].filter((s) => s.status !== undefined);
  const statusCodes = histogram(answered.map((s) => s.status!));
  const audit = await auditedRequests(db, run.tag);
  const auditRows = [...audit.values()].reduce((n, statuses) => n + statuses.length, 0);

  const figures = {
    requests: sent.size,
    seconds: Number(run.seconds.toFixed(1)),
    reqPerSecond: Math.round(sent.size / run.seconds),
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    statusCodes,
    kinds: histogram([...sent.values()].map((s) => s.kind)),
    auditRows,
    distinctAuditedRequests: audit.size,
  };
  console.log(`load ${label}: ${JSON.stringify(figures)}`);

  // Every request written to a socket was answered: no connection errors, no timeouts.
  expect(result.errors, 'connection errors').toBe(0);
  expect(result.timeouts, 'timeouts').toBe(0);
  expect(answered.length, 'requests sent but not answered').toBe(sent.size);
  expect(result['5xx'], `5xx responses: ${JSON.stringify(statusCodes)}`).toBe(0);
  const unexpected = [...sent].filter(([, s]) => !allowed(s).includes(s.status!));
  const why = ([id, s]: [string, Sent]) =>
    `${s.kind} answered ${s.status}: ${
      audit
        .get(id)
        ?.map((r) => `${r.errorCode}: ${r.detail}`)
        .join(' | ') ?? 'not audited'
    }`;
  expect(unexpected.slice(0, 5).map(why), `${unexpected.length} unexpected statuses`).toEqual([]);

  // The audit trail: exactly one record per request sent (none lost, none duplicated), carrying
  // the status that was sent, and no record that belongs to no request of this run.
  expect(auditRows, 'audit records of this run').toBe(sent.size);
  expect(audit.size, 'requests with at least one audit record').toBe(sent.size);
  const mismatched = [...sent].filter(([id, s]) => audit.get(id)?.length !== 1 || audit.get(id)?.[0]?.status !== s.status).slice(0, 5);
  expect(mismatched.map(([id, s]) => `${id} ${s.kind} answered ${s.status}, audited ${JSON.stringify(audit.get(id)?.map((r) => r.status))}`)).toEqual([]);
  return { audited: auditRows };
}

// ---------------------------------------------------------------------------------------------

for (const target of targets) {
  describe(`load on ${target.name}`, () => {
    let server: Server;
    let db: Db;
    let base: string;

    beforeAll(async () => {
      const databaseUrl = await target.databaseUrl();
      prepareDatabase(databaseUrl);
      server = (await startServer({ databaseUrl, env: UNLIMITED })) as Server;
      base = server.url;
      db = createDb(databaseUrl).db;
    }, 180_000);

    afterAll(async () => {
      await db?.$disconnect();
      await server?.stop();
    });

    it(
      `${LOAD_SECONDS} s of token requests and FHIR reads from 9 clients on ${CONNECTIONS} connections: zero 5xx, one audit record per request`,
      async () => {
        const creds = await credentials(base, 12);
        const run = await runLoad(base, creds, LOAD_SECONDS);
        const kinds = histogram([...run.sent.values()].map((s) => s.kind));
        // The mix really happened: every kind of request was sent.
        for (const kind of [
          'client_credentials',
          'refresh_token',
          'authorization_code',
          'read (patient token)',
          'search (patient token)',
          'read (system token)',
          'search (system token)',
          'cross-patient read',
        ] as const) {
          expect(kinds[kind] ?? 0, kind).toBeGreaterThan(0);
        }
        await expectCompleteAudit(db, run, (s) => [s.expected], target.name);
        expect(server.output()).not.toMatch(/audit write failed|audit record rejected/);
      },
      (LOAD_SECONDS + 200) * 1000,
    );
  });
}

describe('load with rate limits on (SQLite)', () => {
  let server: Server;
  let db: Db;

  beforeAll(async () => {
    const databaseUrl = await targets[0]!.databaseUrl();
    prepareDatabase(databaseUrl);
    // Low limits so that a short run crosses them: the refused requests must be audited too.
    server = (await startServer({
      databaseUrl,
      env: { RATE_LIMIT_CLIENT: '12', RATE_LIMIT_PATIENT: '12', RATE_LIMIT_WINDOW_SECONDS: '300', RATE_LIMIT_REGISTER_IP: '0' },
    })) as Server;
    db = createDb(databaseUrl).db;
  }, 180_000);

  afterAll(async () => {
    await db?.$disconnect();
    await server?.stop();
  });

  it('answers 429 (never 5xx) past the limits and audits every request, refused or not', async () => {
    const creds = await credentials(server.url, 6);
    const run = await runLoad(server.url, creds, Math.min(LOAD_SECONDS, 3));
    const { audited } = await expectCompleteAudit(db, run, (s) => [s.expected, 429], 'throttled SQLite');
    const throttled = [...run.sent.values()].filter((s) => s.status === 429).length;
    expect(throttled).toBeGreaterThan(0);
    expect(await db.auditRecord.count({ where: { userAgent: { startsWith: `${run.tag}/` }, status: 429, flags: { contains: 'rate-limited' } } })).toBe(
      throttled,
    );
    expect(audited).toBe(run.sent.size);
  });
});
