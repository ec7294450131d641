/**
 * Why a step of a flow failed, in the words a developer needs: the rule that refused it, where the
 * rule comes from (SMART App Launch 2.2, an RFC, or docs/CONFORMANCE.md) and what the app should do
 * instead. Authorization requests name their rule in the audit record (`facts.rule`, the check's
 * file in lib/oauth/checks/); token requests, consent and FHIR calls are recognised by the error
 * code and the error description the server gave.
 */
import type { AuditRecord } from '../generated/sqlite/client';
import { parseFacts } from '../audit/facts';

export interface FlowRule {
  readonly id: string;
  /** The rule, as a sentence. */
  readonly title: string;
  /** Where it comes from: "SMART App Launch 2.2 §app-launch", "RFC 7636 §4.6", "docs/CONFORMANCE.md #52". */
  readonly spec: string;
  /** What the app should do instead. */
  readonly advice: string;
}

const RULES: readonly FlowRule[] = [
  // /oauth/authorize, one per check in lib/oauth/checks/.
  {
    id: 'client-and-redirect-uri-are-single',
    title: 'client_id and redirect_uri are each sent exactly once.',
    spec: 'RFC 6749 §3.1',
    advice: 'Build the authorization URL with one client_id and one redirect_uri parameter.',
  },
  {
    id: 'client-is-registered',
    title: 'client_id names a client registered with this sandbox.',
    spec: 'RFC 6749 §4.1.2.1; docs/CONFORMANCE.md #39, #170',
    advice: 'Register the app (POST /oauth/register or the console’s Clients page) and send the client_id it was given, in this sandbox.',
  },
  {
    id: 'redirect-uri-is-registered',
    title: 'redirect_uri equals, character for character, a redirect URI registered for the client.',
    spec: 'RFC 6749 §3.1.2.3; RFC 9700 §4.1; docs/CONFORMANCE.md #39, #168',
    advice:
      'Send exactly one of the registered redirect URIs (same scheme, host, port, path and trailing slash), or add this URI to the client on its console page.',
  },
  {
    id: 'no-repeated-parameters',
    title: 'No parameter of the authorization request is sent twice.',
    spec: 'RFC 6749 §3.1',
    advice: 'Send each parameter once; join several scopes with spaces inside one scope parameter.',
  },
  {
    id: 'launch-is-found',
    title: 'The launch parameter names a launch this EHR created for this client.',
    spec: 'SMART App Launch 2.2 §app-launch; docs/CONFORMANCE.md #45',
    advice: 'Pass the launch value from the launch URL unchanged, with the client_id the launch was made for.',
  },
  {
    id: 'launch-simulated-error',
    title: 'A simulated error armed in the launcher for this launch.',
    spec: 'docs/CONFORMANCE.md (simulated errors)',
    advice: 'This failure was asked for: check that the app shows the error to the user and offers to start again rather than looping or crashing.',
  },
  {
    id: 'response-type-is-code',
    title: 'response_type is code: only the authorization code flow is allowed.',
    spec: 'RFC 9700 §2.1.2; docs/CONFORMANCE.md #38, #165',
    advice: 'Use response_type=code with PKCE; the implicit and hybrid flows are not allowed.',
  },
  {
    id: 'client-may-use-code-flow',
    title: 'The client is registered for the authorization_code grant.',
    spec: 'RFC 7591 §2 (grant_types); SMART App Launch 2.2 §backend-services',
    advice:
      'A backend client gets tokens with client_credentials at the token endpoint; register a separate client with the authorization_code grant for user launches.',
  },
  {
    id: 'no-request-objects',
    title: 'Request objects (request, request_uri) and response modes other than query are not supported.',
    spec: 'OpenID Connect Core §6',
    advice: 'Send the parameters in the query (or a POSTed form) and read the response from the redirect query.',
  },
  {
    id: 'aud-is-fhir-base',
    title: 'aud is present and is this sandbox’s FHIR base URL.',
    spec: 'SMART App Launch 2.2 §app-launch; docs/CONFORMANCE.md #4, #42',
    advice: 'Send aud= the iss you were launched with (or the FHIR base you discovered), exactly: it protects the token from being used at another server.',
  },
  {
    id: 'pkce-s256',
    title: 'PKCE with S256: code_challenge and code_challenge_method=S256 are required.',
    spec: 'SMART App Launch 2.2 §app-launch; RFC 7636 §4.3; docs/CONFORMANCE.md #43, #52, #172',
    advice:
      'Generate a random code_verifier (43–128 characters), send code_challenge=BASE64URL(SHA-256(verifier)) with code_challenge_method=S256, and send the verifier with the token request.',
  },
  {
    id: 'scope-is-valid',
    title: 'scope is present and every scope in it parses (SMART v1 or v2 grammar, no system/ scopes).',
    spec: 'SMART App Launch 2.2 §scopes-and-launch-context; docs/CONFORMANCE.md #93–#103',
    advice: 'Check the scope string in the console’s scope playground; user apps ask for patient/ or user/ scopes, backend services for system/ ones.',
  },
  {
    id: 'launch-is-live',
    title: 'The launch is live: created for this client, not yet used, not expired.',
    spec: 'SMART App Launch 2.2 §app-launch; docs/CONFORMANCE.md #45, #156, #171',
    advice: 'Start the authorization right after the launch, once: a launch id is single-use. Relaunch from the EHR rather than replaying an old launch URL.',
  },
  {
    id: 'authorize',
    title: 'The authorization request is readable (GET query, or POST form).',
    spec: 'RFC 6749 §4.1.1; SMART App Launch 2.2 §app-launch',
    advice: 'Send the request as a GET with a query string, or a POST with an application/x-www-form-urlencoded body.',
  },
  // Consent.
  {
    id: 'consent-denied',
    title: 'The user refused the authorization on the consent screen.',
    spec: 'RFC 6749 §4.1.2.1; docs/CONFORMANCE.md #50',
    advice: 'Handle error=access_denied on the redirect URI: tell the user the app has no access and offer to try again; do not loop back to /oauth/authorize.',
  },
  // /oauth/token.
  {
    id: 'code-replay',
    title: 'An authorization code is single-use; a second use revokes every token it produced.',
    spec: 'RFC 6749 §4.1.2; RFC 9700 §4.14',
    advice: 'Exchange each code once and keep the tokens; never retry a token request with the same code.',
  },
  {
    id: 'code-expired',
    title: 'Authorization codes live 60 seconds.',
    spec: 'RFC 6749 §4.1.2',
    advice: 'Exchange the code as soon as the redirect arrives.',
  },
  {
    id: 'code-invalid',
    title: 'The code must be one this server issued to this client.',
    spec: 'RFC 6749 §4.1.3',
    advice: 'Send the code from the redirect unchanged (URL-decoded once), with the client it was issued to, at this sandbox’s token endpoint.',
  },
  {
    id: 'redirect-uri-mismatch',
    title: 'The token request’s redirect_uri equals the authorization request’s.',
    spec: 'RFC 6749 §4.1.3',
    advice: 'Send the same redirect_uri value you sent to /oauth/authorize.',
  },
  {
    id: 'pkce-verifier',
    title: 'BASE64URL(SHA-256(code_verifier)) equals the code_challenge of the authorization request.',
    spec: 'RFC 7636 §4.6; SMART App Launch 2.2 §app-launch',
    advice: 'Send the code_verifier you generated for this authorization (kept in the session that started it), not a new one.',
  },
  {
    id: 'client-authentication',
    title: 'The client authenticates as registered (public: client_id; confidential: secret or signed assertion).',
    spec: 'RFC 6749 §2.3; RFC 7523 §3; SMART App Launch 2.2 §client-authentication-asymmetric',
    advice:
      'Use the token_endpoint_auth_method the client was registered with; for private_key_jwt sign a fresh assertion (new jti, exp ≤ 5 minutes, aud = the token endpoint) with a registered key.',
  },
  {
    id: 'assertion-replay',
    title: 'A client assertion’s jti is used once.',
    spec: 'RFC 7523 §3; SMART App Launch 2.2 §client-authentication-asymmetric',
    advice: 'Sign a new assertion with a new random jti for every token request.',
  },
  {
    id: 'unsupported-grant-type',
    title: 'grant_type is authorization_code, refresh_token or client_credentials.',
    spec: 'RFC 6749 §5.2; RFC 9700 §2.4',
    advice: 'Use the authorization code flow for users and client_credentials for backend services; the password grant is not allowed.',
  },
  {
    id: 'unauthorized-client',
    title: 'The client is registered for the grant type it uses.',
    spec: 'RFC 6749 §5.2; SMART App Launch 2.2 §backend-services',
    advice: 'Register the grant type on the client, or use a client registered for it; backend services authenticate with private_key_jwt.',
  },
  {
    id: 'invalid-scope',
    title: 'The requested scopes parse and are ones the client may have.',
    spec: 'RFC 6749 §5.2; SMART App Launch 2.2 §scopes-and-launch-context',
    advice: 'Ask only for scopes registered for the client (backend: system/ scopes); a refresh may only narrow the granted scope.',
  },
  {
    id: 'refresh-replay',
    title: 'Refresh tokens rotate: a used refresh token is replaced, and reusing it revokes the grant.',
    spec: 'RFC 9700 §4.14.2; docs/CONFORMANCE.md #84',
    advice: 'Store the new refresh token from every refresh response and use it next time; never refresh twice with the same token (serialise refreshes).',
  },
  {
    id: 'refresh-invalid',
    title: 'The refresh token is one this server issued to this client, unexpired and not revoked.',
    spec: 'RFC 6749 §6; SMART App Launch 2.2 §app-launch',
    advice: 'When a refresh fails, discard the tokens and authorize again.',
  },
  {
    id: 'rate-limited',
    title: 'Requests over the client’s or user’s rate limit wait.',
    spec: 'RFC 6585 §4; RFC 9110 §10.2.3 (Retry-After)',
    advice: 'Wait the number of seconds in Retry-After before trying again; do not retry at once.',
  },
  {
    id: 'invalid-request',
    title: 'The request carries every required parameter, each well formed.',
    spec: 'RFC 6749 §5.2',
    advice: 'Read error_description: it names the parameter.',
  },
  // FHIR.
  {
    id: 'token-expired',
    title: 'Access tokens expire (expires_in seconds after issue).',
    spec: 'RFC 6750 §3.1; SMART App Launch 2.2 §app-launch',
    advice: 'Refresh before expires_in runs out, or on a 401 with error="invalid_token", then retry once with the new token.',
  },
  {
    id: 'token-revoked',
    title: 'A revoked access token is refused everywhere.',
    spec: 'RFC 7009 §2; RFC 6750 §3.1',
    advice: 'Stop using the token; refresh if the grant still stands, otherwise authorize again.',
  },
  {
    id: 'token-invalid',
    title: 'The Authorization header carries a Bearer access token this server issued for this FHIR base.',
    spec: 'RFC 6750 §2.1, §3.1; SMART App Launch 2.2 §access-fhir-api',
    advice: 'Send Authorization: Bearer <access_token> exactly as the token endpoint returned it, to the FHIR base it was issued for.',
  },
  {
    id: 'token-missing',
    title: 'FHIR requests (other than /metadata) need an access token.',
    spec: 'RFC 6750 §3; SMART App Launch 2.2 §access-fhir-api',
    advice: 'Send Authorization: Bearer <access_token> with every FHIR request.',
  },
  {
    id: 'insufficient-scope',
    title: 'The token’s scopes allow the interaction on the resource type.',
    spec: 'SMART App Launch 2.2 §scopes-and-launch-context; RFC 6750 §3.1',
    advice: 'Ask for the scope named in WWW-Authenticate at authorization, or do not make the call.',
  },
  {
    id: 'simulated',
    title: 'A simulated error armed in the launcher.',
    spec: 'docs/CONFORMANCE.md (simulated errors)',
    advice: 'This failure was asked for: check that the app reacts the way the spec asks (see the error code) rather than crashing or retrying blindly.',
  },
];

const BY_ID = new Map(RULES.map((r) => [r.id, r]));

/** The rule of an id (the authorize checks' names and the ids above), or null. */
export function flowRule(id: string): FlowRule | null {
  return BY_ID.get(id) ?? null;
}

function rule(id: string): FlowRule {
  const found = BY_ID.get(id);
  if (!found) throw new Error(`unknown flow rule ${id}`);
  return found;
}

type RecordLike = Pick<AuditRecord, 'kind' | 'endpoint' | 'status' | 'errorCode' | 'detail' | 'flags' | 'facts'>;

/** The rule a refused request broke, or null when the request was not refused. */
export function refusalRuleOf(r: RecordLike): FlowRule | null {
  const failed = r.errorCode !== null || r.status >= 400;
  if (!failed) return null;
  const flags = (r.flags ?? '').split(' ');
  const detail = r.detail ?? '';
  if (flags.includes('simulated')) return rule(r.endpoint === '/oauth/authorize' ? 'launch-simulated-error' : 'simulated');
  if (flags.includes('rate-limited') || r.status === 429) return rule('rate-limited');
  if (r.endpoint === '/oauth/authorize') return flowRule(parseFacts(r.facts).rule ?? 'authorize') ?? rule('authorize');
  if (r.endpoint.startsWith('/interaction/')) return r.errorCode === 'access_denied' ? rule('consent-denied') : rule('invalid-request');
  if (r.endpoint === '/oauth/token') {
    if (flags.includes('code-replay')) return rule('code-replay');
    if (flags.includes('refresh-replay')) return rule('refresh-replay');
    if (flags.includes('assertion-replay')) return rule('assertion-replay');
    switch (r.errorCode) {
      case 'invalid_client':
        return rule('client-authentication');
      case 'unsupported_grant_type':
        return rule('unsupported-grant-type');
      case 'unauthorized_client':
        return rule('unauthorized-client');
      case 'invalid_scope':
        return rule('invalid-scope');
      case 'invalid_grant':
        if (/code_verifier/.test(detail)) return rule('pkce-verifier');
        if (/redirect_uri/.test(detail)) return rule('redirect-uri-mismatch');
        if (/authorization code has expired/.test(detail)) return rule('code-expired');
        if (/refresh token/.test(detail)) return rule('refresh-invalid');
        return rule('code-invalid');
      default:
        return rule('invalid-request');
    }
  }
  if (r.kind === 'fhir') {
    if (r.status === 401) {
      if (/expired/.test(detail) || parseFacts(r.facts).tokenExpired) return rule('token-expired');
      if (/revoked/.test(detail)) return rule('token-revoked');
      return r.errorCode === 'no_token' ? rule('token-missing') : rule('token-invalid');
    }
    if (r.status === 403) return rule('insufficient-scope');
  }
  return null;
}

/** Every rule, for documentation and tests. */
export function allFlowRules(): readonly FlowRule[] {
  return RULES;
}
