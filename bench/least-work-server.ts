// The least work that still answers each API benchmark correctly, on a bare `node:http` server
// with jose and no database (`npm run bench -- leastwork` starts it in a process of its own, so that
// its CPU time per request can be read like the sandbox's): constant JSON for discovery; verify the
// ES384 client assertion, remember its jti, sign an ES256 token for client_credentials; PKCE check,
// an ES256 access token and an RS256 id_token for the code exchange; rotation for refresh; verify
// the ES256 access token and answer a stored JSON string for a read, or filter stored items for a
// search; the 401 with its WWW-Authenticate header. The bench sends its data and keys to /_setup.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { generateKeyPair, importJWK, jwtVerify, SignJWT } from 'jose';
import type { CryptoKey, JWK } from 'jose';

interface Setup {
  origin: string;
  clientId: string;
  clientSecret: string;
  backendClientId: string;
  backendJwk: JWK;
  patient: { id: string; json: string };
  observations: { subject: string; categories: string[]; json: string }[];
}

const es256 = await generateKeyPair('ES256');
const rs256 = await generateKeyPair('RS256');
let setup: Setup | null = null;
let backendKey: CryptoKey | Uint8Array | null = null;
const seenJti = new Set<string>();
const codes = new Map<string, { challenge: string; patient: string }>();
const refreshTokens = new Map<string, { patient: string; scope: string }>();
const revoked = new Set<string>();

const API_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};
const JSON_NO_STORE = { ...API_HEADERS, 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache' };
const FHIR_JSON = { ...API_HEADERS, 'content-type': 'application/fhir+json; charset=utf-8', 'cache-control': 'no-store' };
let discovery = '';

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (data += c));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, text: string): void {
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function oauthError(res: ServerResponse, status: number, error: string): void {
  send(res, status, JSON_NO_STORE, JSON.stringify({ error }));
}

function sameSecret(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}

function basicClient(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (!h?.startsWith('Basic ') || !setup) return null;
  const [id, secret] = Buffer.from(h.slice(6), 'base64').toString().split(':').map(decodeURIComponent);
  return id === setup.clientId && secret !== undefined && sameSecret(secret, setup.clientSecret) ? id : null;
}

function accessToken(sub: string, scope: string, patient?: string): Promise<string> {
  return new SignJWT({ scope, ...(patient ? { patient } : {}), client_id: sub })
    .setProtectedHeader({ alg: 'ES256', kid: 'lw' })
    .setIssuer(setup!.origin)
    .setAudience(`${setup!.origin}/fhir`)
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('1h')
    .setJti(randomBytes(16).toString('base64url'))
    .sign(es256.privateKey);
}

async function bearer(req: IncomingMessage, res: ServerResponse): Promise<Record<string, unknown> | null> {
  const h = req.headers.authorization;
  if (!h?.startsWith('Bearer ')) {
    send(
      res,
      401,
      { ...FHIR_JSON, 'www-authenticate': `Bearer realm="${setup!.origin}/fhir"` },
      '{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"login"}]}',
    );
    return null;
  }
  try {
    const { payload } = await jwtVerify(h.slice(7), es256.publicKey, { issuer: setup!.origin, audience: `${setup!.origin}/fhir`, algorithms: ['ES256'] });
    if (revoked.has(String(payload.jti))) throw new Error('revoked');
    return payload;
  } catch {
    send(
      res,
      401,
      { ...FHIR_JSON, 'www-authenticate': `Bearer realm="${setup!.origin}/fhir", error="invalid_token"` },
      '{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"login"}]}',
    );
    return null;
  }
}

async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = new URLSearchParams(await body(req));
  const grant = form.get('grant_type');
  if (grant === 'client_credentials') {
    try {
      const { payload } = await jwtVerify(form.get('client_assertion') ?? '', backendKey!, {
        issuer: setup!.backendClientId,
        subject: setup!.backendClientId,
        audience: `${setup!.origin}/oauth/token`,
        algorithms: ['ES384'],
      });
      const jti = String(payload.jti ?? '');
      if (!jti || seenJti.has(jti)) return oauthError(res, 400, 'invalid_client');
      seenJti.add(jti);
    } catch {
      return oauthError(res, 400, 'invalid_client');
    }
    const scope = form.get('scope') ?? '';
    return send(
      res,
      200,
      JSON_NO_STORE,
      JSON.stringify({ access_token: await accessToken(setup!.backendClientId, scope), token_type: 'bearer', expires_in: 3600, scope }),
    );
  }
  const clientId = basicClient(req);
  if (!clientId) return oauthError(res, 401, 'invalid_client');
  if (grant === 'authorization_code') {
    const code = codes.get(form.get('code') ?? '');
    if (!code) return oauthError(res, 400, 'invalid_grant');
    codes.delete(form.get('code')!);
    if (
      createHash('sha256')
        .update(form.get('code_verifier') ?? '')
        .digest('base64url') !== code.challenge
    )
      return oauthError(res, 400, 'invalid_grant');
    const scope = 'openid fhirUser launch/patient patient/*.rs offline_access';
    const refresh = randomBytes(32).toString('base64url');
    refreshTokens.set(refresh, { patient: code.patient, scope });
    const idToken = await new SignJWT({ fhirUser: 'Practitioner/practitioner-1' })
      .setProtectedHeader({ alg: 'RS256', kid: 'lw-rs' })
      .setIssuer(setup!.origin)
      .setAudience(clientId)
      .setSubject('practitioner-1')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(rs256.privateKey);
    return send(
      res,
      200,
      JSON_NO_STORE,
      JSON.stringify({
        access_token: await accessToken(clientId, scope, code.patient),
        token_type: 'bearer',
        expires_in: 3600,
        scope,
        id_token: idToken,
        refresh_token: refresh,
        patient: code.patient,
      }),
    );
  }
  if (grant === 'refresh_token') {
    const old = form.get('refresh_token') ?? '';
    const grantRow = refreshTokens.get(old);
    if (!grantRow) return oauthError(res, 400, 'invalid_grant');
    refreshTokens.delete(old);
    const refresh = randomBytes(32).toString('base64url');
    refreshTokens.set(refresh, grantRow);
    return send(
      res,
      200,
      JSON_NO_STORE,
      JSON.stringify({
        access_token: await accessToken(clientId, grantRow.scope, grantRow.patient),
        token_type: 'bearer',
        expires_in: 3600,
        scope: grantRow.scope,
        refresh_token: refresh,
        patient: grantRow.patient,
      }),
    );
  }
  return oauthError(res, 400, 'unsupported_grant_type');
}

async function introspect(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = new URLSearchParams(await body(req));
  if (!basicClient(req)) return oauthError(res, 401, 'invalid_client');
  try {
    const { payload } = await jwtVerify(form.get('token') ?? '', es256.publicKey, { issuer: setup!.origin, algorithms: ['ES256'] });
    if (revoked.has(String(payload.jti))) throw new Error('revoked');
    return send(
      res,
      200,
      JSON_NO_STORE,
      JSON.stringify({
        active: true,
        scope: payload.scope,
        client_id: payload.client_id,
        sub: payload.sub,
        exp: payload.exp,
        iat: payload.iat,
        token_type: 'Bearer',
        patient: payload.patient,
      }),
    );
  } catch {
    return send(res, 200, JSON_NO_STORE, '{"active":false}');
  }
}

async function fhir(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const claims = await bearer(req, res);
  if (!claims) return;
  if (url.pathname === `/fhir/Patient/${setup!.patient.id}`) return send(res, 200, FHIR_JSON, setup!.patient.json);
  if (url.pathname === '/fhir/Observation') {
    const patient = url.searchParams.get('patient');
    const category = url.searchParams.get('category');
    const count = Number(url.searchParams.get('_count') ?? 20);
    if (claims.patient && claims.patient !== patient) return send(res, 403, FHIR_JSON, '{"resourceType":"OperationOutcome"}');
    const entries: string[] = [];
    for (const o of setup!.observations) {
      if (entries.length >= count) break;
      if (o.subject === `Patient/${patient}` && (!category || o.categories.includes(category)))
        entries.push(`{"fullUrl":"${setup!.origin}/fhir/Observation/x","resource":${o.json},"search":{"mode":"match"}}`);
    }
    return send(
      res,
      200,
      FHIR_JSON,
      `{"resourceType":"Bundle","type":"searchset","link":[{"relation":"self","url":"${setup!.origin}${url.pathname}${url.search}"}],"entry":[${entries.join(',')}]}`,
    );
  }
  return send(res, 404, FHIR_JSON, '{"resourceType":"OperationOutcome"}');
}

async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/_setup') {
    setup = JSON.parse(await body(req)) as Setup;
    backendKey = await importJWK(setup.backendJwk, 'ES384');
    discovery = JSON.stringify({
      issuer: setup.origin,
      authorization_endpoint: `${setup.origin}/oauth/authorize`,
      token_endpoint: `${setup.origin}/oauth/token`,
      code_challenge_methods_supported: ['S256'],
    });
    return send(res, 200, JSON_NO_STORE, '{}');
  }
  if (url.pathname === '/_setup/codes') {
    const out = Array.from({ length: Number(url.searchParams.get('n') ?? 1) }, () => {
      const verifier = randomBytes(32).toString('base64url');
      const code = randomBytes(32).toString('base64url');
      codes.set(code, { challenge: createHash('sha256').update(verifier).digest('base64url'), patient: setup!.patient.id });
      return { code, verifier };
    });
    return send(res, 200, JSON_NO_STORE, JSON.stringify(out));
  }
  if (url.pathname === '/_setup/token')
    return send(
      res,
      200,
      JSON_NO_STORE,
      JSON.stringify({ access_token: await accessToken(setup!.clientId, url.searchParams.get('scope') ?? '', url.searchParams.get('patient') ?? undefined) }),
    );
  if (url.pathname === '/fhir/.well-known/smart-configuration')
    return send(
      res,
      200,
      { ...API_HEADERS, 'content-type': 'application/json', 'cache-control': 'public, max-age=3600', 'access-control-allow-origin': '*' },
      discovery,
    );
  if (url.pathname === '/oauth/token' && req.method === 'POST') return token(req, res);
  if (url.pathname === '/oauth/introspect' && req.method === 'POST') return introspect(req, res);
  if (url.pathname.startsWith('/fhir/')) return fhir(req, res, url);
  return send(res, 404, API_HEADERS, '');
}

const server = createServer((req, res) => {
  route(req, res).catch((err: unknown) => {
    console.error(err);
    if (!res.headersSent) send(res, 500, API_HEADERS, '');
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening ${typeof address === 'object' && address ? address.port : 0}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
