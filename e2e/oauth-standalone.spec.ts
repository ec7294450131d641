import { test, expect } from '@playwright/test';
import * as oauth from 'oauth4webapi';
import {
  APP_REDIRECT_URI,
  buildAuthorizationRequest,
  discover,
  fhirGet,
  insecure,
  registerPublicClient,
  verifyIdToken,
} from '../test/integration/support/smart-client';
import type { SmartTokenResponse } from '../test/integration/support/smart-client';
import { failOnDialog } from './helpers';

// Issue 3: a standalone launch with PKCE through the real pages in Chromium. Playwright is the
// user (persona sign-in, consent); oauth4webapi is the app (authorization URL, response
// validation with state and iss, token exchange, id_token claims) and jose checks the id_token
// signature against the JWKS that openid-configuration names.
const appOrigin = new URL(APP_REDIRECT_URI).origin;

test('standalone launch with PKCE: persona sign-in and consent in Chromium, token exchange and id_token validation by oauth4webapi', async ({
  page,
  baseURL,
}) => {
  failOnDialog(page);
  const base = (baseURL ?? '').replace(/\/+$/, '');
  const as = await discover(base);
  // openid-configuration and SMART discovery agree on the issuer and keys.
  const smart = (await (await fetch(`${base}/fhir/.well-known/smart-configuration`)).json()) as {
    issuer?: string;
    jwks_uri?: string;
    code_challenge_methods_supported?: string[];
  };
  expect(smart.issuer).toBe(as.issuer);
  expect(smart.jwks_uri).toBe(as.jwks_uri);
  expect(smart.code_challenge_methods_supported).toEqual(['S256']);

  const reg = await registerPublicClient(base);
  const scope = 'openid fhirUser launch/patient offline_access patient/Patient.rs patient/Observation.rs patient/Condition.rs';
  const request = await buildAuthorizationRequest(as, reg.client.client_id, { scope, aud: `${base}/fhir` });

  // The app is never served: the browser's arrival at the redirect URI is the result.
  await page.route(`${appOrigin}/**`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>app</title><p>callback</p>' }),
  );
  await page.goto(request.url.href);

  await page.waitForURL(/\/interaction\//);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  const persona = page.locator('button.persona[data-persona^="Patient/"]').first();
  const fhirUser = (await persona.getAttribute('data-persona')) ?? '';
  const patientId = fhirUser.replace(/^Patient\//, '');
  const name = ((await persona.locator('strong').textContent()) ?? '').trim();
  await persona.click();

  await expect(page.getByRole('heading', { name: /^Allow / })).toBeVisible();
  await expect(page.locator('.patient-name')).toHaveText(name);
  await expect(page.getByText('Long-lived access.')).toBeVisible();
  await page.locator('.scope[data-scope="patient/Condition.rs"] input[name^="keep."]').uncheck();
  await page.getByRole('button', { name: 'Allow' }).click();

  await page.waitForURL((url) => url.href.startsWith(APP_REDIRECT_URI));
  const callback = new URL(page.url());
  expect(callback.searchParams.get('state')).toBe(request.state);
  expect(callback.searchParams.get('iss')).toBe(as.issuer);
  const params = oauth.validateAuthResponse(as, reg.client, callback, request.state);

  const res = await oauth.authorizationCodeGrantRequest(as, reg.client, reg.auth(), params, APP_REDIRECT_URI, request.verifier, insecure);
  expect(res.headers.get('cache-control')).toContain('no-store');
  const tokens = (await oauth.processAuthorizationCodeResponse(as, reg.client, res, {
    expectedNonce: request.nonce,
    requireIdToken: true,
  })) as SmartTokenResponse;
  expect(tokens.patient).toBe(patientId);
  const granted = (tokens.scope ?? '').split(' ');
  expect(granted).toEqual(expect.arrayContaining(['openid', 'fhirUser', 'launch/patient', 'offline_access', 'patient/Patient.rs', 'patient/Observation.rs']));
  expect(granted).not.toContain('patient/Condition.rs');
  expect(typeof tokens.refresh_token).toBe('string');

  const claims = await verifyIdToken(as, tokens.id_token ?? '', reg.client.client_id);
  expect(claims.fhirUser).toBe(`${base}/fhir/${fhirUser}`);
  expect(claims.nonce).toBe(request.nonce);

  expect((await fhirGet(base, fhirUser, tokens.access_token)).status).toBe(200);
  expect((await fhirGet(base, `Condition?patient=${patientId}`, tokens.access_token)).status).toBe(403);

  // The code is single-use: a second exchange is refused.
  const again = await oauth.authorizationCodeGrantRequest(as, reg.client, reg.auth(), params, APP_REDIRECT_URI, request.verifier, insecure);
  await expect(oauth.processAuthorizationCodeResponse(as, reg.client, again)).rejects.toMatchObject({ error: 'invalid_grant', status: 400 });
});
