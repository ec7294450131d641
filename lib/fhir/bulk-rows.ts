import type { Resource } from '@medplum/fhirtypes';
import { getTypeDefinition } from './definitions';
import { indexResource } from './indexer';
import type { IndexOptions } from './indexer';

/**
 * New resources as the rows a bulk write inserts: version 1 of each, its search index rows and
 * its compartment memberships. Plain data, so it can be built on one thread and written on
 * another: each table's rows lie end to end in one flat array (`BULK_TABLES[t].stride` values
 * per row) without the columns every row of a batch shares (sandbox, version 1, `lastUpdated`,
 * not deleted), which the writer adds. Few objects to copy between threads, none to collect.
 */
export interface BulkBatch {
  sandboxId: string;
  /** Number of resources. */
  count: number;
  /** ISO instant: `meta.lastUpdated` of every resource. */
  lastUpdated: string;
  rows: BulkRows;
}

/** Flat rows per table: type, id and JSON of each resource; then each index table's own columns. */
export interface BulkRows {
  resource: string[];
  token: (string | null)[];
  string: string[];
  date: (string | number)[];
  reference: string[];
  quantity: (string | number | null)[];
  compartment: string[];
}

interface TableSpec {
  table: string;
  /** Columns given by each row, in order (after "sandboxId" for every table). */
  columns: string[];
}

/** The tables of the Prisma schema a bulk write fills; ResourceVersion takes the resource rows too. */
export const BULK_TABLES: Record<keyof BulkRows, TableSpec> = {
  resource: { table: 'Resource', columns: ['type', 'id', 'content'] },
  token: { table: 'SearchToken', columns: ['type', 'resourceId', 'param', 'system', 'code', 'text'] },
  string: { table: 'SearchString', columns: ['type', 'resourceId', 'param', 'value', 'exact'] },
  date: { table: 'SearchDate', columns: ['type', 'resourceId', 'param', 'start', 'end'] },
  reference: { table: 'SearchReference', columns: ['type', 'resourceId', 'param', 'targetType', 'targetId'] },
  quantity: { table: 'SearchQuantity', columns: ['type', 'resourceId', 'param', 'value', 'system', 'code'] },
  compartment: { table: 'CompartmentMember', columns: ['patientId', 'type', 'resourceId'] },
};

/** FHIR id: [A-Za-z0-9\-\.]{1,64} (FHIR R4 §2.26.0.1 datatypes#id). */
const ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** Builds the rows of new resources (each with an id of its own); `lastUpdated` defaults to now. */
export function toBulkBatch(sandboxId: string, resources: readonly Resource[], lastUpdated: string = new Date().toISOString(), indexOptions?: IndexOptions): BulkBatch {
  const rows: BulkRows = { resource: [], token: [], string: [], date: [], reference: [], quantity: [], compartment: [] };
  for (const input of resources) {
    const type = input.resourceType;
    if (typeof type !== 'string' || !getTypeDefinition(type)) throw new Error(`bulk writes need R4 resources, got resourceType ${JSON.stringify(type)}`);
    const id = input.id;
    if (typeof id !== 'string' || !ID.test(id)) throw new Error(`bulk writes need resources with valid ids, got ${type}/${String(id)}`);
    const resource = { ...input, meta: { ...input.meta, versionId: '1', lastUpdated } } as Resource;
    rows.resource.push(type, id, JSON.stringify(resource));
    const index = indexResource(resource, indexOptions);
    for (const t of index.tokens) rows.token.push(type, id, t.param, t.system, t.code, t.text);
    for (const s of index.strings) rows.string.push(type, id, s.param, s.value, s.exact);
    for (const d of index.dates) rows.date.push(type, id, d.param, d.start, d.end);
    for (const r of index.references) rows.reference.push(type, id, r.param, r.targetType, r.targetId);
    for (const q of index.quantities) rows.quantity.push(type, id, q.param, q.value, q.system, q.code);
    for (const p of index.compartments) rows.compartment.push(p, type, id);
  }
  return { sandboxId, count: resources.length, lastUpdated, rows };
}
