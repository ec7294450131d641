import { test, expect } from '@playwright/test';
import { failOnDialog } from './helpers';

// The roster's `roster-html-name` patient: markup, quotes and SQL in the name must render as text.
const MARKUP = '<script>alert("pwned")</script>';

test('hostile patient names render as text in the launcher, the EHR banner and the interaction screens', async ({ page }) => {
  failOnDialog(page);
  await page.goto('/');
  await page.getByLabel('Patient name').fill("O'Brien");
  await page.getByRole('button', { name: 'Search' }).click();
  const pick = page.locator('.pick', { hasText: MARKUP });
  await expect(pick).toBeVisible();
  await expect(page.locator('.picker script, .picker b')).toHaveCount(0);
  await pick.click();
  await expect(page.getByTestId('patient-preview')).toContainText(MARKUP);

  await page.getByRole('button', { name: 'Launch', exact: true }).click();
  await page.waitForURL(/\/ehr\//);
  await expect(page.getByTestId('banner-name')).toContainText(MARKUP);
  await expect(page.getByTestId('banner-name')).toContainText('<b>Sons</b>');
  await expect(page.locator('[data-testid="banner-name"] *')).toHaveCount(0);

  const app = page.frameLocator('iframe.ehr-app');
  const consentName = app.locator('.patient-name');
  await expect(consentName.first()).toContainText(MARKUP, { timeout: 15_000 });
  await expect(app.locator('main script')).toHaveCount(0);
});

test('hostile names render as text in the practitioner patient picker', async ({ page }) => {
  failOnDialog(page);
  await page.goto('/');
  await page.getByLabel('Provider standalone launch').check();
  await page.getByRole('button', { name: 'Launch', exact: true }).click();
  await page.waitForURL(/\/interaction\//);
  await page.locator('button.persona[data-persona^="Practitioner/"]').first().click();
  await page.getByLabel('Name').fill("o'brien");
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page.locator('td.patient-name', { hasText: MARKUP })).toBeVisible();
  await expect(page.locator('main script, td b')).toHaveCount(0);
});
