import { beforeAll, describe, expect, it } from 'vitest';
import { getDb, getDbKind } from '../../../lib/db';
import { rawQuery } from '../../../lib/db/direct';
import { env } from '../../../lib/env';
import { ResourceStore } from '../../../lib/fhir/store';
import { Prisma } from '../../../lib/generated/sqlite/client';
import { registerClient } from '../../../lib/oauth/clients';
import { counter, getRateLimiter } from '../../../lib/ratelimit/policy';
import { runInSandbox, resolveSandbox, sandboxContextOf } from '../../../lib/sandbox/context';
import { newSandboxId, rateLimitKeyPrefix } from '../../../lib/sandbox';
import { FHIR_DATA_TABLES, SANDBOX_DATA_TABLES, deleteSandboxData, provisionSandbox } from '../../../lib/sandbox/provision';
import { seedDataset } from '../../../lib/seed/seed-dataset';

const BASE = `base-${newSandboxId()}`;

/** Rows of a sandbox in every table that holds sandbox data (directly or through a parent row). */
async function rowsOf(id: string): Promise<Record<string, number>> {
  const db = getDb();
  const counts: Record<string, number> = {};
  for (const table of SANDBOX_DATA_TABLES) {
    const [row] = await rawQuery<{ n: number | bigint }>(db, Prisma.sql`SELECT COUNT(*) AS n FROM ${Prisma.raw(`"${table}"`)} WHERE "sandboxId" = ${id}`);
    counts[table] = Number(row?.n ?? 0);
  }
  const grants = (await db.grant.findMany({ where: { sandboxId: id }, select: { id: true } })).map((g) => g.id);
  counts.AuthCode = await db.authCode.count({ where: { grantId: { in: grants } } });
  const clients = (await db.client.findMany({ where: { sandboxId: id }, select: { clientId: true } })).map((c) => c.clientId);
  counts.AssertionJti = await db.assertionJti.count({ where: { clientId: { in: clients } } });
  const jobs = (await db.bulkExportJob.findMany({ where: { sandboxId: id }, select: { id: true } })).map((j) => j.id);
  counts.BulkExportChunk = await db.bulkExportChunk.count({ where: { jobId: { in: jobs } } });
  const prefix = rateLimitKeyPrefix(id);
  counts.RateLimitWindow = prefix ? await db.rateLimitWindow.count({ where: { key: { startsWith: prefix } } }) : 0;
  counts.Setting = await db.setting.count({ where: { key: { in: [`dataset:${id}`, `seeding:${id}`] } } });
  counts.Sandbox = await db.sandbox.count({ where: { id } });
  return counts;
}

/** Gives a sandbox one row in every table that is not FHIR data. */
async function useSandbox(id: string): Promise<void> {
  const db = getDb();
  const ctx = sandboxContextOf({ id, clockOffsetSeconds: 0 });
  const { client } = await registerClient(
    { name: `app of ${id}`, clientType: 'public', redirectUris: ['https://app.example/cb'], scope: 'launch openid patient/*.rs' },
    { sandboxId: id },
  );
  const now = new Date();
  const later = new Date(Date.now() + 3600_000);
  await db.launch.create({ data: { id: `launch-${id}`, sandboxId: id, clientId: client.clientId, expiresAt: later } });
  await db.interaction.create({ data: { id: `int-${id}`, sandboxId: id, clientId: client.clientId, params: '{}', expiresAt: later } });
  await db.grant.create({ data: { id: `grant-${id}`, sandboxId: id, clientId: client.clientId, scope: 'openid' } });
  await db.authCode.create({
    data: { codeHash: `code-${id}`, grantId: `grant-${id}`, clientId: client.clientId, redirectUri: 'https://app.example/cb', expiresAt: later },
  });
  await db.token.create({ data: { id: `tok-${id}`, sandboxId: id, kind: 'access', clientId: client.clientId, scope: 'openid', expiresAt: later } });
  await db.assertionJti.create({ data: { clientId: client.clientId, jti: `jti-${id}`, expiresAt: later } });
  await db.auditRecord.create({
    data: { id: `audit-${id}`, sandboxId: id, at: now, kind: 'oauth', method: 'POST', endpoint: '/oauth/token', status: 200, latencyMs: 1 },
  });
  await db.bulkExportJob.create({
    data: {
      id: `job-${id}`,
      sandboxId: id,
      clientId: client.clientId,
      level: 'system',
      request: 'x',
      params: '{}',
      scope: 'system/*.rs',
      status: 'completed',
      transactionTime: now,
      expiresAt: later,
    },
  });
  await db.bulkExportChunk.create({ data: { jobId: `job-${id}`, type: 'Patient', seq: 0, lines: 1, data: new Uint8Array([123, 125]) } });
  await runInSandbox(ctx, () => getRateLimiter().hit([counter('client', client.clientId)]));
}

beforeAll(async () => {
  await seedDataset({
    databaseUrl: env.DATABASE_URL,
    sandboxId: BASE,
    patients: 2,
    seed: 7,
    anchorDate: '2026-01-01',
    includeRoster: true,
    reset: false,
    ifEmpty: false,
  });
  await getDb().sandbox.create({ data: { id: BASE, name: 'base', roomId: 'room-1' } });
});

describe('provisionSandbox', () => {
  it("copies every FHIR row of the base, and a sandbox's writes stay its own", async () => {
    const a = newSandboxId();
    const b = newSandboxId();
    const result = await provisionSandbox({ id: a, name: 'Attendee A', roomId: 'room-1', baseSandboxId: BASE });
    await provisionSandbox({ id: b, name: 'Attendee B', roomId: 'room-1', baseSandboxId: BASE });
    const base = await rowsOf(BASE);
    const copy = await rowsOf(a);
    for (const table of FHIR_DATA_TABLES) {
      expect(base[table], table).toBeGreaterThan(0);
      expect(copy[table], table).toBe(base[table]);
      expect(result.copied[table], table).toBe(base[table]);
    }
    expect(copy.Setting).toBe(1);
    expect(await getDb().sandbox.findUnique({ where: { id: a } })).toMatchObject({ name: 'Attendee A', roomId: 'room-1', clockOffsetSeconds: 0 });

    const store = new ResourceStore();
    const patient = await store.read(a, 'Patient', 'pat-7-0');
    expect(patient?.resource).toMatchObject({ resourceType: 'Patient', id: 'pat-7-0' });
    await store.update(a, 'Patient', 'pat-7-0', { ...patient!.resource, gender: 'other' } as never);
    expect((await store.read(a, 'Patient', 'pat-7-0'))?.resource).toMatchObject({ gender: 'other' });
    expect((await store.read(b, 'Patient', 'pat-7-0'))?.resource).not.toMatchObject({ gender: 'other' });
    expect((await store.read(BASE, 'Patient', 'pat-7-0'))?.resource).not.toMatchObject({ gender: 'other' });
  });

  it('refuses the default sandbox, a malformed or existing id, and leaves nothing behind when it fails', async () => {
    await expect(provisionSandbox({ id: 'default', name: 'x', baseSandboxId: BASE })).rejects.toThrow(RangeError);
    await expect(provisionSandbox({ id: 'a/b', name: 'x', baseSandboxId: BASE })).rejects.toThrow(RangeError);
    const id = newSandboxId();
    await provisionSandbox({ id, name: 'first' });
    expect((await rowsOf(id)).Resource).toBe(0);
    await getDb().resource.create({ data: { sandboxId: id, type: 'Patient', id: 'p', versionId: 1, lastUpdated: new Date(), content: '{}' } });
    await expect(provisionSandbox({ id, name: 'again', baseSandboxId: BASE })).rejects.toThrow();
    expect(await rowsOf(id)).toMatchObject({ Resource: 1, ResourceVersion: 0, Sandbox: 1 });
  });
});

describe('deleteSandboxData', () => {
  it('removes every row of the deleted sandboxes from every table and nothing of the others', async () => {
    const [a, b, c] = [newSandboxId(), newSandboxId(), newSandboxId()];
    for (const id of [a, b, c]) {
      await provisionSandbox({ id, name: id, roomId: 'room-2', baseSandboxId: BASE });
      await useSandbox(id);
    }
    const before = { a: await rowsOf(a), b: await rowsOf(b), c: await rowsOf(c), base: await rowsOf(BASE) };
    for (const [table, n] of Object.entries(before.a)) expect(n, table).toBeGreaterThan(0);
    const defaultRows = await rowsOf('default');

    await deleteSandboxData([a, b]);

    for (const id of [a, b]) for (const [table, n] of Object.entries(await rowsOf(id))) expect(n, `${table} of ${id}`).toBe(0);
    expect(await rowsOf(c)).toEqual(before.c);
    expect(await rowsOf(BASE)).toEqual(before.base);
    expect(await rowsOf('default')).toEqual(defaultRows);
    expect(await resolveSandbox(a)).toBeNull();
    await expect(deleteSandboxData(['default'])).rejects.toThrow(RangeError);
  });

  it('knows every table that carries a sandboxId', async () => {
    const query =
      getDbKind() === 'postgresql'
        ? Prisma.sql`SELECT table_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND column_name = 'sandboxId'`
        : Prisma.sql`SELECT m.name AS name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name = 'sandboxId'`;
    const tables = (await rawQuery<{ name: string }>(getDb(), query)).map((r) => r.name).sort();
    // Workshop bookkeeping names the sandbox it owns; the sandbox's own data is what goes.
    const bookkeeping = ['Attendee'];
    expect(tables.filter((t) => !bookkeeping.includes(t))).toEqual([...SANDBOX_DATA_TABLES].sort());
  });
});
