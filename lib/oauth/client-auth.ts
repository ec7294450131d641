/**
 * Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3;
 * SMART App Launch 2.2 §client-confidential-symmetric, §client-confidential-asymmetric; docs/CONFORMANCE.md §5).
 *
 * Status codes: 401 when credentials were presented and failed (always when the Authorization
 * header was used, and then with the Basic challenge, RFC 6749 §5.2; a failed client assertion
 * gets no Basic challenge, docs/CONFORMANCE.md #75); 400 when no credentials or an unsupported
 * method were used (docs/CONFORMANCE.md #75: G10 8.1.03 expects exactly 400 for a bad client_assertion_type).
 */
import { decodeJwt } from 'jose';
import { verifyClientAssertion } from './client-assertion';
import type { OAuthClient, TokenEndpointAuthMethod } from './clients';
import { clientSecretMatches, findClientForAuthentication, getClient } from './clients';
import { CLIENT_ASSERTION_TYPE } from './config';
import type { OAuthCall } from './endpoint';
import { BASIC_CHALLENGE, InvalidClient, InvalidRequest } from './errors';
import type { OAuthParams } from './http';
import { oauthUrls } from './config';

export interface AuthenticatedClient {
  readonly client: OAuthClient;
  readonly method: TokenEndpointAuthMethod;
}

interface BasicCredentials {
  clientId: string;
  secret: string;
}

// RFC 6749 §2.3.1: client_id and secret are form-urlencoded before Base64.
function formDecode(s: string): string {
  return decodeURIComponent(s.replace(/\+/g, ' '));
}

function parseBasic(header: string): BasicCredentials {
  const match = /^basic[ ]+([A-Za-z0-9+/]+=*)\s*$/i.exec(header);
  if (!match?.[1]) throw new InvalidClient('the Authorization header is not valid HTTP Basic (RFC 7617)', { challenge: BASIC_CHALLENGE });
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new InvalidClient('HTTP Basic credentials must be client_id:client_secret', { challenge: BASIC_CHALLENGE });
  try {
    return { clientId: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    throw new InvalidClient('HTTP Basic credentials are not validly form-urlencoded (RFC 6749 §2.3.1)', { challenge: BASIC_CHALLENGE });
  }
}

/**
 * The failure of a credential that does not check out, per method (also what the simulated error
 * invalid_client_secret answers). Same words for an unknown client and a wrong secret: no
 * client-id oracle. private_key_jwt failures come from client-assertion.ts.
 */
export function wrongCredentialsError(method: Exclude<TokenEndpointAuthMethod, 'private_key_jwt'>, clientId: string): InvalidClient {
  if (method === 'client_secret_basic') return new InvalidClient('unknown client_id or wrong client secret (HTTP Basic)', { challenge: BASIC_CHALLENGE });
  // No Authorization header was used, so 400 without a challenge (RFC 6749 §5.2; docs/CONFORMANCE.md #75).
  if (method === 'client_secret_post') return new InvalidClient('unknown client_id or wrong client secret (client_secret_post)', { status: 400 });
  // A public client sent no credentials, so RFC 6749 §5.2 lets the answer be 400 (401 is required
  // only after an Authorization header). A 401 with a Basic challenge would make the browser of a
  // same-origin app open a sign-in dialog and hold the response, so the app never saw the error.
  return new InvalidClient(`unknown client_id '${clientId.slice(0, 100)}'`, { status: 400 });
}

/**
 * What a client whose registration has expired gets (RFC 7591 §3.2.1 client_secret_expires_at;
 * the simulated error expired_registration): 401 with the Basic challenge after HTTP Basic, else
 * 400, as for wrong credentials (RFC 6749 §5.2).
 */
export function expiredRegistrationError(method: TokenEndpointAuthMethod): InvalidClient {
  const description = 'the client registration has expired (client_secret_expires_at has passed, RFC 7591 §3.2.1): register the client again';
  return method === 'client_secret_basic' ? new InvalidClient(description, { challenge: BASIC_CHALLENGE }) : new InvalidClient(description, { status: 400 });
}

function methodMismatch(client: OAuthClient, used: TokenEndpointAuthMethod): InvalidClient {
  const how: Record<TokenEndpointAuthMethod, string> = {
    none: 'client_id only (public client)',
    client_secret_basic: 'HTTP Basic with its client secret',
    client_secret_post: 'client_id and client_secret in the form body',
    private_key_jwt: 'a signed client_assertion (private_key_jwt)',
  };
  return new InvalidClient(
    `client '${client.clientId}' is registered for ${client.tokenEndpointAuthMethod} and must authenticate with ${how[client.tokenEndpointAuthMethod]}, not ${used}`,
    used === 'client_secret_basic' ? { status: 401, challenge: BASIC_CHALLENGE } : { status: 400 },
  );
}

/**
 * Identifies and authenticates the calling client. Exactly one method per request (RFC 6749 §2.3);
 * a client_id in the body must agree with the one the credentials carry (docs/CONFORMANCE.md #68, #69).
 */
export async function authenticateClient(call: OAuthCall, form: OAuthParams): Promise<AuthenticatedClient> {
  const header = call.req.headers.get('authorization');
  const bodyClientId = form.get('client_id');
  const bodySecret = form.get('client_secret');
  const assertionType = form.get('client_assertion_type');
  const assertion = form.get('client_assertion');

  const methods: string[] = [];
  if (header) methods.push('HTTP Basic');
  if (bodySecret !== null) methods.push('client_secret_post');
  if (assertionType !== null || assertion !== null) methods.push('private_key_jwt');
  if (methods.length > 1) throw new InvalidRequest(`use exactly one client authentication method, not ${methods.join(' and ')} (RFC 6749 §2.3)`);
  if (bodyClientId) call.audit.clientId = bodyClientId.slice(0, 200);

  if (header) {
    if (!/^basic\s/i.test(header))
      throw new InvalidClient('the Authorization header must use the Basic scheme at this endpoint (RFC 6749 §2.3.1)', { challenge: BASIC_CHALLENGE });
    const creds = parseBasic(header);
    call.audit.clientId = creds.clientId.slice(0, 200);
    if (bodyClientId !== null && bodyClientId !== creds.clientId) {
      throw new InvalidRequest('client_id in the body differs from the client_id in the HTTP Basic credentials');
    }
    const found = await findClientForAuthentication(creds.clientId, call.sandboxId);
    const client = found?.client ?? null;
    // Same error for an unknown client and a wrong secret: no client-id oracle.
    if (!client || !clientSecretMatches(found?.secretHash ?? null, creds.secret)) {
      if (client && client.tokenEndpointAuthMethod !== 'client_secret_basic' && client.tokenEndpointAuthMethod !== 'client_secret_post')
        throw methodMismatch(client, 'client_secret_basic');
      throw wrongCredentialsError('client_secret_basic', creds.clientId);
    }
    if (client.tokenEndpointAuthMethod !== 'client_secret_basic') throw methodMismatch(client, 'client_secret_basic');
    return { client, method: 'client_secret_basic' };
  }

  if (bodySecret !== null) {
    if (bodyClientId === null) throw new InvalidClient('client_secret was sent without client_id', { status: 400 });
    const found = await findClientForAuthentication(bodyClientId, call.sandboxId);
    const client = found?.client ?? null;
    if (!client || !clientSecretMatches(found?.secretHash ?? null, bodySecret)) {
      if (client && client.tokenEndpointAuthMethod !== 'client_secret_basic' && client.tokenEndpointAuthMethod !== 'client_secret_post')
        throw methodMismatch(client, 'client_secret_post');
      throw wrongCredentialsError('client_secret_post', bodyClientId);
    }
    if (client.tokenEndpointAuthMethod !== 'client_secret_post') throw methodMismatch(client, 'client_secret_post');
    return { client, method: 'client_secret_post' };
  }

  if (assertionType !== null || assertion !== null) {
    if (assertionType !== CLIENT_ASSERTION_TYPE) {
      throw new InvalidClient(
        `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}${assertionType ? `, not '${assertionType.slice(0, 100)}'` : ''} (RFC 7523 §2.2)`,
        { status: 400 },
      );
    }
    if (assertion === null) throw new InvalidClient('client_assertion is missing', { status: 400 });
    // The claimed client, for the audit record even when the assertion fails.
    try {
      const claimed = decodeJwt(assertion).iss;
      if (typeof claimed === 'string') call.audit.clientId = claimed.slice(0, 200);
    } catch {
      // not a JWT: verifyClientAssertion says so
    }
    const client = await verifyClientAssertion(assertion, { sandboxId: call.sandboxId, tokenEndpoint: oauthUrls(call.issuer).token });
    call.audit.clientId = client.clientId;
    // A client_id, if sent, must name the same client (SMART App Launch 2.2 §client-confidential-asymmetric).
    if (bodyClientId !== null && bodyClientId !== client.clientId) throw new InvalidClient('client_id differs from the iss of the client assertion');
    return { client, method: 'private_key_jwt' };
  }

  if (bodyClientId !== null) {
    const client = await getClient(bodyClientId, { sandboxId: call.sandboxId });
    if (!client) throw wrongCredentialsError('none', bodyClientId);
    if (client.tokenEndpointAuthMethod !== 'none') throw methodMismatch(client, 'none');
    return { client, method: 'none' };
  }

  throw new InvalidClient('client authentication is required: send client_id (public clients), HTTP Basic, or a client assertion (RFC 6749 §2.3)', {
    status: 400,
  });
}
