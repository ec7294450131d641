import { randomBytes } from 'node:crypto';

/** The default sandbox (tenant), served at {origin}/fhir. */
export const DEFAULT_SANDBOX_ID = 'default';

/**
 * The grammar of a sandbox id in a `/s/{id}` path: URL-safe characters only, so the id needs no
 * escaping in any URL the sandbox advertises.
 */
export const SANDBOX_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** True when `id` may name a sandbox served under `/s/{id}` (never the default sandbox). */
export function isServedSandboxId(id: string): boolean {
  return id !== DEFAULT_SANDBOX_ID && SANDBOX_ID_PATTERN.test(id);
}

/** A fresh, unguessable sandbox id: 144 random bits, base64url (24 characters). */
export function newSandboxId(): string {
  return randomBytes(18).toString('base64url');
}

/** The path prefix a sandbox is served under: '' for the default sandbox, `/s/{id}` for every other. */
export function sandboxBasePath(id: string): string {
  return id === DEFAULT_SANDBOX_ID ? '' : `/s/${id}`;
}

/**
 * The prefix of every rate-limit counter key of a sandbox: '' for the default sandbox, `@{id}/`
 * for any other, so that counters (and sign-in lockouts) never add up across sandboxes.
 */
export function rateLimitKeyPrefix(sandboxId: string): string {
  return sandboxId === DEFAULT_SANDBOX_ID ? '' : `@${sandboxId}/`;
}

/**
 * The request header carrying the sandbox of a `/s/{id}/…` request that proxy.ts rewrote to its
 * unprefixed path. proxy.ts deletes it from every incoming request before setting it, so a client
 * can never choose it; only `sandboxOfHeaders` (./context.ts) reads it.
 */
export const SANDBOX_HEADER = 'x-smart-sandbox';

/** A request path under a sandbox's prefix, split: `/s/{id}/rest` → { sandboxId, path: '/rest' }; null otherwise. */
export function splitSandboxPath(pathname: string): { sandboxId: string; path: string } | null {
  if (!pathname.startsWith('/s/')) return null;
  const slash = pathname.indexOf('/', 3);
  const sandboxId = slash < 0 ? pathname.slice(3) : pathname.slice(3, slash);
  if (sandboxId === '') return null;
  return { sandboxId, path: slash < 0 ? '/' : pathname.slice(slash) };
}

/** What a sandbox's launcher share-link keys carry after `launcher.share.`: '' for the default sandbox, `{id}.` for any other. */
export function shareLinkKeyInfix(sandboxId: string): string {
  return sandboxId === DEFAULT_SANDBOX_ID ? '' : `${sandboxId}.`;
}
