import { afterEach, describe, expect, it } from 'vitest';
import { env } from '../env';
import { registerClientFromForm } from './clients';

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
