import { describe, expect, it } from 'vitest';
import { generateKeyPair, jwtVerify, SignJWT } from 'jose';
import type { CryptoKey, JWTPayload } from 'jose';
import { signJwt, verifyJwt } from './jws';

const es = await generateKeyPair('ES256');
const rs = await generateKeyPair('RS256');
const other = await generateKeyPair('ES256');
const NOW = 1_800_000_000;
const at = new Date(NOW * 1000);
const claims: JWTPayload = { iss: 'http://localhost', aud: 'http://localhost/fhir', sub: 'c', jti: 'j1', iat: NOW - 10, exp: NOW + 300, scope: 'patient/*.rs' };
const opts = { alg: 'ES256' as const, typ: 'at+jwt', requiredClaims: ['jti', 'exp', 'aud'], currentDate: at };

function joseSigned(payload: JWTPayload, header: Record<string, unknown> = { alg: 'ES256', typ: 'at+jwt', kid: 'k' }, key: CryptoKey = es.privateKey) {
  return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key);
}

function tamper(jwt: string, part: 0 | 1 | 2, replace: (segment: string) => string): string {
  const parts = jwt.split('.');
  parts[part] = replace(parts[part]!);
  return parts.join('.');
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('signJwt', () => {
  it('signs ES256 and RS256 tokens that jose verifies', async () => {
    const access = signJwt({ alg: 'ES256', kid: 'k', typ: 'at+jwt' }, claims, es.privateKey);
    const { payload, protectedHeader } = await jwtVerify(access, es.publicKey, { algorithms: ['ES256'], typ: 'at+jwt', currentDate: at });
    expect(payload).toEqual(claims);
    expect(protectedHeader).toEqual({ alg: 'ES256', kid: 'k', typ: 'at+jwt' });
    const id = signJwt({ alg: 'RS256', kid: 'r', typ: 'JWT' }, { ...claims, nonce: 'n' }, rs.privateKey);
    expect((await jwtVerify(id, rs.publicKey, { algorithms: ['RS256'], currentDate: at })).payload.nonce).toBe('n');
  });

  it('refuses a key of the other algorithm and non-finite dates', () => {
    expect(() => signJwt({ alg: 'RS256' }, claims, es.privateKey)).toThrow(TypeError);
    expect(() => signJwt({ alg: 'ES256' }, { ...claims, exp: Infinity }, es.privateKey)).toThrow(TypeError);
  });
});

describe('verifyJwt', () => {
  it('accepts what jose signs, with the same payload', async () => {
    const jwt = await joseSigned(claims);
    expect(verifyJwt(jwt, es.publicKey, opts)).toEqual({ ok: true, payload: claims, header: { alg: 'ES256', typ: 'at+jwt', kid: 'k' } });
  });

  it('refuses a signature of another key, a changed payload, header or signature', async () => {
    const jwt = await joseSigned(claims);
    expect(verifyJwt(await joseSigned(claims, undefined, other.privateKey), es.publicKey, opts)).toEqual({ ok: false, reason: 'signature' });
    expect(
      verifyJwt(
        tamper(jwt, 1, () => b64({ ...claims, scope: 'system/*.*' })),
        es.publicKey,
        opts,
      ),
    ).toEqual({ ok: false, reason: 'signature' });
    expect(
      verifyJwt(
        tamper(jwt, 0, () => b64({ alg: 'ES256', typ: 'at+jwt', kid: 'x' })),
        es.publicKey,
        opts,
      ),
    ).toEqual({ ok: false, reason: 'signature' });
    expect(
      verifyJwt(
        tamper(jwt, 2, (s) => s.slice(0, -2) + (s.endsWith('AA') ? 'AB' : 'AA')),
        es.publicKey,
        opts,
      ),
    ).toEqual({ ok: false, reason: 'signature' });
    expect(
      verifyJwt(
        tamper(jwt, 2, (s) => s.slice(0, 20)),
        es.publicKey,
        opts,
      ),
    ).toEqual({ ok: false, reason: 'signature' });
  });

  it('refuses other algorithms, none, extensions and malformed tokens before any signature check', async () => {
    expect(verifyJwt(await joseSigned(claims, { alg: 'RS256', typ: 'at+jwt' }, rs.privateKey), es.publicKey, opts).ok).toBe(false);
    expect(verifyJwt(`${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claims)}.`, es.publicKey, opts)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyJwt(await joseSigned(claims, { alg: 'ES256', typ: 'at+jwt', crit: ['b64'], b64: true }), es.publicKey, opts)).toEqual({
      ok: false,
      reason: 'malformed',
    });
    for (const bad of ['', 'a.b', 'a.b.c.d', 'a+b.c.d', `${b64([1])}.${b64(claims)}.AA`]) expect(verifyJwt(bad, es.publicKey, opts).ok).toBe(false);
  });

  it('checks typ, required claims and the types of the dates like jose', async () => {
    for (const [payload, header] of [
      [claims, { alg: 'ES256', typ: 'JWT' }],
      [claims, { alg: 'ES256' }],
      [{ ...claims, jti: undefined }, undefined],
      [{ ...claims, aud: undefined }, undefined],
      [{ ...claims, exp: String(NOW + 300) }, undefined],
      [{ ...claims, iat: 'yesterday' }, undefined],
      [{ ...claims, nbf: NOW + 1 }, undefined],
    ] as [JWTPayload, Record<string, unknown> | undefined][]) {
      const jwt = await joseSigned(JSON.parse(JSON.stringify(payload)) as JWTPayload, header);
      expect(verifyJwt(jwt, es.publicKey, opts)).toEqual({ ok: false, reason: 'claims' });
      await expect(
        jwtVerify(jwt, es.publicKey, { algorithms: ['ES256'], typ: 'at+jwt', requiredClaims: ['jti', 'exp', 'aud'], currentDate: at }),
      ).rejects.toThrow();
    }
    expect(verifyJwt(await joseSigned({ ...claims, nbf: NOW }), es.publicKey, opts).ok).toBe(true);
  });

  it('reports an expired token with its genuine payload, at the same instant as jose', async () => {
    const jwt = await joseSigned({ ...claims, exp: NOW });
    expect(verifyJwt(jwt, es.publicKey, opts)).toEqual({ ok: false, reason: 'expired', payload: { ...claims, exp: NOW } });
    await expect(jwtVerify(jwt, es.publicKey, { algorithms: ['ES256'], currentDate: at })).rejects.toThrow(/"exp" claim timestamp check failed/);
    expect(verifyJwt(jwt, es.publicKey, { ...opts, currentDate: new Date((NOW - 1) * 1000) }).ok).toBe(true);
  });
});
