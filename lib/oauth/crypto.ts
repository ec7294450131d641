/** Random identifiers, hashing and constant-time comparison for secrets, codes and tokens. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { sandboxNowMs } from '../sandbox/context';

/** A random, URL-safe string with `bytes` bytes of entropy (≥ 128 bits everywhere; docs/CONFORMANCE.md #164). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** SHA-256 of a string as base64url: how secrets, codes and refresh tokens are stored (a copy of the database yields no usable credential). */
export function sha256(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

/** Constant-time equality of two strings (compares their SHA-256 digests, so lengths do not leak). */
export function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

/** Seconds since the epoch on the request's sandbox clock (lib/sandbox/context.ts: real time unless fast-forwarded). */
export function nowSeconds(): number {
  return Math.floor(sandboxNowMs() / 1000);
}
