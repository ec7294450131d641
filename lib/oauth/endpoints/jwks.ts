/**
 * GET /.well-known/jwks.json: the public keys of the authorization server — the RS256 key that
 * signs id_tokens (OIDC; docs/CONFORMANCE.md #78) and the ES256 key that signs access tokens — plus retired
 * keys whose tokens may still be valid. Never a private member.
 */
import { CORS_ANY } from '../http';
import { getPublicJwks } from '../keys';

export async function handleJwks(_req: Request): Promise<Response> {
  try {
    const jwks = await getPublicJwks();
    return new Response(JSON.stringify(jwks), {
      status: 200,
      headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=60', ...CORS_ANY },
    });
  } catch (err) {
    console.error('jwks: could not load signing keys:', err instanceof Error ? err.message : String(err));
    return new Response(JSON.stringify({ error: 'temporarily_unavailable' }), {
      status: 503,
      headers: { 'content-type': 'application/json', 'retry-after': '5' },
    });
  }
}
