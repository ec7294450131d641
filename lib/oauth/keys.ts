/**
 * Signing keys of the authorization server: generated with jose on first use, kept in the
 * SigningKey table (never committed to the repository), and cached in memory as CryptoKey objects so no
 * request re-parses a JWK (the launcher-v2 bottleneck).
 *
 * Two keys are active at a time:
 * - RS256 (RSA 2048) signs id_tokens: OpenID Connect and SMART require RS256 (docs/CONFORMANCE.md #78, #79).
 * - ES256 (P-256) signs access tokens: signing is ~20× cheaper than RSA on the token endpoint's
 *   hot path, and the 64-byte signature keeps the Authorization header small (docs/CONFORMANCE.md #64).
 *
 * The active kid per algorithm lives in the Setting table (`oauth.signing-key.<alg>`). Creating that
 * row is the compare-and-set that makes first start safe when several instances start at once: each
 * instance may generate a candidate, only one insert of the setting wins, the losers delete their
 * candidate and load the winner. Rotation swaps the setting with a conditional update and retires
 * the old key, whose public half stays in the JWKS until every token it signed has expired.
 */
import type { CryptoKey, JWK } from 'jose';
import { exportJWK, generateKeyPair, importJWK } from 'jose';
import { getDb } from '../db';
import { accessTokenTtl, CLOCK_SKEW_SECONDS, SIGNING_KEY_RECHECK_SECONDS } from './config';
import { randomToken } from './crypto';
import { isUniqueViolation } from '../db/errors';

export type SigningAlg = 'RS256' | 'ES256';
export const SIGNING_ALGS: readonly SigningAlg[] = ['RS256', 'ES256'];

/** A private signing key ready to use. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly privateKey: CryptoKey;
}

interface CachedSigningKey {
  key: SigningKey;
  checkedAt: number;
}

interface CachedVerificationKey {
  alg: SigningAlg;
  key: CryptoKey | null;
  loadedAt: number;
}

const settingKey = (alg: SigningAlg) => `oauth.signing-key.${alg}`;
// An unknown kid is looked up again after this long (a key created by another instance).
const NEGATIVE_CACHE_MS = 10_000;

const globalKeys = globalThis as unknown as {
  __oauthKeys?: { active: Map<SigningAlg, CachedSigningKey>; pending: Map<SigningAlg, Promise<SigningKey>>; verify: Map<string, CachedVerificationKey> };
};
function cache() {
  globalKeys.__oauthKeys ??= { active: new Map(), pending: new Map(), verify: new Map() };
  return globalKeys.__oauthKeys;
}

/** Drops every cached key (tests; after a database reset). */
export function clearKeyCache(): void {
  globalKeys.__oauthKeys = undefined;
}

/**
 * Longest time a token signed by a key can stay valid, plus the window in which other instances
 * may still sign with it after a rotation: how long a retired key stays in the JWKS.
 */
export function retiredKeyRetentionSeconds(): number {
  return accessTokenTtl() + SIGNING_KEY_RECHECK_SECONDS + CLOCK_SKEW_SECONDS;
}

async function importPrivate(alg: SigningAlg, privateJwk: string): Promise<CryptoKey> {
  return (await importJWK(JSON.parse(privateJwk) as JWK, alg)) as CryptoKey;
}

async function newKeyRow(alg: SigningAlg) {
  const { publicKey, privateKey } = await generateKeyPair(alg, alg === 'RS256' ? { modulusLength: 2048, extractable: true } : { extractable: true });
  const kid = `${alg.toLowerCase()}-${randomToken(12)}`;
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg };
  await getDb().signingKey.create({ data: { kid, alg, privateJwk: JSON.stringify(privateJwk), publicJwk: JSON.stringify(publicJwk), active: true } });
  return { kid, privateJwk: JSON.stringify(privateJwk) };
}

async function loadOrCreateActive(alg: SigningAlg): Promise<SigningKey> {
  const db = getDb();
  const current = await db.setting.findUnique({ where: { key: settingKey(alg) } });
  if (current) {
    const row = await db.signingKey.findUnique({ where: { kid: current.value } });
    if (row && row.privateJwk) return { kid: row.kid, alg, privateKey: await importPrivate(alg, row.privateJwk) };
    throw new Error(`active ${alg} signing key ${current.value} is missing from the SigningKey table`);
  }
  // First start: generate a candidate and race to publish it.
  const candidate = await newKeyRow(alg);
  try {
    await db.setting.create({ data: { key: settingKey(alg), value: candidate.kid } });
    return { kid: candidate.kid, alg, privateKey: await importPrivate(alg, candidate.privateJwk) };
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    await db.signingKey.delete({ where: { kid: candidate.kid } }).catch(() => undefined);
    return loadOrCreateActive(alg);
  }
}

/** The active private key for an algorithm (cached; re-checked against the database every minute). */
export async function getSigningKey(alg: SigningAlg): Promise<SigningKey> {
  const c = cache();
  const hit = c.active.get(alg);
  const now = Date.now();
  if (hit && now - hit.checkedAt < SIGNING_KEY_RECHECK_SECONDS * 1000) return hit.key;

  let pending = c.pending.get(alg);
  if (!pending) {
    pending = (async () => {
      if (hit) {
        // Cheap re-check: is our cached key still the active one (another instance may have rotated)?
        const current = await getDb().setting.findUnique({ where: { key: settingKey(alg) } });
        if (current?.value === hit.key.kid) return hit.key;
      }
      return loadOrCreateActive(alg);
    })();
    c.pending.set(alg, pending);
  }
  try {
    const key = await pending;
    c.active.set(alg, { key, checkedAt: Date.now() });
    return key;
  } finally {
    c.pending.delete(alg);
  }
}

/**
 * The public key for a kid, or null when the kid is unknown or its algorithm differs. Cached;
 * an unknown kid is re-read from the database at most every 10 s.
 */
export async function getVerificationKey(kid: string, alg: string): Promise<CryptoKey | null> {
  const c = cache();
  const hit = c.verify.get(kid);
  if (hit && (hit.key !== null || Date.now() - hit.loadedAt < NEGATIVE_CACHE_MS)) return hit.alg === alg ? hit.key : null;
  const row = await getDb().signingKey.findUnique({ where: { kid } });
  if (!row || (row.alg !== 'RS256' && row.alg !== 'ES256')) {
    c.verify.set(kid, { alg: 'ES256', key: null, loadedAt: Date.now() });
    return null;
  }
  const key = (await importJWK(JSON.parse(row.publicJwk) as JWK, row.alg)) as CryptoKey;
  c.verify.set(kid, { alg: row.alg, key, loadedAt: Date.now() });
  return row.alg === alg ? key : null;
}

/** The public JWK Set: active keys and retired keys whose tokens may still be valid. */
export async function getPublicJwks(): Promise<{ keys: JWK[] }> {
  // Make sure both keys exist before publishing (first start).
  await Promise.all(SIGNING_ALGS.map((alg) => getSigningKey(alg)));
  const cutoff = new Date(Date.now() - retiredKeyRetentionSeconds() * 1000);
  const rows = await getDb().signingKey.findMany({
    where: { OR: [{ active: true }, { retiredAt: { gt: cutoff } }] },
    orderBy: [{ createdAt: 'desc' }, { kid: 'asc' }],
  });
  // Only keys that are (or were) published as active; a lost first-start candidate is never listed.
  const settings = await getDb().setting.findMany({ where: { key: { in: SIGNING_ALGS.map(settingKey) } } });
  const activeKids = new Set(settings.map((s) => s.value));
  return { keys: rows.filter((r) => !r.active || activeKids.has(r.kid)).map((r) => JSON.parse(r.publicJwk) as JWK) };
}

export interface RotationResult {
  alg: SigningAlg;
  retiredKid: string | null;
  activeKid: string;
}

/**
 * Generates new signing keys and makes them active. The old public keys stay in the JWKS for
 * retiredKeyRetentionSeconds() (their tokens remain verifiable until they expire); their private
 * halves are erased at once. Keys retired longer ago than that are deleted.
 */
export async function rotateSigningKeys(algs: readonly SigningAlg[] = SIGNING_ALGS): Promise<RotationResult[]> {
  const db = getDb();
  const results: RotationResult[] = [];
  for (const alg of algs) {
    const current = await db.setting.findUnique({ where: { key: settingKey(alg) } });
    const candidate = await newKeyRow(alg);
    if (!current) {
      try {
        await db.setting.create({ data: { key: settingKey(alg), value: candidate.kid } });
        results.push({ alg, retiredKid: null, activeKid: candidate.kid });
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        await db.signingKey.delete({ where: { kid: candidate.kid } });
        const winner = await db.setting.findUniqueOrThrow({ where: { key: settingKey(alg) } });
        results.push({ alg, retiredKid: null, activeKid: winner.value });
      }
      continue;
    }
    // Compare-and-set: only one of two concurrent rotations swaps the active kid.
    const swapped = await db.setting.updateMany({ where: { key: settingKey(alg), value: current.value }, data: { value: candidate.kid } });
    if (swapped.count === 0) {
      await db.signingKey.delete({ where: { kid: candidate.kid } });
      const winner = await db.setting.findUniqueOrThrow({ where: { key: settingKey(alg) } });
      results.push({ alg, retiredKid: current.value, activeKid: winner.value });
      continue;
    }
    await db.signingKey.updateMany({ where: { kid: current.value }, data: { active: false, retiredAt: new Date(), privateJwk: '' } });
    results.push({ alg, retiredKid: current.value, activeKid: candidate.kid });
  }
  const cutoff = new Date(Date.now() - retiredKeyRetentionSeconds() * 1000);
  await db.signingKey.deleteMany({ where: { active: false, retiredAt: { lt: cutoff } } });
  const c = cache();
  c.active.clear();
  return results;
}
