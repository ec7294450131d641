import { test, expect } from '@playwright/test';
import type { Page } from '@playwright/test';
import { allowIfAsked, failOnDialog, pickOrdinaryPatient } from './helpers';

// Issue 18: a patient standalone launch after an EHR launch in the same browser must not continue
// as the practitioner the EHR launch signed in, unless the user chooses to.

async function ehrLaunchAsPractitioner(page: Page): Promise<string> {
  await page.goto('/');
  const user = page.getByLabel('User', { exact: true });
  const practitioner = await user.inputValue();
  expect(practitioner).toMatch(/^Practitioner\//);
  const name = await pickOrdinaryPatient(page);
  await page.getByRole('button', { name: 'Launch', exact: true }).click();
  await page.waitForURL(/\/ehr\//);
  const app = page.frameLocator('iframe.ehr-app');
  await allowIfAsked(app);
  await expect(app.getByTestId('sample-patient-name')).toHaveText(name, { timeout: 20_000 });
  return practitioner;
}

async function patientStandaloneLaunch(page: Page): Promise<void> {
  await page.goto('/');
  await page.getByLabel('Patient standalone launch').check();
  await page.getByRole('button', { name: 'Launch', exact: true }).click();
  await page.waitForURL(/\/interaction\//);
}

test('after an EHR launch as a practitioner, a patient standalone launch asks who signs in; switching signs a patient in', async ({ page }) => {
  failOnDialog(page);
  const practitioner = await ehrLaunchAsPractitioner(page);
  await patientStandaloneLaunch(page);

  await expect(page.getByRole('heading', { name: 'Who is signing in?' })).toBeVisible();
  await expect(page.getByTestId('signed-in-as')).toContainText(practitioner);
  await expect(page.getByRole('heading', { name: /^Allow / })).toHaveCount(0);
  await page.getByRole('button', { name: 'Sign in as a patient' }).click();

  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await expect(page.getByText('Not signed in')).toBeVisible();
  // Patients are offered first on a patient launch.
  const persona = page.locator('button.persona').first();
  await expect(persona).toHaveAttribute('data-persona', /^Patient\//);
  const name = ((await persona.locator('strong').textContent()) ?? '').trim();
  await persona.click();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(/\/sample-app/);
  await expect(page.getByTestId('sample-patient-name')).toHaveText(name, { timeout: 20_000 });
});

test('the practitioner may choose to continue, and then picks the patient', async ({ page }) => {
  const practitioner = await ehrLaunchAsPractitioner(page);
  await patientStandaloneLaunch(page);
  await expect(page.getByRole('heading', { name: 'Who is signing in?' })).toBeVisible();
  await page.getByRole('button', { name: /^Continue as / }).click();
  await expect(page.getByRole('heading', { name: 'Choose a patient' })).toBeVisible();
  await expect(page.getByText(`(${practitioner})`)).toBeVisible();
});
