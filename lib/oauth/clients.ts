/**
 * Registered OAuth clients: the four SMART client types, their validation, and the programmatic
 * API the console uses (dynamic registration at /oauth/register maps onto registerClient).
 *
 * SMART App Launch 2.2 §app-launch (register app with EHR), §client-confidential-symmetric,
 * §client-confidential-asymmetric, §backend-services; docs/CONFORMANCE.md #32–#36.
 */
import { z } from 'zod';
import { getDb } from '../db';
import { rawQuery } from '../db/direct';
import type { Client as ClientRow } from '../generated/sqlite/client';
import { Prisma } from '../generated/sqlite/client';
import { currentSandbox } from '../sandbox/context';
import type { ParsedScope } from '../smart/scopes';
import { formatScope, parseScopeString } from '../smart/scopes';
import type { PublicJwks } from './client-metadata';
import { describeZodError, jwksUriProblem, registeredJwksSchema, redirectUriProblem, webOrigin, webUrlProblem } from './client-metadata';
import { constantTimeEqual, randomToken, sha256 } from './crypto';
import { isUniqueViolation } from '../db/errors';
import { InvalidClientMetadata, InvalidRedirectUri } from './errors';

export const CLIENT_TYPES = ['public', 'confidential-symmetric', 'confidential-asymmetric', 'backend'] as const;
export type ClientType = (typeof CLIENT_TYPES)[number];
export const AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;
export type TokenEndpointAuthMethod = (typeof AUTH_METHODS)[number];
export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

/** Scopes an app client may ask for when its registration names none. */
export const DEFAULT_APP_SCOPE = 'openid fhirUser profile launch launch/patient launch/encounter offline_access online_access patient/*.cruds user/*.cruds';
/** Pre-authorised scope of a backend client that names none: read and search everything (docs/CONFORMANCE.md #138). */
export const DEFAULT_BACKEND_SCOPE = 'system/*.rs';

/** A registered client as the rest of the sandbox sees it (never the secret or its hash). */
export interface OAuthClient {
  readonly sandboxId: string;
  readonly clientId: string;
  readonly name: string;
  readonly clientType: ClientType;
  readonly tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  /** Exact redirect URIs (docs/CONFORMANCE.md #32, #39). */
  readonly redirectUris: readonly string[];
  /** Launch URLs the mock EHR opens with ?iss=&launch= (docs/CONFORMANCE.md #32, #155). */
  readonly launchUris: readonly string[];
  /** Scopes the client may be granted (space-separated; pre-authorisation for backend clients). */
  readonly scope: string;
  readonly grantTypes: readonly GrantType[];
  readonly jwks: PublicJwks | null;
  readonly jwksUri: string | null;
  /** PKCE S256 required at /oauth/authorize (default on; off only for SMART v1 clients; docs/CONFORMANCE.md #52). */
  readonly pkceRequired: boolean;
  /** Browser origins allowed to call the token endpoint (public clients; docs/CONFORMANCE.md #66). */
  readonly allowedOrigins: readonly string[];
  readonly logoUri: string | null;
  readonly clientUri: string | null;
  readonly contacts: readonly string[];
  readonly softwareId: string | null;
  readonly softwareVersion: string | null;
  /**
   * May introspect tokens issued to other clients (a resource server's registration). Without it a
   * client introspects its own tokens only (RFC 7662 §4; docs/CONFORMANCE.md #134).
   */
  readonly introspectAnyToken: boolean;
  /**
   * Scopes asked for at registration that the client can never be granted, removed from `scope`
   * with the reason (RFC 7591 §3.2.1 lets the server replace requested metadata; the registration
   * response and the console say what was replaced and why).
   */
  readonly droppedScopes: readonly DroppedScope[];
  readonly hasSecret: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** A scope removed from a registration, and why. */
export interface DroppedScope {
  readonly scope: string;
  readonly reason: string;
}

/** What registerClient accepts (camelCase; /oauth/register maps RFC 7591 names onto it). */
export const clientInputSchema = z.object({
  /** Optional fixed client_id (e.g. a readable id for a workshop); random when omitted. */
  clientId: z
    .string()
    .regex(/^[A-Za-z0-9._~-]{3,100}$/, 'client_id may use letters, digits and . _ ~ - (3 to 100 characters)')
    .optional(),
  name: z.string().trim().min(1, 'a client name is required').max(200),
  clientType: z.enum(CLIENT_TYPES),
  /** Symmetric clients only: client_secret_basic (default, what Inferno uses) or client_secret_post. */
  tokenEndpointAuthMethod: z.enum(['client_secret_basic', 'client_secret_post']).optional(),
  redirectUris: z.array(z.string()).max(20, 'at most 20 redirect URIs').default([]),
  launchUris: z.array(z.string()).max(20, 'at most 20 launch URLs').default([]),
  scope: z.string().max(4000).optional(),
  grantTypes: z.array(z.enum(GRANT_TYPES)).optional(),
  jwks: registeredJwksSchema.nullable().optional(),
  jwksUri: z.string().nullable().optional(),
  pkceRequired: z.boolean().default(true),
  allowedOrigins: z.array(z.string()).max(20).optional(),
  logoUri: z.string().max(2000).nullable().optional(),
  clientUri: z.string().max(2000).nullable().optional(),
  contacts: z.array(z.string().max(320)).max(10).default([]),
  softwareId: z.string().max(200).nullable().optional(),
  softwareVersion: z.string().max(100).nullable().optional(),
  introspectAnyToken: z.boolean().default(false),
});
export type ClientInput = z.input<typeof clientInputSchema>;

interface ClientMetadataJson {
  allowedOrigins?: string[];
  logoUri?: string | null;
  clientUri?: string | null;
  contacts?: string[];
  softwareId?: string | null;
  softwareVersion?: string | null;
  introspectAnyToken?: boolean;
  droppedScopes?: DroppedScope[];
}

interface ValidClient {
  clientType: ClientType;
  name: string;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  redirectUris: string[];
  launchUris: string[];
  scope: string;
  grantTypes: GrantType[];
  jwks: PublicJwks | null;
  jwksUri: string | null;
  pkceRequired: boolean;
  metadata: Required<ClientMetadataJson>;
}

function parseJson<T>(text: string | null | undefined, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

function isGrantType(g: string): g is GrantType {
  return (GRANT_TYPES as readonly string[]).includes(g);
}

/** Validates a client registration; throws invalid_redirect_uri / invalid_client_metadata (RFC 7591 §3.2.2). */
export function validateClientInput(raw: ClientInput): ValidClient {
  const parsed = clientInputSchema.safeParse(raw);
  if (!parsed.success) throw new InvalidClientMetadata(describeZodError(parsed.error));
  const input = parsed.data;
  const type = input.clientType;
  const isBackend = type === 'backend';

  const tokenEndpointAuthMethod: TokenEndpointAuthMethod =
    type === 'public' ? 'none' : type === 'confidential-symmetric' ? (input.tokenEndpointAuthMethod ?? 'client_secret_basic') : 'private_key_jwt';
  if (input.tokenEndpointAuthMethod && type !== 'confidential-symmetric') {
    throw new InvalidClientMetadata(`token_endpoint_auth_method ${input.tokenEndpointAuthMethod} is for confidential-symmetric clients, not ${type}`);
  }

  const grantTypes = [...new Set(input.grantTypes ?? (isBackend ? ['client_credentials'] : ['authorization_code', 'refresh_token']))].filter(isGrantType);
  if (isBackend) {
    if (grantTypes.length !== 1 || grantTypes[0] !== 'client_credentials') {
      throw new InvalidClientMetadata(
        'a backend client uses only the client_credentials grant (SMART App Launch 2.2 §backend-services); register an app client for user launches',
      );
    }
  } else {
    if (!grantTypes.includes('authorization_code')) throw new InvalidClientMetadata(`a ${type} client needs the authorization_code grant`);
    if (grantTypes.includes('client_credentials')) {
      throw new InvalidClientMetadata('client_credentials is for backend clients: register a separate backend client (SMART App Launch 2.2 §backend-services)');
    }
  }

  // Redirect URIs: exact strings, at least one for user-facing apps (docs/CONFORMANCE.md #32).
  if (isBackend && input.redirectUris.length) throw new InvalidRedirectUri('a backend client has no redirect URIs (it never uses /oauth/authorize)');
  if (!isBackend && input.redirectUris.length === 0) throw new InvalidRedirectUri('register at least one redirect URI');
  for (const uri of input.redirectUris) {
    const problem = redirectUriProblem(uri);
    if (problem) throw new InvalidRedirectUri(`redirect URI '${uri}' ${problem}`);
  }
  if (isBackend && input.launchUris.length) throw new InvalidClientMetadata('a backend client has no launch URLs');
  for (const uri of input.launchUris) {
    const problem = webUrlProblem(uri);
    if (problem) throw new InvalidClientMetadata(`launch URL '${uri}' ${problem}`);
  }

  // Keys: private_key_jwt clients register a JWKS URL or a JWKS, not both (docs/CONFORMANCE.md #33, #138).
  const jwks = input.jwks ?? null;
  const jwksUri = input.jwksUri ?? null;
  if (tokenEndpointAuthMethod === 'private_key_jwt') {
    if (!jwks && !jwksUri)
      throw new InvalidClientMetadata('a private_key_jwt client must register jwks_uri or jwks (SMART App Launch 2.2 §client-confidential-asymmetric)');
    if (jwks && jwksUri) throw new InvalidClientMetadata('register either jwks_uri or jwks, not both (RFC 7591 §2)');
    if (jwksUri) {
      const problem = jwksUriProblem(jwksUri);
      if (problem) throw new InvalidClientMetadata(`jwks_uri '${jwksUri}' ${problem}`);
    }
  } else if (jwks || jwksUri) {
    throw new InvalidClientMetadata(`jwks and jwks_uri are only for private_key_jwt clients, not ${tokenEndpointAuthMethod}`);
  }

  if (type === 'public' && input.introspectAnyToken)
    throw new InvalidClientMetadata('a public client cannot introspect tokens: introspect_any_token is for confidential and backend clients (RFC 7662 §2.1)');
  if (type === 'public' && !input.pkceRequired)
    throw new InvalidClientMetadata('public clients must use PKCE (SMART App Launch 2.2 §app-launch; docs/CONFORMANCE.md #67)');

  // Scopes: every registered scope must parse; backend clients get system/ resource scopes only.
  const requestedScope = (input.scope ?? (isBackend ? DEFAULT_BACKEND_SCOPE : DEFAULT_APP_SCOPE)).trim();
  const { scopes: requestedScopes, errors } = parseScopeString(requestedScope);
  if (errors.length) throw new InvalidClientMetadata(`scope: ${errors.map((e) => e.reason).join('; ')}`);
  for (const s of requestedScopes) {
    if (isBackend && (s.kind !== 'resource' || s.context !== 'system')) {
      throw new InvalidClientMetadata(`scope: a backend client can only be pre-authorised for system/ scopes, not '${formatScope(s)}'`);
    }
    if (!isBackend && s.kind === 'resource' && s.context === 'system') {
      throw new InvalidClientMetadata(`scope: system/ scopes are for backend clients (SMART App Launch 2.2 §backend-services)`);
    }
  }

  // offline_access and online_access ask for a refresh token, which only the refresh_token grant
  // issues (SMART App Launch 2.2 §scopes-for-requesting-a-refresh-token): without that grant they
  // could never be granted, so they are removed and reported rather than kept as a silent no-op.
  const droppedScopes: DroppedScope[] = [];
  const scopes = requestedScopes.filter((s) => {
    if (s.kind !== 'access' || grantTypes.includes('refresh_token')) return true;
    droppedScopes.push({
      scope: formatScope(s),
      reason: `${formatScope(s)} yields a refresh token, which needs the refresh_token grant: add "refresh_token" to grant_types to keep it`,
    });
    return false;
  });
  const scope = requestedScope
    .split(/\s+/)
    .filter((s, i, all) => s && all.indexOf(s) === i && !droppedScopes.some((d) => d.scope === s))
    .join(' ');

  for (const uri of [input.logoUri, input.clientUri]) {
    if (uri && webUrlProblem(uri)) throw new InvalidClientMetadata(`'${uri}' ${webUrlProblem(uri)}`);
  }
  const allowedOrigins = input.allowedOrigins ?? [
    ...new Set([...input.redirectUris, ...input.launchUris].map(webOrigin).filter((o): o is string => o !== null)),
  ];
  for (const origin of allowedOrigins) {
    if (webOrigin(origin) !== origin) throw new InvalidClientMetadata(`allowed origin '${origin}' is not an origin (scheme://host[:port])`);
  }

  return {
    clientType: type,
    name: input.name,
    tokenEndpointAuthMethod,
    redirectUris: [...new Set(input.redirectUris)],
    launchUris: [...new Set(input.launchUris)],
    scope: scopes.length ? scope : '',
    grantTypes,
    jwks,
    jwksUri,
    pkceRequired: input.pkceRequired,
    metadata: {
      allowedOrigins,
      logoUri: input.logoUri ?? null,
      clientUri: input.clientUri ?? null,
      contacts: input.contacts,
      softwareId: input.softwareId ?? null,
      softwareVersion: input.softwareVersion ?? null,
      introspectAnyToken: input.introspectAnyToken,
      droppedScopes,
    },
  };
}

function toClient(row: ClientRow): OAuthClient {
  const meta = parseJson<ClientMetadataJson>(row.metadata, {});
  return {
    sandboxId: row.sandboxId,
    clientId: row.clientId,
    name: row.name,
    clientType: (CLIENT_TYPES as readonly string[]).includes(row.clientType) ? (row.clientType as ClientType) : 'public',
    tokenEndpointAuthMethod: (AUTH_METHODS as readonly string[]).includes(row.tokenEndpointAuthMethod)
      ? (row.tokenEndpointAuthMethod as TokenEndpointAuthMethod)
      : 'none',
    redirectUris: parseJson<string[]>(row.redirectUris, []),
    launchUris: parseJson<string[]>(row.launchUris, []),
    scope: row.scope,
    grantTypes: parseJson<string[]>(row.grantTypes, []).filter(isGrantType),
    jwks: row.jwks ? parseJson<PublicJwks | null>(row.jwks, null) : null,
    jwksUri: row.jwksUri,
    pkceRequired: row.pkceRequired,
    allowedOrigins: meta.allowedOrigins ?? [],
    logoUri: meta.logoUri ?? null,
    clientUri: meta.clientUri ?? null,
    contacts: meta.contacts ?? [],
    softwareId: meta.softwareId ?? null,
    softwareVersion: meta.softwareVersion ?? null,
    introspectAnyToken: meta.introspectAnyToken === true,
    droppedScopes: Array.isArray(meta.droppedScopes) ? meta.droppedScopes : [],
    hasSecret: row.secretHash !== null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function toRowData(valid: ValidClient) {
  return {
    name: valid.name,
    clientType: valid.clientType,
    tokenEndpointAuthMethod: valid.tokenEndpointAuthMethod,
    redirectUris: JSON.stringify(valid.redirectUris),
    launchUris: JSON.stringify(valid.launchUris),
    scope: valid.scope,
    grantTypes: JSON.stringify(valid.grantTypes),
    jwks: valid.jwks ? JSON.stringify(valid.jwks) : null,
    jwksUri: valid.jwksUri,
    pkceRequired: valid.pkceRequired,
    metadata: JSON.stringify(valid.metadata),
  };
}

function needsSecret(method: TokenEndpointAuthMethod): boolean {
  return method === 'client_secret_basic' || method === 'client_secret_post';
}

/** A new client secret: 256 random bits, returned once and stored as its SHA-256 (a copy of the database yields no usable secret). */
function newSecret(): { secret: string; hash: string } {
  const secret = randomToken(32);
  return { secret, hash: sha256(secret) };
}

export interface RegisteredClient {
  client: OAuthClient;
  /** The client secret, shown exactly once (null for clients without one). */
  clientSecret: string | null;
}

/** Registers a client; the secret (symmetric clients) is returned once and only its hash is stored. */
export async function registerClient(input: ClientInput, options: { sandboxId?: string } = {}): Promise<RegisteredClient> {
  const valid = validateClientInput(input);
  const clientId = input.clientId ?? `app-${randomToken(16)}`;
  const secret = needsSecret(valid.tokenEndpointAuthMethod) ? newSecret() : null;
  try {
    const row = await getDb().client.create({
      data: { ...toRowData(valid), clientId, sandboxId: options.sandboxId ?? currentSandbox().id, secretHash: secret?.hash ?? null },
    });
    return { client: toClient(row), clientSecret: secret?.secret ?? null };
  } catch (err) {
    if (isUniqueViolation(err)) throw new InvalidClientMetadata(`client_id '${clientId}' is already registered`);
    throw err;
  }
}

/** Changes a client's registration (its type stays); returns the updated client or null when unknown. */
export async function updateClient(
  clientId: string,
  patch: Partial<Omit<ClientInput, 'clientType' | 'clientId'>>,
  options: { sandboxId?: string } = {},
): Promise<OAuthClient | null> {
  const current = await getClient(clientId, options);
  if (!current) return null;
  const merged: ClientInput = {
    name: current.name,
    clientType: current.clientType,
    tokenEndpointAuthMethod:
      current.clientType === 'confidential-symmetric' ? (current.tokenEndpointAuthMethod as 'client_secret_basic' | 'client_secret_post') : undefined,
    redirectUris: [...current.redirectUris],
    launchUris: [...current.launchUris],
    scope: current.scope,
    grantTypes: [...current.grantTypes],
    jwks: current.jwks,
    jwksUri: current.jwksUri,
    pkceRequired: current.pkceRequired,
    allowedOrigins: [...current.allowedOrigins],
    logoUri: current.logoUri,
    clientUri: current.clientUri,
    contacts: [...current.contacts],
    softwareId: current.softwareId,
    softwareVersion: current.softwareVersion,
    introspectAnyToken: current.introspectAnyToken,
    ...patch,
  };
  // Origins follow the redirect URIs unless they were set explicitly in this patch.
  if (!patch.allowedOrigins && (patch.redirectUris || patch.launchUris)) merged.allowedOrigins = undefined;
  const valid = validateClientInput(merged);
  // A scope dropped earlier stays reported while it is still missing and still could not be granted.
  for (const d of current.droppedScopes) {
    const stillMissing = !valid.scope.split(' ').includes(d.scope) && !valid.grantTypes.includes('refresh_token');
    if (stillMissing && !valid.metadata.droppedScopes.some((x) => x.scope === d.scope)) valid.metadata.droppedScopes.push(d);
  }
  const row = await getDb().client.update({ where: { clientId }, data: toRowData(valid) });
  return toClient(row);
}

/** Deletes a client and revokes every grant and token issued to it. */
export async function deleteClient(clientId: string, options: { sandboxId?: string } = {}): Promise<boolean> {
  const db = getDb();
  const sandboxId = options.sandboxId ?? currentSandbox().id;
  const found = await db.client.findFirst({ where: { clientId, sandboxId }, select: { clientId: true } });
  if (!found) return false;
  await db.$transaction([
    db.token.updateMany({ where: { clientId, revoked: false }, data: { revoked: true } }),
    db.grant.updateMany({ where: { clientId, revoked: false }, data: { revoked: true } }),
    db.client.delete({ where: { clientId } }),
  ]);
  return true;
}

/** Issues a new secret for a symmetric client (the old one stops working at once); null when not applicable. */
export async function rotateClientSecret(clientId: string, options: { sandboxId?: string } = {}): Promise<{ clientSecret: string } | null> {
  const client = await getClient(clientId, options);
  if (!client || !needsSecret(client.tokenEndpointAuthMethod)) return null;
  const secret = newSecret();
  await getDb().client.update({ where: { clientId }, data: { secretHash: secret.hash } });
  return { clientSecret: secret.secret };
}

/** Every client of a sandbox, newest first. */
export async function listClients(options: { sandboxId?: string } = {}): Promise<OAuthClient[]> {
  const rows = await getDb().client.findMany({ where: { sandboxId: options.sandboxId ?? currentSandbox().id }, orderBy: { createdAt: 'desc' } });
  return rows.map(toClient);
}

const CLIENT_COLUMNS = Prisma.raw(
  [
    'sandboxId',
    'clientId',
    'name',
    'clientType',
    'tokenEndpointAuthMethod',
    'secretHash',
    'redirectUris',
    'launchUris',
    'scope',
    'grantTypes',
    'jwks',
    'jwksUri',
    'pkceRequired',
    'metadata',
    'createdAt',
    'updatedAt',
  ]
    .map((c) => `"${c}"`)
    .join(', '),
);

// The token, introspection and revocation endpoints read a client on every request: one raw,
// indexed read of the row (Prisma's query compilation costs more than the lookup itself).
/** A client's row in sandbox `sandboxId` (a client of another sandbox is not found). */
async function findClientRow(clientId: string, sandboxId: string): Promise<ClientRow | null> {
  if (!clientId || clientId.length > 200) return null;
  const rows = await rawQuery(getDb(), Prisma.sql`SELECT ${CLIENT_COLUMNS} FROM "Client" WHERE "clientId" = ${clientId} AND "sandboxId" = ${sandboxId}`);
  const r = rows[0];
  if (!r) return null;
  return {
    sandboxId: String(r.sandboxId),
    clientId: String(r.clientId),
    name: String(r.name),
    clientType: String(r.clientType),
    tokenEndpointAuthMethod: String(r.tokenEndpointAuthMethod),
    secretHash: r.secretHash === null || r.secretHash === undefined ? null : String(r.secretHash),
    redirectUris: String(r.redirectUris),
    launchUris: String(r.launchUris),
    scope: String(r.scope),
    grantTypes: String(r.grantTypes),
    jwks: r.jwks === null || r.jwks === undefined ? null : String(r.jwks),
    jwksUri: r.jwksUri === null || r.jwksUri === undefined ? null : String(r.jwksUri),
    pkceRequired: r.pkceRequired === true || r.pkceRequired === 1 || r.pkceRequired === 1n,
    metadata: String(r.metadata),
    createdAt: r.createdAt instanceof Date ? r.createdAt : new Date(String(r.createdAt)),
    updatedAt: r.updatedAt instanceof Date ? r.updatedAt : new Date(String(r.updatedAt)),
  };
}

/** One client of a sandbox, or null. */
export async function getClient(clientId: string, options: { sandboxId?: string } = {}): Promise<OAuthClient | null> {
  const row = await findClientRow(clientId, options.sandboxId ?? currentSandbox().id);
  if (!row) return null;
  return toClient(row);
}

/**
 * A client of a sandbox with its stored secret hash, for client authentication (one read; the
 * hash never leaves the authentication code). Always read from the database: a deleted client or
 * a rotated secret stops working at once on every instance.
 */
export async function findClientForAuthentication(clientId: string, sandboxId: string): Promise<{ client: OAuthClient; secretHash: string | null } | null> {
  const row = await findClientRow(clientId, sandboxId);
  if (!row) return null;
  return { client: toClient(row), secretHash: row.secretHash };
}

/** Checks a presented secret against a stored hash in constant time (false when there is no hash). */
export function clientSecretMatches(secretHash: string | null, secret: string): boolean {
  // Compare against a dummy when there is no hash, so clients without a secret take the same time.
  const expected = secretHash ?? sha256(`no-secret:${randomToken(8)}`);
  return constantTimeEqual(sha256(secret), expected) && secretHash !== null;
}

/** The parsed scopes a client may be granted. */
export function clientAllowedScopes(client: OAuthClient): ParsedScope[] {
  return parseScopeString(client.scope).scopes;
}
