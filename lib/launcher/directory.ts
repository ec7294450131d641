import { listFeaturedPersonas } from '../interaction/personas';
import type { Persona } from '../interaction/personas';
import { listClients } from '../oauth/clients';
import { currentSandbox } from '../sandbox/context';
import { countResourcesByType, findPatientBanner, listEncounters, listPractitioners, searchPatients } from '../fhir/patient-directory';
import type { EncounterSummary, PatientBanner, PatientSearch, PatientSummary, PractitionerSummary } from '../fhir/patient-directory';
import { isFhirId } from '../fhir-id';

/** What the launcher page shows about registered apps (never secrets). */
export interface LauncherClient {
  readonly clientId: string;
  readonly name: string;
  readonly clientType: string;
  readonly tokenEndpointAuthMethod: 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  readonly launchUrl: string | null;
  readonly redirectUris: readonly string[];
  readonly scope: string;
  readonly pkceRequired: boolean;
}

/** Registered clients for the app picker, the sample app first. */
export async function listLauncherClients(): Promise<LauncherClient[]> {
  const clients = await listClients();
  return clients
    .map((c) => ({
      clientId: c.clientId,
      name: c.name,
      clientType: c.clientType,
      tokenEndpointAuthMethod: c.tokenEndpointAuthMethod,
      launchUrl: c.launchUris[0] ?? null,
      redirectUris: c.redirectUris,
      scope: c.scope,
      pkceRequired: c.pkceRequired,
    }))
    .sort((a, b) => Number(b.clientId === 'sample-app') - Number(a.clientId === 'sample-app'));
}

export interface PatientPreview {
  readonly banner: PatientBanner;
  readonly counts: readonly { type: string; count: number }[];
  readonly encounters: readonly EncounterSummary[];
}

/** Demographics, resource counts and recent encounters of one patient. */
export async function previewPatient(patientId: string): Promise<PatientPreview | null> {
  if (!isFhirId(patientId)) return null;
  const banner = await findPatientBanner(currentSandbox().id, patientId);
  if (!banner) return null;
  const [counts, encounters] = await Promise.all([countResourcesByType(currentSandbox().id, patientId), listEncounters(currentSandbox().id, patientId, 30)]);
  return { banner, counts, encounters };
}

/** Patient search for the launcher's picker. */
export function findPatients(search: PatientSearch): Promise<PatientSummary[]> {
  return searchPatients(currentSandbox().id, { ...search, limit: Math.min(search.limit ?? 30, 100) });
}

/** Users the launcher offers: practitioners (and the featured patients). */
export async function listLauncherUsers(): Promise<{ practitioners: PractitionerSummary[]; patients: Persona[] }> {
  const [practitioners, personas] = await Promise.all([
    listPractitioners(currentSandbox().id, 100),
    listFeaturedPersonas(currentSandbox().id, { practitioners: 0, patients: 8 }),
  ]);
  return { practitioners, patients: personas.filter((p) => p.kind === 'patient') };
}
