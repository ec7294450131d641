// Single use under concurrency, over real HTTP against the running server (SQLite or PostgreSQL):
// the same authorization code, or the same refresh token, sent in several requests at once. Exactly
// one request may use it up (RFC 6749 §4.1.2; RFC 9700 §4.14.2): every other one is refused and
// audited as a replay, and once the replay is detected no token issued from that grant is active
// (docs/CONFORMANCE.md #57, #87).
import { describe, it, expect, inject, beforeAll } from 'vitest';
import type * as oauth from 'oauth4webapi';
import { BrowserSession } from './support/browserless';
import { serverLib } from './support/ehr-launch';
import { APP_REDIRECT_URI, buildAuthorizationRequest, discover, fhirGet, registerSymmetricClient } from './support/smart-client';
import type { RegisteredClient } from './support/smart-client';

const base = inject('baseUrl');
const databaseUrl = inject('databaseUrl');
const PATIENT = 'pat-42-0';
const SCOPE = 'openid fhirUser launch/patient offline_access patient/Patient.rs';
const RACERS = 6;

let as: oauth.AuthorizationServer;
let reg: RegisteredClient;
let basic: string;

beforeAll(async () => {
  as = await discover(base);
  reg = await registerSymmetricClient(base);
  basic = `Basic ${Buffer.from(`${encodeURIComponent(reg.client.client_id)}:${encodeURIComponent(reg.secret ?? '')}`).toString('base64')}`;
});

async function freshCode(): Promise<{ code: string; verifier: string }> {
  const request = await buildAuthorizationRequest(as, reg.client.client_id, { scope: SCOPE, aud: `${base}/fhir` });
  const { callback } = await new BrowserSession(base).authorize(request.url, { persona: `Patient/${PATIENT}` });
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code in ${callback.href}`);
  return { code, verifier: request.verifier };
}

interface TokenAnswer {
  status: number;
  body: { access_token?: string; refresh_token?: string; error?: string };
}

function tokenRequest(params: Record<string, string>): Promise<TokenAnswer> {
  return fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
    body: new URLSearchParams(params).toString(),
  }).then(async (res) => ({ status: res.status, body: (await res.json()) as TokenAnswer['body'] }));
}

async function introspect(token: string): Promise<boolean> {
  const res = await fetch(`${base}/oauth/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
    body: new URLSearchParams({ token }).toString(),
  });
  return ((await res.json()) as { active: boolean }).active;
}

/** Audit records of this client's token requests since `since`, with the flag. */
async function flaggedSince(since: Date, flag: string): Promise<number> {
  const { db } = await serverLib(databaseUrl);
  const rows = await db.auditRecord.findMany({
    where: { endpoint: '/oauth/token', clientId: reg.client.client_id, at: { gte: since } },
    select: { flags: true },
  });
  return rows.filter((r) => (r.flags ?? '').split(' ').includes(flag)).length;
}

/** The tokens that were issued must all be dead once a replay was seen. */
async function expectNoActiveToken(answers: TokenAnswer[]): Promise<void> {
  for (const a of answers.filter((x) => x.status === 200)) {
    expect(await introspect(a.body.access_token!)).toBe(false);
    expect(await introspect(a.body.refresh_token!)).toBe(false);
    expect((await fhirGet(base, `Patient/${PATIENT}`, a.body.access_token)).status).toBe(401);
  }
}

describe('one code, several concurrent exchanges (RFC 6749 §4.1.2; docs/CONFORMANCE.md #57)', () => {
  it('exactly one exchange uses the code up; the others are invalid_grant replays; no issued token stays active', async () => {
    const { code, verifier } = await freshCode();
    const since = new Date(Date.now() - 1000);
    const answers = await Promise.all(
      Array.from({ length: RACERS }, () => tokenRequest({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: APP_REDIRECT_URI })),
    );
    // At most one token response: the code is single use. (The one exchange that used the code up
    // may itself be refused when a replay revoked its grant before its tokens were written.)
    expect(answers.filter((a) => a.status === 200).length).toBeLessThanOrEqual(1);
    for (const a of answers.filter((x) => x.status !== 200)) {
      expect(a.status).toBe(400);
      expect(a.body.error).toBe('invalid_grant');
    }
    // Exactly one request flipped the code; each of the others was detected as a replay.
    expect(await flaggedSince(since, 'code-replay')).toBe(RACERS - 1);
    await expectNoActiveToken(answers);
  });

  it('a code used once, alone, gives tokens that work', async () => {
    const { code, verifier } = await freshCode();
    const answer = await tokenRequest({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: APP_REDIRECT_URI });
    expect(answer.status).toBe(200);
    expect(await introspect(answer.body.access_token!)).toBe(true);
    expect((await fhirGet(base, `Patient/${PATIENT}`, answer.body.access_token)).status).toBe(200);
  });
});

describe('one refresh token, several concurrent refreshes (RFC 9700 §4.14.2; docs/CONFORMANCE.md #87)', () => {
  it('exactly one refresh rotates the token; the others are refresh-token replays that revoke the grant', async () => {
    const { code, verifier } = await freshCode();
    const first = await tokenRequest({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: APP_REDIRECT_URI });
    expect(first.status).toBe(200);
    const since = new Date(Date.now() - 1000);
    const answers = await Promise.all(
      Array.from({ length: RACERS }, () => tokenRequest({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token! })),
    );
    expect(answers.filter((a) => a.status === 200).length).toBeLessThanOrEqual(1);
    for (const a of answers.filter((x) => x.status !== 200)) {
      expect(a.status).toBe(400);
      expect(a.body.error).toBe('invalid_grant');
    }
    expect(await flaggedSince(since, 'refresh-replay')).toBe(RACERS - 1);
    // The grant is revoked: the tokens of the original exchange die too.
    await expectNoActiveToken([first, ...answers]);
  });
});

describe('a refresh racing a replay of an older refresh token of the same grant (RFC 9700 §4.14.2)', () => {
  it('the replay is refused and revokes the grant; no token of the grant stays active, and nothing fails with a 5xx', async () => {
    for (let round = 0; round < 5; round++) {
      const { code, verifier } = await freshCode();
      const first = await tokenRequest({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: APP_REDIRECT_URI });
      const second = await tokenRequest({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token! });
      expect(second.status).toBe(200);
      const [legit, replay] = await Promise.all([
        tokenRequest({ grant_type: 'refresh_token', refresh_token: second.body.refresh_token! }),
        tokenRequest({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token! }),
      ]);
      expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      expect([200, 400]).toContain(legit.status);
      await expectNoActiveToken([first, second, legit]);
    }
  });
});
