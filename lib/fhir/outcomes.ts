import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { issueCodeOf } from './errors';
import type { FhirError } from './errors';
import type { FhirErrorKind } from './errors';

/**
 * The one place that decides the HTTP status of a FHIR failure.
 * FHIR R4 http.html §3.1.0.4: 400 bad syntax, 401 no/bad token, 403 not permitted, 404 unknown
 * (and anything the caller may not see), 405 interaction not supported, 409/412 version
 * conflicts, 410 deleted, 415 media type, 422 business rules, 429 throttled.
 */
export function statusOf(kind: FhirErrorKind): number {
  switch (kind) {
    case 'invalid':
      return 400;
    case 'unauthorized':
      return 401;
    case 'forbidden':
      return 403;
    case 'not-found':
    case 'unknown-type':
      return 404;
    case 'not-supported':
      return 405;
    case 'conflict':
      return 409;
    case 'gone':
      return 410;
    case 'version-conflict':
      return 412;
    case 'unsupported-media-type':
      return 415;
    case 'unprocessable':
      return 422;
    case 'too-many-requests':
      return 429;
  }
}

/** An OperationOutcome with one issue. */
export function operationOutcome(severity: OperationOutcomeIssue['severity'], code: string, diagnostics: string, expression?: string): OperationOutcome {
  const issue: OperationOutcomeIssue = { severity, code: code as OperationOutcomeIssue['code'], diagnostics };
  if (expression) issue.expression = [expression];
  return { resourceType: 'OperationOutcome', issue: [issue] };
}

/** The OperationOutcome of a typed failure. */
export function outcomeOf(err: FhirError): OperationOutcome {
  return operationOutcome('error', issueCodeOf[err.kind], err.message, err.expression);
}

/** A successful informational outcome (e.g. the body of a DELETE). */
export function informationOutcome(diagnostics: string): OperationOutcome {
  return operationOutcome('information', 'informational', diagnostics);
}

/** The body of an unexpected failure: never internals (they may hold SQL); the router logs them. */
export function internalErrorOutcome(): OperationOutcome {
  return operationOutcome('fatal', 'exception', 'The server could not complete the request');
}
