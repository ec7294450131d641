// Named scenarios over HTTP (README "Scenarios"): the built-in set, saving, changing, duplicating,
// sharing, deleting and launching, share links saved as scenarios, the helpful page of an unknown link.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as oauth from 'oauth4webapi';
import { describe, expect, inject, it } from 'vitest';
import { BrowserSession } from './support/browserless';
import { buildAuthorizationRequest, discover, insecure } from './support/smart-client';

const base = inject('baseUrl');
const README = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

interface ScenarioJson {
  id: string;
  name: string;
  description: string;
  builtIn: boolean;
  config: Record<string, unknown> & { patientIds: string[] };
  missingPatients?: string[];
}

const send = (method: string, path: string, body?: unknown) =>
  fetch(`${base}${path}`, {
    method,
    redirect: 'manual',
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });

describe('scenarios API', () => {
  it('lists the built-in teaching set, read-only', async () => {
    const res = await send('GET', '/api/scenarios');
    expect(res.status).toBe(200);
    const { scenarios } = (await res.json()) as { scenarios: ScenarioJson[] };
    const builtIn = scenarios.filter((s) => s.builtIn).map((s) => [s.id, s.config.patientIds[0] ?? null]);
    expect(builtIn).toEqual([
      ['builtin-growth-chart', 'roster-growth'],
      ['builtin-deceased', 'roster-deceased'],
      ['builtin-no-data', 'roster-demographics-only'],
      ['builtin-large-history', 'roster-paging'],
      ['builtin-non-ascii', 'roster-non-ascii'],
      ['builtin-proxy', null],
    ]);
    expect(scenarios.find((s) => s.id === 'builtin-deceased')?.missingPatients).toEqual([]);
    expect((await send('PUT', '/api/scenarios/builtin-deceased', { name: 'x' })).status).toBe(409);
    expect((await send('DELETE', '/api/scenarios/builtin-deceased')).status).toBe(409);
  });

  it('saves, reads, changes, duplicates, shares and deletes a scenario', async () => {
    const template = (await (await send('GET', '/api/scenarios/builtin-deceased')).json()) as ScenarioJson;
    const created = await send('POST', '/api/scenarios', {
      name: 'Rate limited portal',
      description: 'FHIR answers 429',
      config: { ...template.config, launchType: 'patient-portal', userFhirUser: null, simulatedError: { kind: 'fhir_rate_limited', retryAfterSeconds: 7 } },
    });
    expect(created.status).toBe(201);
    const saved = (await created.json()) as ScenarioJson;
    expect(saved).toMatchObject({ name: 'Rate limited portal', builtIn: false, config: { launchType: 'patient-portal' } });
    expect((await (await send('GET', `/api/scenarios/${saved.id}`)).json()) as ScenarioJson).toMatchObject({ id: saved.id, description: 'FHIR answers 429' });

    const renamed = await send('PUT', `/api/scenarios/${saved.id}`, { name: 'Renamed' });
    expect(renamed.status).toBe(200);
    expect(((await renamed.json()) as ScenarioJson).config.simulatedError).toEqual({ kind: 'fhir_rate_limited', retryAfterSeconds: 7 });

    const copy = (await (await send('POST', `/api/scenarios/${saved.id}/duplicate`)).json()) as ScenarioJson;
    expect(copy.name).toBe('Renamed (copy)');
    expect(copy.id).not.toBe(saved.id);
    expect(copy.config).toEqual({ ...saved.config });

    const shared = await send('POST', `/api/scenarios/${saved.id}/share`);
    expect(shared.status).toBe(201);
    const { url } = (await shared.json()) as { url: string };
    const link = await fetch(url, { redirect: 'manual' });
    expect(link.status).toBe(307);
    expect(link.headers.get('location')).toMatch(/\/\?share=[A-Za-z0-9]{10}$/);
    // …and the share link is saved as a scenario again.
    const fromLink = await send('POST', '/api/scenarios', { share: url, name: 'From the link' });
    expect(fromLink.status).toBe(201);
    expect(((await fromLink.json()) as ScenarioJson).config).toEqual(saved.config);

    expect((await send('DELETE', `/api/scenarios/${saved.id}`)).status).toBe(204);
    expect((await send('GET', `/api/scenarios/${saved.id}`)).status).toBe(404);
    const list = (await (await send('GET', '/api/scenarios')).json()) as { scenarios: ScenarioJson[] };
    expect(list.scenarios.map((s) => s.id)).toContain(copy.id);
    expect(list.scenarios.map((s) => s.id)).not.toContain(saved.id);
  });

  it('launches a scenario as the launcher does', async () => {
    const res = await send('POST', '/api/scenarios/builtin-non-ascii/launch');
    expect(res.status).toBe(200);
    const launch = (await res.json()) as { ok: boolean; kind: string; appUrl: string };
    expect(launch).toMatchObject({ ok: true, kind: 'ehr' });
    const appUrl = new URL(launch.appUrl);
    expect(appUrl.searchParams.get('iss')).toBe(`${base}/fhir`);
    expect(appUrl.searchParams.get('launch')).toBeTruthy();
  });

  it('the proxy scenario: a standalone launch of the sample app where the parent signs in and gets the child as patient', async () => {
    const res = await send('POST', '/api/scenarios/builtin-proxy/launch');
    expect(res.status).toBe(200);
    const launch = (await res.json()) as { kind: string; appUrl: string };
    expect(launch.kind).toBe('standalone');
    expect(new URL(launch.appUrl).searchParams.get('iss')).toBe(`${base}/fhir`);
    // The sample app's side: the authorization the armed launch applies to, signed in as the parent.
    const as = await discover(base);
    const scenario = (await (await send('GET', '/api/scenarios/builtin-proxy')).json()) as ScenarioJson;
    const client: oauth.Client = { client_id: String(scenario.config.clientId), token_endpoint_auth_method: 'none' };
    const redirectUri = `${base}/sample-app`;
    const request = await buildAuthorizationRequest(as, client.client_id, { scope: String(scenario.config.scope), aud: `${base}/fhir`, redirectUri });
    const { callback } = await new BrowserSession(base).authorize(request.url, { persona: 'RelatedPerson/roster-growth-rp1' });
    const params = oauth.validateAuthResponse(as, client, callback, request.state);
    const tokenRes = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, request.verifier, insecure);
    const tokens = (await oauth.processAuthorizationCodeResponse(as, client, tokenRes, {
      requireIdToken: true,
      expectedNonce: request.nonce,
    })) as oauth.TokenEndpointResponse & {
      patient?: string;
    };
    expect(tokens.patient).toBe('roster-growth');
    expect(String(oauth.getValidatedIdTokenClaims(tokens)?.fhirUser)).toMatch(/RelatedPerson\/roster-growth-rp1$/);
  });

  it('answers bad input with 4xx and a reason', async () => {
    const template = (await (await send('GET', '/api/scenarios/builtin-growth-chart')).json()) as ScenarioJson;
    for (const [body, status] of [
      [{ description: 'no name', config: template.config }, 400],
      [{ name: 'bad config', config: { ...template.config, patientIds: ['../x'] } }, 400],
      [{ name: 'secret', config: { ...template.config, launchType: 'nope' } }, 400],
      [{ share: 'https://example.org/l/zzzzzzzzzz' }, 404],
      [[1, 2], 400],
    ] as const) {
      const res = await send('POST', '/api/scenarios', body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(((await res.json()) as { error_description: string }).error_description.length).toBeGreaterThan(5);
    }
    const text = await fetch(`${base}/api/scenarios`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    expect(text.status).toBe(415);
    expect((await send('GET', '/api/scenarios/sc-unknown1')).status).toBe(404);
    expect((await send('POST', '/api/scenarios/sc-unknown1/launch')).status).toBe(404);
  });

  it('an unknown share link gets a page that explains it and points to the launcher and the built-in scenarios', async () => {
    for (const code of ['abcdefghjk', 'not-a-code']) {
      const res = await fetch(`${base}/l/${code}`, { redirect: 'manual' });
      expect(res.status).toBe(404);
      const html = await res.text();
      expect(html).toContain('This launch link is unknown');
      // The page streams its content (Next's not-found boundary), attributes JSON-quoted.
      expect(html).toContain('/?scenario=builtin-growth-chart');
    }
  });

  it('the README example saves a changed copy of a built-in scenario', () => {
    const section = README.split(/^## /m).find((s) => s.startsWith('Scenarios'));
    const script = /```sh\n([\s\S]*?)```/.exec(section ?? '')?.[1] ?? '';
    expect(script).toContain('http://localhost:3000');
    const id = execFileSync('bash', ['-euo', 'pipefail', '-c', script.replaceAll('http://localhost:3000', base)], { encoding: 'utf8', timeout: 30_000 }).trim();
    expect(id).toMatch(/^sc-[0-9a-f]{12}$/);
  });
});
