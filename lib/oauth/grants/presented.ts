/**
 * The authorization code or refresh token a token request presents, read once per request with
 * its grant (one indexed join) and shared by the token endpoint's launch lookup and the grant
 * module. What decides single use and rotation is never this read: it is the conditional UPDATE
 * in the grant module (RFC 6749 §4.1.2; RFC 9700 §4.14.2), which always goes to the database.
 */
import { getDb } from '../../db';
import { rawQuery } from '../../db/direct';
import { Prisma } from '../../generated/sqlite/client';
import type { OAuthClient } from '../clients';
import type { GrantType } from '../clients';
import { sha256 } from '../crypto';
import type { OAuthCall } from '../endpoint';
import type { GrantRecord } from '../grant-store';
import type { OAuthParams } from '../http';
import type { TokenRecord } from '../tokens';
import { GRANT_COLUMNS, grantOfRow, rawDate, rawText, TOKEN_COLUMNS, tokenOfRow } from '../tokens';

/** A stored authorization code and the grant it belongs to. */
export interface PresentedCode {
  readonly codeHash: string;
  readonly grantId: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly codeChallenge: string | null;
  readonly nonce: string | null;
  readonly expiresAt: Date;
  readonly grant: GrantRecord | null;
}

/** A stored refresh (or other) token row found by its hash, and its grant. */
export interface PresentedToken {
  readonly row: TokenRecord;
  readonly grant: GrantRecord | null;
}

type Raw = Record<string, unknown>;

async function readCode(codeHash: string): Promise<PresentedCode | null> {
  const rows = await rawQuery<Raw>(
    getDb(),
    Prisma.sql`SELECT c."codeHash", c."grantId", c."clientId", c."redirectUri", c."codeChallenge", c."nonce", c."expiresAt", ${GRANT_COLUMNS}
      FROM "AuthCode" c LEFT JOIN "Grant" g ON g."id" = c."grantId" WHERE c."codeHash" = ${codeHash}`,
  );
  const r = rows[0];
  if (!r) return null;
  return {
    codeHash: String(r.codeHash),
    grantId: String(r.grantId),
    clientId: String(r.clientId),
    redirectUri: String(r.redirectUri),
    codeChallenge: rawText(r.codeChallenge),
    nonce: rawText(r.nonce),
    expiresAt: rawDate(r.expiresAt),
    grant: grantOfRow(r),
  };
}

async function readToken(tokenHash: string): Promise<PresentedToken | null> {
  const rows = await rawQuery<Raw>(
    getDb(),
    Prisma.sql`SELECT ${TOKEN_COLUMNS}, ${GRANT_COLUMNS} FROM "Token" t LEFT JOIN "Grant" g ON g."id" = t."grantId" WHERE t."tokenHash" = ${tokenHash}`,
  );
  const r = rows[0];
  return r ? { row: tokenOfRow(r), grant: grantOfRow(r) } : null;
}

// One read per request and presented value; the entries die with the request's call object.
const perCall = new WeakMap<OAuthCall, Map<string, Promise<unknown>>>();

function once<T>(call: OAuthCall, key: string, read: () => Promise<T>): Promise<T> {
  let reads = perCall.get(call);
  if (!reads) perCall.set(call, (reads = new Map()));
  let pending = reads.get(key) as Promise<T> | undefined;
  if (!pending) reads.set(key, (pending = read()));
  return pending;
}

/** The authorization code presented in this request (by its hash) with its grant, or null. */
export function findPresentedCode(call: OAuthCall, code: string): Promise<PresentedCode | null> {
  const codeHash = sha256(code);
  return once(call, `code:${codeHash}`, () => readCode(codeHash));
}

/** The token presented as refresh_token in this request (by its hash) with its grant, or null. */
export function findPresentedToken(call: OAuthCall, token: string): Promise<PresentedToken | null> {
  const tokenHash = sha256(token);
  return once(call, `token:${tokenHash}`, () => readToken(tokenHash));
}

/**
 * The launch of the grant an authorization_code or refresh_token request presents, without using
 * the code or token up; null when there is none or the grant belongs to another client (that
 * request then fails in its grant module, with no simulation).
 */
export async function launchOfPresentedGrant(
  call: OAuthCall,
  client: OAuthClient,
  grantType: Exclude<GrantType, 'client_credentials'>,
  form: OAuthParams,
): Promise<string | null> {
  let grant: GrantRecord | null = null;
  if (grantType === 'authorization_code') {
    const code = form.get('code');
    if (code !== null) grant = (await findPresentedCode(call, code))?.grant ?? null;
  } else {
    const token = form.get('refresh_token');
    if (token !== null) grant = (await findPresentedToken(call, token))?.grant ?? null;
  }
  return grant && grant.clientId === client.clientId ? grant.launchId : null;
}
