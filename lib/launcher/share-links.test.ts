import { describe, expect, it } from 'vitest';
import type { LaunchConfig } from './launch-config';
import { createShareLink, findShareLink, SHARE_CODE_PATTERN } from './share-links';

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
});
