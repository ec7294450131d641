/**
 * Workshop rooms: create (the base sandbox seeded once with the room's dataset), list, read,
 * extend, close and delete. Closing ends every attendee's access and keeps the data; deleting
 * removes every row of the room's sandboxes, its attendees and the room itself, and nothing else.
 */
import { z } from 'zod';
import { getDb } from '../db';
import type { Room } from '../generated/sqlite/client';
import { newSandboxId } from '../sandbox';
import { invalidateSandbox } from '../sandbox/context';
import { newRoomCode, parseRoomCode, randomId } from './codes';
import { exerciseListSchema, parseExercises, toExercise } from './exercises';
import type { Exercise, ExerciseSpec } from './exercises';
import { deleteSandboxes, seedBaseSandbox } from './sandboxes';
import type { RoomDataset } from './sandboxes';

/** The default dataset of a room: small, so that a room is ready in seconds and joining stays fast. */
export const DEFAULT_ROOM_PATIENTS = 5;
/** Longest a room may run. */
export const MAX_ROOM_HOURS = 14 * 24;
/** How long a room runs when no end is given. */
export const DEFAULT_ROOM_HOURS = 4;
/** Most attendees a room accepts. */
export const MAX_ATTENDEES = 500;

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD');

/** What creating a room takes (the console form and `POST /api/workshops`). */
export const createRoomSchema = z
  .object({
    name: z.string().trim().min(1, 'a room needs a name').max(100, 'a room name has at most 100 characters'),
    patients: z.number().int().min(1).max(100).default(DEFAULT_ROOM_PATIENTS),
    seed: z.number().int().min(0).max(2_147_483_647).optional(),
    anchorDate: isoDate.optional(),
    exercises: exerciseListSchema.default([]),
    /** When the room ends (ISO 8601 date-time); default DEFAULT_ROOM_HOURS from now. */
    endsAt: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

export type CreateRoomInput = z.input<typeof createRoomSchema>;

/** A room as the console and the API show it. */
export interface RoomView {
  readonly id: string;
  readonly code: string;
  readonly name: string;
  readonly baseSandboxId: string;
  readonly dataset: RoomDataset;
  readonly exerciseSpecs: readonly ExerciseSpec[];
  readonly exercises: readonly Exercise[];
  readonly endsAt: Date;
  readonly closedAt: Date | null;
  readonly createdAt: Date;
  /** open | closed (by the instructor) | ended (its end time passed). */
  readonly status: 'open' | 'closed' | 'ended';
}

function datasetOf(json: string): RoomDataset {
  try {
    const value = JSON.parse(json) as Partial<RoomDataset>;
    return { seed: Number(value.seed ?? 0), patients: Number(value.patients ?? 0), anchorDate: String(value.anchorDate ?? '') };
  } catch {
    return { seed: 0, patients: 0, anchorDate: '' };
  }
}

/** The status of a room at `now`. */
export function roomStatus(room: Pick<Room, 'closedAt' | 'endsAt'>, now: Date = new Date()): RoomView['status'] {
  if (room.closedAt) return 'closed';
  return room.endsAt.getTime() <= now.getTime() ? 'ended' : 'open';
}

/** The view of a room row. */
export function toRoomView(room: Room, now: Date = new Date()): RoomView {
  const exerciseSpecs = parseExercises(room.exercises);
  return {
    id: room.id,
    code: room.code,
    name: room.name,
    baseSandboxId: room.baseSandboxId,
    dataset: datasetOf(room.dataset),
    exerciseSpecs,
    exercises: exerciseSpecs.map(toExercise),
    endsAt: room.endsAt,
    closedAt: room.closedAt,
    createdAt: room.createdAt,
    status: roomStatus(room, now),
  };
}

export type CreateRoomResult = { ok: true; room: RoomView } | { ok: false; error: string };

/** The first problem of a zod error, for a 400 answer. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid input';
  const path = issue.path.length ? `${issue.path.join('.')}: ` : '';
  return `${path}${issue.message}`;
}

/** Creates a room and seeds its base sandbox with the room's dataset. */
export async function createRoom(input: unknown, now: Date = new Date()): Promise<CreateRoomResult> {
  const parsed = createRoomSchema.safeParse(input);
  if (!parsed.success) return { ok: false, error: firstIssue(parsed.error) };
  const value = parsed.data;
  const endsAt = value.endsAt ? new Date(value.endsAt) : new Date(now.getTime() + DEFAULT_ROOM_HOURS * 3_600_000);
  if (endsAt.getTime() <= now.getTime()) return { ok: false, error: 'endsAt: the end time is in the past' };
  if (endsAt.getTime() > now.getTime() + MAX_ROOM_HOURS * 3_600_000) return { ok: false, error: `endsAt: a room runs at most ${MAX_ROOM_HOURS / 24} days` };
  const dataset: RoomDataset = {
    seed: value.seed ?? Math.floor(Math.random() * 1_000_000),
    patients: value.patients,
    anchorDate: value.anchorDate ?? now.toISOString().slice(0, 10),
  };
  const db = getDb();
  const id = `r${randomId(12)}`;
  const baseSandboxId = newSandboxId();
  let room: Room | null = null;
  for (let attempt = 0; attempt < 5 && !room; attempt++) {
    const code = newRoomCode();
    if (await db.room.findUnique({ where: { code }, select: { id: true } })) continue;
    room = await db.room.create({
      data: { id, code, name: value.name, baseSandboxId, dataset: JSON.stringify(dataset), exercises: JSON.stringify(value.exercises), endsAt },
    });
  }
  if (!room) return { ok: false, error: 'no free room code; try again' };
  try {
    await seedBaseSandbox(baseSandboxId, `${value.name} (base)`, room.id, dataset);
  } catch (err) {
    await deleteRoom(room.id);
    throw err;
  }
  return { ok: true, room: toRoomView(room, now) };
}

/** Every room, newest first. */
export async function listRooms(): Promise<(RoomView & { attendees: number })[]> {
  const db = getDb();
  const [rooms, counts] = await Promise.all([
    db.room.findMany({ orderBy: { createdAt: 'desc' } }),
    db.attendee.groupBy({ by: ['roomId'], _count: { _all: true } }),
  ]);
  const byRoom = new Map(counts.map((c) => [c.roomId, c._count._all]));
  const now = new Date();
  return rooms.map((room) => ({ ...toRoomView(room, now), attendees: byRoom.get(room.id) ?? 0 }));
}

/** A room by id, or null. */
export async function findRoom(id: string): Promise<RoomView | null> {
  if (id.length > 64) return null;
  const room = await getDb().room.findUnique({ where: { id } });
  return room ? toRoomView(room) : null;
}

/** A room by its short code as typed (any case, with spaces or dashes), or null. */
export async function findRoomByCode(input: string): Promise<RoomView | null> {
  const code = parseRoomCode(input);
  if (!code) return null;
  const room = await getDb().room.findUnique({ where: { code } });
  return room ? toRoomView(room) : null;
}

/** What can change on a room: its end time, closed or open again. */
export const updateRoomSchema = z
  .object({
    endsAt: z.iso.datetime({ offset: true }).optional(),
    /** Extend the end time by this many minutes from now or from the current end, whichever is later. */
    extendMinutes: z
      .number()
      .int()
      .min(1)
      .max(MAX_ROOM_HOURS * 60)
      .optional(),
    closed: z.boolean().optional(),
  })
  .strict();

export type UpdateRoomResult = { ok: true; room: RoomView } | { ok: false; status: 400 | 404; error: string };

/** Extends, ends or closes (and reopens) a room. */
export async function updateRoom(id: string, input: unknown, now: Date = new Date()): Promise<UpdateRoomResult> {
  const parsed = updateRoomSchema.safeParse(input);
  if (!parsed.success) return { ok: false, status: 400, error: firstIssue(parsed.error) };
  const db = getDb();
  const room = id.length <= 64 ? await db.room.findUnique({ where: { id } }) : null;
  if (!room) return { ok: false, status: 404, error: 'no such room' };
  const data: { endsAt?: Date; closedAt?: Date | null } = {};
  const { endsAt, extendMinutes, closed } = parsed.data;
  if (endsAt !== undefined) data.endsAt = new Date(endsAt);
  if (extendMinutes !== undefined) data.endsAt = new Date(Math.max(now.getTime(), room.endsAt.getTime()) + extendMinutes * 60_000);
  if (data.endsAt && data.endsAt.getTime() > now.getTime() + MAX_ROOM_HOURS * 3_600_000)
    return { ok: false, status: 400, error: `endsAt: a room runs at most ${MAX_ROOM_HOURS / 24} days` };
  if (closed === true) data.closedAt = room.closedAt ?? now;
  if (closed === false) data.closedAt = null;
  const updated = await db.room.update({ where: { id }, data });
  // Whether the room's sandboxes may be served changed: this instance stops (or resumes) at once.
  const attendees = await db.attendee.findMany({ where: { roomId: id }, select: { sandboxId: true } });
  for (const sandboxId of [room.baseSandboxId, ...attendees.map((a) => a.sandboxId)]) invalidateSandbox(sandboxId);
  return { ok: true, room: toRoomView(updated, now) };
}

/** Deletes a room: every row of its sandboxes (base and attendees), its attendees and the room. */
export async function deleteRoom(id: string): Promise<boolean> {
  const db = getDb();
  const room = id.length <= 64 ? await db.room.findUnique({ where: { id } }) : null;
  if (!room) return false;
  const attendees = await db.attendee.findMany({ where: { roomId: id }, select: { sandboxId: true } });
  await deleteSandboxes([room.baseSandboxId, ...attendees.map((a) => a.sandboxId)]);
  await db.attendee.deleteMany({ where: { roomId: id } });
  await db.room.delete({ where: { id } });
  return true;
}
