import { publicOrigin } from '../http/origin';
import { currentSandbox } from '../sandbox/context';
import { findEncounter, findPatientSummary, listEncounters, searchPatients } from '../fhir/patient-directory';
import type { EncounterSummary, PatientSummary } from '../fhir/patient-directory';
import { approveAll, buildConsentModel, grantedScopeFrom, parseConsentForm } from './consent';
import { bindingCookie, bindingCookieName, createCsrfToken, isSameOriginPost, newBinding, verifyCsrfToken } from './csrf';
import { readCookie } from '../http/cookies';
import { htmlPage, seeOther } from '../http/html';
import { isDatabaseUnavailable } from '../db/errors';
import { sandboxPageHandler } from '../http/request-sandbox';
import { decideStep } from './interaction-flow';
import type { InteractionSelection, InteractionStep } from './interaction-flow';
import { InteractionNotFoundError } from '../oauth/interaction';
import { attemptSignIn, lockedErrorKey, lockedSignInMessage } from './sign-in-limit';
import { OAuthError } from '../oauth/errors';
import { endSignIn, finishInteraction, loadInteraction, rejectInteraction } from './interaction-port';
import type { InteractionDetails } from './interaction-port';
import { confirmUserView, consentView, encounterPickerView, errorView, loginView, patientPickerView, whoHeader } from './interaction-views';
import { findPersonaByFhirUser, listFeaturedPersonas } from './personas';
import type { Persona } from './personas';
import { clearSessionCookie, createSessionCookie, readPersonaSession, useSecureCookies } from './session';
import type { PersonaSession } from './session';
import { isFhirId } from '../fhir-id';

/**
 * The resource owner's screens behind /oauth/authorize (SMART App Launch 2.2 §app-launch;
 * docs/CONFORMANCE.md #47, #48, #50, #51, #159): framework-free Request → Response handlers that
 * app/(interaction)/interaction/[id]/** re-exports.
 */

const ID_PATTERN = /^[A-Za-z0-9_-]{8,200}$/;
const LOGIN_ERRORS: Record<string, string> = {
  credentials: 'Unknown username or wrong password.',
  csrf: 'The form expired. Please try again.',
};

function expiredPage(): Response {
  return htmlPage(errorView('This authorization request has expired', 'The sign-in link is unknown, expired or already used.'), {
    title: 'Expired',
    status: 400,
  });
}

function forbiddenPost(): Response {
  return htmlPage(errorView('Request refused', 'This form was not submitted from the sandbox’s own pages.'), { title: 'Refused', status: 403 });
}

function page(id: string): string {
  return `${currentSandbox().basePath}/interaction/${encodeURIComponent(id)}`;
}

async function readForm(req: Request): Promise<URLSearchParams> {
  const type = req.headers.get('content-type') ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) return new URLSearchParams();
  const text = await req.text();
  return text.length > 64 * 1024 ? new URLSearchParams() : new URLSearchParams(text);
}

function fhirIdOrNull(value: string | null | undefined): string | null {
  return value && isFhirId(value) ? value : null;
}

interface Resolved {
  readonly step: InteractionStep;
  readonly patient: PatientSummary | null;
  readonly encounter: EncounterSummary | null;
  readonly problem: string | null;
}

/** Decides the step and checks that the chosen patient and encounter exist and belong together. */
async function resolveStep(interaction: InteractionDetails, session: PersonaSession | null, selection: InteractionSelection): Promise<Resolved> {
  let problem: string | null = null;
  let sel = selection;
  if (sel.patient && !interaction.patientId) {
    if (!fhirIdOrNull(sel.patient) || !(await findPatientSummary(currentSandbox().id, sel.patient))) {
      problem = 'That patient does not exist (any more). Choose another one.';
      sel = {};
    }
  }
  const proxy = session?.kind === 'related-person' ? await findPersonaByFhirUser(currentSandbox().id, session.fhirUser) : null;
  let step = decideStep(interaction, session, sel, proxy?.patientId ?? null);
  if (step.kind === 'consent' && step.encounterId && step.encounterId !== interaction.encounterId) {
    const encounter = fhirIdOrNull(step.encounterId) ? await findEncounter(currentSandbox().id, step.encounterId) : null;
    if (!encounter || encounter.patientId !== step.patientId) {
      problem = 'That encounter does not belong to the chosen patient.';
      step = { kind: 'encounter', patientId: step.patientId ?? '' };
    }
  }
  const patientId = step.kind === 'consent' ? step.patientId : step.kind === 'encounter' ? step.patientId : null;
  const patient = patientId ? await findPatientSummary(currentSandbox().id, patientId) : null;
  if (patientId && !patient) {
    return { step: { kind: 'refused', message: 'The patient of this launch no longer exists.' }, patient: null, encounter: null, problem };
  }
  const encounter = step.kind === 'consent' && step.encounterId ? await findEncounter(currentSandbox().id, step.encounterId) : null;
  return { step, patient, encounter, problem };
}

/** The redirect URL, or an error page when the authorization server refuses the result (its message says why). */
async function redirectOrError(produce: () => Promise<string>, cookies: readonly string[] = []): Promise<Response> {
  let location: string;
  try {
    location = await produce();
  } catch (err) {
    if (err instanceof InteractionNotFoundError) return expiredPage();
    if (isDatabaseUnavailable(err)) throw err;
    const message = err instanceof OAuthError ? err.message : 'The authorization server could not complete this request.';
    if (!(err instanceof OAuthError)) console.error('interaction: completing failed', err);
    return htmlPage(errorView('The app cannot be authorized', message), { title: 'Error', status: 400, setCookies: cookies });
  }
  // The Location carries the code (or the error) to the app: no referrer at all on this response
  // (RFC 9700 §4.2.4; docs/CONFORMANCE.md #167).
  const response = seeOther(location, cookies);
  response.headers.set('referrer-policy', 'no-referrer');
  return response;
}

function completeWith(
  interaction: InteractionDetails,
  session: PersonaSession,
  step: Extract<InteractionStep, { kind: 'consent' }>,
  grantedScope: string,
): Promise<string> {
  return finishInteraction(interaction.id, {
    userId: session.fhirUser,
    fhirUser: session.fhirUser,
    ...(step.patientId ? { patientId: step.patientId } : {}),
    ...(step.encounterId ? { encounterId: step.encounterId } : {}),
    grantedScope,
    sessionId: session.sid,
    sessionExpiresAt: session.expiresAt ?? null,
  });
}

/** GET /interaction/{id}: the next screen of the interaction (or straight on, with skip sign-in / skip consent). */
export const handleInteractionPage = sandboxPageHandler('interaction', async (req: Request, id: string): Promise<Response> => {
  if (!ID_PATTERN.test(id)) return expiredPage();
  const interaction = await loadInteraction(id);
  if (!interaction) return expiredPage();
  const url = new URL(req.url);
  const cookies: string[] = [];

  let binding = readCookie(req.headers.get('cookie'), bindingCookieName()) ?? '';
  if (!binding) {
    binding = newBinding();
    cookies.push(bindingCookie(binding, useSecureCookies()));
  }

  let session = await readPersonaSession(req);
  let launchUser: Persona | null = null;
  if (interaction.userFhirUser) launchUser = await findPersonaByFhirUser(currentSandbox().id, interaction.userFhirUser);
  // Skip sign-in: the EHR user is already signed in to the EHR (SSO, docs/CONFORMANCE.md #159).
  if (!session && interaction.options.skipLogin && launchUser) {
    const signedIn = await createSessionCookie(launchUser);
    cookies.push(signedIn.cookie);
    session = signedIn.session;
  }

  const selection: InteractionSelection = { patient: url.searchParams.get('patient'), encounter: url.searchParams.get('encounter') };
  const { step, patient, encounter, problem } = await resolveStep(interaction, session, selection);
  const logoutCsrf = session ? await createCsrfToken('logout', id, binding, session.sid) : null;
  const header = whoHeader(id, session, logoutCsrf);

  switch (step.kind) {
    case 'login': {
      const errorKey = url.searchParams.get('error') ?? '';
      const body = loginView({
        interaction,
        personas: await listFeaturedPersonas(currentSandbox().id, { practitioners: 4, patients: 4 }),
        launchUser,
        csrf: await createCsrfToken('login', id, binding),
        error:
          lockedSignInMessage(errorKey, url.searchParams.get('retry')) ??
          (Object.hasOwn(LOGIN_ERRORS, errorKey) ? LOGIN_ERRORS[errorKey] : undefined) ??
          step.message ??
          null,
        username: (url.searchParams.get('username') ?? '').slice(0, 200),
      });
      return htmlPage(body, { title: 'Sign in', header, setCookies: cookies });
    }
    case 'confirm-user': {
      if (!session || !logoutCsrf) return expiredPage();
      const body = confirmUserView({ interaction, session, loginCsrf: await createCsrfToken('login', id, binding), logoutCsrf });
      return htmlPage(body, { title: 'Who is signing in?', header, setCookies: cookies });
    }
    case 'patient': {
      const query = {
        name: (url.searchParams.get('name') ?? '').slice(0, 200),
        birthdate: (url.searchParams.get('birthdate') ?? '').slice(0, 10),
        identifier: (url.searchParams.get('identifier') ?? '').slice(0, 200),
      };
      const searched = Boolean(query.name || query.birthdate || query.identifier);
      const results = await searchPatients(currentSandbox().id, { ...query, limit: 25 });
      return htmlPage(patientPickerView({ interaction, query, results, searched, error: problem }), { title: 'Choose a patient', header, setCookies: cookies });
    }
    case 'encounter': {
      if (!patient) return expiredPage();
      const encounters = await listEncounters(currentSandbox().id, patient.id, 50);
      return htmlPage(encounterPickerView({ interaction, patient, encounters }), { title: 'Choose an encounter', header, setCookies: cookies });
    }
    case 'consent': {
      if (!session) return expiredPage();
      const model = buildConsentModel(interaction.requestedScope);
      if (interaction.options.skipConsent) {
        const granted = grantedScopeFrom(interaction.requestedScope, approveAll(model));
        const signedIn = session;
        return redirectOrError(() => completeWith(interaction, signedIn, step, granted), cookies);
      }
      const csrf = await createCsrfToken('consent', id, binding, session.sid);
      return htmlPage(consentView({ interaction, session, model, patient, encounter, csrf }), { title: 'Allow access', header, setCookies: cookies });
    }
    case 'refused':
      return htmlPage(errorView('This sign-in cannot continue', step.message), { title: 'Refused', header, status: 403, setCookies: cookies });
  }
});

/** POST /interaction/{id}/login: a one-click persona or username/password; 303 back to the interaction. */
export const handleInteractionLogin = sandboxPageHandler('interaction', async (req: Request, id: string): Promise<Response> => {
  if (!ID_PATTERN.test(id)) return expiredPage();
  if (!isSameOriginPost(req, publicOrigin(req))) return forbiddenPost();
  const form = await readForm(req);
  const binding = readCookie(req.headers.get('cookie'), bindingCookieName()) ?? '';
  if (!(await verifyCsrfToken(form.get('csrf') ?? '', 'login', id, binding))) return seeOther(`${page(id)}?error=csrf`);
  const interaction = await loadInteraction(id);
  if (!interaction) return expiredPage();

  const oneClick = form.get('persona');
  const username = (form.get('username') ?? '').slice(0, 200);
  // One-click personas need no password (the sandbox password is public anyway); both paths are
  // under the failed-sign-in limits of lib/interaction/sign-in-limit.
  const attempt = await attemptSignIn({
    sandboxId: currentSandbox().id,
    oneClick,
    username,
    password: form.get('password') ?? '',
    headers: req.headers,
    audit: { endpoint: `${page(id)}/login`, clientId: interaction.clientId, launchId: interaction.launchId, failureStatus: 303 },
  });
  if (attempt.kind === 'locked')
    return seeOther(`${page(id)}?error=${lockedErrorKey(attempt.scope)}&retry=${attempt.retryAfterSeconds}&username=${encodeURIComponent(username)}`);
  if (attempt.kind === 'failed') return seeOther(`${page(id)}?error=credentials&username=${encodeURIComponent(username)}`);
  const { cookie } = await createSessionCookie(attempt.persona);
  return seeOther(page(id), [cookie]);
});

/** POST /interaction/{id}/logout: signs the persona out and shows the sign-in screen again. */
export const handleInteractionLogout = sandboxPageHandler('interaction', async (req: Request, id: string): Promise<Response> => {
  if (!ID_PATTERN.test(id)) return expiredPage();
  if (!isSameOriginPost(req, publicOrigin(req))) return forbiddenPost();
  const form = await readForm(req);
  const binding = readCookie(req.headers.get('cookie'), bindingCookieName()) ?? '';
  const session = await readPersonaSession(req);
  if (session && !(await verifyCsrfToken(form.get('csrf') ?? '', 'logout', id, binding, session.sid))) return seeOther(page(id));
  if (session) await endSignIn(session.sid);
  return seeOther(page(id), [clearSessionCookie()]);
});

/** POST /interaction/{id}/consent: Allow (code) or Deny (access_denied); 303 to the app's redirect_uri. */
export const handleInteractionConsent = sandboxPageHandler('interaction', async (req: Request, id: string): Promise<Response> => {
  if (!ID_PATTERN.test(id)) return expiredPage();
  if (!isSameOriginPost(req, publicOrigin(req))) return forbiddenPost();
  const form = await readForm(req);
  const binding = readCookie(req.headers.get('cookie'), bindingCookieName()) ?? '';
  const session = await readPersonaSession(req);
  if (!session) return seeOther(page(id));
  if (!(await verifyCsrfToken(form.get('csrf') ?? '', 'consent', id, binding, session.sid))) return seeOther(page(id));
  const interaction = await loadInteraction(id);
  if (!interaction) return expiredPage();

  // RFC 6749 §4.1.2.1: the user said no → error=access_denied with the app's state (docs/CONFORMANCE.md #50).
  if (form.get('decision') === 'deny') return redirectOrError(() => rejectInteraction(id));
  if (form.get('decision') !== 'allow') return seeOther(page(id));

  const selection: InteractionSelection = { patient: form.get('patient') || null, encounter: form.get('encounter') || null };
  const { step } = await resolveStep(interaction, session, selection);
  if (step.kind !== 'consent') {
    const query = selection.patient ? `?patient=${encodeURIComponent(selection.patient)}` : '';
    return seeOther(`${page(id)}${query}`);
  }
  const model = buildConsentModel(interaction.requestedScope);
  const granted = grantedScopeFrom(interaction.requestedScope, parseConsentForm(form, model));
  return redirectOrError(() => completeWith(interaction, session, step, granted));
});

/** The context Next.js passes to the route handlers under app/(interaction)/interaction/[id]. */
export type InteractionRouteContext = { params: Promise<{ id: string }> };

function interactionRoute(handler: (req: Request, id: string) => Promise<Response>): (req: Request, ctx: InteractionRouteContext) => Promise<Response> {
  return async (req, ctx) => handler(req, (await ctx.params).id);
}

/** GET /interaction/{id}. */
export const interactionPageRoute = interactionRoute(handleInteractionPage);
/** POST /interaction/{id}/login. */
export const interactionLoginRoute = interactionRoute(handleInteractionLogin);
/** POST /interaction/{id}/logout. */
export const interactionLogoutRoute = interactionRoute(handleInteractionLogout);
/** POST /interaction/{id}/consent. */
export const interactionConsentRoute = interactionRoute(handleInteractionConsent);
