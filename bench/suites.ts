import { createHash, randomBytes } from 'node:crypto';
import { clientAssertion, registerBenchBackend } from './assertions';
import type { Benchmark, BenchContext, BenchResult } from './types';
import { exportBench } from './export';
import { workshopBench } from './workshop';

const b64url = (b: Buffer) => b.toString('base64url');

function pkcePair(): { verifier: string; challenge: string } {
  const verifier = b64url(randomBytes(32));
  return { verifier, challenge: b64url(createHash('sha256').update(verifier).digest()) };
}

interface Code {
  code: string;
  verifier: string;
}

/** Authorization codes made the way a browser would: /oauth/authorize over HTTP, then consent. */
export async function makeCodes(ctx: BenchContext, clientId: string, redirectUri: string, patientId: string, n: number): Promise<Code[]> {
  const { completeInteraction } = await import('../lib/oauth/interaction');
  const codes: Code[] = [];
  const scope = 'openid fhirUser launch/patient patient/*.rs offline_access';
  const started = performance.now();
  let i = 0;
  // Eight at a time: codes live 60 s, and all of them must still be alive when the exchange starts.
  await Promise.all(
    Array.from({ length: Math.min(8, n) }, async () => {
      while (i < n) {
        const { verifier, challenge } = pkcePair();
        const q = new URLSearchParams({
          response_type: 'code',
          client_id: clientId,
          redirect_uri: redirectUri,
          scope,
          state: `s${i++}`,
          aud: `${ctx.baseUrl}/fhir`,
          code_challenge: challenge,
          code_challenge_method: 'S256',
        });
        const res = await fetch(`${ctx.baseUrl}/oauth/authorize?${q}`, { redirect: 'manual' });
        const id = /\/interaction\/([^/?#]+)/.exec(res.headers.get('location') ?? '')?.[1];
        if (!id) throw new Error(`authorize did not start an interaction: ${res.status}`);
        const redirect = new URL(
          await completeInteraction(id, { userId: 'Practitioner/practitioner-1', fhirUser: 'Practitioner/practitioner-1', patientId, grantedScope: scope }),
        );
        codes.push({ code: redirect.searchParams.get('code')!, verifier });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  if (n > 1)
    console.log(
      `${n} authorization codes made in ${seconds.toFixed(1)} s${seconds > 40 ? ' (codes live 60 s: lower BENCH_CODES if the exchange reports invalid_grant)' : ''}`,
    );
  return codes;
}

/** Counts refused responses by status and OAuth error, for the log (a benchmark's errors must be explained). */
export function errorTally(): { add(status: number, body: string): void; print(name: string): void } {
  const seen = new Map<string, number>();
  return {
    add(status, body) {
      if (status < 300) return;
      let error = '';
      try {
        error = String((JSON.parse(body) as { error?: string }).error ?? '');
      } catch {
        error = body.slice(0, 60);
      }
      const key = `${status} ${error}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    },
    print(name) {
      if (seen.size) console.log(`${name}: refused responses ${[...seen].map(([k, v]) => `${v}× ${k}`).join(', ')}`);
    },
  };
}

export function form(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

const oauth: Benchmark = {
  name: 'oauth',
  async run(ctx) {
    const { registerClient } = await import('../lib/oauth/clients');
    const results: BenchResult[] = [];
    const redirectUri = 'http://127.0.0.1:9/callback';
    const reg = await registerClient({
      name: 'bench app',
      clientType: 'confidential-symmetric',
      tokenEndpointAuthMethod: 'client_secret_basic',
      redirectUris: [redirectUri],
      scope: 'openid fhirUser launch/patient patient/*.rs offline_access',
    });
    const clientId = reg.client.clientId;
    const basic = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(reg.clientSecret!)}`).toString('base64')}`;
    const headers = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic };
    const seconds = Number(process.env.BENCH_SECONDS ?? 5);

    // Warm-up (not measured): the token, introspection and FHIR routes each serve a few requests
    // first, so that loading their modules is not charged to the benchmarks below.
    for (const c of await makeCodes(ctx, clientId, redirectUri, 'roster-growth', 20)) {
      const res = await fetch(`${ctx.baseUrl}/oauth/token`, {
        method: 'POST',
        headers,
        body: form({ grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, redirect_uri: redirectUri }),
      });
      const warm = (await res.json()) as { access_token: string; refresh_token: string };
      await (
        await fetch(`${ctx.baseUrl}/oauth/token`, { method: 'POST', headers, body: form({ grant_type: 'refresh_token', refresh_token: warm.refresh_token }) })
      ).arrayBuffer();
      await (await fetch(`${ctx.baseUrl}/oauth/introspect`, { method: 'POST', headers, body: form({ token: warm.access_token }) })).arrayBuffer();
      await (await fetch(`${ctx.baseUrl}/fhir/Patient/roster-growth`, { headers: { authorization: `Bearer ${warm.access_token}` } })).arrayBuffer();
    }

    // Token exchange (authorization_code + PKCE + id_token): every request needs a fresh code.
    const codes = await makeCodes(ctx, clientId, redirectUri, 'roster-growth', Number(process.env.BENCH_CODES ?? 2500));
    let next = 0;
    const refreshTokens: string[] = [];
    const exchangeErrors = errorTally();
    const exchange = await ctx.http('token exchange (code + PKCE + id_token)', `${ctx.baseUrl}/oauth/token`, {
      amount: codes.length,
      duration: seconds,
      requests: [
        {
          method: 'POST',
          headers,
          setupRequest: (req) => {
            const c = codes[next++ % codes.length]!;
            return { ...req, body: form({ grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, redirect_uri: redirectUri }) };
          },
          onResponse: (status, body) => {
            if (status === 200) refreshTokens.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
            exchangeErrors.add(status, body);
          },
        },
      ],
    });
    exchangeErrors.print('token exchange');
    results.push(exchange);
    const accessToken = await (async () => {
      const c = (await makeCodes(ctx, clientId, redirectUri, 'roster-growth', 1))[0]!;
      const res = await fetch(`${ctx.baseUrl}/oauth/token`, {
        method: 'POST',
        headers,
        body: form({ grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, redirect_uri: redirectUri }),
      });
      return ((await res.json()) as { access_token: string }).access_token;
    })();

    // Refresh with rotation: each refresh token is single-use.
    let r = 0;
    results.push(
      await ctx.http('refresh (rotation)', `${ctx.baseUrl}/oauth/token`, {
        amount: refreshTokens.length,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            headers,
            setupRequest: (req) => ({ ...req, body: form({ grant_type: 'refresh_token', refresh_token: refreshTokens[r++ % refreshTokens.length]! }) }),
          },
        ],
      }),
    );

    // Introspection of one active token by a confidential client.
    results.push(await ctx.http('introspection', `${ctx.baseUrl}/oauth/introspect`, { method: 'POST', headers, body: form({ token: accessToken }) }));

    // client_credentials with private_key_jwt (ES384): every assertion has its own jti.
    const backend = await registerBenchBackend('bench backend', 'bench-es384');
    const tokenUrl = `${ctx.baseUrl}/oauth/token`;
    const assertions: string[] = [];
    const expiresAt = Math.floor(Date.now() / 1000) + 290;
    for (let i = 0; i < Number(process.env.BENCH_ASSERTIONS ?? 6000); i++) assertions.push(await clientAssertion(backend, tokenUrl, expiresAt));
    // Warm-up with assertions of their own (each jti is single-use).
    for (let w = 0; w < 20; w++) {
      const assertion = await clientAssertion(backend, tokenUrl, expiresAt);
      await (
        await fetch(tokenUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form({
            grant_type: 'client_credentials',
            scope: 'system/Patient.rs',
            client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            client_assertion: assertion,
          }),
        })
      ).arrayBuffer();
    }
    let a = 0;
    results.push(
      await ctx.http('client_credentials (private_key_jwt ES384)', tokenUrl, {
        amount: assertions.length,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            setupRequest: (req) => ({
              ...req,
              body: form({
                grant_type: 'client_credentials',
                scope: 'system/Patient.rs',
                client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
                client_assertion: assertions[a++ % assertions.length]!,
              }),
            }),
          },
        ],
      }),
    );

    return results;
  },
};

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * A benchmark in BENCH_ROUNDS rounds (default 3) alternating with the trivial Next route, each
 * BENCH_ROUND_SECONDS long (default 3): on a shared machine the load changes from one minute to
 * the next, and a request and its baseline measured in the same stretch compare fairly. Reports the
 * median of the rounds for each figure, beside the trivial route's medians.
 */
async function paired(ctx: BenchContext, name: string, url: string, headers: Record<string, string>): Promise<BenchResult> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const duration = Number(process.env.BENCH_ROUND_SECONDS ?? 3);
  const trivial = `${ctx.baseUrl}/api/bench/trivial`;
  const own: BenchResult[] = [];
  const base: BenchResult[] = [];
  for (let i = 0; i < rounds; i++) {
    base.push(await ctx.http('trivial', trivial, { duration }, { warmUp: false }));
    own.push(await ctx.http(name, url, { headers, duration }, { warmUp: i === 0 }));
  }
  const cpu = (rs: BenchResult[]) => (rs.every((r) => r.cpuMsPerRequest !== undefined) ? median(rs.map((r) => r.cpuMsPerRequest!)) : undefined);
  const ownCpu = cpu(own);
  const baseCpu = cpu(base);
  return {
    name,
    unit: 'req/s',
    rate: median(own.map((r) => r.rate)),
    p50: median(own.map((r) => r.p50)),
    p99: median(own.map((r) => r.p99)),
    errors: own.reduce((n, r) => n + r.errors, 0),
    total: own.reduce((n, r) => n + r.total, 0),
    ...(ownCpu === undefined ? {} : { cpuMsPerRequest: ownCpu }),
    pairedBaseline: { rate: median(base.map((r) => r.rate)), ...(baseCpu === undefined ? {} : { cpuMsPerRequest: baseCpu }) },
  };
}

/**
 * Requests sent at evenly spaced times, `rate` per second for BENCH_SECONDS, whether or not earlier
 * ones have been answered (an open loop, unlike autocannon, whose connections wait for their
 * answers and whose rate limit releases each second's requests together). Latency counts from
 * the moment a request was due, so a late start (a timer fires up to a millisecond or so late) is
 * charged to the request, not hidden.
 */
export async function steady(name: string, url: string, headers: Record<string, string>, rate: number): Promise<BenchResult> {
  const { Agent, request } = await import('node:http');
  const seconds = Number(process.env.BENCH_SECONDS ?? 5);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const target = new URL(url);
  const once = (due: number) =>
    new Promise<{ ms: number; ok: boolean }>((resolve) => {
      const req = request({ agent, host: target.hostname, port: target.port, path: target.pathname + target.search, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve({ ms: performance.now() - due, ok: res.statusCode === 200 }));
      });
      req.on('error', () => resolve({ ms: performance.now() - due, ok: false }));
      req.end();
    });
  for (let i = 0; i < 20; i++) await once(performance.now()); // opens the connections
  const n = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const pending: Promise<{ ms: number; ok: boolean }>[] = [];
  const start = performance.now() + 50;
  for (let i = 0; i < n; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(once(due));
  }
  const done = await Promise.all(pending);
  agent.destroy();
  const ms = done.map((d) => d.ms).sort((a, b) => a - b);
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))] ?? 0;
  return { name, unit: 'req/s', rate: n / ((performance.now() - start) / 1000), p50: q(0.5), p99: q(0.99), errors: done.filter((d) => !d.ok).length, total: n };
}

// The FHIR read path alone (token check, access policy, store, audit record) with a patient token
// from a real code exchange and a system token from client_credentials; `npm run bench -- fhir`.
const fhir: Benchmark = {
  name: 'fhir',
  async run(ctx) {
    const { registerClient } = await import('../lib/oauth/clients');
    const redirectUri = 'http://127.0.0.1:9/callback';
    const scope = 'openid fhirUser launch/patient patient/*.rs offline_access';
    const reg = await registerClient({
      name: 'bench fhir app',
      clientType: 'confidential-symmetric',
      tokenEndpointAuthMethod: 'client_secret_basic',
      redirectUris: [redirectUri],
      scope,
    });
    const basic = `Basic ${Buffer.from(`${encodeURIComponent(reg.client.clientId)}:${encodeURIComponent(reg.clientSecret!)}`).toString('base64')}`;
    const tokenUrl = `${ctx.baseUrl}/oauth/token`;
    const c = (await makeCodes(ctx, reg.client.clientId, redirectUri, 'roster-growth', 1))[0]!;
    const exchanged = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      body: form({ grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, redirect_uri: redirectUri }),
    });
    const patientToken = ((await exchanged.json()) as { access_token: string }).access_token;

    const assertion = await clientAssertion(await registerBenchBackend('bench fhir backend', 'bench-fhir'), tokenUrl);
    const systemExchange = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form({
        grant_type: 'client_credentials',
        scope: 'system/*.rs',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      }),
    });
    const systemToken = ((await systemExchange.json()) as { access_token: string }).access_token;

    const cat = encodeURIComponent('http://terminology.hl7.org/CodeSystem/observation-category|vital-signs');
    // Warm-up: the first FHIR request loads the route's code; keep that out of the first figure.
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${ctx.baseUrl}/fhir/Patient/roster-growth`, { headers: { authorization: `Bearer ${i % 2 ? patientToken : systemToken}` } });
      if (res.status !== 200) throw new Error(`FHIR read answered ${res.status}`);
      await res.arrayBuffer();
    }
    const patient = { authorization: `Bearer ${patientToken}` };
    const system = { authorization: `Bearer ${systemToken}` };
    const read = `${ctx.baseUrl}/fhir/Patient/roster-growth`;
    const search = `${ctx.baseUrl}/fhir/Observation?patient=roster-growth&category=${cat}&date=ge2000-01-01`;
    const results = [
      await paired(ctx, 'FHIR read Patient/{id} (patient token)', read, patient),
      await paired(ctx, 'FHIR read Patient/{id} (system token)', read, system),
      await paired(ctx, 'FHIR Observation?patient&category&date (patient token)', search, patient),
      await paired(ctx, 'FHIR Patient?_count=10 (system token)', `${ctx.baseUrl}/fhir/Patient?_count=10`, system),
    ];
    // Latency without queueing: with 10 connections kept busy, a request mostly waits for the 9
    // ahead of it (the trivial route's own p99 is several times its service time). One connection
    // shows a request's own latency; a steady offered load below capacity shows it under traffic.
    results.push(await ctx.http('FHIR read Patient/{id}, 1 connection', read, { headers: patient, connections: 1 }));
    results.push(await ctx.http('FHIR Observation?patient&category&date, 1 connection', search, { headers: patient, connections: 1 }));
    const offered = Number(process.env.BENCH_FHIR_RATE ?? 100);
    const steadyResults: BenchResult[] = [];
    for (const [label, url, headers] of [
      ['trivial Next route', `${ctx.baseUrl}/api/bench/trivial`, {}],
      ['FHIR read Patient/{id}', read, patient],
      ['FHIR Observation?patient&category&date', search, patient],
    ] as const) {
      steadyResults.push(await steady(`${label} at a steady ${offered} req/s`, url, headers, offered));
    }
    results.push(...steadyResults);
    const [readResult, , searchResult] = results;
    const oneConnection = results.find((r) => r.name === 'FHIR Observation?patient&category&date, 1 connection')!;
    console.log(
      `fhir goals: read ${((readResult!.rate / readResult!.pairedBaseline!.rate) * 100).toFixed(0)}% of the trivial route (goal ≥ 70%); ` +
        `search p99 ${oneConnection.p99} ms at 1 connection, ${steadyResults[2]!.p99.toFixed(1)} ms at a steady ${offered} req/s (trivial route ${steadyResults[0]!.p99.toFixed(1)} ms), ` +
        `${searchResult!.p99} ms with 10 connections kept busy (goal < 25 ms)`,
    );
    return results;
  },
};

// Audit writes in-process, as concurrent request handlers make them: one Prisma create per record
// (each its own write transaction) against the group-commit queue (one multi-row INSERT per batch),
// on a fresh SQLite file and, when the server binaries are installed, PostgreSQL.
const auditWrites: Benchmark = {
  name: 'audit',
  async run(ctx) {
    const { createDb } = await import('../lib/db');
    const { createAuditQueue } = await import('../lib/audit/record');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { randomUUID } = await import('node:crypto');
    // @ts-expect-error plain ESM helper without types
    const { applyMigrations, databaseTarget } = await import('../scripts/lib/schema-engine.mjs');
    // @ts-expect-error plain ESM helper without types
    const { findPgBin, startCluster } = await import('../scripts/lib/pg-cluster.mjs');
    const concurrency = Number(process.env.BENCH_AUDIT_CONCURRENCY ?? 64);
    const row = () => ({
      id: randomUUID(),
      sandboxId: 'bench',
      at: new Date(),
      kind: 'fhir',
      method: 'GET',
      endpoint: '/fhir/Patient/roster-growth',
      resourceType: 'Patient',
      resourceId: 'roster-growth',
      clientId: 'bench-client',
      userId: null,
      patientId: 'roster-growth',
      launchId: null,
      scopes: 'patient/*.rs',
      status: 200,
      errorCode: null,
      detail: 'read',
      resultCount: 1,
      latencyMs: 3.2,
      ip: '127.0.0.1',
      userAgent: 'autocannon',
      origin: null,
      flags: null,
    });
    const targets: { kind: string; url: string; stop?: () => Promise<void> }[] = [
      { kind: 'SQLite', url: `file:${join(mkdtempSync(join(tmpdir(), 'sandbox-audit-bench-')), 'audit.db')}` },
    ];
    if (findPgBin()) {
      const cluster = await startCluster();
      targets.push({ kind: 'PostgreSQL', url: cluster.url, stop: cluster.stop });
    }
    const results: BenchResult[] = [];
    for (const target of targets) {
      try {
        await applyMigrations(databaseTarget(target.url));
        const { db } = createDb(target.url);
        results.push(
          await ctx.inProcess(
            `audit: one INSERT per record, ${concurrency} concurrent (${target.kind})`,
            () => db.auditRecord.create({ data: row() }),
            concurrency,
          ),
        );
        const queue = createAuditQueue(() => db);
        const r = await ctx.inProcess(`audit: group commit, ${concurrency} concurrent (${target.kind})`, () => queue.enqueue(row()), concurrency);
        console.log(
          `audit group commit ${target.kind}: ${queue.stats.written} records in ${queue.stats.batches} batches (${(queue.stats.written / Math.max(1, queue.stats.batches)).toFixed(1)} per batch)`,
        );
        results.push(r);
        await db.$disconnect();
      } finally {
        await target.stop?.();
      }
    }
    return results.map((r) => ({ ...r, unit: 'records/s' }));
  },
};

// Issue 5 "Performance": generation alone, and generation + storage with every search index row
// into SQLite and PostgreSQL. The baselines come from the same run: indexing with FHIRPath alone,
// and seeding with FHIRPath on one thread (what seeding did before compiled search paths and the
// worker pipeline). BENCH_SEED_PATIENTS patients (default 200); BENCH_SEED_RSS_PATIENTS=N also runs
// the seed CLI for N patients into SQLite and reports its peak resident memory (Linux).
const seeding: Benchmark = {
  name: 'seed',
  async run() {
    const { generateDataset } = await import('../lib/synthetic');
    const { indexResource } = await import('../lib/fhir/indexer');
    const { warmDefinitions } = await import('../lib/fhir/definitions');
    const { createBulkWriter } = await import('../lib/fhir/bulk-writer');
    const { streamSeedBatches } = await import('../lib/seed/pipeline');
    const { seedDataset } = await import('../lib/seed/seed-dataset');
    const { existsSync, mkdtempSync, readFileSync, rmSync } = await import('node:fs');
    const { spawn } = await import('node:child_process');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    // @ts-expect-error plain ESM helper without types
    const { applyMigrations, databaseTarget } = await import('../scripts/lib/schema-engine.mjs');
    // @ts-expect-error plain ESM helper without types
    const { findPgBin, startCluster } = await import('../scripts/lib/pg-cluster.mjs');
    const n = Number(process.env.BENCH_SEED_PATIENTS ?? 200);
    const dataset = { seed: 7, patients: n, anchorDate: '2026-01-01', includeRoster: false };
    const results: BenchResult[] = [];
    const result = (name: string, unit: string, rate: number, total: number): BenchResult => ({ name, unit, rate, p50: 0, p99: 0, errors: 0, total });
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-seed-bench-'));

    // Generation alone, one patient at a time; resources per patient (the Patient included).
    warmDefinitions();
    const sizes: number[] = [];
    let t0 = performance.now();
    for (const item of generateDataset(dataset)) if (item.kind === 'patient') sizes.push(1 + item.record.resources.length);
    const genSeconds = (performance.now() - t0) / 1000;
    sizes.sort((a, b) => a - b);
    const median = sizes[Math.floor(sizes.length / 2)] ?? 0;
    results.push(
      result(
        `generate ${n} patients in memory (median ${median} resources/patient)`,
        'patients/s',
        n / genSeconds,
        sizes.reduce((a, b) => a + b, 0),
      ),
    );

    // Search indexing alone, compiled paths against FHIRPath, on the first 50 patients' resources.
    const sample: Parameters<typeof indexResource>[0][] = [];
    for (const item of generateDataset({ ...dataset, patients: Math.min(n, 50) }))
      sample.push(...(item.kind === 'patient' ? [item.record.patient, ...item.record.resources] : item.resources));
    const indexRate = (fhirPathOnly: boolean) => {
      const t = performance.now();
      for (const r of sample) indexResource(r, { fhirPathOnly });
      return sample.length / ((performance.now() - t) / 1000);
    };
    const fhirPathRate = indexRate(true);
    const compiledRate = indexRate(false);
    results.push(result('index search rows with FHIRPath (baseline)', 'resources/s', fhirPathRate, sample.length));
    results.push(result('index search rows, compiled paths', 'resources/s', compiledRate, sample.length));
    console.log(`seed: indexing ${(compiledRate / fhirPathRate).toFixed(1)}× the FHIRPath baseline`);

    const targets: { kind: string; urls: () => Promise<[string, string]>; stop?: () => Promise<void> }[] = [
      { kind: 'SQLite', urls: async () => [`file:${join(dir, 'baseline.db')}`, `file:${join(dir, 'seed.db')}`] },
    ];
    if (findPgBin()) {
      const cluster = await startCluster();
      targets.push({
        kind: 'PostgreSQL',
        urls: async () => [await cluster.createDatabase('seed_baseline'), await cluster.createDatabase('seed_pipeline')],
        stop: cluster.stop,
      });
    } else console.log('seed: PostgreSQL skipped (no server binaries)');
    try {
      for (const target of targets) {
        const [baselineUrl, url] = await target.urls();
        await applyMigrations(databaseTarget(baselineUrl));
        await applyMigrations(databaseTarget(url));
        // Baseline: FHIRPath indexing, generation, indexing and writes on one thread.
        const writer = createBulkWriter(baselineUrl);
        let stored = 0;
        t0 = performance.now();
        try {
          for await (const batch of streamSeedBatches({ sandboxId: 'bench', dataset, fhirPathOnly: true }, { threads: 'inline' }))
            stored += await writer.writeBatch(batch);
        } finally {
          await writer.close();
        }
        const baseline = stored / ((performance.now() - t0) / 1000);
        results.push(result(`generate + store with index rows, FHIRPath on one thread (${target.kind}, baseline)`, 'resources/s', baseline, stored));
        // What `npm run seed` does.
        const summary = await seedDataset({
          databaseUrl: url,
          sandboxId: 'bench',
          patients: n,
          seed: 7,
          anchorDate: '2026-01-01',
          includeRoster: false,
          reset: false,
          ifEmpty: false,
        });
        const rate = summary.resources / summary.seconds;
        results.push(result(`generate + store with index rows (${target.kind})`, 'resources/s', rate, summary.resources));
        const perThousand = (1000 * sizes.reduce((a, b) => a + b, 0)) / n / rate;
        console.log(
          `seed ${target.kind}: ${n} patients, ${summary.resources} resources in ${summary.seconds.toFixed(1)} s, ${(rate / baseline).toFixed(2)}× the baseline; 1,000 patients ≈ ${perThousand.toFixed(0)} s (baseline ≈ ${((perThousand * rate) / baseline).toFixed(0)} s)`,
        );
      }
    } finally {
      for (const target of targets) await target.stop?.();
    }

    // Peak memory of a large seed, measured on the CLI in a process of its own.
    const rssPatients = Number(process.env.BENCH_SEED_RSS_PATIENTS ?? 0);
    if (rssPatients > 0 && existsSync('/proc/self/status')) {
      const url = `file:${join(dir, 'rss.db')}`;
      await applyMigrations(databaseTarget(url));
      const started = performance.now();
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'prisma/seed.ts', '--patients', String(rssPatients), '--seed', '7', '--anchor-date', '2026-01-01', '--quiet'],
        { cwd: join(import.meta.dirname, '..'), env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      let peakKb = 0;
      const poll = setInterval(() => {
        try {
          peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0));
        } catch {
          // The process has ended.
        }
      }, 200);
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      clearInterval(poll);
      const resources = Number(/seeded \d+ patients, (\d+) resources/.exec(out)?.[1] ?? 0);
      console.log(
        `seed CLI, ${rssPatients} patients into SQLite: exit ${code}, ${resources} resources in ${((performance.now() - started) / 1000).toFixed(0)} s, peak RSS ${(peakKb / 1024).toFixed(0)} MiB`,
      );
      results.push({ ...result(`seed CLI ${rssPatients} patients into SQLite: peak RSS`, 'MiB', peakKb / 1024, resources), errors: code === 0 ? 0 : 1 });
    }
    rmSync(dir, { recursive: true, force: true });
    return results;
  },
};

const LAUNCH_RUNS = 10;
const ORDINARY_NAME = /^[\p{L} .'’-]+$/u;

// Issue 6 "Performance": Launch click → the sample app's first rendered FHIR data (the patient's name,
// read with fhirclient), provider EHR launch in the EHR frame with skip sign-in and skip consent, in
// Chromium. Timed from Node around the click, since the launch crosses several navigations and an
// iframe; one unmeasured warm-up launch first, then the median of 10.
const launchTime: Benchmark = {
  name: 'launch',
  async run(ctx) {
    const { chromium } = await import('playwright-core');
    // @ts-expect-error plain ESM helper without types
    const { findChromium } = await import('../scripts/lib/chromium.mjs');
    const found = findChromium() as { path: string | null } | null;
    const browser = await chromium.launch({
      executablePath: found ? (found.path ?? undefined) : '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const timings: number[] = [];
    let errors = 0;
    try {
      for (let i = 0; i <= LAUNCH_RUNS; i++) {
        const context = await browser.newContext();
        const page = await context.newPage();
        try {
          await page.goto(`${ctx.baseUrl}/`);
          const picks = page.locator('.pick');
          await picks.first().waitFor();
          const names = await picks.locator('.patient-name').allTextContents();
          const index = names.findIndex((n) => ORDINARY_NAME.test(n.trim()));
          if (index < 0) throw new Error('no patient with an ordinary name is listed');
          await picks.nth(index).click();
          await page.getByTestId('patient-preview').waitFor();
          await page.getByLabel('Skip sign-in (the user above is already signed in)').check();
          await page.getByLabel('Skip consent (approve all requested scopes)').check();
          const launch = page.getByRole('button', { name: 'Launch', exact: true });
          const started = performance.now();
          await launch.click();
          await page.frameLocator('iframe.ehr-app').getByTestId('sample-patient-name').waitFor({ timeout: 30_000 });
          const ms = performance.now() - started;
          if (i > 0) timings.push(ms);
        } catch (err) {
          if (i > 0) errors++;
          console.log(`launch ${i}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
        } finally {
          await context.close();
        }
      }
    } finally {
      await browser.close();
    }
    console.log(`launch → first FHIR data, ms (${timings.length} runs): ${timings.map((t) => t.toFixed(0)).join(', ')}`);
    const sorted = [...timings].sort((a, b) => a - b);
    const mid = sorted.length / 2;
    const median = sorted.length === 0 ? 0 : sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    const max = sorted.at(-1) ?? 0;
    return [
      {
        name: 'launch click → first FHIR data (Chromium, EHR launch)',
        unit: 'ms',
        rate: median ? 1000 / median : 0,
        p50: median,
        p99: max,
        errors,
        total: timings.length,
      },
    ];
  },
};

/** Benchmarks beyond the baselines and the store; each capability adds its own here. */
export const benchmarks: Benchmark[] = [oauth, fhir, auditWrites, seeding, launchTime, exportBench, workshopBench];
