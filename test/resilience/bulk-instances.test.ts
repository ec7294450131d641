// Bulk Data export jobs shared by two instances on one PostgreSQL database (docs/CONFORMANCE.md §14):
// a job started on one is polled and downloaded on the other, and a job whose instance died while
// running it is taken over by the other once its heartbeat is stale, and completes there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discover, systemToken } from '../integration/support/smart-client';
import { openDb } from './support/db';
import { at, freePort, freshDatabase, prepareDatabase, SERVER_ENV, sleep, startServer } from './support/servers';
import type { TestServer } from './support/servers';

interface Manifest {
  transactionTime: string;
  output: { type: string; url: string; count: number }[];
  error: { type: string; url: string; count: number }[];
}

let a: TestServer;
let b: TestServer;
let databaseUrl = '';
let origin = '';
let token = '';

async function kickOff(server: TestServer, path: string): Promise<string> {
  const res = await fetch(`${server.url}/fhir/${path}`, {
    headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json', prefer: 'respond-async' },
  });
  expect(res.status, await res.clone().text()).toBe(202);
  return res.headers.get('content-location')!;
}

/** Polls a status URL on one instance, waiting the Retry-After it is told, until it is no longer 202. */
async function poll(server: TestServer, statusUrl: string, seen: number[] = []): Promise<Response> {
  for (;;) {
    const res = await fetch(at(server, statusUrl), { headers: { authorization: `Bearer ${token}` } });
    seen.push(res.status);
    if (res.status !== 202) return res;
    await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
  }
}

async function linesOf(server: TestServer, url: string): Promise<{ resourceType: string; id: string }[]> {
  const res = await fetch(at(server, url), { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/fhir+ndjson');
  return (await res.text())
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { resourceType: string; id: string });
}

async function total(server: TestServer, path: string): Promise<number> {
  const res = await fetch(`${server.url}/fhir/${path}?_summary=count`, { headers: { authorization: `Bearer ${token}` } });
  return ((await res.json()) as { total: number }).total;
}

describe.skipIf(!process.env.TEST_DATABASE_URL)('bulk export jobs on two instances sharing one PostgreSQL database', () => {
  beforeAll(async () => {
    databaseUrl = await freshDatabase('postgresql', 'bulkinstances');
    prepareDatabase(databaseUrl);
    const portA = await freePort();
    origin = `http://localhost:${portA}`;
    const env = { ...SERVER_ENV, PUBLIC_ORIGIN: origin, NEXTAUTH_SECRET: 'shared-between-instances-0123456789' };
    a = await startServer({ databaseUrl, port: portA, env });
    b = await startServer({ databaseUrl, env });
    token = await systemToken(a.url, await discover(a.url), 'system/*.rs');
  }, 240_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('a job started on A is polled, downloaded and deleted on B', async () => {
    const statusUrl = await kickOff(a, '$export?_type=Patient,Condition');
    expect(statusUrl.startsWith(`${origin}/fhir/`)).toBe(true);
    const done = await poll(b, statusUrl);
    expect(done.status).toBe(200);
    const manifest = (await done.json()) as Manifest;
    expect(manifest.output.map((o) => o.type).sort()).toEqual(['Condition', 'Patient']);
    for (const o of manifest.output) {
      const lines = await linesOf(b, o.url);
      expect(lines.length).toBe(o.count);
      expect(o.count).toBe(await total(b, o.type));
      for (const l of lines) expect(l.resourceType).toBe(o.type);
    }
    expect((await fetch(at(b, statusUrl), { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })).status).toBe(202);
    expect((await fetch(at(a, statusUrl), { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
  });

  it('a job whose instance died while running it is taken over by the other once its heartbeat is stale, and completes there', async () => {
    const statusUrl = await kickOff(a, '$export?_type=Patient,Observation');
    expect((await poll(a, statusUrl)).status).toBe(200);
    const id = statusUrl.split('/').pop()!;
    const { db, close } = openDb(databaseUrl);
    try {
      const claimed = await db.bulkExportJob.findUniqueOrThrow({ where: { id } });
      expect(claimed.owner).toBeTruthy();
      // A dies; its job is left as a run cut short leaves it: running, under A's claim, with A's
      // last heartbeat just now, no manifest and a partial file.
      await a.kill();
      await db.bulkExportChunk.deleteMany({ where: { jobId: id, type: 'Observation' } });
      await db.bulkExportJob.update({
        where: { id },
        data: { status: 'running', heartbeatAt: new Date(), output: null, finishedAt: null, progress: '1/2 types', lastPollAt: null },
      });
      const seen: number[] = [];
      const done = await poll(b, statusUrl, seen);
      expect(done.status).toBe(200);
      // B answered 202 while A's claim was fresh, and took the job over once it was stale (lib/fhir/bulk/jobs.ts STALE_MS).
      expect(seen[0]).toBe(202);
      const job = await db.bulkExportJob.findUniqueOrThrow({ where: { id } });
      expect(job.owner).not.toBe(claimed.owner);
      expect(job.attempts).toBe(claimed.attempts + 1);
      const manifest = (await done.json()) as Manifest;
      expect(manifest.transactionTime).toBe(claimed.transactionTime.toISOString());
      for (const o of manifest.output) expect((await linesOf(b, o.url)).length).toBe(o.count);
      expect(manifest.output.find((o) => o.type === 'Observation')?.count).toBe(await total(b, 'Observation'));
    } finally {
      await close();
    }
  });
});
