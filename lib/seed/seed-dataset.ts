import type { Writable } from 'node:stream';
import type { Resource } from '@medplum/fhirtypes';
import type { Db } from '../db';
import { createDb } from '../db';
import { createBulkWriter } from '../fhir/bulk-writer';
import { generateDataset, ROSTER_IDS } from '../synthetic';

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
}

/** Deletes a sandbox's FHIR data (not its clients, tokens or audit). */
async function wipeSandboxData(db: Db, sandboxId: string): Promise<void> {
  const where = { sandboxId };
  await db.$transaction([
    db.searchToken.deleteMany({ where }),
    db.searchString.deleteMany({ where }),
    db.searchDate.deleteMany({ where }),
    db.searchReference.deleteMany({ where }),
    db.searchQuantity.deleteMany({ where }),
    db.compartmentMember.deleteMany({ where }),
    db.resourceVersion.deleteMany({ where }),
    db.resource.deleteMany({ where }),
  ]);
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

async function seedWith(db: Db, opts: SeedOptions, anchorDate: string): Promise<SeedSummary> {
  const existing = await db.resource.count({ where: { sandboxId: opts.sandboxId } });
  if (opts.ifEmpty && existing > 0) return { skipped: true, existing, patients: 0, resources: 0, byType: {}, seconds: 0, seed: opts.seed, anchorDate };
  if (opts.reset && existing > 0) await wipeSandboxData(db, opts.sandboxId);

  const writer = createBulkWriter(opts.databaseUrl);
  const started = performance.now();
  const byType: Record<string, number> = {};
  let resources = 0;
  let patients = 0;
  const rosterSize = opts.includeRoster ? ROSTER_IDS.length : 0;
  const bar = progressBar(opts.progress, opts.patients + rosterSize);
  // Small patients are grouped so a transaction carries a few hundred resources; a batch only
  // ever holds whole patients.
  let batch: Resource[] = [];
  let batchPatients = 0;
  const flush = async () => {
    if (!batch.length) return;
    await writer.write(opts.sandboxId, batch);
    for (const r of batch) byType[r.resourceType] = (byType[r.resourceType] ?? 0) + 1;
    resources += batch.length;
    patients += batchPatients;
    batch = [];
    batchPatients = 0;
    bar(patients, resources);
  };
  try {
    for (const item of generateDataset({
      seed: opts.seed,
      patients: opts.patients,
      anchorDate,
      condition: opts.condition,
      minAge: opts.minAge,
      maxAge: opts.maxAge,
      includeRoster: opts.includeRoster,
    })) {
      const list = item.kind === 'patient' ? toResourceList([item.record.patient, ...item.record.resources]) : toResourceList(item.resources);
      if (item.kind === 'patient') batchPatients++;
      batch.push(...list);
      if (batch.length >= 500) await flush();
    }
    await flush();
    bar(patients, resources, true);
    const value = JSON.stringify({ seed: opts.seed, anchorDate, patients: opts.patients, condition: opts.condition ?? null, roster: opts.includeRoster, at: new Date().toISOString() });
    await db.setting.upsert({ where: { key: `dataset:${opts.sandboxId}` }, create: { key: `dataset:${opts.sandboxId}`, value }, update: { value } });
  } finally {
    await writer.close();
  }
  return { skipped: false, existing, patients, resources, byType, seconds: (performance.now() - started) / 1000, seed: opts.seed, anchorDate };
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
