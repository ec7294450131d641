/** The state an authorization request accumulates while its checks run, in order. */
import type { ParsedScope, ScopeError } from '../../shared/scopes';
import type { LaunchRecord } from '../../smart/launch';
import type { OAuthClient } from '../clients';
import type { OAuthCall } from '../endpoint';
import type { OAuthParams } from '../http';

export interface AuthorizeContext {
  readonly call: OAuthCall;
  readonly params: OAuthParams;
  client: OAuthClient | null;
  redirectUri: string | null;
  /** The scope parameter as sent. */
  requestedScope: string;
  /** The scope parameter, parsed. */
  requestedScopes: ParsedScope[];
  /** Requested scopes the client may be granted (what the consent screen offers). */
  scopes: ParsedScope[];
  /** Requested scopes that cannot be granted to this client, with the reason. */
  droppedScopes: ScopeError[];
  codeChallenge: string | null;
  launch: LaunchRecord | null;
}

/** One rule of /oauth/authorize: throws a typed OAuth error when the request breaks it. */
export type AuthorizeCheck = (ctx: AuthorizeContext) => void | Promise<void>;

/** The client, once client-is-registered has run. */
export function clientOf(ctx: AuthorizeContext): OAuthClient {
  if (!ctx.client) throw new Error('authorize check ran before client-is-registered');
  return ctx.client;
}
