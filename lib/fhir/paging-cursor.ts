import { z } from 'zod';
import { FHIR_ID_PATTERN } from '../fhir-id';
import { FhirError } from './errors';

/**
 * Paging cursors of every FHIR paged answer (search, `$everything`, `_history`, AuditEvent), in one
 * format: base64url of a JSON object whose `k` names the kind of page it continues. A cursor is an
 * opaque keyset position, never an authorization: the next page runs the same policy-bound query
 * from that position (FHIR R4 http.html §3.1.0.7 paging; docs/ARCHITECTURE.md, authorization in the
 * query). Anything that does not decode to a cursor of the expected kind is a 400 OperationOutcome.
 */

/** Longest `_cursor` value accepted; the longest a server writes (a 300-character sort key) is well below. */
const MAX_CURSOR_LENGTH = 1000;

const resourceType = z.string().regex(/^[A-Z][A-Za-z]{1,63}$/);
const fhirId = z.string().regex(FHIR_ID_PATTERN);

const schemas = {
  /**
   * Search: sort key of the last entry (null when sorting by _id) and its id; with `t` the total
   * counted on the first page and `h` the fingerprint of the query it was counted for.
   */
  search: z.strictObject({
    k: z.literal('search'),
    v: z.union([z.number().finite(), z.string().max(300), z.null()]),
    i: fhirId,
    t: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    h: z
      .string()
      .regex(/^[A-Za-z0-9_-]{22}$/)
      .optional(),
  }),
  /** `Patient/{id}/$everything`: the last entry's type and id, in (type, id) order. */
  everything: z.strictObject({ k: z.literal('everything'), type: resourceType, id: fhirId }),
  /** `_history`: the last version's lastUpdated (epoch ms), id and versionId. */
  history: z.strictObject({
    k: z.literal('history'),
    at: z.number().int().min(-8.64e15).max(8.64e15),
    id: fhirId,
    v: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31),
  }),
  /** AuditEvent search, newest first: the last record's time (ISO) and id. */
  audit: z.strictObject({ k: z.literal('audit'), at: z.iso.datetime(), id: z.string().min(1).max(64) }),
};

type CursorKind = keyof typeof schemas;
/** The position a cursor of `kind` holds. */
export type PagingCursor<K extends CursorKind> = Omit<z.infer<(typeof schemas)[K]>, 'k'>;

/** The `_cursor` value that continues a page of `kind` after `position`. */
export function encodePagingCursor<K extends CursorKind>(kind: K, position: PagingCursor<K>): string {
  return Buffer.from(JSON.stringify({ k: kind, ...position })).toString('base64url');
}

/** The position in a `_cursor` value; FhirError 'invalid' (400) for anything this server did not write for `kind`. */
export function decodePagingCursor<K extends CursorKind>(kind: K, text: string): PagingCursor<K> {
  const refuse = () => new FhirError('invalid', '_cursor is not a paging cursor from this server', '_cursor');
  if (text.length === 0 || text.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(text)) throw refuse();
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw refuse();
  }
  const parsed = schemas[kind].safeParse(json);
  if (!parsed.success) throw refuse();
  const { k: _kind, ...position } = parsed.data;
  return position as unknown as PagingCursor<K>;
}
