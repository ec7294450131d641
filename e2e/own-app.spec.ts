import { test, expect } from '@playwright/test';
import type { Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { CONSOLE_PASSWORD, CONSOLE_USER, failOnDialog, pickOrdinaryPatient, useConsoleServer } from './helpers';

// Issue 18, "own app, as documented": a client registered without a launch URL gets one in the
// launcher or on its console page and then launches; a scope dropped at registration is reported;
// the built-in backend demo runs step by step; the JWKS helper turns a public key into a JWKS.

const APP = 'http://127.0.0.1:9';

async function registerApp(page: Page, base: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await page.request.post(`${base}/oauth/register`, {
    data: {
      client_name: `Own app ${Date.now()}`,
      token_endpoint_auth_method: 'none',
      redirect_uris: [`${APP}/callback`],
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'openid fhirUser launch launch/patient patient/*.rs offline_access',
      ...extra,
    },
  });
  expect(res.status(), await res.text()).toBe(201);
  return ((await res.json()) as { client_id: string }).client_id;
}

async function signIn(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/console/login`);
  await page.fill('#username', CONSOLE_USER);
  await page.fill('#password', CONSOLE_PASSWORD);
  await page.click('button[type=submit]');
  await expect(page).toHaveURL(/\/console\/tokens/);
}

test('a client without a launch URL gets one in the launcher, then an EHR launch opens it with iss and launch', async ({ page, baseURL }) => {
  failOnDialog(page);
  const clientId = await registerApp(page, baseURL!);
  // The app itself is not running: answer its launch URL here and look at what it was given.
  await page.route(`${APP}/**`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<p>my app</p>' }));
  await page.goto('/');
  await page.getByLabel('App', { exact: true }).selectOption(clientId);
  await expect(page.getByTestId('launch-url')).toContainText('no launch URL registered');
  await page.getByLabel('Launch URL', { exact: true }).fill(`${APP}/launch`);
  await page.getByRole('button', { name: 'Add launch URL' }).click();
  await expect(page.getByTestId('launch-url')).toContainText(`launch URL ${APP}/launch`);

  await pickOrdinaryPatient(page);
  await page.getByLabel('Open inside the EHR frame').uncheck();
  await page.getByRole('button', { name: 'Launch', exact: true }).click();
  await page.waitForURL(`${APP}/launch?**`);
  const url = new URL(page.url());
  expect(url.searchParams.get('iss')).toBe(`${baseURL}/fhir`);
  expect(url.searchParams.get('launch')).toBeTruthy();

  // Kept: a reload of the launcher shows it, and Edit changes it.
  await page.goto('/');
  await page.getByLabel('App', { exact: true }).selectOption(clientId);
  await expect(page.getByTestId('launch-url')).toContainText(`${APP}/launch`);
  await page.getByTestId('launch-url').getByRole('button', { name: 'Edit' }).click();
  await page.getByLabel('Launch URL', { exact: true }).fill('not a url');
  await page.getByRole('button', { name: 'Save launch URL' }).click();
  await expect(page.getByTestId('launch-url').getByRole('alert')).toBeVisible();
  await page.getByLabel('Launch URL', { exact: true }).fill(`${APP}/v2/launch`);
  await page.getByRole('button', { name: 'Save launch URL' }).click();
  await expect(page.getByTestId('launch-url')).toContainText(`launch URL ${APP}/v2/launch`);
});

test('the backend demo runs from the launcher: assertion, token, FHIR calls and a refused write, step by step', async ({ page }) => {
  failOnDialog(page);
  await page.goto('/');
  await page.getByLabel('Backend service').check();
  await page.getByLabel('App', { exact: true }).selectOption('backend-demo');
  await page.getByRole('button', { name: 'Run backend demo' }).click();
  const demo = page.getByTestId('backend-demo');
  await expect(demo).toBeVisible({ timeout: 20_000 });
  const steps = demo.getByTestId('backend-demo-step');
  await expect(steps).toHaveCount(5);
  await expect(steps.nth(0)).toContainText('"iss": "backend-demo"');
  await expect(steps.nth(0)).toContainText('"alg": "ES384"');
  await expect(steps.nth(1)).toContainText('HTTP 200');
  await expect(steps.nth(1)).toContainText('"scope": "system/*.rs"');
  await expect(steps.nth(2)).toContainText('HTTP 200');
  await expect(steps.nth(2)).toContainText('"resourceType": "Bundle"');
  await expect(steps.nth(3)).toContainText('HTTP 200');
  await expect(steps.nth(4)).toContainText('HTTP 403');
  for (let i = 0; i < 5; i++) await expect(steps.nth(i)).toHaveAttribute('data-ok', 'true');
});

test('an armed simulated error applies to the backend demo', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('Backend service').check();
  await page.getByLabel('App', { exact: true }).selectOption('backend-demo');
  await page.getByLabel('Simulated error').selectOption('backend_invalid_scope');
  await page.getByRole('button', { name: 'Run backend demo' }).click();
  const steps = page.getByTestId('backend-demo').getByTestId('backend-demo-step');
  await expect(steps).toHaveCount(2, { timeout: 20_000 });
  await expect(steps.nth(1)).toContainText('HTTP 400');
  await expect(steps.nth(1)).toContainText('invalid_scope');
});

test('the JWKS helper turns a PEM public key into a JWKS, and makes a key pair to download', async ({ page }) => {
  const pem = execFileSync('bash', ['-c', 'openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null | openssl pkey -pubout'], {
    encoding: 'utf8',
  });
  await page.goto('/tools/jwks');
  await page.getByLabel('Public key', { exact: true }).fill(pem);
  await page.getByRole('button', { name: 'Make the JWKS' }).click();
  const jwks = JSON.parse((await page.getByTestId('jwks').textContent()) ?? '{}') as { keys: Record<string, string>[] };
  expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS384', use: 'sig' });

  await page.getByLabel('Public key', { exact: true }).fill('-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----');
  await page.getByRole('button', { name: 'Make the JWKS' }).click();
  await expect(page.locator('p.error[role=alert]')).toContainText('private key');

  await page.getByRole('button', { name: 'New ES384 key pair' }).click();
  const link = page.getByTestId('private-key-download');
  await expect(link).toBeVisible();
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  expect(download.suggestedFilename()).toMatch(/^backend-.*-private\.pem$/);
  const made = JSON.parse((await page.getByTestId('jwks').textContent()) ?? '{}') as { keys: Record<string, string>[] };
  expect(made.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-384', alg: 'ES384' });
  expect(made.keys[0]!.d).toBeUndefined();
  // The JWKS registers as is.
  const reg = await page.request.post('/oauth/register', {
    data: { client_name: 'helper key', token_endpoint_auth_method: 'private_key_jwt', grant_types: ['client_credentials'], jwks: made },
  });
  expect(reg.status()).toBe(201);
});

test.describe('on the console', () => {
  const consoleUrl = useConsoleServer();

  test('a client page reports a dropped scope and takes a launch URL the launcher then uses', async ({ page }) => {
    const base = consoleUrl();
    const clientId = await registerApp(page, base, { grant_types: ['authorization_code'] });
    await signIn(page, base);
    await page.goto(`${base}/console/clients/${clientId}`);
    await expect(page.getByTestId('dropped-scopes')).toContainText('offline_access');
    await expect(page.getByTestId('dropped-scopes')).toContainText('refresh_token');
    await expect(page.getByTestId('no-launch-url')).toBeVisible();
    await page.locator('#launchUris').fill(`${APP}/console-launch`);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect(page.getByTestId('client-result')).toBeVisible();
    await page.goto(`${base}/console/clients/${clientId}`);
    await expect(page.getByTestId('no-launch-url')).toHaveCount(0);
    await page.goto(`${base}/`);
    await page.getByLabel('App', { exact: true }).selectOption(clientId);
    await expect(page.getByTestId('launch-url')).toContainText(`${APP}/console-launch`);
  });

  test('the backend demo runs from the console', async ({ page }) => {
    const base = consoleUrl();
    await signIn(page, base);
    await page.goto(`${base}/console/backend-demo`);
    await page.getByRole('button', { name: 'Run backend demo' }).click();
    const steps = page.getByTestId('backend-demo-step');
    await expect(steps).toHaveCount(5, { timeout: 20_000 });
    await expect(steps.nth(1)).toContainText('HTTP 200');
    await expect(steps.nth(4)).toContainText('HTTP 403');
  });
});
