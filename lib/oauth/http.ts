/** Request parsing and response helpers shared by the OAuth endpoints (framework-free). */
import { InvalidRequest } from './errors';
import { MAX_BODY_BYTES } from './config';
import { NO_STORE_HEADERS } from './errors';

/** Parameters of a form or query, every value kept so duplicates can be refused. */
export class OAuthParams {
  private readonly values: Map<string, string[]>;

  constructor(entries: Iterable<[string, string]>) {
    this.values = new Map();
    for (const [k, v] of entries) {
      const list = this.values.get(k);
      if (list) list.push(v);
      else this.values.set(k, [v]);
    }
  }

  /**
   * The single value of a parameter; an empty value counts as absent (RFC 6749 §3.1, §3.2).
   * Throws invalid_request if the parameter appears more than once.
   */
  get(name: string): string | null {
    const list = this.values.get(name);
    if (!list) return null;
    if (list.length > 1) throw new InvalidRequest(`parameter '${name}' was sent ${list.length} times; OAuth parameters must not be repeated (RFC 6749 §3.1)`);
    const [value] = list;
    return value === undefined || value === '' ? null : value;
  }

  /** True when the parameter was sent at all (even empty). */
  has(name: string): boolean {
    return this.values.has(name);
  }

  /** Raw value list (for checks that must tell "sent empty" from "not sent"). */
  all(name: string): readonly string[] {
    return this.values.get(name) ?? [];
  }

  /** Names sent more than once. */
  duplicates(): string[] {
    return [...this.values].filter(([, v]) => v.length > 1).map(([k]) => k);
  }

  names(): string[] {
    return [...this.values.keys()];
  }

  /** Every parameter with its first value (for storing a validated request). */
  toRecord(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of this.values) if (v[0] !== undefined) out[k] = v[0];
    return out;
  }
}

/** Media type of a request without parameters, lower-cased (header names and values are case-insensitive; docs/CONFORMANCE.md #166). */
export function mediaType(req: Request): string {
  return (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Reads a body as text, refusing bodies larger than MAX_BODY_BYTES. */
export async function readBodyText(req: Request): Promise<string> {
  const declared = Number(req.headers.get('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) throw new InvalidRequest(`request body is larger than ${MAX_BODY_BYTES} bytes`);
  let text: string;
  try {
    text = await req.text();
  } catch {
    throw new InvalidRequest('the request body could not be read');
  }
  if (text.length > MAX_BODY_BYTES) throw new InvalidRequest(`request body is larger than ${MAX_BODY_BYTES} bytes`);
  return text;
}

/**
 * Reads an `application/x-www-form-urlencoded` POST body (RFC 6749 §3.2, §4.1.3; docs/CONFORMANCE.md #53).
 * Any other content type is invalid_request.
 */
export async function readForm(req: Request): Promise<OAuthParams> {
  if (req.method !== 'POST') throw new InvalidRequest(`use POST, not ${req.method} (RFC 6749 §3.2)`);
  const type = mediaType(req);
  if (type !== 'application/x-www-form-urlencoded') {
    throw new InvalidRequest(`Content-Type must be application/x-www-form-urlencoded${type ? `, not ${type}` : ''} (RFC 6749 §3.2)`);
  }
  const text = await readBodyText(req);
  const params = new OAuthParams(new URLSearchParams(text));
  const repeated = params.duplicates();
  if (repeated.length)
    throw new InvalidRequest(`parameter${repeated.length > 1 ? 's' : ''} ${repeated.map((n) => `'${n}'`).join(', ')} sent more than once (RFC 6749 §3.2)`);
  return params;
}

/** A JSON response with no-store headers (RFC 6749 §5.1). */
export function jsonNoStore(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...NO_STORE_HEADERS, 'content-type': 'application/json', ...headers } });
}

/** CORS headers that allow any origin (discovery documents; docs/CONFORMANCE.md #28). */
export const CORS_ANY: Readonly<Record<string, string>> = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, OPTIONS',
  'access-control-allow-headers': 'Authorization, Content-Type, Accept',
  'access-control-max-age': '600',
};

/** CORS headers echoing one allowed origin (token endpoint for public clients; docs/CONFORMANCE.md #66). */
export function corsFor(origin: string): Record<string, string> {
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-methods': 'POST, OPTIONS',
    'access-control-allow-headers': 'Authorization, Content-Type, Accept',
    'access-control-max-age': '600',
    // A browser app must be able to read how long a 429 or 503 asks it to wait.
    'access-control-expose-headers': 'Retry-After, WWW-Authenticate',
    vary: 'Origin',
  };
}

/** The bearer token of an Authorization header, if the scheme is Bearer (case-insensitive; RFC 6750 §2.1). */
export function bearerToken(req: Request): string | null {
  const header = req.headers.get('authorization');
  if (!header) return null;
  const match = /^bearer[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header);
  return match?.[1] ?? null;
}
