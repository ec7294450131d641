// A SMART app's side of the flows, built on oauth4webapi (an independent, spec-strict OAuth client)
// plus jose for id_token signature checks against the published JWKS. No vitest imports here, so
// Playwright specs can share it.
import * as oauth from 'oauth4webapi';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import type { CryptoKey, JWTPayload } from 'jose';
import { BrowserSession } from './browserless';
import type { InteractionInput } from './browserless';

/** oauth4webapi refuses http:// unless told; the sandbox under test runs on http://localhost. */
export const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** Where a test app "lives": never fetched, the redirect is read from the Location header. */
export const APP_REDIRECT_URI = 'http://127.0.0.1:9/callback';
export const APP_LAUNCH_URI = 'http://127.0.0.1:9/launch';

/** The SMART configuration fields the tests read. */
export interface SmartConfiguration {
  readonly issuer?: string;
  readonly jwks_uri?: string;
  readonly authorization_endpoint: string;
  readonly token_endpoint: string;
  readonly introspection_endpoint?: string;
  readonly revocation_endpoint?: string;
  readonly registration_endpoint?: string;
  readonly management_endpoint?: string;
  readonly capabilities: readonly string[];
  readonly code_challenge_methods_supported: readonly string[];
}

/** OpenID Connect discovery through oauth4webapi (it checks that `issuer` equals the URL it came from). */
export async function discover(base: string): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(base);
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }));
}

export async function smartConfiguration(base: string): Promise<SmartConfiguration> {
  const res = await fetch(`${base}/fhir/.well-known/smart-configuration`);
  if (res.status !== 200) throw new Error(`smart-configuration answered ${res.status}`);
  return (await res.json()) as SmartConfiguration;
}

export interface RegisteredClient {
  readonly client: oauth.Client;
  readonly auth: () => oauth.ClientAuth;
  readonly secret: string | null;
}

/** Registers a client through RFC 7591 dynamic registration. */
export async function registerClient(base: string, metadata: Record<string, unknown>): Promise<{ client_id: string; client_secret?: string }> {
  const res = await fetch(`${base}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata) });
  const body = (await res.json()) as { client_id?: string; client_secret?: string; error_description?: string };
  if (res.status !== 201 || !body.client_id) throw new Error(`registration failed (${res.status}): ${body.error_description ?? JSON.stringify(body)}`);
  return { client_id: body.client_id, ...(body.client_secret ? { client_secret: body.client_secret } : {}) };
}

/** A public client (PKCE, no secret). */
export async function registerPublicClient(base: string, extra: Record<string, unknown> = {}): Promise<RegisteredClient> {
  const reg = await registerClient(base, {
    client_name: 'it public app',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    redirect_uris: [APP_REDIRECT_URI],
    launch_uris: [APP_LAUNCH_URI],
    scope: 'openid fhirUser launch launch/patient launch/encounter offline_access online_access patient/*.cruds user/*.cruds',
    ...extra,
  });
  return { client: { client_id: reg.client_id, token_endpoint_auth_method: 'none' }, auth: () => oauth.None(), secret: null };
}

/** A confidential-symmetric client authenticating with HTTP Basic (client_secret_basic). */
export async function registerSymmetricClient(base: string, extra: Record<string, unknown> = {}): Promise<RegisteredClient> {
  const reg = await registerClient(base, {
    client_name: 'it confidential app',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token'],
    redirect_uris: [APP_REDIRECT_URI],
    launch_uris: [APP_LAUNCH_URI],
    scope: 'openid fhirUser launch launch/patient launch/encounter offline_access online_access patient/*.cruds user/*.cruds',
    ...extra,
  });
  const secret = reg.client_secret;
  if (!secret) throw new Error('no client_secret in the registration response');
  return { client: { client_id: reg.client_id, token_endpoint_auth_method: 'client_secret_basic' }, auth: () => oauth.ClientSecretBasic(secret), secret };
}

export interface AuthorizationRequest {
  readonly url: URL;
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
  readonly challenge: string;
}

/** An authorization URL with PKCE S256, state, nonce and aud (SMART App Launch 2.2 §app-launch). */
export async function buildAuthorizationRequest(
  as: oauth.AuthorizationServer,
  clientId: string,
  params: { scope: string; aud: string; launch?: string; redirectUri?: string; extra?: Record<string, string> },
): Promise<AuthorizationRequest> {
  const verifier = oauth.generateRandomCodeVerifier();
  const challenge = await oauth.calculatePKCECodeChallenge(verifier);
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const url = new URL(as.authorization_endpoint ?? '');
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', clientId);
  url.searchParams.set('redirect_uri', params.redirectUri ?? APP_REDIRECT_URI);
  url.searchParams.set('scope', params.scope);
  url.searchParams.set('state', state);
  url.searchParams.set('nonce', nonce);
  url.searchParams.set('aud', params.aud);
  url.searchParams.set('code_challenge', challenge);
  url.searchParams.set('code_challenge_method', 'S256');
  if (params.launch) url.searchParams.set('launch', params.launch);
  for (const [k, v] of Object.entries(params.extra ?? {})) url.searchParams.set(k, v);
  return { url, state, nonce, verifier, challenge };
}

/** The SMART token response: OAuth fields plus launch context. */
export interface SmartTokenResponse extends oauth.TokenEndpointResponse {
  readonly patient?: string;
  readonly encounter?: string;
  readonly need_patient_banner?: boolean;
  readonly smart_style_url?: string;
}

export interface CompletedFlow {
  readonly request: AuthorizationRequest;
  readonly code: string;
  readonly tokens: SmartTokenResponse;
  /** Headers of the token endpoint's response. */
  readonly tokenHeaders: Headers;
  readonly session: BrowserSession;
  readonly offered: readonly string[];
}

/**
 * A complete authorization-code flow: authorize → interaction screens over HTTP → code (state
 * and iss validated by oauth4webapi) → token exchange with PKCE (oauth4webapi validates the
 * response and the id_token claims, with the nonce).
 */
export async function runCodeFlow(
  base: string,
  as: oauth.AuthorizationServer,
  reg: RegisteredClient,
  params: { scope: string; launch?: string; interaction: InteractionInput; session?: BrowserSession },
): Promise<CompletedFlow> {
  const request = await buildAuthorizationRequest(as, reg.client.client_id, {
    scope: params.scope,
    aud: `${base}/fhir`,
    ...(params.launch ? { launch: params.launch } : {}),
  });
  const session = params.session ?? new BrowserSession(base);
  const { callback, offered } = await session.authorize(request.url, params.interaction);
  const callbackParams = oauth.validateAuthResponse(as, reg.client, callback, request.state);
  const code = callbackParams.get('code') ?? '';
  const res = await oauth.authorizationCodeGrantRequest(as, reg.client, reg.auth(), callbackParams, APP_REDIRECT_URI, request.verifier, insecure);
  const tokenHeaders = res.headers;
  const openid = params.scope.split(' ').includes('openid');
  const tokens = (await oauth.processAuthorizationCodeResponse(
    as,
    reg.client,
    res,
    openid ? { expectedNonce: request.nonce, requireIdToken: true } : {},
  )) as SmartTokenResponse;
  return { request, code, tokens, tokenHeaders, session, offered };
}

/** Verifies an id_token's RS256 signature against the JWKS named by OpenID discovery, with iss and aud. */
export async function verifyIdToken(as: oauth.AuthorizationServer, idToken: string, clientId: string): Promise<JWTPayload> {
  if (!as.jwks_uri) throw new Error('openid-configuration has no jwks_uri');
  const jwks = createRemoteJWKSet(new URL(as.jwks_uri));
  const { payload, protectedHeader } = await jwtVerify(idToken, jwks, { issuer: as.issuer, audience: clientId, algorithms: ['RS256'] });
  if (!protectedHeader.kid) throw new Error('id_token header has no kid');
  return payload;
}

/** The OAuth error of a refused token-endpoint response, as oauth4webapi reports it. */
export async function oauthErrorOf(promise: Promise<unknown>): Promise<{ status: number; error: string; description: string | undefined }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof oauth.ResponseBodyError) return { status: err.status, error: err.error, description: err.error_description };
    throw err;
  }
  throw new Error('expected the request to be refused');
}

/** GET on the FHIR API with an optional bearer token; JSON body parsed. */
export async function fhirGet(base: string, path: string, token?: string): Promise<{ status: number; headers: Headers; body: FhirJson }> {
  const res = await fetch(`${base}/fhir/${path.replace(/^\//, '')}`, {
    headers: { accept: 'application/fhir+json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
  const text = await res.text();
  let body: FhirJson = {};
  try {
    body = text ? (JSON.parse(text) as FhirJson) : {};
  } catch {
    body = { raw: text };
  }
  return { status: res.status, headers: res.headers, body };
}

/** A loosely typed FHIR JSON value (resources, bundles, outcomes). */
export interface FhirJson {
  readonly resourceType?: string;
  readonly id?: string;
  readonly total?: number;
  readonly entry?: readonly { readonly resource?: FhirJson; readonly fullUrl?: string; readonly search?: { readonly mode?: string } }[];
  readonly link?: readonly { readonly relation: string; readonly url: string }[];
  readonly issue?: readonly { readonly code?: string; readonly diagnostics?: string }[];
  readonly [key: string]: unknown;
}

/** `Type/id` of every resource in a Bundle. */
export function bundleRefs(bundle: FhirJson): string[] {
  return (bundle.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);
}

/** A backend-services client (client_credentials + private_key_jwt) registered with a key pair the caller holds. */
export interface BackendService {
  clientId: string;
  /** Set only if the server wrongly issued a secret to a private_key_jwt client. */
  clientSecret?: string;
  privateKey: CryptoKey;
  kid: string;
  alg: 'ES384' | 'RS384';
}

/** Registers a backend service over RFC 7591 with a fresh key pair (its public key in `jwks`). */
export async function registerBackendService(
  base: string,
  { name, kid, scope, alg = 'ES384' }: { name: string; kid: string; scope: string; alg?: 'ES384' | 'RS384' },
): Promise<BackendService> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  const { client_id, client_secret } = await registerClient(base, {
    client_name: name,
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [jwk] },
    scope,
  });
  return { clientId: client_id, ...(client_secret ? { clientSecret: client_secret } : {}), privateKey, kid, alg };
}

/** oauth4webapi's private_key_jwt client authentication for `service`. */
export function assertionAuth(as: oauth.AuthorizationServer, service: BackendService): oauth.ClientAuth {
  // SMART App Launch 2.2 §client-confidential-asymmetric: typ JWT, aud is the token endpoint URL.
  return oauth.PrivateKeyJwt(
    { key: service.privateKey, kid: service.kid },
    {
      [oauth.modifyAssertion]: (header, payload) => {
        header.typ = 'JWT';
        payload.aud = as.token_endpoint;
      },
    },
  );
}

/** A client_credentials access token for `service`, through oauth4webapi. */
export async function clientCredentialsToken(as: oauth.AuthorizationServer, service: BackendService, scope: string): Promise<string> {
  const client: oauth.Client = { client_id: service.clientId };
  const res = await oauth.clientCredentialsGrantRequest(as, client, assertionAuth(as, service), { scope }, insecure);
  return (await oauth.processClientCredentialsResponse(as, client, res)).access_token;
}

/** A client_credentials request whose assertion carries the caller's `jti` (so a replay can be sent); the raw response. */
export async function clientCredentialsRequest(as: oauth.AuthorizationServer, service: BackendService, scope: string, jti: string): Promise<Response> {
  // SMART App Launch 2.2 §backend-services: aud is the token endpoint, exp at most five minutes ahead.
  const assertion = await new SignJWT({ jti })
    .setProtectedHeader({ alg: service.alg, kid: service.kid, typ: 'JWT' })
    .setIssuer(service.clientId)
    .setSubject(service.clientId)
    .setAudience(as.token_endpoint!)
    .setExpirationTime('4m')
    .sign(service.privateKey);
  return fetch(as.token_endpoint!, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }).toString(),
  });
}

/** A backend-services client (client_credentials + private_key_jwt ES384) and a system token from it. */
export async function systemToken(base: string, as: oauth.AuthorizationServer, scope: string): Promise<string> {
  const service = await registerBackendService(base, { name: 'it backend reader', kid: 'it-backend', scope });
  return clientCredentialsToken(as, service, scope);
}
