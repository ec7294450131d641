/** Human-readable descriptions of exceeded limits (error_description, OperationOutcome diagnostics, audit detail). */
import type { RateLimitExceeded } from './limiter';
import { counterSpec, parseCounterKey } from './policy';

function period(seconds: number): string {
  if (seconds % 3600 === 0) return seconds === 3600 ? '1 hour' : `${seconds / 3600} hours`;
  if (seconds % 60 === 0) return seconds === 60 ? '1 minute' : `${seconds / 60} minutes`;
  return `${seconds} seconds`;
}

/** `client 'x': more than 1200 requests per 1 minute (RATE_LIMIT_CLIENT)`. */
export function describeExceeded(e: RateLimitExceeded): string {
  const parsed = parseCounterKey(e.key);
  const per = `more than ${e.limit} ${parsed?.kind.startsWith('signin') ? 'failed sign-ins' : 'requests'} per ${period(e.windowSeconds)}`;
  if (!parsed) return `${e.key}: ${per}`;
  const variable = counterSpec(parsed.kind).variable;
  switch (parsed.kind) {
    case 'client':
      return `client '${parsed.subject}': ${per} (${variable})`;
    case 'patient':
      return `patient '${parsed.subject}', all clients together: ${per} (${variable})`;
    case 'register-ip':
      return `registrations from ${parsed.subject}: ${per} (${variable})`;
    case 'signin-persona':
      return `sign-ins as '${parsed.subject}': ${per} (${variable})`;
    case 'signin-console':
      return `console sign-ins as '${parsed.subject}': ${per} (${variable})`;
    case 'signin-ip':
      return `sign-ins from ${parsed.subject}: ${per} (${variable})`;
  }
}

/** `Rate limit exceeded for client 'x': …; retry after 37 s.` */
export function rateLimitMessage(exceeded: readonly RateLimitExceeded[], retryAfterSeconds: number): string {
  return `Rate limit exceeded for ${exceeded.map(describeExceeded).join('; ')}. Retry after ${retryAfterSeconds} s.`;
}
