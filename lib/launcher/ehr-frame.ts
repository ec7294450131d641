import { findPersonaByFhirUser } from '../interaction/personas';
import type { Persona } from '../interaction/personas';
import { getClient } from '../oauth/clients';
import { currentSandbox } from '../sandbox/context';
import { findLaunch } from '../oauth/launches';
import { findEncounter, findPatientBanner } from '../fhir/patient-directory';
import type { EncounterSummary, PatientBanner } from '../fhir/patient-directory';
import type { LaunchOptions } from '../launch-options/options';
import { appLaunchUrl } from './start-launch';
import { sandboxNowMs } from '../sandbox/context';

/** What the EHR frame shows: chrome, patient banner and the app's launch URL for the iframe. */
export interface EhrFrame {
  readonly launchId: string;
  readonly clientName: string;
  readonly appUrl: string;
  readonly appOrigin: string;
  readonly banner: PatientBanner | null;
  /** The patient's age in whole years today, when the birth date is known. */
  readonly age: number | null;
  readonly encounter: EncounterSummary | null;
  readonly user: Persona | null;
  readonly options: LaunchOptions;
  /** The launch was already used or has expired: reloading the frame cannot launch again. */
  readonly stale: boolean;
}

/**
 * Age in whole years on `now` (UTC) of a FHIR `birthDate` (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`; a
 * partial date counts from its first day), or null when there is none or it cannot be read.
 */
export function ageInYears(birthDate: string | null, now: Date = new Date()): number | null {
  if (!birthDate) return null;
  const match = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?/.exec(birthDate);
  if (!match) return null;
  const [year, month, day] = [Number(match[1]), Number(match[2] ?? '1'), Number(match[3] ?? '1')];
  const born = new Date(Date.UTC(year, month - 1, day));
  if (born.getUTCMonth() !== month - 1 || born.getUTCDate() !== day) return null;
  let years = now.getUTCFullYear() - year;
  if (now.getUTCMonth() < month - 1 || (now.getUTCMonth() === month - 1 && now.getUTCDate() < day)) years--;
  return years;
}

/** The EHR frame of a launch, or null when the launch is unknown or has no app launch URL. */
export async function getEhrFrame(launchId: string, origin: string): Promise<EhrFrame | null> {
  const launch = await findLaunch(launchId);
  if (!launch || !launch.clientId) return null;
  const client = await getClient(launch.clientId, { sandboxId: launch.sandboxId });
  if (!client) return null;
  const stored = launch.options;
  const launchUrl = stored.launchUrl && client.launchUris.includes(stored.launchUrl) ? stored.launchUrl : client.launchUris[0];
  if (!launchUrl) return null;
  const scope = stored.appScope;
  const [banner, encounter, user] = await Promise.all([
    launch.patientId ? findPatientBanner(currentSandbox().id, launch.patientId) : Promise.resolve(null),
    launch.encounterId ? findEncounter(currentSandbox().id, launch.encounterId) : Promise.resolve(null),
    launch.userId ? findPersonaByFhirUser(currentSandbox().id, launch.userId) : Promise.resolve(null),
  ]);
  return {
    launchId,
    clientName: client.name,
    appUrl: appLaunchUrl(launchUrl, { iss: `${origin}${currentSandbox().basePath}/fhir`, launch: launchId, scope }),
    appOrigin: new URL(launchUrl).origin,
    banner,
    age: ageInYears(banner?.birthDate ?? null),
    encounter,
    user,
    options: launch.options,
    stale: launch.consumedAt !== null || launch.expiresAt.getTime() <= sandboxNowMs(),
  };
}
