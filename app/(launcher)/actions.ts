'use server';

import { headers } from 'next/headers';
import { findPatients, previewPatient } from '#lib/launcher/directory';
import type { PatientPreview } from '#lib/launcher/directory';
import { createShareLinkUrl } from '#lib/launcher/share-links';
import { publicOrigin } from '#lib/http/origin';
import { registerAdHocApp, startLaunch } from '#lib/launcher/start-launch';
import type { LaunchStart } from '#lib/launcher/start-launch';
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
