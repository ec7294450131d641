/**
 * Token issuance: access tokens (JWT, ES256, RFC 9068 profile), refresh tokens (random, stored
 * hashed), id_tokens (RS256), every one recorded in the Token table (DESIGN.md "Every issued token
 * has a row"), and the token response body of SMART App Launch 2.2 §app-launch (checklist §4, §9).
 */
import { SignJWT } from 'jose';
import { getDb } from '../db';
import type { Prisma } from '../generated/sqlite/client';
import { simulatedErrorOfLaunch, simulatedIssuance } from '../launcher/apply-simulated-error';
import type { OAuthClient } from './clients';
import { nowSeconds, randomToken, sha256 } from './crypto';
import type { GrantContext } from './grants';
import { getSigningKey } from './keys';

/** RFC 9068 §2.1: the typ of JWT access tokens, checked on verification so an id_token is never taken for one. */
export const ACCESS_TOKEN_TYP = 'at+jwt';
export const ACCESS_TOKEN_ALG = 'ES256';

/** The JSON body of a successful token response. */
export interface TokenResponseBody {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  id_token?: string;
  refresh_token?: string;
  patient?: string;
  encounter?: string;
  fhirContext?: GrantContext['fhirContext'];
  need_patient_banner?: boolean;
  smart_style_url?: string;
  intent?: string;
  tenant?: string;
}

export interface IssueInput {
  sandboxId: string;
  client: OAuthClient;
  grantId: string | null;
  userId: string | null;
  context: GrantContext;
  launchId: string | null;
  /** Scope of the access token (space-separated, as granted). */
  scope: string;
  accessTtlSeconds: number;
  issuer: string;
  fhirBase: string;
  /** Issue a refresh token with this scope and lifetime. */
  refresh?: { scope: string; ttlSeconds: number; parentId: string | null } | null;
  /** Issue an id_token (openid granted). */
  idToken?: { nonce: string | null } | null;
}

export interface IssuedTokens {
  body: TokenResponseBody;
  accessJti: string;
  refreshId: string | null;
}

/** Absolute fhirUser URL for the id_token (SMART App Launch 2.2 §scopes-and-launch-context; checklist #80). */
export function absoluteFhirUser(fhirUser: string | null, fhirBase: string): string | null {
  if (!fhirUser) return null;
  return /^https?:\/\//.test(fhirUser) ? fhirUser : `${fhirBase}/${fhirUser}`;
}

/** Launch-context members of the token response (and of introspection; checklist #131). */
export function contextResponseFields(context: GrantContext): Partial<TokenResponseBody> {
  const out: Partial<TokenResponseBody> = {};
  if (context.patient) out.patient = context.patient;
  if (context.encounter) out.encounter = context.encounter;
  if (context.fhirContext?.length) out.fhirContext = context.fhirContext;
  if (context.needPatientBanner !== undefined) out.need_patient_banner = context.needPatientBanner;
  if (context.smartStyleUrl) out.smart_style_url = context.smartStyleUrl;
  if (context.intent) out.intent = context.intent;
  if (context.tenant) out.tenant = context.tenant;
  return out;
}

/** The SMART claims an access token carries besides iss, sub, aud, jti, iat and exp. */
export function accessTokenPrivateClaims(t: { clientId: string; scope: string; patient?: string | null; encounter?: string | null; fhirUser?: string | null; launchId?: string | null }): Record<string, string> {
  const claims: Record<string, string> = { client_id: t.clientId, scope: t.scope };
  if (t.patient) claims.patient = t.patient;
  if (t.encounter) claims.encounter = t.encounter;
  if (t.fhirUser) claims.fhirUser = t.fhirUser;
  if (t.launchId) claims.launch_id = t.launchId;
  return claims;
}

/** Signs an access token, records its row (and the refresh token's), and builds the response body. */
export async function issueTokens(input: IssueInput): Promise<IssuedTokens> {
  // The launch's simulated lifetimes or refresh-token state (token_expires_soon, expired/revoked refresh token).
  const issuance = simulatedIssuance(await simulatedErrorOfLaunch(input.launchId), {
    accessTtlSeconds: input.accessTtlSeconds,
    refreshTtlSeconds: input.refresh?.ttlSeconds ?? null,
    refreshRevoked: false,
  });
  const iat = nowSeconds();
  const exp = iat + issuance.accessTtlSeconds;
  const jti = randomToken(18);
  const subject = input.userId ?? input.client.clientId;

  const accessKey = await getSigningKey(ACCESS_TOKEN_ALG);
  const claims = accessTokenPrivateClaims({ clientId: input.client.clientId, scope: input.scope, patient: input.context.patient, encounter: input.context.encounter, fhirUser: input.context.fhirUser, launchId: input.launchId });
  const accessToken = await new SignJWT(claims)
    .setProtectedHeader({ alg: ACCESS_TOKEN_ALG, kid: accessKey.kid, typ: ACCESS_TOKEN_TYP })
    .setIssuer(input.issuer)
    .setSubject(subject)
    .setAudience(input.fhirBase)
    .setJti(jti)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(accessKey.privateKey);

  const body: TokenResponseBody = { access_token: accessToken, token_type: 'Bearer', expires_in: issuance.accessTtlSeconds, scope: input.scope };

  if (input.idToken) {
    // OpenID Connect Core §2 / SMART App Launch 2.2 §scopes-and-launch-context (checklist #76–#80).
    const idKey = await getSigningKey('RS256');
    const idClaims: Record<string, unknown> = {};
    const fhirUser = absoluteFhirUser(input.context.fhirUser, input.fhirBase);
    if (fhirUser) {
      idClaims.fhirUser = fhirUser;
      // SMART v1 `profile` (checklist #81).
      if (input.scope.split(' ').includes('profile')) idClaims.profile = fhirUser;
    }
    if (input.idToken.nonce) idClaims.nonce = input.idToken.nonce;
    body.id_token = await new SignJWT(idClaims)
      .setProtectedHeader({ alg: 'RS256', kid: idKey.kid, typ: 'JWT' })
      .setIssuer(input.issuer)
      .setSubject(subject)
      .setAudience(input.client.clientId)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(idKey.privateKey);
  }

  const data: Prisma.TokenCreateManyInput[] = [
    {
      id: jti,
      sandboxId: input.sandboxId,
      kind: 'access',
      grantId: input.grantId,
      clientId: input.client.clientId,
      userId: input.userId,
      patientId: input.context.patient,
      encounterId: input.context.encounter,
      scope: input.scope,
      tokenHash: null,
      jwt: body.access_token,
      parentId: input.refresh?.parentId ?? null,
      issuedAt: new Date(iat * 1000),
      expiresAt: new Date(exp * 1000),
    },
  ];
  let refreshId: string | null = null;
  if (input.refresh) {
    const refreshToken = randomToken(32);
    refreshId = randomToken(18);
    body.refresh_token = refreshToken;
    data.push({
      id: refreshId,
      sandboxId: input.sandboxId,
      kind: 'refresh',
      grantId: input.grantId,
      clientId: input.client.clientId,
      userId: input.userId,
      patientId: input.context.patient,
      encounterId: input.context.encounter,
      scope: input.refresh.scope,
      tokenHash: sha256(refreshToken),
      parentId: input.refresh.parentId,
      issuedAt: new Date(iat * 1000),
      expiresAt: new Date((iat + (issuance.refreshTtlSeconds ?? input.refresh.ttlSeconds)) * 1000),
      revoked: issuance.refreshRevoked,
    });
  }
  await getDb().token.createMany({ data });

  Object.assign(body, contextResponseFields(input.context));
  return { body, accessJti: jti, refreshId };
}
