/**
 * The console's data browser: patient search, a patient's resources by type, one resource's JSON,
 * and reseed/reset with progress kept in the Setting table (so any app instance can report it).
 */
import { Writable } from 'node:stream';
import type { Resource } from '@medplum/fhirtypes';
import { getDb } from '../db';
import { env } from '../env';
import { currentSandbox } from '../sandbox/context';
import { seedDataset } from '../seed/seed-dataset';

export interface PatientRow {
  readonly id: string;
  readonly name: string;
  readonly gender: string;
  readonly birthDate: string;
  readonly lastUpdated: Date;
}

function patientRow(id: string, content: string, lastUpdated: Date): PatientRow {
  let r: { name?: { given?: string[]; family?: string; text?: string }[]; gender?: string; birthDate?: string } = {};
  try {
    r = JSON.parse(content) as typeof r;
  } catch {
    // keep empty
  }
  const n = r.name?.[0];
  const name = n?.text ?? [...(n?.given ?? []), n?.family ?? ''].join(' ').trim();
  return { id, name: name || '(no name)', gender: r.gender ?? '', birthDate: r.birthDate ?? '', lastUpdated };
}

/** Patients whose name (any part, accent- and case-insensitive index) or id contains `q`. */
export async function searchPatients(q: string, options: { limit?: number; sandboxId?: string } = {}): Promise<PatientRow[]> {
  const db = getDb();
  const sandboxId = options.sandboxId ?? currentSandbox().id;
  const take = Math.min(options.limit ?? 50, 200);
  const term = q
    .trim()
    .toLowerCase()
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '');
  let ids: string[] | null = null;
  if (term) {
    const hits = await db.searchString.findMany({
      where: { sandboxId, type: 'Patient', param: 'name', value: { contains: term } },
      distinct: ['resourceId'],
      select: { resourceId: true },
      take,
    });
    ids = [...new Set([...hits.map((h) => h.resourceId), ...(term.length >= 3 ? [q.trim()] : [])])];
  }
  const rows = await db.resource.findMany({
    where: { sandboxId, type: 'Patient', deleted: false, ...(ids ? { id: { in: ids } } : {}) },
    orderBy: { id: 'asc' },
    take,
    select: { id: true, content: true, lastUpdated: true },
  });
  return rows.map((r) => patientRow(r.id, r.content, r.lastUpdated));
}

/** Count of a patient's compartment resources per type. */
export async function patientResourceCounts(patientId: string, sandboxId: string = currentSandbox().id): Promise<{ type: string; count: number }[]> {
  const rows = await getDb().compartmentMember.groupBy({ by: ['type'], where: { sandboxId, patientId }, _count: { _all: true } });
  return rows.map((r) => ({ type: r.type, count: r._count._all })).sort((a, b) => a.type.localeCompare(b.type));
}

/** A patient's resources of one type (JSON parsed), newest first. */
export async function patientResources(patientId: string, type: string, options: { limit?: number; sandboxId?: string } = {}): Promise<Resource[]> {
  const db = getDb();
  const sandboxId = options.sandboxId ?? currentSandbox().id;
  const members = await db.compartmentMember.findMany({ where: { sandboxId, patientId, type }, select: { resourceId: true }, take: 2000 });
  const rows = await db.resource.findMany({
    where: { sandboxId, type, id: { in: members.map((m) => m.resourceId) }, deleted: false },
    orderBy: { lastUpdated: 'desc' },
    take: Math.min(options.limit ?? 100, 500),
    select: { content: true },
  });
  return rows.flatMap((r) => {
    try {
      return [JSON.parse(r.content) as Resource];
    } catch {
      return [];
    }
  });
}

/** One resource, or null. */
export async function getResource(type: string, id: string, sandboxId: string = currentSandbox().id): Promise<Resource | null> {
  const row = await getDb().resource.findUnique({ where: { sandboxId_type_id: { sandboxId, type, id } } });
  if (!row || row.deleted) return null;
  try {
    return JSON.parse(row.content) as Resource;
  } catch {
    return null;
  }
}

/** A one-line label for a resource in lists. */
export function resourceLabel(r: Resource): string {
  const o = r as unknown as Record<string, unknown>;
  const code = o.code as { text?: string; coding?: { display?: string; code?: string }[] } | undefined;
  const text = code?.text ?? code?.coding?.[0]?.display ?? code?.coding?.[0]?.code;
  const when = (o.effectiveDateTime ??
    o.onsetDateTime ??
    o.authoredOn ??
    o.occurrenceDateTime ??
    o.performedDateTime ??
    o.date ??
    o.recordedDate ??
    (o.period as { start?: string } | undefined)?.start) as string | undefined;
  const status = (o.status ?? (o.clinicalStatus as { coding?: { code?: string }[] } | undefined)?.coding?.[0]?.code) as string | undefined;
  return [text, when, status].filter((s): s is string => typeof s === 'string' && s !== '').join(' · ') || `${r.resourceType}/${r.id ?? ''}`;
}

/** The current dataset (seed, size, anchor date) as recorded by the last seeding. */
export async function currentDataset(
  sandboxId: string = currentSandbox().id,
): Promise<{ seed?: number; patients?: number; anchorDate?: string; at?: string; resources: number }> {
  const db = getDb();
  const [row, resources] = await Promise.all([
    db.setting.findUnique({ where: { key: `dataset:${sandboxId}` } }),
    db.resource.count({ where: { sandboxId, deleted: false } }),
  ]);
  try {
    return { ...(row ? (JSON.parse(row.value) as object) : {}), resources };
  } catch {
    return { resources };
  }
}

export interface ReseedStatus {
  state: 'idle' | 'running' | 'done' | 'failed';
  percent: number;
  text: string;
  startedAt: string | null;
  finishedAt: string | null;
  seed: number | null;
  patients: number | null;
}

const STATUS_KEY = (sandboxId: string) => `console.reseed:${sandboxId}`;
const IDLE: ReseedStatus = { state: 'idle', percent: 0, text: '', startedAt: null, finishedAt: null, seed: null, patients: null };

async function writeStatus(sandboxId: string, status: ReseedStatus): Promise<void> {
  const value = JSON.stringify(status);
  await getDb().setting.upsert({ where: { key: STATUS_KEY(sandboxId) }, create: { key: STATUS_KEY(sandboxId), value }, update: { value } });
}

/** Progress of the last reseed. */
export async function getReseedStatus(sandboxId: string = currentSandbox().id): Promise<ReseedStatus> {
  const row = await getDb().setting.findUnique({ where: { key: STATUS_KEY(sandboxId) } });
  if (!row) return IDLE;
  try {
    const s = JSON.parse(row.value) as ReseedStatus;
    // A run that stopped reporting for 10 minutes died with its process.
    if (s.state === 'running' && s.startedAt && Date.now() - new Date(s.startedAt).getTime() > 10 * 60_000)
      return { ...s, state: 'failed', text: 'the reseed stopped reporting progress' };
    return s;
  } catch {
    return IDLE;
  }
}

export interface ReseedInput {
  seed: number;
  patients: number;
}

/** Validates reseed form values (seed 0…2^31-1, 1…2000 patients from the console). */
export function parseReseedInput(fields: Record<string, string | undefined>): ReseedInput | { error: string } {
  const seed = Number(fields.seed ?? env.SEED);
  const patients = Number(fields.patients ?? env.SEED_PATIENTS);
  if (!Number.isInteger(seed) || seed < 0 || seed > 2_147_483_647) return { error: 'seed must be an integer from 0 to 2147483647' };
  if (!Number.isInteger(patients) || patients < 1 || patients > 2000) return { error: 'size must be 1 to 2000 patients (use npm run seed for more)' };
  return { seed, patients };
}

/**
 * Starts replacing the sandbox's FHIR data with a freshly generated dataset (clients, tokens and
 * audit stay). Returns at once; progress is read with getReseedStatus. Refuses while one runs.
 */
export async function startReseed(input: ReseedInput, sandboxId: string = currentSandbox().id): Promise<{ started: boolean; reason?: string }> {
  const current = await getReseedStatus(sandboxId);
  if (current.state === 'running') return { started: false, reason: 'a reseed is already running' };
  const startedAt = new Date().toISOString();
  const base: ReseedStatus = { state: 'running', percent: 0, text: 'starting…', startedAt, finishedAt: null, seed: input.seed, patients: input.patients };
  await writeStatus(sandboxId, base);
  let pending = Promise.resolve();
  const progress = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      const line = String(chunk);
      const m = line.match(/(\d{1,3})% (.*)/);
      if (m) {
        const status = { ...base, percent: Math.min(99, Number(m[1])), text: (m[2] ?? '').trim() };
        pending = pending.then(() => writeStatus(sandboxId, status)).catch(() => undefined);
      }
      done();
    },
  });
  void (async () => {
    try {
      const summary = await seedDataset({
        databaseUrl: env.DATABASE_URL,
        sandboxId,
        patients: input.patients,
        seed: input.seed,
        anchorDate: env.SEED_ANCHOR_DATE,
        includeRoster: true,
        reset: true,
        ifEmpty: false,
        progress,
      });
      await pending;
      await writeStatus(sandboxId, {
        ...base,
        state: 'done',
        percent: 100,
        text: `${summary.patients} patients, ${summary.resources} resources in ${summary.seconds.toFixed(1)} s`,
        finishedAt: new Date().toISOString(),
      });
    } catch (err) {
      await pending;
      await writeStatus(sandboxId, {
        ...base,
        state: 'failed',
        text: err instanceof Error ? err.message.slice(0, 300) : 'reseed failed',
        finishedAt: new Date().toISOString(),
      }).catch(() => undefined);
    }
  })();
  return { started: true };
}

/** Reset = reseed with the default dataset (SEED, SEED_PATIENTS). */
export function defaultReseedInput(): ReseedInput {
  return { seed: env.SEED, patients: Math.min(env.SEED_PATIENTS, 2000) };
}
