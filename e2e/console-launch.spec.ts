import { test, expect } from '@playwright/test';
import type { FrameLocator, Page } from '@playwright/test';
import { failOnDialog, useConsoleServer } from './helpers';
import { signInToConsole } from './support/console';
import { launchIntoEhrFrame } from './support/ehr-launch';

// Issue 7: what the developer console shows after a real sample-app EHR launch, and what a revocation
// in the console does to the app. The launch runs on the shared e2e server; the console runs on a
// second instance on the same database with a configured account (as in e2e/console.spec.ts), so
// the revocation has to reach the app's server through the database.

interface Launched {
  readonly app: FrameLocator;
  readonly patientId: string;
  readonly jti: string;
  readonly launchId: string;
}

/** EHR-launches the sample app from the launcher (as e2e/ehr-launch.spec.ts does) and waits for its FHIR calls. */
async function launchSampleApp(page: Page): Promise<Launched> {
  await page.goto('/');
  await expect(page.getByLabel('App', { exact: true })).toHaveValue('sample-app');
  await expect(page.getByLabel('Provider EHR launch')).toBeChecked();
  const { app, name } = await launchIntoEhrFrame(page);
  await expect(app.getByTestId('sample-patient-name')).toHaveText(name, { timeout: 20_000 });
  await expect(app.getByTestId('section-vitals')).toHaveAttribute('data-state', 'ok');
  // The sample app prints the token response (secrets redacted) and the access token's claims.
  const claims = JSON.parse((await app.locator('pre').nth(1).textContent()) ?? '{}') as Record<string, unknown>;
  const { jti, patient, launch_id: launchId } = claims;
  expect(typeof jti, 'the access token has a jti').toBe('string');
  expect(typeof patient, 'the access token names the patient').toBe('string');
  expect(typeof launchId, 'the access token names the EHR launch').toBe('string');
  return { app, patientId: String(patient), jti: String(jti), launchId: String(launchId) };
}

test.describe('the console after a sample-app EHR launch', () => {
  const consoleUrl = useConsoleServer();

  test('lists the token with its scopes explained, the audit records of the launch, and the flow with the PKCE check', async ({ page, context }) => {
    failOnDialog(page);
    const { jti, patientId, launchId } = await launchSampleApp(page);

    const consolePage = await context.newPage();
    const base = consoleUrl();
    await signInToConsole(consolePage, base);

    // Tokens: the access token of the launch, active, for the launched patient.
    const row = consolePage
      .getByTestId('tokens-table')
      .locator('tbody tr')
      .filter({ hasText: `${jti.slice(0, 10)}…` });
    await expect(row).toHaveCount(1);
    await expect(row).toContainText('access');
    await expect(row).toContainText('active');
    await expect(row).toContainText(patientId);

    // Its page: claims, and each granted scope explained in plain language.
    await row.getByRole('link').click();
    await expect(consolePage.getByRole('heading', { level: 1 })).toContainText('Access token');
    await expect(consolePage.getByTestId('token-status')).toHaveText('active');
    await expect(consolePage.getByTestId('token-claims')).toContainText(`"jti": "${jti}"`);

    // The raw JWT as issued: its decoded payload is this token, its header ES256, its signature valid.
    const raw = ((await consolePage.getByTestId('token-jwt').textContent()) ?? '').trim();
    const [headerPart = '', payloadPart = '', signaturePart = ''] = raw.split('.');
    expect(signaturePart).toMatch(/^[A-Za-z0-9_-]{86}$/); // 64-byte ES256 signature (RFC 7518 §3.4)
    const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(decode(payloadPart).jti).toBe(jti);
    expect(decode(payloadPart).patient).toBe(patientId);
    expect(decode(headerPart)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    await expect(consolePage.getByTestId('token-jwt').locator('.jwt-header')).toHaveText(headerPart);
    await expect(consolePage.getByTestId('token-jwt').locator('.jwt-signature')).toHaveText(signaturePart);
    await expect(consolePage.getByTestId('token-header').locator('tr[data-member="alg"]')).toContainText('ES256');
    await expect(consolePage.getByTestId('token-header').locator('tr[data-member="kid"]')).toContainText(String(decode(headerPart).kid));
    await expect(consolePage.getByTestId('token-signature')).toHaveAttribute('data-state', 'valid');
    await expect(consolePage.getByTestId('reconstructed-note')).toHaveCount(0);
    await consolePage.screenshot({ path: 'tmp/console-token-page.png', fullPage: true });
    const scopes = consolePage.getByTestId('scope-explanations');
    for (const scope of ['launch', 'openid', 'fhirUser', 'patient/*.rs', 'offline_access']) {
      await expect(scopes.locator('.scope-card h3 code', { hasText: new RegExp(`^${scope.replace(/[*.]/g, '\\$&')}$`) })).toHaveCount(1);
    }
    const wildcard = scopes.locator('.scope-card').filter({ has: consolePage.locator('h3 code', { hasText: /^patient\/\*\.rs$/ }) });
    await expect(wildcard).toContainText('Resource types: every resource type');
    await expect(wildcard).toContainText('Interactions:');

    // Audit trail of the launch: authorize, consent, token exchange and the app's FHIR calls.
    await consolePage.goto(`${base}/console/audit?launchId=${encodeURIComponent(launchId)}`);
    const audit = consolePage.getByTestId('audit-table');
    await expect(audit).toBeVisible();
    await expect(audit.locator('tbody tr').filter({ hasText: 'GET /oauth/authorize' })).not.toHaveCount(0);
    await expect(audit.locator('tbody tr').filter({ hasText: 'POST /oauth/token' }).first()).toContainText('200');
    const patientRead = audit.locator('tbody tr').filter({ hasText: `GET /fhir/Patient/${patientId}` });
    await expect(patientRead.first()).toContainText('200');
    await expect(audit.locator('tbody tr').filter({ hasText: 'GET /fhir/Observation' }).first()).toBeVisible();

    // The refresh token of the launch: not retrievable, only its stored hash prefix.
    await consolePage.goto(`${base}/console/tokens/${encodeURIComponent(jti)}`);
    await consolePage.getByTestId('refresh-chain').locator('tbody tr').filter({ hasText: 'refresh' }).first().getByRole('link').click();
    await expect(consolePage.getByRole('heading', { level: 1 })).toContainText('Refresh token');
    await expect(consolePage.getByTestId('refresh-not-retrievable')).toContainText('Not retrievable');
    await expect(consolePage.getByTestId('refresh-not-retrievable').locator('code')).toHaveText(/^[A-Za-z0-9_-]{12}…$/);
    await expect(consolePage.getByTestId('token-jwt')).toHaveCount(0);
    await consolePage.screenshot({ path: 'tmp/console-refresh-token-page.png', fullPage: true });

    // Flow view: every step in order, then the FHIR calls, with the PKCE check of the token request.
    await consolePage.goto(`${base}/console/tokens/${encodeURIComponent(jti)}`);
    await consolePage.getByRole('link', { name: /^flow of grant/ }).click();
    await expect(consolePage).toHaveURL(/\/console\/flows\//);
    const timeline = consolePage.getByTestId('flow-timeline');
    await expect(timeline).toBeVisible();
    const kinds = await timeline.locator(':scope > li').evaluateAll((items) => items.map((li) => li.getAttribute('data-step')));
    expect(kinds.slice(0, 8)).toEqual(['launch', 'authorize', 'sign-in', 'patient', 'consent', 'code', 'token-request', 'token-response']);
    expect(kinds.slice(8).length, 'the FHIR calls follow the token response').toBeGreaterThan(0);
    expect(kinds.slice(8).every((k) => k === 'fhir')).toBe(true);

    const pkce = consolePage.getByTestId('pkce-check');
    await expect(pkce).toHaveCount(1);
    await expect(pkce).toContainText('PKCE check (S256)');
    await expect(pkce).toContainText('✓ match');
    const values = await pkce.locator('dd code').allTextContents();
    const [verifier, verifierSha256, storedChallenge] = values;
    // The verifier is shown masked (first and last 4 characters and its length), never whole.
    expect(verifier).toMatch(/^[A-Za-z0-9\-._~]{4}…[A-Za-z0-9\-._~]{4} \(\d+ chars\)$/);
    expect(verifierSha256).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(verifierSha256).toBe(storedChallenge);
  });

  test("revoking the token in the console makes the app's next FHIR call fail with 401, and the audit trail shows it", async ({ page, context }) => {
    failOnDialog(page);
    const { app, jti, patientId } = await launchSampleApp(page);

    const consolePage = await context.newPage();
    const base = consoleUrl();
    await signInToConsole(consolePage, base);
    await consolePage.goto(`${base}/console/tokens/${encodeURIComponent(jti)}`);
    await expect(consolePage.getByTestId('token-status')).toHaveText('active');
    await consolePage.getByRole('button', { name: 'Revoke this token' }).click();
    await expect(consolePage.getByTestId('token-status')).toHaveText('revoked');
    await expect(consolePage.getByRole('status')).toContainText('Revoked this token only');
    await expect(consolePage.getByRole('status')).toContainText('next call with it gets 401');

    // Reload the app inside the EHR frame: fhirclient restores its session and calls the FHIR API again.
    const frame = page.frames().find((f) => new URL(f.url()).pathname === '/sample-app');
    expect(frame, 'the sample app runs in the EHR frame').toBeDefined();
    await frame?.goto(frame.url());
    await expect(app.getByTestId('sample-patient')).toContainText('Patient: denied (401)', { timeout: 20_000 });
    await expect(app.getByTestId('section-vitals')).toHaveAttribute('data-state', 'denied');
    await expect(
      app
        .getByTestId('fhir-calls')
        .locator('tbody tr')
        .filter({ hasText: `Patient/${patientId}` }),
    ).toContainText('401');

    // The audit trail shows the refused call.
    await consolePage.goto(`${base}/console/audit?outcome=denied&endpoint=${encodeURIComponent(`/fhir/Patient/${patientId}`)}`);
    const denied = consolePage
      .getByTestId('audit-table')
      .locator('tbody tr')
      .filter({ hasText: `GET /fhir/Patient/${patientId}` });
    await expect(denied.first()).toContainText('401');
    await expect(denied.first()).toContainText('invalid_token');
  });

  test("the sample app's report card shows what the launch proved (PKCE S256, aud, registered redirect URI, Accept) with evidence links", async ({
    page,
    context,
  }) => {
    failOnDialog(page);
    await launchSampleApp(page);
    const consolePage = await context.newPage();
    const base = consoleUrl();
    await signInToConsole(consolePage, base);
    await consolePage.goto(`${base}/console/clients/sample-app`);
    await consolePage.getByRole('link', { name: 'Report card' }).click();
    await expect(consolePage.getByRole('heading', { level: 1, name: /App report card/ })).toBeVisible();
    const checks = consolePage.getByTestId('report-checks');
    for (const id of ['pkce-s256', 'aud', 'redirect-uri', 'accept', 'token-in-url', 'in-scope']) {
      await expect(checks.locator(`tr[data-check="${id}"]`), id).toHaveAttribute('data-status', 'pass');
    }
    await expect(checks.locator('tr[data-check="secret-in-browser"]')).toHaveAttribute('data-status', 'not-applicable');
    // Evidence links open the audit record.
    await checks.locator('tr[data-check="pkce-s256"] a').first().click();
    await expect(consolePage).toHaveURL(/\/console\/audit\/[0-9a-f-]+$/);
    await expect(consolePage.getByText('/oauth/authorize').first()).toBeVisible();
  });

  test('the console API revokes the whole grant of a launch: every token of it, refresh token included', async ({ page, context }) => {
    failOnDialog(page);
    const { jti } = await launchSampleApp(page);
    const consolePage = await context.newPage();
    const base = consoleUrl();
    await signInToConsole(consolePage, base);
    const bad = await consolePage.request.post(`${base}/api/console/tokens/${encodeURIComponent(jti)}/revoke`, { data: { scope: 'everything' } });
    expect(bad.status()).toBe(400);
    const res = await consolePage.request.post(`${base}/api/console/tokens/${encodeURIComponent(jti)}/revoke`, { data: { scope: 'grant' } });
    expect(res.status()).toBe(200);
    const result = (await res.json()) as { revoked: number; scope: string };
    expect(result.scope).toBe('grant');
    expect(result.revoked).toBeGreaterThanOrEqual(1);
    await consolePage.goto(`${base}/console/tokens/${encodeURIComponent(jti)}`);
    await expect(consolePage.getByTestId('token-status')).toHaveText('revoked');
    // Every token of the client for this launch is revoked, the refresh token too.
    await consolePage.goto(`${base}/console/tokens?clientId=sample-app&status=active`);
    await expect(
      consolePage
        .getByTestId('tokens-table')
        .locator('tbody tr')
        .filter({ hasText: `${jti.slice(0, 10)}…` }),
    ).toHaveCount(0);
  });
});
