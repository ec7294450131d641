import { describe, expect, it } from 'vitest';
import { DEFAULT_SANDBOX_ID } from '../sandbox';
import { clientSecretMatches, findClientForAuthentication } from '../oauth/clients';
import { newClient } from '../oauth/test-support';
import { rotateClientSecretFromForm } from './clients';

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
