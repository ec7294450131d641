import type { FrameLocator, Page } from '@playwright/test';
import { allowIfAsked, pickOrdinaryPatient } from '../helpers';

/**
 * On the launcher page as configured, picks an ordinary patient and launches into the EHR frame,
 * allowing on the consent screen if it is shown; returns the app's frame and the patient's name.
 */
export async function launchIntoEhrFrame(page: Page): Promise<{ app: FrameLocator; name: string }> {
  const name = await pickOrdinaryPatient(page);
  await page.getByRole('button', { name: 'Launch', exact: true }).click();
  await page.waitForURL(/\/ehr\//);
  const app = page.frameLocator('iframe.ehr-app');
  await allowIfAsked(app);
  return { app, name };
}
