/**
 * Attendees: joining a room with only a display name, the attendee's session (a cookie holding a
 * random secret of which only the hash is stored), the personal link shown once at join (it moves
 * the session to the browser that opens it: the previous browser's cookie stops working), and the
 * reset of an attendee's sandbox to a fresh copy of the room's dataset.
 */
import { getDb } from '../db';
import type { Attendee, Room } from '../generated/sqlite/client';
import { newSandboxId } from '../sandbox';
import { isSecretShaped, newSecret, randomId, secretHash } from './codes';
import { MAX_ATTENDEES, roomStatus, toRoomView } from './rooms';
import type { RoomView } from './rooms';
import { deleteSandboxes, provisionAttendeeSandbox } from './sandboxes';

/** Longest display name accepted. */
export const MAX_NAME_LENGTH = 60;

/**
 * A display name as typed, trimmed with runs of white space collapsed, or why it is refused: empty,
 * longer than MAX_NAME_LENGTH, or holding control characters or angle brackets (names are shown on
 * the projector and in every console page; markup has no business in them).
 */
export function parseDisplayName(input: unknown): { ok: true; name: string } | { ok: false; error: string } {
  if (typeof input !== 'string') return { ok: false, error: 'a display name is required' };
  if (input.length > 1000) return { ok: false, error: `a display name has at most ${MAX_NAME_LENGTH} characters` };
  const name = input.replace(/\s+/g, ' ').trim();
  if (name === '') return { ok: false, error: 'a display name is required' };
  if ([...name].length > MAX_NAME_LENGTH) return { ok: false, error: `a display name has at most ${MAX_NAME_LENGTH} characters` };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f<>]/.test(name)) return { ok: false, error: 'a display name may not contain < or > or control characters' };
  return { ok: true, name };
}

/** Why a room cannot be joined or used. */
export type RoomRefusal = 'unknown-room' | 'closed' | 'ended' | 'full';

/** An attendee with their room. */
export interface AttendeeSession {
  readonly attendee: Attendee;
  readonly room: RoomView;
}

export type JoinResult =
  | { ok: true; attendee: Attendee; room: RoomView; sessionSecret: string; linkSecret: string }
  | { ok: false; refusal: RoomRefusal | 'invalid-name'; error: string };

/** What each refusal says (the same text on the join page and in the API). */
export const REFUSAL_MESSAGES: Record<RoomRefusal, string> = {
  'unknown-room': 'There is no workshop room with this code. Check the code with your instructor.',
  closed: 'This workshop room is closed.',
  ended: 'This workshop room has ended.',
  full: 'This workshop room is full.',
};

/** Why a room refuses its attendees now, or null when it is open. */
export function roomRefusal(room: Pick<Room, 'closedAt' | 'endsAt'> | null, now: Date = new Date()): RoomRefusal | null {
  if (!room) return 'unknown-room';
  const status = roomStatus(room, now);
  return status === 'open' ? null : status;
}

/**
 * Joins a room: a new attendee with a sandbox of their own copied from the room's base. Returns
 * the session secret (for the cookie) and the personal-link secret, each shown only here.
 */
export async function joinRoom(code: string, nameInput: unknown): Promise<JoinResult> {
  const db = getDb();
  const room = await db.room.findUnique({ where: { code } });
  const refusal = roomRefusal(room);
  if (refusal || !room) return { ok: false, refusal: refusal ?? 'unknown-room', error: REFUSAL_MESSAGES[refusal ?? 'unknown-room'] };
  const name = parseDisplayName(nameInput);
  if (!name.ok) return { ok: false, refusal: 'invalid-name', error: name.error };
  if ((await db.attendee.count({ where: { roomId: room.id } })) >= MAX_ATTENDEES) return { ok: false, refusal: 'full', error: REFUSAL_MESSAGES.full };
  const sessionSecret = newSecret();
  const linkSecret = newSecret();
  const sandboxId = newSandboxId();
  await provisionAttendeeSandbox({ id: sandboxId, name: `${room.name}: ${name.name}`, roomId: room.id, baseSandboxId: room.baseSandboxId });
  const attendee = await db.attendee.create({
    data: { id: `a${randomId(12)}`, roomId: room.id, sandboxId, name: name.name, sessionHash: secretHash(sessionSecret), linkHash: secretHash(linkSecret) },
  });
  return { ok: true, attendee, room: toRoomView(room), sessionSecret, linkSecret };
}

/** The attendee a session secret (the cookie's value) belongs to, with their room, or null. */
export async function findAttendeeBySession(secret: string | null | undefined): Promise<AttendeeSession | null> {
  if (!secret || !isSecretShaped(secret)) return null;
  const db = getDb();
  const attendee = await db.attendee.findUnique({ where: { sessionHash: secretHash(secret) } });
  if (!attendee) return null;
  const room = await db.room.findUnique({ where: { id: attendee.roomId } });
  return room ? { attendee, room: toRoomView(room) } : null;
}

/** The attendee a personal link's secret belongs to, with their room, or null. */
export async function findAttendeeByLink(secret: string | null | undefined): Promise<AttendeeSession | null> {
  if (!secret || !isSecretShaped(secret)) return null;
  const db = getDb();
  const attendee = await db.attendee.findUnique({ where: { linkHash: secretHash(secret) } });
  if (!attendee) return null;
  const room = await db.room.findUnique({ where: { id: attendee.roomId } });
  return room ? { attendee, room: toRoomView(room) } : null;
}

/**
 * Opens an attendee's sandbox in this browser with their personal link: a new session secret
 * replaces the old one, so the browser that held it is signed out of the sandbox.
 */
export async function resumeWithLink(
  linkSecret: string,
): Promise<{ ok: true; session: AttendeeSession; sessionSecret: string } | { ok: false; error: string }> {
  const found = await findAttendeeByLink(linkSecret);
  if (!found) return { ok: false, error: 'This personal link is not valid (the room may have been deleted).' };
  const refusal = roomRefusal(found.room);
  if (refusal) return { ok: false, error: REFUSAL_MESSAGES[refusal] };
  const sessionSecret = newSecret();
  const attendee = await getDb().attendee.update({ where: { id: found.attendee.id }, data: { sessionHash: secretHash(sessionSecret) } });
  return { ok: true, session: { attendee, room: found.room }, sessionSecret };
}

/** The attendees of a room, in the order they joined. */
export async function listAttendees(roomId: string): Promise<Attendee[]> {
  return getDb().attendee.findMany({ where: { roomId }, orderBy: [{ joinedAt: 'asc' }, { id: 'asc' }] });
}

/** One attendee of a room, or null. */
export async function findAttendee(roomId: string, attendeeId: string): Promise<Attendee | null> {
  if (attendeeId.length > 64) return null;
  const attendee = await getDb().attendee.findUnique({ where: { id: attendeeId } });
  return attendee && attendee.roomId === roomId ? attendee : null;
}

/** The attendee whose sandbox `sandboxId` is, or null (the default sandbox, a room's base, an unknown id). */
export async function findAttendeeOfSandbox(sandboxId: string): Promise<Attendee | null> {
  return getDb().attendee.findUnique({ where: { sandboxId } });
}

/** Resets an attendee's sandbox: every row of it goes, and a fresh copy of the room's base takes its place (same id, links and cookie). */
export async function resetAttendee(roomId: string, attendeeId: string): Promise<boolean> {
  const db = getDb();
  const attendee = await findAttendee(roomId, attendeeId);
  const room = attendee ? await db.room.findUnique({ where: { id: roomId } }) : null;
  if (!attendee || !room) return false;
  await deleteSandboxes([attendee.sandboxId]);
  await provisionAttendeeSandbox({ id: attendee.sandboxId, name: `${room.name}: ${attendee.name}`, roomId, baseSandboxId: room.baseSandboxId });
  return true;
}
