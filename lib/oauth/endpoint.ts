/**
 * The one wrapper around every OAuth endpoint: resolves the request's issuer and FHIR base, maps
 * thrown OAuth errors to responses (through errors.ts), adds no-store / CORS / page headers, and
 * writes exactly one audit record per request (docs/SECURITY.md §Audit), without tokens or
 * secrets.
 */
import type { AuditFlag } from '../audit/record';
import type { AuditFacts } from '../audit/facts';
import { retryAfterOf } from '../audit/facts';
import { recordAudit, requestSource } from '../audit/record';
import { fhirBaseOf, issuerOf } from '../http/origin';
import { databaseUnavailablePage } from '../http/unavailable';
import { currentSandbox } from '../sandbox/context';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable, logDatabaseUnavailable } from '../db/errors';
import type { ErrorTarget } from './errors';
import { NO_STORE_HEADERS, OAuthError, PAGE_SECURITY_HEADERS, TemporarilyUnavailable, toErrorResponse } from './errors';
import { corsFor } from './http';

/** What the handler learned, for the audit record. */
export interface AuditNotes {
  clientId?: string | null;
  userId?: string | null;
  patientId?: string | null;
  launchId?: string | null;
  scopes?: string | null;
  detail?: string | null;
  flags: AuditFlag[];
  /** How the app made the request, for the app report card. */
  facts?: AuditFacts;
}

/** One OAuth request in progress. */
export interface OAuthCall {
  readonly req: Request;
  readonly sandboxId: string;
  /** Issuer = origin of the sandbox (RFC 8414 / OIDC Discovery `issuer`). */
  readonly issuer: string;
  /** FHIR base URL, the audience of access tokens. */
  readonly fhirBase: string;
  readonly audit: AuditNotes;
  /** Set once the request's Origin is known to be a registered origin of a public client (docs/CONFORMANCE.md #66). */
  corsOrigin: string | null;
  /** Set at /oauth/authorize once client_id + redirect_uri matched a registration: errors may then redirect. */
  redirectTarget: Extract<ErrorTarget, { kind: 'redirect' }> | null;
}

export interface EndpointOptions {
  /** Path recorded in the audit trail. */
  readonly endpoint: string;
  /** json: token-style endpoints (no-store, RFC 6749 §5.2 errors); authorize: page or redirect errors. */
  readonly style: 'json' | 'authorize';
}

const DATABASE_UNAVAILABLE_MESSAGE = 'The authorization server cannot reach its database right now; try again in a few seconds.';

/** Wraps an endpoint body into a `(req) => Promise<Response>` with error mapping and audit. */
export function oauthEndpoint(options: EndpointOptions, run: (call: OAuthCall) => Promise<Response>): (req: Request) => Promise<Response> {
  return async (req: Request): Promise<Response> => {
    const started = performance.now();
    const call: OAuthCall = {
      req,
      sandboxId: currentSandbox().id,
      issuer: issuerOf(req),
      fhirBase: fhirBaseOf(req),
      audit: { flags: [] },
      corsOrigin: null,
      redirectTarget: null,
    };
    let response: Response;
    let errorCode: string | null = null;
    try {
      response = await run(call);
    } catch (thrown) {
      const target: ErrorTarget = options.style === 'json' ? { kind: 'json' } : (call.redirectTarget ?? { kind: 'page' });
      // A database that is down or restarting is neither the request's fault nor a bug: 503 with
      // Retry-After and temporarily_unavailable (RFC 6749 §4.1.2.1), never server_error.
      const unavailable = !(thrown instanceof OAuthError) && isDatabaseUnavailable(thrown);
      if (unavailable) logDatabaseUnavailable(options.endpoint, thrown);
      const { response: errorResponse, error } = toErrorResponse(unavailable ? new TemporarilyUnavailable(DATABASE_UNAVAILABLE_MESSAGE) : thrown, target);
      response = unavailable && target.kind === 'page' ? databaseUnavailablePage() : errorResponse;
      if (unavailable) response.headers.set('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
      errorCode = error.code;
      call.audit.flags.push(...error.flags);
      call.audit.detail = call.audit.detail ? `${call.audit.detail}; ${error.message}` : error.message;
    }
    const extra = options.style === 'json' ? { ...NO_STORE_HEADERS, ...(call.corsOrigin ? corsFor(call.corsOrigin) : {}) } : PAGE_SECURITY_HEADERS;
    for (const [name, value] of Object.entries(extra)) if (!response.headers.has(name)) response.headers.set(name, value);

    await recordAudit({
      sandboxId: call.sandboxId,
      kind: 'oauth',
      method: req.method,
      endpoint: options.endpoint,
      clientId: call.audit.clientId ?? null,
      userId: call.audit.userId ?? null,
      patientId: call.audit.patientId ?? null,
      launchId: call.audit.launchId ?? null,
      scopes: call.audit.scopes ?? null,
      status: response.status,
      errorCode,
      detail: call.audit.detail ?? null,
      latencyMs: performance.now() - started,
      ...requestSource(req),
      flags: [...new Set(call.audit.flags)],
      facts: { ...call.audit.facts, ...retryAfterOf(response) },
    });
    return response;
  };
}
