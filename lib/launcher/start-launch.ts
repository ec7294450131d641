import { getClient, registerClient } from '../oauth/clients';
import { oauthUrls } from '../oauth/config';
import { currentSandbox } from '../sandbox/context';
import { createLaunch } from '../oauth/launches';
import { findPatientSummary, listEncounters } from '../fhir/patient-directory';
import { findPersonaByFhirUser } from '../interaction/personas';
import { isEhrLaunch, LAUNCH_TYPES } from '../launch-options/options';
import { findPatientListProblem, launchConfigSchema, toLaunchOptions } from './launch-config';
import type { LaunchConfig } from './launch-config';
import { sampleAppClientId } from './sample-app';
import { SIMULATED_ERRORS, simulatedErrorProblem } from '../launch-options/simulated-errors';

/**
 * Starting a launch from the launcher: validates the configuration, creates the server-side Launch
 * record (opaque id, bound to the client; the options carry skip sign-in/consent, PKCE, token
 * lifetime and the simulated error) and says where to send the browser.
 */

export type LaunchStart =
  | { readonly ok: true; readonly kind: 'ehr'; readonly launchId: string; readonly appUrl: string; readonly frameUrl: string | null }
  | { readonly ok: true; readonly kind: 'standalone'; readonly launchId: string; readonly appUrl: string | null; readonly fhirBase: string }
  | {
      readonly ok: true;
      readonly kind: 'backend';
      readonly launchId: string;
      readonly clientId: string;
      readonly tokenUrl: string;
      readonly fhirBase: string;
      readonly patientIds: readonly string[];
    }
  | { readonly ok: false; readonly error: string };

/** `{launch_url}?iss=…&launch=…` (SMART App Launch 2.2 §launch-app-ehr-launch; docs/CONFORMANCE.md #155), plus scope for the sample app. */
export function appLaunchUrl(launchUrl: string, params: { iss: string; launch?: string; scope?: string }): string {
  const url = new URL(launchUrl);
  url.searchParams.set('iss', params.iss);
  if (params.launch) url.searchParams.set('launch', params.launch);
  if (params.scope) url.searchParams.set('scope', params.scope);
  return url.toString();
}

/** Creates the Launch record for a configuration and returns where to go next. */
export async function startLaunch(input: unknown, origin: string): Promise<LaunchStart> {
  const parsed = launchConfigSchema.safeParse(input);
  if (!parsed.success)
    return { ok: false, error: `Invalid launch configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
  const config: LaunchConfig = parsed.data;
  const client = await getClient(config.clientId);
  if (!client) return { ok: false, error: `No registered client '${config.clientId}'.` };
  const sandboxUrl = `${origin}${currentSandbox().basePath}`;
  const fhirBase = `${sandboxUrl}/fhir`;
  const type = LAUNCH_TYPES[config.launchType];
  const patientListProblem = findPatientListProblem(config);
  if (patientListProblem) return { ok: false, error: patientListProblem };
  // A simulated error this launch can never trigger is refused rather than armed to do nothing.
  const simulatedProblem = config.simulatedError
    ? simulatedErrorProblem(config.simulatedError, { launchType: config.launchType, tokenEndpointAuthMethod: client.tokenEndpointAuthMethod })
    : null;
  if (config.simulatedError && simulatedProblem)
    return {
      ok: false,
      error: `The simulated error '${SIMULATED_ERRORS[config.simulatedError.kind].label}' cannot happen in this launch: ${simulatedProblem}.`,
    };
  for (const id of config.patientIds) {
    if (!(await findPatientSummary(currentSandbox().id, id))) return { ok: false, error: `Patient '${id}' does not exist.` };
  }

  if (config.launchType === 'backend-service') {
    if (client.clientType !== 'backend')
      return {
        ok: false,
        error: `Client '${client.clientId}' is a ${client.clientType} client; a backend service launch needs a backend client (private_key_jwt, client_credentials).`,
      };
    const launchId = await createLaunch({ clientId: client.clientId, options: toLaunchOptions(config) });
    return { ok: true, kind: 'backend', launchId, clientId: client.clientId, tokenUrl: oauthUrls(sandboxUrl).token, fhirBase, patientIds: config.patientIds };
  }
  if (client.clientType === 'backend') return { ok: false, error: `Client '${client.clientId}' is a backend client: choose the backend service launch type.` };

  const patientId = config.patientIds[0] ?? null;
  if (isEhrLaunch(config.launchType) && !patientId) return { ok: false, error: 'Choose a patient: an EHR launch opens the app for the patient in the EHR.' };

  let encounterId: string | null = null;
  if (patientId && config.encounter.mode !== 'none') {
    const encounters = await listEncounters(currentSandbox().id, patientId, 500);
    const chosen = config.encounter.mode === 'latest' ? encounters[0] : encounters.find((e) => config.encounter.mode === 'id' && e.id === config.encounter.id);
    if (!chosen && config.encounter.mode === 'id') return { ok: false, error: `Encounter '${config.encounter.id}' is not one of this patient's encounters.` };
    encounterId = chosen?.id ?? null;
  }

  // The EHR user: the chosen persona; a patient portal's user is the patient.
  let userFhirUser = config.userFhirUser;
  if (!userFhirUser && type.user === 'patient' && patientId) userFhirUser = `Patient/${patientId}`;
  if (userFhirUser && !(await findPersonaByFhirUser(currentSandbox().id, userFhirUser))) return { ok: false, error: `User '${userFhirUser}' does not exist.` };
  if (type.user === 'patient' && userFhirUser && patientId && userFhirUser !== `Patient/${patientId}`) {
    return { ok: false, error: 'In a patient launch the signed-in patient and the patient in context must be the same person.' };
  }
  if (config.skipLogin && !userFhirUser) return { ok: false, error: 'Skip sign-in needs a user: choose the user the app is launched for.' };

  // The launch URL on the origin the launcher is used from, if registered (the sample app has one per
  // origin the sandbox was reached on: another port, or https after http); else the first one.
  const launchUrl = client.launchUris.find((u) => u.startsWith(`${origin}/`)) ?? client.launchUris[0] ?? null;
  const scope = client.clientId === sampleAppClientId() && config.scope.trim() ? config.scope.trim() : undefined;
  const launchId = await createLaunch({
    clientId: client.clientId,
    patientId,
    encounterId,
    userId: userFhirUser,
    options: { ...toLaunchOptions(config), ...(launchUrl ? { launchUrl } : {}), ...(scope ? { appScope: scope } : {}) },
  });

  if (isEhrLaunch(config.launchType)) {
    if (!launchUrl)
      return { ok: false, error: `Client '${client.clientId}' has no launch URL registered: add one under "1. App", or use a standalone launch.` };
    const appUrl = appLaunchUrl(launchUrl, { iss: fhirBase, launch: launchId, scope });
    return { ok: true, kind: 'ehr', launchId, appUrl, frameUrl: config.framed ? `${currentSandbox().basePath}/ehr/${encodeURIComponent(launchId)}` : null };
  }
  return { ok: true, kind: 'standalone', launchId, appUrl: launchUrl ? appLaunchUrl(launchUrl, { iss: fhirBase, scope }) : null, fhirBase };
}

const HTTP_URL = /^https?:\/\/[^\s]+$/;

/** Registers an ad-hoc app (launch URL + redirect URI) as a public sandbox client; returns its client_id. */
export async function registerAdHocApp(input: {
  name?: string;
  launchUrl: string;
  redirectUri: string;
}): Promise<{ ok: true; clientId: string } | { ok: false; error: string }> {
  const launchUrl = input.launchUrl.trim();
  const redirectUri = input.redirectUri.trim();
  if (!HTTP_URL.test(launchUrl) || !HTTP_URL.test(redirectUri)) return { ok: false, error: 'Launch URL and redirect URI must be absolute http(s) URLs.' };
  try {
    const { client } = await registerClient({
      name: (input.name?.trim() || `Ad-hoc app at ${new URL(launchUrl).host}`).slice(0, 200),
      clientType: 'public',
      redirectUris: [redirectUri],
      launchUris: [launchUrl],
      pkceRequired: true,
    });
    return { ok: true, clientId: client.clientId };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : 'Registration failed' };
  }
}
