// `npm run bench -- leastwork`: every API workload against the least work that answers it
// (bench/least-work-server.ts, bare node:http + jose, no database), measured in the same run, one
// after the other: req/s, p50, p99 and server CPU per request of both, and their ratio. The sandbox
// keeps everything on: token verification, the compartment policy, rate limiting (with limits too
// high to throttle) and one audit record per request. `npm run bench -- rss`: the sandbox's resident
// memory after 1,000 and after 200,000 requests (BENCH_RSS_REQUESTS).
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK } from 'jose';
import { clientAssertion, registerBenchBackend } from './assertions';
import { errorTally, form, makeCodes } from './suites';
import type { Benchmark, BenchContext, BenchResult } from './types';

const REDIRECT_URI = 'http://127.0.0.1:9/callback';
const SCOPE = 'openid fhirUser launch/patient patient/*.rs offline_access';
const PATIENT = 'roster-growth';
const VITAL_SIGNS = 'http://terminology.hl7.org/CodeSystem/observation-category|vital-signs';

async function startLeastWork(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'least-work-server.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += String(d);
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`least-work server exited (${code})`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

async function json<T>(res: Response | Promise<Response>): Promise<T> {
  const r = await res;
  if (r.status >= 300) throw new Error(`${r.url}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

interface Pair {
  workload: string;
  least: BenchResult;
  ours: BenchResult;
}

function pairTable(pairs: Pair[], label: string): string {
  const f = (n: number | undefined, d = 2) => (n === undefined ? '' : n.toFixed(d));
  const head = [
    'workload',
    'least work req/s',
    'ours req/s',
    'ratio',
    'ours p50 ms',
    'ours p99 ms',
    'least p99 ms',
    'CPU ms/req least',
    'CPU ms/req ours',
    'CPU ratio',
    'errors',
  ];
  const rows = pairs.map((p) => [
    `${p.workload} (${label})`,
    f(p.least.rate, 0),
    f(p.ours.rate, 0),
    f(p.ours.rate / p.least.rate),
    f(p.ours.p50),
    f(p.ours.p99),
    f(p.least.p99),
    f(p.least.cpuMsPerRequest, 3),
    f(p.ours.cpuMsPerRequest, 3),
    p.least.cpuMsPerRequest && p.ours.cpuMsPerRequest ? f(p.least.cpuMsPerRequest / p.ours.cpuMsPerRequest) : '',
    `${p.least.errors}/${p.ours.errors}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export const leastWork: Benchmark = {
  name: 'leastwork',
  async run(ctx: BenchContext) {
    const { registerClient } = await import('../lib/oauth/clients');
    const label = /^postgres/.test(ctx.databaseUrl) ? 'PostgreSQL' : 'SQLite';
    const lw = await startLeastWork();
    const pairs: Pair[] = [];
    try {
      // The sandbox's clients and tokens.
      const reg = await registerClient({
        name: 'bench leastwork app',
        clientType: 'confidential-symmetric',
        tokenEndpointAuthMethod: 'client_secret_basic',
        redirectUris: [REDIRECT_URI],
        scope: SCOPE,
      });
      const clientId = reg.client.clientId;
      const secret = reg.clientSecret!;
      const basic = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
      const formHeaders = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic };
      const backend = await registerBenchBackend('bench leastwork backend', 'bench-lw');
      const ourToken = `${ctx.baseUrl}/oauth/token`;
      const exchange = async (base: string, c: { code: string; verifier: string }) =>
        json<{ access_token: string; refresh_token: string }>(
          fetch(`${base}/oauth/token`, {
            method: 'POST',
            headers: formHeaders,
            body: form({ grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, redirect_uri: REDIRECT_URI }),
          }),
        );
      const ourPatientToken = (await exchange(ctx.baseUrl, (await makeCodes(ctx, clientId, REDIRECT_URI, PATIENT, 1))[0]!)).access_token;
      const ourSystemToken = (
        await json<{ access_token: string }>(
          fetch(ourToken, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: form({
              grant_type: 'client_credentials',
              scope: 'system/*.rs',
              client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
              client_assertion: await clientAssertion(backend, ourToken),
            }),
          }),
        )
      ).access_token;

      // The least-work server holds the same data: the patient and its vital signs as the sandbox answers them.
      const patientJson = await (await fetch(`${ctx.baseUrl}/fhir/Patient/${PATIENT}`, { headers: { authorization: `Bearer ${ourSystemToken}` } })).text();
      const bundle = await json<{
        entry?: { resource: { subject?: { reference?: string }; category?: { coding?: { system?: string; code?: string }[] }[] } }[];
      }>(
        fetch(`${ctx.baseUrl}/fhir/Observation?patient=${PATIENT}&category=${encodeURIComponent(VITAL_SIGNS)}&_count=40`, {
          headers: { authorization: `Bearer ${ourSystemToken}` },
        }),
      );
      const observations = (bundle.entry ?? []).map((e) => ({
        subject: e.resource.subject?.reference ?? '',
        categories: (e.resource.category ?? []).flatMap((c) => (c.coding ?? []).map((k) => `${k.system}|${k.code}`)),
        json: JSON.stringify(e.resource),
      }));
      const { d: _private, ...backendJwk } = await exportJWK(backend.privateKey);
      await json(
        fetch(`${lw.url}/_setup`, {
          method: 'POST',
          body: JSON.stringify({
            origin: lw.url,
            clientId,
            clientSecret: secret,
            backendClientId: backend.clientId,
            backendJwk,
            patient: { id: PATIENT, json: patientJson },
            observations,
          }),
        }),
      );
      const lwToken = async (q: string) => (await json<{ access_token: string }>(fetch(`${lw.url}/_setup/token?${q}`))).access_token;
      const lwPatientToken = await lwToken(`patient=${PATIENT}&scope=${encodeURIComponent('patient/*.rs')}`);
      const lwSystemToken = await lwToken(`scope=${encodeURIComponent('system/*.rs')}`);

      // BENCH_WORKLOADS=<regular expression>: only the workloads whose name matches (to profile one).
      const filter = process.env.BENCH_WORKLOADS ? new RegExp(process.env.BENCH_WORKLOADS, 'i') : null;
      const wanted = (workload: string) => !filter || filter.test(workload);
      const get = async (workload: string, path: string, lwHeaders: Record<string, string>, ourHeaders: Record<string, string>) => {
        if (!wanted(workload)) return;
        const least = await ctx.http(`least work: ${workload}`, `${lw.url}${path}`, { headers: lwHeaders });
        const ours = await ctx.http(`${workload} (${label})`, `${ctx.baseUrl}${path}`, { headers: ourHeaders });
        pairs.push({ workload, least, ours });
      };
      const search = `/fhir/Observation?patient=${PATIENT}&category=${encodeURIComponent(VITAL_SIGNS)}&_count=20`;
      await get('GET /fhir/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration', {}, {});
      await get('GET /fhir/Patient without a token (401)', '/fhir/Patient', {}, {});
      await get(
        'GET /fhir/Patient/{id} (system token)',
        `/fhir/Patient/${PATIENT}`,
        { authorization: `Bearer ${lwSystemToken}` },
        { authorization: `Bearer ${ourSystemToken}` },
      );
      await get(
        'GET /fhir/Observation?patient&category&_count=20 (patient token)',
        search,
        { authorization: `Bearer ${lwPatientToken}` },
        { authorization: `Bearer ${ourPatientToken}` },
      );
      // The same search with a different statement each request (a `_lastUpdated` bound that every
      // row passes, one second later each time): no search result of an earlier request is reused
      // (lib/fhir/search/execute.ts keeps results per statement), so this is the search's whole cost.
      {
        const workload = 'GET /fhir/Observation?patient&category&_count=20, a new query each time (patient token)';
        if (wanted(workload)) {
          const distinct = (name: string, url: string, headers: Record<string, string>) => {
            let i = 0;
            return ctx.http(name, url, {
              headers,
              requests: [
                {
                  method: 'GET',
                  setupRequest: (req) => ({ ...req, path: `${search}&_lastUpdated=gt${new Date(Date.UTC(1970, 0, 1) + 1000 * i++).toISOString()}` }),
                },
              ],
            });
          };
          const least = await distinct(`least work: ${workload}`, lw.url, { authorization: `Bearer ${lwPatientToken}` });
          const ours = await distinct(`${workload} (${label})`, ctx.baseUrl, { authorization: `Bearer ${ourPatientToken}` });
          pairs.push({ workload, least, ours });
        }
      }

      const seconds = Number(process.env.BENCH_SECONDS ?? 5);
      const once = async (workload: string, bodies: { lw: string[]; ours: string[] }, headers: Record<string, string>, path: string) => {
        if (!wanted(workload)) return;
        const run = async (name: string, url: string, list: string[]) => {
          let i = 0;
          const tally = errorTally();
          const r = await ctx.http(
            name,
            url,
            {
              amount: list.length,
              duration: seconds,
              requests: [
                {
                  method: 'POST',
                  headers,
                  setupRequest: (req) => ({ ...req, body: list[i++ % list.length]! }),
                  onResponse: (status, body) => tally.add(status, body),
                },
              ],
            },
            { warmUp: false },
          );
          tally.print(name);
          return r;
        };
        const least = await run(`least work: ${workload}`, `${lw.url}${path}`, bodies.lw);
        const ours = await run(`${workload} (${label})`, `${ctx.baseUrl}${path}`, bodies.ours);
        pairs.push({ workload, least, ours });
      };

      // client_credentials with a fresh ES384 assertion per request (each jti single-use).
      const n = wanted('client_credentials (fresh ES384 assertion)') ? Number(process.env.BENCH_ASSERTIONS ?? 6000) : 0;
      const expiresAt = Math.floor(Date.now() / 1000) + 290;
      const cc = (assertion: string) =>
        form({
          grant_type: 'client_credentials',
          scope: 'system/Patient.rs',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        });
      const ccBodies = { lw: [] as string[], ours: [] as string[] };
      for (let i = 0; i < n; i++) {
        ccBodies.lw.push(cc(await clientAssertion(backend, `${lw.url}/oauth/token`, expiresAt)));
        ccBodies.ours.push(cc(await clientAssertion(backend, ourToken, expiresAt)));
      }
      // Warm-up of both with assertions of their own.
      for (let w = 0; w < 20; w++) {
        await (
          await fetch(`${lw.url}/oauth/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: cc(await clientAssertion(backend, `${lw.url}/oauth/token`, expiresAt)),
          })
        ).arrayBuffer();
        await (
          await fetch(ourToken, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: cc(await clientAssertion(backend, ourToken, expiresAt)),
          })
        ).arrayBuffer();
      }
      await once('client_credentials (fresh ES384 assertion)', ccBodies, { 'content-type': 'application/x-www-form-urlencoded' }, '/oauth/token');

      // Authorization-code exchange (PKCE, id_token, refresh token), then refresh with rotation.
      const exchangeName = 'authorization_code + PKCE + id_token';
      const codeCount = wanted(exchangeName) || wanted('refresh_token (rotation)') ? Number(process.env.BENCH_CODES ?? 1500) : 0;
      const ourCodes = await makeCodes(ctx, clientId, REDIRECT_URI, PATIENT, codeCount);
      const lwCodes = await json<{ code: string; verifier: string }[]>(fetch(`${lw.url}/_setup/codes?n=${codeCount}`));
      const codeBody = (c: { code: string; verifier: string }) =>
        form({ grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, redirect_uri: REDIRECT_URI });
      const refresh = { lw: [] as string[], ours: [] as string[] };
      const collect = async (workload: string, base: string, codes: { code: string; verifier: string }[], into: string[]) => {
        let i = 0;
        const tally = errorTally();
        const r = await ctx.http(
          workload,
          `${base}/oauth/token`,
          {
            amount: codes.length,
            duration: seconds,
            requests: [
              {
                method: 'POST',
                headers: formHeaders,
                setupRequest: (req) => ({ ...req, body: codeBody(codes[i++ % codes.length]!) }),
                onResponse: (status, body) => {
                  if (status === 200) into.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
                  tally.add(status, body);
                },
              },
            ],
          },
          { warmUp: false },
        );
        tally.print(workload);
        return r;
      };
      if (codeCount > 0) {
        const leastExchange = await collect(`least work: ${exchangeName}`, lw.url, lwCodes, refresh.lw);
        const ourExchange = await collect(`${exchangeName} (${label})`, ctx.baseUrl, ourCodes, refresh.ours);
        if (wanted(exchangeName)) pairs.push({ workload: exchangeName, least: leastExchange, ours: ourExchange });
      }
      await once(
        'refresh_token (rotation)',
        {
          lw: refresh.lw.map((t) => form({ grant_type: 'refresh_token', refresh_token: t })),
          ours: refresh.ours.map((t) => form({ grant_type: 'refresh_token', refresh_token: t })),
        },
        formHeaders,
        '/oauth/token',
      );

      // Introspection of one active token by a confidential client.
      const introspect = async (name: string, base: string, token: string) =>
        ctx.http(name, `${base}/oauth/introspect`, { method: 'POST', headers: formHeaders, body: form({ token }) });
      if (wanted('POST /oauth/introspect')) {
        const leastIntro = await introspect('least work: POST /oauth/introspect', lw.url, lwPatientToken);
        const ourIntro = await introspect(`POST /oauth/introspect (${label})`, ctx.baseUrl, ourPatientToken);
        pairs.push({ workload: 'POST /oauth/introspect', least: leastIntro, ours: ourIntro });
      }
    } finally {
      lw.child.kill('SIGTERM');
    }
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    console.log(
      `\nleast-work ratios (${label}, 10 connections, ${process.env.BENCH_SECONDS ?? 5} s each; load average ${load}):\n${pairTable(pairs, label)}\n`,
    );
    return pairs.flatMap((p) => [p.least, p.ours]);
  },
};

interface Memory {
  rss: number;
  anon: number;
  file: number;
}

/** Resident memory of the process serving `url`, in KiB: all of it, anonymous (heaps) and file-backed (code, mapped files). */
function memoryOf(url: string): Memory {
  const port = new URL(url).port;
  // The server's pid from `ss`, as bench/run.ts finds it for CPU time.
  const pid = Number(/pid=(\d+)/.exec(execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' }))?.[1]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') + kb('RssShmem') };
}

const mib = (kb: number) => `${(kb / 1024).toFixed(0)} MiB`;

export const rss: Benchmark = {
  name: 'rss',
  async run(ctx) {
    const backend = await registerBenchBackend('bench rss backend', 'bench-rss');
    const tokenUrl = `${ctx.baseUrl}/oauth/token`;
    const token = (
      await json<{ access_token: string }>(
        fetch(tokenUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form({
            grant_type: 'client_credentials',
            scope: 'system/*.rs',
            client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            client_assertion: await clientAssertion(backend, tokenUrl),
          }),
        }),
      )
    ).access_token;
    const total = Number(process.env.BENCH_RSS_REQUESTS ?? 200_000);
    // A mix of reads, searches, 401s and discovery, in the proportion 4:2:1:1.
    const requests = [
      { path: `/fhir/Patient/${PATIENT}`, headers: { authorization: `Bearer ${token}` } },
      { path: `/fhir/Patient/${PATIENT}`, headers: { authorization: `Bearer ${token}` } },
      { path: `/fhir/Observation?patient=${PATIENT}&_count=20`, headers: { authorization: `Bearer ${token}` } },
      { path: `/fhir/Patient/${PATIENT}`, headers: { authorization: `Bearer ${token}` } },
      { path: '/fhir/Patient', headers: {} },
      { path: `/fhir/Patient/${PATIENT}`, headers: { authorization: `Bearer ${token}` } },
      { path: `/fhir/Observation?patient=${PATIENT}&_count=20`, headers: { authorization: `Bearer ${token}` } },
      { path: '/fhir/.well-known/smart-configuration', headers: {} },
    ].map((r) => ({ method: 'GET' as const, path: r.path, headers: r.headers }));
    const first = await ctx.http('rss: first 1,000 requests', ctx.baseUrl, { amount: 1000, requests, duration: 600 }, { warmUp: false });
    const points: { after: number; memory: Memory }[] = [{ after: 1000, memory: memoryOf(ctx.baseUrl) }];
    let sent = 1000;
    let errors = first.errors;
    let rate = 0;
    // In quarters, to show whether memory levels off or keeps growing.
    for (const step of [0.25, 0.5, 0.75, 1].map((f) => Math.round(total * f))) {
      if (step <= sent) continue;
      const r = await ctx.http(`rss: requests ${sent}–${step}`, ctx.baseUrl, { amount: step - sent, requests, duration: 3600 }, { warmUp: false });
      errors += r.errors;
      rate = r.rate;
      sent = step;
      points.push({ after: sent, memory: memoryOf(ctx.baseUrl) });
    }
    const base = points[0]!.memory.rss;
    const last = points.at(-1)!.memory.rss;
    console.log(`rss (${rate.toFixed(0)} req/s, ${errors} non-2xx: the 401s of the mix):`);
    for (const p of points)
      console.log(
        `  after ${String(p.after).padStart(7)} requests: RSS ${mib(p.memory.rss)} (anonymous ${mib(p.memory.anon)}, file-backed ${mib(p.memory.file)})`,
      );
    console.log(`  growth from 1,000 to ${total}: ${(((last - base) / base) * 100).toFixed(1)}% (goal within 20%)`);
    return points.map((p) => ({
      name: `rss: server RSS after ${p.after} requests`,
      unit: 'MiB',
      rate: p.memory.rss / 1024,
      p50: 0,
      p99: 0,
      errors: 0,
      total: p.after,
    }));
  },
};
