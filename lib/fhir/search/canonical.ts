/**
 * Canonical references (FHIR R4 references.html#canonical): `QuestionnaireResponse.questionnaire`
 * and the other canonical elements of reference parameters name their target by its `url`,
 * optionally `|version`, not by `Type/id`. Their index rows hold the URL (lib/fhir/indexer.ts
 * CANONICAL_TARGET); `_include` resolves it to the resources of the target type that carry it,
 * `_revinclude` finds the resources that name a target's url.
 */
import type { Db } from '../../db';
import { rawQuery } from '../../db/direct';
import { CANONICAL_TARGET } from '../indexer';
import { ands, join, sql } from './sql';
import type { Sql } from './sql';

/** The ids of the resources of `type` whose url (and version, when the canonical has one) the canonicals name. */
export async function idsNamedByCanonicals(db: Db, sandboxId: string, type: string, canonicals: string[], limit: number): Promise<string[]> {
  const named = [...new Set(canonicals)].slice(0, limit);
  if (!named.length) return [];
  const tokenIs = (param: string, code: string): Sql =>
    sql`r."id" IN (SELECT x."resourceId" FROM "SearchToken" x WHERE x."sandboxId" = ${sandboxId} AND x."type" = ${type} AND x."param" = ${param} AND x."code" = ${code})`;
  const each = named.map((c) => {
    const bar = c.indexOf('|');
    return bar < 0 ? tokenIs('url', c) : sql`(${ands([tokenIs('url', c.slice(0, bar)), tokenIs('version', c.slice(bar + 1))])})`;
  });
  const rows = await rawQuery<{ id: string }>(
    db,
    sql`SELECT r."id" FROM "Resource" r WHERE r."sandboxId" = ${sandboxId} AND r."type" = ${type} AND r."deleted" = false AND (${join(each, ' OR ')}) ORDER BY r."id" LIMIT ${limit}`,
  );
  return rows.map((r) => String(r.id));
}

/**
 * `_revinclude` through a canonical reference: the reference rows (alias x) that name one of the
 * targets by its url. A canonical with a version matches the target's url whatever its version.
 */
export function canonicalPairs(sandboxId: string, targets: { type: string; id: string }[]): Sql[] {
  const byType = new Map<string, string[]>();
  for (const t of targets) byType.set(t.type, [...(byType.get(t.type) ?? []), t.id]);
  return [...byType].map(
    ([type, ids]) =>
      sql`(x."targetType" = ${CANONICAL_TARGET} AND x."targetId" IN (SELECT u."code" FROM "SearchToken" u WHERE u."sandboxId" = ${sandboxId} AND u."type" = ${type} AND u."param" = 'url' AND u."resourceId" IN (${join(ids)})))`,
  );
}
