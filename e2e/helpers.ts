import { expect } from '@playwright/test';
import type { FrameLocator, Page } from '@playwright/test';

/** Picks, in the launcher, the first listed patient with an ordinary name (no markup); returns the name. */
export async function pickOrdinaryPatient(page: Page, search = ''): Promise<string> {
  if (search) {
    await page.getByLabel('Patient name').fill(search);
    await page.getByRole('button', { name: 'Search' }).click();
  }
  const picks = page.locator('.pick');
  await expect(picks.first()).toBeVisible();
  const names = await picks.locator('.patient-name').allTextContents();
  const index = names.findIndex((n) => /^[\p{L} .'’-]+$/u.test(n.trim()));
  expect(index, 'an ordinary patient is listed').toBeGreaterThanOrEqual(0);
  await picks.nth(index).click();
  await expect(page.getByTestId('patient-preview')).toBeVisible();
  return (names[index] ?? '').trim();
}

/** Clicks Allow on the consent screen when it is shown (skip consent may be on). */
export async function allowIfAsked(scope: Page | FrameLocator): Promise<void> {
  const allow = scope.getByRole('button', { name: 'Allow' });
  await allow.waitFor({ timeout: 15_000 }).catch(() => undefined);
  if (await allow.isVisible().catch(() => false)) await allow.click();
}

/** Fails the test if any JavaScript dialog (alert) opens: injected markup would do that. */
export function failOnDialog(page: Page): void {
  page.on('dialog', async (dialog) => {
    await dialog.dismiss();
    throw new Error(`unexpected dialog: ${dialog.message()}`);
  });
}
