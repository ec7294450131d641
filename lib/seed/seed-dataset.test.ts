import { describe, it, expect } from 'vitest';
import { env } from '../env';
import { getDb } from '../db';
import { DATASET_VERSION } from './dataset-version';
import { seedDataset } from './seed-dataset';
import type { SeedOptions } from './seed-dataset';

const base: SeedOptions = {
  databaseUrl: env.DATABASE_URL,
  sandboxId: 'seed-test',
  patients: 2,
  seed: 3,
  anchorDate: '2026-01-01',
  includeRoster: false,
  reset: false,
  ifEmpty: false,
};

describe('seedDataset', () => {
  it('stores every generated resource with its index rows, skips a non-empty sandbox with ifEmpty, and reset replaces the data', async () => {
    const first = await seedDataset(base);
    expect(first.skipped).toBe(false);
    expect(first.patients).toBe(2);
    const db = getDb();
    expect(await db.resource.count({ where: { sandboxId: 'seed-test' } })).toBe(first.resources);
    expect(first.byType.Patient).toBe(2);
    expect(await db.compartmentMember.count({ where: { sandboxId: 'seed-test', patientId: 'pat-3-0' } })).toBeGreaterThan(10);

    const again = await seedDataset({ ...base, ifEmpty: true });
    expect(again).toMatchObject({ skipped: true, existing: first.resources });
    expect(again.outdated).toBeUndefined();
    const record = JSON.parse((await db.setting.findUniqueOrThrow({ where: { key: 'dataset:seed-test' } })).value) as Record<string, unknown>;
    expect(record.version).toBe(DATASET_VERSION);

    // A dataset stored by an earlier version (or one that recorded none) is left alone, and said to be outdated.
    for (const [stored, value] of [
      [DATASET_VERSION - 1, { ...record, version: DATASET_VERSION - 1 }],
      [null, { ...record, version: undefined }],
    ] as const) {
      await db.setting.update({ where: { key: 'dataset:seed-test' }, data: { value: JSON.stringify(value) } });
      const outdated = await seedDataset({ ...base, ifEmpty: true });
      expect(outdated).toMatchObject({ skipped: true, existing: first.resources, outdated: { stored, current: DATASET_VERSION } });
    }
    expect(await db.resource.count({ where: { sandboxId: 'seed-test' } })).toBe(first.resources);

    const reset = await seedDataset({ ...base, reset: true, seed: 4 });
    expect(reset.patients).toBe(2);
    expect(await db.resource.count({ where: { sandboxId: 'seed-test', id: 'pat-3-0' } })).toBe(0);
    expect(await db.resource.count({ where: { sandboxId: 'seed-test', id: 'pat-4-0' } })).toBe(1);
    expect(JSON.parse((await db.setting.findUniqueOrThrow({ where: { key: 'dataset:seed-test' } })).value)).toMatchObject({
      seed: 4,
      anchorDate: '2026-01-01',
    });
  });
});
