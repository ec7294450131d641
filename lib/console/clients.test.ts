import { afterEach, describe, expect, it } from 'vitest';
import { env } from '../env';
import { registerClientFromForm, rotateClientSecretFromForm } from './clients';
import { DEFAULT_SANDBOX_ID } from '../sandbox';
import { clientSecretMatches, findClientForAuthentication } from '../oauth/clients';
import { newClient } from '../oauth/test-support';

const httpsOnlyBefore = env.HTTPS_ONLY;
afterEach(() => {
  env.HTTPS_ONLY = httpsOnlyBefore;
});

const form = (redirectUris: string) => ({
  name: 'console app',
  clientType: 'public',
  redirectUris,
  pkceRequired: 'on',
  scope: 'launch/patient patient/Patient.rs',
});

describe('console registration follows the https-only mode like dynamic registration', () => {
  it('accepts an http://localhost redirect URI by default and refuses it under HTTPS_ONLY', async () => {
    env.HTTPS_ONLY = false;
    expect(await registerClientFromForm(form('http://localhost:8080/callback'))).toMatchObject({ ok: true });
    env.HTTPS_ONLY = true;
    const refused = await registerClientFromForm(form('http://localhost:8080/callback'));
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.error).toMatch(/^invalid_redirect_uri: .*HTTPS_ONLY/);
    expect(await registerClientFromForm(form('http://127.0.0.1:8080/callback'))).toMatchObject({ ok: true });
  });

  it('refuses a loopback jwks_uri under HTTPS_ONLY', async () => {
    env.HTTPS_ONLY = true;
    const refused = await registerClientFromForm({
      ...form('https://app.example.org/cb'),
      clientType: 'confidential-asymmetric',
      jwksUri: 'http://127.0.0.1:9/jwks.json',
    });
    expect(!refused.ok && refused.error).toMatch(/^invalid_client_metadata: jwks_uri/);
  });
});

describe('rotating a client secret from the console', () => {
  it('issues a new secret once; the old one stops working at once', async () => {
    const { client, clientSecret: old } = await newClient('confidential-symmetric');
    const result = await rotateClientSecretFromForm(client.clientId);
    if (!result.ok) throw new Error(result.error);
    expect(result.client.clientId).toBe(client.clientId);
    expect(result.clientSecret).toBeTruthy();
    expect(result.clientSecret).not.toBe(old);
    const stored = await findClientForAuthentication(client.clientId, DEFAULT_SANDBOX_ID);
    expect(clientSecretMatches(stored?.secretHash ?? null, result.clientSecret ?? '')).toBe(true);
    expect(clientSecretMatches(stored?.secretHash ?? null, old ?? '')).toBe(false);
  });

  it('refuses clients without a secret and unknown clients', async () => {
    const { client } = await newClient('public');
    expect(await rotateClientSecretFromForm(client.clientId)).toEqual({ ok: false, error: 'this client has no secret to rotate' });
    expect(await rotateClientSecretFromForm('no-such-client')).toEqual({ ok: false, error: 'this client has no secret to rotate' });
  });
});
