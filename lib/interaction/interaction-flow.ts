import { parseScopeString } from '../smart/scopes';
import type { InteractionDetails } from './interaction-port';
import { parseFhirUser } from './personas';
import type { PersonaSession } from './session';

/** The screen an interaction shows next. */
export type InteractionStep =
  | { readonly kind: 'login'; readonly message?: string }
  | { readonly kind: 'confirm-user' }
  | { readonly kind: 'patient' }
  | { readonly kind: 'encounter'; readonly patientId: string }
  | { readonly kind: 'consent'; readonly patientId: string | null; readonly encounterId: string | null }
  | { readonly kind: 'refused'; readonly message: string };

/** What the user picked so far (query string on GET, hidden fields on the consent POST). */
export interface InteractionSelection {
  readonly patient?: string | null;
  /** An encounter id, or 'none' to continue without one. */
  readonly encounter?: string | null;
}

/** True when the request has patient/ resource scopes (a patient must then be in context, docs/CONFORMANCE.md #46). */
export function hasPatientScopes(scope: string): boolean {
  return parseScopeString(scope).scopes.some((s) => s.kind === 'resource' && s.context === 'patient');
}

/** The launch was made for a patient user (patient standalone or portal launch from the launcher). */
export function isPatientLaunch(interaction: Pick<InteractionDetails, 'options'>): boolean {
  return interaction.options.launchType === 'patient-standalone' || interaction.options.launchType === 'patient-portal';
}

/** The sign-in is older than the authorization request: it was carried over, not made for this app. */
export function signedInBefore(session: PersonaSession, interaction: Pick<InteractionDetails, 'createdAt'>): boolean {
  return typeof session.signedInAt === 'number' && session.signedInAt < interaction.createdAt.getTime() / 1000;
}

/**
 * The next step of an interaction: sign in → (practitioners) pick a patient → pick an encounter →
 * consent. Patients are their own patient context; a related person (a proxy, e.g. a parent) always
 * has the patient they are related to (`proxyPatientId`, from RelatedPerson.patient), and no other;
 * an EHR launch's context is never changed here (SMART App Launch 2.2 §app-launch;
 * docs/CONFORMANCE.md #46, #48, #157, #160).
 */
export function decideStep(
  interaction: InteractionDetails,
  session: PersonaSession | null,
  selection: InteractionSelection,
  proxyPatientId: string | null = null,
): InteractionStep {
  if (!session) return { kind: 'login' };
  const user = parseFhirUser(session.fhirUser);
  if (!user) return { kind: 'login' };
  // An EHR launch was made for one user (docs/CONFORMANCE.md #154): anyone else must switch user first.
  if (interaction.userFhirUser && interaction.userFhirUser !== session.fhirUser) {
    return { kind: 'login', message: `This launch was made for the EHR user ${interaction.userFhirUser}. Continue as that user, or sign in as them.` };
  }
  // A patient launch never continues as a practitioner who was signed in before it began (an
  // earlier EHR launch in the same browser, say) unless they choose to: they are asked first.
  if (user.kind === 'practitioner' && isPatientLaunch(interaction) && signedInBefore(session, interaction)) return { kind: 'confirm-user' };
  const needsPatient = interaction.needsPatient || hasPatientScopes(interaction.requestedScope);

  let patientId: string | null = null;
  if (user.kind === 'related-person') {
    if (!proxyPatientId) return { kind: 'refused', message: 'This related person is not linked to a patient, so there is no record to open.' };
    if (interaction.patientId && interaction.patientId !== proxyPatientId) {
      return {
        kind: 'refused',
        message: 'This launch opens the record of a patient this person is not related to. Sign in as their proxy, or as a practitioner.',
      };
    }
    // A proxy's access is their patient's record: the patient is always in context, so that user/
    // scopes are bounded to it too (lib/smart/access-policy.ts).
    patientId = proxyPatientId;
  } else if (interaction.patientId) {
    if (user.kind === 'patient' && user.id !== interaction.patientId) {
      return { kind: 'refused', message: 'This launch opens another patient’s record. Sign in as that patient, or as a practitioner.' };
    }
    patientId = interaction.patientId;
  } else if (user.kind === 'patient') {
    patientId = needsPatient || interaction.needsEncounter ? user.id : null;
  } else if (needsPatient) {
    if (!selection.patient) return { kind: 'patient' };
    patientId = selection.patient;
  }

  let encounterId: string | null = interaction.encounterId;
  if (!encounterId && interaction.needsEncounter && patientId) {
    if (!selection.encounter) return { kind: 'encounter', patientId };
    encounterId = selection.encounter === 'none' ? null : selection.encounter;
  }
  return { kind: 'consent', patientId, encounterId };
}
