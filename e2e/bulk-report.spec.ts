import { expect, test } from '@playwright/test';
import type { APIRequestContext, Page } from '@playwright/test';
import { backendTokenRequest, CONSOLE_PASSWORD, CONSOLE_USER, registerBackendClient, useConsoleServer } from './helpers';

// The bulk grade on a backend client's report card, after real exports run by this test against
// the e2e server: one client follows the Bulk Data IG (waits Retry-After, downloads every file with
// its token, deletes the job), then the same client runs a sloppy export (a download without the
// token, files left, no DELETE). The report card, in a real browser on a second instance sharing
// the database, grades each from the audit trail (lib/console/bulk-report.ts).

const KICK_OFF = { accept: 'application/fhir+json', prefer: 'respond-async' };

async function signIn(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/console/login`);
  await page.fill('#username', CONSOLE_USER);
  await page.fill('#password', CONSOLE_PASSWORD);
  await page.click('button[type=submit]');
  await expect(page).toHaveURL(/\/console\/tokens/);
}

/** Kick-off, then polls as the IG says (waiting the Retry-After it is told) until the manifest. */
async function exportTo(request: APIRequestContext, fhirBase: string, token: string, query: string) {
  const auth = { authorization: `Bearer ${token}` };
  const kick = await request.get(`${fhirBase}/$export?${query}`, { headers: { ...auth, ...KICK_OFF } });
  expect(kick.status(), await kick.text()).toBe(202);
  const statusUrl = kick.headers()['content-location']!;
  for (;;) {
    const res = await request.get(statusUrl, { headers: auth });
    if (res.status() === 200) {
      const manifest = (await res.json()) as { output: { type: string; url: string; count: number }[] };
      return { statusUrl, manifest };
    }
    expect(res.status()).toBe(202);
    await new Promise((r) => setTimeout(r, Number(res.headers()['retry-after'] ?? 1) * 1000));
  }
}

test.describe('the bulk grade on the report card', () => {
  const consoleUrl = useConsoleServer();

  test('grades a client that follows the IG, and one that does not, from their real exports', async ({ page, request, baseURL }) => {
    const client = await registerBackendClient(request, 'e2e bulk grade');
    const token = await backendTokenRequest(request, client, `${baseURL}/oauth/token`, 'system/*.rs');
    expect(token.status).toBe(200);
    const access = String(token.body.access_token);
    const fhirBase = `${baseURL}/fhir`;
    const auth = { authorization: `Bearer ${access}` };

    // Following the IG: every file downloaded with the token, then DELETE.
    const good = await exportTo(request, fhirBase, access, '_type=Patient,Condition');
    expect(good.manifest.output.map((o) => o.type).sort()).toEqual(['Condition', 'Patient']);
    for (const o of good.manifest.output) {
      const file = await request.get(o.url, { headers: auth });
      expect(file.status()).toBe(200);
      expect((await file.text()).split('\n').filter(Boolean).length).toBe(o.count);
    }
    expect((await request.delete(good.statusUrl, { headers: auth })).status()).toBe(202);

    // Sloppy: the file fetched without the token (401), nothing else downloaded, the job left behind.
    const sloppy = await exportTo(request, fhirBase, access, '_type=Patient');
    expect((await request.get(sloppy.manifest.output[0]!.url)).status()).toBe(401);

    await signIn(page, consoleUrl());
    await page.goto(`${consoleUrl()}/console/clients/${encodeURIComponent(client.clientId)}/report`);
    const section = page.getByTestId('bulk-exports');
    // Audit records are written by group commit: reload until both exports are on the card.
    await expect(async () => {
      await page.reload();
      await expect(section.locator('details')).toHaveCount(2, { timeout: 1000 });
      await expect(section.locator('details').first().locator('tr', { hasText: 'Used the token on downloads' })).toContainText('✗', { timeout: 1000 });
    }).toPass({ timeout: 30_000 });

    const row = (job: number, check: string) => section.locator('details').nth(job).locator('tbody tr', { hasText: check }).first();
    // Newest first: the sloppy export, open.
    const newest = section.locator('details').first();
    await expect(newest.locator('summary')).toContainText('_type=Patient');
    await expect(newest.locator('summary')).not.toContainText('Condition');
    await expect(row(0, 'Used the token on downloads')).toContainText('✗');
    await expect(row(0, 'Downloaded every file')).toContainText('✗');
    await expect(row(0, 'Deleted the job when done')).toContainText('✗');
    await expect(row(0, 'No duplicate jobs')).toContainText('✓');
    await expect(newest.locator('tr.error')).not.toHaveCount(0);

    // The IG-following export: every applicable check passed, its grade says so.
    const older = section.locator('details').nth(1);
    await older.locator('summary').click();
    await expect(older.locator('summary')).toContainText('_type=Patient,Condition');
    for (const check of ['Downloaded every file', 'Used the token on downloads', 'Deleted the job when done', 'No duplicate jobs'])
      await expect(row(1, check)).toContainText('✓');
    await expect(older.locator('tbody tr', { hasText: '✗' })).toHaveCount(0);
    const grade = /grade (\d+)\/(\d+)/.exec((await older.locator('summary').textContent()) ?? '');
    expect(grade?.[1]).toBe(grade?.[2]);
    const timeline = older.locator('table').nth(1);
    await expect(timeline).toContainText('kick-off');
    await expect(timeline).toContainText('download');
    await expect(timeline).toContainText('delete');
  });
});
