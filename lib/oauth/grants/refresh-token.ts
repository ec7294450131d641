/**
 * grant_type=refresh_token (RFC 6749 §6; SMART App Launch 2.2 §app-launch "refresh access token";
 * RFC 9700 §4.14; docs/CONFORMANCE.md #84–#90, #177). Refresh token rotation and refresh token reuse
 * detection: tokens rotate on every use; a rotated token used again revokes the whole grant and
 * flags 'refresh-replay'. `scope` may narrow, never widen.
 */
import { formatScopes, narrowScopes, parseScopeString } from '../../smart/scopes';
import { Prisma } from '../../generated/sqlite/client';
import type { OAuthClient } from '../clients';
import { accessTokenTtl } from '../config';
import type { OAuthCall } from '../endpoint';
import { InvalidGrant, InvalidRequest, InvalidScope } from '../errors';
import { revokeGrant } from '../grant-store';
import type { OAuthParams } from '../http';
import type { TokenResponseBody } from '../tokens';
import { IssuanceClaimLost, issueTokens } from '../tokens';
import { audMismatch, refreshKind, refreshTtl } from './authorization-code';
import { nowSeconds } from '../crypto';
import { findPresentedToken } from './presented';
import { sandboxNowMs } from '../../sandbox/context';

export async function refreshTokenGrant(call: OAuthCall, client: OAuthClient, form: OAuthParams): Promise<TokenResponseBody> {
  const presented = form.get('refresh_token');
  if (presented === null) throw new InvalidRequest('refresh_token is required');
  // The token and its grant in one read, shared with the token endpoint's launch lookup.
  const found = await findPresentedToken(call, presented);
  if (!found) throw new InvalidGrant('the refresh token is not valid (unknown or mistyped)');
  const row = found.row;
  if (row.kind !== 'refresh' || row.sandboxId !== call.sandboxId) throw new InvalidGrant('the refresh token is not valid (unknown or mistyped)');
  call.audit.userId = row.userId;
  call.audit.patientId = row.patientId;
  // Bound to the client it was issued to (SMART App Launch 2.2 §app-launch; docs/CONFORMANCE.md #84).
  if (row.clientId !== client.clientId) throw new InvalidGrant('the refresh token was issued to another client');
  const grant = row.grantId ? found.grant : null;
  if (!grant) throw new InvalidGrant('the refresh token is not valid');
  call.audit.launchId = grant.launchId;
  call.audit.facts = { ...call.audit.facts, grantId: grant.id };
  if (row.rotated) {
    // Reuse of a rotated token: either the client or an attacker holds a stolen copy (RFC 9700 §4.14.2).
    await revokeGrant(grant.id);
    throw new InvalidGrant('the refresh token was already used and replaced by a newer one; the grant has been revoked (RFC 9700 §4.14.2)', {
      flags: ['refresh-replay'],
    });
  }
  if (row.revoked || grant.revoked) throw new InvalidGrant('the refresh token has been revoked');
  if (row.expiresAt.getTime() <= sandboxNowMs()) throw new InvalidGrant('the refresh token has expired: authorize again');
  const elsewhere = audMismatch(grant.context, call.fhirBase);
  if (elsewhere) throw new InvalidGrant(`the refresh token cannot be used here: ${elsewhere}`);
  const kind = refreshKind(row.scope) ?? 'offline';
  // online_access lasts as long as the user's sign-in session (docs/CONFORMANCE.md #83); sign-out revokes the grant outright (endSession).
  if (kind === 'online' && grant.context.sessionExpiresAt !== undefined && grant.context.sessionExpiresAt <= nowSeconds()) {
    throw new InvalidGrant("the refresh token was issued with online_access and the user's sign-in session has ended: authorize again");
  }

  // Narrowing (RFC 6749 §6): the new access token gets the requested subset; the refresh token keeps its scope.
  const original = parseScopeString(row.scope).scopes;
  let scope = row.scope;
  const requested = form.get('scope');
  if (requested !== null) {
    const parsed = parseScopeString(requested);
    if (parsed.errors.length) throw new InvalidScope(parsed.errors.map((e) => e.reason).join('; '));
    // Whitespace only: not a scope list (RFC 6749 §3.3), and not a request for a token that can do nothing.
    if (parsed.scopes.length === 0) throw new InvalidScope('scope names no scope: omit it to keep the granted scope, or list a subset of it (RFC 6749 §6)');
    const narrowed = narrowScopes(original, parsed.scopes);
    if (!narrowed.ok) throw new InvalidScope(`scope may only narrow the original grant; not granted before: ${formatScopes(narrowed.uncovered)} (RFC 6749 §6)`);
    scope = formatScopes(narrowed.scopes);
  }

  // Rotate atomically: only one request can retire this token (the read above is not trusted for
  // it), in one transaction with its successor's rows (issueTokens `claim`).
  const rotate = Prisma.sql`UPDATE "Token" SET "rotated" = true WHERE "id" = ${row.id} AND "rotated" = false AND "revoked" = false`;

  call.audit.scopes = scope;
  const issued = await issueTokens({
    sandboxId: call.sandboxId,
    client,
    grantId: grant.id,
    userId: row.userId,
    context: grant.context,
    launchId: grant.launchId,
    scope,
    accessTtlSeconds: grant.context.accessTtlSeconds ?? accessTokenTtl(),
    issuer: call.issuer,
    fhirBase: call.fhirBase,
    // A fresh lifetime on every refresh (ONC: renewable without re-authorisation; docs/CONFORMANCE.md #91).
    refresh: { scope: row.scope, ttlSeconds: refreshTtl(kind, grant.context), parentId: row.id },
    idToken: null,
    claim: rotate,
  }).catch(async (err: unknown) => {
    if (!(err instanceof IssuanceClaimLost)) throw err;
    await revokeGrant(grant.id);
    throw new InvalidGrant('the refresh token was already used and replaced by a newer one; the grant has been revoked (RFC 9700 §4.14.2)', {
      flags: ['refresh-replay'],
    });
  });
  call.audit.facts = { ...call.audit.facts, tokenId: issued.accessJti };
  call.audit.detail = `refresh token rotated; issued access token ${issued.accessJti.slice(0, 8)}…`;
  return issued.body;
}
