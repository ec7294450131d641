/**
 * EHR launch records: the server-side launch context behind the opaque `launch` id the mock EHR
 * hands to an app (`{launch_url}?iss={fhirBase}&launch={id}`). Unguessable, short-lived, bound to
 * one client and single-use (SMART App Launch 2.2 §app-launch; checklist #155, #156).
 * launcher-v2 put the whole context, secret included, in a base64 URL parameter; we never do.
 */
import { z } from 'zod';
import { getDb } from '../db';
import type { Launch as LaunchRow } from '../generated/sqlite/client';
import { DEFAULT_SANDBOX_ID } from '../sandbox';
import { LAUNCH_TTL_SECONDS } from '../oauth/config';
import { randomToken } from '../oauth/crypto';

/**
 * One fhirContext entry (SMART App Launch 2.2 §fhircontext-exp; checklist #108): at least one of
 * reference (relative Type/id), canonical, identifier; role an absolute URI when present.
 */
export const fhirContextItemSchema = z
  .object({
    reference: z.string().regex(/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/, 'reference must be a relative Type/id').optional(),
    canonical: z.string().min(1).optional(),
    identifier: z.looseObject({ system: z.string().optional(), value: z.string().optional() }).optional(),
    type: z.string().regex(/^[A-Z][A-Za-z]+$/).optional(),
    role: z.string().regex(/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/, 'role must be an absolute URI').optional(),
  })
  .refine((c) => c.reference !== undefined || c.canonical !== undefined || c.identifier !== undefined, 'a fhirContext item needs reference, canonical or identifier');
export type FhirContextItem = z.infer<typeof fhirContextItemSchema>;

/**
 * Launch options the EHR sets. Known keys are validated; other keys (simulated failures owned by
 * the launcher) are kept as they are.
 */
export const launchOptionsSchema = z.looseObject({
  /** need_patient_banner in the token response (checklist #109); EHR launches default to true. */
  needPatientBanner: z.boolean().optional(),
  /** smart_style_url in the token response (checklist #110). */
  smartStyleUrl: z.url().optional(),
  /** intent (checklist #111). */
  intent: z.string().max(200).optional(),
  /** tenant (checklist #111). */
  tenant: z.string().max(200).optional(),
  /** fhirContext (2.2 form: objects; checklist #108). */
  fhirContext: z.array(fhirContextItemSchema).max(20).optional(),
});
export type LaunchOptions = z.infer<typeof launchOptionsSchema>;

export interface CreateLaunchInput {
  sandboxId?: string;
  /** Bind to this client; when omitted the first client that uses the launch binds it. */
  clientId?: string | null;
  patientId?: string | null;
  encounterId?: string | null;
  /** The EHR user (persona id) the launch was made for. */
  userId?: string | null;
  options?: LaunchOptions;
  ttlSeconds?: number;
}

export interface LaunchRecord {
  readonly id: string;
  readonly sandboxId: string;
  readonly clientId: string | null;
  readonly patientId: string | null;
  readonly encounterId: string | null;
  readonly userId: string | null;
  readonly options: LaunchOptions;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly consumedAt: Date | null;
}

function toLaunch(row: LaunchRow): LaunchRecord {
  // Lenient per key: an invalid known option is dropped alone; the launcher's own keys are kept.
  let raw: unknown = {};
  try {
    raw = JSON.parse(row.options);
  } catch {
    raw = {};
  }
  const options: Record<string, unknown> = {};
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    const known = launchOptionsSchema.shape;
    for (const [key, value] of Object.entries(raw)) {
      if (!Object.hasOwn(known, key)) options[key] = value;
      else if (known[key as keyof typeof known].safeParse(value).success) options[key] = value;
    }
  }
  return {
    id: row.id,
    sandboxId: row.sandboxId,
    clientId: row.clientId,
    patientId: row.patientId,
    encounterId: row.encounterId,
    userId: row.userId,
    options: options as LaunchOptions,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    consumedAt: row.consumedAt,
  };
}

/** Creates a launch context and returns its opaque id (192 random bits). Throws on invalid options. */
export async function createLaunch(input: CreateLaunchInput = {}): Promise<string> {
  const options = launchOptionsSchema.parse(input.options ?? {});
  const ttl = Math.max(10, Math.min(input.ttlSeconds ?? LAUNCH_TTL_SECONDS, 24 * 3600));
  const id = randomToken(24);
  await getDb().launch.create({
    data: {
      id,
      sandboxId: input.sandboxId ?? DEFAULT_SANDBOX_ID,
      clientId: input.clientId ?? null,
      patientId: input.patientId ?? null,
      encounterId: input.encounterId ?? null,
      userId: input.userId ?? null,
      options: JSON.stringify(options),
      expiresAt: new Date(Date.now() + ttl * 1000),
    },
  });
  return id;
}

/** A launch by id (any state), or null. */
export async function findLaunch(id: string): Promise<LaunchRecord | null> {
  if (!id || id.length > 200) return null;
  const row = await getDb().launch.findUnique({ where: { id } });
  return row ? toLaunch(row) : null;
}

/** Why a launch cannot be used by a client right now, or null when it can. */
export function launchProblem(launch: LaunchRecord | null, clientId: string, sandboxId: string = DEFAULT_SANDBOX_ID): string | null {
  if (!launch || launch.sandboxId !== sandboxId) return 'is unknown';
  if (launch.clientId !== null && launch.clientId !== clientId) return 'was created for another client';
  if (launch.consumedAt !== null) return 'was already used (a launch id is single-use: launch the app again from the EHR)';
  if (launch.expiresAt.getTime() <= Date.now()) return 'has expired (launch the app again from the EHR)';
  return null;
}

/** The launch if it is live (unexpired, unused) and usable by this client, else null. */
export async function getLiveLaunch(id: string, clientId: string, sandboxId: string = DEFAULT_SANDBOX_ID): Promise<LaunchRecord | null> {
  const launch = await findLaunch(id);
  return launchProblem(launch, clientId, sandboxId) === null ? launch : null;
}

/**
 * Marks a live launch as used by a client, atomically (two concurrent authorize requests cannot
 * both take it). Returns the launch, or the reason it cannot be used.
 */
export async function consumeLaunch(id: string, clientId: string, sandboxId: string = DEFAULT_SANDBOX_ID): Promise<{ ok: true; launch: LaunchRecord } | { ok: false; reason: string }> {
  const now = new Date();
  const updated = await getDb().launch.updateMany({
    where: { id, sandboxId, consumedAt: null, expiresAt: { gt: now }, OR: [{ clientId: null }, { clientId }] },
    data: { consumedAt: now, clientId },
  });
  const launch = await findLaunch(id);
  if (updated.count === 1 && launch) return { ok: true, launch };
  return { ok: false, reason: launchProblem(launch, clientId, sandboxId) ?? 'was already used' };
}
