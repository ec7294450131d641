import { randomUUID } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import type { JWK } from 'jose';
import { getDb } from '../db';
import { isUniqueViolation } from '../db/errors';
import { handleFhirRequest } from '../fhir/router';
import { getClient, registerClient, updateClient } from '../oauth/clients';
import type { OAuthClient } from '../oauth/clients';
import { oauthUrls } from '../oauth/config';
import { handleToken } from '../oauth/endpoints/token';
import { findLaunch } from '../oauth/launches';
import { DEFAULT_SANDBOX_ID } from '../sandbox';
import { currentSandbox } from '../sandbox/context';

/**
 * The built-in backend service demo: a backend client (`backend-demo`) whose private key the
 * sandbox holds, run step by step against the real token endpoint and FHIR API (SMART App Launch
 * 2.2 §backend-services; docs/CONFORMANCE.md #138–#146): the signed client assertion and its
 * decoded header and claims, the client_credentials request and answer, and a few FHIR calls with
 * the token, one of them refused for its scope. Every exchange is audited like any client's.
 */

/** client_id of the built-in backend service demo. */
export const BACKEND_DEMO_CLIENT_ID = 'backend-demo';

/** The demo client's client_id in the current sandbox (client ids are unique across sandboxes). */
export function backendDemoClientId(): string {
  const { id } = currentSandbox();
  return id === DEFAULT_SANDBOX_ID ? BACKEND_DEMO_CLIENT_ID : `${BACKEND_DEMO_CLIENT_ID}-${id}`;
}
const KEY_SETTING = 'launcher.backend-demo.key';
const ALG = 'ES384';

interface DemoKey {
  readonly kid: string;
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
}

async function loadOrCreateKey(): Promise<DemoKey> {
  const db = getDb();
  const row = await db.setting.findUnique({ where: { key: KEY_SETTING } });
  if (row) return JSON.parse(row.value) as DemoKey;
  const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
  const kid = `backend-demo-${randomUUID().slice(0, 8)}`;
  const key: DemoKey = { kid, privateJwk: await exportJWK(privateKey), publicJwk: { ...(await exportJWK(publicKey)), kid, alg: ALG, use: 'sig' } };
  try {
    await db.setting.create({ data: { key: KEY_SETTING, value: JSON.stringify(key) } });
    return key;
  } catch (err) {
    // Another request or instance made it first: use theirs.
    if (!isUniqueViolation(err)) throw err;
    const again = await db.setting.findUnique({ where: { key: KEY_SETTING } });
    if (!again) throw err;
    return JSON.parse(again.value) as DemoKey;
  }
}

/** Registers the demo backend client with the public half of the sandbox's demo key, idempotently. */
export async function ensureBackendDemoClient(): Promise<{ client: OAuthClient; key: DemoKey }> {
  const key = await loadOrCreateKey();
  const jwks = { keys: [key.publicJwk as { kty: string; kid: string }] };
  const clientId = backendDemoClientId();
  const existing = await getClient(clientId);
  if (existing) {
    if (existing.jwks?.keys.some((k) => k.kid === key.kid)) return { client: existing, key };
    const updated = await updateClient(clientId, { jwks, jwksUri: null });
    return { client: updated ?? existing, key };
  }
  try {
    const { client } = await registerClient({
      clientId,
      name: 'Backend service demo',
      clientType: 'backend',
      scope: 'system/*.rs',
      jwks,
      softwareId: 'smart-sandbox-backend-demo',
    });
    return { client, key };
  } catch (err) {
    const again = await getClient(clientId);
    if (again) return ensureBackendDemoClient();
    throw err;
  }
}

/** One HTTP exchange of the demo, as sent and as answered. */
export interface DemoExchange {
  readonly method: string;
  readonly url: string;
  readonly requestHeaders: Readonly<Record<string, string>>;
  /** The form or JSON body sent, with secrets shortened. */
  readonly requestBody: string | null;
  readonly status: number;
  readonly responseHeaders: Readonly<Record<string, string>>;
  /** The JSON answer (long values shortened, Bundles cut to a few entries). */
  readonly responseBody: unknown;
}

export interface DemoStep {
  readonly title: string;
  readonly explanation: string;
  readonly exchange?: DemoExchange;
  /** A JWT shown decoded (the client assertion, the access token). */
  readonly decoded?: { readonly header: unknown; readonly claims: unknown };
  readonly ok: boolean;
}

export interface BackendDemoRun {
  readonly clientId: string;
  readonly tokenUrl: string;
  readonly fhirBase: string;
  readonly steps: readonly DemoStep[];
}

const SHOWN_RESPONSE_HEADERS = ['content-type', 'cache-control', 'www-authenticate', 'retry-after', 'location'];

function shorten(token: string): string {
  return token.length > 24 ? `${token.slice(0, 16)}…${token.slice(-6)} (${token.length} characters)` : token;
}

/** A JSON answer made readable: tokens shortened, Bundles cut to three entries. */
function abbreviate(body: unknown): unknown {
  if (typeof body !== 'object' || body === null) return body;
  const b = body as Record<string, unknown>;
  if (typeof b.access_token === 'string') return { ...b, access_token: shorten(b.access_token) };
  if (b.resourceType === 'Bundle' && Array.isArray(b.entry) && b.entry.length > 3)
    return { ...b, entry: [...b.entry.slice(0, 3), { note: `… ${b.entry.length - 3} more entries` }] };
  return body;
}

function requestHeadersFor(origin: string, extra: Record<string, string>): Record<string, string> {
  const url = new URL(origin);
  // The handlers derive the issuer and FHIR base from the request (lib/http/origin.ts): the same
  // origin the page was reached on, so the assertion's aud and the token's aud match theirs.
  return { host: url.host, 'x-forwarded-host': url.host, 'x-forwarded-proto': url.protocol.replace(':', ''), ...extra };
}

async function exchange(
  handler: (req: Request) => Promise<Response>,
  origin: string,
  method: string,
  url: string,
  headers: Record<string, string>,
  body: string | null,
  shownBody: string | null,
): Promise<{ shown: DemoExchange; json: unknown }> {
  // The handlers run in the current sandbox and see its paths without the `/s/{id}` prefix, as the servers hand them over.
  const target = new URL(url);
  const { basePath } = currentSandbox();
  if (basePath && target.pathname.startsWith(`${basePath}/`)) target.pathname = target.pathname.slice(basePath.length);
  const res = await handler(new Request(target, { method, headers: requestHeadersFor(origin, headers), ...(body !== null ? { body } : {}) }));
  const text = await res.text();
  let json: unknown = text;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: shown as text.
  }
  const responseHeaders: Record<string, string> = {};
  for (const name of SHOWN_RESPONSE_HEADERS) {
    const v = res.headers.get(name);
    if (v) responseHeaders[name] = v;
  }
  const shownHeaders = { ...headers };
  if (shownHeaders.authorization) shownHeaders.authorization = `Bearer ${shorten(shownHeaders.authorization.slice(7))}`;
  return {
    shown: { method, url, requestHeaders: shownHeaders, requestBody: shownBody, status: res.status, responseHeaders, responseBody: abbreviate(json) },
    json,
  };
}

/**
 * Runs the demo against this origin's endpoints. A backend service launch armed for the demo
 * client in the launcher applies (its simulated error, its patients), exactly as for any backend client.
 */
export async function runBackendDemo(origin: string, options: { scope?: string } = {}): Promise<BackendDemoRun> {
  const { client, key } = await ensureBackendDemoClient();
  const sandboxUrl = `${origin}${currentSandbox().basePath}`;
  const tokenUrl = oauthUrls(sandboxUrl).token;
  const fhirBase = `${sandboxUrl}/fhir`;
  const scope = options.scope?.trim() || client.scope;
  const steps: DemoStep[] = [];

  // 1. The client assertion (RFC 7523 §3; SMART App Launch 2.2 §authenticating-to-the-token-endpoint).
  const signingKey = await importJWK(key.privateJwk, ALG);
  const now = Math.floor(Date.now() / 1000);
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: ALG, kid: key.kid, typ: 'JWT' })
    .setIssuer(client.clientId)
    .setSubject(client.clientId)
    .setAudience(tokenUrl)
    .setJti(randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(signingKey);
  steps.push({
    title: '1. Sign a client assertion',
    explanation: `A JWT signed with the demo client's private ${ALG} key (kid ${key.kid}); the sandbox holds this key and registered only its public half. iss and sub are the client_id, aud the token URL, jti a fresh random value, exp at most five minutes ahead.`,
    decoded: { header: decodeProtectedHeader(assertion), claims: decodeJwt(assertion) },
    ok: true,
  });

  // 2. The token request.
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    scope,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion,
  });
  const shownForm = new URLSearchParams(form);
  shownForm.set('client_assertion', shorten(assertion));
  const token = await exchange(
    handleToken,
    origin,
    'POST',
    tokenUrl,
    { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    form.toString(),
    decodeURIComponent(shownForm.toString()),
  );
  const body = token.json as { access_token?: unknown; scope?: unknown; error?: unknown };
  const accessToken = token.shown.status === 200 && typeof body.access_token === 'string' ? body.access_token : null;
  steps.push({
    title: '2. Ask the token endpoint for an access token',
    explanation: accessToken
      ? `client_credentials with the assertion: the server checked the signature against the registered JWKS, the jti for replay and exp, and granted ${String(body.scope)}. No refresh token: a backend service signs a new assertion when the token expires.`
      : `The token endpoint refused the request (${String(body.error)}): the demo stops here, as a backend service would.`,
    exchange: token.shown,
    ...(accessToken ? { decoded: { header: decodeProtectedHeader(accessToken), claims: decodeJwt(accessToken) } } : {}),
    ok: accessToken !== null,
  });
  if (!accessToken) return { clientId: client.clientId, tokenUrl, fhirBase, steps };

  // 3. FHIR calls with the token.
  const auth = { authorization: `Bearer ${accessToken}`, accept: 'application/fhir+json' };
  const launchId = decodeJwt(accessToken).launch_id;
  const launchPatients = typeof launchId === 'string' ? ((await findLaunch(launchId))?.options.patientIds ?? []) : [];
  let patientId = launchPatients[0] ?? null;
  const search = await exchange(handleFhirRequest, origin, 'GET', `${fhirBase}/Patient?_count=3&_elements=id,name,birthDate`, auth, null, null);
  if (!patientId) {
    const entries = (search.json as { entry?: { resource?: { id?: string } }[] } | null)?.entry ?? [];
    patientId = entries[0]?.resource?.id ?? null;
  }
  steps.push({
    title: '3. Search patients',
    explanation: 'system/*.rs lets the service read and search every resource of the sandbox: no patient context, no user.',
    exchange: search.shown,
    ok: search.shown.status === 200,
  });
  if (patientId) {
    const obs = await exchange(
      handleFhirRequest,
      origin,
      'GET',
      `${fhirBase}/Observation?patient=${encodeURIComponent(patientId)}&_count=3&_sort=-date`,
      auth,
      null,
      null,
    );
    steps.push({
      title: '4. Read one patient’s latest observations',
      explanation: `Observations of Patient/${patientId}${launchPatients.length ? ' (the first patient of the armed backend launch)' : ''}, newest first.`,
      exchange: obs.shown,
      ok: obs.shown.status === 200,
    });
  }
  const write = await exchange(
    handleFhirRequest,
    origin,
    'POST',
    `${fhirBase}/Patient`,
    { ...auth, 'content-type': 'application/fhir+json' },
    JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Demo' }] }),
    '{"resourceType":"Patient","name":[{"family":"Demo"}]}',
  );
  steps.push({
    title: `${patientId ? '5' : '4'}. Try a write the scope does not allow`,
    explanation: 'system/*.rs grants read and search only: a create is refused with 403 and an OperationOutcome, and nothing is stored.',
    exchange: write.shown,
    ok: write.shown.status === 403,
  });
  return { clientId: client.clientId, tokenUrl, fhirBase, steps };
}
