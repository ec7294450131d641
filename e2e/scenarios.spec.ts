import { test, expect } from '@playwright/test';
import { failOnDialog } from './helpers';

// Issue 18, named scenarios: load a built-in one, save a changed copy, duplicate, delete, share, and
// save a share link as a scenario; an unknown share link gets a helpful page.

test('a built-in scenario loads; the changed form is saved, duplicated and deleted as named scenarios', async ({ page }) => {
  failOnDialog(page);
  await page.goto('/');
  await page.getByLabel('Scenario', { exact: true }).selectOption('builtin-deceased');
  await expect(page.getByTestId('scenario-description')).toContainText('deceasedDateTime');
  await page.getByRole('button', { name: 'Load', exact: true }).click();
  await page.waitForURL(/\?scenario=builtin-deceased$/);
  await expect(page.getByTestId('loaded-scenario')).toContainText('Deceased patient');
  await expect(page.getByTestId('patient-preview')).toContainText('Harold James Whitcombe');
  await expect(page.getByTestId('patient-preview')).toContainText('deceased');

  const name = `Deceased, rate limited ${Date.now()}`;
  await page.getByLabel('Simulated error').selectOption('fhir_rate_limited');
  await page.getByLabel('Scenario name').fill(name);
  await page.getByLabel('Scenario description').fill('429 on every FHIR call');
  await page.getByRole('button', { name: 'Save as new scenario' }).click();
  await page.waitForURL(/\?scenario=sc-[0-9a-f]{12}$/);
  await expect(page.getByTestId('loaded-scenario')).toContainText(name);
  await expect(page.getByLabel('Simulated error')).toHaveValue('fhir_rate_limited');
  await expect(page.getByTestId('patient-preview')).toContainText('Harold James Whitcombe');
  const savedUrl = page.url();

  await page.getByRole('button', { name: 'Duplicate' }).click();
  await page.waitForURL((url) => url.href !== savedUrl && /\?scenario=sc-/.test(url.href));
  await expect(page.getByTestId('loaded-scenario')).toContainText(`${name} (copy)`);
  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.waitForURL((url) => url.search === '');
  const names = await page.getByLabel('Scenario', { exact: true }).locator('option').allTextContents();
  expect(names).toContain(name);
  expect(names).not.toContain(`${name} (copy)`);
});

test('a shared scenario opens in another browser, and that share link is saved as a scenario there', async ({ page, browser }) => {
  await page.goto('/?scenario=builtin-non-ascii');
  await page.getByRole('button', { name: 'Share scenario' }).click();
  const link = page.getByTestId('scenarios').locator('a', { hasText: '/l/' });
  await expect(link).toBeVisible();
  const url = (await link.getAttribute('href')) ?? '';
  const code = /\/l\/([A-Za-z0-9]{10})$/.exec(url)?.[1] ?? '';
  expect(code).not.toBe('');

  const other = await (await browser.newContext()).newPage();
  await other.goto(url);
  await expect(other.getByTestId('patient-preview')).toContainText('Zoë Siân Ñúñez-Ødegård');
  await expect(other.getByLabel('Scenario name')).toHaveValue(`Shared launch ${code}`);
  await other.getByRole('button', { name: 'Save as new scenario' }).click();
  await other.waitForURL(/\?scenario=sc-/);
  await expect(other.getByTestId('loaded-scenario')).toContainText(`Shared launch ${code}`);
  await expect(other.getByTestId('patient-preview')).toContainText('Zoë Siân Ñúñez-Ødegård');
});

test('an unknown share link gets a page that explains it and offers the launcher and the built-in scenarios', async ({ page }) => {
  await page.goto('/l/zzzzzzzzzz');
  await expect(page.getByRole('heading', { name: 'This launch link is unknown' })).toBeVisible();
  await page.getByRole('link', { name: 'Pediatric growth chart' }).click();
  await page.waitForURL(/\?scenario=builtin-growth-chart$/);
  await expect(page.getByTestId('patient-preview')).toContainText('Mateo Ray Lindgren');
});
