/**
 * What an audit record remembers about how the app made its request, beyond the outcome: the
 * observations the app report card (lib/console/report-card.ts) grades. Facts describe the app's
 * behaviour (did it send PKCE S256, a fresh `state`, an `Accept` header), never a secret: `state`
 * is kept only as a short hash (to spot reuse) and an entropy estimate.
 */
import { createHash } from 'node:crypto';

export interface AuditFacts {
  /** /oauth/authorize: the `code_challenge_method` sent (null when PKCE was absent). */
  pkceMethod?: string | null;
  /** /oauth/authorize: whether `state` was sent, a 16-hex-digit hash of it, and its estimated entropy in bits. */
  statePresent?: boolean;
  stateHash?: string | null;
  stateEntropyBits?: number;
  /** /oauth/authorize: whether `aud` was sent (its correctness shows as the request's error). */
  audPresent?: boolean;
  /** /oauth/authorize: whether the `aud` sent names this FHIR server. */
  audMatches?: boolean;
  /** /oauth/authorize: false when the redirect URI did not exactly match a registered one. */
  redirectUriRegistered?: boolean;
  /** /oauth/token: the grant type and how the client authenticated. */
  grantType?: string;
  authMethod?: string;
  /** /oauth/token with private_key_jwt: the assertion's lifetime (exp − iat, or exp − now) in seconds. */
  assertionLifetimeSeconds?: number;
  /** FHIR: the Accept header the app sent (null when none). */
  accept?: string | null;
  /** FHIR: `_count` requested, and whether the request followed a paging link. */
  count?: number;
  pagingLink?: boolean;
  /** The request carried an access token in its URL (RFC 6750 §2.3 is not supported: RFC 9700 §4.3.2). */
  tokenInUrl?: boolean;
  /** The response told the app to wait this many seconds (429 / 503 Retry-After). */
  retryAfterSeconds?: number;
  /** FHIR 401 for an access token that verified but had expired. */
  tokenExpired?: boolean;
  /** /oauth/authorize refused: the rule that refused it (the check's file name in lib/oauth/checks/). */
  rule?: string;
  /** /oauth/authorize: the request's parameters other than `state` and `nonce` (none of them is a secret), for the flow exports. */
  authorizeParams?: Record<string, string>;
  /** /oauth/token: the grant of the code or refresh token presented, once known. */
  grantId?: string;
  /** /oauth/token: the access token issued; FHIR: the access token presented. Its jti: an identifier, never the token. */
  tokenId?: string;
}

/** Query parameters of a request URL that must never reach the audit trail. */
const SECRET_QUERY_PARAMETERS = ['access_token', 'code', 'client_secret', 'refresh_token', 'client_assertion', 'code_verifier'];

/**
 * The request's path and query as recorded in the audit trail, with any credential in the query
 * replaced by `[redacted]` (an app that puts its token in the URL must not leak it a second time
 * into the audit log and its exports).
 */
export function auditedPath(url: URL, limit = 500): string {
  if (!SECRET_QUERY_PARAMETERS.some((name) => url.searchParams.has(name))) return `${url.pathname}${url.search}`.slice(0, limit);
  const params = new URLSearchParams(url.search);
  for (const name of SECRET_QUERY_PARAMETERS) if (params.has(name)) params.set(name, '[redacted]');
  return `${url.pathname}?${params.toString()}`.slice(0, limit);
}

/** A short stable hash of a value, to recognise repeats without storing the value. */
export function shortHash(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 16);
}

/**
 * A conservative estimate of a string's entropy in bits: its length times log2 of the smallest
 * usual alphabet that covers its characters (digits, hex, base64url, printable ASCII), scaled down
 * when the value uses few of the characters it could (one character repeated, a counter).
 */
export function estimateEntropyBits(value: string): number {
  let text = value;
  let alphabet: number;
  if (/^[0-9]+$/.test(text)) alphabet = 10;
  else if (/^[0-9a-f-]+$/i.test(text) && /[0-9a-f]/i.test(text)) {
    // Hex, possibly with UUID dashes: the dashes carry nothing.
    text = text.replace(/-/g, '');
    alphabet = 16;
  } else if (/^[A-Za-z0-9_-]+$/.test(text)) alphabet = 64;
  else alphabet = 95;
  if (text.length === 0) return 0;
  const variety = Math.min(1, (1.5 * new Set(text).size) / Math.min(alphabet, text.length));
  return Math.round(text.length * Math.log2(alphabet) * variety);
}

/** Parameters of an authorization request the audit trail keeps as sent (`state` and `nonce` are kept only as facts about them). */
const KEPT_AUTHORIZE_PARAMETERS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'aud',
  'launch',
  'code_challenge',
  'code_challenge_method',
  'response_mode',
  'prompt',
  'login_hint',
  'max_age',
];

/** Facts of an authorization request, read from its parameters. */
export function authorizeRequestFacts(params: { get(name: string): string | null }): AuditFacts {
  const state = params.get('state');
  const kept: Record<string, string> = {};
  for (const name of KEPT_AUTHORIZE_PARAMETERS) {
    let value: string | null;
    try {
      value = params.get(name);
    } catch {
      // A repeated parameter: its rule refuses the request later, in its turn.
      continue;
    }
    if (value !== null) kept[name] = value.slice(0, 1000);
  }
  return {
    authorizeParams: kept,
    pkceMethod: params.get('code_challenge') !== null ? (params.get('code_challenge_method') ?? 'plain') : null,
    statePresent: state !== null && state !== '',
    stateHash: state ? shortHash(state) : null,
    stateEntropyBits: state ? estimateEntropyBits(state) : 0,
    audPresent: params.get('aud') !== null,
  };
}

/** Facts of a FHIR API request, read from its URL and headers. */
export function fhirRequestFacts(req: Request, url: URL): AuditFacts {
  const facts: AuditFacts = { accept: req.headers.get('accept')?.slice(0, 200) ?? null };
  const count = Number(url.searchParams.get('_count'));
  if (url.searchParams.has('_count') && Number.isFinite(count)) facts.count = count;
  if (url.searchParams.has('_cursor')) facts.pagingLink = true;
  if (url.searchParams.has('access_token')) facts.tokenInUrl = true;
  return facts;
}

/** The Retry-After a response gave, in seconds, when it gave one. */
export function retryAfterOf(response: Response): AuditFacts {
  const value = response.headers.get('retry-after');
  if (value === null) return {};
  const seconds = Number(value);
  return Number.isFinite(seconds) ? { retryAfterSeconds: seconds } : {};
}

/** Facts as stored (a JSON object, or null when there are none). */
export function serializeFacts(facts: AuditFacts | null | undefined): string | null {
  if (!facts) return null;
  // JSON.stringify leaves out members whose value is undefined; a record of none of them is null.
  for (const name in facts) if (facts[name as keyof AuditFacts] !== undefined) return JSON.stringify(facts);
  return null;
}

/** Facts as read back from the database (anything unreadable reads as none). */
export function parseFacts(text: string | null | undefined): AuditFacts {
  if (!text) return {};
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as AuditFacts) : {};
  } catch {
    return {};
  }
}
