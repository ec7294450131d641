/**
 * Rate limits of the FHIR API: per client and per patient in the token's context, checked once
 * the token is verified, both counters in one statement. Over a limit → FhirThrottledError, which
 * the router answers as 429 + Retry-After + an OperationOutcome `throttled` (RFC 6585 §4) and
 * audits once, flagged rate-limited.
 */
import type { Db } from '../db';
import { FhirThrottledError } from './errors';
import { rateLimitMessage } from '../ratelimit/describe';
import { counter, getRateLimiter } from '../ratelimit/policy';

/** Counts a FHIR request of a verified token; throws the 429 when the client or the patient is over its limit. */
export async function assertFhirRateLimit(token: { readonly clientId: string; readonly patientId?: string | null }, db?: Db): Promise<void> {
  const hits = [counter('client', token.clientId)];
  if (token.patientId) hits.push(counter('patient', token.patientId));
  const verdict = await getRateLimiter(db).hit(hits);
  if (!verdict.allowed) throw new FhirThrottledError(rateLimitMessage(verdict.exceeded, verdict.retryAfterSeconds), verdict.retryAfterSeconds);
}
