/**
 * Creating and deleting whole sandboxes. A workshop room's dataset is seeded once into a base
 * sandbox; each attendee sandbox is a copy of the base's FHIR rows (current resources, history,
 * compartment membership and every search index table) made by `INSERT … SELECT` inside the
 * database, in one transaction with the Sandbox row, so a sandbox is either complete or absent.
 */
import type { Db } from '../db';
import { getDb, getDbKind } from '../db';
import { directKindOf, rawQuery, rawTransaction } from '../db/direct';
import type { RawTransaction } from '../db/direct';
import { Prisma } from '../generated/sqlite/client';
import { isServedSandboxId, rateLimitKeyPrefix, shareLinkKeyInfix } from './index';
import { invalidateSandbox } from './context';

const { sql, raw, join } = Prisma;

/** The FHIR tables a sandbox's dataset lives in, copied by provisionSandbox. */
export const FHIR_DATA_TABLES = [
  'Resource',
  'ResourceVersion',
  'CompartmentMember',
  'SearchToken',
  'SearchString',
  'SearchDate',
  'SearchReference',
  'SearchQuantity',
] as const;

/** Every table whose rows carry a sandboxId and belong to the sandbox's data (deleteSandboxData clears them). */
export const SANDBOX_DATA_TABLES = [...FHIR_DATA_TABLES, 'Client', 'Launch', 'Interaction', 'Grant', 'Token', 'AuditRecord', 'BulkExportJob'] as const;

/** Settings kept per sandbox (lib/seed/seed-dataset.ts): the dataset it holds, a seed under way. */
const settingKeysOf = (id: string) => [`dataset:${id}`, `seeding:${id}`];

const quoted = (name: string) => raw(`"${name.replace(/"/g, '""')}"`);

const columnCache = new Map<string, Promise<string[]>>();

/** The columns of a table as the database has them (so a column added later is copied too). */
function columnsOf(db: Db, table: string): Promise<string[]> {
  const kind = directKindOf(db) ?? getDbKind();
  const key = `${kind}:${table}`;
  let columns = columnCache.get(key);
  if (!columns) {
    const query =
      kind === 'postgresql'
        ? sql`SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ${table} ORDER BY ordinal_position`
        : sql`SELECT name FROM pragma_table_info(${table})`;
    columns = rawQuery<{ name: string }>(db, query).then((rows) => rows.map((r) => r.name));
    columnCache.set(key, columns);
    columns.catch(() => columnCache.delete(key));
  }
  return columns;
}

/** What provisionSandbox creates. */
export interface ProvisionInput {
  /** The new sandbox's id (lib/sandbox `newSandboxId()`); never `default`. */
  readonly id: string;
  readonly name: string;
  readonly roomId?: string | null;
  /** The sandbox whose FHIR data is copied (a room's base sandbox); none: an empty sandbox. */
  readonly baseSandboxId?: string | null;
}

/** What a provisioning copied. */
export interface ProvisionResult {
  readonly id: string;
  /** Rows copied per table. */
  readonly copied: Readonly<Record<string, number>>;
}

async function copyTable(tx: RawTransaction, db: Db, table: string, from: string, to: string): Promise<number> {
  // rowId is the search index tables' own autoincrement key: the copies get new ones.
  const columns = (await columnsOf(db, table)).filter((c) => c !== 'sandboxId' && c !== 'rowId');
  const list = join(columns.map(quoted), ', ');
  return tx.execute(
    sql`INSERT INTO ${quoted(table)} ("sandboxId", ${list}) SELECT CAST(${to} AS TEXT), ${list} FROM ${quoted(table)} WHERE "sandboxId" = ${from}`,
  );
}

/**
 * PostgreSQL: the Sandbox row, every table's copy and the dataset setting in one statement of
 * data-modifying CTEs, atomic on its own: one round trip to the server instead of one per table
 * inside a transaction (on a busy machine each round trip waits for the server process to be
 * scheduled). Every CTE reads the snapshot taken before any of them writes, so each copies exactly
 * the base's rows.
 */
async function provisionInOneStatement(db: Db, input: ProvisionInput, base: string): Promise<Record<string, number>> {
  const copies = await Promise.all(
    FHIR_DATA_TABLES.map(async (table, i) => {
      const columns = join((await columnsOf(db, table)).filter((c) => c !== 'sandboxId' && c !== 'rowId').map(quoted), ', ');
      return sql`${raw(`c${i}`)} AS (INSERT INTO ${quoted(table)} ("sandboxId", ${columns}) SELECT CAST(${input.id} AS TEXT), ${columns} FROM ${quoted(table)} WHERE "sandboxId" = ${base} RETURNING 1)`;
    }),
  );
  const counts = join(
    FHIR_DATA_TABLES.map((table, i) => sql`(SELECT count(*) FROM ${raw(`c${i}`)}) AS ${quoted(table)}`),
    ', ',
  );
  const [row] = await rawQuery<Record<string, number | bigint | string>>(
    db,
    sql`WITH s AS (INSERT INTO "Sandbox" ("id", "name", "roomId") VALUES (${input.id}, ${input.name}, ${input.roomId ?? null}) RETURNING 1),
    ${join(copies, ', ')},
    d AS (INSERT INTO "Setting" ("key", "value") SELECT CAST(${`dataset:${input.id}`} AS TEXT), "value" FROM "Setting" WHERE "key" = ${settingKeysOf(base)[0]} RETURNING 1)
    SELECT (SELECT count(*) FROM s) AS "sandbox", (SELECT count(*) FROM d) AS "setting", ${counts}`,
  );
  return Object.fromEntries(FHIR_DATA_TABLES.map((table) => [table, Number(row?.[table] ?? 0)]));
}

/**
 * Creates the Sandbox row of `id` and copies the FHIR data of `baseSandboxId` into it, atomically
 * (one transaction; on PostgreSQL one statement). Throws when `id` is not a servable sandbox id or already exists.
 */
export async function provisionSandbox(input: ProvisionInput, db: Db = getDb()): Promise<ProvisionResult> {
  if (!isServedSandboxId(input.id)) throw new RangeError(`'${input.id}' cannot name a provisioned sandbox`);
  if (input.baseSandboxId === input.id) throw new RangeError('a sandbox cannot be provisioned from itself');
  // Read outside the transaction: on SQLite a transaction has the one connection to itself.
  if (input.baseSandboxId) for (const table of FHIR_DATA_TABLES) await columnsOf(db, table);
  const copied: Record<string, number> = {};
  if (input.baseSandboxId && (directKindOf(db) ?? getDbKind()) === 'postgresql') {
    Object.assign(copied, await provisionInOneStatement(db, input, input.baseSandboxId));
    invalidateSandbox(input.id);
    return { id: input.id, copied };
  }
  await rawTransaction(db, async (tx) => {
    await tx.execute(sql`INSERT INTO "Sandbox" ("id", "name", "roomId") VALUES (${input.id}, ${input.name}, ${input.roomId ?? null})`);
    const base = input.baseSandboxId;
    if (!base) return;
    for (const table of FHIR_DATA_TABLES) copied[table] = await copyTable(tx, db, table, base, input.id);
    const keys = settingKeysOf(base);
    await tx.execute(
      sql`INSERT INTO "Setting" ("key", "value") SELECT CAST(${`dataset:${input.id}`} AS TEXT), "value" FROM "Setting" WHERE "key" = ${keys[0]}`,
    );
  });
  invalidateSandbox(input.id);
  return { id: input.id, copied };
}

/**
 * Deletes every row of the sandboxes `ids` from every table: FHIR data, clients, launches,
 * interactions, grants and their codes, tokens, client-assertion jti's, audit records, export jobs
 * and their files, rate-limit counters, per-sandbox settings and the Sandbox rows themselves, in one
 * transaction. Other sandboxes are untouched; the default sandbox cannot be deleted.
 */
export async function deleteSandboxData(ids: readonly string[], db: Db = getDb()): Promise<void> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return;
  for (const id of unique) if (!isServedSandboxId(id)) throw new RangeError(`'${id}' cannot be deleted`);
  const inIds = join(unique);
  await rawTransaction(db, async (tx) => {
    // Rows that reach their sandbox through another row go first.
    await tx.execute(sql`DELETE FROM "AuthCode" WHERE "grantId" IN (SELECT "id" FROM "Grant" WHERE "sandboxId" IN (${inIds}))`);
    await tx.execute(sql`DELETE FROM "AssertionJti" WHERE "clientId" IN (SELECT "clientId" FROM "Client" WHERE "sandboxId" IN (${inIds}))`);
    await tx.execute(sql`DELETE FROM "BulkExportChunk" WHERE "jobId" IN (SELECT "id" FROM "BulkExportJob" WHERE "sandboxId" IN (${inIds}))`);
    for (const table of SANDBOX_DATA_TABLES) await tx.execute(sql`DELETE FROM ${quoted(table)} WHERE "sandboxId" IN (${inIds})`);
    for (const id of unique) {
      const prefix = rateLimitKeyPrefix(id);
      await tx.execute(sql`DELETE FROM "RateLimitWindow" WHERE substr("key", 1, ${prefix.length}) = ${prefix}`);
    }
    await tx.execute(sql`DELETE FROM "Setting" WHERE "key" IN (${join(unique.flatMap(settingKeysOf))})`);
    for (const id of unique) {
      for (const prefix of [`launcher.share.${shareLinkKeyInfix(id)}`, `launcher.scenario.${id}.`])
        await tx.execute(sql`DELETE FROM "Setting" WHERE substr("key", 1, ${prefix.length}) = ${prefix}`);
    }
    await tx.execute(sql`DELETE FROM "Sandbox" WHERE "id" IN (${inIds})`);
  });
  for (const id of unique) invalidateSandbox(id);
}
