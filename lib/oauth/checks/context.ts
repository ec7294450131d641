/** The state an authorization request accumulates while its checks run, in order. */
import type { ParsedScope, ScopeError } from '../../smart/scopes';
import type { LaunchOptions as LauncherOptions } from '../../launch-options/options';
import type { LaunchRecord } from '../launches';
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
  /** No code_challenge, accepted because the launch is a legacy PKCE-optional one (docs/CONFORMANCE.md #52). */
  pkceWaivedByLaunch: boolean;
  /** The launcher's launch the request belongs to, found but not yet used up (launch-is-found). */
  pendingLaunch: { readonly id: string; readonly standalone: boolean; readonly options: LauncherOptions } | null;
  /** The launch, used up by this request (launch-is-live). */
  launch: LaunchRecord | null;
  /** `launch` is a standalone launch armed by the launcher: its options apply, not its context. */
  standaloneLaunch: boolean;
}

/** One rule of /oauth/authorize: throws a typed OAuth error when the request breaks it. */
export type AuthorizeCheck = (ctx: AuthorizeContext) => void | Promise<void>;

/** The client, once client-is-registered has run. */
export function clientOf(ctx: AuthorizeContext): OAuthClient {
  if (!ctx.client) throw new Error('authorize check ran before client-is-registered');
  return ctx.client;
}
