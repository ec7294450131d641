/**
 * Rate limits of the OAuth endpoints: the token, introspection and revocation endpoints count
 * against the calling client (its `client:` counter, shared with its FHIR calls); the open
 * registration endpoint counts per IP address. Over a limit → TooManyRequests: 429, Retry-After,
 * `{"error":"temporarily_unavailable","error_description":…}`, audit flag rate-limited.
 */
import type { OAuthCall } from '../oauth/endpoint';
import { TooManyRequests } from '../oauth/errors';
import type { RateLimitHit } from '../ratelimit/limiter';
import { rateLimitMessage } from '../ratelimit/describe';
import { clientIp } from '../http/client-ip';
import { counter, getRateLimiter } from '../ratelimit/policy';

async function assertWithin(hits: RateLimitHit[]): Promise<void> {
  const verdict = await getRateLimiter().hit(hits);
  if (!verdict.allowed) throw new TooManyRequests(rateLimitMessage(verdict.exceeded, verdict.retryAfterSeconds), verdict.retryAfterSeconds);
}

/**
 * Counts a call of a client (authenticated, or named by a public client) at the token,
 * introspection or revocation endpoint; a refused call is audited under that client.
 */
export async function assertClientRateLimit(call: OAuthCall, clientId: string): Promise<void> {
  try {
    await assertWithin([counter('client', clientId)]);
  } catch (err) {
    call.audit.clientId ??= clientId;
    throw err;
  }
}

/** Counts a registration request from the caller's IP address (none known: not limited). */
export function assertRegistrationRateLimit(req: Request): Promise<void> {
  const ip = clientIp(req.headers);
  return ip === null ? Promise.resolve() : assertWithin([counter('register-ip', ip)]);
}
