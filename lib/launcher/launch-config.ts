import { z } from 'zod';
import { referencePattern } from '../fhir-id';
import {
  allowsPatientList,
  DEFAULT_LAUNCH_OPTIONS,
  fhirIdSchema,
  isEhrLaunch,
  LAUNCH_TYPE_IDS,
  LAUNCH_TYPES,
  MAX_LAUNCH_PATIENTS,
} from '../launch-options/options';
import type { LaunchOptions, LaunchType } from '../launch-options/options';
import { simulatedErrorSchema } from '../launch-options/simulated-errors';

/**
 * Launch configuration: what the launcher page edits and what a shareable link stores. Its
 * options part becomes the Launch record's options (lib/launch-options/options.ts). Pure (zod
 * only): the launcher's client component imports it too.
 */

/** What the launcher page submits and what a shareable link recreates (never a client secret). */
export const launchConfigSchema = z.object({
  clientId: z.string().min(1).max(200),
  launchType: z.enum(LAUNCH_TYPE_IDS as [LaunchType, ...LaunchType[]]),
  /** One patient, or several for population apps (the first is the launch context). */
  patientIds: z.array(fhirIdSchema).max(MAX_LAUNCH_PATIENTS),
  encounter: z.union([z.object({ mode: z.literal('none') }), z.object({ mode: z.literal('latest') }), z.object({ mode: z.literal('id'), id: fhirIdSchema })]),
  /** `Practitioner/{id}` or `Patient/{id}`, or null to let the user sign in. */
  userFhirUser: z
    .string()
    .regex(referencePattern(['Practitioner', 'Patient']))
    .nullable(),
  scope: z.string().max(4000),
  skipLogin: z.boolean(),
  skipConsent: z.boolean(),
  pkceRequired: z.boolean(),
  tokenLifetimeSeconds: z.number().int().min(10).max(86_400).nullable(),
  framed: z.boolean(),
  simulatedError: simulatedErrorSchema.nullable(),
});

export type LaunchConfig = z.infer<typeof launchConfigSchema>;

/**
 * A configuration for `clientId` with the default launch options (lib/launch-options/options.ts)
 * and no patient, encounter, user or extra scope chosen, except what `choices` sets.
 */
export function launchConfig(clientId: string, choices: Partial<Omit<LaunchConfig, 'clientId'>> = {}): LaunchConfig {
  const { launchType, skipLogin, skipConsent, pkceRequired, tokenLifetimeSeconds, framed, simulatedError } = DEFAULT_LAUNCH_OPTIONS;
  return {
    clientId,
    launchType,
    patientIds: [],
    encounter: { mode: 'none' },
    userFhirUser: null,
    scope: '',
    skipLogin,
    skipConsent,
    pkceRequired,
    tokenLifetimeSeconds,
    framed,
    simulatedError,
    ...choices,
  };
}

/**
 * The Launch record options of a configuration (`needPatientBanner`: false when the EHR frame shows its own banner, SMART App Launch 2.2 §launch-context-for-ui-integration).
 */
export function toLaunchOptions(config: LaunchConfig): LaunchOptions {
  const framed = config.framed && isEhrLaunch(config.launchType);
  return {
    needPatientBanner: !framed,
    launchType: config.launchType,
    skipLogin: config.skipLogin,
    skipConsent: config.skipConsent,
    pkceRequired: config.pkceRequired,
    tokenLifetimeSeconds: config.tokenLifetimeSeconds,
    framed,
    simulatedError: config.simulatedError,
    patientIds: allowsPatientList(config.launchType) ? [...new Set(config.patientIds)] : [],
  };
}

/** Why a configuration's patient list is not acceptable for its launch type, or null when it is. */
export function findPatientListProblem(config: Pick<LaunchConfig, 'launchType' | 'patientIds'>): string | null {
  if (new Set(config.patientIds).size !== config.patientIds.length) return 'The same patient is chosen twice.';
  if (config.patientIds.length > 1 && !allowsPatientList(config.launchType)) {
    return `A ${LAUNCH_TYPES[config.launchType].label.toLowerCase()} has one patient in context; several patients are for population apps (provider standalone, backend service).`;
  }
  return null;
}
