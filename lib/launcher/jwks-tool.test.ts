import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateRegistrationKeyPair, jwksFromPublicKey } from './jwks-tool';

describe('the JWKS of a public key', () => {
  it('reads PEM and JWK, RSA and EC P-384, and names the key by its thumbprint unless told', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const fromPem = await jwksFromPublicKey(rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    if (!fromPem.ok) throw new Error(fromPem.error);
    expect(fromPem.alg).toBe('RS384');
    expect(fromPem.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const fromJwk = await jwksFromPublicKey(JSON.stringify(rsa.publicKey.export({ format: 'jwk' })));
    expect(fromJwk).toEqual(fromPem);
    const named = await jwksFromPublicKey({ keys: [rsa.publicKey.export({ format: 'jwk' })] }, 'my-key');
    expect(named.ok && named.jwks.keys[0]?.kid).toBe('my-key');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const es = await jwksFromPublicKey(ec.publicKey.export({ format: 'jwk' }));
    expect(es.ok && es.alg).toBe('ES384');
  });

  it('refuses private keys, other curves, short RSA keys, several keys and text that is no key', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const cases: unknown[] = [
      rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      rsa.privateKey.export({ format: 'jwk' }),
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }),
      generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }),
      { keys: [rsa.publicKey.export({ format: 'jwk' }), rsa.publicKey.export({ format: 'jwk' })] },
      '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----',
      'hello',
      42,
    ];
    for (const input of cases) expect((await jwksFromPublicKey(input)).ok, JSON.stringify(input).slice(0, 80)).toBe(false);
  });

  it('a generated key pair holds a private key whose public half is the JWKS', async () => {
    for (const alg of ['RS384', 'ES384'] as const) {
      const pair = await generateRegistrationKeyPair(alg);
      expect(pair.privateKeyPem).toContain('BEGIN PRIVATE KEY');
      expect(pair.privateJwk.d).toBeTruthy();
      const again = await jwksFromPublicKey(pair.jwks.keys[0]);
      expect(again.ok && again.jwks).toEqual(pair.jwks);
    }
  });
});
