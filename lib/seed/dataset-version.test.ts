import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { seedBatches } from './batches';
import { DATASET_VERSION } from './dataset-version';

/** The fingerprint of the stored form at each dataset version (see dataset-version.ts). */
const FINGERPRINTS: Record<number, string> = {
  1: '3bf3119eaeea097e50fb8615df29c663214b328c6d6be217c0e6a43fa9c5ccad',
};

/** sha256 of every batch that seeding three cohort patients and the roster would write. */
function storedFingerprint(): string {
  const hash = createHash('sha256');
  const batches = seedBatches({
    sandboxId: 'fingerprint',
    dataset: { seed: 1, patients: 3, anchorDate: '2025-06-01', includeRoster: true },
    lastUpdated: '2025-06-01T00:00:00.000Z',
  });
  for (const batch of batches) hash.update(JSON.stringify(batch)).update('\n');
  return hash.digest('hex');
}

describe('dataset version', () => {
  it('changes whenever the stored form of the dataset does', () => {
    const fingerprint = storedFingerprint();
    expect(storedFingerprint(), 'seeding is deterministic').toBe(fingerprint);
    expect(
      FINGERPRINTS[DATASET_VERSION],
      `the stored dataset changed: bump DATASET_VERSION in lib/seed/dataset-version.ts and record ${fingerprint} for it here`,
    ).toBe(fingerprint);
  });
});
