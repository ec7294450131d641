import { getDb } from '../db';
import type { Db } from '../db';
import { rawQuery } from '../db/direct';
import { Prisma } from '../generated/sqlite/client';
import { currentSandbox } from '../sandbox/context';
import { parseLaunchOptions } from './options';
import type { LaunchOptions } from './options';
import type { SimulatedError } from './simulated-errors';
import { describeSimulatedError } from './simulated-errors';
import { sandboxNow } from '../sandbox/context';

/**
 * The launcher's options of a launch (skip sign-in/consent, PKCE, token lifetime, simulated error),
 * or null when the launch does not exist. The authorization server and FHIR API call this with
 * `Grant.launchId` (see lib/launch-options/simulated-errors.ts for what each option must do).
 */
export async function getLaunchOptions(launchId: string, db: Db = getDb()): Promise<LaunchOptions | null> {
  if (!launchId || launchId.length > 200) return null;
  const row = await db.launch.findUnique({ where: { id: launchId }, select: { options: true } });
  return row ? parseLaunchOptions(row.options) : null;
}

/** The simulated error of a launch, or null (no launch, or none chosen). */
export async function getSimulatedError(launchId: string | null | undefined, db: Db = getDb()): Promise<SimulatedError | null> {
  if (!launchId) return null;
  return (await getLaunchOptions(launchId, db))?.simulatedError ?? null;
}

/**
 * The newest unconsumed, unexpired launch the launcher armed for a client's next standalone or
 * backend authorization (no `launch` parameter reaches the server in those flows), or null.
 * /oauth/authorize (without `launch`) and the client_credentials grant should consume it with
 * consumeLaunch() so its options apply once. One raw statement: every client_credentials request runs it.
 */
export async function findArmedLaunch(
  clientId: string,
  sandboxId: string = currentSandbox().id,
  db: Db = getDb(),
): Promise<{ id: string; options: LaunchOptions } | null> {
  const rows = await rawQuery<{ id: string; options: string }>(
    db,
    Prisma.sql`SELECT "id", "options" FROM "Launch"
      WHERE "sandboxId" = ${sandboxId} AND "clientId" = ${clientId} AND "consumedAt" IS NULL AND "expiresAt" > ${sandboxNow()}
      ORDER BY "createdAt" DESC LIMIT 10`,
  );
  for (const row of rows) {
    const options = parseLaunchOptions(row.options);
    if (options.launchType !== 'provider-ehr' && options.launchType !== 'patient-portal') return { id: row.id, options };
  }
  return null;
}

// Launch options never change after the launch is created, so the lookup is cached per process
// (hot path: every FHIR call with a launcher-made token).
const CACHE_LIMIT = 5000;
const cache = new Map<string, SimulatedError | null>();

/** The simulated error of a launch (null: none, or no launch). Cached: launch options are immutable. */
export async function simulatedErrorOfLaunch(launchId: string | null | undefined, db?: Db): Promise<SimulatedError | null> {
  if (!launchId) return null;
  if (cache.has(launchId)) return cache.get(launchId) ?? null;
  const error = await getSimulatedError(launchId, db);
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(launchId, error);
  return error;
}

/** One line for audit records: the response looks real, the console says it was simulated. */
export function simulatedNote(error: SimulatedError): string {
  return `simulated error: ${describeSimulatedError(error)}`;
}
