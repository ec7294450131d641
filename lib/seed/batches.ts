import type { Resource } from '@medplum/fhirtypes';
import { toBulkBatch } from '../fhir/bulk-rows';
import type { BulkBatch } from '../fhir/bulk-rows';
import { generateDataset, ROSTER_IDS } from '../synthetic';
import type { DatasetOptions } from '../synthetic';

/** What to generate and how to cut it into transactions. Plain data: it is handed to a worker thread as is. */
export interface BatchPlan {
  sandboxId: string;
  dataset: DatasetOptions;
  /** "Type/id" of resources already stored (an interrupted seed being finished): left out. */
  skip?: readonly string[];
  /** A batch is closed once it holds at least this many resources (default: defaultBatchSize). */
  batchSize?: number;
  /** `meta.lastUpdated` of every resource; default: the time each batch is built. */
  lastUpdated?: string;
  /** Index with FHIRPath only (the reference the compiled search paths are measured against). */
  fhirPathOnly?: boolean;
}

/** A batch of whole patients, ready to write, with what it holds. */
export interface SeedBatch extends BulkBatch {
  /** Patients with at least one resource in this batch. */
  patients: number;
  byType: Record<string, number>;
}

/**
 * About thirty patients per transaction: fewer commits rewrite the same index pages less often (on
 * SQLite a 6,000-resource batch costs ~12% less CPU per resource than a 2,000-resource one, which
 * costs ~15% less than a 500-resource one; no gain beyond).
 */
export const DEFAULT_BATCH_SIZE = 6000;

/**
 * Batch size for a dataset of this many patients: DEFAULT_BATCH_SIZE, or about a tenth of a
 * smaller dataset (~200 resources per patient), so that its progress still shows and an
 * interrupted seed of it has stored part of it.
 */
export function defaultBatchSize(patients: number): number {
  return Math.min(DEFAULT_BATCH_SIZE, Math.max(200, 20 * patients));
}

/**
 * Generates a dataset and cuts it into batches of whole patients: patients are grouped so a
 * transaction carries several thousand resources, and a batch never holds part of a patient, so an
 * interrupted seed leaves no half-written patient. Runs the same on any thread: same plan, same
 * batches.
 */
export function* seedBatches(plan: BatchPlan): Generator<SeedBatch, void, undefined> {
  const size = plan.batchSize ?? defaultBatchSize(plan.dataset.patients + (plan.dataset.includeRoster === false ? 0 : ROSTER_IDS.length));
  const skip = plan.skip?.length ? new Set(plan.skip) : null;
  let batch: Resource[] = [];
  let patients = 0;
  const close = (): SeedBatch => {
    const byType: Record<string, number> = {};
    for (const r of batch) byType[r.resourceType] = (byType[r.resourceType] ?? 0) + 1;
    const built = { ...toBulkBatch(plan.sandboxId, batch, plan.lastUpdated, { fhirPathOnly: plan.fhirPathOnly }), patients, byType };
    batch = [];
    patients = 0;
    return built;
  };
  for (const item of generateDataset(plan.dataset)) {
    const all = item.kind === 'patient' ? toResourceList([item.record.patient, ...item.record.resources]) : toResourceList(item.resources);
    const list = skip ? all.filter((r) => !skip.has(`${r.resourceType}/${r.id}`)) : all;
    if (item.kind === 'patient' && list.length) patients++;
    batch.push(...list);
    if (batch.length >= size) yield close();
  }
  if (batch.length) yield close();
}

/** Resources in order, without duplicates. */
function toResourceList(list: Resource[]): Resource[] {
  const seen = new Set<string>();
  return list.filter((r) => {
    const key = `${r.resourceType}/${r.id}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
