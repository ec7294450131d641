import { describe, expect, it } from 'vitest';
import { getDb } from '../db';
import { createLaunch } from './launches';
import { handleAuthorize } from './endpoints/authorize';
import { getInteractionOrThrow } from './interaction';
import { assertionKeys, authorizeGet, authorizeQuery, FHIR_BASE, interactionIdOf, location, newClient, ORIGIN, pkce, REDIRECT } from './test-support';

const { challenge } = pkce();

async function expectPage(res: Response, text: RegExp) {
  expect(res.status).toBe(400);
  expect(res.headers.get('location')).toBeNull();
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  // Only the sandbox's own EHR frame may show the page; it has no form to act on.
  expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
  const csp = res.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("frame-ancestors 'self'");
  expect(csp).toContain("form-action 'none'");
  expect(csp).toContain("default-src 'none'");
  const body = await res.text();
  expect(body).not.toMatch(/<form|<a /i);
  expect(body).toMatch(text);
}

function expectErrorRedirect(res: Response, error: string, description: RegExp, state = 'st-123') {
  expect(res.status).toBe(303);
  const url = location(res);
  expect(`${url.origin}${url.pathname}`).toBe(REDIRECT);
  expect(url.searchParams.get('error')).toBe(error);
  expect(url.searchParams.get('error_description')).toMatch(description);
  expect(url.searchParams.get('state')).toBe(state);
  expect(url.searchParams.get('iss')).toBe(ORIGIN);
  expect(url.searchParams.get('code')).toBeNull();
}

async function lastAudit() {
  return getDb().auditRecord.findFirstOrThrow({ where: { endpoint: '/oauth/authorize' }, orderBy: { at: 'desc' } });
}

describe('/oauth/authorize: no redirect before client_id and redirect_uri match (docs/CONFORMANCE.md #39)', () => {
  it('#170: unknown client_id → 400 page, no redirect', async () => {
    await expectPage(await authorizeGet(authorizeQuery({ client_id: 'nobody' }, challenge)), /No client is registered with client_id &#x27;nobody&#x27;/);
    const audit = await lastAudit();
    expect(audit.status).toBe(400);
    expect(audit.errorCode).toBe('invalid_request');
  });

  it('#168: redirect_uri not registered (even a prefix or trailing-slash variant) → 400 page', async () => {
    const { client } = await newClient('public');
    for (const bad of [`${REDIRECT}/`, `${REDIRECT}?x=1`, 'https://evil.example/callback', REDIRECT.toUpperCase()]) {
      await expectPage(await authorizeGet(authorizeQuery({ client_id: client.clientId, redirect_uri: bad }, challenge)), /does not exactly match/);
    }
  });

  it('missing redirect_uri → 400 page', async () => {
    const { client } = await newClient('public');
    await expectPage(await authorizeGet(authorizeQuery({ client_id: client.clientId, redirect_uri: undefined }, challenge)), /no redirect_uri/);
  });

  it('repeated client_id or redirect_uri → 400 page (RFC 6749 §3.1)', async () => {
    const { client } = await newClient('public');
    const q = authorizeQuery({ client_id: client.clientId }, challenge);
    q.append('redirect_uri', 'https://evil.example/cb');
    await expectPage(await authorizeGet(q), /sent 2 times/);
  });

  it('POST with a non-form content type → 400 page', async () => {
    const res = await handleAuthorize(
      new Request(`${ORIGIN}/oauth/authorize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
    );
    await expectPage(res, /application\/x-www-form-urlencoded/);
  });
});

describe('/oauth/authorize: errors after redirect_uri validation redirect with error, state and iss (docs/CONFORMANCE.md #40, #41)', () => {
  it('repeated parameter → invalid_request', async () => {
    const { client } = await newClient('public');
    const q = authorizeQuery({ client_id: client.clientId }, challenge);
    q.append('scope', 'openid');
    expectErrorRedirect(await authorizeGet(q), 'invalid_request', /'scope' sent more than once/);
  });

  it('#38: response_type=token → unsupported_response_type; missing → invalid_request', async () => {
    const { client } = await newClient('public');
    expectErrorRedirect(
      await authorizeGet(authorizeQuery({ client_id: client.clientId, response_type: 'token' }, challenge)),
      'unsupported_response_type',
      /only 'code'/,
    );
    expectErrorRedirect(
      await authorizeGet(authorizeQuery({ client_id: client.clientId, response_type: undefined }, challenge)),
      'invalid_request',
      /response_type is required/,
    );
  });

  it('#42 / N2 (G10 9.4): a foreign aud gets no code: invalid_request; missing aud too', async () => {
    const { client } = await newClient('confidential-symmetric');
    expectErrorRedirect(
      await authorizeGet(authorizeQuery({ client_id: client.clientId, aud: 'https://inferno.healthit.gov/invalid_aud' }, challenge)),
      'invalid_request',
      /is not this FHIR server/,
    );
    expectErrorRedirect(await authorizeGet(authorizeQuery({ client_id: client.clientId, aud: undefined }, challenge)), 'invalid_request', /aud is required/);
    expectErrorRedirect(
      await authorizeGet(authorizeQuery({ client_id: client.clientId, aud: `${FHIR_BASE}/Patient` }, challenge)),
      'invalid_request',
      /is not this FHIR server/,
    );
  });

  it('#4: aud matches after normalising a trailing slash and scheme/host case', async () => {
    const { client } = await newClient('public');
    for (const aud of [`${FHIR_BASE}/`, 'HTTP://LOCALHOST:3000/fhir']) {
      expect((await authorizeGet(authorizeQuery({ client_id: client.clientId, aud }, challenge))).status).toBe(303);
    }
    expectErrorRedirect(
      await authorizeGet(authorizeQuery({ client_id: client.clientId, aud: 'http://localhost:3000/FHIR' }, challenge)),
      'invalid_request',
      /not this FHIR server/,
    );
  });

  it('#43 #172: PKCE plain, missing method, missing challenge and a malformed challenge are refused', async () => {
    const { client } = await newClient('confidential-symmetric');
    const id = client.clientId;
    expectErrorRedirect(
      await authorizeGet(authorizeQuery({ client_id: id, code_challenge_method: 'plain' }, challenge)),
      'invalid_request',
      /'plain' is refused/,
    );
    expectErrorRedirect(
      await authorizeGet(authorizeQuery({ client_id: id, code_challenge_method: undefined }, challenge)),
      'invalid_request',
      /code_challenge_method is required/,
    );
    expectErrorRedirect(
      await authorizeGet(authorizeQuery({ client_id: id, code_challenge: undefined, code_challenge_method: undefined }, challenge)),
      'invalid_request',
      /code_challenge is required/,
    );
    expectErrorRedirect(await authorizeGet(authorizeQuery({ client_id: id, code_challenge: 'short' }, challenge)), 'invalid_request', /43-character/);
  });

  it('#52: a SMART v1 client with PKCE off may omit PKCE, but never use plain', async () => {
    const { client } = await newClient('confidential-symmetric', { pkceRequired: false });
    expect(
      (await authorizeGet(authorizeQuery({ client_id: client.clientId, code_challenge: undefined, code_challenge_method: undefined }, challenge))).status,
    ).toBe(303);
    expectErrorRedirect(
      await authorizeGet(authorizeQuery({ client_id: client.clientId, code_challenge_method: 'plain' }, challenge)),
      'invalid_request',
      /plain/,
    );
  });

  it('#93 #95 #181: an invalid scope is invalid_scope naming it; out-of-order permissions are refused', async () => {
    const { client } = await newClient('public');
    expectErrorRedirect(
      await authorizeGet(authorizeQuery({ client_id: client.clientId, scope: 'openid patient/Observation.dus' }, challenge)),
      'invalid_scope',
      /patient\/Observation\.dus/,
    );
    expectErrorRedirect(
      await authorizeGet(authorizeQuery({ client_id: client.clientId, scope: 'openid Patient/observation.read' }, challenge)),
      'invalid_scope',
      /Patient\//,
    );
    expectErrorRedirect(await authorizeGet(authorizeQuery({ client_id: client.clientId, scope: undefined }, challenge)), 'invalid_scope', /scope is required/);
    expectErrorRedirect(
      await authorizeGet(authorizeQuery({ client_id: client.clientId, scope: 'system/*.rs' }, challenge)),
      'invalid_scope',
      /backend services/,
    );
  });

  it('scopes the client may not have are dropped with a reason (shown at consent)', async () => {
    const { client } = await newClient('public', { scope: 'openid fhirUser launch/patient patient/Observation.rs' });
    const res = await authorizeGet(authorizeQuery({ client_id: client.clientId, scope: 'openid launch/patient patient/*.rs offline_access' }, challenge));
    const view = await getInteractionOrThrow(interactionIdOf(res));
    expect(view.droppedScopes.map((d) => d.scope)).toEqual(['patient/*.rs', 'offline_access']);
    expect(view.droppedScopes[0]!.reason).toMatch(/only partly allowed/);
  });

  it('backend clients cannot use /oauth/authorize: unauthorized_client', async () => {
    const { client } = await newClient('backend', { jwks: { keys: [(await assertionKeys('ES384', 'k')).jwk as never] } });
    // A backend client has no redirect URI, so this is an error page.
    await expectPage(await authorizeGet(authorizeQuery({ client_id: client.clientId }, challenge)), /does not exactly match/);
  });

  it('request objects are not supported (OIDC Core §6)', async () => {
    const { client } = await newClient('public');
    expectErrorRedirect(
      await authorizeGet(authorizeQuery({ client_id: client.clientId, request: 'eyJ...' }, challenge)),
      'request_not_supported',
      /request objects/,
    );
  });

  it('#41: state comes back byte for byte, on errors too', async () => {
    const { client } = await newClient('public');
    const state = 'a b+c/d?e=f&g=h%20ü😀"\'<>';
    expectErrorRedirect(
      await authorizeGet(authorizeQuery({ client_id: client.clientId, aud: 'https://x.example', state }, challenge)),
      'invalid_request',
      /aud/,
      state,
    );
  });

  it('an error redirect keeps a registered redirect_uri query as registered', async () => {
    const redirect = 'https://app.example.org/cb?tenant=a%20b';
    const { client } = await newClient('public', { redirectUris: [redirect] });
    const res = await authorizeGet(authorizeQuery({ client_id: client.clientId, redirect_uri: redirect, response_type: 'token' }, challenge));
    expect(res.headers.get('location')).toMatch(/^https:\/\/app\.example\.org\/cb\?tenant=a%20b&error=unsupported_response_type&/);
  });
});

describe('/oauth/authorize: EHR launch (docs/CONFORMANCE.md #45, #156, #171)', () => {
  const ehrScope = 'launch openid fhirUser patient/*.rs';

  it('a live launch bound to this client is accepted and used up (single-use)', async () => {
    const { client } = await newClient('confidential-symmetric');
    const launch = await createLaunch({ clientId: client.clientId, patientId: 'pat-9', encounterId: 'enc-9', userId: 'Practitioner/prac-1' });
    const res = await authorizeGet(authorizeQuery({ client_id: client.clientId, scope: ehrScope, launch }, challenge));
    expect(res.status).toBe(303);
    const view = await getInteractionOrThrow(interactionIdOf(res));
    expect(view.ehrLaunch).toBe(true);
    expect(view.launch).toMatchObject({ id: launch, patientId: 'pat-9', encounterId: 'enc-9' });
    expect(view.needsPatient).toBe(false);
    expectErrorRedirect(
      await authorizeGet(authorizeQuery({ client_id: client.clientId, scope: ehrScope, launch }, challenge)),
      'invalid_request',
      /already used/,
    );
  });

  it('unknown, expired and other-client launches → invalid_request without context', async () => {
    const { client } = await newClient('confidential-symmetric');
    const { client: other } = await newClient('public');
    expectErrorRedirect(
      await authorizeGet(authorizeQuery({ client_id: client.clientId, scope: ehrScope, launch: 'no-such-launch' }, challenge)),
      'invalid_request',
      /is unknown/,
    );
    const foreign = await createLaunch({ clientId: other.clientId, patientId: 'secret-patient' });
    const res = await authorizeGet(authorizeQuery({ client_id: client.clientId, scope: ehrScope, launch: foreign }, challenge));
    expectErrorRedirect(res, 'invalid_request', /another client/);
    expect(res.headers.get('location')).not.toMatch(/secret-patient/);
    const expired = await createLaunch({ clientId: client.clientId, patientId: 'p' });
    await getDb().launch.update({ where: { id: expired }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expectErrorRedirect(
      await authorizeGet(authorizeQuery({ client_id: client.clientId, scope: ehrScope, launch: expired }, challenge)),
      'invalid_request',
      /expired/,
    );
  });

  it('the launch scope without a launch parameter, and a launch parameter without the scope, are invalid_request', async () => {
    const { client } = await newClient('confidential-symmetric');
    expectErrorRedirect(
      await authorizeGet(authorizeQuery({ client_id: client.clientId, scope: ehrScope }, challenge)),
      'invalid_request',
      /needs the launch parameter/,
    );
    const launch = await createLaunch({ clientId: client.clientId, patientId: 'p' });
    expectErrorRedirect(
      await authorizeGet(authorizeQuery({ client_id: client.clientId, scope: 'openid patient/*.rs', launch }, challenge)),
      'invalid_request',
      /without the 'launch' scope/,
    );
  });
});

describe('/oauth/authorize: success (docs/CONFORMANCE.md #37, #49, #51)', () => {
  it('GET creates an interaction and 303-redirects to the interaction screens, frame-proof, without CORS', async () => {
    const { client } = await newClient('public');
    const res = await authorizeGet(authorizeQuery({ client_id: client.clientId }, challenge).toString());
    expect(res.status).toBe(303);
    expect(location(res).origin).toBe(ORIGIN);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const view = await getInteractionOrThrow(interactionIdOf(res));
    expect(view.client.clientId).toBe(client.clientId);
    expect(view.needsPatient).toBe(true);
    expect(view.openid).toBe(true);
    expect(view.offlineAccess).toBe(true);
    const audit = await lastAudit();
    expect(audit).toMatchObject({ status: 303, errorCode: null, clientId: client.clientId });
  });

  it('#37 #9: POST form works the same way', async () => {
    const { client } = await newClient('confidential-symmetric');
    const res = await handleAuthorize(
      new Request(`${ORIGIN}/oauth/authorize`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: authorizeQuery({ client_id: client.clientId }, challenge).toString(),
      }),
    );
    expect(res.status).toBe(303);
    expect(location(res).pathname).toMatch(/^\/interaction\//);
  });
});
