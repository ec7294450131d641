import { z } from 'zod';
import { simulatedErrorSchema } from './simulated-errors';
import type { SimulatedError } from './simulated-errors';

/**
 * Launch configuration: what the launcher page edits, what a shareable link stores, and the
 * options part that goes into the Launch record. Pure (zod only): the launcher's client component
 * imports it too.
 */

export const LAUNCH_TYPES = {
  'provider-ehr': { label: 'Provider EHR launch', user: 'practitioner', launch: true, population: false },
  'patient-portal': { label: 'Patient portal launch', user: 'patient', launch: true, population: false },
  'provider-standalone': { label: 'Provider standalone launch', user: 'practitioner', launch: false, population: true },
  'patient-standalone': { label: 'Patient standalone launch', user: 'patient', launch: false, population: false },
  'backend-service': { label: 'Backend service', user: null, launch: false, population: true },
} as const satisfies Record<string, { label: string; user: 'practitioner' | 'patient' | null; launch: boolean; population: boolean }>;

export type LaunchType = keyof typeof LAUNCH_TYPES;
export const LAUNCH_TYPE_IDS = Object.keys(LAUNCH_TYPES) as LaunchType[];

/** True for launch types that hand the app a `launch` id (EHR and portal launches). */
export function isEhrLaunch(type: LaunchType): boolean {
  return LAUNCH_TYPES[type].launch;
}

/** True for launch types a population app uses, which may carry several patients (provider standalone, backend service). */
export function allowsPatientList(type: LaunchType): boolean {
  return LAUNCH_TYPES[type].population;
}

/** At most this many patients in one launch configuration. */
export const MAX_LAUNCH_PATIENTS = 50;

const fhirId = z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/);

/** Options stored in the Launch record (`Launch.options`), read by the authorization server and FHIR API. */
// A type alias (not an interface) so it fits lib/smart/launch.ts's open options record.
export type LaunchOptions = {
  readonly launchType: LaunchType;
  /** Sign the launch's user in without the sign-in page (SSO from the EHR session, checklist #159). */
  readonly skipLogin: boolean;
  /** Approve the requested scopes without the consent page (the sandbox's auto-approve switch, checklist #159). */
  readonly skipConsent: boolean;
  /** false: legacy SMART v1 app, /oauth/authorize accepts a request without PKCE for this launch (checklist #52). */
  readonly pkceRequired: boolean;
  /** Access token lifetime for this launch, seconds (null: the server default, ACCESS_TOKEN_TTL). */
  readonly tokenLifetimeSeconds: number | null;
  /** Opened inside the EHR frame, which shows its own banner: the token response says need_patient_banner=false. */
  readonly framed: boolean;
  readonly simulatedError: SimulatedError | null;
  /** The patients chosen for a population app, launch context first; empty for single-patient launch types. */
  readonly patientIds: readonly string[];
};

export const DEFAULT_LAUNCH_OPTIONS: LaunchOptions = {
  launchType: 'provider-ehr',
  skipLogin: false,
  skipConsent: false,
  pkceRequired: true,
  tokenLifetimeSeconds: null,
  framed: false,
  simulatedError: null,
  patientIds: [],
};

export const launchOptionsSchema = z.object({
  launchType: z.enum(LAUNCH_TYPE_IDS as [LaunchType, ...LaunchType[]]),
  skipLogin: z.boolean(),
  skipConsent: z.boolean(),
  pkceRequired: z.boolean(),
  tokenLifetimeSeconds: z.number().int().min(10).max(86_400).nullable(),
  framed: z.boolean(),
  simulatedError: simulatedErrorSchema.nullable(),
  patientIds: z.array(fhirId).max(MAX_LAUNCH_PATIENTS),
});

/**
 * Reads stored options leniently: unknown or invalid fields fall back to the defaults one by one, so
 * a launch created by an older version (or by hand, `{}`) still behaves predictably.
 */
export function parseLaunchOptions(json: string | null | undefined): LaunchOptions {
  let raw: unknown;
  try {
    raw = JSON.parse(json ?? '{}');
  } catch {
    return DEFAULT_LAUNCH_OPTIONS;
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return DEFAULT_LAUNCH_OPTIONS;
  const shape = launchOptionsSchema.shape;
  const out: Record<string, unknown> = { ...DEFAULT_LAUNCH_OPTIONS };
  for (const key of Object.keys(shape) as (keyof typeof shape)[]) {
    if (!Object.hasOwn(raw, key)) continue;
    const parsed = shape[key].safeParse((raw as Record<string, unknown>)[key]);
    if (parsed.success) out[key] = parsed.data;
  }
  return out as unknown as LaunchOptions;
}

/** Encounter choice in the launcher: none, the patient's latest, or one by id. */
export type EncounterChoice = { readonly mode: 'none' } | { readonly mode: 'latest' } | { readonly mode: 'id'; readonly id: string };

/** What the launcher page submits and what a shareable link recreates (never a client secret). */
export const launchConfigSchema = z.object({
  clientId: z.string().min(1).max(200),
  launchType: z.enum(LAUNCH_TYPE_IDS as [LaunchType, ...LaunchType[]]),
  /** One patient, or several for population apps (the first is the launch context). */
  patientIds: z.array(fhirId).max(MAX_LAUNCH_PATIENTS),
  encounter: z.union([z.object({ mode: z.literal('none') }), z.object({ mode: z.literal('latest') }), z.object({ mode: z.literal('id'), id: fhirId })]),
  /** `Practitioner/{id}` or `Patient/{id}`, or null to let the user sign in. */
  userFhirUser: z
    .string()
    .regex(/^(Practitioner|Patient)\/[A-Za-z0-9\-.]{1,64}$/)
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
 * The Launch record options of a configuration, plus the keys lib/smart/launch.ts knows
 * (`needPatientBanner`: false when the EHR frame shows its own banner, SMART App Launch 2.2 §launch-context-for-ui-integration).
 */
export function toLaunchOptions(config: LaunchConfig): LaunchOptions & { needPatientBanner: boolean } {
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
