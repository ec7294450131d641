'use server';

import { headers } from 'next/headers';
import { findPatients, previewPatient } from '#lib/launcher/directory';
import type { PatientPreview } from '#lib/launcher/directory';
import { createShareLinkUrl } from '#lib/launcher/share-links';
import { publicOrigin } from '#lib/http/origin';
import { registerAdHocApp, startLaunch } from '#lib/launcher/start-launch';
import type { LaunchStart } from '#lib/launcher/start-launch';
import { setLaunchUrl } from '#lib/launcher/launch-urls';
import { runBackendDemo } from '#lib/launcher/backend-demo';
import type { BackendDemoRun } from '#lib/launcher/backend-demo';
import { createScenario, deleteScenario, duplicateScenario, shareScenario, updateScenario } from '#lib/launcher/scenarios';
import type { Scenario, ScenarioResult } from '#lib/launcher/scenarios';
import type { PatientSearch, PatientSummary } from '#lib/fhir/patient-directory';
import { inRequestSandbox } from '../request-sandbox';

// Server actions of the launcher page: thin adapters onto lib/launcher.

export async function searchPatientsAction(search: PatientSearch): Promise<PatientSummary[]> {
  return inRequestSandbox(() => findPatients(search));
}

export async function previewPatientAction(patientId: string): Promise<PatientPreview | null> {
  return inRequestSandbox(() => previewPatient(patientId));
}

export async function startLaunchAction(config: unknown): Promise<LaunchStart> {
  const origin = publicOrigin(await headers());
  return inRequestSandbox(() => startLaunch(config, origin));
}

export async function registerAdHocAppAction(input: { name?: string; launchUrl: string; redirectUri: string }) {
  return inRequestSandbox(() => registerAdHocApp(input));
}

export async function createShareLinkAction(config: unknown): Promise<{ ok: true; url: string } | { ok: false; error: string }> {
  const origin = publicOrigin(await headers());
  return inRequestSandbox(() => createShareLinkUrl(config, origin));
}

export async function setLaunchUrlAction(input: { clientId: string; launchUrl: string; replace: string | null }) {
  return inRequestSandbox(() => setLaunchUrl(input.clientId, input.launchUrl, { replace: input.replace }));
}

export async function runBackendDemoAction(input: { scope: string }): Promise<BackendDemoRun> {
  const origin = publicOrigin(await headers());
  return inRequestSandbox(() => runBackendDemo(origin, { scope: input.scope }));
}

export async function saveScenarioAction(input: { name: string; description: string; config: unknown }): Promise<ScenarioResult<Scenario>> {
  return inRequestSandbox(() => createScenario(input));
}

export async function updateScenarioAction(id: string, patch: { name: string; description: string; config: unknown }): Promise<ScenarioResult<Scenario>> {
  return inRequestSandbox(() => updateScenario(id, patch));
}

export async function duplicateScenarioAction(id: string): Promise<ScenarioResult<Scenario>> {
  return inRequestSandbox(() => duplicateScenario(id));
}

export async function deleteScenarioAction(id: string): Promise<ScenarioResult<null>> {
  return inRequestSandbox(() => deleteScenario(id));
}

export async function shareScenarioAction(id: string): Promise<ScenarioResult<string>> {
  const origin = publicOrigin(await headers());
  return inRequestSandbox(() => shareScenario(id, origin));
}
