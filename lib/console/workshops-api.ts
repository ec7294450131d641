/**
 * `/api/workshops`: everything the instructor does with rooms, for scripts. Authenticated with HTTP
 * Basic and the console account (RFC 7617), under the same failed-attempt limits as the console's
 * sign-in, or with the console's own session cookie (the room pages use the same endpoints).
 *
 *   GET    /api/workshops                                   rooms
 *   POST   /api/workshops                                   create (JSON) → 201 { id, code, joinUrl, … }
 *   GET    /api/workshops/{id}                              the room, its attendees and their milestones
 *   PATCH  /api/workshops/{id}                              { extendMinutes } | { endsAt } | { closed }
 *   DELETE /api/workshops/{id}                              the room and every row of its sandboxes
 *   GET    /api/workshops/{id}/progress.csv                 progress as CSV
 *   GET    /api/workshops/{id}/events                       progress as server-sent events
 *   GET    /s/{sandbox}/api/console/exercises/events        an attendee's own ticks as server-sent events
 *   POST   /api/workshops/{id}/attendees/{aid}/reset        a fresh copy of the room's dataset
 *   POST   /api/workshops/{id}/attendees/{aid}/clock        { advanceSeconds } | { offsetSeconds } (0: real time) | { untilSeconds }
 *
 * Joining is `POST {joinUrl}` with `{"name": …}` and `Accept: application/json` (lib/workshop/join.tsx).
 */
import { z } from 'zod';
import { publicOrigin } from '../http/origin';
import { isCrossOriginWrite } from '../http/security-headers';
import { findAttendee, findAttendeeOfSandbox, resetAttendee } from '../workshop/attendees';
import { subscribeRoom } from '../workshop/live';
import { MILESTONES } from '../workshop/milestones';
import { progressCsv, roomProgress } from '../workshop/progress';
import type { AttendeeProgress } from '../workshop/progress';
import { createRoom, deleteRoom, findRoom, firstIssue, listRooms, updateRoom } from '../workshop/rooms';
import type { RoomView } from '../workshop/rooms';
import { clockOffsets, setClockOffset } from '../workshop/sandboxes';
import { joinUrl, sandboxUrls } from '../workshop/urls';
import { DEFAULT_SANDBOX_ID } from '../sandbox';
import { currentSandbox } from '../sandbox/context';
import { accountModeFor, attemptConsoleSignIn, consoleSessionOrResponse, readConsoleSession } from './auth';
import type { ConsoleSession } from './auth';

const NO_STORE = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
/** Largest JSON body accepted. */
const MAX_BODY_BYTES = 64 * 1024;
const BASIC_CHALLENGE = 'Basic realm="SMART Sandbox console", charset="UTF-8"';

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...NO_STORE, ...headers } });
}

function problem(status: number, error: string, description: string, headers: Record<string, string> = {}): Response {
  return json({ error, error_description: description }, status, headers);
}

/** The console account of a request (HTTP Basic or the console session cookie), or the refusal. */
async function authenticate(req: Request): Promise<ConsoleSession | Response> {
  const authorization = req.headers.get('authorization');
  if (authorization !== null) {
    const match = /^Basic ([A-Za-z0-9+/=]{1,1024})$/i.exec(authorization.trim());
    const decoded = match ? Buffer.from(match[1] ?? '', 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (!match || colon < 0)
      return problem(401, 'invalid_request', 'Authorization must be HTTP Basic with the console user and password', { 'www-authenticate': BASIC_CHALLENGE });
    const attempt = await attemptConsoleSignIn({
      mode: accountModeFor(req.headers),
      username: decoded.slice(0, colon),
      password: decoded.slice(colon + 1),
      headers: req.headers,
    });
    if (attempt.kind === 'signed-in') return attempt.session;
    if (attempt.kind === 'locked') return problem(429, 'too_many_attempts', attempt.message, { 'retry-after': String(attempt.retryAfterSeconds) });
    return problem(401, 'invalid_credentials', 'wrong console user or password', { 'www-authenticate': BASIC_CHALLENGE });
  }
  const session = await readConsoleSession(req.headers);
  // An attendee's cookie opens their own sandbox's console, never the instructor's API.
  if (!session || session.account === 'attendee')
    return problem(401, 'unauthorized', 'HTTP Basic with the console user and password is required', { 'www-authenticate': BASIC_CHALLENGE });
  // A browser's cookie authenticates only same-origin writes.
  if (isCrossOriginWrite(req.method, req.headers)) return problem(403, 'forbidden', 'cross-origin request refused');
  return session;
}

async function readJson(req: Request): Promise<{ ok: true; value: unknown } | { ok: false; response: Response }> {
  if (Number(req.headers.get('content-length') ?? '0') > MAX_BODY_BYTES)
    return { ok: false, response: problem(413, 'invalid_request', 'request body too large') };
  const text = await req.text();
  if (text.length > MAX_BODY_BYTES) return { ok: false, response: problem(413, 'invalid_request', 'request body too large') };
  if (text.trim() === '') return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, response: problem(400, 'invalid_request', 'the body is not JSON') };
  }
}

/** The path segments after /api/workshops. */
function segmentsOf(req: Request): string[] {
  return new URL(req.url).pathname
    .split('/')
    .slice(3)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return '';
      }
    });
}

/**
 * The opening of a handler of one room or one attendee: the console account, then `find` with the
 * ids the path names (/api/workshops/{id}/attendees/{aid}/…); nothing found is a 404 saying `missing`.
 */
async function authenticateAndFind<T>(req: Request, find: (id: string, attendeeId: string) => Promise<T | null>, missing: string): Promise<T | Response> {
  const auth = await authenticate(req);
  if (auth instanceof Response) return auth;
  const [id = '', , attendeeId = ''] = segmentsOf(req);
  return (await find(id, attendeeId)) ?? problem(404, 'not_found', missing);
}

/** A room as JSON. */
export function roomJson(room: RoomView, origin: string) {
  return {
    id: room.id,
    code: room.code,
    name: room.name,
    joinUrl: joinUrl(origin, room.code),
    status: room.status,
    endsAt: room.endsAt.toISOString(),
    closedAt: room.closedAt?.toISOString() ?? null,
    createdAt: room.createdAt.toISOString(),
    dataset: room.dataset,
    exercises: room.exerciseSpecs,
  };
}

/** One attendee's progress as JSON. */
export function attendeeJson(row: AttendeeProgress, origin: string) {
  const urls = sandboxUrls(origin, row.sandboxId);
  return {
    id: row.id,
    name: row.name,
    sandboxId: row.sandboxId,
    joinedAt: row.joinedAt.toISOString(),
    fhirBaseUrl: urls.fhirBaseUrl,
    consoleUrl: urls.consoleUrl,
    clockOffsetSeconds: row.clockOffsetSeconds,
    milestones: Object.fromEntries(MILESTONES.flatMap((m) => (row.milestones[m.id] ? [[m.id, row.milestones[m.id]?.toISOString()]] : []))),
    exercises: row.exercises.map((e) => ({ title: e.title, milestones: e.milestones, reached: e.reached, doneAt: e.doneAt?.toISOString() ?? null })),
  };
}

export type RoomJson = ReturnType<typeof roomJson>;
export type AttendeeJson = ReturnType<typeof attendeeJson>;
/** What the event stream sends in each `progress` event. */
export interface WorkshopProgressJson {
  readonly room: RoomJson;
  readonly attendees: AttendeeJson[];
}

/** GET/POST /api/workshops */
export async function handleWorkshops(req: Request): Promise<Response> {
  const auth = await authenticate(req);
  if (auth instanceof Response) return auth;
  const origin = publicOrigin(req);
  if (req.method === 'GET') {
    const rooms = await listRooms();
    return json({ rooms: rooms.map((r) => ({ ...roomJson(r, origin), attendees: r.attendees })) });
  }
  const body = await readJson(req);
  if (!body.ok) return body.response;
  const created = await createRoom(body.value);
  if (!created.ok) return problem(400, 'invalid_request', created.error);
  return json(roomJson(created.room, origin), 201, { location: `${origin}/api/workshops/${created.room.id}` });
}

/** GET/PATCH/DELETE /api/workshops/{id} */
export async function handleWorkshop(req: Request): Promise<Response> {
  const auth = await authenticate(req);
  if (auth instanceof Response) return auth;
  const [id = ''] = segmentsOf(req);
  const origin = publicOrigin(req);
  if (req.method === 'DELETE')
    return (await deleteRoom(id)) ? new Response(null, { status: 204, headers: NO_STORE }) : problem(404, 'not_found', 'no such room');
  if (req.method === 'PATCH') {
    const body = await readJson(req);
    if (!body.ok) return body.response;
    const updated = await updateRoom(id, body.value);
    if (!updated.ok) return problem(updated.status, updated.status === 404 ? 'not_found' : 'invalid_request', updated.error);
    return json(roomJson(updated.room, origin));
  }
  const room = await findRoom(id);
  if (!room) return problem(404, 'not_found', 'no such room');
  const progress = await roomProgress(room);
  return json({ ...roomJson(room, origin), milestones: MILESTONES, attendees: progress.map((p) => attendeeJson(p, origin)) });
}

/** GET /api/workshops/{id}/progress.csv */
export async function handleWorkshopCsv(req: Request): Promise<Response> {
  const room = await authenticateAndFind(req, findRoom, 'no such room');
  if (room instanceof Response) return room;
  const csv = progressCsv(room, await roomProgress(room));
  return new Response(csv, {
    headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="workshop-${room.code}-progress.csv"`, ...NO_STORE },
  });
}

/** How long one event stream lasts before the browser reconnects, and how often an idle one sends a comment. */
const EVENT_STREAM_MS = 10 * 60_000;
const KEEP_ALIVE_MS = 15_000;

/** What an event stream's subscriber can do: send an event (skipped when it repeats the last one of its name) or end the stream. */
interface EventSink {
  send(event: string, data: string): void;
  close(): void;
}

/**
 * A server-sent event stream (HTML Living Standard §9.2) fed by a room's shared poll
 * (lib/workshop/live.ts): `start` subscribes and returns its unsubscribe; the stream ends when the
 * client goes away, after EVENT_STREAM_MS (the browser reconnects), or when `start`'s sink closes
 * it. A comment every 15 s keeps proxies from closing an idle stream.
 */
function eventStream(req: Request, start: (sink: EventSink) => () => void): Response {
  const encoder = new TextEncoder();
  let stop: (() => void) | null = null;
  let closed = false;
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  let lifetime: ReturnType<typeof setTimeout> | undefined;
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    clearTimeout(lifetime);
    stop?.();
  };
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const last = new Map<string, string>();
      let lastWrite = Date.now();
      const write = (text: string) => {
        if (closed) return;
        lastWrite = Date.now();
        controller.enqueue(encoder.encode(text));
      };
      const sink: EventSink = {
        send(event, data) {
          if (last.get(event) === data) return;
          last.set(event, data);
          write(`event: ${event}\ndata: ${data}\n\n`);
        },
        close() {
          if (closed) return;
          finish();
          controller.close();
        },
      };
      write('retry: 2000\n\n');
      keepAlive = setInterval(() => {
        if (Date.now() - lastWrite >= KEEP_ALIVE_MS) write(': keep-alive\n\n');
      }, KEEP_ALIVE_MS);
      lifetime = setTimeout(() => sink.close(), EVENT_STREAM_MS);
      const unsubscribe = start(sink);
      if (closed) unsubscribe();
      else stop = unsubscribe;
    },
    cancel() {
      finish();
    },
  });
  req.signal?.addEventListener('abort', finish);
  return new Response(stream, {
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    },
  });
}

/**
 * GET /api/workshops/{id}/events: the room's progress as server-sent events: a `progress` event at
 * once and whenever an attendee joins, reaches a milestone or has their clock moved, and `deleted`
 * when the room goes. Every stream open on a room shares one poll of the database
 * (lib/workshop/live.ts), so every instance behind one origin serves a current grid.
 */
export async function handleWorkshopEvents(req: Request): Promise<Response> {
  const room = await authenticateAndFind(req, findRoom, 'no such room');
  if (room instanceof Response) return room;
  const origin = publicOrigin(req);
  return eventStream(req, (sink) =>
    subscribeRoom(room.id, (snapshot) => {
      if (!snapshot.room) {
        sink.send('deleted', '{}');
        sink.close();
        return;
      }
      sink.send('progress', JSON.stringify({ room: roomJson(snapshot.room, origin), attendees: snapshot.attendees.map((p) => attendeeJson(p, origin)) }));
    }),
  );
}

/** One attendee's own progress as JSON: their milestones and exercise ticks. */
export function ownProgressJson(row: AttendeeProgress) {
  return {
    clockOffsetSeconds: row.clockOffsetSeconds,
    milestones: Object.fromEntries(MILESTONES.flatMap((m) => (row.milestones[m.id] ? [[m.id, row.milestones[m.id]?.toISOString()]] : []))),
    exercises: row.exercises.map((e) => ({ key: e.key, reached: e.reached, doneAt: e.doneAt?.toISOString() ?? null })),
  };
}

export type OwnProgressJson = ReturnType<typeof ownProgressJson>;

/**
 * GET /s/{id}/api/console/exercises/events: the attendee's own milestones and exercise ticks as
 * server-sent events (issue 15 item 5: ticks appear as the sandbox observes the milestone), for
 * the attendee of that sandbox (their cookie) or the console account. A `progress` event at once
 * and on every change of theirs; `closed` when the room is closed, ended or deleted, or the
 * attendee reset away. Nothing of any other attendee is sent.
 */
export async function handleExerciseEvents(req: Request): Promise<Response> {
  const session = await consoleSessionOrResponse(req);
  if (session instanceof Response) return session;
  const sandbox = currentSandbox();
  const attendee = sandbox.id === DEFAULT_SANDBOX_ID ? null : await findAttendeeOfSandbox(sandbox.id);
  if (!attendee) return problem(404, 'not_found', 'this sandbox belongs to no workshop attendee');
  return eventStream(req, (sink) =>
    subscribeRoom(attendee.roomId, (snapshot) => {
      const own = snapshot.attendees.find((a) => a.id === attendee.id && a.sandboxId === sandbox.id);
      if (!snapshot.room || snapshot.room.status !== 'open' || !own) {
        sink.send('closed', '{}');
        sink.close();
        return;
      }
      sink.send('progress', JSON.stringify(ownProgressJson(own)));
    }),
  );
}

/** POST /api/workshops/{id}/attendees/{aid}/reset */
export async function handleAttendeeReset(req: Request): Promise<Response> {
  const auth = await authenticate(req);
  if (auth instanceof Response) return auth;
  const [id = '', , attendeeId = ''] = segmentsOf(req);
  if (!(await resetAttendee(id, attendeeId))) return problem(404, 'not_found', 'no such attendee in this room');
  return json({ reset: true });
}

const clockSchema = z.union([
  z
    .object({
      advanceSeconds: z
        .number()
        .int()
        .min(1)
        .max(10 * 366 * 86_400),
    })
    .strict(),
  z
    .object({
      offsetSeconds: z
        .number()
        .int()
        .min(0)
        .max(10 * 366 * 86_400),
    })
    .strict(),
  // An instant (seconds since the epoch) the sandbox's "now" jumps to, e.g. just before a token's
  // expiry; it only moves the clock forward.
  z.object({ untilSeconds: z.number().int().min(0) }).strict(),
]);

const MAX_CLOCK_OFFSET_SECONDS = 10 * 366 * 86_400;

/** The new offset of a clock change request, or the 400 answer. */
async function clockChange(req: Request, current: () => Promise<number>): Promise<number | Response> {
  const body = await readJson(req);
  if (!body.ok) return body.response;
  const parsed = clockSchema.safeParse(body.value);
  if (!parsed.success)
    return problem(400, 'invalid_request', `${firstIssue(parsed.error)} (send {"advanceSeconds": n}, {"offsetSeconds": n} or {"untilSeconds": t})`);
  if ('advanceSeconds' in parsed.data) return (await current()) + parsed.data.advanceSeconds;
  if ('offsetSeconds' in parsed.data) return parsed.data.offsetSeconds;
  const offset = parsed.data.untilSeconds - Math.floor(Date.now() / 1000);
  const now = await current();
  if (offset < now) return problem(400, 'invalid_request', "untilSeconds is before the sandbox's current time: its clock only moves forward (reset it first)");
  if (offset > MAX_CLOCK_OFFSET_SECONDS) return problem(400, 'invalid_request', 'untilSeconds is more than ten years ahead of real time');
  return offset;
}

/**
 * POST /s/{id}/api/console/clock with `{"advanceSeconds": n}`, `{"offsetSeconds": n}` or
 * `{"untilSeconds": t}` (the instant the sandbox's now jumps to, such as just before a token's expiry): moves the
 * request's sandbox's clock (issue 15 item 7), for its attendee or the console account. The
 * default sandbox keeps real time.
 */
export async function handleSandboxClock(req: Request): Promise<Response> {
  const session = await consoleSessionOrResponse(req);
  if (session instanceof Response) return session;
  if (isCrossOriginWrite(req.method, req.headers)) return problem(403, 'forbidden', 'cross-origin request refused');
  const sandbox = currentSandbox();
  if (sandbox.id === DEFAULT_SANDBOX_ID)
    return problem(400, 'invalid_request', 'the default sandbox keeps real time; workshop sandboxes have a clock of their own');
  const next = await clockChange(req, async () => sandbox.clockOffsetSeconds);
  if (next instanceof Response) return next;
  try {
    await setClockOffset(sandbox.id, next);
  } catch (err) {
    return problem(400, 'invalid_request', err instanceof RangeError ? err.message : 'the clock cannot be set');
  }
  return json({ clockOffsetSeconds: next });
}

/** POST /api/workshops/{id}/attendees/{aid}/clock */
export async function handleAttendeeClock(req: Request): Promise<Response> {
  const attendee = await authenticateAndFind(req, findAttendee, 'no such attendee in this room');
  if (attendee instanceof Response) return attendee;
  const next = await clockChange(req, async () => (await clockOffsets([attendee.sandboxId])).get(attendee.sandboxId) ?? 0);
  if (next instanceof Response) return next;
  try {
    await setClockOffset(attendee.sandboxId, next);
  } catch (err) {
    return problem(400, 'invalid_request', err instanceof RangeError ? err.message : 'the clock cannot be set');
  }
  return json({ clockOffsetSeconds: next });
}
