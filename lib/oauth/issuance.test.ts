/**
 * What the token endpoint's and the FHIR API's fast paths must never trade away: a token verified
 * once is still checked against its row on every request (revocation and expiry at once), no token
 * is recorded under a revoked grant, and a deleted client or replaced secret stops working at once.
 * (RFC 6749 §4.1.2, §10.4; RFC 7009 §2; RFC 9700 §4.14.2; docs/CONFORMANCE.md #57, #87, #113, #135.)
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { getDb } from '../db';
import { verifyAccessToken } from './access-token';
import { deleteClient, rotateClientSecret } from './clients';
import { handleIntrospect } from './endpoints/introspect';
import { handleRevoke } from './endpoints/revoke';
import { handleToken } from './endpoints/token';
import { revokeGrant } from './grant-store';
import { basic, exchange, FHIR_BASE, form, getCode, json, newClient, ORIGIN, TOKEN_URL } from './test-support';
import { issueTokens } from './tokens';

const SCOPE = 'openid fhirUser launch/patient patient/*.rs offline_access';

async function exchanged() {
  const { client, clientSecret } = await newClient('confidential-symmetric');
  const auth = basic(client.clientId, clientSecret!);
  const { code, verifier } = await getCode(client);
  const res = await exchange(code, verifier, { headers: auth });
  expect(res.status).toBe(200);
  const body = await json(res);
  return { client, clientSecret: clientSecret!, auth, body, accessToken: String(body.access_token), refreshToken: String(body.refresh_token) };
}

const jtiOf = (jwt: string) => (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
const verify = (token: string) => verifyAccessToken(token, { sandboxId: 'default', fhirBase: FHIR_BASE });

afterEach(() => {
  vi.useRealTimers();
});

describe('a verified access token is re-checked against its row on every use', () => {
  it('revocation applies to the very next request after the token was accepted', async () => {
    const { auth, accessToken } = await exchanged();
    expect((await verify(accessToken)).ok).toBe(true);
    expect((await verify(accessToken)).ok).toBe(true);
    const revoked = await handleRevoke(form(`${ORIGIN}/oauth/revoke`, { token: accessToken }, auth));
    expect(revoked.status).toBe(200);
    expect(await verify(accessToken)).toMatchObject({ ok: false, error: 'invalid_token', description: expect.stringMatching(/revoked/) });
    const intro = await json(await handleIntrospect(form(`${ORIGIN}/oauth/introspect`, { token: accessToken }, auth)));
    expect(intro).toEqual({ active: false });
  });

  it('a token accepted before its exp is refused once exp has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { accessToken, body } = await exchanged();
    expect((await verify(accessToken)).ok).toBe(true);
    vi.setSystemTime(Date.now() + (Number(body.expires_in) + 1) * 1000);
    expect(await verify(accessToken)).toMatchObject({ ok: false, description: expect.stringMatching(/expired/) });
  });

  it('a revoked grant takes its tokens with it, accepted before or not', async () => {
    const { accessToken } = await exchanged();
    expect((await verify(accessToken)).ok).toBe(true);
    const row = await getDb().token.findUniqueOrThrow({ where: { id: jtiOf(accessToken) } });
    await revokeGrant(row.grantId!);
    expect(await verify(accessToken)).toMatchObject({ ok: false, description: expect.stringMatching(/revoked/) });
  });
});

describe('no token is recorded under a revoked grant', () => {
  it('issuance under a grant revoked after the grant module read it writes nothing and is invalid_grant', async () => {
    const { client, accessToken } = await exchanged();
    const { grantId } = await getDb().token.findUniqueOrThrow({ where: { id: jtiOf(accessToken) } });
    await revokeGrant(grantId!);
    const before = await getDb().token.count({ where: { grantId: grantId! } });
    await expect(
      issueTokens({
        sandboxId: 'default',
        client,
        grantId: grantId!,
        userId: 'Practitioner/prac-1',
        context: { patient: 'pat-1', encounter: null, fhirUser: 'Practitioner/prac-1', launchKind: 'standalone' },
        launchId: null,
        scope: SCOPE,
        accessTtlSeconds: 300,
        issuer: ORIGIN,
        fhirBase: FHIR_BASE,
        refresh: { scope: SCOPE, ttlSeconds: 3600, parentId: null },
        idToken: { nonce: null },
      }),
    ).rejects.toMatchObject({ code: 'invalid_grant' });
    expect(await getDb().token.count({ where: { grantId: grantId! } })).toBe(before);
  });

  it('issuance under a live grant records the access and refresh token rows with their lifetimes', async () => {
    const { accessToken, refreshToken, body } = await exchanged();
    const access = await getDb().token.findUniqueOrThrow({ where: { id: jtiOf(accessToken) } });
    expect(access).toMatchObject({ kind: 'access', jwt: accessToken, revoked: false, rotated: false, patientId: 'pat-1', scope: SCOPE });
    expect(Math.abs(access.expiresAt.getTime() - access.issuedAt.getTime() - Number(body.expires_in) * 1000)).toBeLessThan(1000);
    const refresh = await getDb().token.findMany({ where: { grantId: access.grantId, kind: 'refresh' } });
    expect(refresh).toHaveLength(1);
    expect(refresh[0]).toMatchObject({ jwt: null, revoked: false, rotated: false });
    expect(refresh[0]!.tokenHash).not.toBe(refreshToken);
    expect(refresh[0]!.expiresAt.getTime()).toBeGreaterThan(Date.now() + 60_000);
  });
});

describe('a replay concurrent with the legitimate use of a grant (RFC 9700 §4.14.2; docs/CONFORMANCE.md #87)', () => {
  it('a refresh racing a replay of an older refresh token of the same grant leaves no active token', async () => {
    for (let round = 0; round < 5; round++) {
      const { auth, refreshToken: first } = await exchanged();
      const rotated = await json(await handleToken(form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: first }, auth)));
      const [legit, replay] = await Promise.all([
        handleToken(form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: String(rotated.refresh_token) }, auth)),
        handleToken(form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: first }, auth)),
      ]);
      expect(replay.status).toBe(400);
      expect((await json(replay)).error).toBe('invalid_grant');
      const legitBody = await json(legit);
      // Whichever finished first, nothing issued from the grant may stay usable.
      for (const token of [rotated.access_token, legitBody.access_token].filter((t): t is string => typeof t === 'string')) {
        expect((await verify(token)).ok).toBe(false);
      }
      if (typeof legitBody.refresh_token === 'string') {
        const again = await handleToken(form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: legitBody.refresh_token }, auth));
        expect(again.status).toBe(400);
      }
    }
  });
});

describe('client authentication reads the client every time', () => {
  it('a deleted client is refused at once, and its tokens are dead', async () => {
    const { client, auth, accessToken, refreshToken } = await exchanged();
    expect(await deleteClient(client.clientId)).toBe(true);
    const res = await handleToken(form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: refreshToken }, auth));
    expect(res.status).toBe(401);
    expect((await json(res)).error).toBe('invalid_client');
    expect((await verify(accessToken)).ok).toBe(false);
  });

  it('a replaced secret is refused on the next request', async () => {
    const { client, auth, refreshToken } = await exchanged();
    const rotated = await rotateClientSecret(client.clientId);
    const old = await handleToken(form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: refreshToken }, auth));
    expect(old.status).toBe(401);
    const fresh = await handleToken(
      form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: refreshToken }, basic(client.clientId, rotated!.clientSecret)),
    );
    expect(fresh.status).toBe(200);
  });
});
