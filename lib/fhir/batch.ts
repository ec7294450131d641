/**
 * Batch Bundles (FHIR R4 http.html §3.1.0.11): each entry is turned into the HTTP request it
 * stands for and answered by the FHIR handler itself, with the caller's token, so every entry is
 * authorized exactly as the single call would be and leaves one audit record of its own. Entries
 * are independent: one failing does not stop the others.
 */
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { FhirError } from './errors';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);
export const MAX_BATCH_ENTRIES = 200;

/**
 * Checks the Bundle's shape: a batch or a transaction (lib/fhir/transaction.ts) with at most
 * MAX_BATCH_ENTRIES entries, each with a request.
 */
export function parseBatch(body: unknown): Bundle {
  const b = body as Bundle;
  if (!b || typeof b !== 'object' || b.resourceType !== 'Bundle') throw new FhirError('invalid', 'POST [base] takes a Bundle');
  if (b.type !== 'batch' && b.type !== 'transaction')
    throw new FhirError('invalid', `Bundle.type must be batch or transaction, not '${String(b.type).slice(0, 30)}'`, 'Bundle.type');
  const entries = b.entry ?? [];
  if (!Array.isArray(entries)) throw new FhirError('invalid', 'Bundle.entry must be an array', 'Bundle.entry');
  if (entries.length > MAX_BATCH_ENTRIES) throw new FhirError('invalid', `A ${b.type} holds at most ${MAX_BATCH_ENTRIES} entries`, 'Bundle.entry');
  entries.forEach((e, i) => {
    const method = e?.request?.method;
    if (!method || !METHODS.has(method) || typeof e.request?.url !== 'string' || !e.request.url)
      throw new FhirError('invalid', `Bundle.entry[${i}].request needs a method and a url`, `Bundle.entry[${i}].request`);
    // Relative to the base and naming a resource type: never the base itself (no batch inside a batch).
    if (!/^[A-Z][A-Za-z]+(\/|\?|$)/.test(e.request.url))
      throw new FhirError(
        'invalid',
        `Bundle.entry[${i}].request.url must be relative to the FHIR base and start with a resource type`,
        `Bundle.entry[${i}].request.url`,
      );
  });
  return b;
}

/**
 * The URL of a request relative to the FHIR base the outer request was sent to (its own URL, as the
 * server received it: the handler derives the public base from it exactly as for the outer request).
 */
export function entryUrl(outer: Request, relative: string): string {
  const url = new URL(outer.url);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}/${relative}`;
}

/** The request one entry stands for, carrying the caller's credentials and content negotiation. */
export function entryRequest(entry: BundleEntry, outer: Request): Request {
  const request = entry.request!;
  // The outer request's headers (token, host and forwarding headers, so the entry is seen at the
  // same public origin and from the same client), without those describing the outer body.
  const headers = new Headers(outer.headers);
  for (const name of [
    'content-type',
    'content-length',
    'transfer-encoding',
    'content-encoding',
    'if-match',
    'if-none-match',
    'if-none-exist',
    'if-modified-since',
  ])
    headers.delete(name);
  headers.set('accept', 'application/fhir+json');
  if (request.ifMatch) headers.set('if-match', request.ifMatch);
  if (request.ifNoneMatch) headers.set('if-none-match', request.ifNoneMatch);
  if (request.ifNoneExist) headers.set('if-none-exist', request.ifNoneExist);
  if (request.ifModifiedSince) headers.set('if-modified-since', request.ifModifiedSince);
  let body: string | undefined;
  if (entry.resource && (request.method === 'POST' || request.method === 'PUT' || request.method === 'PATCH')) {
    const binaryPatch = request.method === 'PATCH' && entry.resource.resourceType === 'Binary';
    // A JSON Patch travels in a Binary (FHIR R4 http.html §3.1.0.11.1: "PATCH ... in a Binary").
    if (binaryPatch) {
      const data = (entry.resource as { data?: string }).data ?? '';
      body = Buffer.from(data, 'base64').toString('utf8');
      headers.set('content-type', 'application/json-patch+json');
    } else {
      body = JSON.stringify(entry.resource);
      headers.set('content-type', 'application/fhir+json');
    }
  }
  return new Request(entryUrl(outer, request.url), { method: request.method, headers, body });
}

/** One batch-response entry from the answer to an entry's request. */
export async function responseEntry(res: Response): Promise<BundleEntry> {
  const text = await res.text();
  let resource: Resource | undefined;
  try {
    resource = text ? (JSON.parse(text) as Resource) : undefined;
  } catch {
    resource = undefined;
  }
  const response: NonNullable<BundleEntry['response']> = { status: `${res.status} ${res.statusText || ''}`.trim() };
  const location = res.headers.get('location') ?? res.headers.get('content-location');
  if (location) response.location = location;
  const etag = res.headers.get('etag');
  if (etag) response.etag = etag;
  const lastModified = res.headers.get('last-modified');
  if (lastModified) response.lastModified = new Date(lastModified).toISOString();
  if (resource?.resourceType === 'OperationOutcome' && res.status >= 400) return { response: { ...response, outcome: resource } };
  return resource ? { resource, response } : { response };
}
