/**
 * A room's progress: for each attendee, the milestones their sandbox's audit trail proves and the
 * exercises they complete, for the instructor's live grid, `GET /api/workshops/{id}`, the CSV
 * download and the attendee's own exercise list.
 */
import { getDb } from '../db';
import type { Attendee } from '../generated/sqlite/client';
import { exerciseProgress } from './exercises';
import type { ExerciseProgress } from './exercises';
import { MILESTONES, deriveMilestones } from './milestones';
import type { MilestoneAuditRow, MilestoneTimes } from './milestones';
import { clockOffsets } from './sandboxes';
import { toRoomView } from './rooms';
import type { RoomView } from './rooms';

/** One attendee's row of the grid. */
export interface AttendeeProgress {
  readonly id: string;
  readonly name: string;
  readonly sandboxId: string;
  readonly joinedAt: Date;
  readonly clockOffsetSeconds: number;
  readonly milestones: MilestoneTimes;
  readonly exercises: readonly ExerciseProgress[];
}

const SELECT = {
  sandboxId: true,
  at: true,
  kind: true,
  endpoint: true,
  status: true,
  clientId: true,
  scopes: true,
  detail: true,
  flags: true,
  facts: true,
} as const;

/** The milestones of each sandbox, read from the audit trail (and the console's client registrations). */
export async function sandboxMilestones(sandboxIds: readonly string[]): Promise<Map<string, MilestoneTimes>> {
  const result = new Map<string, MilestoneTimes>();
  if (sandboxIds.length === 0) return result;
  const db = getDb();
  const ids = [...sandboxIds];
  // Only the records a milestone can rest on: successful registrations and token answers, FHIR
  // refusals and flagged records; FHIR successes only where a flagged read or an expired token
  // waits for one.
  const [events, clients] = await Promise.all([
    db.auditRecord.findMany({
      where: {
        sandboxId: { in: ids },
        OR: [
          { kind: 'oauth', endpoint: { in: ['/oauth/register', '/oauth/token'] }, status: { in: [200, 201] } },
          { kind: 'fhir', status: { in: [401, 403] } },
          { flags: { not: null } },
        ],
      },
      select: SELECT,
      orderBy: { at: 'asc' },
    }),
    db.client.findMany({ where: { sandboxId: { in: ids }, NOT: { clientId: { startsWith: 'sample-app' } } }, select: { sandboxId: true, createdAt: true } }),
  ]);
  const waiting = new Map<string, Date>();
  for (const row of events) {
    if (row.kind !== 'fhir') continue;
    const marks = row.flags?.split(' ') ?? [];
    if (marks.includes('suspected-bola') || (row.status === 401 && row.facts?.includes('tokenExpired'))) {
      const since = waiting.get(row.sandboxId);
      if (!since || row.at < since) waiting.set(row.sandboxId, row.at);
    }
  }
  const successes = waiting.size
    ? await db.auditRecord.findMany({
        where: { OR: [...waiting].map(([sandboxId, since]) => ({ sandboxId, kind: 'fhir', status: { gte: 200, lt: 300 }, at: { gt: since } })) },
        select: SELECT,
        orderBy: { at: 'asc' },
        take: 5_000,
      })
    : [];
  const rowsBySandbox = new Map<string, MilestoneAuditRow[]>();
  for (const row of [...events, ...successes]) {
    const list = rowsBySandbox.get(row.sandboxId) ?? [];
    list.push(row);
    rowsBySandbox.set(row.sandboxId, list);
  }
  const clientsBySandbox = new Map<string, Date[]>();
  for (const c of clients) clientsBySandbox.set(c.sandboxId, [...(clientsBySandbox.get(c.sandboxId) ?? []), c.createdAt]);
  for (const id of ids) result.set(id, deriveMilestones(rowsBySandbox.get(id) ?? [], clientsBySandbox.get(id) ?? []));
  return result;
}

/** The progress of the given attendees of a room. */
export async function attendeesProgress(room: RoomView, attendees: readonly Attendee[]): Promise<AttendeeProgress[]> {
  const ids = attendees.map((a) => a.sandboxId);
  const [milestones, offsets] = await Promise.all([sandboxMilestones(ids), clockOffsets(ids)]);
  return attendees.map((a) => {
    const times = milestones.get(a.sandboxId) ?? {};
    return {
      id: a.id,
      name: a.name,
      sandboxId: a.sandboxId,
      joinedAt: a.joinedAt,
      clockOffsetSeconds: offsets.get(a.sandboxId) ?? 0,
      milestones: times,
      exercises: exerciseProgress(room.exercises, times),
    };
  });
}

/** The progress of every attendee of a room, in the order they joined. */
export async function roomProgress(room: RoomView): Promise<AttendeeProgress[]> {
  const attendees = await getDb().attendee.findMany({ where: { roomId: room.id }, orderBy: [{ joinedAt: 'asc' }, { id: 'asc' }] });
  return attendeesProgress(room, attendees);
}

/** A CSV field (RFC 4180 §2), with a leading quote on values a spreadsheet would run as a formula. */
function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** The room's progress as CSV: one row per attendee, one column per milestone (its time) and per exercise (done at). */
export function progressCsv(room: RoomView, rows: readonly AttendeeProgress[]): string {
  const header = ['attendee', 'joined_at', 'clock_offset_seconds', ...MILESTONES.map((m) => m.id), ...room.exercises.map((e) => `exercise: ${e.title}`)];
  const lines = [header.map(csvField).join(',')];
  for (const row of rows) {
    lines.push(
      [
        row.name,
        row.joinedAt.toISOString(),
        String(row.clockOffsetSeconds),
        ...MILESTONES.map((m) => row.milestones[m.id]?.toISOString() ?? ''),
        ...row.exercises.map((e) => e.doneAt?.toISOString() ?? ''),
      ]
        .map(csvField)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** The attendee whose sandbox `sandboxId` is, with their room and progress, or null (the default sandbox, a room's base). */
export async function sandboxAttendeeProgress(sandboxId: string): Promise<{ room: RoomView; progress: AttendeeProgress } | null> {
  const db = getDb();
  const attendee = await db.attendee.findUnique({ where: { sandboxId } });
  const row = attendee ? await db.room.findUnique({ where: { id: attendee.roomId } }) : null;
  if (!attendee || !row) return null;
  const room = toRoomView(row);
  const [progress] = await attendeesProgress(room, [attendee]);
  return progress ? { room, progress } : null;
}
