/**
 * The FHIR API's simulated failures (see lib/oauth/simulated-failures.ts for the authorization
 * server's): a launch's simulated error turned into the failure a real one would give.
 *
 *   FHIR API   simulatedFhirFailure      fhir_rate_limited (429 with Retry-After)
 *              simulatedDeletedPatient   patient_deleted (the patient in context reads as deleted)
 */
import { FhirThrottledError } from './errors';
import type { SimulatedError } from '../launch-options/simulated-errors';

/** FHIR API, after the token was verified: the failure of the whole request (429), or null. */
export function simulatedFhirFailure(error: SimulatedError | null): FhirThrottledError | null {
  if (error?.kind !== 'fhir_rate_limited') return null;
  return new FhirThrottledError(`Too many requests: try again in ${error.retryAfterSeconds} seconds`, error.retryAfterSeconds);
}

/** FHIR API: the patient whose record is to look deleted (the token's patient in context), or null. */
export function simulatedDeletedPatient(error: SimulatedError | null, patientInContext: string | null): string | null {
  return error?.kind === 'patient_deleted' ? patientInContext : null;
}
