import { createPublicKey } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import type { JWK } from 'jose';
import { describeZodError, registeredJwksSchema } from '../oauth/client-metadata';
import type { PublicJwks } from '../oauth/client-metadata';

/**
 * The JWKS a backend service (or asymmetric app) registers for private_key_jwt, made from its
 * public key (SMART App Launch 2.2 §client-confidential-asymmetric: RS384 or ES384; docs/CONFORMANCE.md
 * #33, #34). Nothing here is stored: the key pair generator hands the private key out once.
 */

export const KEY_ALGS = ['RS384', 'ES384'] as const;
export type KeyAlg = (typeof KEY_ALGS)[number];

export interface RegistrationJwks {
  readonly jwks: PublicJwks;
  readonly kid: string;
  readonly alg: KeyAlg;
}

export type JwksResult = ({ ok: true } & RegistrationJwks) | { ok: false; error: string };

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** The public JWK with kid (its RFC 7638 thumbprint unless given), alg and use, checked as registration checks it. */
async function toRegistrationKey(jwk: JWK, kid: string | undefined): Promise<JwksResult> {
  let alg: KeyAlg;
  if (jwk.kty === 'RSA') alg = 'RS384';
  else if (jwk.kty === 'EC' && jwk.crv === 'P-384') alg = 'ES384';
  else if (jwk.kty === 'EC') return { ok: false, error: `the key is on curve ${jwk.crv ?? '(none)'}: ES384 needs P-384 (or use an RSA key for RS384)` };
  else return { ok: false, error: `the key type is ${jwk.kty ?? '(none)'}: use RSA (RS384) or EC P-384 (ES384)` };
  if (jwk.alg && jwk.alg !== alg) return { ok: false, error: `the key says alg ${jwk.alg}; SMART backend services sign with RS384 or ES384` };
  const members = jwk.kty === 'RSA' ? { kty: 'RSA', n: jwk.n, e: jwk.e } : { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y };
  const id = kid ?? (await calculateJwkThumbprint(members as JWK, 'sha256'));
  const jwks = { keys: [{ ...members, kid: id, alg, use: 'sig' }] };
  const checked = registeredJwksSchema.safeParse(jwks);
  if (!checked.success) return { ok: false, error: describeZodError(checked.error) };
  return { ok: true, jwks: checked.data, kid: id, alg };
}

/**
 * The JWKS to register for a public key given as PEM (`-----BEGIN PUBLIC KEY-----`, or a
 * certificate), a JWK, or a JWKS with one key (as text or parsed JSON). A private key is refused:
 * it never needs to leave the app.
 */
export async function jwksFromPublicKey(input: unknown, kid?: string): Promise<JwksResult> {
  if (kid !== undefined && (typeof kid !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(kid)))
    return { ok: false, error: 'kid must be 1 to 200 printable characters' };
  let value = input;
  if (typeof value === 'string') {
    const text = value.trim();
    if (text.length > 20_000) return { ok: false, error: 'the key is longer than 20,000 characters' };
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text))
      return { ok: false, error: 'this is a private key: paste the public key only (openssl pkey -in private.pem -pubout)' };
    if (text.startsWith('-----BEGIN')) {
      try {
        const jwk = createPublicKey(text).export({ format: 'jwk' }) as JWK;
        return toRegistrationKey(jwk, kid);
      } catch {
        return { ok: false, error: 'the PEM text is not a public key or certificate' };
      }
    }
    try {
      value = JSON.parse(text);
    } catch {
      return { ok: false, error: 'give a PEM public key (-----BEGIN PUBLIC KEY-----) or a JWK as JSON' };
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, error: 'give a PEM public key or a JWK object' };
  let jwk = value as Record<string, unknown>;
  if (Array.isArray(jwk.keys)) {
    if (jwk.keys.length !== 1) return { ok: false, error: `the JWKS has ${jwk.keys.length} keys: give one key at a time` };
    jwk = jwk.keys[0] as Record<string, unknown>;
    if (typeof jwk !== 'object' || jwk === null) return { ok: false, error: 'the JWKS key is not an object' };
  }
  if (PRIVATE_MEMBERS.some((m) => Object.hasOwn(jwk, m)))
    return { ok: false, error: 'this JWK holds private key members: give the public key only (no d, p, q, …)' };
  try {
    // Importing proves the members form a real public key.
    createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    return { ok: false, error: 'the JWK does not describe a valid public key' };
  }
  return toRegistrationKey(jwk as JWK, kid ?? (typeof jwk.kid === 'string' && jwk.kid ? jwk.kid : undefined));
}

export interface GeneratedKeyPair extends RegistrationJwks {
  /** PKCS #8 PEM of the private key: returned once, never stored. */
  readonly privateKeyPem: string;
  readonly privateJwk: JWK;
}

/** A new key pair for a backend service: the private key (PEM and JWK) and the JWKS to register. */
export async function generateRegistrationKeyPair(alg: KeyAlg = 'RS384'): Promise<GeneratedKeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS384' ? { modulusLength: 2048 } : {}) });
  const made = await toRegistrationKey(await exportJWK(publicKey), undefined);
  if (!made.ok) throw new Error(made.error);
  const privateJwk = { ...(await exportJWK(privateKey)), kid: made.kid, alg, use: 'sig' };
  return { ...made, privateKeyPem: await exportPKCS8(privateKey), privateJwk };
}
