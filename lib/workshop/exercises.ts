/**
 * Exercises of a room: chosen from the built-in set or written by the instructor (a title,
 * instructions in Markdown, and the milestones that complete it). An exercise is done when every
 * one of its milestones is reached in the attendee's sandbox (lib/workshop/milestones.ts).
 */
import { z } from 'zod';
import { SIMULATED_ERRORS, SIMULATED_ERROR_KINDS } from '../launch-options/simulated-errors';
import type { SimulatedErrorKind } from '../launch-options/simulated-errors';
import { MILESTONES } from './milestones';
import type { MilestoneId, MilestoneTimes } from './milestones';

/** A built-in exercise: its instructions and the milestones that complete it. */
interface BuiltInExercise {
  readonly title: string;
  readonly instructions: string;
  readonly milestones: readonly MilestoneId[];
}

export const BUILT_IN_EXERCISES = {
  'ehr-launch': {
    title: 'EHR launch of the sample app',
    instructions:
      'Open your **launcher**, pick a practitioner and a patient, and launch the built-in *sample app*. Follow the flow in your console: the `launch` parameter, the authorization request, the code exchange and the first FHIR call.',
    milestones: ['ehr-launch', 'pkce-exchange'],
  },
  'public-app': {
    title: 'Register your own public app and launch it',
    instructions:
      'In your console, register a **public** client (no secret) with your app’s redirect URI, then launch it. A public client must use PKCE (`code_challenge_method=S256`).',
    milestones: ['client-registered', 'pkce-exchange'],
  },
  'confidential-client': {
    title: 'Confidential client with a secret',
    instructions:
      'Register a **confidential** client, note its secret (it is shown once) and exchange a code with `client_secret_basic` (HTTP Basic) or `client_secret_post`.',
    milestones: ['confidential-client'],
  },
  'backend-services': {
    title: 'Backend services with private_key_jwt',
    instructions:
      'Register a **backend service** with your public key (JWKS), sign a client assertion (`private_key_jwt`, RS384 or ES384) and ask for a token with `grant_type=client_credentials` and a `system/` scope.',
    milestones: ['backend-token'],
  },
  'granular-scopes': {
    title: 'Granular scopes',
    instructions:
      'Ask for a granular scope such as `patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory`, then make a FHIR call the token does not allow and read the 403.',
    milestones: ['granular-scopes', 'scope-refused'],
  },
  'refresh-rotation': {
    title: 'Refresh with rotation',
    instructions:
      'Ask for `offline_access`, then use the refresh token. The answer carries a **new** refresh token: the old one is spent, and presenting it again revokes the grant.',
    milestones: ['refresh'],
  },
  'expired-token': {
    title: 'Handle an expired token',
    instructions:
      'Let an access token expire (ask the instructor to move your clock forward, or do it in your console), see the FHIR server’s 401, then get a fresh token and repeat the call.',
    milestones: ['expired-token', 'expired-recovered'],
  },
  'simulated-error': {
    title: 'Debug a simulated error',
    instructions: 'Arm the simulated error named below on a launch, run the launch and find out from the flow and the audit trail what went wrong and where.',
    milestones: ['simulated-error'],
  },
  compartment: {
    title: 'Stay inside the patient compartment',
    instructions:
      'With a `patient/` token, try to read a patient other than the one in context: the server answers 404 and flags the attempt. Then fix your app so it reads only the patient in context.',
    milestones: ['bola-flagged', 'bola-fixed'],
  },
} as const satisfies Record<string, BuiltInExercise>;

export type BuiltInExerciseId = keyof typeof BUILT_IN_EXERCISES;
export const BUILT_IN_EXERCISE_IDS = Object.keys(BUILT_IN_EXERCISES) as BuiltInExerciseId[];

/** The limits of an instructor's exercise. */
export const EXERCISE_LIMITS = { title: 120, instructions: 8_000, count: 30 } as const;

const milestoneId = z.enum(MILESTONES.map((m) => m.id) as [MilestoneId, ...MilestoneId[]]);

/** An exercise as a room stores it (and as the API and the create form accept it). */
export const exerciseSchema = z.union([
  z
    .object({
      builtIn: z.enum(BUILT_IN_EXERCISE_IDS as [BuiltInExerciseId, ...BuiltInExerciseId[]]),
      /** For `simulated-error`: the error the attendees must debug. */
      simulatedError: z.enum(SIMULATED_ERROR_KINDS as [SimulatedErrorKind, ...SimulatedErrorKind[]]).optional(),
    })
    .strict(),
  z
    .object({
      title: z.string().trim().min(1).max(EXERCISE_LIMITS.title),
      instructions: z.string().max(EXERCISE_LIMITS.instructions),
      milestones: z.array(milestoneId).min(1).max(MILESTONES.length),
    })
    .strict(),
]);

export type ExerciseSpec = z.infer<typeof exerciseSchema>;
export const exerciseListSchema = z.array(exerciseSchema).max(EXERCISE_LIMITS.count);

/** An exercise ready to show: title, Markdown instructions, and its milestones. */
export interface Exercise {
  readonly key: string;
  readonly title: string;
  readonly instructions: string;
  readonly milestones: readonly MilestoneId[];
  readonly builtIn: boolean;
}

/** The exercises of a room's stored JSON (an unreadable value gives none rather than failing the page). */
export function parseExercises(json: string): ExerciseSpec[] {
  try {
    const parsed = exerciseListSchema.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : [];
  } catch {
    return [];
  }
}

/** What an exercise spec shows. */
export function toExercise(spec: ExerciseSpec, index: number): Exercise {
  if ('builtIn' in spec) {
    const base = BUILT_IN_EXERCISES[spec.builtIn];
    const error = spec.simulatedError ? SIMULATED_ERRORS[spec.simulatedError] : null;
    const instructions = error ? `${base.instructions}\n\nThe error to debug: **${error.label}**.` : base.instructions;
    return { key: `${index}-${spec.builtIn}`, title: base.title, instructions, milestones: base.milestones, builtIn: true };
  }
  return { key: `${index}-custom`, title: spec.title, instructions: spec.instructions, milestones: [...new Set(spec.milestones)], builtIn: false };
}

/** An exercise with the attendee's progress: done once every milestone is reached (at the last one's time). */
export interface ExerciseProgress extends Exercise {
  readonly reached: readonly MilestoneId[];
  readonly doneAt: Date | null;
}

/** The progress of each exercise from the milestones reached. */
export function exerciseProgress(exercises: readonly Exercise[], times: MilestoneTimes): ExerciseProgress[] {
  return exercises.map((exercise) => {
    const reached = exercise.milestones.filter((m) => times[m]);
    const doneAt = reached.length === exercise.milestones.length ? new Date(Math.max(...exercise.milestones.map((m) => times[m]?.getTime() ?? 0))) : null;
    return { ...exercise, reached, doneAt };
  });
}
