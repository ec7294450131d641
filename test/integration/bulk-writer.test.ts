import { describe, it, expect, inject, afterAll } from 'vitest';
import type { Observation, Patient } from '@medplum/fhirtypes';
import { createDb } from '../../lib/db';
import { createBulkWriter } from '../../lib/fhir/bulk-writer';
import { ResourceStore } from '../../lib/fhir/store';

const url = inject('databaseUrl');
const { db } = createDb(url);
const writer = createBulkWriter(url);
afterAll(() => writer.close());

describe(`bulk writer on ${inject('databaseKind')}`, () => {
  it('writes resources, index rows and compartments exactly like the store does', async () => {
    const sandboxId = 'bulk-test';
    const patient: Patient = { resourceType: 'Patient', id: 'bulk-p1', name: [{ family: 'Bulk' }], birthDate: '1970-01-01' };
    const obs: Observation = {
      resourceType: 'Observation',
      id: 'bulk-o1',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: 'Patient/bulk-p1' },
      effectiveDateTime: '2024-01-01',
    };
    expect(await writer.write(sandboxId, [patient, obs])).toBe(2);

    const store = new ResourceStore(db);
    const read = await store.read(sandboxId, 'Observation', 'bulk-o1');
    expect(read.versionId).toBe(1);
    expect(read.resource.meta?.versionId).toBe('1');
    expect(await store.compartmentsOf(sandboxId, 'Observation', 'bulk-o1')).toEqual(['bulk-p1']);

    // The same resource written through the store yields the same index rows.
    await store.create('bulk-compare', { ...obs, id: undefined }, 'bulk-o1');
    const count = async (sb: string) => ({
      tokens: await db.searchToken.count({ where: { sandboxId: sb, resourceId: 'bulk-o1' } }),
      dates: await db.searchDate.count({ where: { sandboxId: sb, resourceId: 'bulk-o1' } }),
      refs: await db.searchReference.count({ where: { sandboxId: sb, resourceId: 'bulk-o1' } }),
    });
    expect(await count(sandboxId)).toEqual(await count('bulk-compare'));
    const updated = await store.update(sandboxId, 'Observation', 'bulk-o1', { ...obs, status: 'amended' }, { ifMatch: 1 });
    expect(updated.versionId).toBe(2);
  });

  it('a failing batch writes nothing (one transaction per batch)', async () => {
    const sandboxId = 'bulk-atomic';
    const good: Patient = { resourceType: 'Patient', id: 'atomic-1' };
    await expect(writer.write(sandboxId, [good, { ...good }])).rejects.toThrow();
    expect(await db.resource.count({ where: { sandboxId } })).toBe(0);
    expect(await db.searchToken.count({ where: { sandboxId } })).toBe(0);
  });
});
