/**
 * The one place the interaction screens meet the authorization server's interaction API
 * (lib/oauth/interaction.ts): everything else in lib/auth works on InteractionDetails.
 */
import { isDatabaseUnavailable } from '../db/errors';
import { completeInteraction, denyInteraction, getInteractionOrThrow } from '../oauth/interaction';
import { endSession } from '../oauth/grant-store';
import { formatScopes } from '../smart/scopes';
import { DEFAULT_LAUNCH_OPTIONS } from '../launch-options/options';
import type { LaunchOptions } from '../launch-options/options';

export interface InteractionDetails {
  readonly id: string;
  /** When the app's authorization request arrived. */
  readonly createdAt: Date;
  readonly clientId: string;
  readonly clientName: string;
  /** The requested scopes this client may be granted: what the consent screen offers. */
  readonly requestedScope: string;
  /** Requested scopes that will not be granted, with the reason (shown so the developer sees why). */
  readonly droppedScopes: readonly { readonly scope: string; readonly reason: string }[];
  readonly launchId: string | null;
  /** Context fixed by the EHR launch (null when not set by the launch). */
  readonly patientId: string | null;
  readonly encounterId: string | null;
  /** The EHR user the launch was made for, as `Practitioner/{id}` or `Patient/{id}`. */
  readonly userFhirUser: string | null;
  readonly options: LaunchOptions;
  /** A patient must be chosen (launch/patient or patient/ scopes without a patient in context). */
  readonly needsPatient: boolean;
  /** An encounter may be chosen (launch/encounter without an encounter in context). */
  readonly needsEncounter: boolean;
}

export interface InteractionResult {
  readonly userId: string;
  readonly fhirUser: string;
  readonly patientId?: string;
  readonly encounterId?: string;
  readonly grantedScope: string;
  readonly sessionId?: string;
  readonly sessionExpiresAt?: number | null;
}

function toFhirUser(userId: string | null | undefined): string | null {
  if (!userId) return null;
  if (/^(Practitioner|Patient|RelatedPerson)\//.test(userId)) return userId;
  return null;
}

/** The interaction, or null when it is unknown, expired or already finished. */
export async function loadInteraction(id: string): Promise<InteractionDetails | null> {
  let interaction: Awaited<ReturnType<typeof getInteractionOrThrow>>;
  try {
    interaction = await getInteractionOrThrow(id);
  } catch (err) {
    // A database that is down is not an expired interaction: the screen answers 503 (lib/http/unavailable).
    if (isDatabaseUnavailable(err)) throw err;
    return null;
  }
  const launch = interaction.launch;
  return {
    id,
    createdAt: interaction.createdAt,
    clientId: interaction.client.clientId,
    clientName: interaction.client.name,
    requestedScope: formatScopes(interaction.scopes),
    droppedScopes: interaction.droppedScopes,
    launchId: launch?.id ?? null,
    patientId: launch?.patientId ?? null,
    encounterId: launch?.encounterId ?? null,
    userFhirUser: toFhirUser(launch?.userId),
    options: launch?.options ?? DEFAULT_LAUNCH_OPTIONS,
    needsPatient: interaction.needsPatient,
    needsEncounter: interaction.needsEncounter,
  };
}

/** Issues the code; returns the app's redirect URL (code + state). */
export async function finishInteraction(id: string, result: InteractionResult): Promise<string> {
  return completeInteraction(id, result);
}

/** Ends the interaction with access_denied; returns the app's redirect URL (error + state). */
export async function rejectInteraction(id: string): Promise<string> {
  return denyInteraction(id);
}

/** The user signed out: every online_access grant approved in that sign-in ends (docs/CONFORMANCE.md #83). */
export async function endSignIn(sessionId: string): Promise<void> {
  await endSession(sessionId);
}
