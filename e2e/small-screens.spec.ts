import { test, expect } from '@playwright/test';
import type { Page } from '@playwright/test';
import { allowIfAsked, CONSOLE_PASSWORD, CONSOLE_USER, pickOrdinaryPatient, useConsoleServer } from './helpers';
import { APP_REDIRECT_URI, buildAuthorizationRequest, discover, registerPublicClient } from '../test/integration/support/smart-client';

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

test('the authorization screens fit a 390 px screen: sign-in, patient and encounter pickers, consent, access management, error page', async ({
  page,
  baseURL,
}) => {
  const base = (baseURL ?? '').replace(/\/+$/, '');
  const as = await discover(base);
  // A long client name and id-like strings are what widen these screens.
  const reg = await registerPublicClient(base, { client_name: `An app whose name is far too long for one line on a phone ${'y'.repeat(60)}` });
  const scope =
    'openid fhirUser launch/patient launch/encounter offline_access patient/Patient.rs patient/Observation.rs patient/Condition.rs patient/Encounter.rs';
  const request = await buildAuthorizationRequest(as, reg.client.client_id, { scope, aud: `${base}/fhir` });
  const appOrigin = new URL(APP_REDIRECT_URI).origin;
  await page.route(`${appOrigin}/**`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>app</title><p>callback</p>' }),
  );

  await page.goto(request.url.href);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  expect(await pageOverflow(page), 'sign-in').toBeLessThanOrEqual(0);
  await page.locator('button.persona[data-persona^="Practitioner/"]').first().click();

  await expect(page.getByRole('heading', { name: 'Choose a patient' })).toBeVisible();
  expect(await pageOverflow(page), 'patient picker').toBeLessThanOrEqual(0);
  await page
    .getByRole('link', { name: /^Select / })
    .first()
    .click();

  await expect(page.getByRole('heading', { name: 'Choose an encounter' })).toBeVisible();
  expect(await pageOverflow(page), 'encounter picker').toBeLessThanOrEqual(0);
  // The encounter table scrolls inside its own box when it is wider than the screen.
  const box = page.locator('.table-scroll').first();
  expect(await box.evaluate((el) => el.getBoundingClientRect().right)).toBeLessThanOrEqual(390);
  await box.getByRole('link', { name: 'Select' }).first().click();

  await expect(page.getByRole('heading', { name: /^Allow / })).toBeVisible();
  expect(await pageOverflow(page), 'consent').toBeLessThanOrEqual(0);
  // The buttons are on screen and usable.
  const allow = page.getByRole('button', { name: 'Allow' });
  const allowBox = await allow.boundingBox();
  expect(allowBox && allowBox.x + allowBox.width).toBeLessThanOrEqual(390);
  await allow.click();
  await page.waitForURL((url) => url.href.startsWith(APP_REDIRECT_URI));
  expect(new URL(page.url()).searchParams.get('code')).toBeTruthy();

  await page.goto(`${base}/interaction/access`);
  await expect(page.getByRole('heading', { name: 'Apps with access to your data' })).toBeVisible();
  expect(await pageOverflow(page), 'access management').toBeLessThanOrEqual(0);

  // The error page of an authorization that cannot be redirected (unregistered redirect URI).
  const bad = new URL(request.url.href);
  bad.searchParams.set('redirect_uri', `https://not-registered.example/${'z'.repeat(120)}/callback`);
  await page.goto(bad.href);
  await expect(page.locator('h1')).toBeVisible();
  expect(await pageOverflow(page), 'authorization error page').toBeLessThanOrEqual(0);
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
    // A flow's own page and its printable handout (the launch of the first test is one).
    await page.goto(`${base}/console/flows`);
    await page.getByTestId('flows-table').locator('tbody tr a').first().click();
    await expect(page.getByTestId('flow-timeline')).toBeVisible();
    expect(await pageOverflow(page), 'flow').toBeLessThanOrEqual(0);
    await page.getByRole('link', { name: 'Printable handout' }).click();
    await expect(page.getByTestId('flow-handout')).toBeVisible();
    expect(await pageOverflow(page), 'flow handout').toBeLessThanOrEqual(0);
  });
});
