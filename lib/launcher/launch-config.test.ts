import { describe, expect, it } from 'vitest';
import { allowsPatientList, DEFAULT_LAUNCH_OPTIONS, MAX_LAUNCH_PATIENTS, parseLaunchOptions } from '../launch-options/options';
import { findPatientListProblem, launchConfigSchema, toLaunchOptions } from './launch-config';
import type { LaunchConfig } from './launch-config';
import {
  defaultSimulatedError,
  describeSimulatedError,
  SIMULATED_ERROR_KINDS,
  SIMULATED_ERRORS,
  simulatedErrorAppliesTo,
  simulatedErrorSchema,
} from '../launch-options/simulated-errors';

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
    expect(SIMULATED_ERROR_KINDS).toHaveLength(26);
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
    expect(mixed).toEqual({ ...DEFAULT_LAUNCH_OPTIONS, skipConsent: true, needPatientBanner: false });
  });

  it('a launch configuration has no place for a client secret', () => {
    expect(launchConfigSchema.safeParse(CONFIG).success).toBe(true);
    const withSecret = launchConfigSchema.parse({ ...CONFIG, clientSecret: 's3cret' }) as Record<string, unknown>;
    expect(withSecret.clientSecret).toBeUndefined();
    expect(launchConfigSchema.safeParse({ ...CONFIG, patientIds: ['../etc'] }).success).toBe(false);
  });
});

describe('several patients for population apps', () => {
  const population: LaunchConfig = { ...CONFIG, launchType: 'provider-standalone', patientIds: ['pat-1', 'pat-2', 'pat-3'], framed: false };

  it('provider standalone and backend service launches store every chosen patient, the context patient first', () => {
    expect(allowsPatientList('provider-standalone')).toBe(true);
    expect(allowsPatientList('backend-service')).toBe(true);
    expect(findPatientListProblem(population)).toBeNull();
    expect(toLaunchOptions(population).patientIds).toEqual(['pat-1', 'pat-2', 'pat-3']);
    expect(toLaunchOptions({ ...population, launchType: 'backend-service' }).patientIds).toEqual(['pat-1', 'pat-2', 'pat-3']);
    const stored = parseLaunchOptions(JSON.stringify(toLaunchOptions(population)));
    expect(stored.patientIds).toEqual(['pat-1', 'pat-2', 'pat-3']);
  });

  it('EHR, portal and patient standalone launches keep one patient in context', () => {
    for (const launchType of ['provider-ehr', 'patient-portal', 'patient-standalone'] as const) {
      expect(allowsPatientList(launchType)).toBe(false);
      expect(findPatientListProblem({ launchType, patientIds: ['pat-1'] })).toBeNull();
      expect(findPatientListProblem({ launchType, patientIds: ['pat-1', 'pat-2'] })).toMatch(/one patient in context/);
      expect(toLaunchOptions({ ...CONFIG, launchType }).patientIds).toEqual([]);
    }
  });

  it('refuses duplicates, bad ids and oversized lists; older stored options read as no list', () => {
    expect(findPatientListProblem({ launchType: 'backend-service', patientIds: ['pat-1', 'pat-1'] })).toMatch(/twice/);
    expect(launchConfigSchema.safeParse({ ...population, patientIds: ['pat-1', 'bad id'] }).success).toBe(false);
    const many = Array.from({ length: MAX_LAUNCH_PATIENTS + 1 }, (_, i) => `pat-${i}`);
    expect(launchConfigSchema.safeParse({ ...population, patientIds: many }).success).toBe(false);
    expect(parseLaunchOptions(JSON.stringify({ skipConsent: true })).patientIds).toEqual([]);
    expect(parseLaunchOptions(JSON.stringify({ patientIds: ['../etc'] })).patientIds).toEqual([]);
  });
});
