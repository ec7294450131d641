/**
 * POST /oauth/revoke (RFC 7009; docs/CONFORMANCE.md #135). The client authenticates as at the token endpoint
 * (public clients send client_id). Revoking a refresh token revokes its whole grant (RFC 7009 §2.1:
 * SHOULD also invalidate the access tokens); an access token is revoked alone. Unknown or already
 * invalid tokens answer 200 (RFC 7009 §2.2); a token of another client is invalid_grant.
 */
import { decodeJwt } from 'jose';
import { currentSandbox } from '../../sandbox/context';
import { getDb } from '../../db';
import { verifyAccessTokenCore } from '../access-token';
import { authenticateClient } from '../client-auth';
import { allowPublicClientOrigin, handleCorsPreflight } from '../cors';
import { sha256 } from '../crypto';
import { oauthEndpoint } from '../endpoint';
import { InvalidGrant, InvalidRequest } from '../errors';
import { revokeGrant } from '../grant-store';
import { jsonNoStore, readForm } from '../http';
import { assertClientRateLimit } from '../rate-limit';

async function findTokenRow(sandboxId: string, token: string) {
  const db = getDb();
  if (token.split('.').length === 3) {
    // Our signature, not expiry: an expired token can still be revoked (a no-op that answers 200).
    const verified = await verifyAccessTokenCore(token, { sandboxId });
    let jti: unknown = verified.ok ? verified.payload.jti : undefined;
    if (!verified.ok && /expired/.test(verified.description)) {
      try {
        jti = decodeJwt(token).jti;
      } catch {
        jti = undefined;
      }
    }
    if (typeof jti === 'string') return db.token.findUnique({ where: { id: jti } });
    return null;
  }
  if (token.length > 200) return null;
  return db.token.findUnique({ where: { tokenHash: sha256(token) } });
}

/** POST /oauth/revoke */
export const handleRevoke = oauthEndpoint({ endpoint: '/oauth/revoke', style: 'json' }, async (call) => {
  const form = await readForm(call.req);
  await allowPublicClientOrigin(call, form.all('client_id')[0] ?? null);
  const { client } = await authenticateClient(call, form);
  call.audit.clientId = client.clientId;
  await assertClientRateLimit(call, client.clientId);
  const token = form.get('token');
  if (token === null) throw new InvalidRequest('token is required (RFC 7009 §2.1)');

  const row = await findTokenRow(call.sandboxId, token);
  if (!row || row.sandboxId !== call.sandboxId) {
    call.audit.detail = 'unknown token (nothing to revoke)';
    return jsonNoStore({});
  }
  if (row.clientId !== client.clientId) throw new InvalidGrant('the token was issued to another client (RFC 7009 §2.1)');
  call.audit.userId = row.userId;
  call.audit.patientId = row.patientId;
  if (row.kind === 'refresh' && row.grantId) {
    await revokeGrant(row.grantId);
    call.audit.detail = 'refresh token revoked with its grant';
  } else {
    await getDb().token.updateMany({ where: { id: row.id }, data: { revoked: true } });
    call.audit.detail = `${row.kind} token revoked`;
  }
  return jsonNoStore({});
});

/** OPTIONS /oauth/revoke (CORS preflight for public clients). */
export function handleRevokePreflight(req: Request): Promise<Response> {
  return handleCorsPreflight(req, currentSandbox().id);
}
