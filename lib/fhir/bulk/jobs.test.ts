import { randomBytes } from 'node:crypto';
import type { Condition, Observation, Patient } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, getDb } from '../../db';
import type { Db } from '../../db';
import { env } from '../../env';
import { ResourceStore } from '../store';
import { runJob, unpackChunk } from './jobs';
import type { JobRow, StoredParams } from './jobs';

// A job's files are the same whether lib/fhir/bulk/export-process.mjs writes them (the app's own
// database client: the job runs in a child process on the raw driver) or the server does (any other
// client: the job runs inline through lib/db). Both read the seeded unit-test database.

const inline: Db = createDb(env.DATABASE_URL).db;

beforeAll(async () => {
  const store = new ResourceStore(getDb());
  for (let i = 0; i < 4; i++) {
    const patient = await store.create('default', {
      resourceType: 'Patient',
      name: [{ family: `Export${i}`, given: ['Unit'] }],
      gender: i % 2 ? 'female' : 'male',
      birthDate: `198${i}-02-03`,
    } as Patient);
    const subject = { reference: `Patient/${patient.resource.id}` };
    for (let j = 0; j < 3; j++)
      await store.create('default', {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }], text: `heart rate ${j} “ü”` },
        subject,
        valueQuantity: { value: 60 + j, unit: '/min' },
      } as Observation);
    await store.create('default', { resourceType: 'Condition', code: { text: 'unit export' }, subject } as Condition);
  }
});

afterAll(async () => {
  await inline.$disconnect();
});

const PARAMS: StoredParams = {
  level: 'system',
  groupId: null,
  types: ['Patient', 'Condition', 'Observation'],
  since: null,
  typeFilters: {},
  elements: null,
  patients: null,
  ignored: [],
  fhirUser: null,
  simulated: null,
};

async function claimedJob(db: Db, params: StoredParams, owner: string): Promise<JobRow> {
  const id = randomBytes(16).toString('hex');
  return db.bulkExportJob.create({
    data: {
      id,
      sandboxId: 'default',
      clientId: 'unit-test',
      level: params.level,
      request: 'http://localhost/fhir/$export',
      params: JSON.stringify(params),
      scope: 'system/*.rs',
      status: 'running',
      owner,
      heartbeatAt: new Date(),
      attempts: 1,
      transactionTime: new Date(),
      expiresAt: new Date(Date.now() + 3_600_000),
    },
  });
}

/** Each file of a job as its text (chunks in order). */
async function filesOf(db: Db, jobId: string): Promise<Map<string, string>> {
  const chunks = await db.bulkExportChunk.findMany({ where: { jobId }, orderBy: [{ type: 'asc' }, { seq: 'asc' }] });
  const out = new Map<string, string>();
  for (const c of chunks) out.set(c.type, (out.get(c.type) ?? '') + Buffer.from(await unpackChunk(c.data)).toString('utf8'));
  return out;
}

async function run(db: Db, params: StoredParams) {
  const owner = `unit:${randomBytes(4).toString('hex')}`;
  const job = await claimedJob(db, params, owner);
  const where = await runJob(db, job, owner);
  const done = await db.bulkExportJob.findUniqueOrThrow({ where: { id: job.id } });
  return { where, done, files: await filesOf(db, job.id) };
}

describe('export jobs: the export process and the inline run write the same files', () => {
  it('whole resources, several types, each line a resource of its type in id order', async () => {
    const [child, own] = [await run(getDb(), PARAMS), await run(inline, PARAMS)];
    expect(child.where).toBe('process');
    expect(own.where).toBe('inline');
    expect(child.done.status).toBe('completed');
    expect(own.done.status).toBe('completed');
    expect(child.done.output).toBe(own.done.output);
    expect([...child.files.keys()].sort()).toEqual(['Condition', 'Observation', 'Patient']);
    for (const [type, text] of child.files) {
      expect(text).toBe(own.files.get(type));
      const lines = text.split('\n').filter(Boolean);
      const ids = lines.map((l) => (JSON.parse(l) as { resourceType: string; id: string }).id);
      expect(ids).toEqual([...ids].sort());
      for (const l of lines) expect((JSON.parse(l) as { resourceType: string }).resourceType).toBe(type);
      const count = (JSON.parse(child.done.output!) as { type: string; count: number }[]).find((o) => o.type === type)?.count;
      expect(lines.length).toBe(count);
    }
  });

  it('_elements: the same subset, marked SUBSETTED, on both paths', async () => {
    const params = { ...PARAMS, types: ['Patient'], elements: ['gender', 'birthDate'] };
    const [child, own] = [await run(getDb(), params), await run(inline, params)];
    const text = child.files.get('Patient')!;
    expect(text).toBe(own.files.get('Patient'));
    for (const line of text.split('\n').filter(Boolean)) {
      const r = JSON.parse(line) as Record<string, unknown> & { meta: { tag: { code: string }[] } };
      expect(Object.keys(r).every((k) => ['resourceType', 'id', 'meta', 'gender', 'birthDate'].includes(k))).toBe(true);
      expect(r.meta.tag.map((t) => t.code)).toContain('SUBSETTED');
    }
  });

  it('a job cancelled while it ran keeps no files', async () => {
    const owner = 'unit:cancelled';
    const job = await claimedJob(getDb(), PARAMS, owner);
    // Cancelled (DELETE on its status URL) as the run starts: its claim is gone when it reports.
    await getDb().bulkExportJob.delete({ where: { id: job.id } });
    await runJob(getDb(), job, owner);
    expect(await getDb().bulkExportChunk.count({ where: { jobId: job.id } })).toBe(0);
  });
});
