/**
 * grant_type=authorization_code (RFC 6749 §4.1.3; RFC 7636 §4.6; SMART App Launch 2.2 §app-launch;
 * docs/CONFORMANCE.md #53–#60, #173). The code is single-use: a second use revokes everything the grant
 * produced and flags the audit record 'code-replay' (RFC 6749 §4.1.2).
 */
import { createHash } from 'node:crypto';
import { parseScopeString } from '../../smart/scopes';
import type { OAuthClient } from '../clients';
import { accessTokenTtl, ONLINE_REFRESH_TTL_SECONDS, refreshTokenTtl } from '../config';
import { constantTimeEqual, nowSeconds } from '../crypto';
import type { OAuthCall } from '../endpoint';
import { InvalidGrant, InvalidRequest } from '../errors';
import type { GrantContext } from '../grant-store';
import { revokeGrant } from '../grant-store';
import type { OAuthParams } from '../http';
import type { TokenResponseBody } from '../tokens';
import { IssuanceClaimLost, issueTokens } from '../tokens';
import { findPresentedCode } from './presented';
import { getDb } from '../../db';
import { Prisma } from '../../generated/sqlite/client';
import { pkceAuditNote } from '../pkce';
import { sandboxNowMs } from '../../sandbox/context';

// PKCE code_verifier (RFC 7636 §4.1): 43–128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~";
// its S256 hash must equal the code_challenge the code was issued for (§4.6), checked below.
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/** Refresh-token policy of a grant: offline_access wins over online_access (docs/CONFORMANCE.md #83). */
export function refreshKind(scope: string): 'offline' | 'online' | null {
  const names = scope.split(' ');
  if (names.includes('offline_access')) return 'offline';
  if (names.includes('online_access')) return 'online';
  return null;
}

/**
 * Lifetime of a new refresh token. An online_access one never outlives the user's sign-in session
 * (SMART App Launch 2.2 §scopes-and-launch-context; docs/CONFORMANCE.md #83).
 */
export function refreshTtl(kind: 'offline' | 'online', context: Pick<GrantContext, 'sessionExpiresAt'> = {}): number {
  if (kind === 'offline') return refreshTokenTtl();
  const capped = Math.min(ONLINE_REFRESH_TTL_SECONDS, refreshTokenTtl());
  return context.sessionExpiresAt === undefined ? capped : Math.max(0, Math.min(capped, context.sessionExpiresAt - nowSeconds()));
}

/**
 * Why a grant's code or refresh token cannot be redeemed at this token endpoint, or null: the grant
 * was authorized for the FHIR server `context.aud`, and only that server's token endpoint issues
 * tokens for it (RFC 7636 §4.4; RFC 9700 §2.1.1; docs/CONFORMANCE.md #44). Grants recorded before
 * the binding existed carry no aud.
 */
export function audMismatch(context: Pick<GrantContext, 'aud'>, fhirBase: string): string | null {
  if (context.aud === undefined || context.aud === fhirBase) return null;
  return `this grant was authorized for aud ${context.aud}: redeem it at that FHIR server's token endpoint, not at the one for ${fhirBase} (RFC 9700 §2.1.1)`;
}

export async function authorizationCodeGrant(call: OAuthCall, client: OAuthClient, form: OAuthParams): Promise<TokenResponseBody> {
  const code = form.get('code');
  if (code === null) throw new InvalidRequest('code is required');
  const redirectUri = form.get('redirect_uri');
  if (redirectUri === null) throw new InvalidRequest('redirect_uri is required and must equal the one sent to /oauth/authorize (RFC 6749 §4.1.3)');
  const verifier = form.get('code_verifier');

  // The code and its grant in one read, shared with the token endpoint's launch lookup.
  const stored = await findPresentedCode(call, code);
  if (!stored) throw new InvalidGrant('the authorization code is not valid (unknown, mistyped, or from another server)');
  const grant = stored.grant;
  if (!grant || grant.sandboxId !== call.sandboxId) throw new InvalidGrant('the authorization code is not valid');
  call.audit.userId = grant.userId;
  call.audit.patientId = grant.context.patient;
  call.audit.launchId = grant.launchId;
  call.audit.facts = { ...call.audit.facts, grantId: grant.id };
  if (stored.clientId !== client.clientId) throw new InvalidGrant('the authorization code was issued to another client (RFC 6749 §4.1.3)');
  if (stored.expiresAt.getTime() <= sandboxNowMs())
    throw new InvalidGrant('the authorization code has expired (codes live 60 seconds): start the authorization again');

  // Single use, atomically: only one request can flip `used` (RFC 6749 §4.1.2). The read above
  // is not trusted for this: of two concurrent exchanges both read `used = false`, one UPDATE wins.
  // On success the UPDATE runs in one transaction with the token rows (issueTokens `claim`).
  const take = Prisma.sql`UPDATE "AuthCode" SET "used" = true WHERE "codeHash" = ${stored.codeHash} AND "used" = false`;
  const replayed = async () => {
    await revokeGrant(grant.id);
    return new InvalidGrant('the authorization code was already used; every token issued with it has been revoked (RFC 6749 §4.1.2)', {
      flags: ['code-replay'],
    });
  };
  // A request refused below uses the code up all the same; a code already used is a replay.
  const refusal = async (error: InvalidGrant) => ((await getDb().$executeRaw(take)) === 0 ? replayed() : error);
  if (grant.revoked) throw await refusal(new InvalidGrant('the authorization grant has been revoked'));
  if (redirectUri !== stored.redirectUri)
    throw await refusal(new InvalidGrant('redirect_uri does not match the one sent to /oauth/authorize (RFC 6749 §4.1.3)'));
  const elsewhere = audMismatch(grant.context, call.fhirBase);
  if (elsewhere) throw await refusal(new InvalidGrant(`the authorization code cannot be exchanged here: ${elsewhere}`));

  // PKCE for every client type, confidential ones included (RFC 7636 §4.6; RFC 9700 §2.1.1; docs/CONFORMANCE.md #55).
  if (stored.codeChallenge) {
    if (verifier === null)
      throw await refusal(new InvalidGrant('code_verifier is required: the authorization request carried a code_challenge (RFC 7636 §4.5)'));
    if (!VERIFIER.test(verifier)) throw await refusal(new InvalidGrant('code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)'));
    const computed = createHash('sha256').update(verifier, 'ascii').digest('base64url');
    if (!constantTimeEqual(computed, stored.codeChallenge)) {
      throw await refusal(new InvalidGrant('code_verifier does not match the code_challenge (BASE64URL(SHA256(code_verifier)) must equal it; RFC 7636 §4.6)'));
    }
  } else if (verifier !== null) {
    // A verifier for a code without a challenge is a PKCE downgrade attempt (RFC 9700 §2.1.1).
    throw await refusal(new InvalidGrant('code_verifier was sent, but the authorization request had no code_challenge'));
  }

  const scope = grant.scope;
  const parsed = parseScopeString(scope).scopes;
  const kind = refreshKind(scope);
  const openid = parsed.some((s) => s.kind === 'identity' && s.name === 'openid');
  call.audit.scopes = scope;
  const issued = await issueTokens({
    sandboxId: call.sandboxId,
    client,
    grantId: grant.id,
    userId: grant.userId,
    context: grant.context,
    launchId: grant.launchId,
    scope,
    accessTtlSeconds: grant.context.accessTtlSeconds ?? accessTokenTtl(),
    issuer: call.issuer,
    fhirBase: call.fhirBase,
    refresh: kind && client.grantTypes.includes('refresh_token') ? { scope, ttlSeconds: refreshTtl(kind, grant.context), parentId: null } : null,
    idToken: openid ? { nonce: stored.nonce } : null,
    claim: take,
  }).catch(async (err: unknown) => {
    throw err instanceof IssuanceClaimLost ? await replayed() : err;
  });
  call.audit.facts = { ...call.audit.facts, tokenId: issued.accessJti };
  call.audit.detail = `issued access token ${issued.accessJti.slice(0, 8)}…${issued.refreshId ? ' + refresh token' : ''}${openid ? ' + id_token' : ''}`;
  // The flow view shows the PKCE check; the note holds the verifier masked, plus its S256 hash (RFC 7636 §4.6).
  if (stored.codeChallenge && verifier !== null) call.audit.detail += `; ${pkceAuditNote(verifier)}`;
  return issued.body;
}
