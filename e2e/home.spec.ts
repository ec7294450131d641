import { test, expect } from '@playwright/test';

test('the home page renders', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveTitle(/SMART Sandbox/);
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
});

test('GET /fhir/metadata answers a CapabilityStatement (fhirVersion 4.0.1)', async ({ request }) => {
  const res = await request.get('/fhir/metadata');
  expect(res.status()).toBe(200);
  const body = await res.json();
  expect(body.resourceType).toBe('CapabilityStatement');
  expect(body.fhirVersion).toBe('4.0.1');
});
