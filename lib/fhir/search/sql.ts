/**
 * Search criteria and the access policy → one SQL WHERE over the resource table (authorization is
 * compiled, then pushed into the query; nothing is filtered afterwards, so totals and paging never
 * leak). The Resource model has no Prisma relations to its index tables, so each criterion is an
 * `id IN (SELECT resourceId FROM <index> WHERE …)` semi-join written with Prisma.sql: every value
 * is a bound parameter, every identifier a constant of this file. The SQL is plain ANSI (double-quoted identifiers, LIKE … ESCAPE,
 * `= false`) and runs unchanged on SQLite and PostgreSQL (tested on both: sql.test.ts, postgres.test.ts).
 */
import { Prisma } from '../../generated/sqlite/client';
import { MAX_TIME, MIN_TIME } from '../dates';
import { FhirError } from '../errors';
import { getTypeDefinition } from '../definitions';
import { CANONICAL_TARGET, storedAs } from '../indexer';
import type { DateValue, IndexTable, LinkedCriterion, NumberValue, SearchFilter, SortSpec, TokenValue } from './parse';
import { parseFilter } from './parse';
import type { AccessScope } from './scope';

export type Sql = Prisma.Sql;
const { sql, join, raw, empty } = Prisma;

export type { AccessScope } from './scope';

/** Where a query reads its resource ids from: the current-resource table or the history table. */
export interface Target {
  sandboxId: string;
  type: string;
  /** The SQL column holding the resource id (`r."id"`, `v."id"`). */
  idCol: Sql;
}

const FALSE = raw('1 = 0');

function ands(parts: Sql[]): Sql {
  return parts.length ? join(parts, ' AND ') : raw('1 = 1');
}

function ors(parts: Sql[]): Sql {
  return parts.length ? sql`(${join(parts, ' OR ')})` : FALSE;
}

/** Escapes LIKE wildcards; the pattern uses ESCAPE '\'. */
function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * How a criterion joins its index table. `in` (an uncorrelated semi-join) lets the planner drive
 * the query from that index; `exists` (correlated on the resource id) is checked per candidate
 * row. Exactly one selective criterion should drive: left to itself, SQLite's planner (no
 * statistics) may drive `Observation?patient=X&category=laboratory` from the 50,000 laboratory
 * rows instead of the patient's 150 resources (measured: 178 ms vs 2 ms).
 */
export type JoinForm = 'in' | 'exists';

/**
 * The index rows (alias x) of one search parameter of a type: its own, or those of the parameters
 * it is defined from (`combo-code`, `patient`: see storedAs in lib/fhir/indexer.ts).
 */
export function paramSql(type: string, param: string): Sql {
  const form = storedAs(type, param);
  if (!form) return sql`x."param" = ${param}`;
  const params = form.params.length === 1 ? sql`x."param" = ${form.params[0]}` : sql`x."param" IN (${join(form.params)})`;
  return form.targetType === null ? params : sql`${params} AND x."targetType" = ${form.targetType}`;
}

function indexIn(t: Target, table: IndexTable, param: string, cond: Sql, negate = false, form: JoinForm = 'in'): Sql {
  const tbl = raw(`"${table}"`);
  if (form === 'exists') {
    const sub = sql`SELECT 1 FROM ${tbl} x WHERE x."sandboxId" = ${t.sandboxId} AND x."type" = ${t.type} AND x."resourceId" = ${t.idCol} AND ${paramSql(t.type, param)} AND ${cond}`;
    return negate ? sql`NOT EXISTS (${sub})` : sql`EXISTS (${sub})`;
  }
  const sub = sql`SELECT x."resourceId" FROM ${tbl} x WHERE x."sandboxId" = ${t.sandboxId} AND x."type" = ${t.type} AND ${paramSql(t.type, param)} AND ${cond}`;
  return negate ? sql`${t.idCol} NOT IN (${sub})` : sql`${t.idCol} IN (${sub})`;
}

function tokenCond(v: TokenValue): Sql {
  const parts: Sql[] = [];
  if (v.system === null) parts.push(raw('x."system" IS NULL'));
  else if (v.system !== undefined) parts.push(sql`x."system" = ${v.system}`);
  if (v.code !== undefined) parts.push(sql`x."code" = ${v.code}`);
  return parts.length ? sql`(${ands(parts)})` : raw('1 = 1');
}

// Date semantics (FHIR R4 search.html §3.1.1.4.1). Both the search value and the indexed value are
// ranges [start, end]. `eq` is overlap rather than containment: a Period target matches an instant
// inside it, which is what US Core tests build their queries from (docs/CONFORMANCE.md §19).
function dateCond(start: Sql, end: Sql, v: DateValue, asInstant: (ms: number) => number | Date): Sql {
  const qs = asInstant(v.start);
  const qe = asInstant(v.end);
  switch (v.prefix) {
    case 'eq':
      return sql`(${start} <= ${qe} AND ${end} >= ${qs})`;
    case 'ne':
      return sql`(${start} > ${qe} OR ${end} < ${qs})`;
    case 'gt':
      return sql`${end} > ${qe}`;
    case 'lt':
      return sql`${start} < ${qs}`;
    case 'ge':
      return sql`${end} >= ${qs}`;
    case 'le':
      return sql`${start} <= ${qe}`;
    case 'sa':
      return sql`${start} > ${qe}`;
    case 'eb':
      return sql`${end} < ${qs}`;
    case 'ap': {
      // Approximately: within 10% of the distance from now, at least a day (search.html leaves it to the server).
      const delta = Math.max(86_400_000, Math.abs(Date.now() - v.start) * 0.1);
      return sql`(${start} <= ${asInstant(Math.min(v.end + delta, MAX_TIME))} AND ${end} >= ${asInstant(Math.max(v.start - delta, MIN_TIME))})`;
    }
  }
}

function numberCond(v: NumberValue): Sql {
  const col = raw('x."value"');
  let cmp: Sql;
  switch (v.prefix) {
    case 'eq':
      cmp = sql`(${col} >= ${v.low} AND ${col} < ${v.high})`;
      break;
    case 'ne':
      cmp = sql`(${col} < ${v.low} OR ${col} >= ${v.high})`;
      break;
    case 'gt':
    case 'sa':
      cmp = sql`${col} > ${v.value}`;
      break;
    case 'lt':
    case 'eb':
      cmp = sql`${col} < ${v.value}`;
      break;
    case 'ge':
      cmp = sql`${col} >= ${v.value}`;
      break;
    case 'le':
      cmp = sql`${col} <= ${v.value}`;
      break;
    case 'ap': {
      const d = Math.abs(v.value) * 0.1;
      cmp = sql`(${col} >= ${v.value - d} AND ${col} <= ${v.value + d})`;
      break;
    }
  }
  const parts = [cmp];
  if (v.system !== undefined && v.system !== null) parts.push(sql`x."system" = ${v.system}`);
  if (v.code !== undefined) parts.push(sql`x."code" = ${v.code}`);
  return sql`(${ands(parts)})`;
}

const INDEX_COLS = { start: raw('x."start"'), end: raw('x."end"') };

/** SQL for one search criterion on the target's id column. */
export function filterSql(t: Target, f: SearchFilter, lastUpdatedCol: Sql | null, form: JoinForm = 'in'): Sql {
  switch (f.kind) {
    case 'id':
      return f.values.length ? sql`${t.idCol} IN (${join(f.values)})` : FALSE;
    case 'lastUpdated': {
      if (!lastUpdatedCol) throw new FhirError('invalid', '_lastUpdated is not supported here');
      return ors(f.values.map((v) => dateCond(lastUpdatedCol, lastUpdatedCol, v, (ms) => new Date(ms))));
    }
    case 'token':
      return indexIn(t, 'SearchToken', f.code, ors(f.values.map(tokenCond)), f.modifier === 'not', form);
    case 'token-text':
      return indexIn(t, 'SearchToken', f.code, ors(f.values.map((v) => sql`x."text" LIKE ${`%${likeEscape(v)}%`} ESCAPE '\\'`)), false, form);
    case 'string':
      return indexIn(
        t,
        'SearchString',
        f.code,
        ors(
          f.values.map((v) =>
            f.modifier === 'exact'
              ? sql`x."exact" = ${v}`
              : sql`x."value" LIKE ${f.modifier === 'contains' ? `%${likeEscape(v)}%` : `${likeEscape(v)}%`} ESCAPE '\\'`,
          ),
        ),
        false,
        form,
      );
    case 'date':
      return indexIn(t, 'SearchDate', f.code, ors(f.values.map((v) => dateCond(INDEX_COLS.start, INDEX_COLS.end, v, (ms) => ms))), false, form);
    case 'reference':
      return indexIn(
        t,
        'SearchReference',
        f.code,
        ors([
          ...f.values.map((v) => (v.type ? sql`(x."targetType" = ${v.type} AND x."targetId" = ${v.id})` : sql`x."targetId" = ${v.id}`)),
          ...f.canonicals.map((c) => sql`(x."targetType" = ${CANONICAL_TARGET} AND x."targetId" = ${c})`),
        ]),
        false,
        form,
      );
    case 'number':
      return indexIn(t, 'SearchQuantity', f.code, ors(f.values.map(numberCond)), false, form);
    case 'missing':
      return indexIn(t, f.table, f.code, raw('1 = 1'), f.missing, form);
    case 'chain':
      return indexIn(
        t,
        'SearchReference',
        f.code,
        ors(
          f.targets.flatMap((c) => {
            const literal = sql`(x."targetType" = ${c.type} AND x."targetId" IN (${linkedIds(t.sandboxId, c)}))`;
            if (!getTypeDefinition(t.type)?.params.get(f.code)?.holds.canonical) return [literal];
            // A canonical reference names its target by the target's url (indexed without its version too).
            const urls = sql`SELECT u."code" FROM "SearchToken" u WHERE u."sandboxId" = ${t.sandboxId} AND u."type" = ${c.type} AND u."param" = 'url' AND u."resourceId" IN (${linkedIds(t.sandboxId, c)})`;
            return [literal, sql`(x."targetType" = ${CANONICAL_TARGET} AND x."targetId" IN (${urls}))`];
          }),
        ),
        false,
        form,
      );
    case 'has': {
      const c = f.source;
      const refs = sql`"SearchReference" x WHERE x."sandboxId" = ${t.sandboxId} AND x."type" = ${c.type} AND ${paramSql(c.type, f.code)} AND x."targetType" = ${t.type} AND x."resourceId" IN (${linkedIds(t.sandboxId, c)})`;
      return form === 'exists' ? sql`EXISTS (SELECT 1 FROM ${refs} AND x."targetId" = ${t.idCol})` : sql`${t.idCol} IN (SELECT x."targetId" FROM ${refs})`;
    }
  }
}

/**
 * Ids of the resources on the far side of a chain or `_has` that match its criterion, under that
 * type's own access policy: the compartment and granular filters of the token apply to both sides.
 */
function linkedIds(sandboxId: string, c: LinkedCriterion): Sql {
  if (!c.access) throw new Error(`chained criterion on ${c.type} has no access scope bound`);
  const t: Target = { sandboxId, type: c.type, idCol: raw('l."id"') };
  return sql`SELECT l."id" FROM "Resource" l WHERE l."sandboxId" = ${sandboxId} AND l."type" = ${c.type} AND l."deleted" = false AND ${accessSql(t, c.access)} AND ${filterSql(t, c.filter, raw('l."lastUpdated"'))}`;
}

/**
 * The access policy as SQL: patient compartment membership AND (one of the granular scope filters).
 * A granular parameter this server cannot evaluate matches nothing (fail closed), never everything.
 * Writes check the same filters in memory (matchesGranular, lib/fhir/access.ts).
 */
export function accessSql(t: Target, access: AccessScope, granularForm: JoinForm = 'exists'): Sql {
  const parts: Sql[] = [];
  if (access.compartmentPatientId !== null) {
    parts.push(
      sql`${t.idCol} IN (SELECT cm."resourceId" FROM "CompartmentMember" cm WHERE cm."sandboxId" = ${t.sandboxId} AND cm."patientId" = ${access.compartmentPatientId} AND cm."type" = ${t.type})`,
    );
  }
  if (access.filters !== null) {
    parts.push(
      ors(
        access.filters.map((filter) =>
          ands(
            Object.entries(filter).map(([name, values]) => {
              try {
                return filterSql(t, parseFilter(t.type, name, null, [...values]), null, granularForm);
              } catch {
                return FALSE;
              }
            }),
          ),
        ),
      ),
    );
  }
  return ands(parts);
}

/** The sort key expression of a search, with a sentinel so missing values sort last. */
export function sortKeySql(t: Target, sort: SortSpec): Sql | null {
  const sub = (agg: string, col: string, table: IndexTable, sentinel: number | string) =>
    sql`COALESCE((SELECT ${raw(`${agg}(x."${col}")`)} FROM ${raw(`"${table}"`)} x WHERE x."sandboxId" = ${t.sandboxId} AND x."type" = ${t.type} AND x."resourceId" = ${t.idCol} AND ${paramSql(t.type, sort.code)}), ${sentinel})`;
  switch (sort.kind) {
    case 'id':
      return null;
    case 'lastUpdated':
      return raw('r."lastUpdated"');
    case 'date':
      return sort.descending ? sub('MAX', 'end', 'SearchDate', MIN_TIME) : sub('MIN', 'start', 'SearchDate', MAX_TIME);
    case 'number':
      return sort.descending ? sub('MAX', 'value', 'SearchQuantity', -Number.MAX_VALUE) : sub('MIN', 'value', 'SearchQuantity', Number.MAX_VALUE);
    case 'string':
      return sort.descending ? sub('MAX', 'value', 'SearchString', '') : sub('MIN', 'value', 'SearchString', '');
  }
}

export { sql, join, raw, empty, ands, ors };
