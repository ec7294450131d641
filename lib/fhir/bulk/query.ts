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
  /**
   * The job's transactionTime: rows changed after it are left out, so the export is the state the
   * server had when the job started (Bulk Data Access IG 2.0.0 §response---complete-status: the
   * output SHOULD NOT include resources modified after transactionTime).
   */
  until: Date;
  /** OR of AND-ed criteria lists (`_typeFilter`), or null for all. */
  filters: SearchFilter[][] | null;
  /** Which patients' data: every patient's (`all-patients`), a Group's members, or anything (system). */
  population: { kind: 'system' } | { kind: 'all-patients' } | { kind: 'group'; groupId: string };
  /** Restrict further to these patients (`patient` parameter), or null. */
  patients: string[] | null;
  /**
   * `includeAssociatedData` (a Provenance query only): instead of the population, the Provenance
   * resources that target a resource these queries export; with `latest`, only the most recent one
   * of each exported resource (LatestProvenanceResources), else all (RelevantProvenanceResources).
   */
  associated?: { of: ExportQuery[]; latest: boolean };
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

/**
 * The Provenance resources (alias r) that target a resource one of `of` exports. Provenance.target
 * is indexed as the plain `target` parameter (SearchReference rows). Each exported type's WHERE is
 * its own subquery on an alias r of its own.
 */
function associatedSql(q: ExportQuery, of: ExportQuery[], latest: boolean): Sql {
  if (!of.length) return raw('1 = 0');
  const exported = ors(of.map((e) => sql`(x."targetType" = ${e.type} AND x."targetId" IN (SELECT r."id" FROM "Resource" r WHERE ${exportWhere(e)}))`));
  // LatestProvenanceResources: no other current Provenance of the same target is more recent (ties by id).
  const newest = latest
    ? sql` AND NOT EXISTS (SELECT 1 FROM "SearchReference" y JOIN "Resource" py ON py."sandboxId" = y."sandboxId" AND py."type" = 'Provenance' AND py."id" = y."resourceId"
        WHERE y."sandboxId" = ${q.sandboxId} AND y."type" = 'Provenance' AND y."param" = 'target' AND y."targetType" = x."targetType" AND y."targetId" = x."targetId"
        AND py."deleted" = false AND py."lastUpdated" <= ${q.until}
        AND (py."lastUpdated" > p."lastUpdated" OR (py."lastUpdated" = p."lastUpdated" AND py."id" > p."id")))`
    : raw('');
  return sql`r."id" IN (SELECT x."resourceId" FROM "SearchReference" x JOIN "Resource" p ON p."sandboxId" = x."sandboxId" AND p."type" = 'Provenance' AND p."id" = x."resourceId"
    WHERE x."sandboxId" = ${q.sandboxId} AND x."type" = 'Provenance' AND x."param" = 'target' AND ${exported}${newest})`;
}

/** The WHERE of an export query (shared with its count). */
export function exportWhere(q: ExportQuery): Sql {
  const t: Target = { sandboxId: q.sandboxId, type: q.type, idCol: R };
  const population = q.associated ? associatedSql(q, q.associated.of, q.associated.latest) : populationSql(q);
  const parts: Sql[] = [sql`r."sandboxId" = ${q.sandboxId}`, sql`r."type" = ${q.type}`, raw('r."deleted" = false'), accessSql(t, q.access), population];
  if (q.since) parts.push(sql`r."lastUpdated" > ${q.since}`);
  parts.push(sql`r."lastUpdated" <= ${q.until}`);
  if (q.filters) parts.push(ors(q.filters.map((criteria) => ands(criteria.map((f) => filterSql(t, f, raw('r."lastUpdated"'), 'exists'))))));
  return ands(parts);
}

/**
 * One page of rows after the id `after` (exclusive; '' for the first page), in id order: [id, JSON].
 * Its last two parameters are `after` and `limit`, so one compiled statement serves every page.
 * `bytesOf` selects the JSON as UTF-8 bytes for that database (the export process writes them
 * without decoding them), else as text.
 */
export function exportPageSql(q: ExportQuery, after: string, limit: number, bytesOf: 'sqlite' | 'postgresql' | null = null): Sql {
  const content =
    bytesOf === 'sqlite' ? raw('CAST(r."content" AS BLOB)') : bytesOf === 'postgresql' ? raw(`convert_to(r."content", 'UTF8')`) : raw('r."content"');
  return sql`SELECT r."id", ${content} AS "content" FROM "Resource" r WHERE ${exportWhere(q)} AND r."id" > ${after} ORDER BY r."id" LIMIT ${limit}`;
}

/** Resource types the sandbox holds (current, not deleted). */
export async function storedTypes(db: Db, sandboxId: string): Promise<string[]> {
  const rows = await rawQuery<{ type: string }>(db, sql`SELECT DISTINCT r."type" FROM "Resource" r WHERE r."sandboxId" = ${sandboxId} AND r."deleted" = false`);
  return rows.map((r) => String(r.type)).sort();
}
