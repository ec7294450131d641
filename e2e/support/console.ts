import { expect } from '@playwright/test';
import type { Page } from '@playwright/test';
import { CONSOLE_PASSWORD, CONSOLE_USER } from '../helpers';

/** Signs in to the console at `base` (a server from useConsoleServer()) with its configured account; lands on the token list. */
export async function signInToConsole(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/console/login`);
  await page.fill('#username', CONSOLE_USER);
  await page.fill('#password', CONSOLE_PASSWORD);
  await page.click('button[type=submit]');
  await expect(page).toHaveURL(/\/console\/tokens/);
}
