/**
 * private_key_jwt assertions at the token endpoint: replay protection (docs/CONFORMANCE.md #72, #178; RFC 7523
 * §3 item 7), which keys verify once their imported form is cached (#73), and the backend launch
 * the launcher armed for a client.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { getDb } from '../db';
import { DEFAULT_LAUNCH_OPTIONS } from '../launch-options/options';
import { createLaunch, findLaunch } from './launches';
import { cachedAssertionKeyCount, pruneExpiredJtis } from './client-assertion';
import { clearClientJwksCache } from './client-jwks';
import { updateClient } from './clients';
import { CLOCK_SKEW_SECONDS } from './config';
import { handleToken } from './endpoints/token';
import { assertionKeys, assertionParams, form, json, newClient, signAssertion, TOKEN_URL } from './test-support';

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
  clearClientJwksCache();
});

function cc(assertion: string): Promise<Response> {
  return handleToken(form(TOKEN_URL, { grant_type: 'client_credentials', scope: 'system/Patient.rs', ...assertionParams(assertion) }));
}

async function expectRefused(res: Response, description: RegExp): Promise<void> {
  expect(res.status).toBe(401);
  const body = await json(res);
  expect(body.error).toBe('invalid_client');
  expect(body.error_description).toMatch(description);
}

async function backend(alg: 'ES384' | 'RS384' = 'ES384') {
  const keys = await assertionKeys(alg);
  const { client } = await newClient('backend', { jwks: { keys: [keys.jwk as never] } });
  return { client, ...keys };
}

const frozenNow = () => vi.useFakeTimers({ toFake: ['Date'] });

describe('jti replay (docs/CONFORMANCE.md #72, #178)', () => {
  for (const alg of ['ES384', 'RS384'] as const) {
    it(`${alg}: a replayed assertion is refused also once the client's key is cached; a new jti with the same key works`, async () => {
      const { client, sign } = await backend(alg);
      expect((await cc(await sign(client.clientId))).status).toBe(200);
      const before = cachedAssertionKeyCount();
      const assertion = await sign(client.clientId);
      expect((await cc(assertion)).status).toBe(200);
      expect(cachedAssertionKeyCount()).toBe(before); // verified with the cached key
      await expectRefused(await cc(assertion), /jti '[0-9a-f]+' was already used/);
      await expectRefused(await cc(assertion), /already used/);
      expect((await cc(await sign(client.clientId))).status).toBe(200);
    });
  }

  it('the same jti from another client is that client’s own: both are accepted once', async () => {
    const a = await backend();
    const b = await backend();
    const claims = { jti: `shared-${Math.random()}` };
    expect((await cc(await a.sign(a.client.clientId, { claims }))).status).toBe(200);
    expect((await cc(await b.sign(b.client.clientId, { claims }))).status).toBe(200);
    await expectRefused(await cc(await a.sign(a.client.clientId, { claims })), /already used/);
  });

  it('a jti is refused until its first assertion could no longer verify (exp + clock tolerance), and accepted again after that', async () => {
    frozenNow();
    const { client, sign } = await backend();
    const jti = `reused-${Math.random()}`;
    const first = await sign(client.clientId, { claims: { jti, exp: Math.floor(Date.now() / 1000) + 60 } });
    expect((await cc(first)).status).toBe(200);

    // Just inside the window: the first assertion has expired, but a new one with its jti is still a replay.
    vi.setSystemTime(Date.now() + (60 + CLOCK_SKEW_SECONDS - 2) * 1000);
    await expectRefused(await cc(await sign(client.clientId, { claims: { jti } })), /already used/);

    vi.setSystemTime(Date.now() + 4000);
    await expectRefused(await cc(first), /exp is in the past/);
    expect((await cc(await sign(client.clientId, { claims: { jti } }))).status).toBe(200);
    // ...and that new use is protected in turn.
    await expectRefused(await cc(await sign(client.clientId, { claims: { jti } })), /already used/);
  });

  it('concurrent requests with one assertion: exactly one gets a token', async () => {
    const { client, sign } = await backend();
    const assertion = await sign(client.clientId);
    const responses = await Promise.all(Array.from({ length: 12 }, () => cc(assertion)));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 401)).toHaveLength(11);
    for (const res of responses.filter((r) => r.status === 401)) expect((await json(res)).error_description).toMatch(/already used/);
    const tokens = await getDb().token.count({ where: { clientId: client.clientId } });
    expect(tokens).toBe(1);
  });

  it('housekeeping deletes expired jti values only: a live jti stays refused', async () => {
    frozenNow();
    const { client, sign } = await backend();
    const old = await sign(client.clientId, { claims: { exp: Math.floor(Date.now() / 1000) + 10 } });
    expect((await cc(old)).status).toBe(200);
    vi.setSystemTime(Date.now() + (10 + CLOCK_SKEW_SECONDS + 1) * 1000);
    const live = await sign(client.clientId);
    expect((await cc(live)).status).toBe(200);

    await pruneExpiredJtis();
    const left = await getDb().assertionJti.findMany({ where: { clientId: client.clientId }, select: { jti: true } });
    expect(left.map((r) => r.jti)).toEqual([decodeJwt(live).jti]);
    await expectRefused(await cc(live), /already used/);
  });
});

describe('keys come from the current registration on every request (docs/CONFORMANCE.md #73)', () => {
  it('a key removed from the registration is refused at once, though its imported key is cached', async () => {
    const a = await assertionKeys('ES384', 'key-a');
    const b = await assertionKeys('RS384', 'key-b');
    const { client } = await newClient('backend', { jwks: { keys: [a.jwk as never, b.jwk as never] } });
    expect((await cc(await a.sign(client.clientId))).status).toBe(200);
    expect((await cc(await b.sign(client.clientId))).status).toBe(200);
    const cached = cachedAssertionKeyCount();
    expect((await cc(await a.sign(client.clientId))).status).toBe(200);
    expect(cachedAssertionKeyCount()).toBe(cached);

    await updateClient(client.clientId, { jwks: { keys: [b.jwk as never] } });
    await expectRefused(await cc(await a.sign(client.clientId)), /no registered key has kid 'key-a'/);
    expect((await cc(await b.sign(client.clientId))).status).toBe(200);
  });

  it('a kid re-registered with new key material: the old private key no longer verifies', async () => {
    const old = await assertionKeys('ES384', 'rotating');
    const { client } = await newClient('backend', { jwks: { keys: [old.jwk as never] } });
    expect((await cc(await old.sign(client.clientId))).status).toBe(200);

    const next = await assertionKeys('ES384', 'rotating');
    await updateClient(client.clientId, { jwks: { keys: [next.jwk as never] } });
    await expectRefused(await cc(await old.sign(client.clientId)), /signature does not verify with key 'rotating'/);
    expect((await cc(await next.sign(client.clientId))).status).toBe(200);
  });

  it('a key gone from an uncached jwks_uri set is refused on the next request', async () => {
    const kept = await generateKeyPair('RS384');
    const dropped = await generateKeyPair('ES384');
    const keptJwk = { ...(await exportJWK(kept.publicKey)), kid: 'kept', alg: 'RS384' };
    const droppedJwk = { ...(await exportJWK(dropped.publicKey)), kid: 'dropped', alg: 'ES384' };
    let served = [keptJwk, droppedJwk];
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response(JSON.stringify({ keys: served }), { status: 200, headers: { 'content-type': 'application/json' } })),
    );
    const { client } = await newClient('backend', { jwksUri: `http://localhost:4567/rotating/jwks.json?${Math.random()}` });
    expect((await cc(await signAssertion(dropped.privateKey, 'ES384', 'dropped', client.clientId))).status).toBe(200);
    expect((await cc(await signAssertion(dropped.privateKey, 'ES384', 'dropped', client.clientId))).status).toBe(200);

    served = [keptJwk];
    await expectRefused(await cc(await signAssertion(dropped.privateKey, 'ES384', 'dropped', client.clientId)), /no registered key has kid 'dropped'/);
    expect((await cc(await signAssertion(kept.privateKey, 'RS384', 'kept', client.clientId))).status).toBe(200);
  });
});

describe('the backend launch armed for a client', () => {
  it('the newest live one applies to one request each, newest first; expired and EHR launches are skipped', async () => {
    frozenNow();
    const { client, sign } = await backend();
    const backendLaunch = (ttlSeconds?: number) =>
      createLaunch({ clientId: client.clientId, ttlSeconds, options: { ...DEFAULT_LAUNCH_OPTIONS, launchType: 'backend-service' } });
    const tick = async (ms: number) => {
      vi.setSystemTime(Date.now() + ms);
      await new Promise((r) => setTimeout(r, 5)); // distinct createdAt whichever clock sets it
    };
    const older = await backendLaunch();
    await tick(1000);
    const expired = await backendLaunch(10);
    await tick(11_000);
    const newer = await backendLaunch();
    await tick(1000);
    const ehr = await createLaunch({ clientId: client.clientId, patientId: 'p-1', options: { ...DEFAULT_LAUNCH_OPTIONS, launchType: 'provider-ehr' } });

    const launchOf = async () => {
      const res = await cc(await sign(client.clientId));
      expect(res.status).toBe(200);
      return decodeJwt(String((await json(res)).access_token)).launch_id ?? null;
    };
    expect(await launchOf()).toBe(newer);
    expect(await launchOf()).toBe(older);
    expect(await launchOf()).toBeNull();
    expect((await findLaunch(expired))?.consumedAt).toBeNull();
    expect((await findLaunch(ehr))?.consumedAt).toBeNull();
  });
});
