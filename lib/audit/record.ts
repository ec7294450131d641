import { randomUUID } from 'node:crypto';
import { getDb } from '../db';
import type { Db } from '../db';
import { directKindOf, rawExecute } from '../db/direct';
import { clientIp } from '../http/client-ip';
import { Prisma } from '../generated/sqlite/client';
import type { AuditFacts } from './facts';
import { serializeFacts } from './facts';
import { GroupCommitQueue } from './group-commit';
import { currentSandbox } from '../sandbox/context';

/** Flags a record can carry; the console lists flagged records as alerts. */
export type AuditFlag =
  | 'suspected-bola'
  | 'code-replay'
  | 'refresh-replay'
  | 'assertion-replay'
  | 'excessive-results'
  | 'rate-limited'
  | 'invalid-token'
  /** The outcome was a simulated error the developer armed in the launcher, not the app's doing. */
  | 'simulated';

export interface AuditEntry {
  sandboxId?: string;
  /** oauth | fhir | launch | console */
  kind: 'oauth' | 'fhir' | 'launch' | 'console';
  method: string;
  /** e.g. /oauth/token, /fhir/Observation */
  endpoint: string;
  resourceType?: string | null;
  resourceId?: string | null;
  clientId?: string | null;
  userId?: string | null;
  patientId?: string | null;
  launchId?: string | null;
  /** Scopes that allowed or denied the request (space-separated). */
  scopes?: string | null;
  status: number;
  errorCode?: string | null;
  /** Short human-readable detail; never a full token or secret. */
  detail?: string | null;
  resultCount?: number | null;
  latencyMs: number;
  ip?: string | null;
  userAgent?: string | null;
  origin?: string | null;
  flags?: AuditFlag[];
  /** How the app made the request (lib/audit/facts.ts). */
  facts?: AuditFacts | null;
}

/** Where a request came from, for the audit record. */
export function requestSource(req: Request): Pick<AuditEntry, 'ip' | 'userAgent' | 'origin'> {
  return {
    ip: clientIp(req),
    userAgent: req.headers.get('user-agent')?.slice(0, 300) ?? null,
    origin: req.headers.get('origin') ?? null,
  };
}

type AuditRow = Parameters<Db['auditRecord']['create']>[0]['data'];

/** Most records in one batch: 23 bound parameters each stays far below SQLite's 32,766 and PostgreSQL's 65,535. */
const MAX_BATCH = 200;

/**
 * A time-ordered UUID (version 7, RFC 9562 §5.7): 48 bits of Unix milliseconds, then 74 random
 * bits. Records written together get neighbouring keys, so a batch adds to the last pages of the
 * primary-key index instead of one random page per record (on SQLite, each page a commit touches is
 * a page written to the WAL).
 */
export function auditRecordId(nowMs: number = Date.now()): string {
  // The random bits come from a version 4 UUID (Node draws them from a cached pool, not one system
  // call per record): its variant is already RFC 9562's, and what follows the version digit is kept.
  const random = randomUUID();
  const ms = Math.max(0, Math.min(Math.floor(nowMs), 2 ** 48 - 1))
    .toString(16)
    .padStart(12, '0');
  return `${ms.slice(0, 8)}-${ms.slice(8, 12)}-7${random.slice(15)}`;
}

function toRow(entry: AuditEntry, at: Date): AuditRow {
  return {
    id: auditRecordId(at.getTime()),
    sandboxId: entry.sandboxId ?? currentSandbox().id,
    at,
    kind: entry.kind,
    method: entry.method,
    endpoint: entry.endpoint.slice(0, 500),
    resourceType: entry.resourceType ?? null,
    resourceId: entry.resourceId ?? null,
    clientId: entry.clientId ?? null,
    userId: entry.userId ?? null,
    patientId: entry.patientId ?? null,
    launchId: entry.launchId ?? null,
    scopes: entry.scopes ?? null,
    status: entry.status,
    errorCode: entry.errorCode ?? null,
    detail: entry.detail?.slice(0, 1000) ?? null,
    resultCount: entry.resultCount ?? null,
    latencyMs: entry.latencyMs,
    ip: entry.ip ?? null,
    userAgent: entry.userAgent ?? null,
    origin: entry.origin ?? null,
    flags: entry.flags?.length ? entry.flags.join(' ') : null,
    facts: serializeFacts(entry.facts),
  };
}

// Every column of the model, so a column added to the schema is written (or, when toRow does not
// know it yet, inserted as NULL: a NOT NULL column then fails the batch and each row goes through
// Prisma's create, which applies the schema default).
const COLUMNS = Object.values(Prisma.AuditRecordScalarFieldEnum);
const INSERT_HEAD = `INSERT INTO "AuditRecord" (${COLUMNS.map((c) => `"${c}"`).join(', ')}) VALUES `;

/** The text of a batch insert of `n` rows, in both placeholder styles, built once per batch size. */
interface BatchText {
  readonly strings: readonly string[];
  readonly sql: string;
  readonly text: string;
}
const batchTexts = new Map<number, BatchText>();

function batchTextOf(n: number): BatchText {
  let found = batchTexts.get(n);
  if (!found) {
    const strings: string[] = [`${INSERT_HEAD}(`];
    for (let r = 0; r < n; r++) {
      for (let c = 1; c < COLUMNS.length; c++) strings.push(', ');
      strings.push(r === n - 1 ? ')' : '), (');
    }
    const sql = strings.reduce((out, s, i) => (i === 0 ? s : `${out}?${s}`), '');
    const text = strings.reduce((out, s, i) => (i === 0 ? s : `${out}$${i}${s}`), '');
    found = { strings, sql, text };
    batchTexts.set(n, found);
  }
  return found;
}

/** A statement whose text was built once for its shape: the same Sql, without joining its parts on every read of `sql`. */
class PreparedSql extends Prisma.Sql {
  constructor(
    private readonly prepared: BatchText,
    values: unknown[],
  ) {
    super(prepared.strings, values);
  }
  override get sql(): string {
    return this.prepared.sql;
  }
  override get text(): string {
    return this.prepared.text;
  }
}

/**
 * On PostgreSQL the batch is one JSON parameter expanded by json_populate_recordset: the driver
 * then converts one value per batch instead of one per column of every row, the part of a batch
 * insert that cost most of its CPU (`npm run bench -- audit`), and the statement's text is the
 * same for every batch size, so it stays one prepared statement (lib/db). Keys are the column
 * names; a string is read by its column's type (timestamps without a zone, as Prisma writes them).
 */
const PG_COLUMNS = COLUMNS.map((c) => `"${c}"`).join(', ');
const PG_INSERT_HEAD = Prisma.raw(`INSERT INTO "AuditRecord" (${PG_COLUMNS}) SELECT ${PG_COLUMNS} FROM json_populate_recordset(NULL::"AuditRecord", `);
const PG_INSERT_TAIL = Prisma.raw('::json)');

/**
 * One multi-row INSERT with bound parameters: a single statement, so the batch commits or rolls
 * back as a whole. Raw rather than createMany, whose per-row cost in Prisma's query layer is about
 * ten times that of the statement itself (`npm run bench -- audit`); its text is built once per
 * batch size, and the prepared statement of that text is reused (lib/db/direct.ts).
 */
function insertBatch(db: Db, rows: readonly AuditRow[]): Promise<number> {
  if (directKindOf(db) === 'postgresql') return rawExecute(db, Prisma.sql`${PG_INSERT_HEAD}${JSON.stringify(rows)}${PG_INSERT_TAIL}`);
  const values = new Array<unknown>(rows.length * COLUMNS.length);
  let i = 0;
  for (const row of rows) for (const c of COLUMNS) values[i++] = (row as Record<string, unknown>)[c] ?? null;
  return rawExecute(db, new PreparedSql(batchTextOf(rows.length), values));
}

/** A group-commit queue of audit rows in front of a database (the app's by default). */
export function createAuditQueue(db: () => Db = getDb): GroupCommitQueue<AuditRow> {
  return new GroupCommitQueue<AuditRow>(
    {
      writeBatch: async (rows) => {
        await insertBatch(db(), rows);
      },
      writeOne: async (row) => {
        await db().auditRecord.create({ data: row });
      },
    },
    {
      maxBatch: MAX_BATCH,
      onFallback: (err, size) =>
        console.error(`audit batch of ${size} failed, writing its records one by one:`, err instanceof Error ? err.message : String(err)),
      onLost: (row, err) =>
        console.error(`audit write failed (${row.method} ${row.endpoint} → ${row.status}):`, err instanceof Error ? err.message : String(err)),
    },
  );
}

// One queue per process, shared by every bundle of the app that loads this module.
const globalForAudit = globalThis as unknown as { __sandboxAuditQueue?: GroupCommitQueue<AuditRow> };

function auditQueue(): GroupCommitQueue<AuditRow> {
  globalForAudit.__sandboxAuditQueue ??= createAuditQueue();
  return globalForAudit.__sandboxAuditQueue;
}

/**
 * Writes one audit record and resolves once it is committed, so a response that awaits it never
 * goes out before its record is durable. Concurrent records share one write (group commit). Never
 * throws: a record that cannot be written is reported on stderr.
 */
export async function recordAudit(entry: AuditEntry): Promise<void> {
  let row: AuditRow;
  try {
    row = toRow(entry, new Date());
  } catch (err) {
    console.error('audit record rejected:', err instanceof Error ? err.message : String(err));
    return;
  }
  await auditQueue().enqueue(row);
}

/** Resolves once every audit record queued so far is written (for an orderly shutdown). */
export function flushAuditRecords(): Promise<void> {
  return globalForAudit.__sandboxAuditQueue?.flush() ?? Promise.resolve();
}
