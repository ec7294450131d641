/**
 * EHR launch records: the server-side launch context behind the opaque `launch` id the mock EHR
 * hands to an app (`{launch_url}?iss={fhirBase}&launch={id}`). Unguessable, short-lived, bound to
 * one client and single-use (SMART App Launch 2.2 §app-launch; docs/CONFORMANCE.md #155, #156).
 * launcher-v2 put the whole context, secret included, in a base64 URL parameter; we never do.
 */
import { getDb } from '../db';
import type { Launch as LaunchRow } from '../generated/sqlite/client';
import { currentSandbox } from '../sandbox/context';
import { LAUNCH_TTL_SECONDS } from './config';
import { randomToken } from './crypto';
import { assertLaunchOptionsInput, parseLaunchOptions } from '../launch-options/options';
import type { LaunchOptions, LaunchOptionsInput } from '../launch-options/options';
import { sandboxNow, sandboxNowMs } from '../sandbox/context';

export interface CreateLaunchInput {
  sandboxId?: string;
  /** Bind to this client; when omitted the first client that uses the launch binds it. */
  clientId?: string | null;
  patientId?: string | null;
  encounterId?: string | null;
  /** The EHR user (persona id) the launch was made for. */
  userId?: string | null;
  options?: LaunchOptionsInput;
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
  return {
    id: row.id,
    sandboxId: row.sandboxId,
    clientId: row.clientId,
    patientId: row.patientId,
    encounterId: row.encounterId,
    userId: row.userId,
    options: parseLaunchOptions(row.options),
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    consumedAt: row.consumedAt,
  };
}

/** Creates a launch context and returns its opaque id (192 random bits). Throws on invalid options. */
export async function createLaunch(input: CreateLaunchInput = {}): Promise<string> {
  const options = assertLaunchOptionsInput(input.options ?? {});
  const ttl = Math.max(10, Math.min(input.ttlSeconds ?? LAUNCH_TTL_SECONDS, 24 * 3600));
  const id = randomToken(24);
  await getDb().launch.create({
    data: {
      id,
      sandboxId: input.sandboxId ?? currentSandbox().id,
      clientId: input.clientId ?? null,
      patientId: input.patientId ?? null,
      encounterId: input.encounterId ?? null,
      userId: input.userId ?? null,
      options: JSON.stringify(options),
      expiresAt: new Date(sandboxNowMs() + ttl * 1000),
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
export function launchProblem(launch: LaunchRecord | null, clientId: string, sandboxId: string = currentSandbox().id): string | null {
  if (!launch || launch.sandboxId !== sandboxId) return 'is unknown';
  if (launch.clientId !== null && launch.clientId !== clientId) return 'was created for another client';
  if (launch.consumedAt !== null) return 'was already used (a launch id is single-use: launch the app again from the EHR)';
  if (launch.expiresAt.getTime() <= sandboxNowMs()) return 'has expired (launch the app again from the EHR)';
  return null;
}

/** The launch if it is live (unexpired, unused) and usable by this client, else null. */
export async function getLiveLaunch(id: string, clientId: string, sandboxId: string = currentSandbox().id): Promise<LaunchRecord | null> {
  const launch = await findLaunch(id);
  return launchProblem(launch, clientId, sandboxId) === null ? launch : null;
}

/**
 * Marks a live launch as used by a client, atomically (two concurrent authorize requests cannot
 * both take it). Returns the launch, or the reason it cannot be used.
 */
export async function consumeLaunch(
  id: string,
  clientId: string,
  sandboxId: string = currentSandbox().id,
): Promise<{ ok: true; launch: LaunchRecord } | { ok: false; reason: string }> {
  const now = sandboxNow();
  const updated = await getDb().launch.updateMany({
    where: { id, sandboxId, consumedAt: null, expiresAt: { gt: now }, OR: [{ clientId: null }, { clientId }] },
    data: { consumedAt: now, clientId },
  });
  const launch = await findLaunch(id);
  if (updated.count === 1 && launch) return { ok: true, launch };
  return { ok: false, reason: launchProblem(launch, clientId, sandboxId) ?? 'was already used' };
}
