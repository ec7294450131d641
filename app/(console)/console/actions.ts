'use server';

import { revalidatePath } from 'next/cache';
import { redirect } from 'next/navigation';
import { requireConsoleSession, requireInstructorSession } from '#lib/console/auth';
import type { ClientFormResult, FormFields } from '#lib/console/clients';
import { cloneClient, registerClientFromForm, rotateClientSecretFromForm, updateClientFromForm } from '#lib/console/clients';
import { defaultReseedInput, parseReseedInput, startReseed } from '#lib/console/data';
import { revokeTokenFromConsole } from '#lib/console/tokens';
import { deleteClient } from '#lib/oauth/clients';
import { headers } from 'next/headers';
import { publicOrigin } from '#lib/http/origin';
import { runBackendDemo } from '#lib/launcher/backend-demo';
import type { BackendDemoRun } from '#lib/launcher/backend-demo';
import { inRequestSandbox } from '../../request-sandbox';

// Server actions are POSTs that Next.js checks against the Origin header (its CSRF protection);
// each one checks the console session again, since an action is reachable without its page.

function fields(form: FormData): FormFields {
  const out: FormFields = {};
  for (const [k, v] of form.entries()) if (typeof v === 'string') out[k] = v;
  return out;
}

/** Revokes a token, or its whole grant; the app's next FHIR call with a revoked token gets 401. */
export async function revokeTokenAction(form: FormData): Promise<void> {
  const session = await requireConsoleSession('/console/tokens');
  const id = String(form.get('id') ?? '');
  const [result, basePath] = await inRequestSandbox(
    async (sandbox) =>
      [await revokeTokenFromConsole(id, session.user, { scope: form.get('scope') === 'grant' ? 'grant' : 'token' }), sandbox.basePath] as const,
  );
  revalidatePath(`${basePath}/console/tokens/${id}`);
  redirect(`${basePath}/console/tokens/${encodeURIComponent(id)}?revoked=${result?.scope ?? 'token'}`);
}

export type ClientActionState = ClientFormResult | null;

/** Registers a client (the secret comes back once, in the action state). */
export async function registerClientAction(_prev: ClientActionState, form: FormData): Promise<ClientActionState> {
  await requireConsoleSession('/console/clients/new');
  return inRequestSandbox(() => registerClientFromForm(fields(form)));
}

/** Saves the edit form. */
export async function updateClientAction(_prev: ClientActionState, form: FormData): Promise<ClientActionState> {
  await requireConsoleSession('/console/clients');
  const result = await inRequestSandbox(() => updateClientFromForm(String(form.get('originalClientId') ?? ''), fields(form)));
  revalidatePath('/console/clients');
  return result;
}

/** Rotates a symmetric client's secret; the new one is shown once. */
export async function rotateSecretAction(_prev: ClientActionState, form: FormData): Promise<ClientActionState> {
  await requireConsoleSession('/console/clients');
  return inRequestSandbox(() => rotateClientSecretFromForm(String(form.get('clientId') ?? '')));
}

/** Clones a client for a workshop. */
export async function cloneClientAction(_prev: ClientActionState, form: FormData): Promise<ClientActionState> {
  await requireConsoleSession('/console/clients');
  const result = await inRequestSandbox(() => cloneClient(String(form.get('clientId') ?? '')));
  revalidatePath('/console/clients');
  return result;
}

/** Deletes a client and revokes its tokens. */
export async function deleteClientAction(form: FormData): Promise<void> {
  await requireConsoleSession('/console/clients');
  const { basePath } = await inRequestSandbox(async (sandbox) => {
    await deleteClient(String(form.get('clientId') ?? ''));
    return sandbox;
  });
  revalidatePath(`${basePath}/console/clients`);
  redirect(`${basePath}/console/clients?deleted=1`);
}

export type ReseedActionState = { ok: boolean; message: string } | null;

/** Starts a reseed with the form's seed and size, or the default dataset for "reset". */
export async function reseedAction(_prev: ReseedActionState, form: FormData): Promise<ReseedActionState> {
  await requireInstructorSession('/console/data');
  const input = form.get('reset') === '1' ? defaultReseedInput() : parseReseedInput(fields(form));
  if ('error' in input) return { ok: false, message: input.error };
  const started = await inRequestSandbox(() => startReseed(input));
  return started.started
    ? { ok: true, message: `Reseeding with seed ${input.seed}, ${input.patients} patients…` }
    : { ok: false, message: started.reason ?? 'not started' };
}

/** Runs the built-in backend service demo against this origin's endpoints. */
export async function runBackendDemoConsoleAction(scope: string): Promise<BackendDemoRun> {
  await requireConsoleSession('/console/backend-demo');
  const origin = publicOrigin(await headers());
  return inRequestSandbox(() => runBackendDemo(origin, { scope: String(scope) }));
}
