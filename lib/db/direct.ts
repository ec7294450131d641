import type { ArgType, SqlDriverAdapter, SqlDriverAdapterFactory, SqlResultSet } from '@prisma/driver-adapter-utils';
import type { Prisma } from '../generated/sqlite/client';
import { RUN_OUTSIDE } from './sqlite-transactions';
import { startCheckpointer } from './sqlite-checkpointer';

/**
 * Statements on the hot request paths (token row, rate-limit counters, resource reads, audit
 * inserts) skip Prisma's query layer and go straight to the driver adapter the Prisma client itself
 * uses: the same connection (SQLite) or pool (PostgreSQL), so transactions, isolation and error
 * mapping stay the same, at a fraction of the per-statement cost (`bench/profile.ts` shows the
 * split). Results are converted exactly as Prisma's `$queryRaw` converts them, so a call site sees
 * the same values either way.
 */

type Connect = () => Promise<SqlDriverAdapter>;

/** Clients whose adapter can be reached directly, with the way to reach it. */
const direct = new WeakMap<object, { connect: Connect; kind: 'sqlite' | 'postgresql' }>();

/**
 * A factory whose connection is shared: Prisma's first query and a direct statement get the same
 * adapter (never a second SQLite connection: two writers on one file in one process could wait on
 * each other). Disposing it lets the next connect open a new one.
 */
export function shareConnection(factory: SqlDriverAdapterFactory): { factory: SqlDriverAdapterFactory; connect: Connect } {
  let connected: Promise<SqlDriverAdapter> | null = null;
  const connect: Connect = () => {
    connected ??= factory.connect().then(
      (adapter) => {
        const dispose = adapter.dispose.bind(adapter);
        adapter.dispose = () => {
          connected = null;
          return dispose();
        };
        return adapter;
      },
      (err: unknown) => {
        connected = null;
        throw err;
      },
    );
    return connected;
  };
  return { factory: { provider: factory.provider, adapterName: factory.adapterName, connect }, connect };
}

/** The database kind of a client created by createDb (null for any other). */
export function directKindOf(client: object): 'sqlite' | 'postgresql' | null {
  return direct.get(client)?.kind ?? null;
}

/** Makes `rawQuery`/`rawExecute` on this client go straight to its adapter. */
export function registerDirect(client: object, connect: Connect, kind: 'sqlite' | 'postgresql'): void {
  direct.set(client, { connect, kind });
}

interface RawCapable {
  $queryRaw<T = unknown>(query: Prisma.Sql): PromiseLike<T>;
  $executeRaw(query: Prisma.Sql): PromiseLike<number>;
}

function argTypeOf(value: unknown): ArgType {
  const scalar = (scalarType: ArgType['scalarType']): ArgType => ({ scalarType, arity: 'scalar' });
  if (value === null || value === undefined) return scalar('unknown');
  if (value instanceof Date) return scalar('datetime');
  if (value instanceof Uint8Array) return scalar('bytes');
  switch (typeof value) {
    case 'string':
      return scalar('string');
    case 'bigint':
      return scalar('bigint');
    case 'number':
      return scalar(Number.isInteger(value) ? 'int' : 'float');
    case 'boolean':
      return scalar('boolean');
    default:
      return scalar('json');
  }
}

function argOf(value: unknown): unknown {
  if (value === undefined) return null;
  if (value === null || value instanceof Date || value instanceof Uint8Array || typeof value !== 'object') return value;
  return JSON.stringify(value);
}

/** Column type codes of @prisma/driver-adapter-utils' ColumnTypeEnum that need converting. */
const INT32 = 0;
const INT64 = 1;
const BOOLEAN = 5;
const DATE = 8;
const DATETIME = 10;
const JSON_COLUMN = 11;

const DATE_TIME = /(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/** A date-time text as Prisma reads it: a bare date is midnight UTC, a time without an offset is UTC. */
function dateOf(value: unknown): unknown {
  if (typeof value === 'number' || typeof value === 'bigint') return new Date(Number(value));
  if (typeof value !== 'string') return value;
  const m = DATE_TIME.exec(value);
  if (!m) return new Date(`${value}T00:00:00Z`);
  let text = value;
  if (m[2] === undefined) text = `${value}Z`;
  else if (m[2] !== 'Z' && !m[2].includes(':') && m[2].length === 3) text = `${value}:00`;
  return new Date(text.replace(' ', 'T'));
}

function convert(value: unknown, type: number): unknown {
  if (value === null) return null;
  switch (type) {
    case INT32:
      return Math.trunc(Number(value));
    case INT64:
      if (typeof value === 'bigint') return value;
      return typeof value === 'string' ? BigInt(value) : BigInt(Math.trunc(Number(value)));
    case BOOLEAN:
      return typeof value === 'boolean' ? value : value === 1 || value === 1n || value === '1' || value === 'true';
    case DATE:
    case DATETIME:
      return dateOf(value);
    case JSON_COLUMN:
      return typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
    default:
      return value;
  }
}

/** Rows as objects keyed by column name, each value converted by its column's type. */
function objectsOf<T>(names: readonly string[], types: readonly number[], rows: readonly unknown[][], value: (v: unknown, type: number) => unknown): T[] {
  const out: T[] = new Array<T>(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    const obj: Record<string, unknown> = {};
    for (let c = 0; c < names.length; c++) obj[names[c]!] = value(row[c], types[c]!);
    out[r] = obj as T;
  }
  return out;
}

function rowsOf<T>(result: SqlResultSet): T[] {
  return objectsOf<T>(result.columnNames, result.columnTypes, result.rows, convert);
}

function queryOf(query: Prisma.Sql, kind: 'sqlite' | 'postgresql') {
  return { sql: kind === 'postgresql' ? query.text : query.sql, args: query.values.map(argOf), argTypes: query.values.map(argTypeOf) };
}

/** `db.$queryRaw(query)`, straight through the driver adapter when the client allows it. */
export async function rawQuery<T = Record<string, unknown>>(db: RawCapable, query: Prisma.Sql): Promise<T[]> {
  const entry = direct.get(db);
  if (!entry) return db.$queryRaw<T[]>(query);
  const adapter = await entry.connect();
  const sqlite = entry.kind === 'sqlite' ? sqliteDirectOf(adapter) : null;
  if (sqlite) return sqlite.outside(() => sqlite.query<T>(query));
  return rowsOf<T>(await adapter.queryRaw(queryOf(query, entry.kind)));
}

/**
 * A version of a database's FHIR data (resources, compartments, search index rows): two equal
 * versions read from one client mean that no FHIR data changed in between, so a result computed
 * from that data at the first still holds at the second. Known for the app's SQLite connection
 * (createDb), outside transactions; null for anything else (PostgreSQL, whose other instances
 * write unseen, a transaction's client, a client without the direct path).
 */
export async function fhirDataVersion(db: RawCapable): Promise<string | null> {
  const sqlite = await sqliteDirectOfClient(db);
  return sqlite ? sqlite.outside(() => sqlite.version()) : null;
}

/** `rawQuery`, with the FHIR data version its rows were read at (in the same step; null as for fhirDataVersion). */
export async function rawQueryAtVersion<T = Record<string, unknown>>(db: RawCapable, query: Prisma.Sql): Promise<{ rows: T[]; version: string | null }> {
  const sqlite = await sqliteDirectOfClient(db);
  if (!sqlite) return { rows: await rawQuery<T>(db, query), version: null };
  return sqlite.outside(() => ({ version: sqlite.version(), rows: sqlite.query<T>(query) }));
}

async function sqliteDirectOfClient(db: RawCapable): Promise<SqliteDirect | null> {
  const entry = direct.get(db);
  if (!entry || entry.kind !== 'sqlite') return null;
  return sqliteDirectOf(await entry.connect());
}

/** `db.$executeRaw(query)`, straight through the driver adapter when the client allows it. */
export async function rawExecute(db: RawCapable, query: Prisma.Sql): Promise<number> {
  const entry = direct.get(db);
  if (!entry) return db.$executeRaw(query);
  const adapter = await entry.connect();
  const sqlite = entry.kind === 'sqlite' ? sqliteDirectOf(adapter) : null;
  if (sqlite) return sqlite.outside(() => sqlite.execute(query));
  return adapter.executeRaw(queryOf(query, entry.kind));
}

interface SqliteStatement {
  reader: boolean;
  readonly?: boolean;
  run(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  columns(): unknown[];
  raw(toggle?: boolean): SqliteStatement;
}

interface SqliteDatabase {
  readonly name?: string;
  prepare(sql: string): SqliteStatement;
  exec?(sql: string): unknown;
  pragma(source: string): unknown;
}

/**
 * Settings of the app's SQLite connection, applied when it opens (none persists in the file):
 * - synchronous=NORMAL: under WAL (set persistently by the migration step), commits survive a
 *   process crash and cost no fsync each; only an OS crash can lose the last commits.
 * - temp_store=MEMORY: the rows of `INSERT … RETURNING` (rate-limit counters, replay checks) and
 *   small sorts go to memory; with the default, every such statement set up and tore down a
 *   temporary file's page cache, which tripled the cost of the rate-limit statement.
 * - cache_size=-32768: a 32 MiB page cache (the default is 2 MiB), so the index pages that FHIR
 *   searches walk stay in memory on a database of a few thousand patients.
 */
export const SQLITE_CONNECTION_PRAGMAS = ['synchronous = NORMAL', 'temp_store = MEMORY', 'cache_size = -32768'] as const;

/** How many prepared statements a SQLite connection keeps (least recently used go first). */
const STATEMENT_CACHE_SIZE = 500;

/**
 * Applies SQLITE_CONNECTION_PRAGMAS to each connection and keeps the SQLite adapter's prepared statements. The better-sqlite3 adapter prepares every
 * statement anew (`prepare(sql).bind(args)`), which costs more than running most of ours; here a
 * statement of the same text is prepared once and run with each call's values. The adapter only
 * ever calls `bind(args)` followed by `run()`, or `columns()` and `raw().all()`, all synchronously,
 * so one statement object serves every call.
 */
export function cacheSqliteStatements(factory: SqlDriverAdapterFactory): SqlDriverAdapterFactory {
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    async connect(): Promise<SqlDriverAdapter> {
      const adapter = await factory.connect();
      const database = (adapter as unknown as { client?: SqliteDatabase }).client;
      if (database && typeof database.prepare === 'function') {
        for (const pragma of SQLITE_CONNECTION_PRAGMAS) database.pragma(pragma);
        const writes = { fhirData: 0 };
        const prepared = cachedPrepare(database.prepare.bind(database), writes);
        preparedOf.set(database, prepared);
        fhirWritesOf.set(database, writes);
        database.prepare = (sql) => reusable(prepared(sql));
        if (typeof database.exec === 'function') {
          const exec = database.exec.bind(database);
          database.exec = (sql) => {
            if (FHIR_DATA_TABLE.test(sql)) writes.fhirData++;
            return exec(sql);
          };
        }
        // Checkpoints move to a thread of their own (lib/db/sqlite-checkpointer).
        if (database.name && database.name !== ':memory:') {
          database.pragma('wal_autocheckpoint = 0');
          const checkpointer = startCheckpointer(database.name);
          const dispose = adapter.dispose.bind(adapter);
          adapter.dispose = () => {
            checkpointer.stop();
            return dispose();
          };
        }
      }
      return adapter;
    },
  };
}

/**
 * Tables whose rows decide what a FHIR search finds and counts (the resources, their compartment
 * membership and search index rows, and their history): a statement that writes one of them
 * changes the FHIR data version (fhirDataVersion).
 */
const FHIR_DATA_TABLE = /\b(?:Resource|ResourceVersion|CompartmentMember|Search[A-Z][A-Za-z]*)\b/;

interface CachedStatement {
  stmt: SqliteStatement;
  /** Whether running it may change FHIR data (a write naming one of FHIR_DATA_TABLE). */
  writesFhirData: boolean;
}

/**
 * The connection's statement cache. Every statement of the connection, Prisma's and direct ones,
 * is looked up here right before it runs (synchronously), so counting the lookups of statements
 * that write FHIR data counts every such write of this connection before it takes effect.
 */
function cachedPrepare(prepare: (sql: string) => SqliteStatement, writes: { fhirData: number }): (sql: string) => SqliteStatement {
  const cache = new Map<string, CachedStatement>();
  return (sql) => {
    let entry = cache.get(sql);
    if (entry) {
      cache.delete(sql);
    } else {
      const stmt = prepare(sql);
      entry = { stmt, writesFhirData: stmt.readonly !== true && FHIR_DATA_TABLE.test(sql) };
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    }
    cache.set(sql, entry);
    if (entry.writesFhirData) writes.fhirData++;
    return entry.stmt;
  };
}

/** The prepared-statement cache of each SQLite connection (the statements themselves, not wrapped). */
const preparedOf = new WeakMap<SqliteDatabase, (sql: string) => SqliteStatement>();

/** How many statements writing FHIR data each SQLite connection has run (see cachedPrepare). */
const fhirWritesOf = new WeakMap<SqliteDatabase, { fhirData: number }>();

const columnsOf = new WeakMap<SqliteStatement, unknown[]>();

/** A cached statement behind the part of better-sqlite3's Statement API the adapter uses. */
class Reusable implements SqliteStatement {
  readonly reader: boolean;
  readonly readonly: boolean | undefined;
  private rawRows = false;
  constructor(
    private readonly stmt: SqliteStatement,
    private readonly params: unknown[] = [],
  ) {
    this.reader = stmt.reader;
    this.readonly = stmt.readonly;
  }
  bind(...params: unknown[]): Reusable {
    return new Reusable(this.stmt, params);
  }
  run(): unknown {
    return this.stmt.run(...this.params);
  }
  all(): unknown[] {
    return this.stmt.raw(this.rawRows).all(...this.params);
  }
  columns(): unknown[] {
    // A prepared statement's result columns are fixed (the app changes no schema while it runs).
    let columns = columnsOf.get(this.stmt);
    if (!columns) columnsOf.set(this.stmt, (columns = this.stmt.columns()));
    return columns;
  }
  raw(toggle = true): Reusable {
    this.rawRows = toggle;
    return this;
  }
}

function reusable(stmt: SqliteStatement): SqliteStatement {
  return new Reusable(stmt);
}

/**
 * SQLite statements run on the connection's own better-sqlite3 handle, skipping the adapter's
 * per-call work (argument and row mapping through intermediate arrays, debug hooks, promises): a
 * statement outside a transaction then costs no more than better-sqlite3 itself. Values are mapped
 * as the adapter maps them and then as `rowsOf` converts them, in one pass, and driver errors are
 * rethrown as the adapter's own errors, so callers see exactly what the adapter path gives them.
 */
interface SqliteDirect {
  outside<R>(run: () => R): R | Promise<R>;
  query<T>(query: Prisma.Sql): T[];
  execute(query: Prisma.Sql): number;
  /** The FHIR data version now (see fhirDataVersion). */
  version(): string;
  /** A statement without parameters (COMMIT). */
  statement(sql: string): void;
}

interface SqliteAdapterInternals {
  client?: SqliteDatabase;
  onError?: (error: unknown) => never;
  [RUN_OUTSIDE]?: <R>(run: () => R) => R | Promise<R>;
}

const sqliteDirects = new WeakMap<object, SqliteDirect | null>();

function sqliteDirectOf(adapter: SqlDriverAdapter): SqliteDirect | null {
  let found = sqliteDirects.get(adapter);
  if (found === undefined) {
    const internals = adapter as unknown as SqliteAdapterInternals;
    const prepared = internals.client ? preparedOf.get(internals.client) : undefined;
    const writes = internals.client ? fhirWritesOf.get(internals.client) : undefined;
    const outside = internals[RUN_OUTSIDE];
    const onError = internals.onError;
    found =
      prepared && writes && outside && onError
        ? {
            outside,
            query: <T>(q: Prisma.Sql) => {
              try {
                return sqliteRows<T>(prepared(q.sql), q.values.map(sqliteArg));
              } catch (err) {
                return onError(err);
              }
            },
            execute: (q: Prisma.Sql) => {
              try {
                return Number((prepared(q.sql).run(...q.values.map(sqliteArg)) as { changes: number | bigint }).changes);
              } catch (err) {
                return onError(err);
              }
            },
            // Commits of other connections (other processes, the seeding writer) move data_version;
            // this connection's own writes are counted as they run.
            version: () => {
              try {
                const [[other]] = prepared('PRAGMA data_version').raw(true).all() as [[number | bigint]];
                return `${other}:${writes.fhirData}`;
              } catch (err) {
                return onError(err);
              }
            },
            statement: (sql: string) => {
              try {
                prepared(sql).run();
              } catch (err) {
                onError(err);
              }
            },
          }
        : null;
    sqliteDirects.set(adapter, found);
  }
  return found;
}

/** A parameter as the adapter binds it (booleans as 0/1, dates as ISO 8601 text with +00:00, objects as JSON). */
function sqliteArg(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value instanceof Date) return value.toISOString().replace('Z', '+00:00');
  if (value instanceof Uint8Array || typeof value !== 'object') return value;
  return JSON.stringify(value);
}

/** The adapter's column type of a declared SQLite type; null when the values decide. */
function declaredColumnType(declared: string | null): number | null {
  switch ((declared ?? '').toUpperCase()) {
    case 'TINYINT':
    case 'SMALLINT':
    case 'MEDIUMINT':
    case 'INT':
    case 'INTEGER':
    case 'SERIAL':
    case 'INT2':
      return INT32;
    case 'BIGINT':
    case 'UNSIGNED BIG INT':
    case 'INT8':
      return INT64;
    case 'DATETIME':
    case 'TIMESTAMP':
      return DATETIME;
    case 'DATE':
      return DATE;
    case 'BOOLEAN':
      return BOOLEAN;
    case 'JSONB':
      return JSON_COLUMN;
    case 'DECIMAL':
    case 'FLOAT':
    case 'DOUBLE':
    case 'DOUBLE PRECISION':
    case 'NUMERIC':
    case 'REAL':
    case 'TIME':
    case 'TEXT':
    case 'CLOB':
    case 'CHARACTER':
    case 'VARCHAR':
    case 'VARYING CHARACTER':
    case 'NCHAR':
    case 'NATIVE CHARACTER':
    case 'NVARCHAR':
    case 'BLOB':
      return OTHER;
    default:
      return null;
  }
}

/** A column type no conversion applies to (text, floating point, bytes, time). */
const OTHER = -1;

interface StatementColumns {
  readonly names: string[];
  readonly declared: (number | null)[];
}

const statementColumns = new WeakMap<SqliteStatement, StatementColumns>();

function sqliteRows<T>(stmt: SqliteStatement, args: unknown[]): T[] {
  if (!stmt.reader) {
    stmt.run(...args);
    return [];
  }
  let columns = statementColumns.get(stmt);
  if (!columns) {
    const described = stmt.columns() as { name: string; type: string | null }[];
    columns = { names: described.map((c) => c.name), declared: described.map((c) => declaredColumnType(c.type)) };
    statementColumns.set(stmt, columns);
  }
  const rows = stmt.raw(true).all(...args) as unknown[][];
  const { names, declared } = columns;
  // A column without a declared type (an expression) takes the type of its first non-null value.
  const types = declared.map((t, c) => t ?? inferredColumnType(rows, c));
  return objectsOf<T>(names, types, rows, sqliteValue);
}

function inferredColumnType(rows: unknown[][], column: number): number {
  for (const row of rows) {
    const value = row[column];
    if (value === null) continue;
    return typeof value === 'bigint' ? INT64 : typeof value === 'boolean' ? BOOLEAN : OTHER;
  }
  return INT32;
}

/** The adapter's row mapping followed by `convert`, in one step (integers arrive as bigint). */
function sqliteValue(value: unknown, type: number): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case INT32:
      return Math.trunc(Number(value));
    case INT64:
      return typeof value === 'bigint' ? value : typeof value === 'number' ? BigInt(Math.trunc(value)) : BigInt(String(value));
    case BOOLEAN:
      return value === 1n || value === 1 || value === true || value === '1' || value === 'true';
    case DATETIME:
      return typeof value === 'number' || typeof value === 'bigint' ? new Date(Number(value)) : dateOf(value);
    case DATE:
      return dateOf(typeof value === 'bigint' ? Number(value) : value);
    case JSON_COLUMN:
      if (typeof value === 'string') return JSON.parse(value) as unknown;
      return typeof value === 'bigint' ? safeNumber(value) : value;
    default:
      return typeof value === 'bigint' ? safeNumber(value) : value;
  }
}

function safeNumber(value: bigint): number | string {
  const asNumber = Number(value);
  return Number.isSafeInteger(asNumber) ? asNumber : value.toString();
}

/** The statements a transaction opened by `rawTransaction` can run. */
export interface RawTransaction {
  query<T = Record<string, unknown>>(query: Prisma.Sql): Promise<T[]>;
  execute(query: Prisma.Sql): Promise<number>;
}

interface TransactionCapable extends RawCapable {
  $transaction<R>(run: (tx: RawCapable) => Promise<R>, options?: { maxWait?: number; timeout?: number }): Promise<R>;
}

const STATEMENT = (sql: string) => ({ sql, args: [], argTypes: [] });

/**
 * Runs `run` in one transaction, committed when it returns and rolled back when it throws, straight
 * on the adapter when the client allows it (else Prisma's interactive transaction). On SQLite the
 * transaction has the connection to itself (lib/db/sqlite-transactions); on PostgreSQL it has its own
 * pooled connection.
 */
export async function rawTransaction<R>(db: TransactionCapable, run: (tx: RawTransaction) => Promise<R>): Promise<R> {
  const entry = direct.get(db);
  if (!entry) {
    return db.$transaction((tx) => run({ query: async <T>(q: Prisma.Sql) => await tx.$queryRaw<T[]>(q), execute: async (q) => await tx.$executeRaw(q) }), {
      maxWait: 10_000,
      timeout: 10_000,
    });
  }
  const adapter = await entry.connect();
  const tx = await adapter.startTransaction();
  const kind = entry.kind;
  // On SQLite the transaction has the connection to itself from BEGIN to COMMIT (the isolation
  // above), so its statements run straight on the connection's prepared statements, as statements
  // outside a transaction do, instead of through the adapter's per-call mapping.
  const sqlite = kind === 'sqlite' ? sqliteDirectOf(adapter) : null;
  let result: R;
  try {
    result = await run(
      sqlite
        ? { query: async <T>(q: Prisma.Sql) => sqlite.query<T>(q), execute: async (q) => sqlite.execute(q) }
        : {
            query: async <T>(q: Prisma.Sql) => rowsOf<T>(await tx.queryRaw(queryOf(q, kind))),
            execute: (q) => tx.executeRaw(queryOf(q, kind)),
          },
    );
    if (sqlite) sqlite.statement('COMMIT');
    else await tx.executeRaw(STATEMENT('COMMIT'));
  } catch (err) {
    try {
      await tx.executeRaw(STATEMENT('ROLLBACK'));
    } catch {
      // The connection is gone or the transaction already ended; releasing it below is all that is left.
    }
    await tx.rollback();
    throw err;
  }
  await tx.commit();
  return result;
}
