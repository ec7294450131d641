/**
 * Fetches a client's JWK Set from its registered jwks_uri, with a cache that never outlives what
 * the server's Cache-Control allows (SMART App Launch 2.2 §client-confidential-asymmetric,
 * "SHALL NOT cache … longer than …"; docs/CONFORMANCE.md #74). No Cache-Control, no-store or no-cache means
 * no caching at all.
 */
import type { PublicJwk } from './client-metadata';
import { describeZodError, publicJwksSchema } from './client-metadata';
import { InvalidClient } from './errors';

const MAX_JWKS_BYTES = 100 * 1024;
const FETCH_TIMEOUT_MS = 5000;
// Even a long max-age is re-read after an hour.
const MAX_CACHE_SECONDS = 3600;

interface CacheEntry {
  keys: PublicJwk[];
  expiresAt: number;
}

const globalJwks = globalThis as unknown as { __oauthClientJwks?: Map<string, CacheEntry> };
function cache(): Map<string, CacheEntry> {
  globalJwks.__oauthClientJwks ??= new Map();
  return globalJwks.__oauthClientJwks;
}

/** Forgets every cached client JWKS (tests). */
export function clearClientJwksCache(): void {
  cache().clear();
}

/** Seconds a response may be cached according to its Cache-Control and Age headers (0 = do not cache). */
export function cacheLifetimeSeconds(headers: Headers): number {
  const cc = (headers.get('cache-control') ?? '').toLowerCase();
  if (!cc || /(^|,)\s*(no-store|no-cache|private)\b/.test(cc)) return 0;
  const maxAge = /(^|,)\s*max-age\s*=\s*"?(\d+)"?/.exec(cc);
  if (!maxAge?.[2]) return 0;
  const age = Number(headers.get('age') ?? '0');
  return Math.max(0, Math.min(Number(maxAge[2]) - (Number.isFinite(age) ? age : 0), MAX_CACHE_SECONDS));
}

async function fetchJwks(uri: string): Promise<CacheEntry> {
  let res: Response;
  try {
    // No redirects: the registered URL is the one we trust.
    res = await fetch(uri, { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (err) {
    throw new InvalidClient(`could not fetch the client's jwks_uri ${uri}: ${err instanceof Error ? err.message : 'network error'}`);
  }
  if (res.status !== 200) throw new InvalidClient(`the client's jwks_uri ${uri} answered HTTP ${res.status}`);
  const text = await res.text();
  if (text.length > MAX_JWKS_BYTES) throw new InvalidClient(`the client's jwks_uri ${uri} returned more than ${MAX_JWKS_BYTES} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InvalidClient(`the client's jwks_uri ${uri} did not return JSON`);
  }
  const parsed = publicJwksSchema.safeParse(json);
  if (!parsed.success) throw new InvalidClient(`the JWKS at ${uri} is not valid: ${describeZodError(parsed.error)}`);
  return { keys: parsed.data.keys, expiresAt: Date.now() + cacheLifetimeSeconds(res.headers) * 1000 };
}

/** The keys at a jwks_uri (cached per Cache-Control; `fresh` bypasses the cache, e.g. on an unknown kid). */
export async function getRemoteClientJwks(uri: string, options: { fresh?: boolean } = {}): Promise<{ keys: PublicJwk[]; fromCache: boolean }> {
  const c = cache();
  const hit = c.get(uri);
  if (hit && !options.fresh && hit.expiresAt > Date.now()) return { keys: hit.keys, fromCache: true };
  const entry = await fetchJwks(uri);
  if (entry.expiresAt > Date.now()) c.set(uri, entry);
  else c.delete(uri);
  return { keys: entry.keys, fromCache: false };
}
