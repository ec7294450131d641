// `npm run bench -- export`: a system-level Bulk Data export of the whole benchmark dataset (1,000
// patients, about 200,000 resources), against the least work it could be in the same run: reading
// the same rows' JSON from the database and writing it to one file. Also the server's peak RSS
// during the export, and the p99 of FHIR reads at a steady rate with and without an export running.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { clientAssertion, registerBenchBackend } from './assertions';
import { steady } from './suites';
import type { Benchmark, BenchResult } from './types';

function rssMb(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
}

/** The processes a process started (the export process). */
function childrenOf(pid: number | null): number[] {
  if (pid === null) return [];
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** RSS of the processes a process started (the export process), MB. */
function childrenRssMb(pid: number | null): number {
  return childrenOf(pid).reduce((n, c) => n + (rssMb(c) ?? 0), 0);
}

/** USER_HZ: the unit of /proc/<pid>/stat times on Linux. */
const clockTicks = 100;

/** CPU time (user + system, all threads) of a process so far, seconds; null once it is gone. */
function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return null;
  }
}

/** The least work: every current resource's JSON, read in one query and written to one file. */
function leastWork(databaseUrl: string): { seconds: number; cpuSeconds: number; rows: number } {
  const dir = mkdtempSync(join(tmpdir(), 'bench-export-'));
  const db = new Database(databaseUrl.slice('file:'.length), { readonly: true });
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const fd = openSync(join(dir, 'all.ndjson'), 'w');
  let rows = 0;
  let buffer: string[] = [];
  let bytes = 0;
  for (const row of db.prepare(`SELECT "content" FROM "Resource" WHERE "sandboxId" = 'default' AND "deleted" = 0`).iterate() as Iterable<{ content: string }>) {
    buffer.push(row.content);
    bytes += row.content.length;
    rows++;
    if (bytes > 1 << 20) {
      writeSync(fd, `${buffer.join('\n')}\n`);
      buffer = [];
      bytes = 0;
    }
  }
  if (buffer.length) writeSync(fd, `${buffer.join('\n')}\n`);
  closeSync(fd);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, rows };
}

export const exportBench: Benchmark = {
  name: 'export',
  async run(ctx) {
    if (!ctx.databaseUrl.startsWith('file:')) throw new Error('the export benchmark runs on the SQLite benchmark database');
    const tokenUrl = `${ctx.baseUrl}/oauth/token`;
    const backend = await registerBenchBackend('bench bulk export', 'bench-export');
    const exchange = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'system/*.rs',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await clientAssertion(backend, tokenUrl),
      }),
    });
    const token = ((await exchange.json()) as { access_token: string }).access_token;
    const auth = { authorization: `Bearer ${token}` };
    const read = `${ctx.baseUrl}/fhir/Patient/roster-growth`;
    for (let i = 0; i < 20; i++) await (await fetch(read, { headers: auth })).arrayBuffer();
    const pid = ctx.serverPid();
    const rate = Number(process.env.BENCH_EXPORT_READ_RATE ?? 50);

    const least = leastWork(ctx.databaseUrl);
    const quiet = await steady(`FHIR read Patient/{id} at ${rate} req/s, no export`, read, auth, rate);

    const rssBefore = rssMb(pid) ?? 0;
    let peak = rssBefore;
    let childPeak = 0;
    // The export process's CPU time, last seen before it exits: on a shared machine, wall time
    // moves with everyone's load (and the export process runs niced), CPU time hardly does.
    const childCpu = new Map<number, number>();
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMb(pid) ?? 0);
      childPeak = Math.max(childPeak, childrenRssMb(pid));
      for (const c of childrenOf(pid)) {
        const cpu = cpuSeconds(c);
        if (cpu !== null) childCpu.set(c, cpu);
      }
    }, 50);
    const kick = await fetch(`${ctx.baseUrl}/fhir/$export`, { headers: { ...auth, accept: 'application/fhir+json', prefer: 'respond-async' } });
    if (kick.status !== 202) throw new Error(`kick-off answered ${kick.status}: ${await kick.text()}`);
    const statusUrl = kick.headers.get('content-location')!;
    const busy = await steady(`FHIR read Patient/{id} at ${rate} req/s, during an export`, read, auth, rate);
    let manifest: { output: { url: string; count: number }[] } | null = null;
    while (!manifest) {
      const res = await fetch(statusUrl, { headers: auth });
      if (res.status === 200) manifest = (await res.json()) as { output: { url: string; count: number }[] };
      else if (res.status === 202) await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after') ?? 1) * 1000));
      else throw new Error(`status answered ${res.status}: ${await res.text()}`);
    }
    clearInterval(sampler);
    // The job's own timestamps: kick-off to completion, without the polling interval.
    const sqlite = new Database(ctx.databaseUrl.slice('file:'.length), { readonly: true });
    const job = sqlite.prepare(`SELECT "createdAt", "finishedAt" FROM "BulkExportJob" WHERE "id" = ?`).get(statusUrl.split('/').pop()) as {
      createdAt: string | number;
      finishedAt: string | number;
    };
    sqlite.close();
    const exportSeconds = (new Date(job.finishedAt).getTime() - new Date(job.createdAt).getTime()) / 1000;
    const exported = manifest.output.reduce((n, o) => n + o.count, 0);

    const downloadStarted = performance.now();
    let lines = 0;
    for (const o of manifest.output) {
      const res = await fetch(o.url, { headers: auth });
      const reader = res.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        for (const b of value) if (b === 10) lines++;
      }
    }
    const downloadSeconds = (performance.now() - downloadStarted) / 1000;
    await fetch(statusUrl, { method: 'DELETE', headers: auth });

    const result = (name: string, unit: string, r: number, total: number, p99 = 0): BenchResult => ({ name, unit, rate: r, p50: 0, p99, errors: 0, total });
    const ratio = exported / exportSeconds / (least.rows / least.seconds);
    const exportCpu = [...childCpu.values()].reduce((a, b) => a + b, 0);
    console.log(
      `export goals: ${exported} resources exported in ${exportSeconds.toFixed(1)} s = ${(ratio * 100).toFixed(0)}% of the least work (${least.rows} rows in ${least.seconds.toFixed(1)} s; goal ≥ 50%); ` +
        `server RSS ${rssBefore.toFixed(0)} MB before, ${peak.toFixed(0)} MB peak during the export, export process ${childPeak.toFixed(0)} MB peak (goal < 300 MB); ` +
        `read p99 ${busy.p99.toFixed(1)} ms during the export vs ${quiet.p99.toFixed(1)} ms without (goal ≤ 2×); downloaded ${lines} lines in ${downloadSeconds.toFixed(1)} s; ` +
        `CPU time: export process ${exportCpu.toFixed(2)} s vs least work ${least.cpuSeconds.toFixed(2)} s (${((least.cpuSeconds / exportCpu) * 100).toFixed(0)}% as efficient)`,
    );
    if (lines !== exported) console.log(`export: downloaded ${lines} lines but the manifest counts ${exported}`);
    return [
      result('least work: rows JSON → one file (in-process)', 'resources/s', least.rows / least.seconds, least.rows),
      result('bulk export, kick-off → manifest (system level)', 'resources/s', exported / exportSeconds, exported),
      result('bulk export files downloaded', 'resources/s', lines / downloadSeconds, lines),
      result('server peak RSS during the export (MB)', 'MB', peak, 1),
      result('export process peak RSS (MB)', 'MB', childPeak, 1),
      result('export process CPU time (s)', 's', exportCpu, 1),
      result('least work CPU time (s)', 's', least.cpuSeconds, 1),
      quiet,
      busy,
    ];
  },
};
