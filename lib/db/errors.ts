/**
 * Tells a database that is briefly unavailable (server down or restarting, connections cut, pool
 * exhausted, file locked) from every other failure, wherever a Prisma or driver error surfaces.
 * The request paths answer such a failure with 503 and Retry-After instead of 500: nothing about
 * the request was wrong, and the same process serves it again once the database is back (the pg
 * pool opens new connections on demand; SQLite reopens nothing).
 */

/** Seconds a client is asked to wait (Retry-After, RFC 9110 §10.2.3) while the database is unavailable. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/** Driver-adapter error kinds (@prisma/driver-adapter-utils) that mean "no usable connection right now". */
const TRANSIENT_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);

/**
 * Prisma error codes of the same meaning: P1001 can't reach the server, P1002 reaching it timed out,
 * P1008 operations timed out, P1017 the server closed the connection, P2024 pool timeout.
 */
const TRANSIENT_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);

/**
 * PostgreSQL SQLSTATEs: class 08 connection exceptions, 57P01–57P03 (admin or crash shutdown, the
 * server starting up or in recovery), class 53 insufficient resources (too many connections, disk
 * full, out of memory).
 */
function isTransientSqlState(code: string): boolean {
  return /^(08[0-9A-Z]{3}|57P0[123]|53[0-9A-Z]{3})$/.test(code);
}

/**
 * SQLite result codes (primary, or an extended code of one): the file is locked beyond the busy
 * timeout, cannot be opened, or the disk failed or is full.
 */
const TRANSIENT_SQLITE = /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|PROTOCOL|NOMEM)(_|$)/;

/** Node socket errors of a connection attempt or a connection that broke. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/**
 * Messages of node-postgres errors that carry no code: a connection that died mid-query, a pool
 * that found no free connection in time, a client already broken; and Prisma's own timeout for
 * opening a transaction when every connection is busy.
 */
const TRANSIENT_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Client has encountered a connection error and is not queryable/,
  /^Client was closed and is not queryable/,
  /Unable to start a transaction in the given time/,
  /Can't reach database server/,
];

function isTransientNode(value: Record<string, unknown>): boolean {
  const { code, kind, originalCode, message } = value;
  if (typeof kind === 'string') {
    if (TRANSIENT_KINDS.has(kind)) return true;
    // kind 'postgres' carries the SQLSTATE in code; mapped kinds keep it in originalCode.
    if (kind === 'postgres' && typeof code === 'string' && isTransientSqlState(code)) return true;
  }
  for (const c of [code, originalCode]) {
    if (typeof c !== 'string') continue;
    if (TRANSIENT_PRISMA_CODES.has(c) || SOCKET_CODES.has(c) || TRANSIENT_SQLITE.test(c) || isTransientSqlState(c)) return true;
  }
  return typeof message === 'string' && TRANSIENT_MESSAGES.some((re) => re.test(message));
}

/** The values an error wraps: cause chain, Prisma's meta.driverAdapterError and its cause, AggregateError members. */
function wrapped(value: Record<string, unknown>): unknown[] {
  const out: unknown[] = [value.cause];
  const meta = value.meta;
  if (meta && typeof meta === 'object') out.push((meta as Record<string, unknown>).driverAdapterError);
  if (Array.isArray(value.errors)) out.push(...(value.errors as unknown[]));
  return out;
}

/** Whether `test` holds for a thrown value or anything it wraps (a bounded walk: cycles and depth are cut). */
function anyWrapped(error: unknown, test: (value: Record<string, unknown>) => boolean): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length && seen.size < 20) {
    const value = queue.shift();
    if (!value || typeof value !== 'object' || seen.has(value)) continue;
    seen.add(value);
    const record = value as Record<string, unknown>;
    if (test(record)) return true;
    queue.push(...wrapped(record));
  }
  return false;
}

/** Whether a thrown value means the database is unavailable for now (rather than a bug or bad input). */
export function isDatabaseUnavailable(error: unknown): boolean {
  return anyWrapped(error, (record) => {
    // Prisma puts a non-enumerable error code on its own errors (PrismaClientInitializationError.errorCode).
    if (typeof record.errorCode === 'string' && TRANSIENT_PRISMA_CODES.has(record.errorCode)) return true;
    return isTransientNode(record);
  });
}

/**
 * Whether a thrown value is a unique-constraint violation, in any of the shapes one arrives in:
 * Prisma's P2002 (model API), the driver adapter's `UniqueConstraintViolation` (direct statements,
 * `$queryRaw`, and Prisma errors that wrap it), PostgreSQL's SQLSTATE 23505, SQLite's extended codes.
 */
export function isUniqueViolation(error: unknown): boolean {
  return anyWrapped(error, ({ code, kind, originalCode }) => {
    if (code === 'P2002' || kind === 'UniqueConstraintViolation' || code === '23505' || originalCode === '23505') return true;
    return [code, originalCode].some((c) => typeof c === 'string' && UNIQUE_SQLITE.test(c));
  });
}

const UNIQUE_SQLITE = /^SQLITE_CONSTRAINT_(UNIQUE|PRIMARYKEY)$/;

let lastLogged = 0;

/**
 * Reports an unavailable database on stderr at most every 10 s (an outage fails every request;
 * one line is enough), with the driver's reason and never SQL.
 */
export function logDatabaseUnavailable(where: string, error: unknown): void {
  const now = Date.now();
  if (now - lastLogged < 10_000) return;
  lastLogged = now;
  console.error(`${where}: database unavailable (${reasonOf(error)}); answering 503 until it is back`);
}

function reasonOf(error: unknown): string {
  const record = error && typeof error === 'object' ? (error as Record<string, unknown>) : {};
  const meta = record.meta as { driverAdapterError?: { cause?: Record<string, unknown> } } | undefined;
  const cause = meta?.driverAdapterError?.cause;
  if (cause) return [cause.kind, cause.originalCode ?? cause.code].filter((v) => typeof v === 'string').join(' ');
  const code = typeof record.code === 'string' ? `${record.code} ` : '';
  const message =
    error instanceof Error
      ? (error.message
          .split('\n')
          .filter((l) => l.trim() !== '')
          .pop() ?? '')
      : String(error);
  return `${code}${message}`.slice(0, 200);
}
