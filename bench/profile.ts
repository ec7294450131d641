// In-process profile of the token endpoint and the FHIR read path, without HTTP or Next.js:
//   node --import tsx bench/profile.ts <database-url> [iterations]
// The database must be migrated and seeded (npm run bench prepares one; so does
// `DATABASE_URL=... node scripts/prepare-db.mjs`). Every statement is counted and timed, so each
// request's cost splits into driver time and everything else (Prisma's query compiler and result
// mapping, crypto, JSON, our code). On SQLite the driver time is better-sqlite3's own (statements
// run on it directly or through the adapter); on PostgreSQL it is the adapter's calls.
import { createHash, randomBytes } from 'node:crypto';
import { Session } from 'node:inspector/promises';
import { clientAssertion, registerBenchBackend } from './assertions';
import { summarizeProfile } from './cpu-profile';
import type { CpuProfile } from './cpu-profile';
import type { SqlDriverAdapter, SqlDriverAdapterFactory, SqlQuery, Transaction } from '@prisma/driver-adapter-utils';

const url = process.argv[2] ?? '';
const iterations = Number(process.argv[3] ?? 400);
if (!url) throw new Error('usage: node --import tsx bench/profile.ts <database-url> [iterations]');
process.env.DATABASE_URL = url;
// The limits would refuse a profile's sequential calls; the bench measures cost, not policy.
for (const name of ['RATE_LIMIT_CLIENT', 'RATE_LIMIT_PATIENT', 'RATE_LIMIT_REGISTER_IP']) process.env[name] ??= '1000000000';

interface Counter {
  statements: number;
  driverMs: number;
  sql: Map<string, number>;
}
const counter: Counter = { statements: 0, driverMs: 0, sql: new Map() };
let recordSql = false;

function count(text: string, ms: number): void {
  counter.statements++;
  counter.driverMs += ms;
  if (recordSql) {
    const key = text.replace(/\s+/g, ' ').slice(0, Number(process.env.SQL_CHARS ?? 110));
    counter.sql.set(key, (counter.sql.get(key) ?? 0) + 1);
  }
}

function timed<T>(query: SqlQuery | string, run: () => Promise<T>): Promise<T> {
  const t = performance.now();
  return run().finally(() => count(typeof query === 'string' ? query : query.sql, performance.now() - t));
}

/** Times every better-sqlite3 statement execution (all, get, run, iterate) of the process. */
async function timeSqliteStatements(): Promise<void> {
  const { default: Database } = await import('better-sqlite3');
  const probe = new Database(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, unknown>;
  probe.close();
  for (const name of ['all', 'get', 'run', 'iterate']) {
    const original = proto[name] as (this: { source: string }, ...args: unknown[]) => unknown;
    proto[name] = function (this: { source: string }, ...args: unknown[]) {
      const t = performance.now();
      try {
        return original.apply(this, args);
      } finally {
        count(this.source, performance.now() - t);
      }
    };
  }
}

function wrapQueryable<T extends SqlDriverAdapter | Transaction>(q: T): T {
  return new Proxy(q, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'queryRaw' || prop === 'executeRaw')
        return (query: SqlQuery) => timed(query, () => (value as (q: SqlQuery) => Promise<unknown>).call(target, query));
      if (prop === 'commit' || prop === 'rollback') return () => timed(String(prop).toUpperCase(), () => (value as () => Promise<unknown>).call(target));
      if (prop === 'startTransaction')
        return async (level?: unknown) => wrapQueryable(await timed('BEGIN', () => (value as (l?: unknown) => Promise<Transaction>).call(target, level)));
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function wrapFactory(f: SqlDriverAdapterFactory): SqlDriverAdapterFactory {
  return new Proxy(f, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'connect') return async () => wrapQueryable(await (value as () => Promise<SqlDriverAdapter>).call(target));
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function installInstrumentedDb(): Promise<void> {
  const { createDb } = await import('../lib/db');
  if (url.startsWith('file:')) await timeSqliteStatements();
  (globalThis as unknown as { __sandboxDb?: unknown }).__sandboxDb = url.startsWith('file:') ? createDb(url) : createDb(url, wrapFactory);
}

interface Sample {
  ms: number;
  cpuMs: number;
  statements: number;
  driverMs: number;
}

function summary(name: string, samples: Sample[]): string {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))] ?? 0;
  const mean = (f: (s: Sample) => number) => samples.reduce((a, s) => a + f(s), 0) / samples.length;
  return `${name.padEnd(44)} cpu ${mean((s) => s.cpuMs).toFixed(2)} ms  wall mean ${mean((s) => s.ms).toFixed(2)} ms  p50 ${q(0.5).toFixed(2)}  p99 ${q(0.99).toFixed(2)}  statements ${mean((s) => s.statements).toFixed(1)}  driver ${mean((s) => s.driverMs).toFixed(2)} ms  other ${mean((s) => s.ms - s.driverMs).toFixed(2)} ms`;
}

// Where CPU time goes (with CPU_PROFILE=1): bench/cpu-profile.ts summarizes the profile of each measured loop.
async function withCpuProfile<T>(name: string, run: () => Promise<T>): Promise<T> {
  if (!process.env.CPU_PROFILE) return run();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  const result = await run();
  const { profile } = (await session.post('Profiler.stop')) as { profile: CpuProfile };
  session.disconnect();
  console.log(`  CPU profile of ${name} (busy samples only):\n${summarizeProfile(profile, 12).join('\n')}`);
  return result;
}

async function measure(name: string, n: number, fn: (i: number) => Promise<void>, showSql = false): Promise<Sample[]> {
  for (let i = 0; i < Math.min(20, n); i++) await fn(i); // warm-up (JIT, caches)
  return withCpuProfile(name, () => measureLoop(name, n, fn, showSql));
}

async function measureLoop(name: string, n: number, fn: (i: number) => Promise<void>, showSql: boolean): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let i = 0; i < n; i++) {
    const before = { statements: counter.statements, driverMs: counter.driverMs };
    recordSql = showSql && i === 0;
    const t = performance.now();
    const cpu = process.cpuUsage();
    await fn(i + 20);
    const used = process.cpuUsage(cpu);
    samples.push({
      ms: performance.now() - t,
      cpuMs: (used.user + used.system) / 1000,
      statements: counter.statements - before.statements,
      driverMs: counter.driverMs - before.driverMs,
    });
    if (recordSql) {
      recordSql = false;
      console.log(`  statements of one ${name}:`);
      for (const [sql, count] of counter.sql) console.log(`    ${count}× ${sql}`);
      counter.sql.clear();
    }
  }
  console.log(summary(name, samples));
  return samples;
}

async function micro(name: string, n: number, fn: () => unknown): Promise<void> {
  for (let i = 0; i < 50; i++) await fn();
  const t = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn();
  const used = process.cpuUsage(cpu);
  console.log(`  ${name.padEnd(54)} cpu ${((used.user + used.system) / 1000 / n).toFixed(3)} ms  wall ${((performance.now() - t) / n).toFixed(3)} ms`);
}

await installInstrumentedDb();
const { getDb } = await import('../lib/db');
const { registerClient } = await import('../lib/oauth/clients');
const { handleAuthorize } = await import('../lib/oauth/endpoints/authorize');
const { handleToken } = await import('../lib/oauth/endpoints/token');
const { handleIntrospect } = await import('../lib/oauth/endpoints/introspect');
const { completeInteraction } = await import('../lib/oauth/interaction');
const { handleFhirRequest } = await import('../lib/fhir/router');
const { getSigningKey } = await import('../lib/oauth/keys');
const { Prisma } = await import('../lib/generated/sqlite/client');
const { SignJWT, jwtVerify, generateKeyPair } = await import('jose');

const ORIGIN = 'http://localhost:3000';
const REDIRECT = 'http://127.0.0.1:9/callback';
const SCOPE = 'openid fhirUser launch/patient patient/*.rs offline_access';
const db = getDb();
const patient =
  (await db.resource.findFirst({ where: { type: 'Patient', id: 'roster-growth' }, select: { id: true } }))?.id ??
  (await db.resource.findFirstOrThrow({ where: { type: 'Patient' }, select: { id: true } })).id;

const reg = await registerClient({
  name: 'profile app',
  clientType: 'confidential-symmetric',
  tokenEndpointAuthMethod: 'client_secret_basic',
  redirectUris: [REDIRECT],
  scope: SCOPE,
});
const basic = `Basic ${Buffer.from(`${encodeURIComponent(reg.client.clientId)}:${encodeURIComponent(reg.clientSecret!)}`).toString('base64')}`;
const post = (path: string, body: Record<string, string>, headers: Record<string, string> = {}) =>
  new Request(`${ORIGIN}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic, ...headers },
    body: new URLSearchParams(body).toString(),
  });

async function makeCode(): Promise<{ code: string; verifier: string }> {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: reg.client.clientId,
    redirect_uri: REDIRECT,
    scope: SCOPE,
    state: 's',
    aud: `${ORIGIN}/fhir`,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  const res = await handleAuthorize(new Request(`${ORIGIN}/oauth/authorize?${q}`));
  const id = /\/interaction\/([^/?#]+)/.exec(res.headers.get('location') ?? '')?.[1];
  if (!id) throw new Error(`authorize: ${res.status}`);
  const redirect = new URL(
    await completeInteraction(id, { userId: 'Practitioner/practitioner-1', fhirUser: 'Practitioner/practitioner-1', patientId: patient, grantedScope: SCOPE }),
  );
  return { code: redirect.searchParams.get('code')!, verifier };
}

console.log(`preparing ${iterations + 20} codes…`);
const codes: { code: string; verifier: string }[] = [];
for (let i = 0; i < iterations + 20; i++) codes.push(await makeCode());
const refreshTokens: string[] = [];
let accessToken = '';

console.log(`\nper request, ${iterations} sequential calls in one process (database: ${url.split(':')[0]}):`);
await measure(
  'token exchange (code + PKCE + id_token)',
  iterations,
  async (i) => {
    const c = codes[i]!;
    const res = await handleToken(post('/oauth/token', { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, redirect_uri: REDIRECT }));
    const body = (await res.json()) as { refresh_token?: string; access_token?: string };
    if (res.status !== 200) throw new Error(`exchange: ${res.status} ${JSON.stringify(body)}`);
    refreshTokens.push(body.refresh_token!);
    accessToken = body.access_token!;
  },
  true,
);
await measure(
  'refresh (rotation)',
  Math.min(iterations, refreshTokens.length - 20),
  async (i) => {
    const res = await handleToken(post('/oauth/token', { grant_type: 'refresh_token', refresh_token: refreshTokens[i]! }));
    if (res.status !== 200) throw new Error(`refresh: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  },
  true,
);
await measure(
  'introspection',
  iterations,
  async () => {
    const res = await handleIntrospect(post('/oauth/introspect', { token: accessToken }));
    if (res.status !== 200) throw new Error(`introspect: ${res.status}`);
    await res.arrayBuffer();
  },
  true,
);
const backend = await registerBenchBackend('profile backend', 'profile-es384');
const assertions: string[] = [];
for (let i = 0; i < iterations + 20; i++) assertions.push(await clientAssertion(backend, `${ORIGIN}/oauth/token`));
await measure(
  'client_credentials (private_key_jwt ES384)',
  iterations,
  async (i) => {
    const res = await handleToken(
      new Request(`${ORIGIN}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope: 'system/Patient.rs',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertions[i]!,
        }).toString(),
      }),
    );
    if (res.status !== 200) throw new Error(`client_credentials: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  },
  true,
);
const bearer = { authorization: `Bearer ${accessToken}` };
await measure(
  `FHIR read Patient/${patient}`,
  iterations,
  async () => {
    const res = await handleFhirRequest(new Request(`${ORIGIN}/fhir/Patient/${patient}`, { headers: bearer }));
    if (res.status !== 200) throw new Error(`read: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  },
  true,
);
const cat = encodeURIComponent('http://terminology.hl7.org/CodeSystem/observation-category|vital-signs');
let searchBytes = 0;
await measure(
  'FHIR Observation?patient&category&date',
  iterations,
  async () => {
    const res = await handleFhirRequest(new Request(`${ORIGIN}/fhir/Observation?patient=${patient}&category=${cat}&date=ge2000-01-01`, { headers: bearer }));
    if (res.status !== 200) throw new Error(`search: ${res.status} ${await res.text()}`);
    searchBytes = (await res.arrayBuffer()).byteLength;
  },
  true,
);
console.log(`  (search response: ${(searchBytes / 1024).toFixed(0)} KiB)`);
// The search of `npm run bench -- leastwork` (20 per page, more pages follow), with the total the
// server gives unasked and without it: the difference is what counting the matches costs.
for (const [label, extra] of [
  ['with its total', ''],
  ['_total=none', '&_total=none'],
]) {
  await measure(
    `FHIR Observation?patient&category&_count=20, ${label}`,
    iterations,
    async () => {
      const res = await handleFhirRequest(new Request(`${ORIGIN}/fhir/Observation?patient=${patient}&category=${cat}&_count=20${extra}`, { headers: bearer }));
      if (res.status !== 200) throw new Error(`search: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    },
    true,
  );
}

console.log('\nbuilding blocks:');
const es = await getSigningKey('ES256');
const rs = await getSigningKey('RS256');
await micro('ES256 sign (access token)', 500, () =>
  new SignJWT({ scope: SCOPE }).setProtectedHeader({ alg: 'ES256' }).setIssuer(ORIGIN).setExpirationTime('1h').sign(es.privateKey),
);
await micro('RS256 sign, RSA 2048 (id_token)', 300, () =>
  new SignJWT({ fhirUser: 'x' }).setProtectedHeader({ alg: 'RS256' }).setIssuer(ORIGIN).setExpirationTime('1h').sign(rs.privateKey),
);
const { publicKey, privateKey } = await generateKeyPair('ES256');
const jwt = await new SignJWT({ a: 1 }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('1h').sign(privateKey);
await micro('ES256 verify', 500, () => jwtVerify(jwt, publicKey));
await micro('Prisma findUnique (Token by primary key)', 500, () => db.token.findUnique({ where: { id: 'nope' } }));
await micro('Prisma findUnique (Client by primary key)', 500, () => db.client.findUnique({ where: { clientId: reg.client.clientId } }));
await micro('Prisma $queryRaw (same Client row)', 500, () => db.$queryRaw(Prisma.sql`SELECT * FROM "Client" WHERE "clientId" = ${reg.client.clientId}`));
await micro('Prisma updateMany (no row matches)', 500, () => db.authCode.updateMany({ where: { codeHash: 'nope', used: false }, data: { used: true } }));
await micro('Prisma $executeRaw (same update)', 500, () =>
  db.$executeRaw(Prisma.sql`UPDATE "AuthCode" SET "used" = true WHERE "codeHash" = ${'nope'} AND "used" = false`),
);
await db.$disconnect();
