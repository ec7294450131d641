/**
 * The sandbox a request works in. The default sandbox is served at `{origin}/fhir`, `/oauth/*`,
 * `/launcher`…; every other sandbox under the path prefix `/s/{id}`, with its own discovery,
 * endpoints, clients, tokens, audit trail, rate-limit counters, FHIR data and clock. The servers
 * resolve the prefix once per request and run the handler inside `runInSandbox`; lib code reads
 * `currentSandbox()` for its queries and public URLs and `sandboxNow()` for every expiry, so no
 * query, URL or clock can name another sandbox by accident.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { DEFAULT_SANDBOX_ID, SANDBOX_HEADER, isServedSandboxId, sandboxBasePath } from './index';

export { SANDBOX_HEADER };

/** What a request knows of its sandbox. */
export interface SandboxContext {
  readonly id: string;
  /** '' for the default sandbox, `/s/{id}` for any other: the prefix of every public URL of the sandbox. */
  readonly basePath: string;
  /** How far the sandbox's clock runs ahead of real time (issue 15: clock fast-forward). */
  readonly clockOffsetSeconds: number;
}

/** The default sandbox's context: what code sees outside any request. */
export const DEFAULT_SANDBOX: SandboxContext = Object.freeze({ id: DEFAULT_SANDBOX_ID, basePath: '', clockOffsetSeconds: 0 });

const storage = new AsyncLocalStorage<SandboxContext>();

/** The sandbox of the running request (the default sandbox outside any). */
export function currentSandbox(): SandboxContext {
  return storage.getStore() ?? DEFAULT_SANDBOX;
}

/** Runs `fn` (and everything it awaits) in the sandbox `ctx`. */
export function runInSandbox<T>(ctx: SandboxContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

/** The current sandbox's time in milliseconds: real time plus its clock offset. */
export function sandboxNowMs(): number {
  const ctx = storage.getStore();
  return ctx && ctx.clockOffsetSeconds !== 0 ? Date.now() + ctx.clockOffsetSeconds * 1000 : Date.now();
}

/** The current sandbox's time (real time plus its clock offset). */
export function sandboxNow(): Date {
  return new Date(sandboxNowMs());
}

/** The context of a sandbox row. */
export function sandboxContextOf(row: { id: string; clockOffsetSeconds: number }): SandboxContext {
  return Object.freeze({ id: row.id, basePath: sandboxBasePath(row.id), clockOffsetSeconds: row.clockOffsetSeconds });
}

/**
 * How long a resolved sandbox is remembered. A clock change made on this instance is seen at once
 * (the setters drop the entry); another instance behind the same origin sees it within this time.
 */
const CACHE_MS = 2_000;
const cache = new Map<string, { ctx: SandboxContext | null; until: number }>();
const CACHE_MAX = 10_000;

/** Forgets what `resolveSandbox` remembered of one sandbox (every sandbox without an id). */
export function invalidateSandbox(id?: string): void {
  if (id === undefined) cache.clear();
  else cache.delete(id);
}

/** Reads a sandbox row and whether it may be served (its room, when it has one, is open). */
type SandboxLoader = (id: string) => Promise<{ id: string; clockOffsetSeconds: number } | null>;

async function loadSandbox(id: string): Promise<{ id: string; clockOffsetSeconds: number } | null> {
  // Loaded on first use: proxy.ts imports the origin rules, which read this module, and must not
  // load the database client for it.
  const { getDb } = await import('../db');
  const db = getDb();
  const row = await db.sandbox.findUnique({ where: { id }, select: { id: true, clockOffsetSeconds: true, roomId: true } });
  if (!row) return null;
  // A sandbox of a workshop room (an attendee's, or the room's base) is served while the room is
  // open: closing or ending the room ends access; its data stays until the room is deleted.
  const roomId =
    row.roomId ??
    (await db.attendee.findUnique({ where: { sandboxId: id }, select: { roomId: true } }))?.roomId ??
    (await db.room.findUnique({ where: { baseSandboxId: id }, select: { id: true } }))?.id ??
    null;
  if (roomId !== null) {
    const room = await db.room.findUnique({ where: { id: roomId }, select: { closedAt: true, endsAt: true } });
    if (room && (room.closedAt !== null || room.endsAt.getTime() <= Date.now())) return null;
  }
  return { id: row.id, clockOffsetSeconds: row.clockOffsetSeconds };
}

let loader: SandboxLoader = loadSandbox;

/**
 * The context of the sandbox `id` serves, or null when there is no such sandbox (or it may not be
 * served). The default sandbox always resolves. Answers are remembered for a short time.
 */
export async function resolveSandbox(id: string): Promise<SandboxContext | null> {
  if (id === DEFAULT_SANDBOX_ID) return DEFAULT_SANDBOX;
  if (!isServedSandboxId(id)) return null;
  const now = Date.now();
  const hit = cache.get(id);
  if (hit && hit.until > now) return hit.ctx;
  const row = await loader(id);
  const ctx = row ? sandboxContextOf(row) : null;
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(id, { ctx, until: now + CACHE_MS });
  return ctx;
}

/** Replaces how sandbox rows are read (tests of the cache). Returns the previous loader. */
export function setSandboxLoader(next: SandboxLoader | null): SandboxLoader {
  const previous = loader;
  loader = next ?? loadSandbox;
  invalidateSandbox();
  return previous;
}

/** Largest clock offset a sandbox accepts: ten years. */
export const MAX_CLOCK_OFFSET_SECONDS = 10 * 366 * 86_400;

/**
 * Moves a sandbox's clock to `seconds` ahead of real time (0 returns it to real time). Tokens,
 * codes, refresh tokens, launches and rate-limit windows of that sandbox then behave as if that
 * time had passed; other sandboxes are unaffected. The default sandbox keeps real time.
 */
export async function setSandboxClockOffset(id: string, seconds: number): Promise<void> {
  if (id === DEFAULT_SANDBOX_ID) throw new RangeError('the default sandbox keeps real time');
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_CLOCK_OFFSET_SECONDS)
    throw new RangeError(`a clock offset is a whole number of seconds from 0 to ${MAX_CLOCK_OFFSET_SECONDS}`);
  const { getDb } = await import('../db');
  await getDb().sandbox.update({ where: { id }, data: { clockOffsetSeconds: seconds } });
  invalidateSandbox(id);
}

/**
 * The sandbox of a request that proxy.ts rewrote from `/s/{id}/…` (its header), resolved: the
 * default sandbox's context when the header is absent, null when it names no servable sandbox.
 */
export async function sandboxOfHeaders(headers: { get(name: string): string | null }): Promise<SandboxContext | null> {
  const id = headers.get(SANDBOX_HEADER);
  return id === null ? DEFAULT_SANDBOX : resolveSandbox(id);
}
