import { test, expect } from '@playwright/test';
import { buildAuthorizationRequest, discover, registerPublicClient } from '../test/integration/support/smart-client';
import { CONSOLE_PASSWORD, CONSOLE_USER, failOnDialog, useConsoleServer } from './helpers';

// Issue 18 "every flow visible": an app's authorization request without PKCE is refused; the
// console's Flows page lists it marked failed, filters it, and its page names the step, the rule,
// the spec and what the app should do instead, with the exports and the printable handout.
test.describe('flows in the console', () => {
  const consoleUrl = useConsoleServer();

  test('a refused authorization is listed as failed, and its page says which rule, which spec and what to do instead', async ({ page, baseURL }) => {
    failOnDialog(page);
    const appBase = (baseURL ?? '').replace(/\/+$/, '');
    const as = await discover(appBase);
    const reg = await registerPublicClient(appBase, { client_name: 'e2e flows app without PKCE' });
    const request = await buildAuthorizationRequest(as, reg.client.client_id, { scope: 'launch/patient patient/*.rs', aud: `${appBase}/fhir` });
    request.url.searchParams.delete('code_challenge');
    request.url.searchParams.delete('code_challenge_method');
    const refused = await fetch(request.url, { redirect: 'manual' });
    expect(refused.status).toBe(303);

    const base = consoleUrl();
    await page.goto(`${base}/console/login`);
    await page.fill('#username', CONSOLE_USER);
    await page.fill('#password', CONSOLE_PASSWORD);
    await page.click('button[type=submit]');
    await expect(page).toHaveURL(/\/console\/tokens/);

    await page.goto(`${base}/console/flows`);
    const filters = page.getByTestId('flow-filters');
    await filters.getByLabel('Client').selectOption(reg.client.client_id);
    await filters.getByLabel('Outcome').selectOption('failed');
    await filters.getByRole('button', { name: 'Filter' }).click();
    await expect(page).toHaveURL(/outcome=failed/);
    const rows = page.getByTestId('flows-table').locator('tbody tr');
    await expect(rows).toHaveCount(1);
    await expect(rows.first()).toHaveAttribute('data-outcome', 'failed');
    await expect(rows.first()).toContainText('✗ failed');
    await expect(rows.first()).toContainText('Authorization refused');
    await expect(rows.first()).toContainText('PKCE with S256');

    await rows.first().getByRole('link').first().click();
    await expect(page).toHaveURL(/\/console\/flows\/[^/]+$/);
    const failure = page.getByTestId('flow-failure');
    await expect(failure).toContainText('Failed at: Authorization request');
    await expect(failure).toContainText('invalid_request');
    await expect(page.getByTestId('failure-spec')).toContainText('RFC 7636 §4.3');
    await expect(page.getByTestId('failure-advice')).toContainText('code_challenge=BASE64URL(SHA-256(verifier))');
    await expect(page.getByTestId('flow-exports').getByRole('link', { name: 'Shell transcript (curl)' })).toHaveAttribute('href', /\/export\?format=curl$/);

    await page.getByRole('link', { name: 'Printable handout' }).click();
    await expect(page.getByTestId('flow-handout')).toBeVisible();
    await expect(page.getByRole('img', { name: 'Sequence diagram of the flow' })).toBeVisible();
    await expect(page.getByTestId('flow-handout')).toContainText('This flow failed.');
  });
});
