/**
 * The rows of one resource type an export writes, read in pages in id order (keyset paging, so a
 * page costs the same at any depth). The WHERE is the search engine's: the token's access policy
 * (compartment and granular filters, lib/fhir/search/sql.ts accessSql), `_since`, the `_typeFilter`
 * criteria and the level's population (a Group's members, or every patient).
 */
import type { Db } from '../../db';
import { rawQuery } from '../../db/direct';
import { accessSql, ands, filterSql, join, ors, paramSql, raw, sql } from '../search/sql';
import type { AccessScope, Sql, Target } from '../search/sql';
import type { SearchFilter } from '../search/parse';

export interface ExportQuery {
  sandboxId: string;
  type: string;
  access: AccessScope;
  since: Date | null;
  /** OR of AND-ed criteria lists (`_typeFilter`), or null for all. */
  filters: SearchFilter[][] | null;
  /** Which patients' data: every patient's (`all-patients`), a Group's members, or anything (system). */
  population: { kind: 'system' } | { kind: 'all-patients' } | { kind: 'group'; groupId: string };
  /** Restrict further to these patients (`patient` parameter), or null. */
  patients: string[] | null;
}

const R = raw('r."id"');

/** The patients (ids) of the population as SQL, or null for "any patient". */
function patientIdsSql(q: ExportQuery): Sql | null {
  const parts: Sql[] = [];
  if (q.population.kind === 'group') {
    parts.push(
      sql`SELECT x."targetId" FROM "SearchReference" x WHERE x."sandboxId" = ${q.sandboxId} AND x."type" = 'Group' AND x."resourceId" = ${q.population.groupId} AND ${paramSql('Group', 'member')} AND x."targetType" = 'Patient'`,
    );
  }
  if (q.patients)
    parts.push(sql`SELECT p."id" FROM "Resource" p WHERE p."sandboxId" = ${q.sandboxId} AND p."type" = 'Patient' AND p."id" IN (${join(q.patients)})`);
  if (!parts.length) return null;
  return parts.length === 1 ? parts[0]! : join(parts, ' INTERSECT ');
}

function populationSql(q: ExportQuery): Sql {
  if (q.population.kind === 'system' && !q.patients) return raw('1 = 1');
  const ids = patientIdsSql(q);
  if (q.type === 'Patient') return ids ? sql`r."id" IN (${ids})` : raw('1 = 1');
  const members = ids ? sql` AND cm."patientId" IN (${ids})` : raw('');
  return sql`r."id" IN (SELECT cm."resourceId" FROM "CompartmentMember" cm WHERE cm."sandboxId" = ${q.sandboxId} AND cm."type" = ${q.type}${members})`;
}

/** The WHERE of an export query (shared with its count). */
export function exportWhere(q: ExportQuery): Sql {
  const t: Target = { sandboxId: q.sandboxId, type: q.type, idCol: R };
  const parts: Sql[] = [sql`r."sandboxId" = ${q.sandboxId}`, sql`r."type" = ${q.type}`, raw('r."deleted" = false'), accessSql(t, q.access), populationSql(q)];
  if (q.since) parts.push(sql`r."lastUpdated" > ${q.since}`);
  if (q.filters) parts.push(ors(q.filters.map((criteria) => ands(criteria.map((f) => filterSql(t, f, raw('r."lastUpdated"'), 'exists'))))));
  return ands(parts);
}

/** One page of rows after the id `after` (exclusive), in id order: [id, JSON]. */
export async function exportPage(db: Db, q: ExportQuery, after: string | null, limit: number): Promise<{ id: string; content: string }[]> {
  const where = after === null ? exportWhere(q) : ands([exportWhere(q), sql`r."id" > ${after}`]);
  return rawQuery<{ id: string; content: string }>(db, sql`SELECT r."id", r."content" FROM "Resource" r WHERE ${where} ORDER BY r."id" LIMIT ${limit}`);
}

/** Resource types the sandbox holds (current, not deleted). */
export async function storedTypes(db: Db, sandboxId: string): Promise<string[]> {
  const rows = await rawQuery<{ type: string }>(db, sql`SELECT DISTINCT r."type" FROM "Resource" r WHERE r."sandboxId" = ${sandboxId} AND r."deleted" = false`);
  return rows.map((r) => String(r.type)).sort();
}
