// OAuth over raw HTTP for fault and multi-instance tests: codes obtained through the real
// interaction screens, and token requests whose every outcome (success, refusal, cut connection)
// is recorded instead of thrown.
import * as oauth from 'oauth4webapi';
import { BrowserSession } from '../../integration/support/browserless';
import { APP_REDIRECT_URI, buildAuthorizationRequest, discover, registerPublicClient, registerSymmetricClient } from '../../integration/support/smart-client';
import type { RegisteredClient } from '../../integration/support/smart-client';

/** A patient of the default dataset (seed 42) and the scopes a patient app asks for. */
export const PATIENT = 'pat-42-0';
export const PATIENT_SCOPE = 'openid fhirUser launch/patient offline_access patient/Patient.rs patient/Observation.rs';

export interface IssuedCode {
  readonly code: string;
  readonly verifier: string;
}

/** Outcome of one token request: the JSON body and status, or `cut` when no response came back. */
export type TokenOutcome =
  | { readonly kind: 'response'; readonly status: number; readonly body: Record<string, unknown>; readonly headers: Headers }
  | { readonly kind: 'cut'; readonly reason: string };

export interface RegisteredApp {
  readonly as: oauth.AuthorizationServer;
  readonly reg: RegisteredClient;
  readonly clientId: string;
}

/** Discovers the server and registers a public app (PKCE, refresh tokens). */
export async function registerApp(base: string): Promise<RegisteredApp> {
  const as = await discover(base);
  const reg = await registerPublicClient(base);
  return { as, reg, clientId: reg.client.client_id };
}

/** Discovers the server and registers a confidential app (client_secret_basic, PKCE, refresh tokens). */
export async function registerConfidentialApp(base: string): Promise<RegisteredApp & { readonly credentials: { clientId: string; secret: string } }> {
  const as = await discover(base);
  const reg = await registerSymmetricClient(base);
  const clientId = reg.client.client_id;
  return { as, reg, clientId, credentials: { clientId, secret: reg.secret ?? '' } };
}

/** Codes from complete authorizations through the interaction screens (one signed-in browser session). */
export async function obtainCodes(
  base: string,
  app: RegisteredApp,
  count: number,
  patient = PATIENT,
  session = new BrowserSession(base),
): Promise<IssuedCode[]> {
  const codes: IssuedCode[] = [];
  for (let i = 0; i < count; i++) {
    const request = await buildAuthorizationRequest(app.as, app.clientId, { scope: PATIENT_SCOPE, aud: `${app.as.issuer}/fhir` });
    const { callback } = await session.authorize(request.url, { persona: `Patient/${patient}` });
    const params = oauth.validateAuthResponse(app.as, app.reg.client, callback, request.state);
    codes.push({ code: params.get('code') ?? '', verifier: request.verifier });
  }
  return codes;
}

/** POSTs a form to a token-style endpoint; never throws. */
export async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<TokenOutcome> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
      body: new URLSearchParams(form).toString(),
    });
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = { raw: text.slice(0, 300) };
    }
    return { kind: 'response', status: res.status, body, headers: res.headers };
  } catch (err) {
    return { kind: 'cut', reason: err instanceof Error ? err.message : String(err) };
  }
}

/** How a client authenticates: a public client names itself, a confidential one uses HTTP Basic. */
export type ClientCredentials = string | { readonly clientId: string; readonly secret: string };

/** The form fields and headers that authenticate a client (RFC 6749 §2.3.1). */
export function clientAuth(client: ClientCredentials): { form: Record<string, string>; headers: Record<string, string> } {
  if (typeof client === 'string') return { form: { client_id: client }, headers: {} };
  const basic = Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.secret)}`).toString('base64');
  return { form: {}, headers: { authorization: `Basic ${basic}` } };
}

/** A POST to an OAuth endpoint of `base` as a client. */
export function clientPost(base: string, path: string, client: ClientCredentials, form: Record<string, string>): Promise<TokenOutcome> {
  const auth = clientAuth(client);
  return postForm(`${base}${path}`, { ...form, ...auth.form }, auth.headers);
}

/** grant_type=authorization_code with PKCE. */
export function exchangeCode(base: string, client: ClientCredentials, code: IssuedCode): Promise<TokenOutcome> {
  return clientPost(base, '/oauth/token', client, {
    grant_type: 'authorization_code',
    code: code.code,
    code_verifier: code.verifier,
    redirect_uri: APP_REDIRECT_URI,
  });
}

/** grant_type=refresh_token. */
export function refreshToken(base: string, client: ClientCredentials, token: string): Promise<TokenOutcome> {
  return clientPost(base, '/oauth/token', client, { grant_type: 'refresh_token', refresh_token: token });
}

/** Whether an outcome is a successful token response. */
export function succeeded(outcome: TokenOutcome): outcome is Extract<TokenOutcome, { kind: 'response' }> & { readonly status: 200 } {
  return outcome.kind === 'response' && outcome.status === 200 && typeof outcome.body.access_token === 'string';
}

/** A FHIR read with a bearer token; status only (0 when the connection failed). */
export async function fhirStatus(base: string, path: string, token: string): Promise<number> {
  try {
    const res = await fetch(`${base}/fhir/${path}`, { headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json' } });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}
