import { test, expect } from '@playwright/test';
import type { Page } from '@playwright/test';
import { failOnDialog, pickOrdinaryPatient } from './helpers';

// Issue 6: every simulated error produces, in the sample app, the failure it promises — made by the
// real authorization server and FHIR API, for that launch only.

/** Launches the sample app (provider EHR launch, not framed, skip sign-in and consent) with a simulated error. */
async function launchWith(page: Page, kind: string, configure?: (page: Page) => Promise<void>): Promise<string> {
  failOnDialog(page);
  await page.goto('/');
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
    const state = (key ? JSON.parse(sessionStorage.getItem(key) ?? '{}') : {}) as { clientId?: string; tokenResponse?: { access_token?: string; refresh_token?: string } };
    return { accessToken: state.tokenResponse?.access_token ?? '', refreshToken: state.tokenResponse?.refresh_token ?? '', clientId: state.clientId ?? '' };
  });
}

/**
 * The app's refresh request (RFC 6749 §6, public client: client_id in the body). Sent from the test
 * because the sample app's Refresh button (fhirclient without refreshTokenWithClientId) omits client_id.
 */
async function refreshAsTheApp(page: Page): Promise<{ status: number; body: Record<string, unknown> }> {
  const { refreshToken, clientId } = await appTokens(page);
  const res = await page.request.post('/oauth/token', { form: { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId } });
  return { status: res.status(), body: (await res.json()) as Record<string, unknown> };
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
  test(`${kind}: the app's data loads, its refresh answers 400 invalid_grant`, async ({ page }) => {
    await launchWith(page, kind);
    await page.waitForURL(/\/sample-app\?/);
    await expect(page.getByTestId('sample-patient-name')).toBeVisible({ timeout: 20_000 });
    const refreshed = await refreshAsTheApp(page);
    expect(refreshed.status).toBe(400);
    expect(refreshed.body.error).toBe('invalid_grant');
    expect(String(refreshed.body.error_description)).toContain(reason);
  });
}
