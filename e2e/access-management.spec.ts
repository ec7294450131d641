import { test, expect } from '@playwright/test';
import { failOnDialog } from './helpers';

// The management_endpoint page (docs/CONFORMANCE.md #19, #136): a patient who authorized the sample
// app sees it listed with what it may read, revokes it, and the app's refresh token stops working.
test('a patient sees the sample app on the access page, revokes it, and the app can no longer refresh', async ({ page, context }) => {
  failOnDialog(page);
  await page.goto('/');
  await page.getByLabel('Patient standalone launch').check();
  await page.getByRole('button', { name: 'Launch', exact: true }).click();
  await page.waitForURL(/\/interaction\//);
  const persona = page.locator('button.persona[data-persona^="Patient/"]').first();
  const fhirUser = (await persona.getAttribute('data-persona')) ?? '';
  await persona.click();
  await expect(page.getByText('Long-lived access.')).toBeVisible();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(/\/sample-app/);
  await expect(page.getByTestId('section-vitals')).toHaveAttribute('data-state', 'ok', { timeout: 20_000 });
  await page.getByRole('button', { name: 'Refresh token' }).click();
  await expect(page.getByTestId('refresh-message')).toContainText('Refreshed');

  // Discovery's management_endpoint, opened in another tab of the same browser (same sign-in).
  const config = (await (await page.request.get('/fhir/.well-known/smart-configuration')).json()) as { management_endpoint: string };
  const manage = await context.newPage();
  failOnDialog(manage);
  await manage.goto(config.management_endpoint);
  await expect(manage.getByRole('heading', { name: 'Apps with access to your data' })).toBeVisible();
  await expect(manage.getByText(`(${fhirUser})`)).toBeVisible();
  const card = manage.locator('[data-testid="access-app"][data-client-id="sample-app"]');
  await expect(card.getByRole('heading', { name: 'SMART Sandbox sample app' })).toBeVisible();
  await expect(card).toContainText('patient/Observation.rs');
  await expect(card).toContainText('refresh token');
  await card.getByRole('button', { name: /^Revoke access of / }).click();
  await expect(manage.getByTestId('access-revoked')).toContainText('Access of SMART Sandbox sample app revoked');
  await expect(manage.locator('[data-testid="access-app"][data-client-id="sample-app"]')).toHaveCount(0);

  await page.bringToFront();
  await page.getByRole('button', { name: 'Refresh token' }).click();
  await expect(page.getByTestId('refresh-message')).toContainText('Refresh failed');
});

test('signed out, the access page signs a persona in and shows its list, and signs it out', async ({ page }) => {
  failOnDialog(page);
  const config = (await (await page.request.get('/fhir/.well-known/smart-configuration')).json()) as { management_endpoint: string };
  // The launcher links to the advertised management_endpoint.
  await page.goto('/');
  await page.getByRole('link', { name: 'App access' }).click();
  await page.waitForURL(config.management_endpoint);
  await expect(page.getByRole('heading', { name: 'Sign in to see which apps have access' })).toBeVisible();
  await page.getByLabel('Username').fill('Patient/pat-42-3');
  await page.getByLabel('Password').fill('sandbox');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Apps with access to your data' })).toBeVisible();
  await expect(page.getByText('(Patient/pat-42-3)')).toBeVisible();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in to see which apps have access' })).toBeVisible();
});
