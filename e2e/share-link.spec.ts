import { test, expect } from '@playwright/test';
import { pickOrdinaryPatient } from './helpers';

test('a shareable link reproduces the launch configuration', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('Patient portal launch').check();
  const name = await pickOrdinaryPatient(page);
  await page.getByLabel('Skip consent (approve all requested scopes)').check();
  await page.getByLabel('Simulated error').selectOption('fhir_rate_limited');
  await page.getByRole('button', { name: 'Share link' }).click();
  const link = page.locator('a', { hasText: '/l/' });
  await expect(link).toBeVisible();
  const url = (await link.getAttribute('href')) ?? '';
  expect(url).toMatch(/\/l\/[A-Za-z0-9]{10}$/);
  expect(url).not.toContain('secret');

  const other = await page.context().newPage();
  await other.goto(url);
  await expect(other.getByLabel('Patient portal launch')).toBeChecked();
  await expect(other.getByLabel('Skip consent (approve all requested scopes)')).toBeChecked();
  await expect(other.getByLabel('Simulated error')).toHaveValue('fhir_rate_limited');
  await expect(other.getByTestId('patient-preview')).toContainText(name);
});
