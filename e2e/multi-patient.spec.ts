import { test, expect } from '@playwright/test';
import type { Page } from '@playwright/test';
import { failOnDialog } from './helpers';

/** Clicks the first `count` listed patients with ordinary names (no markup); returns their names. */
async function pickOrdinaryPatients(page: Page, count: number): Promise<string[]> {
  const picks = page.locator('.pick');
  await expect(picks.first()).toBeVisible();
  const names = (await picks.locator('.patient-name').allTextContents()).map((n) => n.trim());
  const indexes = names.flatMap((n, i) => (/^[\p{L} .'’-]+$/u.test(n) ? [i] : [])).slice(0, count);
  expect(indexes, 'enough ordinary patients are listed').toHaveLength(count);
  for (const i of indexes) await picks.nth(i).click();
  return indexes.map((i) => names[i] ?? '');
}

// Issue 6 item 2: multiple patients for population apps.
test('provider standalone: several patients are chosen, summarised and launched', async ({ page }) => {
  failOnDialog(page);
  await page.goto('/');
  await page.getByLabel('Provider standalone launch').check();
  await page.getByLabel('Several patients (population app)').check();
  await expect(page.getByRole('listbox', { name: 'Patients' })).toHaveAttribute('aria-multiselectable', 'true');

  const [first, second, third] = await pickOrdinaryPatients(page, 3);
  const selected = page.getByRole('list', { name: 'Selected patients' });
  await expect(selected.getByRole('listitem')).toHaveCount(3);
  await expect(page.getByTestId('launch-summary')).toContainText(`3 patients: ${first}, ${second}, ${third}`);

  await page.getByRole('button', { name: `Remove ${second}` }).click();
  await expect(selected.getByRole('listitem')).toHaveCount(2);
  await expect(page.getByTestId('launch-summary')).toContainText(`2 patients: ${first}, ${third}`);

  // The server accepts the list: the launch starts and the browser leaves the launcher for the app.
  await page.getByRole('button', { name: 'Launch', exact: true }).click();
  await page.waitForURL((url) => url.pathname !== '/');
  await expect(page.getByRole('alert')).toHaveCount(0);
});

test('an EHR launch keeps one patient: switching back drops the others', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('Provider standalone launch').check();
  await page.getByLabel('Several patients (population app)').check();
  const [first] = await pickOrdinaryPatients(page, 2);
  await expect(page.getByTestId('launch-summary')).toContainText('2 patients');

  await page.getByLabel('Provider EHR launch').check();
  await expect(page.getByLabel('Several patients (population app)')).toHaveCount(0);
  await expect(page.getByRole('listbox', { name: 'Patients' })).toHaveAttribute('aria-multiselectable', 'false');
  await expect(page.getByTestId('launch-summary')).toContainText(`1 patient: ${first}`);
  await expect(page.locator('.pick[aria-selected="true"]')).toHaveCount(1);
});
