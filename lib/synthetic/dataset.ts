import type { Resource } from '@medplum/fhirtypes';
import { generateResolved } from './cohort';
import { resolveOptions } from './options';
import type { GenerateOptions } from './options';
import type { PatientRecord } from './patient';
import { generateRoster } from './roster';
import { generateSharedResources } from './shared';

export const MAX_PATIENTS = 10_000;

export interface DatasetOptions extends GenerateOptions {
  /** Cohort size, 1..10,000. */
  readonly patients: number;
  readonly anchorDate: string;
  /** Append the edge-case roster after the cohort (default true). */
  readonly includeRoster?: boolean;
}

/** One step of a dataset stream: the shared resources come first, then one patient record at a time. */
export type DatasetItem =
  | { readonly kind: 'shared'; readonly resources: Resource[] }
  | { readonly kind: 'patient'; readonly record: PatientRecord; readonly roster: boolean };

/**
 * Streams a dataset: never more than one patient record in memory, so 10,000 patients cost what
 * one does. Cohort patient i is the same for any `patients` ≥ i + 1.
 */
export function* generateDataset(opts: DatasetOptions): Generator<DatasetItem, void, undefined> {
  if (!Number.isInteger(opts.patients) || opts.patients < 1 || opts.patients > MAX_PATIENTS) {
    throw new RangeError(`patients must be an integer in 1..${MAX_PATIENTS}, got ${opts.patients}`);
  }
  const resolved = resolveOptions(opts);
  yield { kind: 'shared', resources: generateSharedResources() };
  for (let i = 0; i < opts.patients; i++) yield { kind: 'patient', record: generateResolved(i, resolved), roster: false };
  if (opts.includeRoster !== false) {
    for (const record of generateRoster({ anchorDate: resolved.anchorDate })) yield { kind: 'patient', record, roster: true };
  }
}
