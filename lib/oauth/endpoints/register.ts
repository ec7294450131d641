/**
 * POST /oauth/register: RFC 7591 dynamic client registration, open in the sandbox so scripts and
 * workshops can create clients with one curl (docs/CONFORMANCE.md #36). Metadata is validated with zod and
 * the client rules of clients.ts; the secret is returned once (RFC 7591 §3.2.1).
 *
 * Client type from the metadata: token_endpoint_auth_method none → public; client_secret_basic
 * (the RFC 7591 default) or client_secret_post → confidential-symmetric; private_key_jwt with
 * grant_types [client_credentials] → backend, otherwise confidential-asymmetric.
 * Sandbox extensions: launch_uris (EHR launch URLs), pkce_required (SMART v1 clients only) and
 * introspect_any_token (a resource server that may introspect other clients' tokens); in the
 * response, smart_client_type and dropped_scopes (requested scopes the client could never be granted).
 */
import { z } from 'zod';
import type { ClientType, OAuthClient } from '../clients';
import { GRANT_TYPES, registerClient } from '../clients';
import { describeZodError, registeredJwksSchema } from '../client-metadata';
import { nowSeconds } from '../crypto';
import { oauthEndpoint } from '../endpoint';
import { InvalidClientMetadata, InvalidRequest } from '../errors';
import { jsonNoStore, mediaType, readBodyText } from '../http';
import { assertRegistrationRateLimit } from '../rate-limit';

const registrationSchema = z.looseObject({
  redirect_uris: z.array(z.string()).optional(),
  token_endpoint_auth_method: z.enum(['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt']).optional(),
  grant_types: z.array(z.enum(GRANT_TYPES, { message: `grant_types may contain ${GRANT_TYPES.join(', ')}` })).optional(),
  response_types: z.array(z.string()).optional(),
  client_name: z.string().max(200).optional(),
  client_uri: z.string().optional(),
  logo_uri: z.string().optional(),
  scope: z.string().optional(),
  contacts: z.array(z.string()).optional(),
  jwks_uri: z.string().optional(),
  jwks: registeredJwksSchema.optional(),
  software_id: z.string().optional(),
  software_version: z.string().optional(),
  launch_uris: z.array(z.string()).optional(),
  pkce_required: z.boolean().optional(),
  introspect_any_token: z.boolean().optional(),
});

/** The registration response: the client's metadata as registered (RFC 7591 §3.2.1). */
export function toRegistrationResponse(client: OAuthClient, clientSecret: string | null): Record<string, unknown> {
  return {
    client_id: client.clientId,
    ...(clientSecret ? { client_secret: clientSecret, client_secret_expires_at: 0 } : {}),
    client_id_issued_at: Math.floor(client.createdAt.getTime() / 1000) || nowSeconds(),
    client_name: client.name,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    grant_types: client.grantTypes,
    response_types: client.grantTypes.includes('authorization_code') ? ['code'] : [],
    redirect_uris: client.redirectUris,
    scope: client.scope,
    ...(client.jwksUri ? { jwks_uri: client.jwksUri } : {}),
    ...(client.jwks ? { jwks: client.jwks } : {}),
    ...(client.logoUri ? { logo_uri: client.logoUri } : {}),
    ...(client.clientUri ? { client_uri: client.clientUri } : {}),
    ...(client.contacts.length ? { contacts: client.contacts } : {}),
    ...(client.softwareId ? { software_id: client.softwareId } : {}),
    ...(client.softwareVersion ? { software_version: client.softwareVersion } : {}),
    launch_uris: client.launchUris,
    pkce_required: client.pkceRequired,
    introspect_any_token: client.introspectAnyToken,
    // Sandbox extension: which SMART client profile this registration became.
    smart_client_type: client.clientType,
    // Sandbox extension: requested scopes removed from `scope`, each with the reason (RFC 7591 §3.2.1
    // lets the server replace requested metadata; this says what was replaced).
    ...(client.droppedScopes.length ? { dropped_scopes: client.droppedScopes.map((d) => ({ scope: d.scope, reason: d.reason })) } : {}),
  };
}

/** POST /oauth/register */
export const handleRegister = oauthEndpoint({ endpoint: '/oauth/register', style: 'json' }, async (call) => {
  await assertRegistrationRateLimit(call.req);
  if (mediaType(call.req) !== 'application/json') throw new InvalidRequest('send the client metadata as JSON (Content-Type: application/json; RFC 7591 §3.1)');
  let json: unknown;
  try {
    json = JSON.parse(await readBodyText(call.req));
  } catch (err) {
    if (err instanceof InvalidRequest) throw err;
    throw new InvalidClientMetadata('the request body is not valid JSON');
  }
  const parsed = registrationSchema.safeParse(json);
  if (!parsed.success) throw new InvalidClientMetadata(describeZodError(parsed.error));
  const meta = parsed.data;

  // RFC 7591 §2: the default method is client_secret_basic, the default grant authorization_code.
  const method = meta.token_endpoint_auth_method ?? 'client_secret_basic';
  const grantTypes = meta.grant_types ?? ['authorization_code'];
  if (
    meta.response_types &&
    (meta.response_types.length !== (grantTypes.includes('authorization_code') ? 1 : 0) || meta.response_types.some((r) => r !== 'code'))
  ) {
    throw new InvalidClientMetadata(
      `response_types must be ["code"] for the authorization_code grant (the implicit flow is not supported), not ${JSON.stringify(meta.response_types)}`,
    );
  }
  const clientType: ClientType =
    method === 'none'
      ? 'public'
      : method === 'private_key_jwt'
        ? grantTypes.includes('client_credentials')
          ? 'backend'
          : 'confidential-asymmetric'
        : 'confidential-symmetric';

  const { client, clientSecret } = await registerClient(
    {
      name: meta.client_name ?? `Dynamically registered ${clientType} client`,
      clientType,
      tokenEndpointAuthMethod: method === 'client_secret_basic' || method === 'client_secret_post' ? method : undefined,
      redirectUris: meta.redirect_uris ?? [],
      launchUris: meta.launch_uris ?? [],
      scope: meta.scope,
      grantTypes,
      jwks: meta.jwks ?? null,
      jwksUri: meta.jwks_uri ?? null,
      pkceRequired: meta.pkce_required ?? true,
      logoUri: meta.logo_uri ?? null,
      clientUri: meta.client_uri ?? null,
      contacts: meta.contacts ?? [],
      softwareId: meta.software_id ?? null,
      softwareVersion: meta.software_version ?? null,
      introspectAnyToken: meta.introspect_any_token ?? false,
    },
    { sandboxId: call.sandboxId },
  );
  call.audit.clientId = client.clientId;
  call.audit.scopes = client.scope;
  call.audit.detail = `registered ${client.clientType} client`;
  return jsonNoStore(toRegistrationResponse(client, clientSecret), 201);
});
