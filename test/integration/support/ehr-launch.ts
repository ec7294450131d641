// EHR launches for integration tests: the launcher's own lib function (startLaunch, what the
// launcher page's server action calls) creates the Launch record in the test database, and the
// test plays the app that receives `{launch_url}?iss=…&launch=…`.
import type { Db } from '../../../lib/db';
import type { LaunchStart, startLaunch } from '../../../lib/launcher/start-launch';
import type { findLaunch } from '../../../lib/oauth/launches';

interface LauncherLib {
  readonly startLaunch: typeof startLaunch;
  readonly findLaunch: typeof findLaunch;
  readonly db: Db;
}
let loaded: Promise<LauncherLib> | null = null;

/**
 * The app's lib/ on the server's database. lib/env reads DATABASE_URL once, when first imported,
 * so it is set before the first (dynamic) import; test files must not import lib/ statically.
 */
export function serverLib(databaseUrl: string): Promise<LauncherLib> {
  loaded ??= (async () => {
    process.env.DATABASE_URL = databaseUrl;
    const [launcher, launches, { getDb }, { env }] = await Promise.all([
      import('../../../lib/launcher/start-launch'),
      import('../../../lib/oauth/launches'),
      import('../../../lib/db'),
      import('../../../lib/env'),
    ]);
    if (env.DATABASE_URL !== databaseUrl) throw new Error(`lib/env was loaded before serverLib() with DATABASE_URL=${env.DATABASE_URL}`);
    return { startLaunch: launcher.startLaunch, findLaunch: launches.findLaunch, db: getDb() };
  })();
  return loaded;
}

export interface EhrLaunch {
  /** `iss` as the app receives it. */
  readonly iss: string;
  /** The opaque `launch` id. */
  readonly launch: string;
  readonly patientId: string;
  readonly encounterId: string | null;
  readonly userFhirUser: string;
}

/** A provider EHR launch of `clientId` for `patientId` by the practitioner persona `userFhirUser`. */
export async function createEhrLaunch(
  databaseUrl: string,
  base: string,
  input: { clientId: string; patientId: string; userFhirUser: string; encounter?: 'latest' | 'none'; tokenLifetimeSeconds?: number },
): Promise<EhrLaunch> {
  const { startLaunch, findLaunch } = await serverLib(databaseUrl);
  const started: LaunchStart = await startLaunch(
    {
      clientId: input.clientId,
      launchType: 'provider-ehr',
      patientIds: [input.patientId],
      encounter: { mode: input.encounter ?? 'latest' },
      userFhirUser: input.userFhirUser,
      scope: '',
      skipLogin: false,
      skipConsent: false,
      pkceRequired: true,
      tokenLifetimeSeconds: input.tokenLifetimeSeconds ?? null,
      framed: false,
      simulatedError: null,
    },
    base,
  );
  if (!started.ok) throw new Error(`startLaunch refused: ${started.error}`);
  if (started.kind !== 'ehr') throw new Error(`expected an EHR launch, got ${started.kind}`);
  const appUrl = new URL(started.appUrl);
  const record = await findLaunch(started.launchId);
  return {
    iss: appUrl.searchParams.get('iss') ?? '',
    launch: appUrl.searchParams.get('launch') ?? '',
    patientId: input.patientId,
    encounterId: record?.encounterId ?? null,
    userFhirUser: input.userFhirUser,
  };
}
