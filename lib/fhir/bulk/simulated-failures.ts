/**
 * The Bulk Data failures a client must survive, armed per client from the launcher on a backend
 * service launch (catalogue: lib/launch-options/simulated-errors.ts, kinds `bulk_*`). Each one is
 * the failure a real server gives, with the same status, headers and OperationOutcome; the kick-off
 * copies the launch's error into the job, so polls and downloads with a later token still see it.
 */
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { Db } from '../../db';
import type { SimulatedError } from '../../launch-options/simulated-errors';
import { FhirAuthError, FhirError, FhirThrottledError } from '../errors';
import { operationOutcome } from '../outcomes';

/** The bulk part of a launch's simulated error, or null. */
export function bulkSimulatedError(error: SimulatedError | null): SimulatedError | null {
  return error?.kind.startsWith('bulk_') ? error : null;
}

/** Kick-off: `bulk_kickoff_throttled` answers 429 until Retry-After has passed since the first attempt. */
export async function assertKickOffNotThrottled(db: Db, error: SimulatedError | null, launchId: string | null): Promise<void> {
  if (error?.kind !== 'bulk_kickoff_throttled' || !launchId) return;
  const key = `bulk-kickoff-throttled:${launchId}`;
  const row = await db.setting.upsert({ where: { key }, create: { key, value: new Date().toISOString() }, update: {} });
  const until = new Date(row.value).getTime() + error.retryAfterSeconds * 1000;
  if (Date.now() < until)
    throw new FhirThrottledError(
      `Too many bulk export requests: try again in ${error.retryAfterSeconds} seconds (simulated)`,
      Math.max(1, Math.ceil((until - Date.now()) / 1000)),
    );
}

/** The Retry-After a job's status answers give (seconds). */
export function retryAfterOf(error: SimulatedError | null, normal: number): number {
  return error?.kind === 'bulk_slow_job' ? error.retryAfterSeconds : normal;
}

/** Status: `bulk_slow_job` keeps answering 202 until twice its Retry-After has passed since the kick-off. */
export function slowJobPending(error: SimulatedError | null, createdAt: Date): boolean {
  return error?.kind === 'bulk_slow_job' && Date.now() < createdAt.getTime() + 2 * error.retryAfterSeconds * 1000;
}

/** Status: the transient 500 of `bulk_status_transient_error` (once per job), or null. */
export function transientStatusFailure(error: SimulatedError | null, alreadyShown: boolean): OperationOutcome | null {
  if (error?.kind !== 'bulk_status_transient_error' || alreadyShown) return null;
  return operationOutcome('error', 'transient', 'The export status is temporarily unavailable; retry after the Retry-After delay (simulated)');
}

/** Job: the types a run exports and the errors it reports, after `bulk_partial_output` and `bulk_error_outcome`. */
export function simulatedJobResult<T extends { type: string }>(
  error: SimulatedError | null,
  queries: T[],
  errors: OperationOutcome[],
): { queries: T[]; errors: OperationOutcome[] } {
  if (error?.kind === 'bulk_partial_output' && queries.length) {
    const dropped = queries[queries.length - 1]!;
    return {
      queries: queries.slice(0, -1),
      errors: [...errors, operationOutcome('error', 'incomplete', `The export of ${dropped.type} failed; its file is missing from this manifest (simulated)`)],
    };
  }
  if (error?.kind === 'bulk_error_outcome') {
    return {
      queries,
      errors: [...errors, operationOutcome('error', 'processing', 'A resource could not be exported: it failed validation on the server (simulated)')],
    };
  }
  return { queries, errors };
}

/**
 * Download: `bulk_file_expired` (the job's) answers 404; `bulk_token_expired_mid_download` (the
 * download token's own launch) refuses every file after the first with 401 invalid_token.
 */
export function assertDownloadAllowed(jobError: SimulatedError | null, tokenError: SimulatedError | null, isFirstFile: boolean): void {
  if (jobError?.kind === 'bulk_file_expired') throw new FhirError('not-found', 'The file has expired; start a new export (simulated)');
  if (tokenError?.kind === 'bulk_token_expired_mid_download' && !isFirstFile)
    throw new FhirAuthError('the access token has expired (simulated)', 'invalid_token');
}
