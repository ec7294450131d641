/**
 * Launch options: the one schema of the Launch record's `options` column. The launcher writes them;
 * the authorization server and the FHIR API read them through the launch or grant they already
 * hold (skip sign-in/consent, PKCE for legacy apps, token lifetime, simulated error, the launch
 * context members of the token response). Pure (zod only): the launcher's client component imports it too.
 */
import { z } from 'zod';
import { FHIR_ID_PATTERN, referencePattern } from '../fhir-id';
import { simulatedErrorSchema } from './simulated-errors';
import type { SimulatedError } from './simulated-errors';

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

export const fhirIdSchema = z.string().regex(FHIR_ID_PATTERN);

/**
 * One fhirContext entry (SMART App Launch 2.2 §fhircontext-exp): at least one of reference
 * (relative Type/id), canonical, identifier; role an absolute URI when present.
 */
export const fhirContextItemSchema = z
  .object({
    reference: z.string().regex(referencePattern(), 'reference must be a relative Type/id').optional(),
    canonical: z.string().min(1).optional(),
    identifier: z.looseObject({ system: z.string().optional(), value: z.string().optional() }).optional(),
    type: z
      .string()
      .regex(/^[A-Z][A-Za-z]+$/)
      .optional(),
    role: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/, 'role must be an absolute URI')
      .optional(),
  })
  .refine(
    (c) => c.reference !== undefined || c.canonical !== undefined || c.identifier !== undefined,
    'a fhirContext item needs reference, canonical or identifier',
  );
export type FhirContextItem = z.infer<typeof fhirContextItemSchema>;

/** The schema of `Launch.options`. Behaviour keys have defaults; context keys are optional. */
export const launchOptionsSchema = z.object({
  launchType: z.enum(LAUNCH_TYPE_IDS as [LaunchType, ...LaunchType[]]),
  /** Sign the launch's user in without the sign-in page (SSO from the EHR session, SMART App Launch 2.2 §app-launch). */
  skipLogin: z.boolean(),
  /** Approve the requested scopes without the consent page (the sandbox's auto-approve switch). */
  skipConsent: z.boolean(),
  /** false: legacy SMART v1 app, /oauth/authorize accepts a request without PKCE for this launch. */
  pkceRequired: z.boolean(),
  /** Access token lifetime for this launch, seconds (null: the server default, ACCESS_TOKEN_TTL). */
  tokenLifetimeSeconds: z.number().int().min(10).max(86_400).nullable(),
  /** Opened inside the EHR frame, which shows its own banner: the token response says need_patient_banner=false. */
  framed: z.boolean(),
  simulatedError: simulatedErrorSchema.nullable(),
  /** The patients chosen for a population app, launch context first; empty for single-patient launch types. */
  patientIds: z.array(fhirIdSchema).max(MAX_LAUNCH_PATIENTS),
  /** need_patient_banner in the token response (SMART App Launch 2.2 §launch-context-arrives-with-your-access_token); EHR launches default to true. */
  needPatientBanner: z.boolean().optional(),
  /** smart_style_url in the token response. */
  smartStyleUrl: z.url().optional(),
  /** intent in the token response. */
  intent: z.string().max(200).optional(),
  /** tenant in the token response. */
  tenant: z.string().max(200).optional(),
  /** fhirContext in the token response (2.2 form: objects). */
  fhirContext: z.array(fhirContextItemSchema).max(20).optional(),
  /** The app launch URL the EHR frame opens (one of the client's registered launch URIs). */
  launchUrl: z.url().optional(),
  /** The scope the launcher passes to the app in its launch URL. */
  appScope: z.string().max(4000).optional(),
});

export type LaunchOptions = Omit<z.infer<typeof launchOptionsSchema>, 'simulatedError'> & { readonly simulatedError: SimulatedError | null };
/** What a caller may give when creating a launch: any subset, each key validated. */
export type LaunchOptionsInput = Partial<LaunchOptions>;

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

/** Validates options given to createLaunch; throws a ZodError naming the bad key. */
export function assertLaunchOptionsInput(input: LaunchOptionsInput): LaunchOptionsInput {
  return launchOptionsSchema.partial().parse(input) as LaunchOptionsInput;
}

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
