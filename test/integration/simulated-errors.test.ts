// The simulated errors added for issue 18, each through the real endpoints: the launcher's
// startLaunch arms a provider EHR launch with the error, the test plays the app (oauth4webapi for the
// authorization response), and the failure must be the one promised, for that launch only.
import * as oauth from 'oauth4webapi';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { BrowserSession } from './support/browserless';
import { launchConfig } from '../../lib/launcher/launch-config';
import { serverLib } from './support/ehr-launch';
import { APP_REDIRECT_URI, buildAuthorizationRequest, discover, registerPublicClient, registerSymmetricClient } from './support/smart-client';
import type { RegisteredClient } from './support/smart-client';

const base = inject('baseUrl');
const PATIENT = 'pat-42-0';
const PRACTITIONER = 'Practitioner/practitioner-1';
const SCOPE = 'launch openid fhirUser offline_access patient/*.rs';
let as: oauth.AuthorizationServer;
let app: RegisteredClient;

beforeAll(async () => {
  as = await discover(base);
  app = await registerPublicClient(base);
});

/** Starts a provider EHR launch of `client` armed with `kind`, as the launcher does (skip sign-in and consent, PKCE required). */
async function startArmed(kind: string | null, client: RegisteredClient) {
  const { startLaunch } = await serverLib(inject('databaseUrl'));
  return startLaunch(
    launchConfig(client.client.client_id, {
      launchType: 'provider-ehr',
      patientIds: [PATIENT],
      userFhirUser: PRACTITIONER,
      skipLogin: true,
      skipConsent: true,
      simulatedError: kind ? ({ kind } as never) : null,
    }),
    base,
  );
}

/** An EHR launch armed with `kind`, authorized (skip sign-in and consent): the app's callback URL and what it sent. */
async function launchWith(kind: string | null, client: RegisteredClient = app) {
  const started = await startArmed(kind, client);
  if (!started.ok || started.kind !== 'ehr') throw new Error(started.ok ? started.kind : started.error);
  const launch = new URL(started.appUrl).searchParams.get('launch') ?? '';
  const request = await buildAuthorizationRequest(as, client.client.client_id, { scope: SCOPE, aud: `${base}/fhir`, launch });
  const { callback } = await new BrowserSession(base).authorize(request.url, { persona: PRACTITIONER });
  return { request, callback };
}

async function exchange(code: string, verifier: string, client: RegisteredClient = app) {
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: APP_REDIRECT_URI,
    code_verifier: verifier,
    client_id: client.client.client_id,
  });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (client.secret) headers.authorization = `Basic ${Buffer.from(`${client.client.client_id}:${client.secret}`).toString('base64')}`;
  const res = await fetch(`${base}/oauth/token`, { method: 'POST', headers, body: form });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

async function refresh(refreshToken: string) {
  const res = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: app.client.client_id }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('simulated errors of the authorization response and the token endpoint', () => {
  it('state mismatch: the code comes back with another state, and a strict client refuses the response', async () => {
    const { request, callback } = await launchWith('state_mismatch');
    expect(callback.searchParams.get('code')).toBeTruthy();
    expect(callback.searchParams.get('state')).not.toBe(request.state);
    expect(() => oauth.validateAuthResponse(as, app.client, callback, request.state)).toThrow();
    // Without the simulation the same flow validates.
    const plain = await launchWith(null);
    expect(oauth.validateAuthResponse(as, app.client, plain.callback, plain.request.state).get('code')).toBeTruthy();
  });

  it('invalid code: the exchange answers 400 invalid_grant', async () => {
    const { request, callback } = await launchWith('invalid_code');
    const res = await exchange(callback.searchParams.get('code') ?? '', request.verifier);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('authorization code is not valid') });
  });

  it('PKCE verifier mismatch: the exchange with the right verifier answers 400 invalid_grant naming the verifier', async () => {
    const { request, callback } = await launchWith('pkce_verifier_mismatch');
    const res = await exchange(callback.searchParams.get('code') ?? '', request.verifier);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('code_verifier does not match') });
  });

  it('missing launch context: the token response has no patient, though the token keeps its context', async () => {
    const { request, callback } = await launchWith('missing_launch_context');
    const res = await exchange(callback.searchParams.get('code') ?? '', request.verifier);
    expect(res.status).toBe(200);
    expect(res.body.patient).toBeUndefined();
    expect(res.body.scope).toContain('patient/*.rs');
    const read = await fetch(`${base}/fhir/Patient/${PATIENT}`, { headers: { authorization: `Bearer ${String(res.body.access_token)}` } });
    expect(read.status).toBe(200);
    const normal = await launchWith(null);
    expect((await exchange(normal.callback.searchParams.get('code') ?? '', normal.request.verifier)).body.patient).toBe(PATIENT);
  });

  it('invalid refresh token: the code exchange works, every refresh answers 400 invalid_grant', async () => {
    const { request, callback } = await launchWith('invalid_refresh_token');
    const res = await exchange(callback.searchParams.get('code') ?? '', request.verifier);
    expect(res.status).toBe(200);
    const again = await refresh(String(res.body.refresh_token));
    expect(again.status).toBe(400);
    expect(again.body).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('refresh token is not valid') });
  });

  it('expired registration: client authentication fails with invalid_client (401 and a challenge for HTTP Basic)', async () => {
    const pub = await launchWith('expired_registration');
    const res = await exchange(pub.callback.searchParams.get('code') ?? '', pub.request.verifier);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_client', error_description: expect.stringContaining('registration has expired') });
    const confidential = await registerSymmetricClient(base);
    const sym = await launchWith('expired_registration', confidential);
    const basic = await exchange(sym.callback.searchParams.get('code') ?? '', sym.request.verifier, confidential);
    expect(basic.status).toBe(401);
    expect(basic.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect(basic.body.error).toBe('invalid_client');
  });

  it('invalid redirect URI: the page lists the URIs really registered, the one sent among them', async () => {
    const started = await startArmed('invalid_redirect_uri', app);
    if (!started.ok || started.kind !== 'ehr') throw new Error('launch refused');
    const request = await buildAuthorizationRequest(as, app.client.client_id, {
      scope: SCOPE,
      aud: `${base}/fhir`,
      launch: new URL(started.appUrl).searchParams.get('launch') ?? '',
    });
    const res = await fetch(request.url, { redirect: 'manual' });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain(`Registered: &#x27;${APP_REDIRECT_URI}&#x27;`);
    expect(html).toContain('simulated');
  });
});
