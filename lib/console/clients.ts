/**
 * Console forms for OAuth clients, over lib/oauth/clients.ts: form fields → ClientInput (one URI
 * per line, JWKS pasted as JSON), typed results instead of thrown OAuth errors, and "clone" for
 * workshops (a copy with a fresh client_id and, for symmetric clients, a fresh secret).
 */
import type { ClientInput, ClientType, OAuthClient } from '../oauth/clients';
import { CLIENT_TYPES, getClient, registerClient, rotateClientSecret, updateClient } from '../oauth/clients';
import { OAuthError } from '../oauth/errors';

export type FormFields = Record<string, string | undefined>;

export type ClientFormResult = { ok: true; client: OAuthClient; clientSecret: string | null; message: string } | { ok: false; error: string };

function lines(text: string | undefined): string[] {
  return (text ?? '')
    .split(/[\r\n]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Form fields → the input of registerClient/updateClient; a string error when the form itself is malformed. */
export function clientInputFromForm(fields: FormFields): ClientInput | { error: string } {
  const clientType = fields.clientType ?? 'public';
  if (!(CLIENT_TYPES as readonly string[]).includes(clientType)) return { error: `unknown client type '${clientType}'` };
  let jwks: ClientInput['jwks'] = null;
  const jwksText = fields.jwks?.trim();
  if (jwksText) {
    try {
      jwks = JSON.parse(jwksText) as ClientInput['jwks'];
    } catch {
      return { error: 'the JWKS is not valid JSON (paste {"keys":[…]})' };
    }
  }
  const method = fields.tokenEndpointAuthMethod;
  const input: ClientInput = {
    name: fields.name ?? '',
    clientType: clientType as ClientType,
    redirectUris: lines(fields.redirectUris),
    launchUris: lines(fields.launchUris),
    pkceRequired: fields.pkceRequired === 'on' || fields.pkceRequired === 'true',
    introspectAnyToken: fields.introspectAnyToken === 'on' || fields.introspectAnyToken === 'true',
    jwks,
    jwksUri: fields.jwksUri?.trim() ? fields.jwksUri.trim() : null,
  };
  if (fields.clientId?.trim()) input.clientId = fields.clientId.trim();
  if (fields.scope?.trim()) input.scope = fields.scope.trim().replace(/\s+/g, ' ');
  if (clientType === 'confidential-symmetric' && (method === 'client_secret_basic' || method === 'client_secret_post')) input.tokenEndpointAuthMethod = method;
  return input;
}

function describe(err: unknown): string {
  if (err instanceof OAuthError) return `${err.code}: ${err.message}`;
  if (err instanceof Error && err.name === 'ZodError') return err.message;
  throw err;
}

/** Registers a client from the form; the secret is in the result, once. */
export async function registerClientFromForm(fields: FormFields): Promise<ClientFormResult> {
  const input = clientInputFromForm(fields);
  if ('error' in input) return { ok: false, error: input.error };
  try {
    const { client, clientSecret } = await registerClient(input);
    return { ok: true, client, clientSecret, message: `Registered ${client.clientId}.` };
  } catch (err) {
    return { ok: false, error: describe(err) };
  }
}

/** Applies the edit form to a client (its type and id stay). */
export async function updateClientFromForm(clientId: string, fields: FormFields): Promise<ClientFormResult> {
  const input = clientInputFromForm(fields);
  if ('error' in input) return { ok: false, error: input.error };
  const { clientType: _type, clientId: _id, ...patch } = input;
  try {
    const client = await updateClient(clientId, patch);
    return client ? { ok: true, client, clientSecret: null, message: 'Saved.' } : { ok: false, error: `client ${clientId} is not registered` };
  } catch (err) {
    return { ok: false, error: describe(err) };
  }
}

/** Issues a new secret for a symmetric client (shown once); the old one stops working at once. */
export async function rotateClientSecretFromForm(clientId: string): Promise<ClientFormResult> {
  const rotated = await rotateClientSecret(clientId);
  if (!rotated) return { ok: false, error: 'this client has no secret to rotate' };
  const client = await getClient(clientId);
  return client
    ? { ok: true, client, clientSecret: rotated.clientSecret, message: 'New secret issued; the old one stopped working.' }
    : { ok: false, error: 'client not found' };
}

/** Registers a copy of a client under a new id (name suffixed "copy"); a new secret when it has one. */
export async function cloneClient(clientId: string, newClientId?: string): Promise<ClientFormResult> {
  const c = await getClient(clientId);
  if (!c) return { ok: false, error: `client ${clientId} is not registered` };
  const input: ClientInput = {
    name: `${c.name} (copy)`,
    clientType: c.clientType,
    redirectUris: [...c.redirectUris],
    launchUris: [...c.launchUris],
    scope: c.scope,
    grantTypes: [...c.grantTypes],
    jwks: c.jwks,
    jwksUri: c.jwksUri,
    pkceRequired: c.pkceRequired,
    introspectAnyToken: c.introspectAnyToken,
    allowedOrigins: [...c.allowedOrigins],
    contacts: [...c.contacts],
    ...(c.clientType === 'confidential-symmetric'
      ? { tokenEndpointAuthMethod: c.tokenEndpointAuthMethod as 'client_secret_basic' | 'client_secret_post' }
      : {}),
    ...(newClientId ? { clientId: newClientId } : {}),
  };
  try {
    const { client, clientSecret } = await registerClient(input);
    return { ok: true, client, clientSecret, message: `Cloned ${clientId} as ${client.clientId}.` };
  } catch (err) {
    return { ok: false, error: describe(err) };
  }
}
