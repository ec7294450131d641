// The database briefly unavailable under a running app (issue 8 item 5): PostgreSQL shut down and
// started again on the same port, an SQLite file locked past the busy timeout. Every request in
// between gets 503 with Retry-After in its endpoint's standard shape — never a 500, never
// internals — and the same app process serves again once the database is back, without a restart.
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openDb } from './support/db';
import { clientPost, exchangeCode, fhirStatus, obtainCodes, PATIENT, refreshToken, registerConfidentialApp, succeeded } from './support/oauth';
import type { TokenOutcome } from './support/oauth';
import { findPgBin, freshDatabase, prepareDatabase, SERVER_ENV, sleep, startCluster, startServer } from './support/servers';
import type { PgCluster, TestServer } from './support/servers';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

/** Internals a response must never show: stack frames, SQL, driver and ORM names, socket errors. */
const INTERNALS = /\bat [\w.<>]+ \(|SELECT [^<]*FROM|INSERT INTO|UPDATE "|[Pp]risma|ECONNREFUSED|57P0\d|SQLITE_|node_modules/;

interface Answer {
  readonly what: string;
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

async function call(what: string, url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, { redirect: 'manual', ...init });
  return { what, status: res.status, headers: res.headers, text: await res.text() };
}

function expectFhirUnavailable(a: Answer): void {
  expect(a.status, `${a.what}: ${a.text.slice(0, 300)}`).toBe(503);
  expect(Number(a.headers.get('retry-after')), a.what).toBeGreaterThan(0);
  expect(a.headers.get('content-type'), a.what).toMatch(/^application\/fhir\+json/);
  const outcome = JSON.parse(a.text) as { resourceType: string; issue: { severity: string; code: string }[] };
  expect(outcome.resourceType).toBe('OperationOutcome');
  expect(outcome.issue[0]).toMatchObject({ severity: 'error', code: 'transient' });
}

function expectOAuthUnavailable(a: Answer): void {
  expect(a.status, `${a.what}: ${a.text.slice(0, 300)}`).toBe(503);
  expect(Number(a.headers.get('retry-after')), a.what).toBeGreaterThan(0);
  expect(a.headers.get('content-type'), a.what).toMatch(/^application\/json/);
  expect(a.headers.get('cache-control'), a.what).toBe('no-store');
  const body = JSON.parse(a.text) as { error: string; error_description: string };
  expect(body.error, a.what).toBe('temporarily_unavailable');
  expect(body.error_description, a.what).toMatch(/database/);
}

function expectPageUnavailable(a: Answer): void {
  expect(a.status, `${a.what}: ${a.text.slice(0, 300)}`).toBe(503);
  expect(Number(a.headers.get('retry-after')), a.what).toBeGreaterThan(0);
  expect(a.headers.get('content-type'), a.what).toMatch(/^text\/html/);
  expect(a.text, a.what).toContain('briefly unavailable');
}

function toAnswer(what: string, o: TokenOutcome): Answer {
  if (o.kind === 'cut') throw new Error(`${what}: no response (${o.reason})`);
  return { what, status: o.status, headers: o.headers, text: JSON.stringify(o.body) };
}

describe.skipIf(!findPgBin())('PostgreSQL stopped under a running app, then started again on the same port', () => {
  let cluster: PgCluster;
  let server: TestServer;

  it('answers 503 + Retry-After in each endpoint’s shape while it is down, and 200 again afterwards from the same process', async () => {
    cluster = await startCluster();
    cleanup.push(() => cluster.stop());
    const url = cluster.url;
    prepareDatabase(url);
    server = await startServer({ databaseUrl: url, env: SERVER_ENV });
    cleanup.push(() => server.stop());
    const base = server.url;

    const app = await registerConfidentialApp(base);
    const [code, spareCode] = await obtainCodes(base, app, 2);
    const first = await exchangeCode(base, app.credentials, code!);
    if (!succeeded(first)) throw new Error(`exchange failed: ${JSON.stringify(first)}`);
    const accessToken = String(first.body.access_token);
    const refresh = String(first.body.refresh_token);
    const auth = { authorization: `Bearer ${accessToken}`, accept: 'application/fhir+json' };
    expect(await fhirStatus(base, `Patient/${PATIENT}`, accessToken)).toBe(200);

    // Requests in flight while the server shuts down: each ends as a 200 or a 503, never a 500.
    const inFlight = Array.from({ length: 20 }, (_, i) => call(`in flight ${i}`, `${base}/fhir/Observation?patient=${PATIENT}&_count=5`, { headers: auth }));
    await cluster.pause();
    for (const a of await Promise.all(inFlight)) {
      expect([200, 503], `${a.what}: ${a.text.slice(0, 200)}`).toContain(a.status);
      expect(a.text).not.toMatch(INTERNALS);
    }

    const interactionId = 'x'.repeat(24);
    const answers: Answer[] = [];
    for (let round = 0; round < 2; round++) {
      const fhirRead = await call('FHIR read', `${base}/fhir/Patient/${PATIENT}`, { headers: auth });
      const fhirSearch = await call('FHIR search', `${base}/fhir/Observation?patient=${PATIENT}`, { headers: auth });
      const fhirCreate = await call('FHIR create', `${base}/fhir/Observation`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/fhir+json' },
        body: JSON.stringify({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${PATIENT}` } }),
      });
      const refreshed = toAnswer('token refresh', await refreshToken(base, app.credentials, refresh));
      const exchanged = toAnswer('token code exchange', await exchangeCode(base, app.credentials, spareCode!));
      const introspected = toAnswer('introspection', await clientPost(base, '/oauth/introspect', app.credentials, { token: accessToken }));
      const authorize = await call(
        'authorize page',
        `${base}/oauth/authorize?response_type=code&client_id=${encodeURIComponent(app.clientId)}&redirect_uri=${encodeURIComponent('http://127.0.0.1:9/callback')}&scope=launch%2Fpatient&state=s&aud=${encodeURIComponent(`${base}/fhir`)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`,
      );
      const interaction = await call('interaction screen', `${base}/interaction/${interactionId}`);
      const health = await call('health', `${base}/api/health`);
      for (const a of [fhirRead, fhirSearch, fhirCreate]) expectFhirUnavailable(a);
      for (const a of [refreshed, exchanged, introspected]) expectOAuthUnavailable(a);
      for (const a of [authorize, interaction]) expectPageUnavailable(a);
      // The launcher and the console send the browser to the same 503 page, with a way back.
      for (const [path, what] of [
        ['/', 'launcher'],
        ['/console', 'console'],
      ] as const) {
        const sent = await call(what, `${base}${path}`);
        expect(sent.status, `${what}: ${sent.text.slice(0, 300)}`).toBe(307);
        const page = await call(`${what}, unavailable page`, new URL(sent.headers.get('location')!, base).toString());
        expectPageUnavailable(page);
        expect(page.text).toContain(`<a href="${path}">Try again</a>`);
        answers.push(sent, page);
      }
      expect(health.status).toBe(503);
      expect(Number(health.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(JSON.parse(health.text)).toMatchObject({ status: 'unavailable', database: { kind: 'postgresql', ok: false } });
      answers.push(fhirRead, fhirSearch, fhirCreate, refreshed, exchanged, introspected, authorize, interaction, health);
      await sleep(300);
    }
    for (const a of answers) expect(a.text, a.what).not.toMatch(INTERNALS);

    await cluster.resume();
    const deadline = Date.now() + 30_000;
    let health = await call('health', `${base}/api/health`);
    while (health.status !== 200 && Date.now() < deadline) {
      await sleep(250);
      health = await call('health', `${base}/api/health`);
    }
    expect(health.status).toBe(200);
    expect(JSON.parse(health.text)).toMatchObject({ status: 'ok', database: { kind: 'postgresql', ok: true } });

    expect((await call('launcher', `${base}/`)).status).toBe(200);

    // Same process, same tokens: nothing the outage refused was used up.
    expect(await fhirStatus(base, `Patient/${PATIENT}`, accessToken)).toBe(200);
    const refreshedAfter = await refreshToken(base, app.credentials, refresh);
    expect(succeeded(refreshedAfter), JSON.stringify(refreshedAfter)).toBe(true);
    const exchangedAfter = await exchangeCode(base, app.credentials, spareCode!);
    // The spare code is older than a code's 60 s lifetime only on a very slow machine.
    expect(exchangedAfter.kind === 'response' && [200, 400].includes(exchangedAfter.status)).toBe(true);
    if (exchangedAfter.kind === 'response' && exchangedAfter.status === 400) expect(exchangedAfter.body.error_description).toMatch(/expired/);

    // Audit records are written again: a request after the recovery has its record.
    const recoveredAt = new Date();
    expect((await call('FHIR read after', `${base}/fhir/Patient/${PATIENT}`, { headers: auth })).status).toBe(200);
    const { db, close } = openDb(url);
    try {
      const records = await db.auditRecord.count({ where: { kind: 'fhir', endpoint: `/fhir/Patient/${PATIENT}`, status: 200, at: { gte: recoveredAt } } });
      expect(records).toBe(1);
    } finally {
      await close();
    }
    expect(server.output()).not.toMatch(/uncaught|unhandled/i);
  });
});

describe('an SQLite database file locked past the busy timeout', () => {
  it('answers a token request 503 temporarily_unavailable with Retry-After, and serves it once the lock is gone', async () => {
    const url = await freshDatabase('sqlite', 'outage');
    cleanup.push(() => rmSync(dirname(url.slice(5)), { recursive: true, force: true }));
    prepareDatabase(url);
    const server = await startServer({ databaseUrl: url, env: SERVER_ENV });
    cleanup.push(() => server.stop());
    const base = server.url;
    const app = await registerConfidentialApp(base);
    const [code] = await obtainCodes(base, app, 1);
    const first = await exchangeCode(base, app.credentials, code!);
    if (!succeeded(first)) throw new Error(`exchange failed: ${JSON.stringify(first)}`);

    // Another process holds the write lock longer than the app's 10 s busy timeout.
    const holder = new Database(url.slice(5));
    holder.prepare('BEGIN IMMEDIATE').run();
    let answer: TokenOutcome;
    try {
      answer = await refreshToken(base, app.credentials, String(first.body.refresh_token));
    } finally {
      holder.prepare('ROLLBACK').run();
      holder.close();
    }
    expectOAuthUnavailable(toAnswer('token refresh while locked', answer));
    expect(toAnswer('token refresh while locked', answer).text).not.toMatch(INTERNALS);

    const after = await refreshToken(base, app.credentials, String(first.body.refresh_token));
    expect(succeeded(after), JSON.stringify(after)).toBe(true);
  });
});
