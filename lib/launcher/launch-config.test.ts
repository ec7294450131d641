import { describe, expect, it } from 'vitest';
import { DEFAULT_LAUNCH_OPTIONS, launchConfigSchema, parseLaunchOptions, toLaunchOptions } from './launch-config';
import type { LaunchConfig } from './launch-config';
import { defaultSimulatedError, describeSimulatedError, SIMULATED_ERROR_KINDS, SIMULATED_ERRORS, simulatedErrorAppliesTo, simulatedErrorSchema } from './simulated-errors';

const CONFIG: LaunchConfig = {
  clientId: 'sample-app',
  launchType: 'provider-ehr',
  patientIds: ['pat-1'],
  encounter: { mode: 'latest' },
  userFhirUser: 'Practitioner/practitioner-1',
  scope: 'launch openid patient/*.rs',
  skipLogin: true,
  skipConsent: false,
  pkceRequired: true,
  tokenLifetimeSeconds: 120,
  framed: true,
  simulatedError: { kind: 'fhir_rate_limited', retryAfterSeconds: 30 },
};

describe('simulated errors', () => {
  it('every kind has a label, an owning endpoint, an effect and a valid default', () => {
    expect(SIMULATED_ERROR_KINDS).toHaveLength(13);
    for (const kind of SIMULATED_ERROR_KINDS) {
      const e = defaultSimulatedError(kind);
      expect(simulatedErrorSchema.safeParse(e).success).toBe(true);
      expect(['authorize', 'token', 'fhir']).toContain(simulatedErrorAppliesTo(e));
      expect(SIMULATED_ERRORS[kind].effect.length).toBeGreaterThan(40);
      expect(describeSimulatedError(e)).toBeTruthy();
    }
  });

  it('refuses unknown kinds, missing or out-of-range parameters and extra fields', () => {
    expect(simulatedErrorSchema.safeParse({ kind: 'nope' }).success).toBe(false);
    expect(simulatedErrorSchema.safeParse({ kind: 'token_expires_soon' }).success).toBe(false);
    expect(simulatedErrorSchema.safeParse({ kind: 'token_expires_soon', seconds: 0 }).success).toBe(false);
    expect(simulatedErrorSchema.safeParse({ kind: 'invalid_scope', extra: 1 }).success).toBe(false);
  });
});

describe('launch options', () => {
  it('a configuration becomes stored options; framed EHR launches need no patient banner', () => {
    const options = toLaunchOptions(CONFIG);
    expect(options).toMatchObject({ launchType: 'provider-ehr', skipLogin: true, framed: true, needPatientBanner: false, tokenLifetimeSeconds: 120 });
    expect(toLaunchOptions({ ...CONFIG, launchType: 'patient-standalone' })).toMatchObject({ framed: false, needPatientBanner: true });
    expect(parseLaunchOptions(JSON.stringify(options)).simulatedError).toEqual({ kind: 'fhir_rate_limited', retryAfterSeconds: 30 });
  });

  it('reads stored options leniently, field by field', () => {
    expect(parseLaunchOptions('{}')).toEqual(DEFAULT_LAUNCH_OPTIONS);
    expect(parseLaunchOptions('not json')).toEqual(DEFAULT_LAUNCH_OPTIONS);
    expect(parseLaunchOptions(null)).toEqual(DEFAULT_LAUNCH_OPTIONS);
    const mixed = parseLaunchOptions(JSON.stringify({ skipConsent: true, simulatedError: { kind: 'bogus' }, launchType: 'x', needPatientBanner: false }));
    expect(mixed).toEqual({ ...DEFAULT_LAUNCH_OPTIONS, skipConsent: true });
  });

  it('a launch configuration has no place for a client secret', () => {
    expect(launchConfigSchema.safeParse(CONFIG).success).toBe(true);
    const withSecret = launchConfigSchema.parse({ ...CONFIG, clientSecret: 's3cret' }) as Record<string, unknown>;
    expect(withSecret.clientSecret).toBeUndefined();
    expect(launchConfigSchema.safeParse({ ...CONFIG, patientIds: ['../etc'] }).success).toBe(false);
  });
});
