/**
 * A room's progress for its open live views (the instructor's grid, each attendee's exercise
 * list): one poll per room on this instance shared by every stream open on it. Each poll first
 * reads a small change signature (the room row, its attendees, the count and latest time of their
 * audit records, their clients, their clocks); only when that differs from the last one are the
 * milestones derived again and handed to every listener. The poll reads the database, so a
 * milestone reached through another instance behind the same origin appears here too.
 */
import { getDb } from '../db';
import { DEFAULT_SANDBOX, runInSandbox } from '../sandbox/context';
import { roomProgress } from './progress';
import type { AttendeeProgress } from './progress';
import { findRoom, roomStatus } from './rooms';
import type { RoomView } from './rooms';

/** What the listeners of a room receive: the room (null once deleted) and its attendees' progress. */
export interface RoomSnapshot {
  readonly room: RoomView | null;
  readonly attendees: readonly AttendeeProgress[];
}

export type RoomListener = (snapshot: RoomSnapshot) => void;

/** How often a room with open streams is checked for changes. */
export const ROOM_POLL_INTERVAL_MS = 1_000;

/** What one room's poll has done so far (read by tests and diagnostics). */
export interface RoomPollStats {
  /** Change signatures read. */
  checks: number;
  /** Times the progress was derived again (the signature had changed). */
  recomputes: number;
  listeners: number;
}

interface RoomPoll {
  readonly roomId: string;
  readonly listeners: Set<RoomListener>;
  readonly stats: RoomPollStats;
  timer: ReturnType<typeof setTimeout> | null;
  running: boolean;
  signature: string | null;
  snapshot: RoomSnapshot | null;
}

const polls = new Map<string, RoomPoll>();

/**
 * A string that changes whenever anything the room's progress shows may have changed, or null
 * when the room is gone. Audit records are written just after their response (group commit), so a
 * late record with an earlier time still changes the count.
 */
export async function roomChangeSignature(roomId: string): Promise<string | null> {
  const db = getDb();
  const [room, attendees] = await Promise.all([
    db.room.findUnique({ where: { id: roomId } }),
    db.attendee.findMany({ where: { roomId }, select: { id: true, sandboxId: true, name: true }, orderBy: { id: 'asc' } }),
  ]);
  if (!room) return null;
  const ids = attendees.map((a) => a.sandboxId);
  const [audit, clients, clocks] = ids.length
    ? await Promise.all([
        db.auditRecord.aggregate({ where: { sandboxId: { in: ids } }, _count: { _all: true }, _max: { at: true } }),
        db.client.aggregate({ where: { sandboxId: { in: ids } }, _count: { _all: true }, _max: { createdAt: true } }),
        db.sandbox.findMany({ where: { id: { in: ids } }, select: { id: true, clockOffsetSeconds: true, createdAt: true }, orderBy: { id: 'asc' } }),
      ])
    : [null, null, []];
  return JSON.stringify([
    room.name,
    room.exercises,
    room.endsAt.getTime(),
    room.closedAt?.getTime() ?? null,
    roomStatus(room),
    attendees,
    audit?._count._all ?? 0,
    audit?._max.at?.getTime() ?? null,
    clients?._count._all ?? 0,
    clients?._max.createdAt?.getTime() ?? null,
    // A reset attendee's sandbox is created again: its creation time changes.
    clocks.map((c) => [c.id, c.clockOffsetSeconds, c.createdAt.getTime()]),
  ]);
}

function deliver(listener: RoomListener, snapshot: RoomSnapshot): void {
  try {
    listener(snapshot);
  } catch {
    // One broken stream does not stop the others.
  }
}

async function tick(poll: RoomPoll): Promise<void> {
  poll.running = true;
  try {
    const signature = await roomChangeSignature(poll.roomId);
    poll.stats.checks++;
    if (signature !== poll.signature || poll.snapshot === null) {
      // Read after the signature: a change made meanwhile changes the next signature, never lost.
      const room = signature === null ? null : await findRoom(poll.roomId);
      const attendees = room ? await roomProgress(room) : [];
      poll.stats.recomputes++;
      poll.signature = signature;
      poll.snapshot = { room, attendees };
      for (const listener of [...poll.listeners]) deliver(listener, poll.snapshot);
    }
  } catch {
    // A failed read (database restarting) skips one round; the next one tries again.
  } finally {
    poll.running = false;
  }
  if (poll.listeners.size > 0 && polls.get(poll.roomId) === poll) poll.timer = setTimeout(() => void tick(poll), ROOM_POLL_INTERVAL_MS);
}

/**
 * Calls `listener` with the room's progress now (once known) and whenever it changes, until the
 * returned function is called. Every listener of one room shares one poll.
 */
export function subscribeRoom(roomId: string, listener: RoomListener): () => void {
  let poll = polls.get(roomId);
  if (!poll) {
    poll = { roomId, listeners: new Set(), stats: { checks: 0, recomputes: 0, listeners: 0 }, timer: null, running: false, signature: null, snapshot: null };
    polls.set(roomId, poll);
  }
  const own = poll;
  own.listeners.add(listener);
  own.stats.listeners = own.listeners.size;
  if (own.snapshot) {
    const snapshot = own.snapshot;
    queueMicrotask(() => {
      if (own.listeners.has(listener)) deliver(listener, snapshot);
    });
  }
  // The poll runs outside the sandbox of the request that opened it: it reads rooms by id.
  if (!own.timer && !own.running) runInSandbox(DEFAULT_SANDBOX, () => void tick(own));
  return () => {
    own.listeners.delete(listener);
    own.stats.listeners = own.listeners.size;
    if (own.listeners.size === 0) {
      if (own.timer) clearTimeout(own.timer);
      own.timer = null;
      // A later stream starts from a fresh read, never from a snapshot that has stopped updating.
      if (polls.get(roomId) === own) polls.delete(roomId);
    }
  };
}

/** The poll of a room while streams are open on it, or null. */
export function roomPollStats(roomId: string): Readonly<RoomPollStats> | null {
  const poll = polls.get(roomId);
  return poll ? { ...poll.stats } : null;
}
