import { test, expect } from '@playwright/test';
import type { Browser, Page } from '@playwright/test';
import { failOnDialog, useConsoleServer } from './helpers';
import { signInToConsole } from './support/console';
import { launchIntoEhrFrame } from './support/ehr-launch';

// Issue 15: a workshop as an instructor runs it. The instructor creates a room in the console and
// puts its join link, code and QR code up; three attendees, each in a browser context of their own,
// join with a display name, EHR-launch the sample app from their own launcher and see their own
// console; the instructor's grid shows each of them reach the EHR launch milestone without a
// reload, and an attendee's open exercise list ticks without a reload. An attendee's cookie opens no other attendee's console and no instructor page.

interface Attendee {
  readonly name: string;
  readonly page: Page;
  readonly sandbox: string;
}

async function join(browser: Browser, joinUrl: string, name: string): Promise<Attendee> {
  const context = await browser.newContext();
  const page = await context.newPage();
  failOnDialog(page);
  await page.goto(joinUrl);
  await page.getByLabel('Your display name').fill(name);
  await page.getByRole('button', { name: 'Join' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Welcome, ${name}`);
  const link = await page.locator('#personal-link').inputValue();
  expect(link.startsWith(`${joinUrl}/`)).toBe(true);
  const fhirBase = await page.locator('#fhir-base').inputValue();
  const sandbox = /\/s\/([^/]+)\/fhir$/.exec(fhirBase)?.[1] ?? '';
  expect(sandbox).not.toBe('');
  return { name, page, sandbox };
}

/** EHR-launches the sample app from the attendee's own launcher and waits for its FHIR data. */
async function launchSampleApp(attendee: Attendee): Promise<void> {
  const { page } = attendee;
  await page.getByRole('link', { name: 'Open my launcher' }).click();
  await expect(page).toHaveURL(new RegExp(`/s/${attendee.sandbox}/?$`));
  // The sandbox's own copy of the sample app (its client id carries the sandbox id).
  const apps = page.getByLabel('App', { exact: true });
  const sampleApp = async () =>
    (await apps.locator('option').evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value))).find((v) => v.startsWith('sample-app')) ?? '';
  await expect.poll(sampleApp, { message: 'the sandbox lists its sample app' }).toMatch(/^sample-app-/);
  await apps.selectOption(await sampleApp());
  await expect(page.getByLabel('Provider EHR launch')).toBeChecked();
  const { app, name } = await launchIntoEhrFrame(page);
  await expect(app.getByTestId('sample-patient-name')).toHaveText(name, { timeout: 20_000 });
}

test.describe('a workshop room with three attendees', () => {
  const consoleUrl = useConsoleServer();

  test('attendees join, launch in their own sandboxes and appear on the live grid; each sees only their own console', async ({ browser }) => {
    test.setTimeout(240_000);
    const base = consoleUrl();
    const instructorContext = await browser.newContext();
    const instructor = await instructorContext.newPage();
    failOnDialog(instructor);
    await signInToConsole(instructor, base);

    await instructor.goto(`${base}/console/workshops`);
    await instructor.getByLabel('Name').fill('Workshop <b>e2e</b>');
    await instructor.getByLabel('EHR launch of the sample app').check();
    await instructor.getByRole('button', { name: 'Create room' }).click();
    await expect(instructor.getByRole('heading', { level: 1 })).toHaveText('Workshop <b>e2e</b>', { timeout: 60_000 });
    const joinUrl = (await instructor.getByTestId('join-url').textContent()) ?? '';
    const code = (await instructor.getByTestId('room-code').textContent()) ?? '';
    expect(joinUrl).toBe(`${base}/w/${code}`);
    await expect(instructor.getByTestId('join-qr')).toBeVisible();
    await expect(instructor.getByTestId('grid-live')).toContainText('live');

    const names = ['Ada', 'Grace', '<script>x</script> Eve'];
    // A name with markup is refused on the join page, which says why; the attendee picks another.
    const attendees: Attendee[] = [];
    for (const name of names.slice(0, 2)) attendees.push(await join(browser, joinUrl, name));
    {
      const context = await browser.newContext();
      const page = await context.newPage();
      failOnDialog(page);
      await page.goto(joinUrl);
      await page.getByLabel('Your display name').fill(names[2]!);
      await page.getByRole('button', { name: 'Join' }).click();
      await expect(page.locator('.error')).toContainText('may not contain');
      await context.close();
      attendees.push(await join(browser, joinUrl, 'Eve'));
    }

    // The grid lists them as they join, without a reload.
    const grid = instructor.getByTestId('progress-grid');
    for (const a of attendees) await expect(grid.locator(`tr[data-attendee="${a.name}"]`)).toHaveCount(1);

    // Ada keeps her exercise list open in a second tab while she launches: the tick appears there
    // without a reload (the marker set on the page survives only if it is never reloaded).
    const [ada, grace] = attendees as [Attendee, Attendee, Attendee];
    const exercises = await ada.page.context().newPage();
    failOnDialog(exercises);
    await exercises.goto(`${base}/s/${ada.sandbox}/console/exercises`);
    await expect(exercises.getByTestId('exercises-live')).toContainText('live');
    await expect(exercises.getByTestId('exercise').first()).toHaveAttribute('data-done', 'no');
    await exercises.evaluate(() => {
      (window as { notReloaded?: boolean }).notReloaded = true;
    });

    for (const a of attendees) await launchSampleApp(a);

    await expect(exercises.getByTestId('exercise').first()).toHaveAttribute('data-done', 'yes', { timeout: 15_000 });
    await expect(exercises.locator('li[data-milestone="ehr-launch"]')).toHaveAttribute('data-reached', 'yes');
    expect(await exercises.evaluate(() => (window as { notReloaded?: boolean }).notReloaded)).toBe(true);
    await exercises.close();

    // Milestones derived from each sandbox's audit trail reach the grid live.
    for (const a of attendees) {
      const row = grid.locator(`tr[data-attendee="${a.name}"]`);
      await expect(row.locator('td[data-milestone="ehr-launch"]')).toHaveAttribute('data-reached', 'yes', { timeout: 15_000 });
      await expect(row.locator('td[data-milestone="pkce-exchange"]')).toHaveAttribute('data-reached', 'yes');
      await expect(row.locator('td[data-milestone="backend-token"]')).toHaveAttribute('data-reached', 'no');
    }

    // Each attendee's console shows their own tokens, and only theirs.
    await ada.page.goto(`${base}/s/${ada.sandbox}/console/tokens`);
    await expect(ada.page.getByTestId('tokens-table').locator('tbody tr').first()).toBeVisible();
    await ada.page.goto(`${base}/s/${ada.sandbox}/console/exercises`);
    await expect(ada.page.getByTestId('exercise').first()).toHaveAttribute('data-done', 'yes');
    // Ada's cookie opens neither Grace's console nor an instructor page.
    await ada.page.goto(`${base}/s/${grace.sandbox}/console/tokens`);
    await expect(ada.page).toHaveURL(/\/console\/login/);
    // A console page without the sandbox prefix (here an instructor page) takes her to her own console.
    await ada.page.goto(`${base}/console/workshops`);
    await expect(ada.page).toHaveURL(new RegExp(`/s/${ada.sandbox}/console/tokens$`));
    const api = await ada.page.request.get(`${base}/api/workshops`);
    expect(api.status()).toBe(401);

    // The instructor moves Grace's clock forward; the grid shows the offset.
    const graceRow = grid.locator(`tr[data-attendee="${grace.name}"]`);
    await graceRow.getByRole('button', { name: '+1 h' }).click();
    await expect(graceRow.getByTestId('clock-offset')).toHaveText('+1h 0m');

    for (const a of attendees) await a.page.context().close();
    await instructorContext.close();
  });
});
