import type { Resource } from '@medplum/fhirtypes';
import { getTypeDefinition } from './definitions';
import { indexResource } from './indexer';
import type { IndexOptions } from './indexer';
import { isFhirId } from '../fhir-id';

/**
 * New resources as the rows a bulk write inserts: version 1 of each, its search index rows and
 * its compartment memberships. Plain data, so it can be built on one thread and written on
 * another: each table's rows lie end to end in one Float64Array (`BULK_TABLES[t].columns.length`
 * numbers per row) without the columns every row of a batch shares (sandbox, version 1,
 * `lastUpdated`, not deleted), which the writer adds. A text column holds the position of its
 * value in `strings`, where each distinct value of the batch appears once (-1 stands for null);
 * a numeric column holds the value itself. A batch of 6,000 resources has ~380,000 text values
 * but ~15,000 distinct ones (6,000 of them its JSON), and its arrays move between threads without
 * being copied: passing a batch to the writing thread costs a tenth of what it did as plain arrays.
 */
export interface BulkBatch {
  sandboxId: string;
  /** Number of resources. */
  count: number;
  /** ISO instant: `meta.lastUpdated` of every resource. */
  lastUpdated: string;
  /** The distinct text values of the batch (each resource's JSON among them). */
  strings: string[];
  rows: BulkRows;
}

export type BulkTable = 'resource' | 'token' | 'string' | 'date' | 'reference' | 'quantity' | 'compartment';

/** Flat rows per table: type, id and JSON of each resource; then each index table's own columns. */
export type BulkRows = Record<BulkTable, Float64Array>;

interface TableSpec {
  table: string;
  /** Columns given by each row, in order (after "sandboxId" for every table). */
  columns: string[];
  /** Those of them that hold numbers (double precision); the others hold text. */
  numeric: string[];
}

/** The tables of the Prisma schema a bulk write fills; ResourceVersion takes the resource rows too. */
export const BULK_TABLES: Record<BulkTable, TableSpec> = {
  resource: { table: 'Resource', columns: ['type', 'id', 'content'], numeric: [] },
  token: { table: 'SearchToken', columns: ['type', 'resourceId', 'param', 'system', 'code', 'text'], numeric: [] },
  string: { table: 'SearchString', columns: ['type', 'resourceId', 'param', 'value', 'exact'], numeric: [] },
  date: { table: 'SearchDate', columns: ['type', 'resourceId', 'param', 'start', 'end'], numeric: ['start', 'end'] },
  reference: { table: 'SearchReference', columns: ['type', 'resourceId', 'param', 'targetType', 'targetId'], numeric: [] },
  quantity: { table: 'SearchQuantity', columns: ['type', 'resourceId', 'param', 'value', 'system', 'code'], numeric: ['value'] },
  compartment: { table: 'CompartmentMember', columns: ['patientId', 'type', 'resourceId'], numeric: [] },
};

export const BULK_TABLE_KEYS = Object.keys(BULK_TABLES) as BulkTable[];

/** Builds the rows of new resources (each with an id of its own); `lastUpdated` defaults to now. */
export function toBulkBatch(
  sandboxId: string,
  resources: readonly Resource[],
  lastUpdated: string = new Date().toISOString(),
  indexOptions?: IndexOptions,
): BulkBatch {
  const strings: string[] = [];
  const positions = new Map<string, number>();
  const at = (value: string | null): number => {
    if (value === null) return -1;
    let i = positions.get(value);
    if (i === undefined) {
      i = strings.push(value) - 1;
      positions.set(value, i);
    }
    return i;
  };
  const rows: Record<BulkTable, number[]> = { resource: [], token: [], string: [], date: [], reference: [], quantity: [], compartment: [] };
  for (const input of resources) {
    const type = input.resourceType;
    if (typeof type !== 'string' || !getTypeDefinition(type)) throw new Error(`bulk writes need R4 resources, got resourceType ${JSON.stringify(type)}`);
    const id = input.id;
    if (typeof id !== 'string' || !isFhirId(id)) throw new Error(`bulk writes need resources with valid ids, got ${type}/${String(id)}`);
    const resource = { ...input, meta: { ...input.meta, versionId: '1', lastUpdated } } as Resource;
    const t = at(type);
    const i = at(id);
    // Each JSON is its own: no point looking it up.
    rows.resource.push(t, i, strings.push(JSON.stringify(resource)) - 1);
    const index = indexResource(resource, indexOptions);
    for (const r of index.tokens) rows.token.push(t, i, at(r.param), at(r.system), at(r.code), at(r.text));
    for (const r of index.strings) rows.string.push(t, i, at(r.param), at(r.value), at(r.exact));
    for (const r of index.dates) rows.date.push(t, i, at(r.param), r.start, r.end);
    for (const r of index.references) rows.reference.push(t, i, at(r.param), at(r.targetType), at(r.targetId));
    for (const r of index.quantities) rows.quantity.push(t, i, at(r.param), r.value, at(r.system), at(r.code));
    for (const p of index.compartments) rows.compartment.push(at(p), t, i);
  }
  const packed = {} as BulkRows;
  for (const key of BULK_TABLE_KEYS) packed[key] = Float64Array.from(rows[key]);
  return { sandboxId, count: resources.length, lastUpdated, strings, rows: packed };
}

/** The buffers of a batch's rows, to transfer rather than copy when posting it to another thread. */
export function bulkTransferList(batch: BulkBatch): ArrayBuffer[] {
  return BULK_TABLE_KEYS.map((key) => batch.rows[key].buffer as ArrayBuffer);
}

/**
 * The rows of one table as columns of values (text resolved, null for -1), for a writer that
 * sends a column at a time.
 */
export function bulkColumns(batch: BulkBatch, key: BulkTable): unknown[][] {
  const { columns, numeric } = BULK_TABLES[key];
  const flat = batch.rows[key];
  const stride = columns.length;
  const { strings } = batch;
  return columns.map((name, c) => {
    const values: unknown[] = [];
    const isNumber = numeric.includes(name);
    for (let i = c; i < flat.length; i += stride) {
      const v = flat[i]!;
      values.push(isNumber ? v : v < 0 ? null : strings[v]);
    }
    return values;
  });
}
