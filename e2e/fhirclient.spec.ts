import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { test, expect } from '@playwright/test';
import { registerPublicClient } from '../test/integration/support/smart-client';
import { failOnDialog } from './helpers';

// Issue 4: fhirclient's browser build (SMART's JS client, unmodified) as a third-party app on
// another origin: it discovers, authorizes with PKCE, exchanges the code from the browser (CORS)
// and reads Patient, Observation?category=vital-signs and Patient/{id}/$everything.
// The app is served by a real loopback HTTP server: a page Playwright fulfils itself has no
// address space, and Chromium's local-network-access checks then block its calls to localhost.
const fhirClientJs = readFileSync(createRequire(import.meta.url).resolve('fhirclient/build/fhir-client.js'), 'utf8');

function appPages(clientId: string): Record<string, string> {
  const scope = 'openid fhirUser launch/patient patient/Patient.rs patient/Observation.rs';
  return {
    '/launch.html': `<!doctype html><title>launch</title><script src="/fhir-client.js"></script>
<script>FHIR.oauth2.authorize({ clientId: ${JSON.stringify(clientId)}, scope: ${JSON.stringify(scope)}, redirectUri: "index.html" });</script>`,
    '/index.html': `<!doctype html><title>app</title><pre id="out">loading</pre><script src="/fhir-client.js"></script>
<script>
FHIR.oauth2.ready().then(async (client) => {
  const patient = await client.patient.read();
  const vitals = await client.patient.request("Observation?category=vital-signs");
  const everything = await client.request("Patient/" + client.patient.id + "/$everything");
  const out = document.getElementById("out");
  out.textContent = JSON.stringify({ patientId: client.patient.id, patient, vitals, everything, scope: client.state.tokenResponse.scope });
  out.dataset.state = "done";
}).catch((e) => { const out = document.getElementById("out"); out.textContent = String(e && e.stack || e); out.dataset.state = "error"; });
</script>`,
  };
}

interface Entry {
  resource?: { resourceType?: string; id?: string; category?: unknown; subject?: { reference?: string } };
}

let server: Server | null = null;
let pages: Record<string, string> = {};
let APP = '';

test.beforeAll(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (path === '/fhir-client.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(fhirClientJs);
    const body = pages[path];
    if (body) return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
    res.writeHead(404).end('not found');
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  APP = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

test.afterAll(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
});

test('fhirclient (browser build) standalone launch reads Patient, vital signs and $everything', async ({ page, baseURL }) => {
  failOnDialog(page);
  const base = (baseURL ?? '').replace(/\/+$/, '');
  const reg = await registerPublicClient(base, { redirect_uris: [`${APP}/index.html`], launch_uris: [`${APP}/launch.html`] });
  pages = appPages(reg.client.client_id);

  await page.goto(`${APP}/launch.html?iss=${encodeURIComponent(`${base}/fhir`)}`);
  await page.waitForURL(/\/interaction\//);
  const persona = page.locator('button.persona[data-persona^="Patient/"]').first();
  const patientId = ((await persona.getAttribute('data-persona')) ?? '').replace(/^Patient\//, '');
  await persona.click();
  await page.getByRole('button', { name: 'Allow' }).click();

  await page.waitForURL((url) => url.href.startsWith(`${APP}/index.html`));
  const out = page.locator('#out');
  await expect(out).toHaveAttribute('data-state', /done|error/, { timeout: 20_000 });
  const text = (await out.textContent()) ?? '';
  expect(await out.getAttribute('data-state'), text).toBe('done');
  const result = JSON.parse(text) as {
    patientId: string;
    patient: { resourceType: string; id: string };
    vitals: { resourceType: string; entry?: Entry[] };
    everything: { resourceType: string; entry?: Entry[] };
    scope: string;
  };

  expect(result.patientId).toBe(patientId);
  expect(result.patient).toMatchObject({ resourceType: 'Patient', id: patientId });
  expect(result.vitals.resourceType).toBe('Bundle');
  const vitals = result.vitals.entry ?? [];
  expect(vitals.length).toBeGreaterThan(0);
  for (const e of vitals) {
    expect(e.resource?.resourceType).toBe('Observation');
    expect(JSON.stringify(e.resource?.category)).toContain('vital-signs');
    expect(e.resource?.subject?.reference).toBe(`Patient/${patientId}`);
  }
  expect(result.everything.resourceType).toBe('Bundle');
  const refs = (result.everything.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);
  expect(refs).toContain(`Patient/${patientId}`);
  expect(refs.some((r) => r.startsWith('Observation/'))).toBe(true);
});
