import { randomUUID } from 'node:crypto';
import { expect, test } from '@playwright/test';
import type { APIRequestContext, FrameLocator, Page } from '@playwright/test';
import type { CryptoKey } from 'jose';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
// @ts-expect-error plain ESM helper without types
import { startServer } from '../scripts/lib/test-server.mjs';

/** Picks, in the launcher, the first listed patient with an ordinary name (no markup); returns the name. */
export async function pickOrdinaryPatient(page: Page, search = ''): Promise<string> {
  if (search) {
    await page.getByLabel('Patient name').fill(search);
    await page.getByRole('button', { name: 'Search' }).click();
  }
  const picks = page.locator('.pick');
  await expect(picks.first()).toBeVisible();
  const names = await picks.locator('.patient-name').allTextContents();
  const index = names.findIndex((n) => /^[\p{L} .'’-]+$/u.test(n.trim()));
  expect(index, 'an ordinary patient is listed').toBeGreaterThanOrEqual(0);
  await picks.nth(index).click();
  await expect(page.getByTestId('patient-preview')).toBeVisible();
  return (names[index] ?? '').trim();
}

/** Clicks Allow on the consent screen when it is shown (skip consent may be on). */
export async function allowIfAsked(scope: Page | FrameLocator): Promise<void> {
  const allow = scope.getByRole('button', { name: 'Allow' });
  await allow.waitFor({ timeout: 15_000 }).catch(() => undefined);
  if (await allow.isVisible().catch(() => false)) await allow.click();
}

/** Fails the test if any JavaScript dialog (alert) opens: injected markup would do that. */
export function failOnDialog(page: Page): void {
  page.on('dialog', async (dialog) => {
    await dialog.dismiss();
    throw new Error(`unexpected dialog: ${dialog.message()}`);
  });
}

/** A backend-services client registered over RFC 7591 with an ES384 key the test holds. */
export interface BackendClient {
  readonly clientId: string;
  readonly kid: string;
  readonly privateKey: CryptoKey;
}

/** Registers a backend client (client_credentials, private_key_jwt, inline JWKS); the launcher lists it after a reload. */
export async function registerBackendClient(request: APIRequestContext, name: string, scope = 'system/*.rs'): Promise<BackendClient> {
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  const kid = `e2e-${randomUUID()}`;
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' };
  const res = await request.post('/oauth/register', {
    data: { client_name: name, grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] }, scope },
  });
  expect(res.status(), await res.text()).toBe(201);
  const { client_id: clientId } = (await res.json()) as { client_id: string };
  return { clientId, kid, privateKey };
}

/** The private_key_jwt client assertion (SMART App Launch 2.2 §client-confidential-asymmetric): iss = sub = client_id, aud = token URL, new jti. */
export function clientAssertion(client: BackendClient, tokenUrl: string, jti: string = randomUUID()): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES384', kid: client.kid, typ: 'JWT' })
    .setIssuer(client.clientId)
    .setSubject(client.clientId)
    .setAudience(tokenUrl)
    .setJti(jti)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(client.privateKey);
}

/** The client_credentials request the launcher's curl shows, sent as the backend service would send it. */
export async function backendTokenRequest(
  request: APIRequestContext,
  client: BackendClient,
  tokenUrl: string,
  scope: string,
): Promise<{ status: number; headers: Record<string, string>; body: Record<string, unknown> }> {
  const res = await request.post(tokenUrl, {
    form: {
      grant_type: 'client_credentials',
      scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await clientAssertion(client, tokenUrl),
    },
  });
  return { status: res.status(), headers: res.headers(), body: (await res.json()) as Record<string, unknown> };
}

/**
 * Starts a backend service launch in the launcher for `clientId` (optionally with a simulated
 * error) and returns what the instructions card shows: token URL, client_id, FHIR base and the
 * scope of its curl command.
 */
export async function startBackendLaunch(
  page: Page,
  clientId: string,
  simulatedError?: string,
): Promise<{ tokenUrl: string; clientId: string; fhirBase: string; scope: string }> {
  await page.goto('/');
  await page.getByLabel('Backend service').check();
  await page.getByLabel('App', { exact: true }).selectOption(clientId);
  await expect(page.getByLabel('Scopes', { exact: true })).toHaveValue('system/*.rs');
  if (simulatedError) await page.getByLabel('Simulated error').selectOption(simulatedError);
  await page.getByRole('button', { name: 'Show backend instructions' }).click();
  const card = page.getByTestId('backend-instructions');
  await expect(card).toBeVisible();
  const [tokenUrl, shownClientId, fhirBase] = await card.locator('p').first().locator('code').allTextContents();
  const curl = (await card.locator('pre').nth(1).textContent()) ?? '';
  const scope = /scope=([^']*)'/.exec(curl)?.[1] ?? '';
  expect(curl).toContain(`curl -s -X POST '${tokenUrl}'`);
  return { tokenUrl: tokenUrl ?? '', clientId: shownClientId ?? '', fhirBase: fhirBase ?? '', scope };
}

/** The console account of the second server started by useConsoleServer(). */
export const CONSOLE_USER = 'e2e-teacher';
export const CONSOLE_PASSWORD = 'e2e-console-password-1';

/**
 * Starts, for the enclosing describe block, a second server on the e2e database with a configured
 * console account; returns a function giving its URL.
 */
export function useConsoleServer(): () => string {
  let server: { url: string; stop: () => Promise<void> } | null = null;
  test.beforeAll(async () => {
    test.skip(!process.env.E2E_DATABASE_URL, 'needs the database of the e2e server (E2E_DATABASE_URL)');
    server = (await startServer({ databaseUrl: process.env.E2E_DATABASE_URL, env: { CONSOLE_USER, CONSOLE_PASSWORD } })) as {
      url: string;
      stop: () => Promise<void>;
    };
  });
  test.afterAll(async () => {
    await server?.stop();
  });
  return () => server?.url ?? '';
}
