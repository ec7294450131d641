/**
 * OAuth failures as typed errors named after their RFC code, and the ONE place that turns them
 * into HTTP responses: RFC 6749 §5.2 JSON, 401 + WWW-Authenticate, the
 * authorize redirect (only to a redirect_uri matched against the registration), or an error page.
 */
import type { AuditFlag } from '../audit/record';
import { renderErrorPage } from './error-page';

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'unsupported_token_type'
  | 'invalid_token'
  | 'request_not_supported'
  | 'request_uri_not_supported'
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata';

interface OAuthErrorOptions {
  /** Audit flags raised by this failure (code or refresh replay …). */
  flags?: AuditFlag[];
  cause?: unknown;
}

/** Base class: `code` is the RFC error code, `message` the error_description shown to the developer. */
export abstract class OAuthError extends Error {
  abstract readonly code: OAuthErrorCode;
  /** HTTP status for JSON responses (RFC 6749 §5.2: 400 unless stated otherwise). */
  readonly status: number = 400;
  /** Value of WWW-Authenticate when the status is 401. */
  readonly challenge: string | null = null;
  /** Retry-After in seconds (RFC 9110 §10.2.3), sent with JSON responses when set. */
  readonly retryAfterSeconds: number | null = null;
  readonly flags: AuditFlag[];

  constructor(description: string, options: OAuthErrorOptions = {}) {
    super(description, options.cause === undefined ? undefined : { cause: options.cause });
    this.flags = options.flags ?? [];
  }

  /** error_description: printable ASCII only (RFC 6749 §5.2 restricts it to %x20-21 / %x23-5B / %x5D-7E). */
  get description(): string {
    return this.message
      .replace(/§/g, 'sec. ')
      .replace(/[—–]/g, '-')
      .replace(/…/g, '...')
      .replace(/→/g, '->')
      .replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, (c) => (c === '"' ? "'" : c === '\\' ? '/' : '?'));
  }
}

export class InvalidRequest extends OAuthError {
  readonly code = 'invalid_request';
}

/** The HTTP Basic challenge of a 401 after a failed Authorization header (RFC 6749 §5.2; RFC 7617 §2). */
export const BASIC_CHALLENGE = 'Basic realm="smart-sandbox", charset="UTF-8"';

/**
 * Client authentication failed (RFC 6749 §5.2). 401 for failed credentials; 400 when no
 * authentication or an unsupported method was used (docs/CONFORMANCE.md #75; G10 8.1.03 wants 400).
 * A challenge only when one is given: the Basic one goes with failed HTTP Basic credentials alone,
 * never after a client assertion or a body credential (docs/CONFORMANCE.md #75), where a browser
 * would answer it with a sign-in dialog.
 */
export class InvalidClient extends OAuthError {
  readonly code = 'invalid_client';
  override readonly status: number;
  override readonly challenge: string | null;
  constructor(description: string, options: OAuthErrorOptions & { status?: 400 | 401; challenge?: string } = {}) {
    super(description, options);
    this.status = options.status ?? 401;
    this.challenge = this.status === 401 ? (options.challenge ?? null) : null;
  }
}

export class InvalidGrant extends OAuthError {
  readonly code = 'invalid_grant';
}

export class UnauthorizedClient extends OAuthError {
  readonly code = 'unauthorized_client';
}

export class UnsupportedGrantType extends OAuthError {
  readonly code = 'unsupported_grant_type';
}

export class UnsupportedResponseType extends OAuthError {
  readonly code = 'unsupported_response_type';
}

export class InvalidScope extends OAuthError {
  readonly code = 'invalid_scope';
}

export class AccessDenied extends OAuthError {
  readonly code = 'access_denied';
}

export class UnsupportedTokenType extends OAuthError {
  readonly code = 'unsupported_token_type';
}

/** A bearer token presented to an AS endpoint (introspection caller) was not valid (RFC 6750 §3.1). */
export class InvalidToken extends OAuthError {
  readonly code = 'invalid_token';
  override readonly status = 401;
  override readonly challenge: string;
  constructor(description: string, options: OAuthErrorOptions = {}) {
    super(description, options);
    this.challenge = `Bearer realm="smart-sandbox", error="invalid_token", error_description="${this.description}"`;
  }
}

/** OpenID Connect Core §6: request objects are not supported. */
export class RequestNotSupported extends OAuthError {
  readonly code = 'request_not_supported';
}

export class RequestUriNotSupported extends OAuthError {
  readonly code = 'request_uri_not_supported';
}

/** RFC 7591 §3.2.2 */
export class InvalidRedirectUri extends OAuthError {
  readonly code = 'invalid_redirect_uri';
}

/** RFC 7591 §3.2.2 */
export class InvalidClientMetadata extends OAuthError {
  readonly code = 'invalid_client_metadata';
}

export class ServerError extends OAuthError {
  readonly code = 'server_error';
  override readonly status = 500;
}

export class TemporarilyUnavailable extends OAuthError {
  readonly code = 'temporarily_unavailable';
  override readonly status = 503;
}

/**
 * A rate limit was hit: 429 (RFC 6585 §4) with Retry-After. RFC 6749 registers no code for it;
 * temporarily_unavailable (RFC 6749 §4.1.2.1) is the closest one, and the description names the limit.
 */
export class TooManyRequests extends OAuthError {
  readonly code = 'temporarily_unavailable';
  override readonly status = 429;
  override readonly retryAfterSeconds: number;
  constructor(description: string, retryAfterSeconds: number, options: OAuthErrorOptions = {}) {
    super(description, { ...options, flags: [...(options.flags ?? []), 'rate-limited'] });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * A failure at /oauth/authorize before client_id and redirect_uri matched a registration: it is
 * shown as a 400 page and NEVER redirected (RFC 6749 §4.1.2.1; RFC 9700 §4.11; docs/CONFORMANCE.md #39).
 */
export class UnsafeToRedirect extends OAuthError {
  readonly code = 'invalid_request';
  readonly title: string;
  constructor(title: string, description: string) {
    super(description);
    this.title = title;
  }
}

/** Where an error goes: JSON (token, introspect, revoke, register), a page, or the client's redirect_uri. */
export type ErrorTarget =
  | { readonly kind: 'json' }
  | { readonly kind: 'page' }
  | { readonly kind: 'redirect'; readonly redirectUri: string; readonly state: string | null; readonly issuer: string };

/** Any thrown value as an OAuthError; unexpected errors become server_error without internals. */
export function toOAuthError(error: unknown): OAuthError {
  if (error instanceof OAuthError) return error;
  console.error('oauth: unexpected error:', error instanceof Error ? (error.stack ?? error.message) : String(error));
  return new ServerError('The authorization server hit an unexpected problem. The request was not processed; try again.');
}

/**
 * Appends parameters to a redirect_uri that was matched exactly against the client's registration,
 * keeping the registered query as it is (RFC 6749 §3.1.2). Values are percent-encoded so that
 * `state` comes back byte for byte (docs/CONFORMANCE.md #41).
 */
export function appendToRedirectUri(redirectUri: string, params: Record<string, string | null | undefined>): string {
  const pairs = Object.entries(params)
    .filter((e): e is [string, string] => typeof e[1] === 'string')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  if (pairs.length === 0) return redirectUri;
  return `${redirectUri}${redirectUri.includes('?') ? '&' : '?'}${pairs.join('&')}`;
}

/** The error redirect URL: error, error_description, state and iss (RFC 6749 §4.1.2.1; RFC 9207 §2). */
export function authorizeErrorRedirectUrl(error: OAuthError, target: Extract<ErrorTarget, { kind: 'redirect' }>): string {
  return appendToRedirectUri(target.redirectUri, {
    error: error.code,
    error_description: error.description,
    state: target.state,
    iss: target.issuer,
  });
}

/** Headers every token-endpoint-like response carries, success or error (RFC 6749 §5.1; docs/CONFORMANCE.md #59). */
export const NO_STORE_HEADERS: Readonly<Record<string, string>> = { 'cache-control': 'no-store', pragma: 'no-cache' };

/** Headers of pages that may carry codes or sit in the authorization flow (RFC 9700 §4.16, §2.1; docs/CONFORMANCE.md #51, #167). */
export const PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  pragma: 'no-cache',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

/**
 * Headers of the HTML page /oauth/authorize answers when it must not redirect (unknown client,
 * unregistered redirect URI, …). The page holds no form and no link that acts, so framing it
 * offers nothing to click-jack: the sandbox's own EHR frame may show it (`frame-ancestors 'self'`,
 * like the interaction screens), and a launch that fails there shows why, in the frame, instead of
 * a frame the browser refused to draw. No other site may frame it.
 */
export const ERROR_PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  ...PAGE_SECURITY_HEADERS,
  'x-frame-options': 'SAMEORIGIN',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'",
};

/** THE conversion of an OAuth failure into a response. */
export function toErrorResponse(error: unknown, target: ErrorTarget): { response: Response; error: OAuthError } {
  const err = toOAuthError(error);
  if (target.kind === 'redirect' && !(err instanceof UnsafeToRedirect)) {
    // 303: the browser follows with GET whatever method reached /oauth/authorize (RFC 9700 §4.12).
    const response = new Response(null, { status: 303, headers: { ...PAGE_SECURITY_HEADERS, location: authorizeErrorRedirectUrl(err, target) } });
    return { response, error: err };
  }
  if (target.kind === 'page' || target.kind === 'redirect') {
    const title = err instanceof UnsafeToRedirect ? err.title : 'Authorization request refused';
    const status = err.status >= 500 ? err.status : 400;
    return {
      response: new Response(renderErrorPage(title, err.code, err.message), {
        status,
        headers: { ...ERROR_PAGE_SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8' },
      }),
      error: err,
    };
  }
  const headers: Record<string, string> = { ...NO_STORE_HEADERS, 'content-type': 'application/json' };
  if (err.status === 401 && err.challenge) headers['www-authenticate'] = err.challenge;
  if (err.retryAfterSeconds !== null) headers['retry-after'] = String(err.retryAfterSeconds);
  const body = JSON.stringify({ error: err.code, error_description: err.description });
  return { response: new Response(body, { status: err.status, headers }), error: err };
}
