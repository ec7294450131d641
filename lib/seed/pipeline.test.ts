import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { sqliteFile } from '../db';
import { env } from '../env';
import { createBulkWriter } from '../fhir/bulk-writer';
import { ROSTER_IDS } from '../synthetic';
import { seedBatches } from './batches';
import type { BatchPlan, SeedBatch } from './batches';
import { streamSeedBatches } from './pipeline';
import type { PipelineOptions } from './pipeline';

const plan: BatchPlan = {
  sandboxId: 'pipeline',
  dataset: { seed: 5, patients: 12, anchorDate: '2026-01-01', includeRoster: true },
  batchSize: 700,
  lastUpdated: '2026-01-02T03:04:05.678Z',
};

async function collect(p: BatchPlan, options: PipelineOptions): Promise<SeedBatch[]> {
  const out: SeedBatch[] = [];
  for await (const batch of streamSeedBatches(p, options)) out.push(batch);
  return out;
}

const digest = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex');

const SEEDED_TABLES = ['Resource', 'ResourceVersion', 'SearchToken', 'SearchString', 'SearchDate', 'SearchReference', 'SearchQuantity', 'CompartmentMember'];

/** Every row of the tables a seed fills, in a fixed order, without the autoincrement row ids. */
function dumpDatabase(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    const hash = createHash('sha256');
    for (const table of SEEDED_TABLES) {
      const columns = (db.prepare(`PRAGMA table_info("${table}")`).all() as { name: string }[]).map((c) => `"${c.name}"`).filter((c) => c !== '"rowId"');
      const rows = db
        .prepare(`SELECT ${columns.join(', ')} FROM "${table}" ORDER BY ${columns.join(', ')}`)
        .raw()
        .all();
      expect(rows.length, table).toBeGreaterThan(0);
      hash.update(`${table}\n${JSON.stringify(rows)}\n`);
    }
    return hash.digest('hex');
  } finally {
    db.close();
  }
}

describe('seed pipeline', () => {
  it('yields the same batches on a worker thread as on the calling thread, and as with FHIRPath-only indexing', async () => {
    const onWorker = await collect(plan, { threads: 'worker' });
    const inline = await collect(plan, { threads: 'inline' });
    const reference = [...seedBatches({ ...plan, fhirPathOnly: true })];
    expect(onWorker.length).toBeGreaterThan(5);
    expect(onWorker.reduce((n, b) => n + b.patients, 0)).toBe(12 + ROSTER_IDS.length);
    expect(digest(onWorker)).toBe(digest(inline));
    expect(digest(onWorker)).toBe(digest(reference));
    // Different seeds give different data.
    expect(digest(await collect({ ...plan, dataset: { ...plan.dataset, seed: 6 } }, { threads: 'worker' }))).not.toBe(digest(onWorker));
  }, 300_000);

  it('stores the same resources and index rows through either thread', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seed-pipeline-'));
    try {
      const files = [join(dir, 'worker.db'), join(dir, 'inline.db')];
      for (const f of files) copyFileSync(sqliteFile(env.DATABASE_URL), f);
      for (const [file, threads] of [
        [files[0]!, 'worker'],
        [files[1]!, 'inline'],
      ] as const) {
        const writer = createBulkWriter(`file:${file}`);
        try {
          for await (const batch of streamSeedBatches(plan, { threads })) await writer.writeBatch(batch);
        } finally {
          await writer.close();
        }
      }
      expect(dumpDatabase(files[0]!)).toBe(dumpDatabase(files[1]!));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('keeps the worker at most maxAhead batches ahead of a slow writer', async () => {
    let most = 0;
    let batches = 0;
    const small: BatchPlan = { ...plan, dataset: { ...plan.dataset, patients: 12, includeRoster: false }, batchSize: 150 };
    for await (const _batch of streamSeedBatches(small, { threads: 'worker', maxAhead: 2, onBacklog: (n) => (most = Math.max(most, n)) })) {
      batches++;
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(batches).toBeGreaterThan(6);
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(2);
  }, 120_000);

  it('stops the worker when the writer stops early', async () => {
    let taken = 0;
    for await (const _batch of streamSeedBatches(
      { ...plan, dataset: { ...plan.dataset, patients: 200, includeRoster: false } },
      { threads: 'worker', maxAhead: 1 },
    )) {
      taken++;
      break;
    }
    expect(taken).toBe(1);
  }, 60_000);

  it('reports a generation error from the worker', async () => {
    const bad: BatchPlan = { ...plan, dataset: { ...plan.dataset, patients: 0 } };
    await expect(collect(bad, { threads: 'worker' })).rejects.toThrow(/patients must be an integer/);
    await expect(collect({ ...bad, dataset: { ...bad.dataset, patients: 20_000 } }, {})).rejects.toThrow(RangeError);
  }, 60_000);
});
