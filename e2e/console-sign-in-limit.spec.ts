import { test, expect } from '@playwright/test';
// @ts-expect-error plain ESM helper without types
import { startServer } from '../scripts/lib/test-server.mjs';

// Brute-force protection of the console's password sign-in (NIST SP 800-63B §5.2.2), in the
// browser: after RATE_LIMIT_SIGNIN_PERSONA failed attempts for one console username, the right
// password is refused too and the login page says sign-in is locked and for about how long. A
// server of its own on the e2e database, with its own console account and a low limit.

const USER = 'e2e-lock-teacher';
const PASSWORD = 'e2e-lock-password-1';
const LIMIT = 2;

let server: { url: string; stop: () => Promise<void> } | null = null;

test.beforeAll(async () => {
  test.skip(!process.env.E2E_DATABASE_URL, 'needs the database of the e2e server (E2E_DATABASE_URL)');
  server = (await startServer({
    databaseUrl: process.env.E2E_DATABASE_URL,
    env: { CONSOLE_USER: USER, CONSOLE_PASSWORD: PASSWORD, RATE_LIMIT_SIGNIN_PERSONA: String(LIMIT) },
  })) as { url: string; stop: () => Promise<void> };
});

test.afterAll(async () => {
  await server?.stop();
});

test('after too many failed console sign-ins the right password is refused and the page says for about how long', async ({ page }) => {
  test.setTimeout(120_000);
  const base = server?.url ?? '';
  // Fixed 15-minute windows: do not straddle the end of one.
  const left = 900 - ((Date.now() / 1000) % 900);
  if (left < 30) await page.waitForTimeout(left * 1000 + 1000);

  await page.goto(`${base}/console/login?callbackUrl=%2Fconsole%2Ftokens`);
  for (let i = 0; i < LIMIT; i++) {
    await page.fill('#username', USER);
    await page.fill('#password', `wrong-${i}`);
    await page.click('button[type=submit]');
    await expect(page.locator('form [role=alert]')).toHaveText('Wrong username or password, or this account is not allowed here.');
  }
  await expect(page.getByTestId('sign-in-locked')).toHaveCount(0);

  await page.fill('#username', USER);
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
  const notice = page.getByTestId('sign-in-locked');
  await expect(notice).toHaveText(
    /^Too many failed sign-in attempts for this user: sign-in as this user is locked for about (\d+) minutes?, even with the right password \(brute-force protection\)\. Try again later\.$/,
  );
  const minutes = Number(/about (\d+) minute/.exec((await notice.textContent()) ?? '')?.[1]);
  expect(Math.abs(minutes - Math.ceil((900 - ((Date.now() / 1000) % 900)) / 60))).toBeLessThanOrEqual(1);
  await expect(page).toHaveURL(/\/console\/login\?error=locked-user/);

  // Not signed in: the console still sends us to the login page.
  await page.goto(`${base}/console/tokens`);
  await expect(page).toHaveURL(/\/console\/login/);
});
