import { describe, it, expect } from 'vitest';
import type { JWK } from 'jose';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { getDb } from '../db';
import { ORIGIN, testTokens } from '../fhir/test-support';
import { getPublicJwks, getSigningKey } from '../oauth/keys';
import { decodeTokenJwt, explainJwtMember } from './token-jwt';
import { getTokenDetail } from './tokens';

// Issue 7: the console's token page shows the raw JWT, its decoded header and claims, and whether
// its signature verifies against the server's JWKS.

/** Replaces one base64url segment of a compact JWS. */
function withSegment(jwt: string, index: number, segment: string): string {
  const parts = jwt.split('.');
  parts[index] = segment;
  return parts.join('.');
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('decodeTokenJwt', () => {
  it('decodes an issued access token and verifies its ES256 signature with the JWKS', async () => {
    const jwt = await testTokens().issue('launch/patient patient/*.rs', { patientId: 'pat-jwt', userId: 'Patient/pat-jwt' });
    const decoded = await decodeTokenJwt(jwt, await getPublicJwks());
    expect(decoded).not.toBeNull();
    expect(decoded?.raw).toBe(jwt);
    expect(`${decoded?.parts.header}.${decoded?.parts.payload}.${decoded?.parts.signature}`).toBe(jwt);
    expect(decoded?.header).toEqual(decodeProtectedHeader(jwt));
    expect(decoded?.header).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: (await getSigningKey('ES256')).kid });
    expect(decoded?.claims).toEqual(decodeJwt(jwt));
    expect(decoded?.claims).toMatchObject({ iss: ORIGIN, patient: 'pat-jwt', scope: 'launch/patient patient/*.rs' });
    expect(decoded?.signature.state).toBe('valid');
  });

  it('reports a token whose payload was altered as invalid', async () => {
    const jwt = await testTokens().issue('patient/*.rs', { patientId: 'pat-a' });
    const claims = decodeJwt(jwt);
    const forged = withSegment(jwt, 1, b64({ ...claims, patient: 'pat-b' }));
    const decoded = await decodeTokenJwt(forged, await getPublicJwks());
    expect(decoded?.claims.patient).toBe('pat-b');
    expect(decoded?.signature.state).toBe('invalid');
    expect(decoded?.signature.detail).toMatch(/does not verify/);
  });

  it('reports a token signed by another key under the server kid as invalid', async () => {
    const { kid } = await getSigningKey('ES256');
    const { privateKey } = await generateKeyPair('ES256');
    const foreign = await new SignJWT({ scope: 'system/*.rs' })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
      .setIssuer(ORIGIN)
      .setJti('forged')
      .sign(privateKey);
    expect((await decodeTokenJwt(foreign, await getPublicJwks()))?.signature.state).toBe('invalid');
  });

  it('refuses any algorithm but ES256, whatever the header says', async () => {
    const jwt = await testTokens().issue('patient/*.rs');
    const noneAlg = withSegment(withSegment(jwt, 0, b64({ ...decodeProtectedHeader(jwt), alg: 'none' })), 2, '');
    const decoded = await decodeTokenJwt(noneAlg, await getPublicJwks());
    expect(decoded?.header.alg).toBe('none');
    expect(decoded?.signature.state).toBe('invalid');
  });

  it('says when the signing key is no longer in the JWKS', async () => {
    const jwt = await testTokens().issue('patient/*.rs');
    const { kid } = decodeProtectedHeader(jwt);
    const jwks = await getPublicJwks();
    const without = { keys: jwks.keys.filter((k: JWK) => k.kid !== kid) };
    const decoded = await decodeTokenJwt(jwt, without);
    expect(decoded?.signature).toMatchObject({ state: 'unknown-key', kid });
    // Another key of the same algorithm, not the signer, does not verify it either.
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    const other = { keys: [{ ...(await exportJWK(publicKey)), kid: String(kid), alg: 'ES256', use: 'sig' }] };
    expect((await decodeTokenJwt(jwt, other))?.signature.state).toBe('invalid');
  });

  it('returns null for a value that is not a compact JWS', async () => {
    const jwks = await getPublicJwks();
    expect(await decodeTokenJwt('opaque-refresh-token', jwks)).toBeNull();
    expect(await decodeTokenJwt('a.b.c', jwks)).toBeNull();
  });

  it('explains header members and claims, with dates spelled out', () => {
    expect(explainJwtMember('header', 'typ', 'at+jwt')).toMatch(/RFC 9068/);
    expect(explainJwtMember('claims', 'exp', 0)).toMatch(/1970-01-01T00:00:00.000Z$/);
    expect(explainJwtMember('claims', 'x-custom', 1)).toBeNull();
  });
});

describe('getTokenDetail', () => {
  it('shows the stored JWT of an access token, its claims decoded from it', async () => {
    const jwt = await testTokens().issue('launch/patient patient/Observation.rs', { patientId: 'pat-detail', userId: 'Patient/pat-detail' });
    const jti = String(decodeJwt(jwt).jti);
    const detail = await getTokenDetail(jti, { origin: ORIGIN });
    expect(detail?.jwt?.raw).toBe(jwt);
    expect(detail?.claimsSource).toBe('jwt');
    expect(detail?.claims).toEqual(decodeJwt(jwt));
    expect(detail?.claims?.jti).toBe(jti);
    expect(detail?.header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(detail?.jwt?.signature.state).toBe('valid');
  });

  it('falls back to rebuilt claims for a token issued before JWTs were stored', async () => {
    const jwt = await testTokens().issue('patient/*.rs', { patientId: 'pat-old' });
    const jti = String(decodeJwt(jwt).jti);
    await getDb().token.update({ where: { id: jti }, data: { jwt: null } });
    const detail = await getTokenDetail(jti, { origin: ORIGIN });
    expect(detail?.jwt).toBeNull();
    expect(detail?.claimsSource).toBe('rebuilt');
    expect(detail?.claims).toEqual(decodeJwt(jwt));
  });

  it('shows a refresh token as its hash prefix only', async () => {
    const db = getDb();
    await db.token.create({
      data: {
        id: 'RT-hash',
        sandboxId: 'default',
        kind: 'refresh',
        clientId: 'test-client',
        scope: 'offline_access',
        tokenHash: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
        expiresAt: new Date(Date.now() + 60_000),
      },
    });
    const detail = await getTokenDetail('RT-hash', { origin: ORIGIN });
    expect(detail?.refreshHashPrefix).toBe('abcdefghijkl');
    expect(detail?.jwt).toBeNull();
    expect(detail?.claims).toBeNull();
    expect(detail?.header).toBeNull();
  });
});
