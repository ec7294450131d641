import { describe, it, expect } from 'vitest';
import type { Observation, Patient } from '@medplum/fhirtypes';
import type { ResourceStore } from '../../lib/fhir/store';
import { parseResourceBody } from '../../lib/fhir/store';
import { FhirError } from '../../lib/fhir/errors';

/** The store contract, run on SQLite (unit) and PostgreSQL (integration). */
export function storeSuite(label: string, getStore: () => ResourceStore): void {
  const A = 'sandbox-a';
  const B = 'sandbox-b';
  let store: ResourceStore;
  describe(`resource store on ${label}`, () => {
    it('opens', () => {
      store = getStore();
      expect(store).toBeDefined();
    });

    async function expectKind(p: Promise<unknown>, kind: FhirError['kind']): Promise<void> {
      await expect(p).rejects.toSatisfy((e: unknown) => e instanceof FhirError && e.kind === kind);
    }

    describe('resource store round trip', () => {
      it('create → read → update → vread old → history → delete → read is gone', async () => {
        const created = await store.create(A, { resourceType: 'Patient', name: [{ family: 'Round', given: ['Trip'] }] } as Patient);
        const id = created.resource.id!;
        expect(created.versionId).toBe(1);
        expect(created.resource.meta?.versionId).toBe('1');

        const read = await store.read(A, 'Patient', id);
        expect((read.resource as Patient).name?.[0]?.family).toBe('Round');

        const updated = await store.update(A, 'Patient', id, { resourceType: 'Patient', id, name: [{ family: 'Changed' }] } as Patient, { ifMatch: 1 });
        expect(updated.versionId).toBe(2);
        expect(updated.created).toBe(false);

        const v1 = await store.vread(A, 'Patient', id, 1);
        expect((v1.resource as Patient).name?.[0]?.family).toBe('Round');

        const history = await store.history(A, 'Patient', id);
        expect(history.map((h) => h.versionId)).toEqual([2, 1]);

        expect(await store.delete(A, 'Patient', id)).toBe(true);
        await expectKind(store.read(A, 'Patient', id), 'gone');
        const after = await store.history(A, 'Patient', id);
        expect(after[0]).toMatchObject({ versionId: 3, deleted: true, method: 'DELETE' });
        expect((await store.vread(A, 'Patient', id, 2)).versionId).toBe(2);
        expect(await store.delete(A, 'Patient', id)).toBe(false);
      });

      it('update of an unknown id creates it (update as create)', async () => {
        const res = await store.update(A, 'Patient', 'client-chosen-1', { resourceType: 'Patient', id: 'client-chosen-1' } as Patient);
        expect(res.created).toBe(true);
        expect(res.versionId).toBe(1);
      });

      it('read of an unknown resource is not-found', async () => {
        await expectKind(store.read(A, 'Patient', 'does-not-exist'), 'not-found');
      });

      it('creating a resource with an id that exists is a conflict, and the first version stays', async () => {
        await store.create(A, { resourceType: 'Patient', gender: 'female' } as Patient, 'taken-id-1');
        await expectKind(store.create(A, { resourceType: 'Patient', gender: 'male' } as Patient, 'taken-id-1'), 'conflict');
        const kept = await store.read(A, 'Patient', 'taken-id-1');
        expect(kept).toMatchObject({ versionId: 1, resource: { gender: 'female' } });
        expect(await store.history(A, 'Patient', 'taken-id-1')).toHaveLength(1);
      });
    });

    describe('optimistic concurrency', () => {
      it('two concurrent updates with the same expected version: exactly one succeeds', async () => {
        const { resource } = await store.create(A, { resourceType: 'Patient', name: [{ family: 'Race' }] } as Patient);
        const id = resource.id!;
        const results = await Promise.allSettled([
          store.update(A, 'Patient', id, { resourceType: 'Patient', id, name: [{ family: 'First' }] } as Patient, { ifMatch: 1 }),
          store.update(A, 'Patient', id, { resourceType: 'Patient', id, name: [{ family: 'Second' }] } as Patient, { ifMatch: 1 }),
        ]);
        const ok = results.filter((r) => r.status === 'fulfilled');
        const failed = results.filter((r) => r.status === 'rejected');
        expect(ok).toHaveLength(1);
        expect(failed).toHaveLength(1);
        expect((failed[0] as PromiseRejectedResult).reason).toMatchObject({ kind: 'version-conflict' });
        expect((await store.history(A, 'Patient', id)).map((h) => h.versionId)).toEqual([2, 1]);
      });

      it('concurrent updates without If-Match are serialised: no write is lost from the history', async () => {
        const { resource } = await store.create(A, { resourceType: 'Patient' } as Patient);
        const id = resource.id!;
        await Promise.all([1, 2, 3].map((n) => store.update(A, 'Patient', id, { resourceType: 'Patient', id, name: [{ family: `W${n}` }] } as Patient)));
        const history = await store.history(A, 'Patient', id);
        expect(history.map((h) => h.versionId)).toEqual([4, 3, 2, 1]);
        const families = history
          .slice(0, 3)
          .map((h) => (h.resource as Patient).name?.[0]?.family)
          .sort();
        expect(families).toEqual(['W1', 'W2', 'W3']);
      });

      it('If-Match with a stale version is a version conflict', async () => {
        const { resource } = await store.create(A, { resourceType: 'Patient' } as Patient);
        await expectKind(store.update(A, 'Patient', resource.id!, { resourceType: 'Patient', id: resource.id } as Patient, { ifMatch: 7 }), 'version-conflict');
      });
    });

    describe('sandboxes are isolated', () => {
      it('a resource of one sandbox is invisible in another', async () => {
        const { resource } = await store.create(A, { resourceType: 'Patient', name: [{ family: 'Tenant' }] } as Patient);
        await expectKind(store.read(B, 'Patient', resource.id!), 'not-found');
        expect(await store.history(B, 'Patient', resource.id!)).toEqual([]);
        expect(await store.delete(B, 'Patient', resource.id!)).toBe(false);
        await store.update(B, 'Patient', resource.id!, { resourceType: 'Patient', id: resource.id, name: [{ family: 'Other' }] } as Patient);
        expect(((await store.read(A, 'Patient', resource.id!)).resource as Patient).name?.[0]?.family).toBe('Tenant');
      });
    });

    describe('bad input is a typed error', () => {
      it('unknown resource type', async () => {
        await expectKind(store.create(A, { resourceType: 'Spaceship' } as unknown as Patient), 'invalid');
        await expectKind(store.read(A, 'Spaceship', 'x'), 'unknown-type');
      });
      it('malformed JSON and non-object bodies', async () => {
        expect(() => parseResourceBody('{"resourceType": "Patient",')).toThrow(FhirError);
        expect(() => parseResourceBody('[1,2]')).toThrow(/JSON object/);
        expect(() => parseResourceBody('{"name": []}')).toThrow(/resourceType/);
      });
      it('ids with illegal characters', async () => {
        await expectKind(store.read(A, 'Patient', '../etc/passwd'), 'invalid');
        await expectKind(store.read(A, 'Patient', 'a'.repeat(65)), 'invalid');
        await expectKind(store.update(A, 'Patient', 'bad id', { resourceType: 'Patient' } as Patient), 'invalid');
      });
      it('body type different from the URL type', async () => {
        await expectKind(store.update(A, 'Patient', 'x1', { resourceType: 'Observation', status: 'final', code: {} } as Observation), 'invalid');
      });
      it('body id different from the URL id', async () => {
        await expectKind(store.update(A, 'Patient', 'x1', { resourceType: 'Patient', id: 'x2' } as Patient), 'invalid');
      });
    });
  });
}
