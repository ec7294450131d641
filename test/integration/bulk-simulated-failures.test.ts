// The simulated Bulk Data failures (lib/fhir/bulk/simulated-failures.ts) over real HTTP: each is
// armed the way the launcher arms it (startLaunch on a backend service launch), the client's next
// client_credentials token carries the launch, and the export fails the way a real server would.
import { describe, expect, inject, it } from 'vitest';
import type { BulkJobReport } from '../../lib/console/bulk-report';
import type { SimulatedError } from '../../lib/launch-options/simulated-errors';
import { launchConfig } from '../../lib/launcher/launch-config';
import { serverLib } from './support/ehr-launch';
import { clientCredentialsToken, discover, registerBackendService } from './support/smart-client';

const base = inject('baseUrl');
const databaseUrl = inject('databaseUrl');
const fhirBase = `${base}/fhir`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Backend {
  clientId: string;
  /** A client_credentials token (it uses up the launch armed for the client, if any). */
  token(): Promise<string>;
}

async function backend(): Promise<Backend> {
  const as = await discover(base);
  const scope = 'system/*.rs';
  const service = await registerBackendService(base, { name: 'bulk simulated failures', kid: 'bulk-sim', scope });
  return { clientId: service.clientId, token: () => clientCredentialsToken(as, service, scope) };
}

/** A backend client with `error` armed by the launcher, and a token that carries it. */
async function armed(error: SimulatedError): Promise<{ client: Backend; token: string }> {
  const client = await backend();
  const { startLaunch } = await serverLib(databaseUrl);
  const started = await startLaunch(launchConfig(client.clientId, { launchType: 'backend-service', simulatedError: error }), base);
  expect(started.ok, JSON.stringify(started)).toBe(true);
  return { client, token: await client.token() };
}

function kickOff(token: string, query = '_type=Patient,Condition'): Promise<Response> {
  return fetch(`${fhirBase}/$export?${query}`, { headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json', prefer: 'respond-async' } });
}

interface Manifest {
  output: { type: string; url: string; count: number }[];
  error: { type: string; url: string; count: number }[];
}

/** Polls as the IG says, retrying a 5xx after its Retry-After; returns the manifest and the statuses seen. */
async function poll(statusUrl: string, token: string): Promise<{ manifest: Manifest; statuses: number[] }> {
  const statuses: number[] = [];
  for (;;) {
    const res = await fetch(statusUrl, { headers: { authorization: `Bearer ${token}` } });
    statuses.push(res.status);
    if (res.status === 200) return { manifest: (await res.json()) as Manifest, statuses };
    expect([202, 500]).toContain(res.status);
    await sleep(Number(res.headers.get('retry-after')) * 1000);
  }
}

async function exported(token: string, query?: string): Promise<{ statusUrl: string; manifest: Manifest; statuses: number[] }> {
  const res = await kickOff(token, query);
  expect(res.status).toBe(202);
  const statusUrl = res.headers.get('content-location')!;
  return { statusUrl, ...(await poll(statusUrl, token)) };
}

describe('simulated Bulk Data failures, armed per client from the launcher', () => {
  it('429 on kick-off: refused with Retry-After until it has passed, then the export starts', async () => {
    const { token } = await armed({ kind: 'bulk_kickoff_throttled', retryAfterSeconds: 2 });
    const first = await kickOff(token);
    expect(first.status).toBe(429);
    expect(Number(first.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await first.json()) as { issue: { code: string }[] }).issue[0]!.code).toBe('throttled');
    await sleep(Number(first.headers.get('retry-after')) * 1000 + 100);
    expect((await kickOff(token)).status).toBe(202);
  });

  it('transient 500 on a status poll (an OperationOutcome "transient" with Retry-After), then success', async () => {
    const { token } = await armed({ kind: 'bulk_status_transient_error' });
    const { statuses, manifest } = await exported(token);
    expect(statuses[0]).toBe(500);
    expect(statuses[statuses.length - 1]).toBe(200);
    expect(statuses.filter((s) => s === 500).length).toBe(1);
    expect(manifest.output.length).toBe(2);
  });

  it('slow job: a long Retry-After, 202 until twice that has passed, then the manifest', async () => {
    const { token } = await armed({ kind: 'bulk_slow_job', retryAfterSeconds: 2 });
    const res = await kickOff(token);
    const statusUrl = res.headers.get('content-location')!;
    const first = await fetch(statusUrl, { headers: { authorization: `Bearer ${token}` } });
    expect(first.status).toBe(202);
    expect(first.headers.get('retry-after')).toBe('2');
    await sleep(2000);
    const { statuses } = await poll(statusUrl, token);
    expect(statuses.length).toBeGreaterThanOrEqual(2);
  });

  it('an OperationOutcome in error[] beside complete output', async () => {
    const { token } = await armed({ kind: 'bulk_error_outcome' });
    const { manifest } = await exported(token);
    expect(manifest.output.map((o) => o.type).sort()).toEqual(['Condition', 'Patient']);
    expect(manifest.error.length).toBe(1);
    const text = await (await fetch(manifest.error[0]!.url, { headers: { authorization: `Bearer ${token}` } })).text();
    const outcome = JSON.parse(text.trim()) as { resourceType: string; issue: { severity: string; code: string }[] };
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0]).toMatchObject({ severity: 'error', code: 'processing' });
  });

  it('partial output: the last type is missing from output[] and named in error[]', async () => {
    const { token } = await armed({ kind: 'bulk_partial_output' });
    const { manifest } = await exported(token);
    expect(manifest.output.map((o) => o.type)).toEqual(['Patient']);
    const text = await (await fetch(manifest.error[0]!.url, { headers: { authorization: `Bearer ${token}` } })).text();
    expect(text).toContain('Condition');
    expect(text).toContain('incomplete');
  });

  it('files expired before download: 404 OperationOutcome; the client must kick off again', async () => {
    const { token } = await armed({ kind: 'bulk_file_expired' });
    const { manifest } = await exported(token);
    const res = await fetch(manifest.output[0]!.url, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
  });

  it('token expired mid-download: the first file downloads, the next answers 401 invalid_token; a new token downloads it', async () => {
    const { client, token } = await armed({ kind: 'bulk_token_expired_mid_download' });
    const { manifest } = await exported(token);
    expect(manifest.output.length).toBe(2);
    expect((await fetch(manifest.output[0]!.url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const second = await fetch(manifest.output[1]!.url, { headers: { authorization: `Bearer ${token}` } });
    expect(second.status).toBe(401);
    expect(second.headers.get('www-authenticate')).toContain('invalid_token');
    const fresh = await client.token();
    const again = await fetch(manifest.output[1]!.url, { headers: { authorization: `Bearer ${fresh}` } });
    expect(again.status).toBe(200);
    expect((await again.text()).trim().split('\n').length).toBe(manifest.output[1]!.count);
  });

  it('the launcher refuses to arm a bulk failure on an app launch (it could never fire)', async () => {
    const { simulatedErrorProblem } = await import('../../lib/launch-options/simulated-errors');
    expect(simulatedErrorProblem({ kind: 'bulk_file_expired' }, { launchType: 'provider-ehr', tokenEndpointAuthMethod: 'none' })).toMatch(/backend/);
  });
});

describe('the console grades each export of a client from its audit trail', () => {
  async function reportsOf(clientId: string, until: (r: BulkJobReport[]) => boolean) {
    const { db } = await serverLib(databaseUrl);
    const { bulkExportReports } = await import('../../lib/console/bulk-report');
    // Audit records are written just after each response (group commit): wait for the last ones.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const reports = await bulkExportReports(clientId, { db });
      if (until(reports) || Date.now() > deadline) return reports;
      await sleep(200);
    }
  }

  it('a client that follows the IG passes every check; its timeline shows kick-off, polls, downloads and delete', async () => {
    const client = await backend();
    const token = await client.token();
    const { statusUrl, manifest } = await exported(token);
    for (const o of manifest.output) expect((await fetch(o.url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await fetch(statusUrl, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })).status).toBe(202);
    const [report] = await reportsOf(client.clientId, (r) => r[0]?.events.some((e) => e.kind === 'delete') === true);
    expect(report!.events.map((e) => e.kind)).toEqual([
      'kick-off',
      ...report!.events.filter((e) => e.kind === 'poll').map(() => 'poll'),
      'download',
      'download',
      'delete',
    ]);
    expect(report!.checks.filter((c) => c.ok === false)).toEqual([]);
    expect(report!.checks.find((c) => c.name === 'Downloaded every file')!.ok).toBe(true);
    expect(report!.checks.find((c) => c.name === 'Deleted the job when done')!.ok).toBe(true);
    expect(report!.passed).toBe(report!.applicable);
  });

  it('a sloppy client fails the checks it broke: early polls, no back-off after 429, a download without a token, a file left, no delete, a duplicate job', async () => {
    const { client, token } = await armed({ kind: 'bulk_slow_job', retryAfterSeconds: 2 });
    const res = await kickOff(token);
    const statusUrl = res.headers.get('content-location')!;
    expect((await kickOff(token)).status).toBe(202); // the same export again while the first runs
    const auth = { authorization: `Bearer ${token}` };
    expect((await fetch(statusUrl, { headers: auth })).status).toBe(202);
    expect((await fetch(statusUrl, { headers: auth })).status).toBe(429);
    expect((await fetch(statusUrl, { headers: auth })).status).toBe(429);
    await sleep(2000);
    const { manifest } = await poll(statusUrl, token);
    expect((await fetch(manifest.output[0]!.url)).status).toBe(401);
    expect((await fetch(manifest.output[0]!.url, { headers: auth })).status).toBe(200);
    const reports = await reportsOf(client.clientId, (r) => r.some((j) => j.events.some((e) => e.kind === 'download' && e.status === 200)));
    const report = reports.find((r) => r.events.some((e) => e.kind === 'download'))!;
    const failed = report.checks.filter((c) => c.ok === false).map((c) => c.name);
    expect(failed.sort()).toEqual(
      [
        'Backed off after 429',
        'Deleted the job when done',
        'Downloaded every file',
        'Honoured Retry-After',
        'No duplicate jobs',
        'Used the token on downloads',
      ].sort(),
    );
    expect(report.events.filter((e) => e.early).length).toBeGreaterThanOrEqual(2);
    expect(report.events.some((e) => e.kind === 'download' && e.withoutToken)).toBe(true);
  });
});
