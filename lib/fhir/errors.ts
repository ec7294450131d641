/**
 * Typed failures of the FHIR layer. The HTTP status of each kind is decided in exactly one
 * place (statusOf in outcomes.ts); code here only says what went wrong.
 */
import type { OperationOutcome } from '@medplum/fhirtypes';

export type FhirErrorKind =
  | 'invalid' // malformed input: bad JSON, bad id, bad search value → 400
  | 'unprocessable' // well-formed but not a valid resource, or body type ≠ URL type → 422 / 400
  | 'unknown-type' // not an R4 resource type → 404 (URL) / 400 (body)
  | 'not-found' // no such resource, or outside the caller's compartment → 404
  | 'gone' // deleted → 410
  | 'version-conflict' // If-Match does not match the current version → 412
  | 'conflict' // concurrent change or duplicate → 409
  | 'not-supported' // interaction not implemented → 405
  | 'unsupported-media-type' // → 415
  | 'forbidden' // the token's scopes do not allow the interaction → 403
  | 'unauthorized' // no or bad token → 401
  | 'too-many-requests'; // → 429

/** OperationOutcome.issue.code for each kind. */
export const issueCodeOf: Record<FhirErrorKind, string> = {
  invalid: 'invalid',
  unprocessable: 'processing',
  'unknown-type': 'not-supported',
  'not-found': 'not-found',
  gone: 'deleted',
  'version-conflict': 'conflict',
  conflict: 'conflict',
  'not-supported': 'not-supported',
  'unsupported-media-type': 'not-supported',
  forbidden: 'forbidden',
  unauthorized: 'login',
  'too-many-requests': 'throttled',
};

export class FhirError extends Error {
  readonly kind: FhirErrorKind;
  /** FHIRPath-ish location of the problem (OperationOutcome.issue.expression). */
  readonly expression?: string;

  constructor(kind: FhirErrorKind, message: string, expression?: string) {
    // An answer the API gives on purpose (401, 404, …), not a fault: no stack trace, whose capture
    // costs more than the rest of a 401 (measured with --cpu-prof).
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = stackTraceLimit;
    this.kind = kind;
    this.expression = expression;
    this.name = 'FhirError';
  }
}

/** A 401: carries the `WWW-Authenticate` challenge RFC 6750 §3 requires. */
export class FhirAuthError extends FhirError {
  constructor(
    message: string,
    /** RFC 6750 §3.1 error code, or null when no credentials were sent at all. */
    readonly oauthError: 'invalid_token' | 'invalid_request' | null,
  ) {
    super('unauthorized', message);
    this.name = 'FhirAuthError';
  }
}

/** A 403 from the access policy: names the scope that would have allowed the request. */
export class FhirForbiddenError extends FhirError {
  constructor(
    message: string,
    readonly wouldAllow: string,
  ) {
    super('forbidden', message);
    this.name = 'FhirForbiddenError';
  }
}

/** A 429: the caller must wait `retryAfterSeconds` (RFC 6585 §4; the router sends Retry-After). */
export class FhirThrottledError extends FhirError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('too-many-requests', message);
    this.name = 'FhirThrottledError';
  }
}

/**
 * The failure of one entry of a transaction Bundle (lib/fhir/transaction.ts): thrown to roll the
 * database transaction back; the transaction is answered with the entry's own status and outcome
 * (decided by statusOf/outcomeOf when the entry was answered).
 */
export class TransactionFailure extends Error {
  constructor(
    readonly index: number,
    readonly status: number,
    readonly outcome: OperationOutcome,
  ) {
    super(`Bundle.entry[${index}] failed with ${status}`);
    this.name = 'TransactionFailure';
  }
}

/** Stops a bulk export run when its job was cancelled (deleted) or taken over by another instance; never answered to a client. */
export class ExportCancelled extends Error {}
