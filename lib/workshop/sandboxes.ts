/**
 * The sandboxes of a room: the one place the workshop creates, copies, deletes and re-clocks
 * sandboxes. A room's dataset is seeded once into its base sandbox; each attendee sandbox is a copy
 * of the base's FHIR rows.
 */
import { Prisma } from '../generated/sqlite/client';
import { getDb } from '../db';
import { rawTransaction } from '../db/direct';
import { env } from '../env';
import { seedDataset } from '../seed/seed-dataset';

/** The dataset of a room's sandboxes. */
export interface RoomDataset {
  readonly seed: number;
  readonly patients: number;
  /** YYYY-MM-DD */
  readonly anchorDate: string;
}

/** Seeds a room's base sandbox with its dataset (once, when the room is created). */
export async function seedBaseSandbox(id: string, name: string, dataset: RoomDataset): Promise<void> {
  await getDb().sandbox.create({ data: { id, name } });
  await seedDataset({
    databaseUrl: env.DATABASE_URL,
    sandboxId: id,
    patients: dataset.patients,
    seed: dataset.seed,
    anchorDate: dataset.anchorDate,
    // The edge-case roster holds a 5,000-resource paging record: copying it would make every join slow.
    includeRoster: false,
    reset: false,
    ifEmpty: false,
  });
}

/** Every table holding a sandbox's FHIR data, with the columns copied to a new sandbox. */
const FHIR_TABLES = [
  'Resource',
  'ResourceVersion',
  'CompartmentMember',
  'SearchToken',
  'SearchString',
  'SearchDate',
  'SearchReference',
  'SearchQuantity',
] as const;

function columnsOf(model: string): string[] {
  const fields = (Prisma as unknown as Record<string, Record<string, string> | undefined>)[`${model}ScalarFieldEnum`];
  return Object.values(fields ?? {}).filter((c) => c !== 'rowId');
}

/** Creates an attendee's sandbox as a copy of the room's base sandbox (one transaction). */
export async function provisionAttendeeSandbox(input: { id: string; name: string; roomId: string; baseSandboxId: string }): Promise<void> {
  await rawTransaction(getDb(), async (tx) => {
    await tx.execute(Prisma.sql`INSERT INTO "Sandbox" ("id", "name", "createdAt") VALUES (${input.id}, ${input.name}, ${new Date()})`);
    for (const table of FHIR_TABLES) {
      const columns = columnsOf(table);
      const list = columns.map((c) => `"${c}"`).join(', ');
      const select = columns.map((c) => (c === 'sandboxId' ? '?' : `"${c}"`));
      const head = Prisma.raw(`INSERT INTO "${table}" (${list}) SELECT `);
      const parts = select.map((s) => (s === '?' ? Prisma.sql`${input.id}` : Prisma.raw(s)));
      await tx.execute(Prisma.sql`${head}${Prisma.join(parts)} FROM ${Prisma.raw(`"${table}"`)} WHERE "sandboxId" = ${input.baseSandboxId}`);
    }
  });
}

/** Removes every row of these sandboxes from every table, the sandbox rows included. */
export async function deleteSandboxes(ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const models = Object.values(Prisma.ModelName).filter((m) => m !== 'Attendee' && columnsOf(m).includes('sandboxId'));
  await rawTransaction(getDb(), async (tx) => {
    for (const model of models) await tx.execute(Prisma.sql`DELETE FROM ${Prisma.raw(`"${model}"`)} WHERE "sandboxId" IN (${Prisma.join([...ids])})`);
    await tx.execute(Prisma.sql`DELETE FROM "Sandbox" WHERE "id" IN (${Prisma.join([...ids])})`);
    const settings = ids.flatMap((id) => [`dataset:${id}`, `seeding:${id}`]);
    await tx.execute(Prisma.sql`DELETE FROM "Setting" WHERE "key" IN (${Prisma.join(settings)})`);
  });
}

/** Moves a sandbox's clock `seconds` ahead of real time (0: real time). */
export async function setClockOffset(_id: string, _seconds: number): Promise<void> {
  throw new RangeError('the sandbox clock cannot be moved yet');
}

/** How far each sandbox's clock runs ahead of real time. */
export async function clockOffsets(ids: readonly string[]): Promise<Map<string, number>> {
  return new Map(ids.map((id) => [id, 0]));
}
