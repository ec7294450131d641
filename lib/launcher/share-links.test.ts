import { describe, expect, it } from 'vitest';
import type { LaunchConfig } from './launch-config';
import { createShareLink, createShareLinkUrl, findShareLink, SHARE_CODE_PATTERN } from './share-links';

const CONFIG: LaunchConfig = {
  clientId: 'sample-app',
  launchType: 'patient-standalone',
  patientIds: ['pat-1'],
  encounter: { mode: 'none' },
  userFhirUser: 'Patient/pat-1',
  scope: 'launch/patient openid patient/*.rs',
  skipLogin: false,
  skipConsent: true,
  pkceRequired: true,
  tokenLifetimeSeconds: null,
  framed: false,
  simulatedError: { kind: 'token_expires_soon', seconds: 5 },
};

describe('share links', () => {
  it('a short code recreates the same configuration', async () => {
    const code = await createShareLink(CONFIG);
    expect(code).toMatch(SHARE_CODE_PATTERN);
    expect(await findShareLink(code)).toEqual(CONFIG);
  });

  it('each link gets its own code; unknown or malformed codes find nothing', async () => {
    expect(await createShareLink(CONFIG)).not.toBe(await createShareLink(CONFIG));
    expect(await findShareLink('AAAAAAAAAA')).toBeNull();
    expect(await findShareLink('../../x')).toBeNull();
  });

  it('never stores a client secret', async () => {
    const code = await createShareLink({ ...CONFIG, clientSecret: 'top-secret' } as LaunchConfig);
    expect(JSON.stringify(await findShareLink(code))).not.toContain('top-secret');
  });

  it('the launcher gets a URL on the sandbox origin for a complete configuration, and a reason otherwise', async () => {
    const made = await createShareLinkUrl(CONFIG, 'https://sandbox.example');
    if (!made.ok) throw new Error(made.error);
    const code = /^https:\/\/sandbox\.example\/l\/(.+)$/.exec(made.url)?.[1] ?? '';
    expect(code).toMatch(SHARE_CODE_PATTERN);
    expect(await findShareLink(code)).toEqual(CONFIG);
    expect(await createShareLinkUrl({ ...CONFIG, clientId: undefined }, 'https://sandbox.example')).toEqual({
      ok: false,
      error: 'The configuration is incomplete.',
    });
    expect(await createShareLinkUrl('not a configuration', 'https://sandbox.example')).toEqual({ ok: false, error: 'The configuration is incomplete.' });
  });
});
