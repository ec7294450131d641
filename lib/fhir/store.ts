import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import type { Db } from '../db';
import { getDb } from '../db';
import { isUniqueViolation } from '../db/errors';
import { FhirError } from './errors';
import { getTypeDefinition } from './definitions';
import { indexResource } from './indexer';
import type { ResourceIndex } from './indexer';
import { isFhirId } from '../fhir-id';

export interface StoredResource {
  resource: Resource;
  versionId: number;
  lastUpdated: Date;
}

export interface HistoryEntry {
  type: string;
  id: string;
  versionId: number;
  lastUpdated: Date;
  method: 'POST' | 'PUT' | 'DELETE';
  deleted: boolean;
  resource: Resource | null;
}

export interface WriteOptions {
  /** Expected current version (from If-Match); a mismatch is a version-conflict. */
  ifMatch?: number;
}

/** Throws unless the resource type is an R4 resource type. */
export function assertResourceType(type: string): void {
  if (!/^[A-Z][A-Za-z]{1,63}$/.test(type) || !getTypeDefinition(type)) throw new FhirError('unknown-type', `Unknown resource type '${type.slice(0, 64)}'`);
}

/** Throws unless the id is a valid FHIR id. */
export function assertId(id: string): void {
  if (!isFhirId(id)) throw new FhirError('invalid', `Invalid resource id '${id.slice(0, 80)}': ids are 1-64 of A-Z a-z 0-9 - .`);
}

/** Parses a JSON request body into a resource of the expected type, or throws a typed error. */
export function parseResourceBody(body: string, expectedType?: string): Resource {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new FhirError('invalid', 'Request body is not valid JSON');
  }
  return assertResource(value, expectedType);
}

/** Checks the basic shape of a resource: an object with a known resourceType matching the URL. */
export function assertResource(value: unknown, expectedType?: string): Resource {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new FhirError('invalid', 'Body must be a JSON object (a FHIR resource)');
  const type = (value as { resourceType?: unknown }).resourceType;
  if (typeof type !== 'string') throw new FhirError('invalid', 'Resource has no resourceType', 'resourceType');
  if (!/^[A-Z][A-Za-z]{1,63}$/.test(type) || !getTypeDefinition(type))
    throw new FhirError('invalid', `Unknown resource type '${type.slice(0, 64)}'`, 'resourceType');
  if (expectedType && type !== expectedType)
    throw new FhirError('invalid', `Resource type '${type}' does not match the URL type '${expectedType}'`, 'resourceType');
  const id = (value as { id?: unknown }).id;
  if (id !== undefined && (typeof id !== 'string' || !isFhirId(id))) throw new FhirError('invalid', 'Resource id is not a valid FHIR id', `${type}.id`);
  return value as Resource;
}

type Tx = Omit<Db, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>;

function withMeta(resource: Resource, id: string, versionId: number, lastUpdated: Date): Resource {
  return { ...resource, id, meta: { ...resource.meta, versionId: String(versionId), lastUpdated: lastUpdated.toISOString() } } as Resource;
}

async function writeIndex(tx: Tx, sandboxId: string, type: string, id: string, index: ResourceIndex): Promise<void> {
  const key = { sandboxId, type, resourceId: id };
  if (index.tokens.length) await tx.searchToken.createMany({ data: index.tokens.map((r) => ({ ...key, ...r })) });
  if (index.strings.length) await tx.searchString.createMany({ data: index.strings.map((r) => ({ ...key, ...r })) });
  if (index.dates.length) await tx.searchDate.createMany({ data: index.dates.map((r) => ({ ...key, ...r })) });
  if (index.references.length) await tx.searchReference.createMany({ data: index.references.map((r) => ({ ...key, ...r })) });
  if (index.quantities.length) await tx.searchQuantity.createMany({ data: index.quantities.map((r) => ({ ...key, ...r })) });
  if (index.compartments.length)
    await tx.compartmentMember.createMany({ data: index.compartments.map((patientId) => ({ sandboxId, patientId, type, resourceId: id })) });
}

async function clearIndex(tx: Tx, sandboxId: string, type: string, id: string, keepCompartments: boolean): Promise<void> {
  const where = { sandboxId, type, resourceId: id };
  await tx.searchToken.deleteMany({ where });
  await tx.searchString.deleteMany({ where });
  await tx.searchDate.deleteMany({ where });
  await tx.searchReference.deleteMany({ where });
  await tx.searchQuantity.deleteMany({ where });
  if (!keepCompartments) await tx.compartmentMember.deleteMany({ where });
}

/**
 * The versioned FHIR resource store. Every operation takes the sandbox (tenant) it acts in;
 * nothing crosses sandboxes. Search index rows and compartment membership are written in the
 * same transaction as the resource.
 */
export class ResourceStore {
  constructor(private readonly db: Db = getDb()) {}

  /** Creates a resource with a server-assigned id (any id in the body is ignored, FHIR R4 §3.1.0.8). */
  async create(sandboxId: string, resource: Resource, idOverride?: string): Promise<StoredResource> {
    const checked = assertResource(resource);
    const id = idOverride ?? randomUUID();
    assertId(id);
    const lastUpdated = new Date();
    const stored = withMeta(checked, id, 1, lastUpdated);
    const index = indexResource(stored);
    try {
      await this.db.$transaction(async (tx) => {
        await tx.resource.create({ data: { sandboxId, type: stored.resourceType, id, versionId: 1, lastUpdated, content: JSON.stringify(stored) } });
        await tx.resourceVersion.create({
          data: { sandboxId, type: stored.resourceType, id, versionId: 1, lastUpdated, method: 'POST', content: JSON.stringify(stored) },
        });
        await writeIndex(tx, sandboxId, stored.resourceType, id, index);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new FhirError('conflict', `${stored.resourceType}/${id} already exists`);
      throw err;
    }
    return { resource: stored, versionId: 1, lastUpdated };
  }

  /** Reads the current version; deleted → 'gone', absent → 'not-found'. */
  async read(sandboxId: string, type: string, id: string): Promise<StoredResource> {
    assertResourceType(type);
    assertId(id);
    const row = await this.db.resource.findUnique({ where: { sandboxId_type_id: { sandboxId, type, id } } });
    if (!row) throw new FhirError('not-found', `${type}/${id} is not known`);
    if (row.deleted) throw new FhirError('gone', `${type}/${id} has been deleted`);
    return { resource: JSON.parse(row.content) as Resource, versionId: row.versionId, lastUpdated: row.lastUpdated };
  }

  /** Reads one version. */
  async vread(sandboxId: string, type: string, id: string, versionId: number): Promise<StoredResource> {
    assertResourceType(type);
    assertId(id);
    if (!Number.isInteger(versionId) || versionId < 1) throw new FhirError('invalid', 'Version id must be a positive integer');
    const row = await this.db.resourceVersion.findUnique({ where: { sandboxId_type_id_versionId: { sandboxId, type, id, versionId } } });
    if (!row) throw new FhirError('not-found', `${type}/${id}/_history/${versionId} is not known`);
    if (row.deleted) throw new FhirError('gone', `${type}/${id} version ${versionId} is a deletion`);
    return { resource: JSON.parse(row.content) as Resource, versionId: row.versionId, lastUpdated: row.lastUpdated };
  }

  /**
   * Updates (or creates with a client id, "update as create"). The write only happens if the
   * version is still the one we read, so two concurrent updates can never both win: with
   * If-Match the loser gets 'version-conflict'; without, the update is retried on the new version.
   */
  async update(sandboxId: string, type: string, id: string, resource: Resource, opts: WriteOptions = {}): Promise<StoredResource & { created: boolean }> {
    assertResourceType(type);
    assertId(id);
    const checked = assertResource(resource, type);
    if (checked.id !== undefined && checked.id !== id)
      throw new FhirError('invalid', `Resource id '${checked.id}' does not match the URL id '${id}'`, `${type}.id`);
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.db.resource.findUnique({ where: { sandboxId_type_id: { sandboxId, type, id } }, select: { versionId: true, deleted: true } });
      if (opts.ifMatch !== undefined && (!current || current.versionId !== opts.ifMatch)) {
        throw new FhirError('version-conflict', `If-Match version ${opts.ifMatch} does not match the current version ${current?.versionId ?? 'none'}`);
      }
      if (!current) {
        try {
          const created = await this.create(sandboxId, checked, id);
          return { ...created, created: true };
        } catch (err) {
          if (err instanceof FhirError && err.kind === 'conflict') continue; // created concurrently: update it instead
          throw err;
        }
      }
      const versionId = current.versionId + 1;
      const lastUpdated = new Date();
      const stored = withMeta(checked, id, versionId, lastUpdated);
      const index = indexResource(stored);
      const won = await this.db.$transaction(async (tx) => {
        const res = await tx.resource.updateMany({
          where: { sandboxId, type, id, versionId: current.versionId },
          data: { versionId, lastUpdated, deleted: false, content: JSON.stringify(stored) },
        });
        if (res.count !== 1) return false;
        await tx.resourceVersion.create({ data: { sandboxId, type, id, versionId, lastUpdated, method: 'PUT', content: JSON.stringify(stored) } });
        await clearIndex(tx, sandboxId, type, id, false);
        await writeIndex(tx, sandboxId, type, id, index);
        return true;
      });
      if (won) return { resource: stored, versionId, lastUpdated, created: false };
      if (opts.ifMatch !== undefined)
        throw new FhirError('version-conflict', `${type}/${id} was changed concurrently; version ${opts.ifMatch} is no longer current`);
    }
    throw new FhirError('conflict', `${type}/${id} is being changed concurrently; try again`);
  }

  /**
   * Deletes softly: a new version marked deleted; history stays readable. Compartment rows are
   * kept so that access checks on the history of a deleted resource still know its owner.
   * Returns false when there was nothing to delete.
   */
  async delete(sandboxId: string, type: string, id: string, opts: WriteOptions = {}): Promise<boolean> {
    assertResourceType(type);
    assertId(id);
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.db.resource.findUnique({
        where: { sandboxId_type_id: { sandboxId, type, id } },
        select: { versionId: true, deleted: true, content: true },
      });
      if (!current || current.deleted) return false;
      if (opts.ifMatch !== undefined && current.versionId !== opts.ifMatch)
        throw new FhirError('version-conflict', `If-Match version ${opts.ifMatch} does not match the current version ${current.versionId}`);
      const versionId = current.versionId + 1;
      const lastUpdated = new Date();
      const won = await this.db.$transaction(async (tx) => {
        const res = await tx.resource.updateMany({
          where: { sandboxId, type, id, versionId: current.versionId },
          data: { versionId, lastUpdated, deleted: true },
        });
        if (res.count !== 1) return false;
        await tx.resourceVersion.create({ data: { sandboxId, type, id, versionId, lastUpdated, deleted: true, method: 'DELETE', content: current.content } });
        await clearIndex(tx, sandboxId, type, id, true);
        return true;
      });
      if (won) return true;
      if (opts.ifMatch !== undefined) throw new FhirError('version-conflict', `${type}/${id} was changed concurrently`);
    }
    throw new FhirError('conflict', `${type}/${id} is being changed concurrently; try again`);
  }

  /** Instance history, newest first. */
  async history(sandboxId: string, type: string, id: string, opts: { count?: number; since?: Date } = {}): Promise<HistoryEntry[]> {
    assertResourceType(type);
    assertId(id);
    const rows = await this.db.resourceVersion.findMany({
      where: { sandboxId, type, id, ...(opts.since ? { lastUpdated: { gte: opts.since } } : {}) },
      orderBy: { versionId: 'desc' },
      take: Math.min(opts.count ?? 100, 1000),
    });
    return rows.map(toHistoryEntry);
  }

  /** Patients whose compartment a resource belongs to (kept after deletion). */
  async compartmentsOf(sandboxId: string, type: string, id: string): Promise<string[]> {
    const rows = await this.db.compartmentMember.findMany({ where: { sandboxId, type, resourceId: id }, select: { patientId: true } });
    return rows.map((r) => r.patientId);
  }
}

function toHistoryEntry(row: {
  type: string;
  id: string;
  versionId: number;
  lastUpdated: Date;
  method: string;
  deleted: boolean;
  content: string;
}): HistoryEntry {
  return {
    type: row.type,
    id: row.id,
    versionId: row.versionId,
    lastUpdated: row.lastUpdated,
    method: row.method as HistoryEntry['method'],
    deleted: row.deleted,
    resource: row.deleted ? null : (JSON.parse(row.content) as Resource),
  };
}
