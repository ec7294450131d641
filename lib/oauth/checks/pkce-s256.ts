/**
 * PKCE with S256: code_challenge and code_challenge_method=S256 required; plain and a missing
 * method (which RFC 7636 would read as plain) refused (SMART App Launch 2.2 §app-launch
 * "considerations for PKCE support"; RFC 7636 §4.3, §4.4.1; docs/CONFORMANCE.md #43, #52, #172).
 */
import { InvalidRequest } from '../errors';
import type { AuthorizeCheck } from './context';
import { clientOf } from './context';

// BASE64URL(SHA-256(verifier)) is always 43 characters (RFC 7636 §4.2).
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export const pkceS256: AuthorizeCheck = (ctx) => {
  const client = clientOf(ctx);
  const challenge = ctx.params.get('code_challenge');
  const method = ctx.params.get('code_challenge_method');
  if (challenge === null && method === null) {
    if (!client.pkceRequired) return; // SMART v1 client, PKCE off by registration
    // A legacy (SMART v1) launch the launcher made PKCE-optional: never for a public client, whose only protection PKCE is (docs/CONFORMANCE.md #67).
    if (ctx.pendingLaunch?.options.pkceRequired === false) {
      if (client.clientType === 'public') {
        throw new InvalidRequest(
          'code_challenge is required: public clients must use PKCE with S256 even in a PKCE-optional launch (RFC 7636 §4.3; SMART App Launch 2.2 §app-launch)',
        );
      }
      ctx.pkceWaivedByLaunch = true;
      return;
    }
  }
  if (challenge === null) throw new InvalidRequest('code_challenge is required: this server requires PKCE with S256 (RFC 7636 §4.3)');
  if (method === null)
    throw new InvalidRequest('code_challenge_method is required and must be S256 (a missing method would mean plain, which is refused; RFC 7636 §4.3)');
  if (method !== 'S256') throw new InvalidRequest(`code_challenge_method '${method}' is refused: only S256 is supported (SMART App Launch 2.2 §app-launch)`);
  if (!S256_CHALLENGE.test(challenge))
    throw new InvalidRequest('code_challenge must be the 43-character BASE64URL of the SHA-256 of the code_verifier (RFC 7636 §4.2)');
  ctx.codeChallenge = challenge;
};
