import { test, expect } from '@playwright/test';
import type { Page } from '@playwright/test';
import { CONSOLE_PASSWORD, CONSOLE_USER, useConsoleServer } from './helpers';

// The shared e2e server runs `next start` (NODE_ENV=production) with no console account, so the
// default admin/admin must be refused there. A second instance on the same database runs with a
// configured account for the console journeys (two app instances on one database, as in production).

async function signIn(page: Page, base: string, user: string, password: string): Promise<void> {
  await page.goto(`${base}/console/login`);
  await page.fill('#username', user);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
}

test('the default console account is refused in production mode', async ({ page, baseURL }) => {
  await page.goto(`${baseURL}/console/tokens`);
  await expect(page).toHaveURL(/\/console\/login/);
  await expect(page.getByTestId('dev-account-notice')).toHaveCount(0);
  // With no configured account the form says why and is disabled…
  await expect(page.getByText(/NODE_ENV=production/)).toBeVisible();
  await expect(page.locator('#username')).toBeDisabled();
  // …and posting admin/admin straight to the credentials callback does not sign in either.
  const csrf = (await (await page.request.get(`${baseURL}/api/console/auth/csrf`)).json()) as { csrfToken: string };
  const res = await page.request.post(`${baseURL}/api/console/auth/callback/console`, {
    form: { csrfToken: csrf.csrfToken, username: 'admin', password: 'admin', json: 'true' },
    maxRedirects: 0,
  });
  expect(res.status()).toBeLessThan(500);
  const location = res.headers()['location'] ?? ((await res.json().catch(() => ({}))) as { url?: string }).url ?? '';
  expect(location).toMatch(/error=/);
  await page.goto(`${baseURL}/console/tokens`);
  await expect(page).toHaveURL(/\/console\/login/);
});

test('console JSON endpoints require a console session', async ({ request }) => {
  expect((await request.get('/api/console/audit')).status()).toBe(401);
  expect((await request.get('/api/console/audit.ndjson')).status()).toBe(401);
  expect((await request.post('/api/console/tokens/any/revoke', { data: { scope: 'grant' } })).status()).toBe(401);
  expect((await request.get('/api/console/clients/sample-app/report')).status()).toBe(401);
});

test.describe('with a configured console account', () => {
  const consoleUrl = useConsoleServer();

  test('refuses admin/admin, accepts the configured account, and shows every console page', async ({ page }) => {
    const base = consoleUrl();
    await signIn(page, base, 'admin', 'admin');
    await expect(page.locator('form [role=alert]')).toBeVisible();
    await signIn(page, base, CONSOLE_USER, CONSOLE_PASSWORD);
    await expect(page).toHaveURL(/\/console\/tokens/);
    await expect(page.getByRole('heading', { level: 1, name: 'Tokens' })).toBeVisible();
    for (const [path, heading] of [
      ['audit', 'Audit trail'],
      ['alerts', 'Alerts'],
      ['flows', 'Flows'],
      ['clients', 'Clients'],
      ['data', 'Data'],
    ] as const) {
      await page.goto(`${base}/console/${path}`);
      await expect(page.getByRole('heading', { level: 1, name: heading })).toBeVisible();
    }
  });

  test('the scope playground explains a denial and names the scope that would allow it', async ({ page }) => {
    const base = consoleUrl();
    await signIn(page, base, CONSOLE_USER, CONSOLE_PASSWORD);
    await expect(page).toHaveURL(/\/console\/tokens/);
    const q = new URLSearchParams({
      scope: 'launch/patient patient/Observation.rs?category=laboratory',
      patient: 'p1',
      method: 'GET',
      url: '/fhir/Condition?patient=p1',
    });
    await page.goto(`${base}/console/scopes?${q.toString()}`);
    await expect(page.getByTestId('playground-answer')).toContainText('HTTP 403');
    await expect(page.getByTestId('playground-answer')).toContainText('patient/Condition.s');
    await expect(page.getByTestId('parsed-scopes')).toContainText("Read and search this patient's laboratory Observations.");
  });

  test('a cross-patient request with a patient token appears as a suspected-BOLA alert and in the audit NDJSON', async ({ page, request }) => {
    const base = consoleUrl();
    await signIn(page, base, CONSOLE_USER, CONSOLE_PASSWORD);
    await expect(page).toHaveURL(/\/console\/tokens/);
    await page.goto(`${base}/console/alerts`);
    await expect(page.getByTestId('alerts-by-flag')).toContainText('suspected-bola');
    const cookies = await page.context().cookies();
    const res = await request.get(`${base}/api/console/audit.ndjson?flag=any`, { headers: { cookie: cookies.map((c) => `${c.name}=${c.value}`).join('; ') } });
    expect(res.status()).toBe(200);
    expect(res.headers()['content-type']).toContain('ndjson');
  });
});
