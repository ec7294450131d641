import { test, expect } from '@playwright/test';
import { allowIfAsked, failOnDialog, pickOrdinaryPatient } from './helpers';

// Issue 6: provider EHR launch of the sample app from the launcher, inside the EHR frame.
test('provider EHR launch: the sample app in the EHR frame shows the chosen patient and vitals', async ({ page }) => {
  failOnDialog(page);
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Launch a SMART app');
  await expect(page.getByLabel('App', { exact: true })).toHaveValue('sample-app');
  await expect(page.getByLabel('Provider EHR launch')).toBeChecked();

  const name = await pickOrdinaryPatient(page);
  await page.getByRole('button', { name: 'Launch', exact: true }).click();

  await page.waitForURL(/\/ehr\//);
  await expect(page.getByTestId('banner-name')).toHaveText(name);
  await expect(page.getByTestId('patient-banner')).toContainText('MRN');
  // The banner's age is the patient's, in whole years from the birth date it shows.
  const dob = /DOB (\d{4}-\d{2}-\d{2})/.exec((await page.getByTestId('patient-banner').textContent()) ?? '')?.[1] ?? '';
  const born = new Date(`${dob}T00:00:00Z`);
  const today = new Date();
  const years =
    today.getUTCFullYear() - born.getUTCFullYear() - (today.getUTCMonth() * 100 + today.getUTCDate() < born.getUTCMonth() * 100 + born.getUTCDate() ? 1 : 0);
  await expect(page.getByTestId('patient-banner')).toContainText(`DOB ${dob} (${years} y)`);

  const app = page.frameLocator('iframe.ehr-app');
  await allowIfAsked(app);
  await expect(app.getByTestId('sample-patient-name')).toHaveText(name, { timeout: 20_000 });
  await expect(app.getByTestId('section-vitals')).toHaveAttribute('data-state', 'ok');
  await expect(app.getByTestId('vitals').locator('tbody tr').first()).toBeVisible();
  // Framed: the token response tells the app the EHR shows the banner.
  await expect(app.locator('pre').first()).toContainText('"need_patient_banner": false');
});

test('skip consent launches straight into the app', async ({ page }) => {
  await page.goto('/');
  const name = await pickOrdinaryPatient(page);
  await page.getByLabel('Skip consent (approve all requested scopes)').check();
  await page.getByRole('button', { name: 'Launch', exact: true }).click();
  await page.waitForURL(/\/ehr\//);
  const app = page.frameLocator('iframe.ehr-app');
  await expect(app.getByTestId('sample-patient-name')).toHaveText(name, { timeout: 20_000 });
});

test('the interaction screens are framable only by the sandbox itself', async ({ page, request }) => {
  await page.goto('/');
  await page.getByLabel('Provider standalone launch').check();
  await page.getByRole('button', { name: 'Launch', exact: true }).click();
  await page.waitForURL(/\/interaction\//);
  const res = await request.get(page.url());
  expect(res.headers()['content-security-policy']).toContain("frame-ancestors 'self'");
  expect(res.headers()['x-frame-options']).toBe('SAMEORIGIN');
  expect(res.headers()['cache-control']).toBe('no-store');
});
