import type { Resource } from '@medplum/fhirtypes';
import { generateResolved } from './cohort';
import { resolveOptions } from './options';
import type { GenerateOptions } from './options';
import type { PatientRecord } from './patient';
import { generateRoster } from './roster';
import { GroupCollector } from './groups';
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
  | { readonly kind: 'patient'; readonly record: PatientRecord; readonly roster: boolean }
  | { readonly kind: 'groups'; readonly resources: Resource[] };

/**
 * Streams a dataset: never more than one patient record in memory, so 10,000 patients cost what
 * one does. Cohort patient i is the same for any `patients` ≥ i + 1. The Groups of its cohorts
 * (lib/synthetic/groups.ts) come last.
 */
export function* generateDataset(opts: DatasetOptions): Generator<DatasetItem, void, undefined> {
  if (!Number.isInteger(opts.patients) || opts.patients < 1 || opts.patients > MAX_PATIENTS) {
    throw new RangeError(`patients must be an integer in 1..${MAX_PATIENTS}, got ${opts.patients}`);
  }
  const resolved = resolveOptions(opts);
  yield { kind: 'shared', resources: generateSharedResources() };
  const groups = new GroupCollector();
  for (let i = 0; i < opts.patients; i++) {
    const record = generateResolved(i, resolved);
    groups.add(record);
    yield { kind: 'patient', record, roster: false };
  }
  if (opts.includeRoster !== false) {
    for (const record of generateRoster({ anchorDate: resolved.anchorDate })) {
      groups.add(record);
      yield { kind: 'patient', record, roster: true };
    }
  }
  yield { kind: 'groups', resources: groups.groups() };
}
