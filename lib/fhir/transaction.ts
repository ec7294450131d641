/**
 * Transaction Bundles (FHIR R4 http.html §3.1.0.11.2): every entry is answered by the FHIR handler
 * itself, as the request it stands for, with the caller's token (so each is authorized exactly as
 * the single call would be and leaves one audit record of its own), but all of them on ONE
 * database transaction: the first entry that fails rolls back every write, and the answer is one
 * OperationOutcome naming that entry.
 *
 * - Order (§3.1.0.11.2 "transaction processing rules"): DELETE, then POST, then PUT and PATCH, then
 *   GET and HEAD; the response lists the entries in the order of the request.
 * - Identities: each unconditional create gets its id before anything runs, so `urn:uuid:` (or any)
 *   fullUrl it carries is replaced by `Type/id` in every entry, whatever their order. A conditional
 *   create, update or delete is known once it ran; an entry that refers to one that has not run yet
 *   has it run first (a cycle between such entries is refused).
 * - Replaced wherever it stands: any string equal to a fullUrl (references, uri elements), `href` and
 *   `src` in the narrative, and the values of a request URL's parameters (§3.1.0.11.2 "servers SHALL
 *   replace all matching links in the bundle").
 * - Conditional references (`Patient?identifier=…`, §3.1.0.11.2): searched with the caller's token,
 *   within its access like any search (and audited as one); exactly one match becomes `Type/id`,
 *   otherwise 412.
 * - Overlapping identities among the writes fail the transaction (400).
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, OperationOutcome, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import type { Db } from '../db';
import { FhirError, TransactionFailure } from './errors';
import { entryRequest, responseEntry } from './batch';
import { operationOutcome, outcomeOf, statusOf } from './outcomes';
import { FHIR_ID_SOURCE, referencePattern } from '../fhir-id';

/** Rank of each method in the processing order. */
const ORDER: Record<string, number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3, HEAD: 3 };
const TYPE_AND_ID = referencePattern();
// The resource a Location or Content-Location names (`…/Type/id` or `…/Type/id/_history/n`).
const LOCATED = new RegExp(`([A-Z][A-Za-z]+)\\/(${FHIR_ID_SOURCE})(?:\\/_history\\/[^/]+)?$`);
const CONDITIONAL_REFERENCE = /^([A-Z][A-Za-z]+)\?(.+)$/;

/** Ids the handler gives the resources of unconditional creates in a transaction (set per entry request). */
const assignedIds = new WeakMap<Request, string>();

/** The id a transaction assigned to the create this request stands for, or undefined (the store picks one). */
export function assignedIdOf(req: Request): string | undefined {
  return assignedIds.get(req);
}

/** Checks what a transaction needs beyond a batch's shape: no operations, unique fullUrls, bodies where writes need them. */
export function assertTransactionEntries(b: Bundle): void {
  const fullUrls = new Set<string>();
  (b.entry ?? []).forEach((e, i) => {
    const method = e.request!.method;
    const path = e.request!.url.split('?')[0] ?? '';
    // Operations may write outside the transaction (a bulk export job) or take their own time: not in a transaction.
    if (path.split('/').some((s) => s.startsWith('$')))
      throw new FhirError(
        'invalid',
        `Bundle.entry[${i}].request.url names an operation; a transaction holds interactions only`,
        `Bundle.entry[${i}].request.url`,
      );
    if ((method === 'POST' || method === 'PUT') && !e.resource)
      throw new FhirError('invalid', `Bundle.entry[${i}] is a ${method} without a resource`, `Bundle.entry[${i}].resource`);
    if (e.request!.ifNoneExist !== undefined && typeof e.request!.ifNoneExist !== 'string')
      throw new FhirError('invalid', `Bundle.entry[${i}].request.ifNoneExist must be a string`, `Bundle.entry[${i}].request.ifNoneExist`);
    if (e.fullUrl !== undefined) {
      if (typeof e.fullUrl !== 'string') throw new FhirError('invalid', `Bundle.entry[${i}].fullUrl must be a string`, `Bundle.entry[${i}].fullUrl`);
      if (fullUrls.has(e.fullUrl))
        throw new FhirError('invalid', `Bundle.entry[${i}].fullUrl '${e.fullUrl.slice(0, 100)}' is used by an earlier entry`, `Bundle.entry[${i}].fullUrl`);
      fullUrls.add(e.fullUrl);
    }
  });
}

/** Runs `work` on one database transaction: committed when it returns, rolled back when it throws. */
export function onTransaction<R>(db: Db, work: (tx: Db) => Promise<R>): Promise<R> {
  // A long transaction holds SQLite's one connection: other requests wait for it (lib/db/sqlite-transactions).
  return db.$transaction((tx) => work(joined(tx)), { maxWait: 10_000, timeout: 60_000 });
}

/**
 * The transaction's client as a whole `Db`: code that opens a transaction of its own on it (the
 * store's writes) joins this one instead, so every statement of every entry is part of it.
 */
function joined(tx: object): Db {
  const proxy: Db = new Proxy(tx, {
    get(target, prop) {
      if (prop === '$transaction')
        return (arg: unknown) => (typeof arg === 'function' ? (arg as (client: Db) => unknown)(proxy) : Promise.all(arg as PromiseLike<unknown>[]));
      return Reflect.get(target, prop, target) as unknown;
    },
  }) as Db;
  return proxy;
}

/** The OperationOutcome a failed transaction answers: the failing entry's issues, then which entry it was. */
export function failureOutcome(failure: TransactionFailure, b: Bundle): OperationOutcome {
  const request = b.entry?.[failure.index]?.request;
  const issues: OperationOutcomeIssue[] = (failure.outcome.issue ?? []).map((issue) => ({
    ...issue,
    expression: [`Bundle.entry[${failure.index}]`, ...(issue.expression ?? [])],
  }));
  issues.push({
    severity: 'error',
    code: 'processing',
    diagnostics: `The transaction failed at Bundle.entry[${failure.index}] (${request?.method ?? '?'} ${(request?.url ?? '').slice(0, 120)}: ${failure.status}); nothing was written`,
    expression: [`Bundle.entry[${failure.index}]`],
  });
  return { resourceType: 'OperationOutcome', issue: issues };
}

function failure(index: number, err: FhirError): TransactionFailure {
  return new TransactionFailure(index, statusOf(err.kind), outcomeOf(err));
}

interface Parsed {
  method: string;
  type: string;
  /** The id of a `Type/id` URL, else null. */
  id: string | null;
  /** A `Type?criteria` URL (conditional update or delete), or a create with If-None-Exist. */
  conditional: boolean;
}

function parseEntry(e: BundleEntry): Parsed {
  const method = e.request!.method!;
  const [path = '', query] = e.request!.url.split('?', 2);
  const m = TYPE_AND_ID.exec(path);
  const type = m?.[1] ?? path.split('/')[0] ?? '';
  const id = m?.[2] ?? null;
  const conditional = method === 'POST' ? Boolean(e.request!.ifNoneExist?.trim()) : (method === 'PUT' || method === 'DELETE') && id === null && Boolean(query);
  return { method, type, id, conditional };
}

/** The `Type/id` an entry's answer names (its Location, or the resource it returned). */
function identityOfAnswer(answer: BundleEntry): string | null {
  const location = answer.response?.location;
  if (location) {
    const m = LOCATED.exec(location);
    if (m) return `${m[1]}/${m[2]}`;
  }
  const r = answer.resource;
  return r?.resourceType && r.id ? `${r.resourceType}/${r.id}` : null;
}

/**
 * Processes a transaction's entries with `dispatch` (the handler bound to the open database
 * transaction) and returns the transaction-response Bundle; throws TransactionFailure at the first
 * entry that fails, so the caller's transaction rolls back.
 */
export async function processTransaction(outer: Request, b: Bundle, dispatch: (req: Request) => Promise<Response>): Promise<Bundle> {
  const entries = b.entry ?? [];
  const parsed = entries.map(parseEntry);
  /** fullUrl → `Type/id`, for every entry whose identity is known. */
  const identities = new Map<string, string>();
  /** fullUrl → index of the conditional entry that will name it once it ran. */
  const pending = new Map<string, number>();
  const assigned = new Map<number, string>();
  /** `Type/id` → index of the write that touches it (overlaps fail the transaction). */
  const written = new Map<string, number>();
  const claim = (identity: string, i: number) => {
    const other = written.get(identity);
    if (other !== undefined && other !== i)
      throw failure(
        i,
        new FhirError('invalid', `Bundle.entry[${i}] and Bundle.entry[${other}] both write ${identity}; a transaction writes each resource once`),
      );
    written.set(identity, i);
  };

  parsed.forEach((p, i) => {
    const fullUrl = entries[i]!.fullUrl;
    let identity: string | null = null;
    if (p.method === 'POST' && !p.conditional) {
      const id = randomUUID();
      assigned.set(i, id);
      identity = `${p.type}/${id}`;
    } else if (p.id !== null) {
      identity = `${p.type}/${p.id}`;
    }
    if (identity && p.method !== 'GET' && p.method !== 'HEAD') claim(identity, i);
    if (fullUrl === undefined) return;
    if (identity) identities.set(fullUrl, identity);
    else if (p.conditional && p.method !== 'DELETE') pending.set(fullUrl, i);
  });

  const answers: (BundleEntry | undefined)[] = new Array<BundleEntry | undefined>(entries.length);
  const running = new Set<number>();

  /** The `Type/id` a fullUrl stands for, running the conditional entry that decides it if needed. */
  async function identityOf(fullUrl: string, from: number): Promise<string | undefined> {
    const known = identities.get(fullUrl);
    if (known) return known;
    const owner = pending.get(fullUrl);
    if (owner === undefined) return undefined;
    if (running.has(owner))
      throw failure(
        from,
        new FhirError(
          'invalid',
          `Bundle.entry[${from}] and Bundle.entry[${owner}] refer to each other through conditional entries; their identities cannot be resolved`,
        ),
      );
    await run(owner);
    return identities.get(fullUrl);
  }

  /** A conditional reference `Type?criteria`, searched with the caller's token: exactly one match. */
  async function resolveConditional(type: string, query: string, from: number, at: string): Promise<string> {
    const params = new URLSearchParams(query);
    params.set('_count', '2');
    params.set('_elements', 'id');
    // The search the reference stands for, sent like an entry: the caller's token, audited as a search.
    const res = await dispatch(entryRequest({ request: { method: 'GET', url: `${type}?${params.toString()}` } }, outer));
    const answer = await responseEntry(res);
    if (res.status >= 400)
      throw new TransactionFailure(from, res.status, answer.response?.outcome ?? operationOutcome('error', 'processing', `${type}?${query} failed`));
    const matches = ((answer.resource as Bundle | undefined)?.entry ?? []).filter((e) => e.search?.mode === 'match' && e.resource?.id);
    if (matches.length !== 1)
      throw failure(
        from,
        new FhirError(
          'version-conflict',
          `The conditional reference ${type}?${query.slice(0, 100)} matches ${matches.length === 0 ? 'no' : 'more than one'} resource; it must match exactly one`,
          at,
        ),
      );
    return `${type}/${matches[0]!.resource!.id}`;
  }

  /** A copy of a resource with every fullUrl and conditional reference replaced by `Type/id`. */
  async function rewrite(value: unknown, from: number, at: string, key: string): Promise<unknown> {
    if (typeof value === 'string') {
      if (key === 'div') {
        let div = value;
        for (const m of value.matchAll(/\b(?:href|src)="([^"]+)"/g)) {
          const target = await identityOf(m[1]!, from);
          if (target) div = div.split(`"${m[1]}"`).join(`"${target}"`);
        }
        return div;
      }
      const target = await identityOf(value, from);
      if (target) return target;
      if (key === 'reference') {
        if (value.startsWith('urn:uuid:') || value.startsWith('urn:oid:'))
          throw failure(from, new FhirError('invalid', `The reference ${value.slice(0, 100)} names no entry of this transaction`, at));
        const c = CONDITIONAL_REFERENCE.exec(value);
        // Its criteria may name other entries too (`Observation?subject=urn:uuid:…`).
        if (c) return resolveConditional(c[1]!, (await rewriteQuery(value, from)).slice(c[1]!.length + 1), from, at);
      }
      return value;
    }
    if (Array.isArray(value)) {
      const out: unknown[] = [];
      for (let i = 0; i < value.length; i++) out.push(await rewrite(value[i], from, `${at}[${i}]`, key));
      return out;
    }
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = await rewrite(v, from, `${at}.${k}`, k);
      return out;
    }
    return value;
  }

  /** A request URL or If-None-Exist with the fullUrls among its parameter values replaced. */
  async function rewriteQuery(url: string, from: number): Promise<string> {
    const q = url.indexOf('?');
    if (q < 0) return url;
    const params = new URLSearchParams(url.slice(q + 1));
    const out = new URLSearchParams();
    for (const [k, v] of params) out.append(k, (await identityOf(v, from)) ?? v);
    return `${url.slice(0, q + 1)}${out.toString()}`;
  }

  async function run(i: number): Promise<void> {
    if (answers[i] || running.has(i)) return;
    running.add(i);
    const entry = entries[i]!;
    const p = parsed[i]!;
    const request = { ...entry.request!, url: await rewriteQuery(entry.request!.url, i) };
    if (request.ifNoneExist) request.ifNoneExist = (await rewriteQuery(`?${request.ifNoneExist}`, i)).slice(1);
    const resource = entry.resource ? ((await rewrite(entry.resource, i, `Bundle.entry[${i}].resource`, '')) as Resource) : undefined;
    const req = entryRequest({ ...entry, request, ...(resource ? { resource } : {}) }, outer);
    const id = assigned.get(i);
    if (id !== undefined) assignedIds.set(req, id);
    const res = await dispatch(req);
    const answer = await responseEntry(res);
    if (res.status >= 400)
      throw new TransactionFailure(i, res.status, answer.response?.outcome ?? operationOutcome('error', 'processing', `${p.method} ${request.url} failed`));
    if (p.conditional && p.method !== 'DELETE') {
      const identity = identityOfAnswer(answer);
      if (!identity) throw new Error(`Bundle.entry[${i}] was answered ${res.status} without naming the resource it wrote`);
      // A conditional create that found its match wrote nothing; every other write claims its resource.
      if (!(p.method === 'POST' && res.status === 200)) claim(identity, i);
      if (entry.fullUrl !== undefined) identities.set(entry.fullUrl, identity);
    }
    answers[i] = answer;
    running.delete(i);
  }

  const order = parsed.map((p, i) => ({ rank: ORDER[p.method] ?? 3, i })).sort((a, b2) => a.rank - b2.rank || a.i - b2.i);
  for (const { i } of order) await run(i);
  return { resourceType: 'Bundle', type: 'transaction-response', entry: answers.map((a) => a ?? {}) };
}
