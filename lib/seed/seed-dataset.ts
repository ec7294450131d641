import type { Writable } from 'node:stream';
import type { Db } from '../db';
import type { BulkWriter } from '../fhir/bulk-writer';
import { createDb } from '../db';
import { createBulkWriter } from '../fhir/bulk-writer';
import { ROSTER_IDS } from '../synthetic';
import { DATASET_VERSION } from './dataset-version';
import { streamSeedBatches } from './pipeline';

export interface SeedOptions {
  databaseUrl: string;
  sandboxId: string;
  patients: number;
  seed: number;
  /** YYYY-MM-DD; default today (UTC). */
  anchorDate?: string;
  condition?: string;
  minAge?: number;
  maxAge?: number;
  includeRoster: boolean;
  reset: boolean;
  /** Do nothing when the sandbox already holds resources. */
  ifEmpty: boolean;
  progress?: Writable & { isTTY?: boolean };
}

export interface SeedSummary {
  skipped: boolean;
  existing: number;
  patients: number;
  resources: number;
  byType: Record<string, number>;
  seconds: number;
  seed: number;
  anchorDate: string;
  /**
   * When a non-empty sandbox was left alone (ifEmpty) and its dataset was stored at another
   * DATASET_VERSION (null: before versions were recorded), that version and ours.
   */
  outdated?: { stored: number | null; current: number };
}

function progressBar(out: SeedOptions['progress'], total: number): (done: number, resources: number, final?: boolean) => void {
  if (!out) return () => undefined;
  const started = performance.now();
  let lastDecile = -1;
  return (done, resources, final = false) => {
    const fraction = total ? Math.min(1, done / total) : 1;
    const secs = (performance.now() - started) / 1000;
    const rate = Math.round(resources / Math.max(secs, 0.001));
    const text = `${done}/${total} patients, ${resources} resources, ${rate} resources/s`;
    if (out.isTTY) {
      const width = 30;
      const filled = Math.round(fraction * width);
      out.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round(fraction * 100)}% ${text}${final ? '\n' : ''}`);
    } else {
      const decile = Math.floor(fraction * 10);
      if (decile !== lastDecile || final) {
        lastDecile = decile;
        out.write(`seed: ${Math.round(fraction * 100)}% ${text}\n`);
      }
    }
  };
}

/** Generates a dataset and stores it, whole patients per transaction. */
export async function seedDataset(opts: SeedOptions): Promise<SeedSummary> {
  const anchorDate = opts.anchorDate ?? new Date().toISOString().slice(0, 10);
  const { db } = createDb(opts.databaseUrl);
  try {
    return await seedWith(db, opts, anchorDate);
  } finally {
    await db.$disconnect();
  }
}

/** The options of a dataset, as kept in the seeding marker so an interrupted seed resumes the same data. */
interface DatasetSpec {
  seed: number;
  anchorDate: string;
  patients: number;
  condition: string | null;
  minAge: number | null;
  maxAge: number | null;
  roster: boolean;
}

/** Setting that exists while a seed of the sandbox is under way: a seed killed midway leaves it behind. */
const seedingKey = (sandboxId: string) => `seeding:${sandboxId}`;
/** Setting that describes the sandbox's dataset once it is complete. */
const datasetKey = (sandboxId: string) => `dataset:${sandboxId}`;

function parseSpec(value: string): DatasetSpec | null {
  try {
    const v = JSON.parse(value) as Partial<DatasetSpec>;
    if (!Number.isInteger(v.seed) || !Number.isInteger(v.patients) || typeof v.anchorDate !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v.anchorDate))
      return null;
    return {
      seed: v.seed!,
      anchorDate: v.anchorDate,
      patients: v.patients!,
      condition: typeof v.condition === 'string' ? v.condition : null,
      minAge: typeof v.minAge === 'number' ? v.minAge : null,
      maxAge: typeof v.maxAge === 'number' ? v.maxAge : null,
      roster: v.roster !== false,
    };
  } catch {
    return null;
  }
}

/** The DATASET_VERSION the sandbox's complete dataset was stored at; null when its record names none (or there is no record). */
async function storedDatasetVersion(db: Db, sandboxId: string): Promise<number | null> {
  const record = await db.setting.findUnique({ where: { key: datasetKey(sandboxId) } });
  if (!record) return null;
  try {
    const version = (JSON.parse(record.value) as { version?: unknown }).version;
    return Number.isInteger(version) ? (version as number) : null;
  } catch {
    return null;
  }
}

/** Checks what the sandbox holds, then stores the dataset unless there is nothing to do. */
async function seedWith(db: Db, opts: SeedOptions, anchorDate: string): Promise<SeedSummary> {
  const existing = await db.resource.count({ where: { sandboxId: opts.sandboxId } });
  const marker = await db.setting.findUnique({ where: { key: seedingKey(opts.sandboxId) } });
  const interrupted = marker ? parseSpec(marker.value) : null;
  const spec: DatasetSpec = {
    seed: opts.seed,
    anchorDate,
    patients: opts.patients,
    condition: opts.condition ?? null,
    minAge: opts.minAge ?? null,
    maxAge: opts.maxAge ?? null,
    roster: opts.includeRoster,
  };
  // A sandbox with data and no marker holds a complete dataset (or data of its own): leave it.
  if (opts.ifEmpty && existing > 0 && !marker) {
    const stored = await storedDatasetVersion(db, opts.sandboxId);
    return {
      skipped: true,
      existing,
      patients: 0,
      resources: 0,
      byType: {},
      seconds: 0,
      seed: opts.seed,
      anchorDate,
      ...(stored === DATASET_VERSION ? {} : { outdated: { stored, current: DATASET_VERSION } }),
    };
  }
  const writer = createBulkWriter(opts.databaseUrl);
  let stored: { summary: SeedSummary; started: number };
  try {
    stored = await store(db, writer, opts, existing, interrupted, spec);
  } finally {
    await writer.close();
  }
  // From the start of generation to the data stored, the wipe of the old data (overlapped with
  // generation) and the final checkpoint included.
  return { ...stored.summary, seconds: (performance.now() - stored.started) / 1000 };
}

/** Wipes or resumes as asked, then writes the dataset batch by batch behind a marker. */
async function store(
  db: Db,
  writer: BulkWriter,
  opts: SeedOptions,
  existing: number,
  interrupted: DatasetSpec | null,
  requested: DatasetSpec,
): Promise<{ summary: SeedSummary; started: number }> {
  let spec = requested;
  // Resources already stored by an interrupted run of the same dataset: skipped, the rest written.
  let stored = new Set<string>();
  if (opts.ifEmpty && existing > 0) {
    if (interrupted) {
      // The seed that left the marker was killed: finish that dataset (its batches hold whole
      // patients, so what is stored is complete per patient) rather than calling it seeded.
      spec = interrupted;
      opts.progress?.write(`seed: resuming an interrupted seed (seed ${spec.seed}, ${spec.patients} patients, anchor date ${spec.anchorDate})\n`);
      const rows = await db.resource.findMany({ where: { sandboxId: opts.sandboxId }, select: { type: true, id: true } });
      stored = new Set(rows.map((r) => `${r.type}/${r.id}`));
    } else {
      // A marker that cannot be read: start the dataset again.
      await writer.clear(opts.sandboxId);
    }
  }
  const started = performance.now();
  // A large dataset is generated and indexed on a worker thread while this one writes
  // (lib/seed/pipeline.ts). The worker starts now: its first batch is under way while the old
  // data is being deleted.
  const stream = streamSeedBatches({
    sandboxId: opts.sandboxId,
    dataset: {
      seed: spec.seed,
      patients: spec.patients,
      anchorDate: spec.anchorDate,
      condition: spec.condition ?? undefined,
      minAge: spec.minAge ?? undefined,
      maxAge: spec.maxAge ?? undefined,
      includeRoster: spec.roster,
    },
    skip: [...stored],
  });
  const first = stream.next();
  // Awaited below; until then a failure of the worker must not count as an unhandled rejection.
  first.catch(() => undefined);
  const byType: Record<string, number> = {};
  let resources = 0;
  let patients = 0;
  const rosterSize = spec.roster ? ROSTER_IDS.length : 0;
  const bar = progressBar(opts.progress, spec.patients + rosterSize);
  try {
    // The marker goes in before any data, the dataset record of what is about to be replaced goes out.
    const markerValue = JSON.stringify({ ...spec, startedAt: new Date().toISOString() });
    await db.$transaction([
      db.setting.upsert({
        where: { key: seedingKey(opts.sandboxId) },
        create: { key: seedingKey(opts.sandboxId), value: markerValue },
        update: { value: markerValue },
      }),
      db.setting.deleteMany({ where: { key: datasetKey(opts.sandboxId) } }),
    ]);
    if (opts.reset && existing > 0) await writer.clear(opts.sandboxId);
    for (let next = await first; !next.done; next = await stream.next()) {
      const batch = next.value;
      await writer.writeBatch(batch);
      for (const [type, n] of Object.entries(batch.byType)) byType[type] = (byType[type] ?? 0) + n;
      resources += batch.count;
      patients += batch.patients;
      bar(patients, resources);
    }
  } catch (err) {
    // Stops the worker (once the batch it is building, if any, is done).
    await stream.return(undefined);
    throw err;
  }
  bar(patients, resources, true);
  // The dataset record and the marker change together: a dataset is either complete or marked as under way.
  const value = JSON.stringify({
    seed: spec.seed,
    anchorDate: spec.anchorDate,
    patients: spec.patients,
    condition: spec.condition,
    roster: spec.roster,
    version: DATASET_VERSION,
    at: new Date().toISOString(),
  });
  await db.$transaction([
    db.setting.upsert({ where: { key: datasetKey(opts.sandboxId) }, create: { key: datasetKey(opts.sandboxId), value }, update: { value } }),
    db.setting.deleteMany({ where: { key: seedingKey(opts.sandboxId) } }),
  ]);
  return { summary: { skipped: false, existing, patients, resources, byType, seconds: 0, seed: spec.seed, anchorDate: spec.anchorDate }, started };
}
