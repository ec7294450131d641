import { test, expect } from '@playwright/test';
import { failOnDialog } from './helpers';

// Issue 6: patient standalone launch with one resource type unticked at consent.
test('patient standalone: sign in as a patient persona, untick Condition, the app shows conditions as denied', async ({ page }) => {
  failOnDialog(page);
  await page.goto('/');
  await page.getByLabel('Patient standalone launch').check();
  await page.getByRole('button', { name: 'Launch', exact: true }).click();

  await page.waitForURL(/\/interaction\//);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await expect(page.getByText('every persona uses the password')).toBeVisible();
  const persona = page.locator('button.persona[data-persona^="Patient/"]').first();
  const name = ((await persona.locator('strong').textContent()) ?? '').trim();
  await persona.click();

  await expect(page.getByRole('heading', { name: /^Allow / })).toBeVisible();
  await expect(page.getByText('Long-lived access.')).toBeVisible();
  await page.locator('.scope[data-scope="patient/Condition.rs"] input[name^="keep."]').uncheck();
  await page.getByRole('button', { name: 'Allow' }).click();

  await page.waitForURL(/\/sample-app/);
  await expect(page.getByTestId('sample-patient-name')).toHaveText(name, { timeout: 20_000 });
  await expect(page.getByTestId('granted-scopes')).not.toContainText('patient/Condition.rs');
  await expect(page.getByTestId('section-conditions')).toHaveAttribute('data-state', 'denied');
  await expect(page.getByTestId('denied-conditions')).toContainText('403');
  await expect(page.getByTestId('section-vitals')).toHaveAttribute('data-state', 'ok');
  await expect(page.getByTestId('section-medications')).toHaveAttribute('data-state', 'ok');
});

test('patient standalone: granular consent grants vital signs only', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('Patient standalone launch').check();
  await page.getByRole('button', { name: 'Launch', exact: true }).click();
  await page.waitForURL(/\/interaction\//);
  await page.locator('button.persona[data-persona^="Patient/"]').first().click();
  const obs = page.locator('.scope[data-scope="patient/Observation.rs"]');
  await obs.locator('input[value="categories"]').check();
  await obs.locator('input[value$="|vital-signs"]').check();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(/\/sample-app/);
  await expect(page.getByTestId('granted-scopes')).toContainText(
    'patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs',
  );
  await expect(page.getByTestId('section-vitals')).toHaveAttribute('data-state', 'ok', { timeout: 20_000 });
});

test('provider standalone: a practitioner picks the patient with the picker', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('Provider standalone launch').check();
  await page.getByRole('button', { name: 'Launch', exact: true }).click();
  await page.waitForURL(/\/interaction\//);
  await page.locator('button.persona[data-persona^="Practitioner/"]').first().click();

  await expect(page.getByRole('heading', { name: 'Choose a patient' })).toBeVisible();
  const rows = page.locator('tbody tr').filter({ has: page.getByRole('link', { name: /^Select / }) });
  const names = await rows.locator('td.patient-name').allInnerTexts();
  const index = names.findIndex((n) => /^[\p{L} .'’-]+ ·/u.test(n.trim()));
  const row = rows.nth(index);
  const name = ((await row.locator('td.patient-name').innerText()).split(' · ')[0] ?? '').trim();
  await page.getByLabel('Name').fill(name.split(' ').pop() ?? name);
  await page.getByRole('button', { name: 'Search' }).click();
  await page
    .getByRole('link', { name: `Select ${name}` })
    .first()
    .click();

  await expect(page.getByRole('heading', { name: /^Allow / })).toBeVisible();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(/\/sample-app/);
  await expect(page.getByTestId('sample-patient-name')).toHaveText(name, { timeout: 20_000 });
});

test('deny at consent returns access_denied to the app', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('Patient standalone launch').check();
  await page.getByRole('button', { name: 'Launch', exact: true }).click();
  await page.waitForURL(/\/interaction\//);
  await page.locator('button.persona[data-persona^="Patient/"]').first().click();
  await page.getByRole('button', { name: 'Deny' }).click();
  await page.waitForURL(/\/sample-app\?error=access_denied/);
  await expect(page.getByTestId('sample-error')).toContainText('access_denied');
});
