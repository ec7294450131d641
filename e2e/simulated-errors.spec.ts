import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, expect } from '@playwright/test';
import type { Page } from '@playwright/test';
import { buildAuthorizationRequest, discover, registerSymmetricClient } from '../test/integration/support/smart-client';
import {
  backendTokenRequest,
  CONSOLE_PASSWORD,
  CONSOLE_USER,
  failOnDialog,
  pickOrdinaryPatient,
  registerBackendClient,
  startBackendLaunch,
  useConsoleServer,
} from './helpers';

// Issue 6: every simulated error produces, in the sample app, the failure it promises — made by the
// real authorization server and FHIR API, for that launch only.

/** Launches the sample app (provider EHR launch, not framed, skip sign-in and consent) with a simulated error. */
async function launchWith(page: Page, kind: string, configure?: (page: Page) => Promise<void>, app = 'sample-app'): Promise<string> {
  failOnDialog(page);
  await page.goto('/');
  await page.getByLabel('App', { exact: true }).selectOption(app);
  const name = await pickOrdinaryPatient(page);
  await page.getByLabel('Open inside the EHR frame').uncheck();
  await page.getByLabel('Skip consent (approve all requested scopes)').check();
  await page.getByLabel('Simulated error').selectOption(kind);
  if (configure) await configure(page);
  await page.getByRole('button', { name: 'Launch', exact: true }).click();
  return name;
}

/** The tokens fhirclient holds in its session state, as a third-party app would have them. */
async function appTokens(page: Page): Promise<{ accessToken: string; refreshToken: string; clientId: string }> {
  return page.evaluate(() => {
    const key = JSON.parse(sessionStorage.getItem('SMART_KEY') ?? 'null') as string | null;
    const state = (key ? JSON.parse(sessionStorage.getItem(key) ?? '{}') : {}) as {
      clientId?: string;
      tokenResponse?: { access_token?: string; refresh_token?: string };
    };
    return { accessToken: state.tokenResponse?.access_token ?? '', refreshToken: state.tokenResponse?.refresh_token ?? '', clientId: state.clientId ?? '' };
  });
}

/** The app's refresh request (RFC 6749 §6, public client: client_id in the body), as fhirclient sends it. */
async function refreshAsTheApp(page: Page): Promise<{ status: number; body: Record<string, unknown> }> {
  const { refreshToken, clientId } = await appTokens(page);
  const res = await page.request.post('/oauth/token', { form: { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId } });
  return { status: res.status(), body: (await res.json()) as Record<string, unknown> };
}

/** RFC 7662 introspection by a resource server (a confidential client registered with introspect_any_token; public clients may not introspect). */
async function introspect(baseURL: string | undefined, token: string): Promise<Record<string, unknown>> {
  const base = (baseURL ?? '').replace(/\/+$/, '');
  const caller = await registerSymmetricClient(base, { client_name: 'e2e resource server', introspect_any_token: true });
  const res = await fetch(`${base}/oauth/introspect`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${caller.client.client_id}:${caller.secret ?? ''}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

test('invalid scope: the authorization server sends the app error=invalid_scope, and the app shows it', async ({ page }) => {
  await launchWith(page, 'invalid_scope');
  await page.waitForURL(/\/sample-app\?error=invalid_scope/);
  await expect(page.getByTestId('sample-error')).toContainText('invalid_scope');
});

test('invalid client id: /oauth/authorize shows the 400 "Unknown client" page and does not redirect', async ({ page }) => {
  const responses: number[] = [];
  page.on('response', (r) => {
    if (new URL(r.url()).pathname === '/oauth/authorize') responses.push(r.status());
  });
  await launchWith(page, 'invalid_client_id');
  await expect(page.getByRole('heading', { name: 'Unknown client' })).toBeVisible({ timeout: 20_000 });
  expect(page.url()).toContain('/oauth/authorize');
  expect(responses).toContain(400);
});

test('expired access token: the FHIR API answers 401 and the app shows its data as denied (401)', async ({ page }) => {
  await launchWith(page, 'expired_access_token');
  await page.waitForURL(/\/sample-app\?/);
  await expect(page.getByTestId('section-vitals')).toHaveAttribute('data-state', 'denied', { timeout: 20_000 });
  await expect(page.getByTestId('denied-vitals')).toContainText('401');
  await expect(page.getByTestId('sample-patient')).toContainText('denied (401)');
  await expect(page.getByTestId('fhir-calls')).toContainText('401');
});

test('rate limited: every FHIR call answers 429 with Retry-After, and the app shows 429', async ({ page }) => {
  const retryAfter: (string | null)[] = [];
  page.on('response', (r) => {
    if (new URL(r.url()).pathname.startsWith('/fhir/Observation')) retryAfter.push(r.headers()['retry-after'] ?? null);
  });
  await launchWith(page, 'fhir_rate_limited');
  await page.waitForURL(/\/sample-app\?/);
  await expect(page.getByTestId('section-vitals')).toHaveAttribute('data-state', 'error', { timeout: 20_000 });
  await expect(page.getByTestId('section-vitals')).toContainText('429');
  await expect(page.getByTestId('fhir-calls')).toContainText('429');
  expect(retryAfter.length).toBeGreaterThan(0);
  expect(retryAfter.every((v) => v === '30')).toBe(true);
});

test('patient deleted: reading the patient answers 410 Gone and the searches come back empty', async ({ page }) => {
  await launchWith(page, 'patient_deleted');
  await page.waitForURL(/\/sample-app\?/);
  await expect(page.getByTestId('sample-patient')).toContainText('error (410)', { timeout: 20_000 });
  await expect(page.getByTestId('section-vitals')).toHaveAttribute('data-state', 'ok');
  await expect(page.getByTestId('section-vitals')).toContainText('No vital signs.');
  await expect(page.getByTestId('section-conditions')).toContainText('None.');
  await expect(page.getByTestId('sample-patient-name')).toHaveCount(0);
});

test('access token expiring after N seconds: expires_in is N, and after N seconds the FHIR API answers 401', async ({ page }) => {
  const seconds = 12;
  await launchWith(page, 'token_expires_soon', async (p) => {
    await p.locator('label', { hasText: 'N =' }).locator('input').fill(String(seconds));
  });
  await page.waitForURL(/\/sample-app\?/);
  await expect(page.getByTestId('sample-patient-name')).toBeVisible({ timeout: 20_000 });
  await expect(page.locator('pre').first()).toContainText(`"expires_in": ${seconds}`);

  const token = (await appTokens(page)).accessToken;
  expect(token).not.toBe('');
  const patientId = ((await page.getByTestId('sample-patient').innerText()).match(/Patient\/([A-Za-z0-9\-.]+)/) ?? [])[1];
  const before = await page.request.get(`/fhir/Patient/${patientId}`, { headers: { authorization: `Bearer ${token}` } });
  expect(before.status()).toBe(200);
  await page.waitForTimeout((seconds + 1) * 1000);
  const after = await page.request.get(`/fhir/Patient/${patientId}`, { headers: { authorization: `Bearer ${token}` } });
  expect(after.status()).toBe(401);
  expect(after.headers()['www-authenticate']).toContain('the access token has expired');

  // The app recovers the way SMART apps should: with its refresh token (again valid for N seconds).
  const refreshed = await refreshAsTheApp(page);
  expect(refreshed.status).toBe(200);
  expect(refreshed.body.expires_in).toBe(seconds);
});

for (const [kind, reason] of [
  ['refresh_token_revoked', 'the refresh token has been revoked'],
  ['expired_refresh_token', 'the refresh token has expired'],
] as const) {
  test(`${kind}: the app's data loads, its Refresh button fails with 400 invalid_grant, introspection says inactive`, async ({ page, baseURL }) => {
    await launchWith(page, kind);
    await page.waitForURL(/\/sample-app\?/);
    await expect(page.getByTestId('sample-patient-name')).toBeVisible({ timeout: 20_000 });
    const { refreshToken } = await appTokens(page);
    expect(refreshToken).not.toBe('');
    const refresh = page.waitForResponse((r) => new URL(r.url()).pathname === '/oauth/token' && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Refresh token' }).click();
    const res = await refresh;
    expect(res.status()).toBe(400);
    expect(((await res.json()) as { error?: string }).error).toBe('invalid_grant');
    await expect(page.getByTestId('refresh-message')).toContainText('Refresh failed');
    await expect(page.getByTestId('refresh-message')).toContainText(`invalid_grant: ${reason}`);
    expect(await introspect(baseURL, refreshToken)).toEqual({ active: false });
  });
}

test('invalid redirect URI: /oauth/authorize shows the 400 "redirect_uri not registered" page and does not redirect', async ({ page }) => {
  const responses: number[] = [];
  page.on('response', (r) => {
    if (new URL(r.url()).pathname === '/oauth/authorize') responses.push(r.status());
  });
  await launchWith(page, 'invalid_redirect_uri');
  await expect(page.getByRole('heading', { name: 'redirect_uri not registered' })).toBeVisible({ timeout: 20_000 });
  expect(page.url()).toContain('/oauth/authorize');
  expect(new URL(page.url()).pathname).not.toBe('/sample-app');
  expect(responses).toContain(400);
  await expect(page.locator('body')).toContainText('exact string match');
});

test('invalid redirect URI inside the EHR frame: the frame shows the refusal page (only our own frame may)', async ({ page }) => {
  failOnDialog(page);
  await page.goto('/');
  await pickOrdinaryPatient(page);
  await page.getByLabel('Open inside the EHR frame').check();
  await page.getByLabel('Skip consent (approve all requested scopes)').check();
  await page.getByLabel('Simulated error').selectOption('invalid_redirect_uri');
  const refused = page.waitForResponse((r) => new URL(r.url()).pathname === '/oauth/authorize' && r.status() === 400);
  await page.getByRole('button', { name: 'Launch', exact: true }).click();
  const res = await refused;
  expect(res.headers()['x-frame-options']).toBe('SAMEORIGIN');
  const app = page.frameLocator('iframe.ehr-app');
  await expect(app.getByRole('heading', { name: 'redirect_uri not registered' })).toBeVisible({ timeout: 20_000 });
  await expect(app.locator('body')).toContainText('exact string match');
});

test('invalid access token: every FHIR call answers 401 invalid_token with an OperationOutcome, introspection says inactive, refreshed tokens too', async ({
  page,
  baseURL,
}) => {
  const exchange = page.waitForResponse((r) => new URL(r.url()).pathname === '/oauth/token' && r.request().method() === 'POST');
  const firstRead = page.waitForResponse((r) => /^\/fhir\/Patient\/[^/]+$/.test(new URL(r.url()).pathname));
  await launchWith(page, 'invalid_access_token');
  // The tokens as the app received them (fhirclient forgets its session after a 401).
  const tokens = (await (await exchange).json()) as { access_token: string; refresh_token: string; patient: string };
  await page.waitForURL(/\/sample-app\?/);
  const res = await firstRead;
  expect(res.status()).toBe(401);
  expect(res.headers()['www-authenticate']).toMatch(/^Bearer /);
  expect(res.headers()['www-authenticate']).toContain('error="invalid_token"');
  expect(((await res.json()) as { resourceType?: string }).resourceType).toBe('OperationOutcome');

  // What the user sees: every section of the app denied with 401.
  await expect(page.getByTestId('sample-patient')).toContainText('Patient: denied (401)', { timeout: 20_000 });
  for (const section of ['vitals', 'conditions', 'medications']) {
    await expect(page.getByTestId(`section-${section}`)).toHaveAttribute('data-state', 'denied');
    await expect(page.getByTestId(`denied-${section}`)).toContainText('401');
  }
  await expect(page.getByTestId('fhir-calls').locator('tbody td', { hasText: /^200$/ })).toHaveCount(0);

  expect(await introspect(baseURL, tokens.access_token)).toEqual({ active: false });

  // A token obtained with the refresh token is refused the same way.
  const refreshed = await page.request.post('/oauth/token', {
    form: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: 'sample-app' },
  });
  expect(refreshed.status()).toBe(200);
  const body = (await refreshed.json()) as { access_token: string };
  const again = await page.request.get(`/fhir/Patient/${tokens.patient}`, { headers: { authorization: `Bearer ${body.access_token}` } });
  expect(again.status()).toBe(401);
  expect(again.headers()['www-authenticate']).toContain('error="invalid_token"');
  expect(await introspect(baseURL, body.access_token)).toEqual({ active: false });
});

test('invalid client secret, public client (the sample app): the code exchange answers invalid_client as for an unknown client_id, and the app shows the failure', async ({
  page,
}) => {
  const exchange = page.waitForResponse((r) => new URL(r.url()).pathname === '/oauth/token' && r.request().method() === 'POST');
  await launchWith(page, 'invalid_client_secret');
  await page.waitForURL(/\/sample-app\?/);
  const res = await exchange;
  // 400, not 401: the app sent no credentials (RFC 6749 §5.2), and a 401 Basic challenge would make
  // the browser hold the response behind a sign-in dialog.
  expect(res.status()).toBe(400);
  expect(res.headers()['www-authenticate']).toBeUndefined();
  const body = (await res.json()) as { error?: string; error_description?: string };
  expect(body.error).toBe('invalid_client');
  expect(body.error_description).toContain("unknown client_id 'sample-app'");
  await expect(page.getByTestId('sample-error')).toContainText('400', { timeout: 20_000 });
  await expect(page.getByTestId('sample-error')).toContainText("invalid_client: unknown client_id 'sample-app'");
  await expect(page.getByTestId('sample-patient')).toHaveCount(0);
});

test('invalid client secret, confidential app launched from the launcher: its code exchange with the right secret answers 401 invalid_client', async ({
  page,
  baseURL,
}) => {
  const base = (baseURL ?? '').replace(/\/+$/, '');
  const as = await discover(base);
  // The app's pages on a real loopback server (its launch URL and redirect URI just have to load).
  const appServer = createServer((_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title><p>app</p>'));
  await new Promise<void>((r) => appServer.listen(0, '127.0.0.1', r));
  const appOrigin = `http://127.0.0.1:${(appServer.address() as AddressInfo).port}`;
  try {
    const redirectUri = `${appOrigin}/callback`;
    const app = await registerSymmetricClient(base, {
      client_name: `e2e confidential app ${Date.now()}`,
      redirect_uris: [redirectUri],
      launch_uris: [`${appOrigin}/launch`],
    });

    await launchWith(page, 'invalid_client_secret', undefined, app.client.client_id);
    await page.waitForURL((url) => url.href.startsWith(`${appOrigin}/launch`));
    const launchUrl = new URL(page.url());
    expect(launchUrl.searchParams.get('iss')).toBe(`${base}/fhir`);
    const launch = launchUrl.searchParams.get('launch') ?? '';
    expect(launch).not.toBe('');

    // The app authorizes with the launch (skip sign-in and consent are on) and gets a code…
    const request = await buildAuthorizationRequest(as, app.client.client_id, {
      scope: 'launch openid fhirUser patient/*.rs',
      aud: `${base}/fhir`,
      launch,
      redirectUri,
    });
    await page.goto(request.url.href);
    await page.waitForURL((url) => url.href.startsWith(redirectUri));
    const code = new URL(page.url()).searchParams.get('code') ?? '';
    expect(code).not.toBe('');

    // …and its server exchanges it with its real secret (HTTP Basic): refused as a wrong credential.
    const basic = `Basic ${Buffer.from(`${app.client.client_id}:${app.secret ?? ''}`).toString('base64')}`;
    const exchange = () =>
      fetch(as.token_endpoint ?? '', {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: request.verifier }),
      });
    const res = await exchange();
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
    const body = (await res.json()) as { error?: string; error_description?: string };
    expect(body.error).toBe('invalid_client');
    expect(body.error_description).toContain('wrong client secret');
    // Every token request of this launch fails the same way.
    expect(((await (await exchange()).json()) as { error?: string }).error).toBe('invalid_client');
    // The secret itself is right: the same credential authenticates at the introspection endpoint.
    const control = await fetch(`${base}/oauth/introspect`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: 'x' }),
    });
    expect(control.status).toBe(200);
  } finally {
    await new Promise<void>((r) => appServer.close(() => r()));
  }
});

test.describe('backend service launches', () => {
  test('invalid client secret: the client_credentials request answers 401 invalid_client (bad assertion signature); the next one succeeds', async ({
    page,
  }) => {
    const client = await registerBackendClient(page.request, `e2e backend secret ${Date.now()}`);
    const shown = await startBackendLaunch(page, client.clientId, 'invalid_client_secret');
    expect(shown.clientId).toBe(client.clientId);
    const refused = await backendTokenRequest(page.request, client, shown.tokenUrl, shown.scope);
    expect(refused.status).toBe(401);
    // No HTTP Basic was used, so no Basic challenge (docs/CONFORMANCE.md #75).
    expect(refused.headers['www-authenticate']).toBeUndefined();
    expect(refused.body.error).toBe('invalid_client');
    expect(String(refused.body.error_description)).toContain(`the signature does not verify with key '${client.kid}'`);
    // For this launch only: the launch is used up, the same request then succeeds.
    expect((await backendTokenRequest(page.request, client, shown.tokenUrl, shown.scope)).status).toBe(200);
  });

  test('token endpoint invalid_scope: the client_credentials request answers 400 invalid_scope naming the scope; the next one succeeds', async ({ page }) => {
    const client = await registerBackendClient(page.request, `e2e backend scope ${Date.now()}`);
    const shown = await startBackendLaunch(page, client.clientId, 'backend_invalid_scope');
    expect(shown.scope).toBe('system/*.rs');
    const refused = await backendTokenRequest(page.request, client, shown.tokenUrl, shown.scope);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_scope');
    expect(String(refused.body.error_description)).toContain("'system/*.rs'");
    expect(refused.body).not.toHaveProperty('access_token');
    const next = await backendTokenRequest(page.request, client, shown.tokenUrl, shown.scope);
    expect(next.status).toBe(200);
    expect(next.body.scope).toBe('system/*.rs');
  });

  test.describe('with the console', () => {
    const consoleUrl = useConsoleServer();

    test('invalid jti: a fresh client assertion is refused as replayed (401 invalid_client), flagged assertion-replay in the audit trail', async ({ page }) => {
      const client = await registerBackendClient(page.request, `e2e backend jti ${Date.now()}`);
      const shown = await startBackendLaunch(page, client.clientId, 'invalid_jti');
      const refused = await backendTokenRequest(page.request, client, shown.tokenUrl, shown.scope);
      expect(refused.status).toBe(401);
      expect(refused.headers['www-authenticate']).toBeUndefined();
      expect(refused.body.error).toBe('invalid_client');
      expect(String(refused.body.error_description)).toMatch(/jti '[^']+' was already used/);
      expect((await backendTokenRequest(page.request, client, shown.tokenUrl, shown.scope)).status).toBe(200);

      const base = consoleUrl();
      await page.goto(`${base}/console/login`);
      await page.fill('#username', CONSOLE_USER);
      await page.fill('#password', CONSOLE_PASSWORD);
      await page.click('button[type=submit]');
      await expect(page).toHaveURL(/\/console\/tokens/);
      await page.goto(`${base}/console/audit?flag=assertion-replay&clientId=${encodeURIComponent(client.clientId)}`);
      const rows = page.getByTestId('audit-table').locator('tbody tr');
      await expect(rows).toHaveCount(1);
      await expect(rows.first()).toContainText('POST /oauth/token');
      await expect(rows.first()).toContainText('401');
      await expect(rows.first()).toContainText('invalid_client');
      await expect(rows.first().locator('.badge.flag')).toHaveText('assertion-replay');
      // Armed by the developer: labelled simulated, and not counted as an attack on the alerts page.
      await expect(rows.first().locator('.badge.info')).toHaveText('simulated');
      await page.goto(`${base}/console/alerts`);
      await expect(page.getByTestId('alerts-simulated')).toContainText(client.clientId);
    });
  });
});

test('a simulated error the chosen launch can never trigger is not offered, and the server refuses it', async ({ page }) => {
  failOnDialog(page);
  // invalid_jti needs a private_key_jwt client; the sample app is public.
  await page.goto('/');
  await pickOrdinaryPatient(page);
  const offered = () =>
    page
      .getByLabel('Simulated error')
      .locator('option')
      .evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value));
  expect(await offered()).not.toContain('invalid_jti');

  // invalid_scope is an /oauth/authorize error; a backend service never calls it.
  const client = await registerBackendClient(page.request, `e2e backend refused ${Date.now()}`);
  await page.goto('/');
  await page.getByLabel('Backend service').check();
  await page.getByLabel('App', { exact: true }).selectOption(client.clientId);
  expect(await offered()).not.toContain('invalid_scope');

  // A configuration that arms one anyway (here a saved scenario, launched over HTTP) is refused with the reason.
  const template = (await (await page.request.get('/api/scenarios/builtin-non-ascii')).json()) as { config: Record<string, unknown> };
  for (const [config, reason] of [
    [{ ...template.config, simulatedError: { kind: 'invalid_jti' } }, 'private_key_jwt'],
    [
      { ...template.config, clientId: client.clientId, launchType: 'backend-service', simulatedError: { kind: 'invalid_scope' } },
      'a backend service never calls /oauth/authorize',
    ],
  ] as const) {
    const saved = (await (await page.request.post('/api/scenarios', { data: { name: 'cannot happen', config } })).json()) as { id: string };
    const res = await page.request.post(`/api/scenarios/${saved.id}/launch`);
    expect(res.status()).toBe(400);
    const body = (await res.json()) as { error_description: string };
    expect(body.error_description).toContain('cannot happen in this launch');
    expect(body.error_description).toContain(reason);
  }
});
