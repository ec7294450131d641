import { test, expect } from '@playwright/test';
import { allowIfAsked, backendTokenRequest, failOnDialog, pickOrdinaryPatient, registerBackendClient, startBackendLaunch } from './helpers';

// Issue 6 item 1: every launch type the launcher offers, end to end. The provider EHR launch, the
// patient and provider standalone launches are in ehr-launch.spec.ts and standalone-launch.spec.ts.

test('patient portal launch: the sample app opens in the EHR frame for the signed-in patient', async ({ page }) => {
  failOnDialog(page);
  await page.goto('/');
  await page.getByLabel('Patient portal launch').check();
  const name = await pickOrdinaryPatient(page);
  const patientId = (await page.locator('.pick.selected').getAttribute('data-patient-id')) ?? '';
  expect(patientId).not.toBe('');
  // The portal's user is the patient: the launcher preselects them.
  await expect(page.getByLabel('User', { exact: true })).toHaveValue(`Patient/${patientId}`);
  await page.getByRole('button', { name: 'Launch', exact: true }).click();

  await page.waitForURL(/\/ehr\//);
  await expect(page.getByTestId('banner-name')).toHaveText(name);
  const app = page.frameLocator('iframe.ehr-app');
  await allowIfAsked(app);
  await expect(app.getByTestId('sample-patient-name')).toHaveText(name, { timeout: 20_000 });
  await expect(app.getByTestId('section-vitals')).toHaveAttribute('data-state', 'ok');
  // The access token names the patient both as context and as the user (fhirUser).
  const claims = JSON.parse((await app.locator('pre').nth(1).textContent()) ?? '{}') as Record<string, unknown>;
  expect(claims.patient).toBe(patientId);
  expect(claims.fhirUser).toBe(`Patient/${patientId}`);
  expect(claims.sub).toBe(`Patient/${patientId}`);
});

test('backend service: the launcher shows the token URL and a curl; that request gets a system token that reads FHIR data', async ({ page }) => {
  failOnDialog(page);
  const client = await registerBackendClient(page.request, `e2e backend ${Date.now()}`);
  await page.goto('/');
  await page.getByLabel('Backend service').check();
  // Only backend clients are offered, and one of them is chosen.
  const options = await page
    .getByLabel('App', { exact: true })
    .locator('option')
    .evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value));
  expect(options).toContain(client.clientId);
  expect(options).not.toContain('sample-app');
  // The app shown is the app launched: without touching the picker, the instructions are for it.
  const shownApp = await page.getByLabel('App', { exact: true }).inputValue();
  expect(options).toContain(shownApp);
  await expect(page.getByTestId('launch-summary')).toContainText(`Backend service of `);
  await expect(page.getByTestId('launch-summary')).not.toContainText('sample app');
  await page.getByRole('button', { name: 'Show backend instructions' }).click();
  await expect(page.getByTestId('backend-instructions')).toContainText(`client_id ${shownApp}`);
  await expect(page.locator('p.error[role=alert]')).toHaveCount(0);

  const shown = await startBackendLaunch(page, client.clientId);
  expect(shown.clientId).toBe(client.clientId);
  expect(shown.tokenUrl).toMatch(/\/oauth\/token$/);
  expect(shown.fhirBase).toMatch(/\/fhir$/);
  await expect(page.getByTestId('backend-instructions')).toContainText('openssl ecparam -name secp384r1');

  const res = await backendTokenRequest(page.request, client, shown.tokenUrl, shown.scope);
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'system/*.rs' });
  expect(res.body).not.toHaveProperty('refresh_token');
  const patients = await page.request.get(`${shown.fhirBase}/Patient?_count=2`, { headers: { authorization: `Bearer ${String(res.body.access_token)}` } });
  expect(patients.status()).toBe(200);
  const bundle = (await patients.json()) as { resourceType?: string; entry?: unknown[] };
  expect(bundle.resourceType).toBe('Bundle');
  expect(bundle.entry?.length).toBeGreaterThan(0);
});
