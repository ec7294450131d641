/**
 * private_key_jwt client authentication: validation of the client assertion exactly as SMART App
 * Launch 2.2 §client-confidential-asymmetric and RFC 7523 §3 require (docs/CONFORMANCE.md #69–#75, #141, #178).
 */
import type { CryptoKey, JWK, JWTPayload, ProtectedHeaderParameters } from 'jose';
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, importJWK, jwtVerify } from 'jose';
import { getDb } from '../db';
import { rawExecute, rawQuery } from '../db/direct';
import { Prisma } from '../generated/sqlite/client';
import type { PublicJwk } from './client-metadata';
import { getRemoteClientJwks } from './client-jwks';
import type { OAuthClient } from './clients';
import { getClient } from './clients';
import { ASSERTION_MAX_LIFETIME_SECONDS, CLOCK_SKEW_SECONDS } from './config';
import { InvalidClient } from './errors';

/** Algorithms accepted for client assertions: the two SMART requires servers to validate (docs/CONFORMANCE.md #70). */
export const ASSERTION_ALGS = ['RS384', 'ES384'] as const;
type AssertionAlg = (typeof ASSERTION_ALGS)[number];

export interface AssertionContext {
  sandboxId: string;
  /**
   * The token endpoint URL: the only `aud` accepted (SMART App Launch 2.2 §client-confidential-asymmetric,
   * §backend-services; docs/CONFORMANCE.md #71, #141, #178). RFC 7523 §3 would also let the issuer
   * identifier through; a certification run refuses it, so the sandbox does too.
   */
  tokenEndpoint: string;
}

function fail(description: string, replay = false): InvalidClient {
  return new InvalidClient(`client assertion rejected: ${description}`, replay ? { flags: ['assertion-replay'] } : {});
}

/** A client assertion whose signature does not verify (also the simulated invalid_client_secret of private_key_jwt clients). */
export function assertionSignatureError(kid: string): InvalidClient {
  return fail(`the signature does not verify with key '${kid.slice(0, 100)}'`);
}

/** A client assertion whose jti was seen before (RFC 7523 §3 item 7; also the simulated error invalid_jti). */
export function assertionReplayError(jti: string): InvalidClient {
  return fail(`jti '${jti.slice(0, 100)}' was already used: every assertion needs a new jti`, true);
}

function keyFitsAlg(jwk: PublicJwk, alg: AssertionAlg): boolean {
  if (alg === 'RS384' && jwk.kty !== 'RSA') return false;
  if (alg === 'ES384' && (jwk.kty !== 'EC' || jwk.crv !== 'P-384')) return false;
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (jwk.key_ops !== undefined && !jwk.key_ops.includes('verify')) return false;
  return true;
}

// The single key whose kid matches and whose kty fits alg (docs/CONFORMANCE.md #73): zero or two is a failure.
async function selectKey(client: OAuthClient, header: ProtectedHeaderParameters & { kid: string; alg: AssertionAlg }): Promise<PublicJwk> {
  const pick = (keys: readonly PublicJwk[]) => keys.filter((k) => k.kid === header.kid && keyFitsAlg(k, header.alg));
  let candidates: PublicJwk[];
  if (client.jwksUri) {
    const first = await getRemoteClientJwks(client.jwksUri);
    candidates = pick(first.keys);
    // A key rotated since we cached the set: fetch once more (still within Cache-Control rules: a fresh read).
    if (candidates.length === 0 && first.fromCache) candidates = pick((await getRemoteClientJwks(client.jwksUri, { fresh: true })).keys);
  } else {
    candidates = pick(client.jwks?.keys ?? []);
  }
  if (candidates.length === 0) {
    throw fail(`no registered key has kid '${header.kid}' and suits ${header.alg} (${header.alg === 'RS384' ? 'kty RSA' : 'kty EC, crv P-384'}, use sig)`);
  }
  if (candidates.length > 1) throw fail(`${candidates.length} registered keys have kid '${header.kid}' for ${header.alg}; kids must be unique`);
  return candidates[0]!;
}

// Imported verification keys by key material and alg. A CryptoKey is a pure function of those two,
// so an entry can never make a key valid that the registration no longer lists: which key verifies
// an assertion is chosen by selectKey() from the current registration (or jwks_uri cache) on every
// request, and only then is its material looked up here. Bounded; least recently used go first.
const KEY_CACHE_SIZE = 1000;
const importedKeys = new Map<string, CryptoKey>();

async function verificationKey(jwk: PublicJwk, alg: AssertionAlg): Promise<CryptoKey> {
  // Only the members importJWK turns into a key (base64url values and curve names hold no spaces).
  const material: JWK = jwk.kty === 'RSA' ? { kty: 'RSA', n: jwk.n, e: jwk.e } : { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
  const cacheKey = jwk.kty === 'RSA' ? `${alg} RSA ${jwk.n} ${jwk.e}` : `${alg} ${jwk.kty} ${jwk.crv} ${jwk.x} ${jwk.y}`;
  const cached = importedKeys.get(cacheKey);
  if (cached) {
    importedKeys.delete(cacheKey);
    importedKeys.set(cacheKey, cached);
    return cached;
  }
  const key = (await importJWK(material, alg)) as CryptoKey;
  if (importedKeys.size >= KEY_CACHE_SIZE) importedKeys.delete(importedKeys.keys().next().value as string);
  importedKeys.set(cacheKey, key);
  return key;
}

/** How many imported keys are cached (tests). */
export function cachedAssertionKeyCount(): number {
  return importedKeys.size;
}

// Expired jti rows are only ever overwritten or skipped by recordJti(); deleting them is housekeeping,
// done in the background at most once per interval and process.
const JTI_PRUNE_INTERVAL_MS = 60_000;
let lastJtiPrune = 0;
let jtiPruning: Promise<number> | null = null;

/** Deletes every expired jti row; returns how many. */
export async function pruneExpiredJtis(now: Date = new Date()): Promise<number> {
  return rawExecute(getDb(), Prisma.sql`DELETE FROM "AssertionJti" WHERE "expiresAt" < ${now}`);
}

function maybePruneJtis(): void {
  const now = Date.now();
  if (jtiPruning || now - lastJtiPrune < JTI_PRUNE_INTERVAL_MS) return;
  lastJtiPrune = now;
  jtiPruning = pruneExpiredJtis(new Date(now))
    .catch((err: unknown) => {
      console.error('client assertions: deleting expired jti values failed:', err instanceof Error ? err.message : String(err));
      return 0;
    })
    .finally(() => {
      jtiPruning = null;
    });
}

/**
 * Client assertion jti replay protection (RFC 7523 §3; SMART App Launch 2.2 §client-confidential-asymmetric).
 * Records a client's jti until `expiresAt`, in one atomic statement: true when it was new, or when
 * its earlier use has expired (the row is reused); false while an earlier use is still within its
 * window (a replay). Concurrent uses of one jti: the primary key lets exactly one of them record it.
 */
async function recordJti(clientId: string, jti: string, expiresAt: Date, now: Date): Promise<boolean> {
  const rows = await rawQuery(
    getDb(),
    Prisma.sql`INSERT INTO "AssertionJti" ("clientId", "jti", "expiresAt") VALUES (${clientId}, ${jti}, ${expiresAt})
      ON CONFLICT ("clientId", "jti") DO UPDATE SET "expiresAt" = excluded."expiresAt" WHERE "AssertionJti"."expiresAt" < ${now}
      RETURNING "jti"`,
  );
  return rows.length === 1;
}

/** Verifies a client assertion and returns the client it authenticates. Throws invalid_client. */
export async function verifyClientAssertion(assertion: string, ctx: AssertionContext): Promise<OAuthClient> {
  let header: ProtectedHeaderParameters;
  let unverified: JWTPayload;
  try {
    header = decodeProtectedHeader(assertion);
    unverified = decodeJwt(assertion);
  } catch {
    throw fail('client_assertion is not a signed JWT (compact JWS)');
  }
  if (!(ASSERTION_ALGS as readonly string[]).includes(header.alg ?? '')) {
    throw fail(`alg '${header.alg ?? '(none)'}' is not accepted: sign with RS384 or ES384 (SMART App Launch 2.2 §client-confidential-asymmetric)`);
  }
  if (typeof header.kid !== 'string' || header.kid === '') throw fail('the JWT header has no kid (SMART App Launch 2.2 §client-confidential-asymmetric)');
  // SMART App Launch 2.2 §client-confidential-asymmetric: typ is required, fixed value JWT.
  if (typeof header.typ !== 'string' || header.typ.toUpperCase() !== 'JWT') {
    throw fail(
      `the JWT header needs typ: "JWT"${header.typ === undefined ? '' : `, not "${String(header.typ)}"`} (SMART App Launch 2.2 §client-confidential-asymmetric)`,
    );
  }
  const { iss, sub } = unverified;
  if (typeof iss !== 'string' || iss === '') throw fail('iss is missing');
  if (sub !== iss) throw fail('iss and sub must both be the client_id (RFC 7523 §3)');
  const client = await getClient(iss, { sandboxId: ctx.sandboxId });
  if (!client) throw fail(`iss '${iss.slice(0, 100)}' is not a registered client_id`);
  if (client.tokenEndpointAuthMethod !== 'private_key_jwt')
    throw fail(`client '${client.clientId}' is registered for ${client.tokenEndpointAuthMethod}, not private_key_jwt`);

  // jku must be the registered JWKS URL, if sent at all (docs/CONFORMANCE.md #73, #178).
  if (header.jku !== undefined && header.jku !== client.jwksUri) {
    throw fail(`jku '${String(header.jku).slice(0, 200)}' is not the client's registered jwks_uri`);
  }

  const jwk = await selectKey(client, header as ProtectedHeaderParameters & { kid: string; alg: AssertionAlg });
  let payload: JWTPayload;
  try {
    const key = await verificationKey(jwk, header.alg as AssertionAlg);
    ({ payload } = await jwtVerify(assertion, key, { algorithms: [header.alg!], clockTolerance: CLOCK_SKEW_SECONDS }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw fail('exp is in the past');
    if (err instanceof joseErrors.JWTClaimValidationFailed) throw fail(`${err.claim} is not valid (${err.reason})`);
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw assertionSignatureError(header.kid);
    throw fail(`the JWT could not be verified with key '${header.kid}'`);
  }

  // The client's clock, not the sandbox's: a fast-forwarded sandbox still accepts assertions made now.
  const now = Math.floor(Date.now() / 1000);
  if (typeof payload.exp !== 'number') throw fail('exp is required (RFC 7523 §3)');
  if (payload.exp > now + ASSERTION_MAX_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS) {
    throw fail(
      `exp is ${payload.exp - now} s in the future; at most ${ASSERTION_MAX_LIFETIME_SECONDS} s is allowed (SMART App Launch 2.2 §client-confidential-asymmetric)`,
    );
  }
  // jose checks that iat is a number, not that it has passed: a JWT issued in the future is refused (RFC 7519 §4.1.6).
  if (typeof payload.iat === 'number' && payload.iat > now + CLOCK_SKEW_SECONDS)
    throw fail(`iat is ${payload.iat - now} s in the future: check the client's clock`);
  const audiences = Array.isArray(payload.aud) ? payload.aud : payload.aud === undefined ? [] : [payload.aud];
  if (audiences.length === 0 || audiences.some((a) => a !== ctx.tokenEndpoint)) {
    throw fail(
      `aud must be the token endpoint URL ${ctx.tokenEndpoint}${audiences.length ? `, not ${audiences.map((a) => `'${String(a).slice(0, 200)}'`).join(', ')}` : ''}`,
    );
  }
  if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 255)
    throw fail('jti is required (a unique string of at most 255 characters)');

  // Replay: a jti may be used once within the assertion's lifetime (docs/CONFORMANCE.md #72; RFC 7523 §3 item 7).
  // The row lives as long as the assertion could still verify (exp plus the clock tolerance).
  const expiresAt = new Date((payload.exp + CLOCK_SKEW_SECONDS) * 1000);
  if (!(await recordJti(client.clientId, payload.jti, expiresAt, new Date()))) throw assertionReplayError(payload.jti);
  maybePruneJtis();
  return client;
}
