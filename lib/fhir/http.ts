import { randomBytes } from 'node:crypto';
import { DATABASE_RETRY_AFTER_SECONDS, logDatabaseUnavailable } from '../db/errors';
import { FhirError } from './errors';
import { operationOutcome } from './outcomes';

/** How the client asked to see the response (FHIR R4 http.html §3.1.0.1.9 `_format`, `_pretty`). */
export interface ResponseFormat {
  contentType: 'application/fhir+json' | 'application/json';
  pretty: boolean;
}

const JSON_FORMATS: Record<string, ResponseFormat['contentType']> = {
  json: 'application/fhir+json',
  'application/json': 'application/json',
  'application/fhir+json': 'application/fhir+json',
  'application/json+fhir': 'application/fhir+json',
};

const XML_FORMATS = new Set(['xml', 'text/xml', 'application/xml', 'application/fhir+xml', 'application/xml+fhir', 'ttl', 'text/turtle']);

/**
 * Reads `_format`, `_pretty` and `Accept`. Only JSON is produced: `_format=xml` (or an Accept that
 * lists no JSON type and no wildcard) is answered 415 — FHIR R4 http.html §3.1.0.1.9 allows a
 * server to support one format, and the sandbox's apps all speak JSON.
 */
export function negotiateFormat(url: URL, accept: string | null): ResponseFormat {
  const pretty = url.searchParams.get('_pretty') === 'true';
  const fmt = url.searchParams.get('_format');
  if (fmt !== null) {
    const key = fmt.split(';')[0]!.trim().toLowerCase();
    // Own keys only: `_format=__proto__` or `constructor` must not find Object.prototype members.
    const type = Object.hasOwn(JSON_FORMATS, key) ? JSON_FORMATS[key] : undefined;
    if (type) return { contentType: type, pretty };
    if (XML_FORMATS.has(key))
      throw new FhirError('unsupported-media-type', `_format '${fmt.slice(0, 60)}' is not supported: this server speaks JSON (application/fhir+json)`);
    throw new FhirError('unsupported-media-type', `Unknown _format '${fmt.slice(0, 60)}': use json or application/fhir+json`);
  }
  if (accept) {
    const types = accept.split(',').map((t) => t.split(';')[0]!.trim().toLowerCase());
    if (types.includes('application/fhir+json') || types.includes('application/json+fhir')) return { contentType: 'application/fhir+json', pretty };
    if (types.includes('application/json')) return { contentType: 'application/json', pretty };
    const wildcard = types.some((t) => t === '*/*' || t === 'application/*' || t === '' || t.endsWith('+json'));
    if (!wildcard && types.some((t) => XML_FORMATS.has(t)))
      throw new FhirError('unsupported-media-type', 'This server produces JSON only (application/fhir+json)');
  }
  return { contentType: 'application/fhir+json', pretty };
}

/** Throws 415 unless a request body is declared as FHIR JSON (or plain JSON). */
export function assertJsonBody(contentType: string | null): void {
  const type = contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/fhir+json' || type === 'application/json' || type === 'application/json+fhir') return;
  throw new FhirError('unsupported-media-type', `Content-Type '${type.slice(0, 60) || '(none)'}' is not supported: send application/fhir+json`);
}

/** Largest request body accepted (FHIR resources in the sandbox are small; this bounds memory). */
export const MAX_BODY_BYTES = 5 * 1024 * 1024;

/** Reads a request body as text within MAX_BODY_BYTES, or throws a 4xx. */
export async function readBodyText(req: Request): Promise<string> {
  const declared = Number(req.headers.get('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) throw new FhirError('invalid', `Request body larger than ${MAX_BODY_BYTES} bytes`);
  const text = await req.text();
  if (text.length > MAX_BODY_BYTES) throw new FhirError('invalid', `Request body larger than ${MAX_BODY_BYTES} bytes`);
  return text;
}

/**
 * CORS for browser SMART apps (docs/CONFORMANCE.md #126): any origin may call the API — tokens, not cookies,
 * authorize it, so credentials are never allowed. `Authorization` may be sent; `Location`, `ETag`,
 * `Last-Modified` and `Content-Location` may be read.
 */
export function corsHeaders(req: Request): Record<string, string> {
  const origin = req.headers.get('origin');
  const headers: Record<string, string> = {
    'access-control-allow-origin': origin ?? '*',
    // Retry-After too: a browser app must be able to read how long a 429 or 503 asks it to wait.
    'access-control-expose-headers': 'Location, ETag, Last-Modified, Content-Location, WWW-Authenticate, Retry-After',
  };
  if (origin) headers.vary = 'Origin';
  return headers;
}

/** Answer to a CORS preflight. */
export function preflightResponse(req: Request): Response {
  const requested = req.headers.get('access-control-request-headers');
  return new Response(null, {
    status: 204,
    headers: {
      ...corsHeaders(req),
      'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
      'access-control-allow-headers':
        requested && /^[A-Za-z0-9\-_, ]{1,500}$/.test(requested)
          ? requested
          : 'Authorization, Content-Type, Accept, If-Match, If-None-Exist, If-None-Match, Prefer',
      'access-control-max-age': '600',
    },
  });
}

/** A JSON response in the negotiated format, with no caching (patient data). */
export function fhirResponse(body: unknown, status: number, format: ResponseFormat, headers: Record<string, string> = {}): Response {
  const text = format.pretty ? JSON.stringify(body, null, 2) : compactJson(body);
  return new Response(text, {
    status,
    headers: {
      'content-type': `${format.contentType}; charset=utf-8`,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...headers,
    },
  });
}

/**
 * A resource exactly as the store holds it (compact JSON text). Served as is in a compact response,
 * where parsing it only to serialize it again would cost more than the rest of a search; a pretty
 * response parses it so that it is indented like everything else.
 */
export class StoredJson {
  constructor(readonly text: string) {}
  toJSON(): unknown {
    if (!splicing) return JSON.parse(this.text) as unknown;
    splicing.push(this.text);
    return `${SPLICE_MARK}${splicing.length - 1}`;
  }
}

// A stored text is replaced by a marker string while the response is serialized, then the markers
// by the texts. The marker holds a NUL and a per-process random part, so no string of a request or
// a resource can pose as one.
const SPLICE_MARK = `\u0000${randomBytes(9).toString('base64url')}:`;
const SPLICE_MARKER_JSON = new RegExp(`"${JSON.stringify(SPLICE_MARK).slice(1, -1).replace(/\\/g, '\\\\')}(\\d+)"`, 'g');
let splicing: string[] | null = null;

/** JSON.stringify, with each StoredJson's text put in as it is. */
function compactJson(body: unknown): string {
  if (body instanceof StoredJson) return body.text;
  const texts: string[] = [];
  splicing = texts;
  let text: string;
  try {
    text = JSON.stringify(body);
  } finally {
    splicing = null;
  }
  return texts.length ? text.replace(SPLICE_MARKER_JSON, (_, i: string) => texts[Number(i)]!) : text;
}

/** Weak ETag of a version (FHIR R4 http.html §3.1.0.3.2: `W/"3"`). */
export function etagOf(versionId: number): string {
  return `W/"${versionId}"`;
}

/** Parses `If-Match: W/"3"` (or `"3"`, or `3`) into a version number; throws 400 on garbage. */
export function parseIfMatch(value: string | null): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const m = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(value);
  if (!m) throw new FhirError('invalid', `If-Match '${value.slice(0, 40)}' is not a version ETag like W/"1"`);
  return Number(m[1]);
}

/** RFC 7231 IMF-fixdate for Last-Modified. */
export function httpDate(d: Date): string {
  return d.toUTCString();
}

/**
 * The answer to a request that failed because the database is unavailable (lib/db/errors): 503
 * with Retry-After and an OperationOutcome of code `transient` (FHIR R4 valueset-issue-type:
 * "may be resolved by a retry"), never a 500 — the same process answers again once it is back.
 */
export function databaseUnavailableResponse(format: ResponseFormat, err: unknown): Response {
  logDatabaseUnavailable('FHIR', err);
  const outcome = operationOutcome(
    'error',
    'transient',
    `The FHIR server cannot reach its database right now; retry in ${DATABASE_RETRY_AFTER_SECONDS} seconds`,
  );
  return fhirResponse(outcome, 503, format, { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) });
}
