/**
 * The FHIR R4 REST API as one framework-free handler `(req: Request) => Promise<Response>`
 * (docs/ARCHITECTURE.md: app/ route files re-export it in one line). Order of every request: CORS preflight →
 * route → format → token → access decision (403) → policy-bound query (404 for anything hidden) →
 * response → exactly one audit record.
 */
import type { Bundle, BundleEntry, DocumentReference, OperationOutcomeIssue, Patient, Resource } from '@medplum/fhirtypes';
import { z } from 'zod';
import type { Db } from '../db';
import { getDb } from '../db';
import { env } from '../env';
import type { AuditEntry, AuditFlag } from '../audit/record';
import { auditedPath, fhirRequestFacts, retryAfterOf } from '../audit/facts';
import { recordAudit, requestSource } from '../audit/record';
import { publicOrigin } from '../http/origin';
import { currentSandbox } from '../sandbox/context';
import { isFhirResourceType, parseScopeString } from '../smart/scopes';
import type { AccessPolicy, AllowedDecision, FhirInteraction } from '../smart/access-policy';
import { compileAccessPolicy, SHARED_RESOURCE_TYPES } from '../smart/access-policy';
import { assertWriteAllowed, decideOrThrow, scopeOf } from './access';
import type { Authenticate, TokenClaims } from './auth';
import { bearerTokenOf, wwwAuthenticate } from './auth';
import { verifyAccessToken } from '../oauth/access-token';
import type { RefusedToken } from '../oauth/access-token';
import { assertFhirRateLimit } from './rate-limit';
import { simulatedErrorOfLaunch, simulatedNote } from '../launch-options/lookup';
import { simulatedDeletedPatient, simulatedFhirFailure } from './simulated-failures';
import { bundle, outcomeEntry, searchEntry, selectElements, storedEntry, withoutText } from './bundle';
import { assertAuditReader, readAuditEvent, searchAuditEvents } from './audit-events';
import { entryRequest, parseBatch, responseEntry } from './batch';
import { assertTransactionEntries, assignedIdOf, failureOutcome, onTransaction, processTransaction } from './transaction';
import { capabilityStatement } from './capability';
import { applyPatch } from './medplum';
import type { JsonPatchOperation } from './medplum';
import { docrefInputsOfParameters, docrefInputsOfQuery, docrefSearch, parseDocref } from './docref';
import type { DocrefRequest } from './docref';
import { SECTION_ENTRIES, SUMMARY_SECTIONS, SUMMARY_TYPE, summaryDocument, summaryDocumentReference } from './summary-document';
import type { SectionContent } from './summary-document';
import { expandInputsOfParameters, expandValueSet, parseExpand } from './terminology';
import { getTypeDefinition, patientCompartmentTypes } from './definitions';
import { CANONICAL_TARGET } from './indexer';
import { idsNamedByCanonicals } from './search/canonical';
import { FhirAuthError, FhirError, FhirForbiddenError, FhirThrottledError, TransactionFailure } from './errors';
import type { ResponseFormat } from './http';
import {
  assertJsonBody,
  corsHeaders,
  databaseUnavailableResponse,
  etagOf,
  fhirResponse,
  httpDate,
  negotiateFormat,
  parseIfMatch,
  preflightResponse,
  readBodyText,
  StoredJson,
} from './http';
import { isDatabaseUnavailable } from '../db/errors';
import { informationOutcome, internalErrorOutcome, operationOutcome, outcomeOf, statusOf } from './outcomes';
import type { ResourceRow } from './search/execute';
import {
  countIsCheap,
  everythingPage,
  existsForAudit,
  historyPage,
  readManyVisible,
  readVisible,
  referencesFrom,
  referringVisible,
  resourceOf,
  searchCount,
  searchFingerprint,
  searchPage,
} from './search/execute';
import type { SearchRequest } from './search/parse';
import { encodeCursor, MAX_COUNT, parseDateValue, parseSearch } from './search/parse';
import { decodePagingCursor, encodePagingCursor } from './paging-cursor';
import type { AccessScope } from './search/sql';
import { parseResourceBody, ResourceStore } from './store';
import { handleBulk } from './bulk/endpoints';
import type { FhirRoute } from './request-access';
import { otherPatientError, otherPatientsNamed, parseAuthorizedSearch as parseAuthorizedSearchOf, patientsNamedIn, routeFhirRequest } from './request-access';
import { isFhirId, referencePattern } from '../fhir-id';

export interface FhirHandlerOptions {
  db?: Db;
  store?: ResourceStore;
  /** Access-token verification (default: lib/oauth's verifyAccessToken). */
  authenticate?: Authenticate;
  sandboxId?: string;
  /** Path of the FHIR base on the origin (default `/fhir`). */
  basePath?: string;
  /** Result counts above this mark the audit record as excessive access. */
  excessiveResults?: number;
  /** Audit sink (default: recordAudit). */
  audit?: (entry: AuditEntry) => Promise<void>;
  /** Counts each request against the FHIR rate limits (default true; a transaction counts its entries before it opens). */
  rateLimited?: boolean;
}

/** What the audit record of a request accumulates while it is handled. */
interface AuditState {
  interaction: string;
  resourceType: string | null;
  resourceId: string | null;
  claims: TokenClaims | null;
  /** The client of a genuine access token refused only because it expired. */
  expiredClientId: string | null;
  /** A genuine token of this sandbox refused as revoked or expired. */
  refusedToken: RefusedToken | null;
  scopes: string | null;
  resultCount: number | null;
  flags: AuditFlag[];
  detail: string | null;
  errorCode: string | null;
}

interface Ctx {
  req: Request;
  url: URL;
  method: string;
  segments: string[];
  origin: string;
  base: string;
  sandboxId: string;
  format: ResponseFormat;
  audit: AuditState;
  db: Db;
  store: ResourceStore;
  policy: AccessPolicy | null;
  /** The patient whose record looks deleted (the launch's simulated error patient_deleted), or null. */
  deletedPatientId: string | null;
  /** This handler, for the entries of a batch. */
  dispatch: (req: Request) => Promise<Response>;
  /** This handler on an open database transaction, the token already verified, audit records to `sink`. */
  onTransaction: (tx: Db, claims: TokenClaims, sink: (entry: AuditEntry) => Promise<void>) => (req: Request) => Promise<Response>;
  /** Where audit records go. */
  recordAudit: (entry: AuditEntry) => Promise<void>;
  rateLimited: boolean;
}

const SEARCH_FORM = 'application/x-www-form-urlencoded';
const INCLUDE_LIMIT = 1000;
const SHARED = new Set(SHARED_RESOURCE_TYPES);
// Not a FHIR id (lib/fhir-id.ts): a compartment no resource is in.
const NO_PATIENT = '#deleted';

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new FhirError('invalid', 'Malformed URL path');
  }
}

function prefer(req: Request, key: string): string | null {
  const header = req.headers.get('prefer');
  if (!header) return null;
  for (const part of header.split(/[;,]/)) {
    const [k, v] = part.split('=').map((s) => s.trim());
    if (k?.toLowerCase() === key) return (v ?? '').replace(/"/g, '').toLowerCase();
  }
  return null;
}

/** Builds the FHIR API handler. */
export function createFhirHandler(options: FhirHandlerOptions = {}): (req: Request) => Promise<Response> {
  const authenticate = options.authenticate ?? verifyAccessToken;
  const basePath = options.basePath ?? '/fhir';
  const excessive = options.excessiveResults ?? env.AUDIT_EXCESSIVE_RESULTS;
  const audit = options.audit ?? recordAudit;

  return async function handleFhir(req: Request): Promise<Response> {
    if (req.method === 'OPTIONS') return preflightResponse(req);
    const started = performance.now();
    const db = options.db ?? getDb();
    const store = options.store ?? new ResourceStore(db);
    const sandbox = currentSandbox();
    const sandboxId = options.sandboxId ?? sandbox.id;
    const url = new URL(req.url);
    const origin = publicOrigin(req);
    // The request's URL has no sandbox prefix (the servers strip `/s/{id}`); the base it is served at does.
    const base = `${origin}${sandbox.basePath}${basePath}`;
    const state: AuditState = {
      interaction: 'unknown',
      resourceType: null,
      resourceId: null,
      claims: null,
      expiredClientId: null,
      refusedToken: null,
      scopes: null,
      resultCount: null,
      flags: [],
      detail: null,
      errorCode: null,
    };
    let format: ResponseFormat = { contentType: 'application/fhir+json', pretty: url.searchParams.get('_pretty') === 'true' };
    let response: Response;
    let isMetadata = false;
    try {
      const path = url.pathname.startsWith(basePath) ? url.pathname.slice(basePath.length) : url.pathname;
      const segments = path
        .split('/')
        .filter((s) => s !== '')
        .map(decodeSegment);
      isMetadata = segments.length === 1 && segments[0] === 'metadata';
      format = negotiateFormat(url, req.headers.get('accept'));
      const ctx: Ctx = {
        req,
        url,
        method: req.method,
        segments,
        origin,
        base,
        sandboxId,
        format,
        audit: state,
        db,
        store,
        policy: null,
        deletedPatientId: null,
        dispatch: handleFhir,
        onTransaction: (tx, claims, sink) =>
          createFhirHandler({
            ...options,
            db: tx,
            store: new ResourceStore(tx),
            authenticate: async () => ({ ok: true, token: claims }),
            audit: sink,
            rateLimited: false,
          }),
        recordAudit: audit,
        rateLimited: options.rateLimited ?? true,
      };
      response = await route(ctx, authenticate);
    } catch (err) {
      response = errorResponse(err, format, base, state);
    }
    for (const [k, v] of Object.entries(corsHeaders(req))) response.headers.set(k, v);
    if (!isMetadata) {
      const count = state.resultCount;
      if (count !== null && count > excessive) state.flags.push('excessive-results');
      await audit({
        sandboxId,
        kind: 'fhir',
        method: req.method,
        endpoint: auditedPath(url),
        resourceType: state.resourceType,
        resourceId: state.resourceId,
        clientId: state.claims?.clientId ?? state.expiredClientId ?? state.refusedToken?.clientId ?? null,
        userId: state.claims?.userId ?? null,
        patientId: state.claims?.patientId ?? null,
        launchId: state.claims?.launchId ?? null,
        scopes: state.scopes,
        status: response.status,
        errorCode: state.errorCode,
        detail: state.detail ? `${state.interaction}: ${state.detail}` : state.interaction,
        resultCount: count,
        latencyMs: performance.now() - started,
        ...requestSource(req),
        flags: state.flags,
        facts: {
          ...fhirRequestFacts(req, url),
          ...(state.claims || state.refusedToken ? { tokenId: state.claims?.jti ?? state.refusedToken?.id } : {}),
          ...(state.expiredClientId ? { tokenExpired: true } : {}),
          ...retryAfterOf(response),
        },
      });
    }
    return response;
  };
}

function errorResponse(err: unknown, format: ResponseFormat, base: string, state: AuditState): Response {
  if (!(err instanceof FhirError)) {
    if (isDatabaseUnavailable(err)) {
      state.errorCode = 'transient';
      state.detail = 'database unavailable';
      return databaseUnavailableResponse(format, err);
    }
    console.error('FHIR request failed:', err instanceof Error ? (err.stack ?? err.message) : String(err));
    state.errorCode = 'exception';
    state.detail = 'unexpected server error';
    return fhirResponse(internalErrorOutcome(), 500, format);
  }
  const status = statusOf(err.kind);
  const headers: Record<string, string> = {};
  state.errorCode = err instanceof FhirAuthError ? (err.oauthError ?? 'no_token') : err instanceof FhirForbiddenError ? 'insufficient_scope' : err.kind;
  state.detail ??= err.message;
  if (err instanceof FhirAuthError) headers['www-authenticate'] = wwwAuthenticate(base, err);
  if (err instanceof FhirThrottledError) {
    headers['retry-after'] = String(err.retryAfterSeconds);
    state.flags.push('rate-limited');
  }
  if (err instanceof FhirForbiddenError) {
    headers['www-authenticate'] = `Bearer realm="${base}", error="insufficient_scope", scope="${err.wouldAllow.replace(/["\\]/g, '')}"`;
    state.detail = err.message;
  }
  if (err.kind === 'not-supported') headers.allow = 'GET, POST, PUT, PATCH, DELETE, OPTIONS';
  return fhirResponse(outcomeOf(err), status, format, headers);
}

async function authenticateRequest(ctx: Ctx, authenticate: Authenticate): Promise<AccessPolicy> {
  const jwt = bearerTokenOf(ctx.req);
  const result = await authenticate(jwt, { sandboxId: ctx.sandboxId, fhirBase: ctx.base });
  if (!result.ok) {
    ctx.audit.flags.push('invalid-token');
    ctx.audit.expiredClientId = result.expiredClientId ?? null;
    ctx.audit.refusedToken = result.refusedToken ?? null;
    if (result.simulated) {
      ctx.audit.flags.push('simulated');
      ctx.audit.detail = `simulated error: ${result.description}`;
    }
    throw new FhirAuthError(result.description || 'The access token is not valid', 'invalid_token');
  }
  const claims = result.token;
  ctx.audit.claims = claims;
  // Per-client and per-patient limits (lib/ratelimit): one statement; over a limit → 429 throttled.
  if (ctx.rateLimited) await assertFhirRateLimit(claims, ctx.db);
  const { scopes } = parseScopeString(claims.scope);
  const policy = compileAccessPolicy(scopes, { patientId: claims.patientId ?? undefined, fhirUser: claims.fhirUser ?? undefined });
  ctx.policy = policy;
  // The launch's simulated FHIR behaviour (lib/fhir/simulated-failures.ts): a 429, or a deleted patient in context.
  const simulated = await simulatedErrorOfLaunch(claims.launchId, ctx.db);
  const throttled = simulatedFhirFailure(simulated);
  ctx.deletedPatientId = simulatedDeletedPatient(simulated, claims.patientId);
  if (simulated && (throttled || ctx.deletedPatientId)) {
    ctx.audit.detail = simulatedNote(simulated);
    ctx.audit.flags.push('simulated');
  }
  if (throttled) throw throttled;
  return policy;
}

/**
 * Simulated "patient in context deleted": the patient and its compartment are gone, as after a
 * cascading delete. A read of any of it answers 410 Gone, like a read of a deleted resource.
 */
async function assertNotInDeletedRecord(ctx: Ctx, type: string, id: string): Promise<void> {
  const deleted = ctx.deletedPatientId;
  if (deleted === null) return;
  const inRecord =
    type === 'Patient' ? id === deleted : (await readVisible(ctx.db, ctx.sandboxId, type, id, { compartmentPatientId: deleted, filters: null })) !== null;
  if (inRecord) throw new FhirError('gone', `${type}/${id} has been deleted`);
}

/**
 * Simulated "patient in context deleted" for searches: one within the patient's compartment (any
 * search under its patient/ token, or one naming it) finds nothing, in the query itself, so paging
 * and totals stay right.
 */
function withoutDeletedRecord(ctx: Ctx, req: SearchRequest, access: AccessScope): AccessScope {
  const deleted = ctx.deletedPatientId;
  if (deleted === null) return access;
  const within = access.compartmentPatientId === deleted || patientsNamedIn(req).includes(deleted);
  return within ? { ...access, compartmentPatientId: NO_PATIENT } : access;
}

function decide(ctx: Ctx, policy: AccessPolicy, interaction: FhirInteraction, type: string, level?: 'instance' | 'type'): AllowedDecision {
  try {
    const d = decideOrThrow(policy, interaction, type, level ? { level } : undefined);
    ctx.audit.scopes = d.grantedBy.join(' ');
    return d;
  } catch (err) {
    ctx.audit.scopes = ctx.audit.claims?.scope ?? null;
    throw err;
  }
}

async function route(ctx: Ctx, authenticate: Authenticate): Promise<Response> {
  const { segments, method } = ctx;
  if (segments[0] === 'metadata' && segments.length === 1) {
    ctx.audit.interaction = 'capabilities';
    routeFhirRequest(method, segments, ctx.url.searchParams);
    return fhirResponse(capabilityStatement(`${ctx.origin}${currentSandbox().basePath}`, ctx.base), 200, ctx.format);
  }
  // Every other request needs a token, before anything about the URL is revealed (g10 1.9.10).
  const policy = await authenticateRequest(ctx, authenticate);
  // The same routing the console's scope playground runs (lib/fhir/request-access.ts).
  if (segments.length === 0) ctx.audit.interaction = method === 'POST' ? 'batch' : 'search-system';
  let r: FhirRoute;
  try {
    r = routeFhirRequest(method, segments, ctx.url.searchParams);
  } finally {
    const [first, second] = segments;
    if (first !== undefined && isFhirResourceType(first)) ctx.audit.resourceType = first;
    if (first !== 'AuditEvent' && second !== undefined && isFhirId(second)) ctx.audit.resourceId = second;
  }
  switch (r.kind) {
    case 'capabilities':
      return fhirResponse(capabilityStatement(`${ctx.origin}${currentSandbox().basePath}`, ctx.base), 200, ctx.format);
    case 'bulk':
      // Bulk Data export (docs/CONFORMANCE.md §14): kick-off, status and files (lib/fhir/bulk).
      ctx.audit.resourceType = null;
      ctx.audit.resourceId = null;
      return handleBulk(
        { req: ctx.req, url: ctx.url, db: ctx.db, sandboxId: ctx.sandboxId, base: ctx.base, policy, claims: ctx.audit.claims!, audit: ctx.audit },
        r.bulk,
      );
    case 'batch':
      ctx.audit.interaction = 'batch';
      return batch(ctx);
    case 'audit-search':
    case 'audit-read':
      return auditEvents(ctx, policy, r.kind === 'audit-read' ? r.id : undefined, r.kind === 'audit-read' ? r.rest : undefined);
    case 'search':
      return search(ctx, policy, r.type, r.form ? await searchFormParams(ctx) : [...ctx.url.searchParams]);
    case 'create':
      return create(ctx, policy, r.type);
    case 'conditional-update':
      return conditionalUpdate(ctx, policy, r.type);
    case 'conditional-delete':
      return conditionalDelete(ctx, policy, r.type);
    case 'history':
      return history(ctx, policy, r.type, r.id);
    case 'vread':
      return vread(ctx, policy, r.type, r.id, r.version);
    case 'expand':
      return expand(ctx, r.id);
    case 'docref':
      return docref(ctx, policy);
    case 'everything':
      return everything(ctx, policy, r.id);
    case 'read':
      return read(ctx, policy, r.type, r.id);
    case 'update':
      return update(ctx, policy, r.type, r.id);
    case 'delete':
      return remove(ctx, policy, r.type, r.id);
    case 'patch':
      return patch(ctx, policy, r.type, r.id);
  }
}

/** The audit trail as AuditEvents, read-only, for backend-services tokens (see audit-events.ts). */
async function auditEvents(ctx: Ctx, policy: AccessPolicy, id: string | undefined, rest: string | undefined): Promise<Response> {
  if (ctx.method !== 'GET') throw new FhirError('not-supported', 'AuditEvent is read-only');
  if (id === undefined) {
    ctx.audit.interaction = 'search';
    assertAuditReader(policy, 'search');
    const { body, count } = await searchAuditEvents(ctx.db, ctx.sandboxId, ctx.url);
    ctx.audit.resultCount = count;
    return fhirResponse(body, 200, ctx.format);
  }
  ctx.audit.interaction = 'read';
  assertAuditReader(policy, 'read');
  if (rest !== undefined) throw new FhirError('not-supported', 'AuditEvent has no history');
  if (!isFhirId(id)) throw new FhirError('invalid', 'Invalid AuditEvent id');
  ctx.audit.resourceId = id;
  ctx.audit.resultCount = 1;
  return fhirResponse(await readAuditEvent(ctx.db, ctx.sandboxId, id), 200, ctx.format);
}

async function searchFormParams(ctx: Ctx): Promise<[string, string][]> {
  const type = ctx.req.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase() ?? '';
  const text = await readBodyText(ctx.req);
  if (text.trim() !== '' && type !== SEARCH_FORM)
    throw new FhirError('unsupported-media-type', `POST _search takes ${SEARCH_FORM}, not '${type.slice(0, 60) || '(none)'}'`);
  // FHIR R4 http.html §3.1.0.9: parameters from the URL and the body are combined.
  return [...ctx.url.searchParams, ...new URLSearchParams(text)];
}

function resourceHeaders(ctx: Ctx, resource: Resource | { type: string; id: string }, versionId: number, lastUpdated: Date): Record<string, string> {
  const [type, id] = 'resourceType' in resource ? [resource.resourceType, resource.id ?? ''] : [resource.type, resource.id];
  return {
    etag: etagOf(versionId),
    'last-modified': httpDate(lastUpdated),
    'content-location': `${ctx.base}/${type}/${id}/_history/${versionId}`,
  };
}

/** A 404 for something the policy hid or that does not exist — the same answer either way. */
async function notFound(ctx: Ctx, type: string, id: string): Promise<never> {
  if (await existsForAudit(ctx.db, ctx.sandboxId, type, id)) {
    ctx.audit.flags.push('suspected-bola');
    ctx.audit.detail = `${type}/${id} exists but is outside the token's access (compartment or granular scope)`;
  }
  throw new FhirError('not-found', `${type}/${id} is not known`);
}

async function read(ctx: Ctx, policy: AccessPolicy, type: string, id: string): Promise<Response> {
  ctx.audit.interaction = 'read';
  const d = decide(ctx, policy, 'read', type);
  const row = await readVisible(ctx.db, ctx.sandboxId, type, id, scopeOf(d));
  if (!row) return notFound(ctx, type, id);
  await assertNotInDeletedRecord(ctx, type, id);
  if (row.deleted) throw new FhirError('gone', `${type}/${id} has been deleted`);
  ctx.audit.resultCount = 1;
  return fhirResponse(new StoredJson(row.content), 200, ctx.format, resourceHeaders(ctx, row, row.versionId, row.lastUpdated));
}

async function vread(ctx: Ctx, policy: AccessPolicy, type: string, id: string, versionText: string): Promise<Response> {
  ctx.audit.interaction = 'vread';
  const d = decide(ctx, policy, 'vread', type);
  if (!/^\d{1,9}$/.test(versionText)) throw new FhirError('not-found', `${type}/${id}/_history/${versionText.slice(0, 20)} is not known`);
  const row = await readVisible(ctx.db, ctx.sandboxId, type, id, scopeOf(d));
  if (!row) return notFound(ctx, type, id);
  const stored = await ctx.store.vread(ctx.sandboxId, type, id, Number(versionText));
  ctx.audit.resultCount = 1;
  return fhirResponse(stored.resource, 200, ctx.format, resourceHeaders(ctx, stored.resource, stored.versionId, stored.lastUpdated));
}

function selfUrl(ctx: Ctx, path: string, params: [string, string][]): string {
  const q = new URLSearchParams(params).toString();
  return `${ctx.base}/${path}${q ? `?${q}` : ''}`;
}

/** A patient/ token's search naming another patient: 403, the audit record flagged as a cross-compartment attempt (lib/fhir/request-access.ts). */
function assertNoOtherPatientNamed(ctx: Ctx, req: SearchRequest, d: AllowedDecision): void {
  const others = otherPatientsNamed(req, d);
  if (!others.length) return;
  ctx.audit.flags.push('suspected-bola');
  throw otherPatientError(req, d.compartmentPatientId!, others);
}

/** A search parsed with its chains and `_has` bound to the policy (lib/fhir/request-access.ts); their scopes noted for the audit record. */
function parseAuthorizedSearch(ctx: Ctx, policy: AccessPolicy, type: string, params: [string, string][], strict: boolean): SearchRequest {
  return parseAuthorizedSearchOf(policy, type, params, { strict, base: ctx.base }, (d) => {
    ctx.audit.scopes = [...new Set([...(ctx.audit.scopes?.split(' ') ?? []), ...d.grantedBy])].join(' ');
  });
}

/**
 * A batch Bundle (lib/fhir/batch.ts): each entry is answered by this handler as the request it
 * stands for, with the caller's token, in order; the answer is a batch-response Bundle.
 */
async function batch(ctx: Ctx): Promise<Response> {
  assertJsonBody(ctx.req.headers.get('content-type'));
  let body: unknown;
  try {
    body = JSON.parse(await readBodyText(ctx.req));
  } catch {
    throw new FhirError('invalid', 'The body is not JSON');
  }
  const b = parseBatch(body);
  if (b.type === 'transaction') return transaction(ctx, b);
  const entries: BundleEntry[] = [];
  for (const entry of b.entry ?? []) entries.push(await responseEntry(await ctx.dispatch(entryRequest(entry, ctx.req))));
  ctx.audit.resultCount = entries.length;
  return fhirResponse({ resourceType: 'Bundle', type: 'batch-response', entry: entries } satisfies Bundle, 200, ctx.format);
}

/**
 * A transaction Bundle (lib/fhir/transaction.ts): every entry through this handler on one database
 * transaction, with the caller's token. Each entry counts against the rate limits as its single
 * call would (before the transaction opens) and leaves its audit record once the transaction has
 * ended, marked when it was rolled back.
 */
async function transaction(ctx: Ctx, b: Bundle): Promise<Response> {
  ctx.audit.interaction = 'transaction';
  const claims = ctx.audit.claims;
  if (!claims) throw new FhirAuthError('This request needs an access token (Authorization: Bearer …)', null);
  assertTransactionEntries(b);
  const entries = b.entry ?? [];
  if (ctx.rateLimited) await Promise.all(entries.map(() => assertFhirRateLimit(claims, ctx.db)));
  const records: AuditEntry[] = [];
  const sink = async (entry: AuditEntry) => {
    records.push(entry);
  };
  try {
    const result = await onTransaction(ctx.db, (tx) => processTransaction(ctx.req, b, ctx.onTransaction(tx, claims, sink)));
    ctx.audit.resultCount = entries.length;
    return fhirResponse(result, 200, ctx.format);
  } catch (err) {
    for (const r of records) if (r.status < 400) r.detail = `${r.detail ?? ''} (rolled back with its transaction)`.trim();
    if (!(err instanceof TransactionFailure)) throw err;
    ctx.audit.errorCode = err.outcome.issue?.[0]?.code ?? 'processing';
    ctx.audit.detail = `failed at Bundle.entry[${err.index}] with ${err.status}; rolled back`;
    ctx.audit.resultCount = 0;
    return fhirResponse(failureOutcome(err, b), err.status, ctx.format);
  } finally {
    await Promise.all(records.map((r) => ctx.recordAudit(r)));
  }
}

/** The inputs of an operation: the query, plus a POSTed form or Parameters resource. */
async function operationInputs(ctx: Ctx, ofParameters: (body: unknown) => [string, string][]): Promise<[string, string][]> {
  if (ctx.method !== 'POST') return [...ctx.url.searchParams];
  const type = ctx.req.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === SEARCH_FORM) return searchFormParams(ctx);
  assertJsonBody(ctx.req.headers.get('content-type'));
  let body: unknown;
  try {
    body = JSON.parse(await readBodyText(ctx.req));
  } catch {
    throw new FhirError('invalid', 'The body is not JSON');
  }
  return [...ctx.url.searchParams, ...ofParameters(body)];
}

/**
 * `ValueSet/$expand` and `ValueSet/[id]/$expand` over the value sets this server ships
 * (lib/fhir/terminology.ts). They are published terminology, not sandbox data: any valid token may
 * expand them, whatever its resource scopes.
 */
async function expand(ctx: Ctx, id: string | null): Promise<Response> {
  ctx.audit.interaction = 'operation:expand';
  const vs = expandValueSet(parseExpand(id, await operationInputs(ctx, expandInputsOfParameters)));
  ctx.audit.resultCount = vs.expansion?.contains?.length ?? 0;
  return fhirResponse(vs, 200, ctx.format);
}

/**
 * US Core `DocumentReference/$docref` (GET, or POST with Parameters or a form): the operation's
 * inputs become a DocumentReference search (lib/fhir/docref.ts) answered exactly like one, policy
 * included; its links page through the operation. Unless `type` names another document type, the
 * first page also holds the patient's summary (CCD) generated on demand (generatedSummary); with
 * `on-demand=true` it is the only document answered (US Core 6.1 OperationDefinition-docref).
 */
async function docref(ctx: Ctx, policy: AccessPolicy): Promise<Response> {
  const op = parseDocref(docrefInputsOfQuery(await operationInputs(ctx, docrefInputsOfParameters)));
  const summaryAsked = !op.types.length || op.types.includes(`${SUMMARY_TYPE.system}|${SUMMARY_TYPE.code}`);
  const extra = async (): Promise<BundleEntry[]> => {
    const generated = summaryAsked ? await generatedSummary(ctx, policy, op) : null;
    return generated ? [{ fullUrl: generated.identifier?.[0]?.value, resource: generated, search: { mode: 'match' } }] : [];
  };
  const view = { path: 'DocumentReference/$docref', echo: op.echo, extra };
  if (op.onDemand) {
    // Only documents generated on demand: the same checks as the search, then the summary or nothing.
    ctx.audit.interaction = 'operation:docref';
    const d = decide(ctx, policy, 'search', 'DocumentReference');
    assertNoOtherPatientNamed(ctx, parseAuthorizedSearch(ctx, policy, 'DocumentReference', docrefSearch(op), false), d);
    const entries = await extra();
    ctx.audit.resultCount = entries.length;
    if (!entries.length) {
      const why = summaryAsked
        ? 'No document can be generated for this patient with this access token (the patient is not readable with it)'
        : `Only the summary document (${SUMMARY_TYPE.system}|${SUMMARY_TYPE.code}) is generated on demand`;
      entries.push(outcomeEntry(operationOutcome('information', 'informational', why)));
    }
    const total = entries.filter((e) => e.search?.mode === 'match').length;
    return fhirResponse(bundle('searchset', entries, { total, links: [{ relation: 'self', url: selfUrl(ctx, view.path, view.echo) }] }), 200, ctx.format);
  }
  const response = await search(ctx, policy, 'DocumentReference', docrefSearch(op), view);
  ctx.audit.interaction = 'operation:docref';
  return response;
}

/**
 * The patient's summary document, generated from what the token may read (lib/fhir/summary-document.ts):
 * the patient under its read policy, each section under the search policy of its type, exactly as
 * `GET [type]?patient=…` would answer it (compartment and granular filters in the query). Null when
 * the token cannot read the patient. It is not stored: a document generated on demand describes the
 * record at the moment it is asked for, and storing it would make a read write into the patient's
 * record (and need a create permission the caller may not have); it is generated again on each call.
 */
async function generatedSummary(ctx: Ctx, policy: AccessPolicy, op: DocrefRequest): Promise<DocumentReference | null> {
  const pd = policy.decide('read', 'Patient');
  if (!pd.allowed || ctx.deletedPatientId === op.patient) return null;
  const row = await readVisible(ctx.db, ctx.sandboxId, 'Patient', op.patient, scopeOf(pd));
  if (!row || row.deleted) return null;
  const patient = resourceOf(row) as Patient;
  const sections: SectionContent[] = [];
  for (const section of SUMMARY_SECTIONS) {
    const d = policy.decide('search', section.type);
    if (!d.allowed) {
      sections.push({ section, resources: null });
      continue;
    }
    const params: [string, string][] = [['patient', op.patient], ...section.criteria, ['_sort', `-${section.date}`], ['_count', String(SECTION_ENTRIES)]];
    if (op.start !== null) params.push([section.date, `ge${op.start}`]);
    if (op.end !== null) params.push([section.date, `le${op.end}`]);
    const req = parseSearch(section.type, params, { strict: true, base: ctx.base });
    const page = await searchPage(ctx.db, ctx.sandboxId, req, withoutDeletedRecord(ctx, req, scopeOf(d)));
    sections.push({ section, resources: page.rows.map(resourceOf) });
  }
  const document = summaryDocument(ctx.base, patient, sections, new Date(), await documentReferences(ctx, policy, patient, sections));
  return summaryDocumentReference(document, patient, { start: op.start, end: op.end });
}

/** `{Type}/{id}` of any resource type (lib/fhir-id.ts). */
const ANY_REFERENCE = referencePattern();

/** Most ids of one type read in one statement for a generated document's references. */
const REFERENCE_CHUNK = 200;

/**
 * What the patient and the sections' entries refer to (their organization and practitioners, the
 * entries' encounters, performers, locations, medications), so that the document carries what it
 * references (FHIR R4 documents.html §3.3.1: the bundle holds the Composition and the resources it
 * refers to, directly or indirectly). Each type is read under the token's read policy, exactly as
 * `GET [type]/[id]` would be: what the token may not read stays out, its reference unresolved. One
 * level only: what these resources refer to in turn is not followed.
 */
async function documentReferences(ctx: Ctx, policy: AccessPolicy, patient: Patient, sections: SectionContent[]): Promise<Resource[]> {
  const carried = [patient, ...sections.flatMap((s) => s.resources ?? [])];
  const present = new Set(carried.map((r) => `${r.resourceType}/${r.id ?? ''}`));
  const wanted = new Map<string, Set<string>>();
  for (const ref of literalReferences(carried)) {
    const m = ANY_REFERENCE.exec(ref);
    if (!m || present.has(ref) || !getTypeDefinition(m[1]!)) continue;
    let ids = wanted.get(m[1]!);
    if (!ids) wanted.set(m[1]!, (ids = new Set()));
    ids.add(m[2]!);
  }
  const out: Resource[] = [];
  for (const [type, idSet] of [...wanted].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const d = policy.decide('read', type);
    if (!d.allowed) continue;
    const ids = [...idSet].sort();
    for (let i = 0; i < ids.length; i += REFERENCE_CHUNK) {
      const chunk = ids.slice(i, i + REFERENCE_CHUNK);
      out.push(...(await readManyVisible(ctx.db, ctx.sandboxId, type, chunk, scopeOf(d), chunk.length)).map(resourceOf));
    }
  }
  return out;
}

/** Every literal `reference` (relative `Type/id`) held anywhere in the resources. */
function literalReferences(resources: readonly Resource[]): Set<string> {
  const found = new Set<string>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const v of value) walk(v);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      if (key === 'reference' && typeof v === 'string') found.add(v);
      else if (key !== 'text' && key !== 'contained') walk(v);
    }
  };
  for (const r of resources) walk(r);
  return found;
}

async function search(
  ctx: Ctx,
  policy: AccessPolicy,
  type: string,
  params: [string, string][],
  view?: { path: string; echo: [string, string][]; extra?: () => Promise<BundleEntry[]> },
): Promise<Response> {
  ctx.audit.interaction = 'search';
  const d = decide(ctx, policy, 'search', type);
  const strict = prefer(ctx.req, 'handling') === 'strict';
  const req = parseAuthorizedSearch(ctx, policy, type, params, strict);
  assertNoOtherPatientNamed(ctx, req, d);
  const access = withoutDeletedRecord(ctx, req, scopeOf(d));
  const issues: OperationOutcomeIssue[] = req.ignored.map((i) => ({
    severity: 'warning',
    code: 'not-supported',
    diagnostics: `Parameter '${i.name}' ignored: ${i.reason}`,
  }));
  if (req.countAsked !== null) {
    issues.push({
      severity: 'information',
      code: 'informational',
      diagnostics: `_count=${req.countAsked} is above the maximum page size: pages hold at most ${MAX_COUNT} entries; follow the next link for the rest`,
    });
  }
  const path = view?.path ?? type;
  const echo = view?.echo ?? req.echo;
  const selfParams = [...echo];
  if (req.cursor) selfParams.push(['_cursor', encodeCursor(req.cursor)]);

  // Entries an operation adds to its first page (the summary $docref generates), counted in its total.
  const extra = view?.extra && !req.cursor ? await view.extra() : [];
  if (req.summary === 'count' || req.count === 0) {
    const total = (await searchCount(ctx.db, ctx.sandboxId, req, access)) + extra.length;
    ctx.audit.resultCount = 0;
    const entries = issues.length ? [outcomeEntry({ resourceType: 'OperationOutcome', issue: issues })] : [];
    return fhirResponse(bundle('searchset', entries, { total, links: [{ relation: 'self', url: selfUrl(ctx, path, selfParams) }] }), 200, ctx.format);
  }

  // The total a confined search gives unasked is counted once, on its first page, and carried in
  // the next links' cursor to the later pages of the same query (FHIR R4 bundle.html: total is
  // the number of matches when the search was run). Where it is counted, the page's statement counts it.
  const asked = req.total === 'accurate' || req.total === 'estimate';
  const unasked = !asked && req.total !== 'none' && countIsCheap(req, access);
  const h = unasked ? searchFingerprint(ctx.sandboxId, req, access) : null;
  const inCursor = req.cursor?.t !== undefined && req.cursor.h === h ? req.cursor.t : undefined;
  const page = await searchPage(ctx.db, ctx.sandboxId, req, access, asked || (unasked && inCursor === undefined));
  const count = async () => page.total ?? (await searchCount(ctx.db, ctx.sandboxId, req, access));
  let total: number | undefined;
  let carried: { t: number; h: string } | null = null;
  if (asked) total = await count();
  else if (!req.cursor && !page.next) total = page.rows.length;
  else if (unasked && h !== null) {
    total = inCursor ?? (await count());
    carried = { t: total, h };
  }

  const matches = page.rows;
  const included = await includes(ctx, policy, req, page.rows, issues);
  const elements = req.elements;
  const match = (row: ResourceRow): BundleEntry =>
    elements
      ? searchEntry(ctx.base, selectElements(resourceOf(row), elements), 'match')
      : req.summary === 'data'
        ? searchEntry(ctx.base, withoutText(resourceOf(row)), 'match')
        : storedEntry(ctx.base, row, 'match');
  if (total !== undefined && extra.length) {
    // Later pages take the total from the cursor, which then counts the first page's extra entries.
    total += extra.length;
    if (carried) carried.t = total;
  }
  const entries: BundleEntry[] = [...extra, ...matches.map(match), ...included.map((row) => storedEntry(ctx.base, row, 'include'))];
  if (issues.length) entries.push(outcomeEntry({ resourceType: 'OperationOutcome', issue: issues }));
  const links = [{ relation: 'self', url: selfUrl(ctx, path, selfParams) }];
  if (page.next) links.push({ relation: 'next', url: selfUrl(ctx, path, [...echo, ['_cursor', encodeCursor({ ...page.next, ...carried })]]) });
  // A total the client did not ask for is not what it received: the audit counts the entries then.
  ctx.audit.resultCount = req.total === 'accurate' || req.total === 'estimate' ? (total ?? 0) : extra.length + matches.length + included.length;
  const result: Bundle = bundle('searchset', entries, { total, links });
  return fhirResponse(result, 200, ctx.format);
}

/**
 * _include and _revinclude, each through the policy of the included type: an included resource
 * is read with the same compartment and granular restrictions as a direct read would be.
 * Types the token has no scope for are left out and reported in the outcome entry.
 */
async function includes(ctx: Ctx, policy: AccessPolicy, req: SearchRequest, rows: ResourceRow[], issues: OperationOutcomeIssue[]): Promise<ResourceRow[]> {
  if (!rows.length || (!req.include.length && !req.revinclude.length)) return [];
  const seen = new Set(rows.map((r) => `${r.type}/${r.id}`));
  const out: ResourceRow[] = [];
  const add = (found: ResourceRow[]) => {
    for (const row of found) {
      const key = `${row.type}/${row.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(row);
    }
  };
  const ids = rows.map((r) => r.id);
  for (const spec of req.include) {
    const refs = await referencesFrom(ctx.db, ctx.sandboxId, req.resourceType, ids, spec.param);
    const byType = new Map<string, string[]>();
    const canonicals = refs.filter((r) => r.targetType === CANONICAL_TARGET).map((r) => r.targetId);
    if (canonicals.length) {
      // A canonical is indexed with and without its version: the versioned form names the target.
      const versioned = new Set(canonicals.filter((c) => c.includes('|')).map((c) => c.slice(0, c.indexOf('|'))));
      const named = canonicals.filter((c) => c.includes('|') || !versioned.has(c));
      for (const targetType of spec.targetTypes) {
        const found = await idsNamedByCanonicals(ctx.db, ctx.sandboxId, targetType, named, INCLUDE_LIMIT);
        if (found.length) byType.set(targetType, found);
      }
    }
    for (const ref of refs) {
      if (!spec.targetTypes.includes(ref.targetType)) continue;
      const list = byType.get(ref.targetType);
      if (list) list.push(ref.targetId);
      else byType.set(ref.targetType, [ref.targetId]);
    }
    for (const [targetType, targetIds] of byType) {
      const d = policy.decide('read', targetType);
      if (!d.allowed) {
        issues.push({
          severity: 'information',
          code: 'suppressed',
          diagnostics: `_include=${spec.text}: ${targetType} resources left out (${d.reason}; ${d.wouldAllow} would allow them)`,
        });
        continue;
      }
      add(await readManyVisible(ctx.db, ctx.sandboxId, targetType, [...new Set(targetIds)].slice(0, INCLUDE_LIMIT), scopeOf(d), INCLUDE_LIMIT));
    }
  }
  for (const spec of req.revinclude) {
    const d = policy.decide('search', spec.sourceType);
    if (!d.allowed) {
      issues.push({
        severity: 'information',
        code: 'suppressed',
        diagnostics: `_revinclude=${spec.text}: ${spec.sourceType} resources left out (${d.reason}; ${d.wouldAllow} would allow them)`,
      });
      continue;
    }
    add(
      await referringVisible(
        ctx.db,
        ctx.sandboxId,
        spec,
        rows.map((r) => ({ type: r.type, id: r.id })),
        scopeOf(d),
        INCLUDE_LIMIT,
      ),
    );
  }
  return out;
}

async function everything(ctx: Ctx, policy: AccessPolicy, id: string): Promise<Response> {
  ctx.audit.interaction = 'operation:everything';
  const d = decide(ctx, policy, 'read', 'Patient');
  const patient = await readVisible(ctx.db, ctx.sandboxId, 'Patient', id, scopeOf(d));
  if (!patient) return notFound(ctx, 'Patient', id);
  await assertNotInDeletedRecord(ctx, 'Patient', id);
  if (patient.deleted) throw new FhirError('gone', `Patient/${id} has been deleted`);
  const params = ctx.method === 'POST' ? await searchFormParams(ctx) : [...ctx.url.searchParams];
  let count = MAX_COUNT;
  let cursor: { type: string; id: string } | null = null;
  let only: Set<string> | null = null;
  const echo: [string, string][] = [];
  for (const [k, v] of params) {
    if (k === '_count') {
      if (!/^\d{1,9}$/.test(v) || Number(v) < 1) throw new FhirError('invalid', '_count must be a positive integer');
      count = Math.min(Number(v), MAX_COUNT);
      echo.push([k, v]);
    } else if (k === '_cursor') {
      cursor = decodePagingCursor('everything', v);
    } else if (k === '_type') {
      only = new Set(v.split(',').map((s) => s.trim()));
      echo.push([k, v]);
    } else if (k !== '_format' && k !== '_pretty' && prefer(ctx.req, 'handling') === 'strict') {
      throw new FhirError('invalid', `Parameter '${k.slice(0, 60)}' is not supported on $everything`);
    }
  }
  const types: { type: string; access: AccessScope }[] = [];
  const left: string[] = [];
  for (const type of patientCompartmentTypes()) {
    if (only && !only.has(type)) continue;
    const td = policy.decide(type === 'Patient' ? 'read' : 'search', type);
    if (td.allowed) types.push({ type, access: scopeOf(td) });
    else if (type !== 'Patient' && policy.scopes.length) left.push(type);
  }
  const page = await everythingPage(ctx.db, ctx.sandboxId, id, types, count, cursor);
  const matches = page.rows;
  // Shared resources the patient's data refers to (medications, practitioners, organizations, locations).
  const included: ResourceRow[] = [];
  const refs = new Map<string, Set<string>>();
  const pageIdsByType = new Map<string, string[]>();
  for (const row of page.rows) {
    const list = pageIdsByType.get(row.type);
    if (list) list.push(row.id);
    else pageIdsByType.set(row.type, [row.id]);
  }
  for (const [type, ids] of pageIdsByType) {
    const found = await ctx.db.searchReference.findMany({
      where: { sandboxId: ctx.sandboxId, type, resourceId: { in: ids }, targetType: { in: SHARED_RESOURCE_TYPES as string[] } },
      select: { targetType: true, targetId: true },
      distinct: ['targetType', 'targetId'],
    });
    for (const f of found) refs.set(f.targetType, (refs.get(f.targetType) ?? new Set()).add(f.targetId));
  }
  for (const [type, ids] of refs) {
    if (!SHARED.has(type)) continue;
    const td = policy.decide('read', type);
    if (!td.allowed) continue;
    for (const row of await readManyVisible(ctx.db, ctx.sandboxId, type, [...ids].slice(0, INCLUDE_LIMIT), scopeOf(td), INCLUDE_LIMIT)) included.push(row);
  }
  const entries: BundleEntry[] = [
    ...matches.map((row) => storedEntry(ctx.base, row, 'match')),
    ...included.map((row) => storedEntry(ctx.base, row, 'include')),
  ];
  const links = [
    { relation: 'self', url: selfUrl(ctx, `Patient/${id}/$everything`, cursor ? [...echo, ['_cursor', encodePagingCursor('everything', cursor)]] : echo) },
  ];
  if (page.next)
    links.push({ relation: 'next', url: selfUrl(ctx, `Patient/${id}/$everything`, [...echo, ['_cursor', encodePagingCursor('everything', page.next)]]) });
  if (left.length && !cursor)
    entries.push(outcomeEntry(operationOutcome('information', 'suppressed', `Types without a granted scope are not included: ${left.join(', ')}`)));
  ctx.audit.resultCount = matches.length + included.length;
  const total = !cursor && !page.next ? matches.length : undefined;
  return fhirResponse(bundle('searchset', entries, { total, links }), 200, ctx.format);
}

async function history(ctx: Ctx, policy: AccessPolicy, type: string, id: string | null): Promise<Response> {
  ctx.audit.interaction = id === null ? 'history-type' : 'history-instance';
  const d = decide(ctx, policy, 'history', type, id === null ? 'type' : 'instance');
  const access = scopeOf(d);
  if (id !== null && !(await readVisible(ctx.db, ctx.sandboxId, type, id, access))) return notFound(ctx, type, id);
  let count = 100;
  let since: Date | null = null;
  let cursor: { at: number; id: string; v: number } | null = null;
  const echo: [string, string][] = [];
  for (const [k, v] of ctx.url.searchParams) {
    if (k === '_count') {
      if (!/^\d{1,9}$/.test(v) || Number(v) < 1) throw new FhirError('invalid', '_count must be a positive integer');
      count = Math.min(Number(v), MAX_COUNT);
      echo.push([k, v]);
    } else if (k === '_since') {
      since = new Date(parseDateValue('_since', v).start);
      echo.push([k, v]);
    } else if (k === '_cursor') {
      cursor = decodePagingCursor('history', v);
    } else if (k !== '_format' && k !== '_pretty' && prefer(ctx.req, 'handling') === 'strict') {
      throw new FhirError('invalid', `Parameter '${k.slice(0, 60)}' is not supported on _history`);
    }
  }
  const page = await historyPage(ctx.db, ctx.sandboxId, type, id, access, { count, since, cursor });
  const entries: BundleEntry[] = page.rows.map((row) => {
    const url = `${type}/${row.id}`;
    const entry: BundleEntry = {
      fullUrl: `${ctx.base}/${url}`,
      request: { method: row.method === 'DELETE' ? 'DELETE' : row.method === 'POST' ? 'POST' : 'PUT', url: row.method === 'POST' ? type : url },
      response: {
        status: row.deleted ? '204' : row.method === 'POST' ? '201' : '200',
        etag: etagOf(row.versionId),
        lastModified: row.lastUpdated.toISOString(),
      },
    };
    if (!row.deleted) entry.resource = new StoredJson(row.content) as unknown as Resource;
    return entry;
  });
  const path = id === null ? `${type}/_history` : `${type}/${id}/_history`;
  const links = [{ relation: 'self', url: selfUrl(ctx, path, echo) }];
  if (page.next) links.push({ relation: 'next', url: selfUrl(ctx, path, [...echo, ['_cursor', encodePagingCursor('history', page.next)]]) });
  ctx.audit.resultCount = entries.length;
  return fhirResponse(bundle('history', entries, { total: !cursor && !page.next ? entries.length : undefined, links }), 200, ctx.format);
}

/** The representation Prefer: return= asks for after a write (FHIR R4 http.html §3.1.0.8.1). */
function writeResponse(ctx: Ctx, resource: Resource, versionId: number, lastUpdated: Date, status: number, location: boolean): Response {
  const headers = resourceHeaders(ctx, resource, versionId, lastUpdated);
  if (location) headers.location = `${ctx.base}/${resource.resourceType}/${resource.id ?? ''}/_history/${versionId}`;
  const ret = prefer(ctx.req, 'return');
  if (ret === 'minimal') return new Response(null, { status, headers });
  if (ret === 'operationoutcome')
    return fhirResponse(informationOutcome(`${resource.resourceType}/${resource.id ?? ''} version ${versionId} saved`), status, ctx.format, headers);
  return fhirResponse(resource, status, ctx.format, headers);
}

async function readBody(ctx: Ctx, type: string): Promise<Resource> {
  assertJsonBody(ctx.req.headers.get('content-type'));
  return parseResourceBody(await readBodyText(ctx.req), type);
}

async function create(ctx: Ctx, policy: AccessPolicy, type: string): Promise<Response> {
  ctx.audit.interaction = 'create';
  const d = decide(ctx, policy, 'create', type);
  const body = await readBody(ctx, type);
  const resource = { ...body } as Resource;
  delete (resource as { id?: string }).id; // FHIR R4 http.html §3.1.0.8: the server assigns the id.
  assertWriteAllowed(resource, d, 'new');
  const ifNoneExist = ctx.req.headers.get('if-none-exist');
  if (ifNoneExist !== null && ifNoneExist.trim() !== '') {
    // Conditional create (FHIR R4 http.html §3.1.0.8.1): the existing resource answered is one a
    // search would have shown the token.
    const query = ifNoneExist.includes('?') ? ifNoneExist.slice(ifNoneExist.indexOf('?') + 1) : ifNoneExist;
    const existing = await conditionalMatch(ctx, policy, type, [...new URLSearchParams(query)], 'If-None-Exist');
    if (existing) {
      ctx.audit.resourceId = existing.id;
      ctx.audit.detail = 'conditional create matched an existing resource';
      ctx.audit.resultCount = 1;
      return writeResponse(ctx, resourceOf(existing), existing.versionId, existing.lastUpdated, 200, true);
    }
  }
  const stored = await ctx.store.create(ctx.sandboxId, resource, assignedIdOf(ctx.req));
  ctx.audit.resourceId = stored.resource.id ?? null;
  ctx.audit.resultCount = 1;
  return writeResponse(ctx, stored.resource, stored.versionId, stored.lastUpdated, 201, true);
}

/**
 * The search a conditional interaction stands for (FHIR R4 http.html §3.1.0.4.3 update, §3.1.0.7.1
 * delete, §3.1.0.8.1 create: each is defined by a search on its criteria). It needs the token's
 * search permission on the type (403 otherwise, as `GET [type]?criteria` would answer) and runs
 * exactly as that search would: the same compartment and granular policy in the query, the same
 * 403 for a patient token naming another patient. A resource the token could not find by
 * searching never matches, so the answer (created, updated, deleted, 412) never tells whether one
 * exists. Several matches answer 412; the one match (or null) is returned.
 */
async function conditionalMatch(ctx: Ctx, policy: AccessPolicy, type: string, params: [string, string][], what: string): Promise<ResourceRow | null> {
  const s = decideOrThrow(policy, 'search', type);
  ctx.audit.scopes = [...new Set([...(ctx.audit.scopes?.split(' ') ?? []), ...s.grantedBy])].join(' ');
  const req = parseAuthorizedSearch(ctx, policy, type, params, true);
  if (!req.filters.length) throw new FhirError('invalid', `${what} has no search criteria`);
  assertNoOtherPatientNamed(ctx, req, s);
  const access = withoutDeletedRecord(ctx, req, scopeOf(s));
  const page = await searchPage(ctx.db, ctx.sandboxId, { ...req, count: 2, cursor: null, sort: { code: '_id', descending: false, kind: 'id' } }, access);
  if (page.rows.length > 1) throw new FhirError('version-conflict', `${what}: the criteria match more than one resource`);
  return page.rows[0] ?? null;
}

/**
 * Conditional update `PUT [type]?[criteria]` (FHIR R4 http.html §3.1.0.4.3): the criteria are
 * searched as the token's search would (conditionalMatch). One match is updated exactly as
 * `PUT [type]/[id]` would be (the body's id, if any, must be its id); none creates a new resource
 * (with the create permission); several answer 412.
 */
async function conditionalUpdate(ctx: Ctx, policy: AccessPolicy, type: string): Promise<Response> {
  ctx.audit.interaction = 'update';
  decide(ctx, policy, 'update', type);
  const params = [...ctx.url.searchParams].filter(([k]) => k !== '_format' && k !== '_pretty');
  const match = await conditionalMatch(ctx, policy, type, params, 'The conditional update');
  if (match) {
    ctx.audit.resourceId = match.id;
    return update(ctx, policy, type, match.id, true);
  }
  return create(ctx, policy, type);
}

/**
 * Conditional delete `DELETE [type]?[criteria]` (FHIR R4 http.html §3.1.0.7.1), single match only:
 * the criteria are searched as the token's search would (conditionalMatch); no match answers 204
 * (nothing to delete), one is deleted exactly as `DELETE [type]/[id]` would be, several answer 412.
 */
async function conditionalDelete(ctx: Ctx, policy: AccessPolicy, type: string): Promise<Response> {
  ctx.audit.interaction = 'delete';
  decide(ctx, policy, 'delete', type);
  const params = [...ctx.url.searchParams].filter(([k]) => k !== '_format' && k !== '_pretty');
  const match = await conditionalMatch(ctx, policy, type, params, 'The conditional delete');
  if (!match) {
    ctx.audit.resultCount = 0;
    ctx.audit.detail = 'conditional delete matched nothing';
    return new Response(null, { status: 204 });
  }
  ctx.audit.resourceId = match.id;
  return remove(ctx, policy, type, match.id);
}

async function update(ctx: Ctx, policy: AccessPolicy, type: string, id: string, conditional = false): Promise<Response> {
  ctx.audit.interaction = 'update';
  const d = decide(ctx, policy, 'update', type);
  const resource = await readBody(ctx, type);
  // A conditional update's body may leave the id out: it is the matched resource's.
  if (conditional && resource.id === undefined) resource.id = id;
  if (resource.id === undefined) throw new FhirError('invalid', 'The resource must carry its id on update', `${type}.id`);
  if (resource.id !== id) throw new FhirError('invalid', `Resource id '${resource.id}' does not match the URL id '${id}'`, `${type}.id`);
  const clientIfMatch = parseIfMatch(ctx.req.headers.get('if-match'));
  for (let attempt = 0; attempt < 3; attempt++) {
    const current = await readVisible(ctx.db, ctx.sandboxId, type, id, scopeOf(d));
    if (!current) {
      if (await existsForAudit(ctx.db, ctx.sandboxId, type, id)) return notFound(ctx, type, id);
      // Update as create (FHIR R4 http.html §3.1.0.4.2): needs the create permission as well.
      const c = decide(ctx, policy, 'create', type);
      assertWriteAllowed(resource, c, 'new');
      assertWriteAllowed(resource, d, 'new');
      if (clientIfMatch !== undefined)
        throw new FhirError('version-conflict', `If-Match version ${clientIfMatch} does not match: ${type}/${id} does not exist`);
      const stored = await ctx.store.update(ctx.sandboxId, type, id, resource);
      ctx.audit.resultCount = 1;
      return writeResponse(ctx, stored.resource, stored.versionId, stored.lastUpdated, stored.created ? 201 : 200, stored.created);
    }
    if (!current.deleted) assertWriteAllowed(resourceOf(current), d, 'current');
    assertWriteAllowed(resource, d, 'new');
    if (clientIfMatch !== undefined && clientIfMatch !== current.versionId)
      throw new FhirError('version-conflict', `If-Match version ${clientIfMatch} does not match the current version ${current.versionId}`);
    try {
      // The version checked above is the version replaced: a concurrent change cannot slip between.
      const stored = await ctx.store.update(ctx.sandboxId, type, id, resource, { ifMatch: current.versionId });
      ctx.audit.resultCount = 1;
      return writeResponse(ctx, stored.resource, stored.versionId, stored.lastUpdated, 200, false);
    } catch (err) {
      if (clientIfMatch === undefined && err instanceof FhirError && err.kind === 'version-conflict') continue;
      throw err;
    }
  }
  throw new FhirError('conflict', `${type}/${id} is being changed concurrently; try again`);
}

const JSON_PATCH = 'application/json-patch+json';
const patchOperations = z
  .array(
    z.object({
      op: z.enum(['add', 'remove', 'replace', 'move', 'copy', 'test']),
      path: z.string().max(500),
      from: z.string().max(500).optional(),
      value: z.unknown().optional(),
    }),
  )
  .min(1)
  .max(500);

/**
 * PATCH with a JSON Patch document (FHIR R4 http.html §3.1.0.6, RFC 6902): authorized exactly as
 * an update of the resource (the current and the patched resource must both be within the token's
 * reach), applied to the current version, stored only if that version is still current.
 */
async function patch(ctx: Ctx, policy: AccessPolicy, type: string, id: string): Promise<Response> {
  ctx.audit.interaction = 'patch';
  const d = decide(ctx, policy, 'update', type);
  const contentType = ctx.req.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase() ?? '';
  if (contentType !== JSON_PATCH) throw new FhirError('unsupported-media-type', `PATCH takes ${JSON_PATCH}, not '${contentType.slice(0, 60) || '(none)'}'`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readBodyText(ctx.req));
  } catch {
    throw new FhirError('invalid', 'The JSON Patch document is not JSON');
  }
  const ops = patchOperations.safeParse(parsed);
  if (!ops.success) throw new FhirError('invalid', 'The body is not a JSON Patch document (an array of 1 to 500 operations, each with op and path)');
  const clientIfMatch = parseIfMatch(ctx.req.headers.get('if-match'));
  for (let attempt = 0; attempt < 3; attempt++) {
    const current = await readVisible(ctx.db, ctx.sandboxId, type, id, scopeOf(d));
    if (!current) return notFound(ctx, type, id);
    if (current.deleted) throw new FhirError('gone', `${type}/${id} has been deleted`);
    const before = resourceOf(current);
    assertWriteAllowed(before, d, 'current');
    if (clientIfMatch !== undefined && clientIfMatch !== current.versionId)
      throw new FhirError('version-conflict', `If-Match version ${clientIfMatch} does not match the current version ${current.versionId}`);
    const patched = structuredClone(before) as Resource;
    const failed = applyPatch(patched, ops.data as JsonPatchOperation[]).findIndex((r) => r !== null);
    if (failed >= 0)
      throw new FhirError(
        'unprocessable',
        `JSON Patch operation ${failed} (${ops.data[failed]?.op} ${String(ops.data[failed]?.path).slice(0, 80)}) cannot be applied to ${type}/${id}`,
      );
    if (patched.resourceType !== type || patched.id !== id) throw new FhirError('unprocessable', 'A patch may not change the resource type or id');
    const resource = parseResourceBody(JSON.stringify(patched), type);
    assertWriteAllowed(resource, d, 'new');
    try {
      const stored = await ctx.store.update(ctx.sandboxId, type, id, resource, { ifMatch: current.versionId });
      ctx.audit.resultCount = 1;
      return writeResponse(ctx, stored.resource, stored.versionId, stored.lastUpdated, 200, false);
    } catch (err) {
      if (clientIfMatch === undefined && err instanceof FhirError && err.kind === 'version-conflict') continue;
      throw err;
    }
  }
  throw new FhirError('conflict', `${type}/${id} is being changed concurrently; try again`);
}

async function remove(ctx: Ctx, policy: AccessPolicy, type: string, id: string): Promise<Response> {
  ctx.audit.interaction = 'delete';
  const d = decide(ctx, policy, 'delete', type);
  const clientIfMatch = parseIfMatch(ctx.req.headers.get('if-match'));
  for (let attempt = 0; attempt < 3; attempt++) {
    const current = await readVisible(ctx.db, ctx.sandboxId, type, id, scopeOf(d));
    if (!current) return notFound(ctx, type, id);
    if (current.deleted) return new Response(null, { status: 204 });
    assertWriteAllowed(resourceOf(current), d, 'current');
    if (clientIfMatch !== undefined && clientIfMatch !== current.versionId)
      throw new FhirError('version-conflict', `If-Match version ${clientIfMatch} does not match the current version ${current.versionId}`);
    try {
      await ctx.store.delete(ctx.sandboxId, type, id, { ifMatch: current.versionId });
      ctx.audit.resultCount = 0;
      return new Response(null, { status: 204 });
    } catch (err) {
      if (clientIfMatch === undefined && err instanceof FhirError && err.kind === 'version-conflict') continue;
      throw err;
    }
  }
  throw new FhirError('conflict', `${type}/${id} is being changed concurrently; try again`);
}

/** The sandbox's FHIR API with the real token verification. */
export const handleFhirRequest = createFhirHandler();
