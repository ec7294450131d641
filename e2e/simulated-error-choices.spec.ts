import { test, expect } from '@playwright/test';
import type { Page } from '@playwright/test';

// Issue 18: the launcher offers only the simulated errors the chosen launch type (and the app's
// client authentication) can produce.

async function offered(page: Page): Promise<string[]> {
  return page
    .getByLabel('Simulated error')
    .locator('option')
    .evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value).filter(Boolean));
}

test('EHR launches of a public app, and backend launches, each get their own list of simulated errors', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('App', { exact: true }).selectOption('sample-app');
  const ehr = await offered(page);
  expect(ehr).toEqual(expect.arrayContaining(['state_mismatch', 'invalid_code', 'pkce_verifier_mismatch', 'missing_launch_context', 'invalid_refresh_token']));
  expect(ehr).toEqual(expect.arrayContaining(['expired_registration', 'invalid_redirect_uri', 'fhir_rate_limited']));
  // A public app sends no client assertion; bulk export and client_credentials are backend flows.
  for (const kind of ['invalid_jti', 'backend_invalid_scope', 'bulk_kickoff_throttled']) expect(ehr).not.toContain(kind);

  // An armed choice that the next launch type cannot produce is cleared.
  await page.getByLabel('Simulated error').selectOption('state_mismatch');
  await page.getByLabel('Backend service').check();
  await expect(page.getByLabel('Simulated error')).toHaveValue('');
  const backend = await offered(page);
  expect(backend).toEqual(expect.arrayContaining(['backend_invalid_scope', 'invalid_jti', 'expired_registration', 'bulk_file_expired']));
  for (const kind of ['state_mismatch', 'invalid_code', 'invalid_refresh_token', 'missing_launch_context', 'invalid_scope', 'patient_deleted'])
    expect(backend).not.toContain(kind);
});
