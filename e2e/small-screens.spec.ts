import { test, expect } from '@playwright/test';
import type { Page } from '@playwright/test';
import { allowIfAsked, CONSOLE_PASSWORD, CONSOLE_USER, pickOrdinaryPatient, useConsoleServer } from './helpers';

// Every page is usable on a 390 px wide phone: nothing makes the page itself scroll sideways (wide
// tables scroll inside their own box).
test.use({ viewport: { width: 390, height: 844 } });

/** How far the page scrolls sideways, and the widest element that makes it (for the failure message). */
async function pageOverflow(page: Page): Promise<number> {
  const { overflow, widest } = await page.evaluate(() => {
    const limit = document.documentElement.clientWidth;
    let widest = '';
    for (const el of Array.from(document.querySelectorAll('body *'))) {
      const r = el.getBoundingClientRect();
      if (r.right > limit + 1 && !widest)
        widest = `${el.tagName.toLowerCase()}.${(el.getAttribute('class') ?? '').replace(/ /g, '.')} (${Math.round(r.right)} px)`;
    }
    return { overflow: document.documentElement.scrollWidth - limit, widest };
  });
  if (overflow > 0) console.log(`${page.url()}: ${overflow} px too wide, first at ${widest}`);
  return overflow;
}

test('the launcher, the EHR frame and the sample app fit a 390 px screen', async ({ page, request }) => {
  // A client with a long name widens the app picker's options: the picker must still fit.
  const registered = await request.post('/oauth/register', {
    data: {
      client_name: `A SMART app with a very long name that no phone screen can show on one line ${'x'.repeat(60)}`,
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://localhost:8080/callback'],
      launch_uris: ['http://localhost:8080/launch'],
      scope: 'launch patient/*.rs',
    },
  });
  expect(registered.status()).toBe(201);
  await page.goto('/tools/jwks');
  expect(await pageOverflow(page), 'JWKS helper').toBeLessThanOrEqual(0);
  await page.goto('/?scenario=builtin-non-ascii');
  expect(await pageOverflow(page), 'launcher with a scenario').toBeLessThanOrEqual(0);
  await page.goto('/');
  expect(await pageOverflow(page), 'launcher').toBeLessThanOrEqual(0);
  await pickOrdinaryPatient(page);
  await page.getByRole('button', { name: 'Launch', exact: true }).click();
  await page.waitForURL(/\/ehr\//);
  const app = page.frameLocator('iframe.ehr-app');
  await allowIfAsked(app);
  await expect(app.getByTestId('section-vitals')).toHaveAttribute('data-state', 'ok', { timeout: 20_000 });
  expect(await pageOverflow(page), 'EHR frame').toBeLessThanOrEqual(0);
  const frame = page.frames().find((f) => new URL(f.url()).pathname === '/sample-app');
  expect(frame).toBeDefined();
  expect(await frame!.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth), 'sample app').toBeLessThanOrEqual(0);
});

test.describe('console', () => {
  const consoleUrl = useConsoleServer();

  test('every console page fits a 390 px screen', async ({ page }) => {
    const base = consoleUrl();
    await page.goto(`${base}/console/login`);
    await page.fill('#username', CONSOLE_USER);
    await page.fill('#password', CONSOLE_PASSWORD);
    await page.click('button[type=submit]');
    await expect(page).toHaveURL(/\/console\/tokens/);
    for (const path of [
      'tokens',
      'audit',
      'alerts',
      'flows',
      'clients',
      'clients/sample-app',
      'clients/sample-app/report',
      'scopes',
      'rate-limits',
      'data',
      'backend-demo',
    ]) {
      await page.goto(`${base}/console/${path}`);
      await expect(page.locator('h1').first()).toBeVisible();
      expect(await pageOverflow(page), path).toBeLessThanOrEqual(0);
    }
  });
});
