// A backend-services client with an ES384 key, and the client assertions it authenticates with
// (private_key_jwt, RFC 7523), for the benchmarks that use client_credentials.
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { CryptoKey } from 'jose';

export interface BenchBackend {
  readonly clientId: string;
  readonly kid: string;
  readonly privateKey: CryptoKey;
}

/** Registers a backend client (scope system/*.rs) with a fresh ES384 key. */
export async function registerBenchBackend(name: string, kid: string): Promise<BenchBackend> {
  // Imported late: the database URL and limits are set by the caller before lib/ is loaded.
  const { registerClient } = await import('../lib/oauth/clients');
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kty: 'EC', kid, alg: 'ES384' };
  const reg = await registerClient({ name, clientType: 'backend', jwks: { keys: [jwk] }, scope: 'system/*.rs', grantTypes: ['client_credentials'] });
  return { clientId: reg.client.clientId, kid, privateKey };
}

/** A client assertion for the token endpoint `audience`, with a jti of its own. */
export function clientAssertion(backend: BenchBackend, audience: string, expiresAt: number | string = '4m'): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES384', kid: backend.kid, typ: 'JWT' })
    .setIssuer(backend.clientId)
    .setSubject(backend.clientId)
    .setAudience(audience)
    .setExpirationTime(expiresAt)
    .setJti(randomBytes(16).toString('base64url'))
    .sign(backend.privateKey);
}
