/**
 * HTTP handlers of the access-management screen (discovery's `management_endpoint`;
 * docs/CONFORMANCE.md #19, #136), framework-free Request → Response functions that
 * app/(interaction)/interaction/access/** re-exports:
 *
 * - `GET  /interaction/access` — the page; 401 with a sign-in form when nobody is signed in.
 * - `POST /interaction/access` — the page's revoke form (`client_id`, `csrf`), then 303 back.
 * - `POST /interaction/access/login`, `…/logout` — sign a sandbox persona in or out, then 303 back.
 * - `GET  /interaction/access/apps` — the same list as JSON.
 * - `DELETE` or `POST /interaction/access/apps/{client_id}` — revokes that app, JSON answer.
 *
 * Everything acts for the persona of the session cookie only. State-changing requests must come
 * from this origin (Origin / Sec-Fetch-Site, RFC 9700 §4.12); the form also carries a CSRF token
 * bound to the browser and the sign-in (lib/interaction/csrf.ts).
 */
import { recordAudit, requestSource } from '../audit/record';
import { getDb } from '../db';
import { htmlPage, interactionHeaders, seeOther } from '../http/html';
import { readCookie } from '../http/cookies';
import { publicOrigin } from '../http/origin';
import { sandboxPageHandler } from '../http/request-sandbox';
import { currentSandbox } from '../sandbox/context';
import type { AuthorizedApp } from './access-management';
import { listAuthorizedApps, revokeAppAccess } from './access-management';
import { accessHeader, accessMessageView, accessPagePath, accessView, ACCESS_PAGE_PATH, signInView } from './access-page';
import { bindingCookie, bindingCookieName, createCsrfToken, isSameOriginPost, newBinding, verifyCsrfToken } from './csrf';
import { clearSessionCookie, createSessionCookie, readPersonaSession, useSecureCookies } from './session';
import { attemptSignIn, lockedErrorKey, lockedSignInMessage } from './sign-in-limit';
import type { PersonaSession } from './session';

/** The CSRF token's "interaction id": the page is one form for the whole sign-in. */
const CSRF_SCOPE = 'access-management';
const CLIENT_ID = /^[\x21-\x7e]{1,200}$/;

function refusedPage(): Response {
  return htmlPage(accessMessageView('Request refused', 'This form was not submitted from the sandbox’s own pages.'), { title: 'Refused', status: 403 });
}

function jsonResponse(body: unknown, status: number): Response {
  return new Response(JSON.stringify(body), { status, headers: interactionHeaders({ 'content-type': 'application/json' }) });
}

const SIGN_IN_ERRORS: Record<string, string> = {
  credentials: 'Unknown username or wrong password.',
  csrf: 'The form expired. Please try again.',
};

/** The binding cookie of this browser (lib/interaction/csrf.ts), and the Set-Cookie that creates it when missing. */
function bindingOf(req: Request): { binding: string; cookies: string[] } {
  const existing = readCookie(req.headers.get('cookie'), bindingCookieName()) ?? '';
  if (existing) return { binding: existing, cookies: [] };
  const binding = newBinding();
  return { binding, cookies: [bindingCookie(binding, useSecureCookies())] };
}

async function loginRequired(req: Request, json: boolean): Promise<Response> {
  if (json)
    return jsonResponse(
      { error: 'login_required', error_description: 'Sign in as a sandbox persona to manage app access', sign_in: `${publicOrigin(req)}${accessPagePath()}` },
      401,
    );
  const { binding, cookies } = bindingOf(req);
  const url = new URL(req.url);
  const key = url.searchParams.get('error') ?? '';
  const error = lockedSignInMessage(key, url.searchParams.get('retry')) ?? SIGN_IN_ERRORS[key] ?? null;
  const csrf = await createCsrfToken('login', CSRF_SCOPE, binding);
  return htmlPage(signInView({ csrf, username: (url.searchParams.get('username') ?? '').slice(0, 200), error }), {
    title: 'Sign in',
    header: 'Not signed in',
    status: 401,
    setCookies: cookies,
  });
}

async function readForm(req: Request): Promise<URLSearchParams> {
  const type = req.headers.get('content-type') ?? '';
  const text = type.startsWith('application/x-www-form-urlencoded') ? await req.text() : '';
  return new URLSearchParams(text.length > 16 * 1024 ? '' : text);
}

/** The JSON shape of an app (spec spelling at the boundary). */
function toJson(app: AuthorizedApp) {
  return {
    client_id: app.clientId,
    client_name: app.clientName,
    grants: app.grants.map((g) => ({
      id: g.id,
      scope: g.scope,
      scopes: g.scopes,
      patient: g.patient,
      launch_kind: g.launchKind,
      authorized_at: g.authorizedAt.toISOString(),
      active_until: g.activeUntil.toISOString(),
      refresh_token: g.refreshable,
    })),
  };
}

async function revoke(req: Request, session: PersonaSession, clientId: string): Promise<number> {
  const started = performance.now();
  const count = await revokeAppAccess(currentSandbox().id, session.fhirUser, clientId);
  await recordAudit({
    sandboxId: currentSandbox().id,
    kind: 'oauth',
    method: req.method,
    endpoint: new URL(req.url).pathname.slice(0, 500),
    clientId,
    userId: session.fhirUser,
    status: count ? 200 : 404,
    errorCode: count ? null : 'not_found',
    detail: count ? `access management: the user revoked ${count} grant(s) of this app with their tokens` : 'access management: nothing to revoke',
    latencyMs: performance.now() - started,
    ...requestSource(req),
  });
  return count;
}

async function clientName(clientId: string): Promise<string> {
  const row = await getDb().client.findFirst({ where: { sandboxId: currentSandbox().id, clientId }, select: { name: true } });
  return row?.name ?? clientId;
}

/** GET /interaction/access: the persona's apps, each with what it may do and a revoke button. */
export const handleAccessPage = sandboxPageHandler('access', async (req: Request): Promise<Response> => {
  const session = await readPersonaSession(req);
  if (!session) return loginRequired(req, false);
  const { binding, cookies } = bindingOf(req);
  const url = new URL(req.url);
  const revokedId = url.searchParams.get('revoked');
  const revokedCount = Number(url.searchParams.get('grants') ?? '0');
  const revoked =
    revokedId && CLIENT_ID.test(revokedId) && Number.isSafeInteger(revokedCount) ? { clientName: await clientName(revokedId), grants: revokedCount } : null;
  const apps = await listAuthorizedApps(currentSandbox().id, session.fhirUser);
  const csrf = await createCsrfToken('access', CSRF_SCOPE, binding, session.sid);
  const logoutCsrf = await createCsrfToken('logout', CSRF_SCOPE, binding, session.sid);
  return htmlPage(accessView({ apps, csrf, revoked }), {
    title: 'App access',
    header: accessHeader({ name: session.name, fhirUser: session.fhirUser, logoutCsrf }),
    setCookies: cookies,
  });
});

/** POST /interaction/access/login: username and password of a sandbox persona; 303 back to the page. */
export const handleAccessLogin = sandboxPageHandler('access', async (req: Request): Promise<Response> => {
  if (!isSameOriginPost(req, publicOrigin(req))) return refusedPage();
  const form = await readForm(req);
  const binding = readCookie(req.headers.get('cookie'), bindingCookieName()) ?? '';
  if (!(await verifyCsrfToken(form.get('csrf') ?? '', 'login', CSRF_SCOPE, binding))) return seeOther(`${accessPagePath()}?error=csrf`);
  const username = (form.get('username') ?? '').slice(0, 200);
  // The failed-sign-in limits of every other sign-in path apply (lib/interaction/sign-in-limit.ts).
  const attempt = await attemptSignIn({
    sandboxId: currentSandbox().id,
    username,
    password: form.get('password') ?? '',
    headers: req.headers,
    audit: { endpoint: `${ACCESS_PAGE_PATH}/login`, failureStatus: 303 },
  });
  if (attempt.kind === 'locked')
    return seeOther(`${accessPagePath()}?error=${lockedErrorKey(attempt.scope)}&retry=${attempt.retryAfterSeconds}&username=${encodeURIComponent(username)}`);
  if (attempt.kind === 'failed') return seeOther(`${accessPagePath()}?error=credentials&username=${encodeURIComponent(username)}`);
  const { cookie } = await createSessionCookie(attempt.persona);
  return seeOther(accessPagePath(), [cookie]);
});

/** POST /interaction/access/logout: signs the persona out; 303 back to the (sign-in) page. */
export const handleAccessLogout = sandboxPageHandler('access', async (req: Request): Promise<Response> => {
  if (!isSameOriginPost(req, publicOrigin(req))) return refusedPage();
  const form = await readForm(req);
  const binding = readCookie(req.headers.get('cookie'), bindingCookieName()) ?? '';
  const session = await readPersonaSession(req);
  if (session && !(await verifyCsrfToken(form.get('csrf') ?? '', 'logout', CSRF_SCOPE, binding, session.sid))) return seeOther(accessPagePath());
  return seeOther(accessPagePath(), [clearSessionCookie()]);
});

/** POST /interaction/access: the revoke form; 303 back to the page, which says what ended. */
export const handleAccessForm = sandboxPageHandler('access', async (req: Request): Promise<Response> => {
  if (!isSameOriginPost(req, publicOrigin(req))) return refusedPage();
  const session = await readPersonaSession(req);
  if (!session) return loginRequired(req, false);
  const form = await readForm(req);
  const binding = readCookie(req.headers.get('cookie'), bindingCookieName()) ?? '';
  if (!(await verifyCsrfToken(form.get('csrf') ?? '', 'access', CSRF_SCOPE, binding, session.sid))) {
    return htmlPage(accessMessageView('The form expired', 'Reload the page and try again.'), { title: 'Expired', status: 403 });
  }
  const clientId = form.get('client_id') ?? '';
  if (!CLIENT_ID.test(clientId)) return htmlPage(accessMessageView('Unknown app', 'No app was named.'), { title: 'Unknown app', status: 400 });
  const count = await revoke(req, session, clientId);
  if (!count)
    return htmlPage(accessMessageView('Nothing to revoke', 'You have not given this app access, or it was already revoked.'), {
      title: 'Nothing to revoke',
      status: 404,
    });
  return seeOther(`${accessPagePath()}?revoked=${encodeURIComponent(clientId)}&grants=${count}`);
});

/** GET /interaction/access/apps: the persona's apps as JSON. */
export const handleAccessList = sandboxPageHandler('access', async (req: Request): Promise<Response> => {
  const session = await readPersonaSession(req);
  if (!session) return loginRequired(req, true);
  const apps = await listAuthorizedApps(currentSandbox().id, session.fhirUser);
  return jsonResponse({ fhirUser: session.fhirUser, name: session.name, apps: apps.map(toJson) }, 200);
});

/** DELETE (or POST) /interaction/access/apps/{client_id}: revokes every grant the persona gave that app. */
export const handleAccessRevoke = sandboxPageHandler('access', async (req: Request, clientId: string): Promise<Response> => {
  if (!isSameOriginPost(req, publicOrigin(req))) return jsonResponse({ error: 'forbidden', error_description: 'Cross-origin request refused' }, 403);
  const session = await readPersonaSession(req);
  if (!session) return loginRequired(req, true);
  if (!CLIENT_ID.test(clientId)) return jsonResponse({ error: 'invalid_request', error_description: 'client_id is not valid' }, 400);
  const count = await revoke(req, session, clientId);
  if (!count) return jsonResponse({ error: 'not_found', error_description: 'You have not given this app access, or it was already revoked' }, 404);
  return jsonResponse({ client_id: clientId, revoked_grants: count }, 200);
});

/** The context Next.js passes to the route handler under app/(interaction)/interaction/access/apps/[clientId]. */
export type AccessRevokeRouteContext = { params: Promise<{ clientId: string }> };

/** DELETE or POST /interaction/access/apps/{client_id}. */
export async function accessRevokeRoute(req: Request, ctx: AccessRevokeRouteContext): Promise<Response> {
  return handleAccessRevoke(req, (await ctx.params).clientId);
}
