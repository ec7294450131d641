/**
 * POST /oauth/introspect (RFC 7662; SMART App Launch 2.2 §token-introspection; docs/CONFORMANCE.md §11).
 *
 * Who may call (RFC 7662 §2.1 leaves it to us; SMART req 281–283): a confidential or backend client
 * authenticating as at the token endpoint (HTTP Basic, client_secret_post or private_key_jwt), or a
 * bearer of an active access token issued to a confidential or backend client. Public clients hold
 * no credential, so their callers cannot introspect. A caller learns about its own tokens only;
 * another client's token answers {"active": false} unless the caller was registered with
 * introspect_any_token (a resource server; RFC 7662 §4 lets the server decide what each caller may
 * learn, and a token's scope and patient are not every client's business). OAUTH_INTROSPECTION_OPEN=true
 * drops both requirements (docs/CONFORMANCE.md #134, for Inferno runs without a custom header).
 * Unauthorised → 401.
 */
import { env } from '../../env';
import { getDb } from '../../db';
import { verifyAccessToken, verifyAccessTokenCore } from '../access-token';
import { authenticateClient } from '../client-auth';
import type { OAuthClient } from '../clients';
import { getClient } from '../clients';
import { sha256 } from '../crypto';
import type { OAuthCall } from '../endpoint';
import { oauthEndpoint } from '../endpoint';
import { InvalidClient, InvalidRequest, InvalidToken } from '../errors';
import { findGrant } from '../grant-store';
import type { OAuthParams } from '../http';
import { bearerToken, jsonNoStore, readForm } from '../http';
import { absoluteFhirUser, contextResponseFields } from '../tokens';
import { assertClientRateLimit } from '../rate-limit';
import { sandboxNowMs } from '../../sandbox/context';

const INACTIVE = { active: false } as const;

/** Checks who is calling; returns the calling client (null for an anonymous caller when introspection is open). */
async function authorizeCaller(call: OAuthCall, form: OAuthParams): Promise<OAuthClient | null> {
  const bearer = bearerToken(call.req);
  if (bearer !== null) {
    const result = await verifyAccessToken(bearer, { sandboxId: call.sandboxId, fhirBase: call.fhirBase });
    if (!result.ok) throw new InvalidToken(`the bearer token is not valid: ${result.description}`);
    const caller = await getClient(result.token.clientId, { sandboxId: call.sandboxId });
    if (!caller || caller.clientType === 'public') throw new InvalidToken('introspection needs a token issued to a confidential or backend client');
    call.audit.detail = `caller ${caller.clientId} (bearer)`;
    return caller;
  }
  const hasCredentials =
    call.req.headers.has('authorization') || form.has('client_secret') || form.has('client_assertion') || form.has('client_assertion_type');
  if (!hasCredentials) {
    if (env.OAUTH_INTROSPECTION_OPEN) return null;
    throw new InvalidClient(
      'introspection requires authentication: a confidential client (HTTP Basic or private_key_jwt) or an access token of one as Bearer (RFC 7662 §2.1)',
      {
        status: 401,
        challenge: 'Basic realm="smart-sandbox", Bearer realm="smart-sandbox"',
      },
    );
  }
  const { client } = await authenticateClient(call, form);
  if (client.clientType === 'public') throw new InvalidClient('public clients cannot introspect tokens', { status: 401 });
  call.audit.detail = `caller ${client.clientId}`;
  return client;
}

async function introspectAccessToken(call: OAuthCall, token: string): Promise<Record<string, unknown> | null> {
  const result = await verifyAccessTokenCore(token, { sandboxId: call.sandboxId, withGrant: true });
  if (!result.ok) return null;
  const { payload, row, grant } = result;
  if (grant?.revoked) return null;
  call.audit.clientId = row.clientId;
  call.audit.userId = row.userId;
  call.audit.patientId = row.patientId;
  const fhirUser = typeof payload.fhirUser === 'string' ? absoluteFhirUser(payload.fhirUser, call.fhirBase) : null;
  return {
    active: true,
    scope: row.scope,
    client_id: row.clientId,
    token_type: 'Bearer',
    exp: Math.floor(row.expiresAt.getTime() / 1000),
    iat: Math.floor(row.issuedAt.getTime() / 1000),
    // sub and iss equal the id_token's (docs/CONFORMANCE.md #132).
    sub: payload.sub,
    iss: payload.iss,
    aud: payload.aud,
    jti: row.id,
    ...(fhirUser ? { fhirUser } : {}),
    ...(grant ? contextResponseFields(grant.context) : {}),
  };
}

async function introspectRefreshToken(call: OAuthCall, token: string): Promise<Record<string, unknown> | null> {
  if (token.length > 200) return null;
  const row = await getDb().token.findUnique({ where: { tokenHash: sha256(token) } });
  if (!row || row.kind !== 'refresh' || row.sandboxId !== call.sandboxId || row.revoked || row.rotated || row.expiresAt.getTime() <= sandboxNowMs())
    return null;
  const grant = row.grantId ? await findGrant(row.grantId) : null;
  if (!grant || grant.revoked) return null;
  call.audit.clientId = row.clientId;
  call.audit.userId = row.userId;
  call.audit.patientId = row.patientId;
  const fhirUser = absoluteFhirUser(grant.context.fhirUser, call.fhirBase);
  return {
    active: true,
    scope: row.scope,
    client_id: row.clientId,
    exp: Math.floor(row.expiresAt.getTime() / 1000),
    iat: Math.floor(row.issuedAt.getTime() / 1000),
    sub: row.userId ?? row.clientId,
    iss: call.issuer,
    ...(fhirUser ? { fhirUser } : {}),
    ...contextResponseFields(grant.context),
  };
}

/** Whether the caller may see an active token's details: its own token, or any with introspect_any_token (or open introspection). */
function mayLearnAbout(caller: OAuthClient | null, found: Record<string, unknown>): boolean {
  if (env.OAUTH_INTROSPECTION_OPEN) return true;
  return caller !== null && (caller.introspectAnyToken || found.client_id === caller.clientId);
}

/** POST /oauth/introspect */
export const handleIntrospect = oauthEndpoint({ endpoint: '/oauth/introspect', style: 'json' }, async (call) => {
  const form = await readForm(call.req);
  const caller = await authorizeCaller(call, form);
  if (caller !== null) await assertClientRateLimit(call, caller.clientId);
  const token = form.get('token');
  if (token === null) throw new InvalidRequest('token is required (RFC 7662 §2.1)');
  // token_type_hint only decides the lookup order (RFC 7662 §2.1).
  const order =
    form.get('token_type_hint') === 'refresh_token' ? [introspectRefreshToken, introspectAccessToken] : [introspectAccessToken, introspectRefreshToken];
  for (const lookup of order) {
    const found = await lookup(call, token);
    if (!found) continue;
    if (!mayLearnAbout(caller, found)) {
      const note = 'token of another client: answered inactive (the caller is not registered with introspect_any_token)';
      call.audit.detail = call.audit.detail ? `${call.audit.detail}; ${note}` : note;
      return jsonNoStore(INACTIVE);
    }
    return jsonNoStore(found);
  }
  // Anything else is exactly {"active": false} (RFC 7662 §2.2; docs/CONFORMANCE.md #133).
  return jsonNoStore(INACTIVE);
});
