// npm run bench -- workshop: a room of BENCH_WORKSHOP_ATTENDEES (60) attendees who join within
// BENCH_WORKSHOP_SPREAD_SECONDS (60) and, each at once after joining, run a complete EHR launch
// (registration, the launcher's launch record, authorize, sign-in and consent screens, code
// exchange with PKCE, a FHIR read) and a backend-services flow (registration with a JWKS,
// private_key_jwt client assertion, client_credentials, a FHIR search) in their own sandbox, while
// the instructor's event stream (/api/workshops/{id}/events) is read. Reports join time, flow times,
// how long after a flow its milestone reached the instructor (grid freshness), and audit records
// lost (records expected from the requests sent, minus those stored).
import { randomBytes } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { launchConfig } from '../lib/launcher/launch-config';
import { BrowserSession } from '../test/integration/support/browserless';
import type { Benchmark, BenchContext, BenchResult } from './types';

const ATTENDEES = Number(process.env.BENCH_WORKSHOP_ATTENDEES ?? 60);
const SPREAD_SECONDS = Number(process.env.BENCH_WORKSHOP_SPREAD_SECONDS ?? 60);
/** The console account the benchmark server runs with (bench/run.ts). */
export const WORKSHOP_BENCH_CONSOLE = { user: 'bench-teacher', password: 'bench-console-password-1' } as const;
const BASIC = `Basic ${Buffer.from(`${WORKSHOP_BENCH_CONSOLE.user}:${WORKSHOP_BENCH_CONSOLE.password}`).toString('base64')}`;
const REDIRECT_URI = 'http://127.0.0.1:9/callback';

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

const b64url = (b: Buffer) => b.toString('base64url');

async function json<T>(res: Response, what: string, expected: number): Promise<T> {
  const text = await res.text();
  if (res.status !== expected) throw new Error(`${what}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

interface AttendeeRun {
  joinMs: number;
  ehrMs: number | null;
  backendMs: number | null;
  ehrDoneAt: number | null;
  backendDoneAt: number | null;
  sandboxId: string;
  /** Requests sent to audited endpoints (token, FHIR). */
  audited: number;
  error: string | null;
}

/** One attendee: join, then the EHR launch and the backend flow side by side. */
async function attendee(ctx: BenchContext, joinUrl: string, seed: number, index: number): Promise<AttendeeRun> {
  const run: AttendeeRun = { joinMs: 0, ehrMs: null, backendMs: null, ehrDoneAt: null, backendDoneAt: null, sandboxId: '', audited: 0, error: null };
  const started = performance.now();
  const joined = await json<{ sandboxId: string; fhirBaseUrl: string }>(
    await fetch(joinUrl, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify({ name: `Attendee ${index + 1}` }),
    }),
    'join',
    201,
  );
  run.joinMs = performance.now() - started;
  run.sandboxId = joined.sandboxId;
  const sandbox = `${ctx.baseUrl}/s/${joined.sandboxId}`;
  const patientId = `pat-${seed}-${index % 5}`;

  const ehr = async () => {
    const t = performance.now();
    const reg = await json<{ client_id: string }>(
      await fetch(`${sandbox}/oauth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          client_name: `EHR app ${index}`,
          redirect_uris: [REDIRECT_URI],
          launch_uris: ['http://127.0.0.1:9/launch'],
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code'],
          scope: 'launch openid fhirUser patient/*.rs',
        }),
      }),
      'register',
      201,
    );
    // The launcher's own function makes the Launch record, as its page does (in the sandbox).
    const [{ startLaunch }, { resolveSandbox, runInSandbox }] = await Promise.all([import('../lib/launcher/start-launch'), import('../lib/sandbox/context')]);
    const sandboxCtx = await resolveSandbox(joined.sandboxId);
    if (!sandboxCtx) throw new Error('the sandbox does not resolve');
    const launch = await runInSandbox(sandboxCtx, () =>
      startLaunch(
        launchConfig(reg.client_id, { launchType: 'provider-ehr', patientIds: [patientId], userFhirUser: 'Practitioner/practitioner-1' }),
        ctx.baseUrl,
      ),
    );
    if (!launch.ok || launch.kind !== 'ehr') throw new Error(`launch: ${launch.ok ? launch.kind : launch.error}`);
    const launchId = new URL(launch.appUrl).searchParams.get('launch') ?? '';
    const verifier = b64url(randomBytes(32));
    const challenge = b64url(Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
    const authorize = new URL(`${sandbox}/oauth/authorize`);
    for (const [k, v] of Object.entries({
      response_type: 'code',
      client_id: reg.client_id,
      redirect_uri: REDIRECT_URI,
      scope: 'launch openid fhirUser patient/*.rs',
      state: b64url(randomBytes(16)),
      aud: joined.fhirBaseUrl,
      launch: launchId,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }))
      authorize.searchParams.set(k, v);
    const session = new BrowserSession(sandbox);
    const { callback } = await session.authorize(authorize, { persona: 'Practitioner/practitioner-1' });
    const code = callback.searchParams.get('code');
    if (!code) throw new Error(`authorize: ${callback.search}`);
    const token = await json<{ access_token: string; patient: string }>(
      await fetch(`${sandbox}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, client_id: reg.client_id, code_verifier: verifier }),
      }),
      'token',
      200,
    );
    run.audited++;
    await json(await fetch(`${sandbox}/fhir/Patient/${token.patient}`, { headers: { authorization: `Bearer ${token.access_token}` } }), 'FHIR read', 200);
    run.audited++;
    run.ehrMs = performance.now() - t;
    run.ehrDoneAt = Date.now();
  };

  const backend = async () => {
    const t = performance.now();
    const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
    const kid = `bench-${index}`;
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' };
    const reg = await json<{ client_id: string }>(
      await fetch(`${sandbox}/oauth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          client_name: `Backend ${index}`,
          grant_types: ['client_credentials'],
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [jwk] },
          scope: 'system/*.rs',
        }),
      }),
      'register backend',
      201,
    );
    const tokenUrl = `${sandbox}/oauth/token`;
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES384', kid, typ: 'JWT' })
      .setIssuer(reg.client_id)
      .setSubject(reg.client_id)
      .setAudience(tokenUrl)
      .setJti(b64url(randomBytes(16)))
      .setIssuedAt()
      .setExpirationTime('4m')
      .sign(privateKey);
    const token = await json<{ access_token: string }>(
      await fetch(tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope: 'system/Patient.rs',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        }),
      }),
      'backend token',
      200,
    );
    run.audited++;
    await json(await fetch(`${sandbox}/fhir/Patient?_count=5`, { headers: { authorization: `Bearer ${token.access_token}` } }), 'FHIR search', 200);
    run.audited++;
    run.backendMs = performance.now() - t;
    run.backendDoneAt = Date.now();
  };

  const outcomes = await Promise.allSettled([ehr(), backend()]);
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed) run.error = failed.reason instanceof Error ? failed.reason.message : String(failed.reason);
  return run;
}

/** Reads the room's event stream; remembers when each attendee's milestones were first seen. */
function watchGrid(ctx: BenchContext, roomId: string): { seen: Map<string, Map<string, number>>; stop(): void } {
  const seen = new Map<string, Map<string, number>>();
  const abort = new AbortController();
  void (async () => {
    const res = await fetch(`${ctx.baseUrl}/api/workshops/${roomId}/events`, { headers: { authorization: BASIC }, signal: abort.signal });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = /^data: (.*)$/m.exec(event)?.[1];
        if (!event.startsWith('event: progress') || !data) continue;
        const now = Date.now();
        const body = JSON.parse(data) as { attendees: { sandboxId: string; milestones: Record<string, string> }[] };
        for (const a of body.attendees) {
          const marks = seen.get(a.sandboxId) ?? new Map<string, number>();
          for (const m of Object.keys(a.milestones)) if (!marks.has(m)) marks.set(m, now);
          seen.set(a.sandboxId, marks);
        }
      }
    }
  })().catch(() => undefined);
  return { seen, stop: () => abort.abort() };
}

export const workshopBench: Benchmark = {
  name: 'workshop',
  async run(ctx) {
    // The machine may be shared: its load before and after goes with the figures.
    const loadBefore = loadavg();
    const createdAt = performance.now();
    const room = await json<{ id: string; joinUrl: string; dataset: { seed: number } }>(
      await fetch(`${ctx.baseUrl}/api/workshops`, {
        method: 'POST',
        headers: { authorization: BASIC, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Benchmark room', exercises: [{ builtIn: 'ehr-launch' }, { builtIn: 'backend-services' }] }),
      }),
      'create room',
      201,
    );
    const createMs = performance.now() - createdAt;
    const grid = watchGrid(ctx, room.id);
    const gap = (SPREAD_SECONDS * 1000) / ATTENDEES;
    const runs = await Promise.all(
      Array.from({ length: ATTENDEES }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i * gap));
        try {
          return await attendee(ctx, room.joinUrl, room.dataset.seed, i);
        } catch (err) {
          return {
            joinMs: 0,
            ehrMs: null,
            backendMs: null,
            ehrDoneAt: null,
            backendDoneAt: null,
            sandboxId: '',
            audited: 0,
            error: err instanceof Error ? err.message : String(err),
          };
        }
      }),
    );
    // The grid has up to one poll interval and one read to catch up with the last flows.
    const deadline = Date.now() + 15_000;
    const pending = () =>
      runs.filter(
        (r) =>
          r.sandboxId &&
          ((r.ehrDoneAt && !grid.seen.get(r.sandboxId)?.has('ehr-launch')) || (r.backendDoneAt && !grid.seen.get(r.sandboxId)?.has('backend-token'))),
      );
    while (pending().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    grid.stop();

    const freshness: number[] = [];
    let neverSeen = 0;
    for (const r of runs) {
      const marks = grid.seen.get(r.sandboxId);
      for (const [done, milestone] of [
        [r.ehrDoneAt, 'ehr-launch'],
        [r.backendDoneAt, 'backend-token'],
      ] as const) {
        if (!done) continue;
        const at = marks?.get(milestone);
        if (at === undefined) neverSeen++;
        else freshness.push(Math.max(0, at - done));
      }
    }
    // Audit: one record per token and FHIR request, in the attendee's own sandbox.
    const { getDb } = await import('../lib/db');
    let lost = 0;
    for (const r of runs.filter((x) => x.sandboxId)) {
      const stored = await getDb().auditRecord.count({
        where: { sandboxId: r.sandboxId, OR: [{ kind: 'fhir' }, { kind: 'oauth', endpoint: '/oauth/token' }] },
      });
      lost += Math.max(0, r.audited - stored);
    }
    const failures = runs.filter((r) => r.error);
    for (const f of failures.slice(0, 5)) console.log(`workshop: attendee failed: ${f.error}`);
    const joins = runs.filter((r) => r.joinMs > 0).map((r) => r.joinMs);
    const ehrs = runs.flatMap((r) => (r.ehrMs === null ? [] : [r.ehrMs]));
    const backends = runs.flatMap((r) => (r.backendMs === null ? [] : [r.backendMs]));
    const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
    console.log(
      [
        `workshop on ${/^postgres(ql)?:/.test(ctx.databaseUrl) ? 'PostgreSQL' : 'SQLite'}, ${availableParallelism()} CPUs, load average (1/5/15 min) before ${load(loadBefore)}, after ${load(loadavg())}`,
        `workshop: room created (base sandbox seeded) in ${createMs.toFixed(0)} ms`,
        `${ATTENDEES} attendees joining over ${SPREAD_SECONDS} s: join p50 ${percentile(joins, 50).toFixed(0)} ms, p95 ${percentile(joins, 95).toFixed(0)} ms, max ${Math.max(0, ...joins).toFixed(0)} ms`,
        `EHR launches ${ehrs.length}/${ATTENDEES} (p95 ${percentile(ehrs, 95).toFixed(0)} ms), backend flows ${backends.length}/${ATTENDEES} (p95 ${percentile(backends, 95).toFixed(0)} ms), attendees failed: ${failures.length}`,
        `grid freshness (flow done → milestone on the instructor's stream): p50 ${percentile(freshness, 50).toFixed(0)} ms, p95 ${percentile(freshness, 95).toFixed(0)} ms, max ${Math.max(0, ...freshness).toFixed(0)} ms, never seen ${neverSeen}`,
        `audit records lost: ${lost}`,
      ].join('\n'),
    );
    const result = (name: string, values: number[], errors: number): BenchResult => ({
      name,
      unit: 'ms',
      rate: values.length ? 1000 / percentile(values, 50) : 0,
      p50: percentile(values, 50),
      p99: percentile(values, 99),
      errors,
      total: values.length,
    });
    return [
      result(`workshop: join (${ATTENDEES} in ${SPREAD_SECONDS} s), p95 ${percentile(joins, 95).toFixed(0)} ms`, joins, ATTENDEES - joins.length),
      result(`workshop: EHR launch flow per attendee, p95 ${percentile(ehrs, 95).toFixed(0)} ms`, ehrs, ATTENDEES - ehrs.length),
      result(`workshop: backend flow per attendee, p95 ${percentile(backends, 95).toFixed(0)} ms`, backends, ATTENDEES - backends.length),
      result(`workshop: grid freshness, p95 ${percentile(freshness, 95).toFixed(0)} ms (audit lost: ${lost})`, freshness, neverSeen + lost),
    ];
  },
};
