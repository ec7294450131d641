/**
 * Helpers for the authorization server's unit tests (not used by the app): requests built the
 * way real clients send them, PKCE pairs, clients of every type, and a full code flow.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { CryptoKey, JWK } from 'jose';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { ClientInput, OAuthClient } from './clients';
import { registerClient } from './clients';
import { CLIENT_ASSERTION_TYPE } from './config';
import { handleAuthorize } from './endpoints/authorize';
import { handleToken } from './endpoints/token';
import { completeInteraction } from './interaction';
import type { CompleteInteractionInput } from './interaction';

export const ORIGIN = 'http://localhost:3000';
export const FHIR_BASE = `${ORIGIN}/fhir`;
export const TOKEN_URL = `${ORIGIN}/oauth/token`;
export const REDIRECT = 'https://app.example.org/callback';

export function form(url: string, params: Record<string, string>, headers: Record<string, string> = {}): Request {
  return new Request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
}

export function basic(id: string, secret: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` };
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

export async function newClient(type: OAuthClient['clientType'], extra: Partial<ClientInput> = {}) {
  const base: ClientInput =
    type === 'backend'
      ? { name: 'backend', clientType: type }
      : {
          name: `${type} app`,
          clientType: type,
          redirectUris: [REDIRECT, 'http://localhost:4567/custom/smart_stu2_2/redirect'],
          launchUris: ['https://app.example.org/launch'],
        };
  return registerClient({ ...base, ...extra });
}

/** A confidential-symmetric client, its secret, and HTTP Basic client authentication with it (RFC 6749 §2.3.1). */
export async function newSymmetricClient() {
  const { client, clientSecret } = await newClient('confidential-symmetric');
  return { client, secret: clientSecret!, auth: { headers: basic(client.clientId, clientSecret!) } };
}

/** An asymmetric key pair registered inline, and a function that signs client assertions with it. */
export async function assertionKeys(alg: 'ES384' | 'RS384', kid = `${alg}-key`) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig', key_ops: ['verify'] };
  return { jwk, privateKey, sign: (clientId: string, over: AssertionOverrides = {}) => signAssertion(privateKey, alg, kid, clientId, over) };
}

export interface AssertionOverrides {
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  omit?: string[];
}

/** A client assertion shaped like Inferno's: typ JWT, kid, exp = now + 300, no iat (docs/CONFORMANCE.md #6). */
export async function signAssertion(key: CryptoKey, alg: string, kid: string, clientId: string, over: AssertionOverrides = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: clientId,
    sub: clientId,
    aud: TOKEN_URL,
    exp: now + 300,
    jti: randomBytes(16).toString('hex'),
    ...over.claims,
  };
  for (const k of over.omit ?? []) delete claims[k];
  return new SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'JWT', ...over.header } as { alg: string }).sign(key);
}

export function assertionParams(assertion: string): Record<string, string> {
  return { client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: assertion };
}

export interface AuthorizeParams {
  client_id: string;
  redirect_uri?: string;
  scope?: string;
  state?: string;
  aud?: string;
  code_challenge?: string;
  code_challenge_method?: string;
  response_type?: string;
  launch?: string;
  nonce?: string;
  [other: string]: string | undefined;
}

/** Valid authorize parameters for a client, overridable; undefined removes a parameter. */
export function authorizeQuery(p: AuthorizeParams, challenge: string): URLSearchParams {
  const all: Record<string, string | undefined> = {
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: 'openid fhirUser launch/patient patient/*.rs offline_access',
    state: 'st-123',
    aud: FHIR_BASE,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...p,
  };
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(all)) if (v !== undefined) q.set(k, v);
  return q;
}

export function authorizeGet(q: URLSearchParams | string): Promise<Response> {
  return handleAuthorize(new Request(`${ORIGIN}/oauth/authorize?${q.toString()}`));
}

/** Location of a redirect, parsed. */
export function location(res: Response): URL {
  const loc = res.headers.get('location');
  if (!loc) throw new Error(`no Location header (status ${res.status})`);
  return new URL(loc);
}

export function interactionIdOf(res: Response): string {
  const url = location(res);
  const match = /^\/interaction\/([^/]+)$/.exec(url.pathname);
  if (!match?.[1]) throw new Error(`not an interaction redirect: ${url.href}`);
  return decodeURIComponent(match[1]);
}

/** authorize → completeInteraction → code. */
export async function getCode(
  client: OAuthClient,
  opts: { params?: Partial<AuthorizeParams>; complete?: Partial<CompleteInteractionInput> } = {},
): Promise<{ code: string; verifier: string; redirect: URL }> {
  const { verifier, challenge } = pkce();
  const res = await authorizeGet(authorizeQuery({ client_id: client.clientId, ...opts.params }, challenge));
  if (res.status !== 303) throw new Error(`authorize failed: ${res.status} ${res.headers.get('location') ?? (await res.text()).slice(0, 300)}`);
  const id = interactionIdOf(res);
  const scope = opts.params?.scope ?? 'openid fhirUser launch/patient patient/*.rs offline_access';
  const redirect = new URL(
    await completeInteraction(id, {
      userId: 'Practitioner/prac-1',
      fhirUser: 'Practitioner/prac-1',
      patientId: 'pat-1',
      grantedScope: scope,
      ...opts.complete,
    }),
  );
  const code = redirect.searchParams.get('code');
  if (!code) throw new Error(`no code in ${redirect.href}`);
  return { code, verifier, redirect };
}

/** Exchanges a code at the token endpoint. */
export function exchange(
  code: string,
  verifier: string | null,
  auth: { headers?: Record<string, string>; params?: Record<string, string> } = {},
): Promise<Response> {
  return handleToken(
    form(
      TOKEN_URL,
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, ...(verifier === null ? {} : { code_verifier: verifier }), ...auth.params },
      auth.headers,
    ),
  );
}
