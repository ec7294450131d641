/**
 * The contract between /oauth/authorize and the interaction screens (sign-in, patient/encounter
 * picker, consent) under /interaction/{id}.
 *
 *   getInteractionOrThrow(id)     what the screens need to show (client, scopes, launch context)
 *   completeInteraction(id, …)    the user approved: creates the grant and a one-time code,
 *                                 returns the redirect URL (code, state, iss) to send the browser to
 *   denyInteraction(id)           the user said no: returns the redirect URL with error=access_denied
 *
 * An interaction is single-use: completing or denying deletes it, atomically, so a double submit
 * cannot mint two codes.
 */
import { recordAudit } from '../audit/record';
import { getDb } from '../db';
import type { ParsedScope, ScopeError } from '../smart/scopes';
import { formatScopes, isScopeCovered, parseScopeString } from '../smart/scopes';
import type { LaunchOptions } from '../launch-options/options';
import type { LaunchRecord } from './launches';
import { findLaunch } from './launches';
import { simulatedRedirectState } from './simulated-failures';
import type { ClientType, OAuthClient } from './clients';
import { getClient } from './clients';
import { AUTH_CODE_TTL_SECONDS, INTERACTION_TTL_SECONDS, oauthUrls } from './config';
import { randomToken, sha256 } from './crypto';
import { AccessDenied, appendToRedirectUri, authorizeErrorRedirectUrl, InvalidRequest, InvalidScope } from './errors';
import type { GrantContext } from './grant-store';
import { isFhirId, referencePattern } from '../fhir-id';
import { currentSandbox, sandboxNow, sandboxNowMs } from '../sandbox/context';

/** What /oauth/authorize validated and stored for the screens. */
export interface StoredAuthorizeRequest {
  v: 1;
  redirectUri: string;
  state: string | null;
  nonce: string | null;
  codeChallenge: string | null;
  requestedScope: string;
  /** Requested scopes this client may be granted, formatted. */
  scope: string;
  droppedScopes: ScopeError[];
  launchId: string | null;
  /** launchId is a standalone launch armed by the launcher: its options apply, not its context. */
  standaloneLaunch?: boolean;
  /** Accepted without PKCE because the launch is a legacy PKCE-optional one (docs/CONFORMANCE.md #52). */
  legacyPkceOptional?: boolean;
  issuer: string;
  fhirBase: string;
  prompt: string | null;
  loginHint: string | null;
  maxAge: number | null;
}

/** The interaction does not exist, has expired, or was already completed. */
export class InteractionNotFoundError extends Error {
  constructor(readonly interactionId: string) {
    super('This sign-in request has expired or was already completed. Start again from the app.');
  }
}

export interface InteractionClientInfo {
  clientId: string;
  name: string;
  clientType: ClientType;
  logoUri: string | null;
  clientUri: string | null;
}

export interface InteractionLaunchContext {
  id: string;
  patientId: string | null;
  encounterId: string | null;
  userId: string | null;
  options: LaunchOptions;
}

/** What the interaction screens show and decide on. */
export interface InteractionView {
  id: string;
  sandboxId: string;
  /** When the app's authorization request arrived (a sign-in older than this was carried over). */
  createdAt: Date;
  expiresAt: Date;
  client: InteractionClientInfo;
  redirectUri: string;
  /** The scope parameter exactly as the app sent it. */
  requestedScope: string;
  /** Requested scopes the client may be granted: the consent screen offers these (the user may narrow them). */
  scopes: ParsedScope[];
  /** Requested scopes that will not be granted, with the reason (show them, so the developer sees why). */
  droppedScopes: ScopeError[];
  /** EHR launch context, or null for a standalone launch. */
  launch: InteractionLaunchContext | null;
  ehrLaunch: boolean;
  /** A patient must be picked: patient context is wanted (launch/patient or patient/ scopes) and the launch gives none. */
  needsPatient: boolean;
  /** An encounter must be picked: launch/encounter was requested and the launch gives none. */
  needsEncounter: boolean;
  openid: boolean;
  fhirUserRequested: boolean;
  offlineAccess: boolean;
  onlineAccess: boolean;
  /** OpenID Connect prompt / login_hint / max_age as sent (the sign-in screen honours them). */
  prompt: string | null;
  loginHint: string | null;
  maxAge: number | null;
}

export interface CompleteInteractionInput {
  /** The signed-in user (persona id); the id_token `sub`. */
  userId: string;
  /** The user's FHIR resource, relative (`Practitioner/123`) or absolute. */
  fhirUser: string;
  /** The picked patient (ignored in favour of the EHR launch's patient, which it must not contradict). */
  patientId?: string | null;
  encounterId?: string | null;
  /** What the user approved: a subset of InteractionView.scopes (granular sub-scopes allowed). */
  grantedScope: string;
  /** The sign-in session; online_access grants end with it (see endSession). */
  sessionId?: string | null;
  /** When that session expires (Unix seconds); online_access refresh tokens stop working then. */
  sessionExpiresAt?: number | null;
}

/** Stores a validated authorization request and returns the interaction id (192 random bits). */
export async function createInteraction(input: { sandboxId: string; clientId: string; request: StoredAuthorizeRequest }): Promise<string> {
  const id = randomToken(24);
  await getDb().interaction.create({
    data: {
      id,
      sandboxId: input.sandboxId,
      clientId: input.clientId,
      params: JSON.stringify(input.request),
      expiresAt: new Date(sandboxNowMs() + INTERACTION_TTL_SECONDS * 1000),
    },
  });
  return id;
}

interface LoadedInteraction {
  id: string;
  sandboxId: string;
  createdAt: Date;
  expiresAt: Date;
  client: OAuthClient;
  request: StoredAuthorizeRequest;
  scopes: ParsedScope[];
  launch: LaunchRecord | null;
  /** launch is an EHR launch (its context applies), not an armed standalone launch. */
  ehrLaunch: boolean;
}

/**
 * An armed standalone launch lends its options (skip sign-in/consent, token lifetime, simulated
 * error), not its context: in a standalone launch the user picks patient and encounter at the
 * authorization server. Its user stands only when skip sign-in is on (the launcher's user is then
 * the one signed in).
 */
function standaloneLaunchView(launch: LaunchRecord): LaunchRecord {
  return { ...launch, patientId: null, encounterId: null, userId: launch.options.skipLogin === true ? launch.userId : null };
}

async function loadInteraction(id: string): Promise<LoadedInteraction> {
  if (typeof id !== 'string' || id.length === 0 || id.length > 100) throw new InteractionNotFoundError(String(id).slice(0, 100));
  // An interaction of another sandbox is unknown here: its screens live under that sandbox's prefix.
  const row = await getDb().interaction.findFirst({ where: { id, sandboxId: currentSandbox().id } });
  if (!row || row.expiresAt.getTime() <= sandboxNowMs()) throw new InteractionNotFoundError(id);
  const request = JSON.parse(row.params) as StoredAuthorizeRequest;
  const client = await getClient(row.clientId, { sandboxId: row.sandboxId });
  // The client was deleted while the user was signing in.
  if (!client || !client.redirectUris.includes(request.redirectUri)) throw new InteractionNotFoundError(id);
  const found = request.launchId ? await findLaunch(request.launchId) : null;
  const launch = found && request.standaloneLaunch ? standaloneLaunchView(found) : found;
  return {
    id,
    sandboxId: row.sandboxId,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    client,
    request,
    scopes: parseScopeString(request.scope).scopes,
    launch,
    ehrLaunch: found !== null && !request.standaloneLaunch,
  };
}

function has(scopes: readonly ParsedScope[], pred: (s: ParsedScope) => boolean): boolean {
  return scopes.some(pred);
}

const wantsPatientContext = (scopes: readonly ParsedScope[]) =>
  has(scopes, (s) => (s.kind === 'launch' && s.target === 'patient') || (s.kind === 'resource' && s.context === 'patient'));
const wantsEncounterContext = (scopes: readonly ParsedScope[]) => has(scopes, (s) => s.kind === 'launch' && s.target === 'encounter');

/** The interaction for the screens; throws InteractionNotFoundError when it is unknown, expired or used. */
export async function getInteractionOrThrow(id: string): Promise<InteractionView> {
  const it = await loadInteraction(id);
  const { request, scopes, launch, client } = it;
  return {
    id: it.id,
    sandboxId: it.sandboxId,
    createdAt: it.createdAt,
    expiresAt: it.expiresAt,
    client: { clientId: client.clientId, name: client.name, clientType: client.clientType, logoUri: client.logoUri, clientUri: client.clientUri },
    redirectUri: request.redirectUri,
    requestedScope: request.requestedScope,
    scopes,
    droppedScopes: request.droppedScopes,
    launch: launch ? { id: launch.id, patientId: launch.patientId, encounterId: launch.encounterId, userId: launch.userId, options: launch.options } : null,
    ehrLaunch: it.ehrLaunch,
    needsPatient: wantsPatientContext(scopes) && !launch?.patientId,
    needsEncounter: wantsEncounterContext(scopes) && !launch?.encounterId,
    openid: has(scopes, (s) => s.kind === 'identity' && s.name === 'openid'),
    fhirUserRequested: has(scopes, (s) => s.kind === 'identity' && (s.name === 'fhirUser' || s.name === 'profile')),
    offlineAccess: has(scopes, (s) => s.kind === 'access' && s.name === 'offline_access'),
    onlineAccess: has(scopes, (s) => s.kind === 'access' && s.name === 'online_access'),
    prompt: request.prompt,
    loginHint: request.loginHint,
    maxAge: request.maxAge,
  };
}

// Deletes the interaction if it is still live; false when another request already took it.
async function takeInteraction(id: string): Promise<boolean> {
  const { count } = await getDb().interaction.deleteMany({ where: { id, expiresAt: { gt: sandboxNow() } } });
  return count === 1;
}

const FHIR_USER = referencePattern(['Patient', 'Practitioner', 'PractitionerRole', 'RelatedPerson', 'Person']);

function checkFhirUser(fhirUser: string, fhirBase: string): string {
  const relative = fhirUser.startsWith(`${fhirBase}/`) ? fhirUser.slice(fhirBase.length + 1) : fhirUser;
  if (!FHIR_USER.test(relative)) {
    throw new InvalidRequest(
      `fhirUser '${fhirUser.slice(0, 200)}' must be Patient/, Practitioner/, PractitionerRole/, RelatedPerson/ or Person/<id> (SMART App Launch 2.2 §scopes-and-launch-context)`,
    );
  }
  return relative;
}

/**
 * The user approved: records the grant and a one-time code (≈60 s, bound to client, redirect_uri,
 * PKCE challenge, scope and context) and returns the redirect URL with code, state and iss
 * (RFC 6749 §4.1.2; RFC 9207 §2; docs/CONFORMANCE.md #44, #49). Throws InteractionNotFoundError, or an
 * OAuth error (InvalidScope / InvalidRequest) when the input contradicts the request.
 */
export async function completeInteraction(id: string, input: CompleteInteractionInput): Promise<string> {
  const started = performance.now();
  const it = await loadInteraction(id);
  const { request, launch, client, ehrLaunch } = it;

  // What the user approved must lie within what was requested and allowed (docs/CONFORMANCE.md #103).
  const granted = parseScopeString(input.grantedScope);
  if (granted.errors.length) throw new InvalidScope(granted.errors.map((e) => e.reason).join('; '));
  const beyond = granted.scopes.filter((s) => !isScopeCovered(s, it.scopes));
  if (beyond.length) throw new InvalidScope(`granted scope goes beyond the request: ${formatScopes(beyond)}`);
  const grantedScope = formatScopes(granted.scopes);

  if (!input.userId || input.userId.length > 255) throw new InvalidRequest('userId is required (at most 255 characters: it becomes the id_token sub)');
  const fhirUser = checkFhirUser(input.fhirUser, request.fhirBase);
  // An EHR launch was made for one user (docs/CONFORMANCE.md #154).
  if (launch?.userId && launch.userId !== input.userId) throw new InvalidRequest(`this launch was made for user '${launch.userId}', not '${input.userId}'`);

  // Context: the EHR launch's, which the screens may complete but never contradict.
  if (launch?.patientId && input.patientId && input.patientId !== launch.patientId)
    throw new InvalidRequest('the patient differs from the one in the EHR launch context');
  if (launch?.encounterId && input.encounterId && input.encounterId !== launch.encounterId)
    throw new InvalidRequest('the encounter differs from the one in the EHR launch context');
  const patient = launch?.patientId ?? input.patientId ?? null;
  const encounter = launch?.encounterId ?? input.encounterId ?? null;
  for (const [name, value] of [
    ['patientId', patient],
    ['encounterId', encounter],
  ] as const) {
    if (value !== null && !isFhirId(value)) throw new InvalidRequest(`${name} '${value.slice(0, 80)}' is not a FHIR id`);
  }
  // Whenever patient scopes are granted, a patient SHALL be in context (docs/CONFORMANCE.md #46, #157).
  if (wantsPatientContext(granted.scopes) && !patient) throw new InvalidRequest('a patient must be selected: the granted scopes need patient context');
  if (wantsEncounterContext(granted.scopes) && !encounter) throw new InvalidRequest('an encounter must be selected: launch/encounter was granted');

  const options: Partial<LaunchOptions> = launch?.options ?? {};
  const context: GrantContext = {
    patient,
    encounter,
    fhirUser,
    launchKind: ehrLaunch ? 'ehr' : 'standalone',
    ...(options.fhirContext?.length ? { fhirContext: options.fhirContext } : {}),
    // need_patient_banner and smart_style_url go with EHR launches (docs/CONFORMANCE.md #109, #110, #157) and with any patient context.
    ...(ehrLaunch || patient
      ? { needPatientBanner: options.needPatientBanner ?? true, smartStyleUrl: options.smartStyleUrl ?? oauthUrls(request.issuer).smartStyle }
      : {}),
    ...(options.intent ? { intent: options.intent } : {}),
    ...(options.tenant ? { tenant: options.tenant } : {}),
    ...(typeof options.tokenLifetimeSeconds === 'number' && options.tokenLifetimeSeconds >= 10 && options.tokenLifetimeSeconds <= 86_400
      ? { accessTtlSeconds: Math.floor(options.tokenLifetimeSeconds) }
      : {}),
    // The code is bound to the aud it was authorized for (docs/CONFORMANCE.md #44).
    aud: request.fhirBase,
    ...(typeof input.sessionExpiresAt === 'number' ? { sessionExpiresAt: Math.floor(input.sessionExpiresAt) } : {}),
  };

  if (!(await takeInteraction(id))) throw new InteractionNotFoundError(id);

  const code = randomToken(32);
  const grantId = randomToken(18);
  const db = getDb();
  await db.$transaction([
    db.grant.create({
      data: {
        id: grantId,
        sandboxId: it.sandboxId,
        clientId: client.clientId,
        userId: input.userId,
        scope: grantedScope,
        context: JSON.stringify(context),
        launchId: launch?.id ?? null,
        sessionId: input.sessionId ?? null,
      },
    }),
    db.authCode.create({
      data: {
        codeHash: sha256(code),
        grantId,
        clientId: client.clientId,
        redirectUri: request.redirectUri,
        codeChallenge: request.codeChallenge,
        codeChallengeMethod: request.codeChallenge ? 'S256' : null,
        nonce: request.nonce,
        expiresAt: new Date(sandboxNowMs() + AUTH_CODE_TTL_SECONDS * 1000),
      },
    }),
  ]);

  const state = simulatedRedirectState(options.simulatedError ?? null, request.state);
  const simulatedState = state !== request.state;
  await recordAudit({
    sandboxId: it.sandboxId,
    kind: 'oauth',
    method: 'POST',
    endpoint: `/interaction/${id}`,
    ...(simulatedState ? { flags: ['simulated'] } : {}),
    clientId: client.clientId,
    userId: input.userId,
    patientId: patient,
    launchId: launch?.id ?? null,
    scopes: grantedScope,
    status: 303,
    detail: `user approved${simulatedState ? '; simulated error: state mismatch on the redirect' : ''}${request.legacyPkceOptional ? '; without PKCE: legacy PKCE-optional launch' : ''}${request.droppedScopes.length ? `; not granted: ${request.droppedScopes.map((d) => d.scope).join(' ')}` : ''}`,
    latencyMs: performance.now() - started,
  });
  return appendToRedirectUri(request.redirectUri, { code, state, iss: request.issuer });
}

/** The user refused: returns the redirect URL with error=access_denied and the state (RFC 6749 §4.1.2.1; docs/CONFORMANCE.md #50). */
export async function denyInteraction(id: string): Promise<string> {
  const started = performance.now();
  const it = await loadInteraction(id);
  if (!(await takeInteraction(id))) throw new InteractionNotFoundError(id);
  const error = new AccessDenied('The user denied the authorization request');
  await recordAudit({
    sandboxId: it.sandboxId,
    kind: 'oauth',
    method: 'POST',
    endpoint: `/interaction/${id}`,
    clientId: it.client.clientId,
    launchId: it.launch?.id ?? null,
    scopes: it.request.requestedScope,
    status: 303,
    errorCode: error.code,
    detail: 'user denied',
    latencyMs: performance.now() - started,
  });
  return authorizeErrorRedirectUrl(error, { kind: 'redirect', redirectUri: it.request.redirectUri, state: it.request.state, issuer: it.request.issuer });
}
