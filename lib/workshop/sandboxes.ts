/**
 * The sandboxes of a room: the one place the workshop creates, copies, deletes and re-clocks
 * sandboxes (through lib/sandbox). A room's dataset is seeded once into its base sandbox; each
 * attendee sandbox is a copy of the base's FHIR rows.
 */
import { getDb } from '../db';
import { env } from '../env';
import { setSandboxClockOffset } from '../sandbox/context';
import { deleteSandboxData, provisionSandbox } from '../sandbox/provision';
import { seedDataset } from '../seed/seed-dataset';

/** The dataset of a room's sandboxes. */
export interface RoomDataset {
  readonly seed: number;
  readonly patients: number;
  /** YYYY-MM-DD */
  readonly anchorDate: string;
}

/** Seeds a room's base sandbox with its dataset (once, when the room is created). */
export async function seedBaseSandbox(id: string, name: string, roomId: string, dataset: RoomDataset): Promise<void> {
  await provisionSandbox({ id, name, roomId });
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

/** Creates an attendee's sandbox as a copy of the room's base sandbox (one transaction). */
export async function provisionAttendeeSandbox(input: { id: string; name: string; roomId: string; baseSandboxId: string }): Promise<void> {
  await provisionSandbox(input);
}

/** Removes every row of these sandboxes from every table, the sandbox rows included. */
export async function deleteSandboxes(ids: readonly string[]): Promise<void> {
  await deleteSandboxData(ids);
}

/** Moves a sandbox's clock `seconds` ahead of real time (0: real time); RangeError when out of range. */
export async function setClockOffset(id: string, seconds: number): Promise<void> {
  await setSandboxClockOffset(id, seconds);
}

/** How far each sandbox's clock runs ahead of real time. */
export async function clockOffsets(ids: readonly string[]): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const rows = await getDb().sandbox.findMany({ where: { id: { in: [...ids] } }, select: { id: true, clockOffsetSeconds: true } });
  return new Map(rows.map((r) => [r.id, r.clockOffsetSeconds]));
}
