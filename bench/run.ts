// npm run bench [-- name ...]: named benchmarks against a production build on loopback, always
// with two baselines measured in the same run (a trivial Next.js route handler and a bare Node
// http server returning a constant). Prints a table and writes bench/results/<time>.json.
// NEXT_DIST_DIR names the build (default .next-bench, built with the benchmark route when missing);
// BENCH_DATABASE_TEMPLATE=<file.db> starts from a copy of a seeded SQLite database instead of
// seeding BENCH_PATIENTS (1,000) patients; BENCH_SECONDS per benchmark; BENCH_CPU_PROFILE=<dir> profiles
// the server (node --cpu-prof; summarize with bench/cpu-profile.ts).
import { createServer } from 'node:http';
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import autocannon from 'autocannon';
import type { Patient, Observation } from '@medplum/fhirtypes';
import { benchmarks as suiteBenchmarks } from './suites';
import { leastWork, rss } from './least-work';
import { WORKSHOP_BENCH_CONSOLE } from './workshop';
import type { BenchContext, BenchResult } from './types';
// @ts-expect-error plain ESM helper without types
import { prepareDatabase, startServer, freePort } from '../scripts/lib/test-server.mjs';
// @ts-expect-error plain ESM helper without types
import { findPgBin, startCluster } from '../scripts/lib/pg-cluster.mjs';
// @ts-expect-error plain ESM helper without types
import { applyMigrations, databaseTarget } from '../scripts/lib/schema-engine.mjs';

const root = join(import.meta.dirname, '..');
const duration = Number(process.env.BENCH_SECONDS ?? 5);
const only = process.argv.slice(2);
const extraBenchmarks = [...suiteBenchmarks, leastWork, rss];

// CPU time of the process serving a port (user + system, all threads; Linux /proc), in ms. On a
// machine shared with other work, req/s and latency move with the load, but the server's CPU time
// per request hardly does: it is the figure to compare between runs, and the ratio of two of them
// is the req/s ratio the two requests would have on a server bound by its CPU.
const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
const serverPids = new Map<string, number | null>();

function serverPid(url: string): number | null {
  const port = new URL(url).port;
  if (!serverPids.has(port)) {
    let pid: number | null = null;
    try {
      const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
      pid = Number(/pid=(\d+)/.exec(out)?.[1]) || null;
    } catch {
      pid = null;
    }
    serverPids.set(port, pid);
  }
  return serverPids.get(port) ?? null;
}

function cpuMs(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  } catch {
    return null;
  }
}

async function http(name: string, url: string, opts: Partial<autocannon.Options> = {}, { warmUp = true }: { warmUp?: boolean } = {}): Promise<BenchResult> {
  // Warm-up (not measured) of requests that can be repeated: the first requests of a route load its
  // modules and data (the FHIR definitions, for one), which must not be charged to the benchmark.
  // Benchmarks with single-use request bodies (codes, refresh tokens, assertions) warm up themselves.
  if (warmUp && !opts.requests) await autocannon({ url, connections: 10, ...opts, duration: 1 });
  const pid = serverPid(url);
  const before = cpuMs(pid);
  // A run of a fixed number of requests ends at autocannon's next sample tick (every second by
  // default): ticks every 10 ms make its elapsed time, and so its rate, exact to 10 ms.
  const r = await autocannon({ url, duration, connections: 10, ...(opts.amount ? { sampleInt: 10 } : {}), ...opts });
  const after = cpuMs(pid);
  const cpuMsPerRequest = before !== null && after !== null && r.requests.total > 0 ? (after - before) / r.requests.total : undefined;
  return {
    name,
    unit: 'req/s',
    // Completed requests over the run's elapsed time: autocannon's own average is per sample tick,
    // too coarse for the runs that send a fixed number of single-use requests in 1–3 s.
    rate: r.duration > 0 ? r.requests.total / r.duration : r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.non2xx,
    total: r.requests.total,
    ...(cpuMsPerRequest === undefined ? {} : { cpuMsPerRequest }),
  };
}

/** Runs fn with `concurrency` parallel loops for `seconds`; reports ops/s and latency. */
async function inProcess(name: string, fn: (i: number) => Promise<unknown>, concurrency = 4, seconds = duration): Promise<BenchResult> {
  const latencies: number[] = [];
  let errors = 0;
  let i = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await fn(i++);
        } catch {
          errors++;
        }
        latencies.push(performance.now() - t);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return { name, unit: 'ops/s', rate: latencies.length / ((performance.now() - started) / 1000), p50: q(0.5), p99: q(0.99), errors, total: latencies.length };
}

async function storeBenchmarks(kind: string, databaseUrl: string): Promise<BenchResult[]> {
  const { createDb } = await import('../lib/db');
  const { ResourceStore } = await import('../lib/fhir/store');
  const { db } = createDb(databaseUrl);
  const store = new ResourceStore(db);
  const ids: string[] = [];
  const write = await inProcess(`store write (${kind})`, async (i) => {
    const p = await store.create('bench', {
      resourceType: 'Patient',
      name: [{ family: `Bench${i}`, given: ['Load'] }],
      birthDate: '1980-01-01',
      gender: 'female',
    } as Patient);
    await store.create('bench', {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: `Patient/${p.resource.id}` },
      effectiveDateTime: '2024-01-01',
      valueQuantity: { value: 70, unit: '/min' },
    } as Observation);
    ids.push(p.resource.id!);
  });
  write.rate *= 2; // two resources per operation
  write.unit = 'resources/s';
  const read = await inProcess(`store read (${kind})`, (i) => store.read('bench', 'Patient', ids[i % ids.length]!));
  await db.$disconnect();
  return [write, read];
}

function table(results: BenchResult[], node: BenchResult, next: BenchResult): string {
  const cpu = (r: BenchResult) => (r.cpuMsPerRequest === undefined ? '' : r.cpuMsPerRequest.toFixed(2));
  // A benchmark measured in rounds with the trivial route beside it compares against those rounds (marked *).
  const base = (r: BenchResult) => r.pairedBaseline ?? next;
  const mark = (r: BenchResult) => (r.pairedBaseline ? '*' : '');
  const cpuRatio = (r: BenchResult) => {
    const b = base(r).cpuMsPerRequest;
    return r.cpuMsPerRequest && b ? `${((b / r.cpuMsPerRequest) * 100).toFixed(0)}%${mark(r)}` : '';
  };
  const rows = results.map((r) => [
    r.name,
    `${r.rate.toFixed(0)} ${r.unit}`,
    r.p50.toFixed(2),
    r.p99.toFixed(2),
    `${((r.rate / base(r).rate) * 100).toFixed(0)}%${mark(r)}`,
    `${((r.rate / node.rate) * 100).toFixed(1)}%`,
    cpu(r),
    cpuRatio(r),
    String(r.errors),
  ]);
  const head = ['benchmark', 'rate', 'p50 ms', 'p99 ms', 'vs Next route', 'vs bare Node', 'server CPU ms/req', 'CPU vs Next route', 'errors'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  // The server below runs `next start` on the build in NEXT_DIST_DIR: the benchmark's own build
  // (default .next-bench), the only one with the trivial baseline route (SANDBOX_BENCH_ROUTES=1).
  process.env.NEXT_DIST_DIR ??= '.next-bench';
  process.env.SANDBOX_BENCH_ROUTES = '1';
  const dist = join(root, process.env.NEXT_DIST_DIR);
  if (!existsSync(join(dist, 'BUILD_ID'))) execFileSync(join(root, 'node_modules', '.bin', 'next'), ['build'], { cwd: root, stdio: 'inherit' });
  if (!existsSync(join(dist, 'server', 'app', 'api', 'bench', 'trivial', 'route.js'))) {
    throw new Error(`${process.env.NEXT_DIST_DIR} has no benchmark route: build it with SANDBOX_BENCH_ROUTES=1 (or remove it and let npm run bench build it)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-bench-'));
  // BENCH_DB=postgresql: the server and the in-process helpers use a database on a throwaway PostgreSQL cluster.
  const cluster = process.env.BENCH_DB === 'postgresql' ? await startCluster() : null;
  const databaseUrl: string = cluster ? await cluster.createDatabase('bench') : `file:${join(dir, 'bench.db')}`;
  // Benchmarks that prepare data in-process (codes, tokens) write to the server's database.
  process.env.DATABASE_URL = databaseUrl;
  const template = process.env.BENCH_DATABASE_TEMPLATE;
  if (template && !cluster) {
    // A copy of a database seeded before (seeding 1,000 patients takes minutes), migrated if needed.
    copyFileSync(template, join(dir, 'bench.db'));
    // Written to disk now: else the server's first WAL checkpoint, whose fsync flushes the whole
    // fresh copy, stalls it for a good part of a second in the middle of a benchmark.
    const fd = openSync(join(dir, 'bench.db'), 'r+');
    fsyncSync(fd);
    closeSync(fd);
    prepareDatabase(databaseUrl);
  } else {
    console.log(`seeding ${process.env.BENCH_PATIENTS ?? '1000'} patients for the benchmark database…`);
    prepareDatabase(databaseUrl, { SEED_PATIENTS: process.env.BENCH_PATIENTS ?? '1000' });
  }
  // Rate limits stay on (their counting statement is part of every request's cost) but never throttle a benchmark.
  const limits = Object.fromEntries(['RATE_LIMIT_CLIENT', 'RATE_LIMIT_PATIENT', 'RATE_LIMIT_REGISTER_IP'].map((name) => [name, '1000000000']));
  // The workshop benchmark drives /api/workshops with this console account.
  const server = await startServer({
    databaseUrl,
    env: {
      ...limits,
      CONSOLE_USER: WORKSHOP_BENCH_CONSOLE.user,
      CONSOLE_PASSWORD: WORKSHOP_BENCH_CONSOLE.password,
    },
    // BENCH_CPU_PROFILE=<dir>: the server writes its CPU profile there when it stops (bench/cpu-profile.ts reads it).
    nodeArgs: process.env.BENCH_CPU_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE}`] : [],
  });
  const bare = createServer((_req, res) => res.end('ok'));
  const barePort: number = await freePort();
  await new Promise<void>((r) => bare.listen(barePort, '127.0.0.1', r));

  const results: BenchResult[] = [];
  try {
    const node = await http('baseline: bare Node http', `http://127.0.0.1:${barePort}/`);
    const next = await http('baseline: trivial Next route', `${server.url}/api/bench/trivial`);
    results.push(node, next);
    const want = (name: string) => !only.length || only.some((o) => name.includes(o));

    if (want('store')) {
      const sqliteUrl = `file:${join(dir, 'store.db')}`;
      await applyMigrations(databaseTarget(sqliteUrl));
      results.push(...(await storeBenchmarks('SQLite', sqliteUrl)));
      if (findPgBin()) {
        const cluster = await startCluster();
        try {
          await applyMigrations(databaseTarget(cluster.url));
          results.push(...(await storeBenchmarks('PostgreSQL', cluster.url)));
        } finally {
          await cluster.stop();
        }
      } else console.log('PostgreSQL store benchmark skipped: no server binaries');
    }
    const ctx: BenchContext = { baseUrl: server.url, databaseUrl, http, inProcess, serverPid: () => serverPid(server.url) };
    for (const b of extraBenchmarks) if (want(b.name)) results.push(...(await b.run(ctx)));

    const out = table(results, node, next);
    console.log(`\n${out}\n`);
    if (results.some((r) => r.pairedBaseline))
      console.log('* against the trivial Next route measured in rounds alternating with that benchmark (median of the rounds)\n');
    mkdirSync(join(root, 'bench', 'results'), { recursive: true });
    const file = join(root, 'bench', 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(
      file,
      JSON.stringify({ at: new Date().toISOString(), durationSeconds: duration, results, baselines: { node: node.rate, next: next.rate } }, null, 2),
    );
    console.log(`written ${file}`);
  } finally {
    bare.close();
    await server.stop();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
