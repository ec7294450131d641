// docs/CONFORMANCE.md §18 over real HTTP: Inferno's negative tests (N1–N25) and the spec requirements
// Inferno does not test (#168–#182), each asserting the status and error code docs/CONFORMANCE.md
// names. Malformed requests are hand-built (a spec-strict client library refuses to send them);
// well-formed parts of the flows go through oauth4webapi and the real interaction screens.
import { randomUUID } from 'node:crypto';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, expect, inject, beforeAll } from 'vitest';
import * as oauth from 'oauth4webapi';
import { SignJWT, exportJWK, generateKeyPair, importJWK } from 'jose';
import type { CryptoKey as JoseKey, JWK } from 'jose';
import { BrowserSession } from './support/browserless';
import type { InteractionInput } from './support/browserless';
import { createEhrLaunch, serverLib } from './support/ehr-launch';
import {
  APP_REDIRECT_URI,
  buildAuthorizationRequest,
  bundleRefs,
  discover,
  fhirGet,
  insecure,
  registerBackendService,
  registerClient,
  registerPublicClient,
  registerSymmetricClient,
  runCodeFlow,
  systemToken,
} from './support/smart-client';
import type { AuthorizationRequest, BackendService, RegisteredClient, SmartTokenResponse } from './support/smart-client';

const base = inject('baseUrl');
const databaseUrl = inject('databaseUrl');
const fhirBase = `${base}/fhir`;
// Deterministic seed (SEED=42).
const PATIENT = 'pat-42-0';
const OTHER_PATIENT = 'pat-42-1';
const PRACTITIONER = 'Practitioner/practitioner-1';
const OBS_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const COND_CATEGORY = 'http://terminology.hl7.org/CodeSystem/condition-category';
const PATIENT_SCOPE = 'openid fhirUser launch/patient offline_access patient/Patient.rs patient/Observation.rs';

let as: oauth.AuthorizationServer;
let confidential: RegisteredClient;
let system = '';

beforeAll(async () => {
  as = await discover(base);
  confidential = await registerSymmetricClient(base);
  system = await systemToken(base, as, 'system/*.rs');
});

function basic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

async function tokenRequest(
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

/** Runs authorize + the interaction screens; returns the code without exchanging it. */
async function obtainCode(
  reg: RegisteredClient,
  scope: string,
  interaction: InteractionInput = { persona: `Patient/${PATIENT}` },
): Promise<{ code: string; request: AuthorizationRequest }> {
  const request = await buildAuthorizationRequest(as, reg.client.client_id, { scope, aud: fhirBase });
  const { callback } = await new BrowserSession(base).authorize(request.url, interaction);
  const params = oauth.validateAuthResponse(as, reg.client, callback, request.state);
  return { code: params.get('code') ?? '', request };
}

/** One GET of /oauth/authorize, redirects not followed. */
async function authorize(params: Record<string, string>): Promise<{ status: number; location: URL | null; text: string; headers: Headers }> {
  const url = new URL(as.authorization_endpoint ?? '');
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const res = await fetch(url, { redirect: 'manual', headers: { origin: 'https://app.example' } });
  const location = res.headers.get('location');
  return { status: res.status, location: location ? new URL(location, base) : null, text: await res.text(), headers: res.headers };
}

async function validAuthorizeParams(clientId: string, overrides: Record<string, string | null> = {}): Promise<Record<string, string>> {
  const verifier = oauth.generateRandomCodeVerifier();
  const params: Record<string, string | null> = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: APP_REDIRECT_URI,
    scope: PATIENT_SCOPE,
    state: `st-${randomUUID()}`,
    aud: fhirBase,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(params).filter((e): e is [string, string] => e[1] !== null));
}

/** A redirect to the app with `error` and the same state, and no code. */
function expectErrorRedirect(res: { status: number; location: URL | null }, state: string, error: string): URL {
  expect([302, 303]).toContain(res.status);
  const loc = res.location;
  expect(loc?.origin + (loc?.pathname ?? '')).toBe(APP_REDIRECT_URI);
  expect(loc?.searchParams.get('error')).toBe(error);
  expect(loc?.searchParams.get('state')).toBe(state);
  expect(loc?.searchParams.has('code')).toBe(false);
  return loc as URL;
}

// A token whose lifetime (10 s, set in the EHR launch) runs out while the other tests run (#174).
let shortLived: { token: string; expiresAt: number } | null = null;

describe('docs/CONFORMANCE.md §18: Inferno negative tests', () => {
  beforeAll(async () => {
    const reg = await registerSymmetricClient(base);
    const launch = await createEhrLaunch(databaseUrl, base, {
      clientId: reg.client.client_id,
      patientId: OTHER_PATIENT,
      userFhirUser: PRACTITIONER,
      tokenLifetimeSeconds: 10,
    });
    const { tokens } = await runCodeFlow(base, as, reg, { scope: 'launch user/Patient.rs', launch: launch.launch, interaction: { persona: PRACTITIONER } });
    expect(tokens.expires_in).toBe(10);
    shortLived = { token: tokens.access_token, expiresAt: Date.now() + 10_000 };
  });

  it('N1 (G10 1.9.10 g10_unauthorized_access): GET Patient/{id} without Authorization → 401 exactly', async () => {
    const res = await fhirGet(base, `Patient/${PATIENT}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  it('N2 (G10 9.4 g10_smart_invalid_aud): aud=https://inferno.healthit.gov/invalid_aud → no code, error redirect with state', async () => {
    const params = await validAuthorizeParams(confidential.client.client_id, { aud: 'https://inferno.healthit.gov/invalid_aud' });
    const loc = expectErrorRedirect(await authorize(params), params.state ?? '', 'invalid_request');
    expect(loc.searchParams.get('error_description')).toMatch(/aud/);
  });

  it('N3 (G10 9.17.03): code=BAD_CODE with valid Basic auth and verifier → 400 invalid_grant', async () => {
    const res = await tokenRequest(
      { grant_type: 'authorization_code', code: 'BAD_CODE', redirect_uri: APP_REDIRECT_URI, code_verifier: oauth.generateRandomCodeVerifier() },
      { authorization: basic(confidential.client.client_id, confidential.secret ?? '') },
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
    expect(res.headers.get('cache-control')).toContain('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
  });

  it('N4 (G10 9.17.04): the real code with Basic BAD_CLIENT_ID:<real secret> → 400 or 401 invalid_client', async () => {
    const { code, request } = await obtainCode(confidential, PATIENT_SCOPE);
    const res = await tokenRequest(
      { grant_type: 'authorization_code', code, redirect_uri: APP_REDIRECT_URI, code_verifier: request.verifier },
      { authorization: basic('BAD_CLIENT_ID', confidential.secret ?? '') },
    );
    expect([400, 401]).toContain(res.status);
    expect(res.body.error).toBe('invalid_client');
    if (res.status === 401) expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
  });

  const verifierCases: [string, (r: AuthorizationRequest) => Record<string, string>][] = [
    ['N5 (G10 9.18.03 smart_no_verifier_token_request): no code_verifier', () => ({})],
    ['N6 (G10 9.18.06 smart_blank_verifier_token_request): code_verifier= (empty)', () => ({ code_verifier: '' })],
    ['N7 (G10 9.18.09 smart_bad_code_verifier_token_request): code_verifier=<uuid>-<uuid>', () => ({ code_verifier: `${randomUUID()}-${randomUUID()}` })],
    ['N8 (G10 9.18.12 smart_plain_code_verifier_token_request): code_verifier=<the S256 challenge>', (r) => ({ code_verifier: r.challenge })],
  ];
  for (const [name, verifier] of verifierCases) {
    it(`${name} → 400 or 401 (invalid_grant), confidential client`, async () => {
      const { code, request } = await obtainCode(confidential, PATIENT_SCOPE);
      const res = await tokenRequest(
        { grant_type: 'authorization_code', code, redirect_uri: APP_REDIRECT_URI, ...verifier(request) },
        { authorization: basic(confidential.client.client_id, confidential.secret ?? '') },
      );
      expect([400, 401]).toContain(res.status);
      expect(res.body.error).toBe('invalid_grant');
      expect(typeof res.body.error_description).toBe('string');
    });
  }

  it('N9 (G10 1.6.06 g10_invalid_token_refresh): refresh_token=<random uuid> with valid client auth → 400 or 401', async () => {
    const res = await tokenRequest(
      { grant_type: 'refresh_token', refresh_token: randomUUID() },
      { authorization: basic(confidential.client.client_id, confidential.secret ?? '') },
    );
    expect([400, 401]).toContain(res.status);
    expect(res.body.error).toBe('invalid_grant');
  });

  it('N10 + N11 (G10 9.3.02, 9.3.03): after revocation, GET Patient → 401/403/404 and refresh with the revoked token (Basic) → 400/401', async () => {
    const { tokens } = await runCodeFlow(base, as, confidential, { scope: PATIENT_SCOPE, interaction: { persona: `Patient/${PATIENT}` } });
    expect((await fhirGet(base, `Patient/${PATIENT}`, tokens.access_token)).status).toBe(200);
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, confidential.client, confidential.auth(), tokens.refresh_token ?? '', insecure));
    const read = await fhirGet(base, `Patient/${PATIENT}`, tokens.access_token);
    expect([401, 403, 404]).toContain(read.status);
    const refresh = await tokenRequest(
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token ?? '' },
      { authorization: basic(confidential.client.client_id, confidential.secret ?? '') },
    );
    expect([400, 401]).toContain(refresh.status);
    expect(refresh.body.error).toBe('invalid_grant');
  });

  describe('N12 + N13 (G10 2.3.x restricted access, 2.4.10 g10_limited_scope_grant): the user unticks a type at consent', () => {
    let tokens: SmartTokenResponse;
    beforeAll(async () => {
      const reg = await registerSymmetricClient(base);
      ({ tokens } = await runCodeFlow(base, as, reg, {
        scope: 'openid fhirUser launch/patient patient/Patient.rs patient/AllergyIntolerance.rs patient/Observation.rs patient/Condition.rs',
        interaction: { persona: `Patient/${PATIENT}`, consent: { untick: ['patient/AllergyIntolerance.rs', 'patient/Condition.rs'] } },
      }));
    });

    it('N13: the granted scope leaves out the de-selected types and keeps the selected ones', () => {
      const granted = (tokens.scope ?? '').split(' ');
      expect(granted).not.toContain('patient/AllergyIntolerance.rs');
      expect(granted).not.toContain('patient/Condition.rs');
      expect(granted).toEqual(expect.arrayContaining(['patient/Patient.rs', 'patient/Observation.rs', 'launch/patient', 'openid', 'fhirUser']));
    });

    it('N12: search and read of a de-selected type → 403 with an OperationOutcome (never a 200 empty Bundle); granted types → 200', async () => {
      for (const path of [`AllergyIntolerance?patient=${PATIENT}`, `Condition?patient=${PATIENT}`]) {
        const res = await fhirGet(base, path, tokens.access_token);
        expect([401, 403], path).toContain(res.status);
        expect(res.status, `${path}: docs/CONFORMANCE.md names 403 for a scope problem`).toBe(403);
        expect(res.body.resourceType).toBe('OperationOutcome');
      }
      expect((await fhirGet(base, `Observation?patient=${PATIENT}`, tokens.access_token)).status).toBe(200);
      expect((await fhirGet(base, `Patient?_id=${PATIENT}`, tokens.access_token)).status).toBe(200);
    });
  });

  describe('N14–N16 (G10 9.23/9.25 granular scope read/search, 9.26 g10_smart_granular_scope_selection): category scopes chosen at consent', () => {
    let tokens: SmartTokenResponse;
    const lab = `patient/Observation.rs?category=${OBS_CATEGORY}|laboratory`;
    const problems = `patient/Condition.rs?category=${COND_CATEGORY}|problem-list-item`;

    beforeAll(async () => {
      const reg = await registerSymmetricClient(base);
      ({ tokens } = await runCodeFlow(base, as, reg, {
        scope: 'launch/patient patient/Condition.rs patient/Observation.rs patient/Patient.rs',
        interaction: {
          persona: `Patient/${PATIENT}`,
          consent: { categories: { 'patient/Observation.rs': [`${OBS_CATEGORY}|laboratory`], 'patient/Condition.rs': [`${COND_CATEGORY}|problem-list-item`] } },
        },
      }));
    });

    it('N16: the grant has the category scopes, no resource-level Condition/Observation scope, and a v2 Patient scope', () => {
      const granted = (tokens.scope ?? '').split(' ');
      expect(granted).toContain(lab);
      expect(granted).toContain(problems);
      expect(granted).not.toContain('patient/Observation.rs');
      expect(granted).not.toContain('patient/Condition.rs');
      expect(granted.some((s) => /^patient\/Patient\.c?ru?d?s?$/.test(s) && s.includes('r'))).toBe(true);
    });

    it('N14: reading an Observation or Condition outside the granted categories → non-200 4xx', async () => {
      const vitals = (await fhirGet(base, `Observation?patient=${PATIENT}&category=vital-signs&_count=1`, system)).body.entry?.[0]?.resource?.id;
      expect(vitals).toBeDefined();
      const read = await fhirGet(base, `Observation/${vitals}`, tokens.access_token);
      expect(read.status).toBeGreaterThanOrEqual(400);
      expect(read.status).toBeLessThan(500);
      const diagnoses = (await fhirGet(base, `Condition?patient=${PATIENT}&category=encounter-diagnosis&_count=1`, system)).body.entry?.[0]?.resource?.id;
      if (diagnoses) {
        const c = await fhirGet(base, `Condition/${diagnoses}`, tokens.access_token);
        expect(c.status).toBeGreaterThanOrEqual(400);
        expect(c.status).toBeLessThan(500);
      }
      const labId = (await fhirGet(base, `Observation?patient=${PATIENT}&category=laboratory&_count=1`, system)).body.entry?.[0]?.resource?.id;
      expect((await fhirGet(base, `Observation/${labId}`, tokens.access_token)).status).toBe(200);
    });

    it('N15: searches return 200 with all and only the matching resources', async () => {
      const all = async (path: string, token: string): Promise<string[]> => {
        const refs: string[] = [];
        let url: string | null = `${fhirBase}/${path}`;
        while (url) {
          const res: Response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
          if (res.status !== 200) return [`status ${res.status}`];
          const b = (await res.json()) as { entry?: { resource?: { resourceType?: string; id?: string } }[]; link?: { relation: string; url: string }[] };
          refs.push(...(b.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`));
          url = b.link?.find((l) => l.relation === 'next')?.url ?? null;
        }
        return refs.sort();
      };
      const labs = await all(`Observation?patient=${PATIENT}&category=laboratory&_count=100`, system);
      expect(labs.length).toBeGreaterThan(0);
      for (const q of [
        `Observation?patient=${PATIENT}&category=laboratory`,
        `Observation?patient=${PATIENT}&category=${encodeURIComponent(`${OBS_CATEGORY}|laboratory`)}`,
      ]) {
        expect(await all(`${q}&_count=100`, tokens.access_token), q).toEqual(labs);
      }
      // The sandbox answers 200 with the granted category applied, never a 4xx, for searches of a granted type.
      expect(await all(`Observation?patient=${PATIENT}&_count=100`, tokens.access_token), 'Observation?patient= with a lab-only token').toEqual(labs);
      expect(await all(`Observation?patient=${PATIENT}&category=vital-signs&_count=100`, tokens.access_token)).toEqual([]);

      const problemList = await all(`Condition?patient=${PATIENT}&category=problem-list-item&_count=100`, system);
      expect(await all(`Condition?patient=${PATIENT}&category=problem-list-item&_count=100`, tokens.access_token)).toEqual(problemList);
    });
  });

  describe('backend services (N17–N20)', () => {
    let backend: BackendService;

    beforeAll(async () => {
      backend = await registerBackendService(base, { name: 'neg backend', kid: 'neg-es384', scope: 'system/Patient.rs' });
    });

    async function assertion(claims: Record<string, unknown> = {}): Promise<string> {
      return new SignJWT({ jti: randomUUID(), ...claims })
        .setProtectedHeader({ alg: 'ES384', kid: backend.kid, typ: 'JWT' })
        .setIssuer(String(claims.iss ?? backend.clientId))
        .setSubject(backend.clientId)
        .setAudience(`${base}/oauth/token`)
        .setExpirationTime('5m')
        .sign(backend.privateKey);
    }

    it('N17 (SAL 3.2.02, G10 8.1.02): grant_type=not_a_grant_type → 400 unsupported_grant_type', async () => {
      const res = await tokenRequest({
        grant_type: 'not_a_grant_type',
        scope: 'system/Patient.rs',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await assertion(),
      });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('unsupported_grant_type');
    });

    it('N18 + N19 (SAL 3.2.03/3.2.04, G10 8.1.03): client_assertion_type=not_an_assertion_type → 400 exactly', async () => {
      const res = await tokenRequest({
        grant_type: 'client_credentials',
        scope: 'system/Patient.rs',
        client_assertion_type: 'not_an_assertion_type',
        client_assertion: await assertion(),
      });
      expect(res.status).toBe(400);
      expect(['invalid_client', 'invalid_request']).toContain(res.body.error);
    });

    it('N20 (G10 8.1.04): a signed assertion with iss=not_a_valid_iss (sub = the real client) → 400 or 401 invalid_client', async () => {
      const res = await tokenRequest({
        grant_type: 'client_credentials',
        scope: 'system/Patient.rs',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await assertion({ iss: 'not_a_valid_iss' }),
      });
      expect([400, 401]).toContain(res.status);
      expect(res.body.error).toBe('invalid_client');
    });
  });

  it('N21 (SAL 4.2.02 → 4.3.02): introspect token=invalid_token_value → 200 {"active":false} and nothing else', async () => {
    const res = await oauth.introspectionRequest(as, confidential.client, confidential.auth(), 'invalid_token_value', insecure);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ active: false });
  });

  it('N22 (G10 8.2.x, BDT rejects_without_authorization): GET Group/{id}/$export without a token → 400 or 401', async () => {
    const res = await fetch(`${fhirBase}/Group/any-group/$export`, { headers: { accept: 'application/fhir+json', prefer: 'respond-async' } });
    expect([400, 401]).toContain(res.status);
  });

  /** A completed system export of Patient (IG-style polling): its status URL and manifest. */
  async function completedExport(): Promise<{ statusUrl: string; manifest: { requiresAccessToken: boolean; output: { url: string }[] } }> {
    const kick = await fetch(`${fhirBase}/$export?_type=Patient`, {
      headers: { accept: 'application/fhir+json', prefer: 'respond-async', authorization: `Bearer ${system}` },
    });
    expect(kick.status).toBe(202);
    const statusUrl = kick.headers.get('content-location')!;
    for (;;) {
      const res = await fetch(statusUrl, { headers: { authorization: `Bearer ${system}` } });
      if (res.status === 200) return { statusUrl, manifest: (await res.json()) as { requiresAccessToken: boolean; output: { url: string }[] } };
      expect(res.status).toBe(202);
      await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after')) * 1000));
    }
  }

  it('N23 (G10 8.3.x): an NDJSON download without a token when requiresAccessToken=true → 400 or 401', async () => {
    const { manifest } = await completedExport();
    expect(manifest.requiresAccessToken).toBe(true);
    const url = manifest.output[0]!.url;
    expect([400, 401]).toContain((await fetch(url)).status);
    expect((await fetch(url, { headers: { authorization: `Bearer ${system}` } })).status).toBe(200);
  });

  it('N24 (G10 bulk_data_group_export_cancel_stu2): DELETE the status URL → 202, then GET it → 404 + OperationOutcome', async () => {
    const { statusUrl } = await completedExport();
    expect((await fetch(statusUrl, { method: 'DELETE', headers: { authorization: `Bearer ${system}` } })).status).toBe(202);
    const after = await fetch(statusUrl, { headers: { authorization: `Bearer ${system}` } });
    expect(after.status).toBe(404);
    expect(((await after.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
  });

  // TLS is terminated in front of the sandbox (it serves plain http on localhost); not testable here.
  it.todo('N25 (SAL *_tls): TLS 1.0/1.1 handshakes refused on authorize, token, FHIR and bulk (a deployment concern: the sandbox serves http)');
});

describe('docs/CONFORMANCE.md §18: requirements Inferno does not test (#168–#182)', () => {
  it('#168: an unregistered or inexact redirect_uri → 400 error page, no redirect', async () => {
    for (const redirect of ['https://evil.example/callback', `${APP_REDIRECT_URI}/`, `${APP_REDIRECT_URI}?x=1`, 'HTTP://127.0.0.1:9/callback']) {
      const params = await validAuthorizeParams(confidential.client.client_id, { redirect_uri: redirect });
      const res = await authorize(params);
      expect(res.status, redirect).toBe(400);
      expect(res.location, redirect).toBeNull();
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    }
    // A missing redirect_uri is refused the same way (SMART apps must send it; docs/CONFORMANCE.md #39).
    const missing = await authorize(await validAuthorizeParams(confidential.client.client_id, { redirect_uri: null }));
    expect(missing.status).toBe(400);
    expect(missing.location).toBeNull();
  });

  it('#169: a token-request redirect_uri that differs from the authorize one → 400 invalid_grant', async () => {
    const { code, request } = await obtainCode(confidential, PATIENT_SCOPE);
    const res = await tokenRequest(
      { grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:9/other', code_verifier: request.verifier },
      { authorization: basic(confidential.client.client_id, confidential.secret ?? '') },
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });

  it('#170: an unknown client_id at /authorize → 400 error page, no redirect', async () => {
    const res = await authorize(await validAuthorizeParams('no-such-client'));
    expect(res.status).toBe(400);
    expect(res.location).toBeNull();
  });

  describe('#171: launch missing, unknown, expired, used before or of another client → error=invalid_request, no context leaked', () => {
    let ehrClient: RegisteredClient;
    const scope = 'launch openid fhirUser user/Patient.rs';
    beforeAll(async () => {
      ehrClient = await registerSymmetricClient(base);
    });

    async function refused(launch: string | null): Promise<URL> {
      const params = await validAuthorizeParams(ehrClient.client.client_id, { scope, launch });
      const loc = expectErrorRedirect(await authorize(params), params.state ?? '', 'invalid_request');
      expect(loc.searchParams.get('error_description') ?? '').not.toContain(OTHER_PATIENT);
      return loc;
    }

    it('missing launch with the launch scope', async () => {
      await refused(null);
    });
    it('unknown launch', async () => {
      await refused('x'.repeat(32));
    });
    it('used before (single use) and created for another client', async () => {
      const launch = await createEhrLaunch(databaseUrl, base, { clientId: ehrClient.client.client_id, patientId: OTHER_PATIENT, userFhirUser: PRACTITIONER });
      const first = await authorize(await validAuthorizeParams(ehrClient.client.client_id, { scope, launch: launch.launch }));
      expect(first.status).toBe(303);
      expect(first.location?.pathname).toMatch(/^\/interaction\//);
      await refused(launch.launch);

      const other = await registerSymmetricClient(base);
      const foreign = await createEhrLaunch(databaseUrl, base, { clientId: other.client.client_id, patientId: OTHER_PATIENT, userFhirUser: PRACTITIONER });
      await refused(foreign.launch);
    });
    it('expired', async () => {
      const launch = await createEhrLaunch(databaseUrl, base, { clientId: ehrClient.client.client_id, patientId: OTHER_PATIENT, userFhirUser: PRACTITIONER });
      const { db } = await serverLib(databaseUrl);
      await db.launch.update({ where: { id: launch.launch }, data: { expiresAt: new Date(Date.now() - 1000) } });
      await refused(launch.launch);
    });
  });

  it('#172: code_challenge_method=plain, a missing method, or a missing code_challenge → error=invalid_request', async () => {
    const cases: Record<string, string | null>[] = [
      { code_challenge_method: 'plain' },
      { code_challenge_method: null },
      { code_challenge: null },
      { code_challenge: null, code_challenge_method: null },
    ];
    for (const overrides of cases) {
      const params = await validAuthorizeParams(confidential.client.client_id, overrides);
      expectErrorRedirect(await authorize(params), params.state ?? '', 'invalid_request');
    }
  });

  it('#173: a code used twice → 400 invalid_grant and the first tokens revoked', async () => {
    const { code, request } = await obtainCode(confidential, PATIENT_SCOPE);
    const form = { grant_type: 'authorization_code', code, redirect_uri: APP_REDIRECT_URI, code_verifier: request.verifier };
    const auth = { authorization: basic(confidential.client.client_id, confidential.secret ?? '') };
    const first = await tokenRequest(form, auth);
    expect(first.status).toBe(200);
    const access = String(first.body.access_token);
    expect((await fhirGet(base, `Patient/${PATIENT}`, access)).status).toBe(200);
    const second = await tokenRequest(form, auth);
    expect(second.status).toBe(400);
    expect(second.body.error).toBe('invalid_grant');
    expect((await fhirGet(base, `Patient/${PATIENT}`, access)).status).toBe(401);
    const refresh = await tokenRequest({ grant_type: 'refresh_token', refresh_token: String(first.body.refresh_token) }, auth);
    expect(refresh.body.error).toBe('invalid_grant');
  });

  it('#173: a code presented by another client, or after its TTL → invalid_grant', async () => {
    const { code, request } = await obtainCode(confidential, PATIENT_SCOPE);
    const other = await registerSymmetricClient(base);
    const stolen = await tokenRequest(
      { grant_type: 'authorization_code', code, redirect_uri: APP_REDIRECT_URI, code_verifier: request.verifier },
      { authorization: basic(other.client.client_id, other.secret ?? '') },
    );
    expect(stolen.status).toBe(400);
    expect(stolen.body.error).toBe('invalid_grant');

    const late = await obtainCode(confidential, PATIENT_SCOPE);
    const { db } = await serverLib(databaseUrl);
    const codeHash = createHash('sha256').update(late.code, 'utf8').digest('base64url');
    expect((await db.authCode.updateMany({ where: { codeHash }, data: { expiresAt: new Date(Date.now() - 1000) } })).count).toBe(1);
    const expired = await tokenRequest(
      { grant_type: 'authorization_code', code: late.code, redirect_uri: APP_REDIRECT_URI, code_verifier: late.request.verifier },
      { authorization: basic(confidential.client.client_id, confidential.secret ?? '') },
    );
    expect(expired.status).toBe(400);
    expect(expired.body.error).toBe('invalid_grant');
  });

  it('#174: a token issued for another FHIR base (aud) → 401 invalid_token', async () => {
    // The same server under another origin: its tokens carry aud = that origin's FHIR base.
    const otherBase = base.replace('//localhost:', '//127.0.0.1:');
    expect(otherBase).not.toBe(base);
    const otherAs = await discover(otherBase);
    const reg = await registerSymmetricClient(otherBase);
    const { tokens } = await runCodeFlow(otherBase, otherAs, reg, { scope: PATIENT_SCOPE, interaction: { persona: `Patient/${PATIENT}` } });
    expect((await fhirGet(otherBase, `Patient/${PATIENT}`, tokens.access_token)).status).toBe(200);
    const res = await fhirGet(base, `Patient/${PATIENT}`, tokens.access_token);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  it('#175, #119: a patient/ token naming another patient → Patient/<other> 404; searches naming it 403 with an OperationOutcome, GET and POST alike', async () => {
    const { tokens } = await runCodeFlow(base, as, confidential, { scope: PATIENT_SCOPE, interaction: { persona: `Patient/${PATIENT}` } });
    const read = await fhirGet(base, `Patient/${OTHER_PATIENT}`, tokens.access_token);
    expect(read.status).toBe(404);
    expect(read.body.resourceType).toBe('OperationOutcome');
    for (const path of [
      `Observation?patient=${OTHER_PATIENT}`,
      `Observation?subject=Patient/${OTHER_PATIENT}`,
      `Patient?_id=${OTHER_PATIENT}`,
      `Patient?_id=${PATIENT},${OTHER_PATIENT}`,
    ]) {
      const get = await fhirGet(base, path, tokens.access_token);
      expect(get.status, `GET ${path}`).toBe(403);
      expect(get.body.resourceType, `GET ${path}`).toBe('OperationOutcome');
      expect(get.headers.get('www-authenticate'), `GET ${path}`).toMatch(/error="insufficient_scope"/);
      const [type, query] = path.split('?') as [string, string];
      const post = await fetch(`${fhirBase}/${type}/_search`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/fhir+json' },
        body: query,
      });
      expect(post.status, `POST ${type}/_search ${query}`).toBe(403);
      expect(((await post.json()) as { resourceType?: string }).resourceType).toBe('OperationOutcome');
    }
    // Control: the same searches naming the own patient answer 200 with data.
    const own = await fhirGet(base, `Observation?patient=${PATIENT}&_count=1`, tokens.access_token);
    expect(own.status).toBe(200);
    expect(bundleRefs(own.body).length).toBe(1);
    expect((await fhirGet(base, `Patient?_id=${PATIENT}`, tokens.access_token)).status).toBe(200);
  });

  it('#176: a write without c/u/d (POST Observation with .rs only) → 403', async () => {
    const { tokens } = await runCodeFlow(base, as, confidential, { scope: PATIENT_SCOPE, interaction: { persona: `Patient/${PATIENT}` } });
    const observation = { resourceType: 'Observation', status: 'final', code: { text: 'note' }, subject: { reference: `Patient/${PATIENT}` } };
    const create = await fetch(`${fhirBase}/Observation`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify(observation),
    });
    expect(create.status).toBe(403);
    const outcome = (await create.json()) as { resourceType?: string };
    expect(outcome.resourceType).toBe('OperationOutcome');
    const obsId = (await fhirGet(base, `Observation?patient=${PATIENT}&_count=1`, tokens.access_token)).body.entry?.[0]?.resource?.id;
    const del = await fetch(`${fhirBase}/Observation/${obsId}`, { method: 'DELETE', headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(del.status).toBe(403);
  });

  it('#177: refresh wider → invalid_scope; by another client → invalid_grant; a reused rotated public-client token → invalid_grant and the grant revoked', async () => {
    const pub = await registerPublicClient(base);
    const { tokens } = await runCodeFlow(base, as, pub, { scope: PATIENT_SCOPE, interaction: { persona: `Patient/${PATIENT}` } });
    const wider = await tokenRequest({
      grant_type: 'refresh_token',
      client_id: pub.client.client_id,
      refresh_token: tokens.refresh_token ?? '',
      scope: `${PATIENT_SCOPE} patient/Condition.rs`,
    });
    expect(wider.status).toBe(400);
    expect(wider.body.error).toBe('invalid_scope');
    const other = await registerPublicClient(base);
    const foreign = await tokenRequest({ grant_type: 'refresh_token', client_id: other.client.client_id, refresh_token: tokens.refresh_token ?? '' });
    expect(foreign.status).toBe(400);
    expect(foreign.body.error).toBe('invalid_grant');

    const rotated = await tokenRequest({ grant_type: 'refresh_token', client_id: pub.client.client_id, refresh_token: tokens.refresh_token ?? '' });
    expect(rotated.status).toBe(200);
    const reuse = await tokenRequest({ grant_type: 'refresh_token', client_id: pub.client.client_id, refresh_token: tokens.refresh_token ?? '' });
    expect(reuse.status).toBe(400);
    expect(reuse.body.error).toBe('invalid_grant');
    const newest = await tokenRequest({ grant_type: 'refresh_token', client_id: pub.client.client_id, refresh_token: String(rotated.body.refresh_token) });
    expect(newest.body.error).toBe('invalid_grant');
    expect((await fhirGet(base, `Patient/${PATIENT}`, String(rotated.body.access_token))).status).toBe(401);
  });

  describe('#178: client assertions (private_key_jwt) → invalid_client', () => {
    let clientId = '';
    let ecKey: JoseKey;
    let otherEcKey: JoseKey;
    const tokenUrl = () => `${base}/oauth/token`;

    beforeAll(async () => {
      const ec = await generateKeyPair('ES384', { extractable: true });
      const rsa = await generateKeyPair('RS384', { extractable: true });
      const other = await generateKeyPair('ES384', { extractable: true });
      ecKey = ec.privateKey;
      otherEcKey = other.privateKey;
      const keys: JWK[] = [
        { ...(await exportJWK(ec.publicKey)), kid: 'ec', alg: 'ES384' },
        { ...(await exportJWK(rsa.publicKey)), kid: 'rsa', alg: 'RS384' },
      ];
      ({ client_id: clientId } = await registerClient(base, {
        client_name: 'neg assertions',
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys },
        scope: 'system/Patient.rs',
      }));
    });

    function sign(opts: { header?: Record<string, unknown>; claims?: Record<string, unknown>; key?: JoseKey | Uint8Array; exp?: number }): Promise<string> {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: clientId, sub: clientId, aud: tokenUrl(), jti: randomUUID(), exp: opts.exp ?? now + 300, ...opts.claims })
        .setProtectedHeader({ alg: 'ES384', kid: 'ec', typ: 'JWT', ...opts.header } as { alg: string })
        .sign(opts.key ?? ecKey);
    }

    async function expectInvalidClient(clientAssertion: string, label: string): Promise<void> {
      const res = await tokenRequest({
        grant_type: 'client_credentials',
        scope: 'system/Patient.rs',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: clientAssertion,
      });
      expect([400, 401], label).toContain(res.status);
      expect(res.body.error, label).toBe('invalid_client');
    }

    it('control: a correct assertion is accepted', async () => {
      const res = await tokenRequest({
        grant_type: 'client_credentials',
        scope: 'system/Patient.rs',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await sign({}),
      });
      expect(res.status).toBe(200);
    });

    it('a jti replayed within 5 min', async () => {
      const jwt = await sign({});
      const first = await tokenRequest({
        grant_type: 'client_credentials',
        scope: 'system/Patient.rs',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: jwt,
      });
      expect(first.status).toBe(200);
      await expectInvalidClient(jwt, 'replayed jti');
    });

    it('exp more than 5 min ahead, or in the past', async () => {
      const now = Math.floor(Date.now() / 1000);
      await expectInvalidClient(await sign({ exp: now + 600 }), 'exp now+600');
      await expectInvalidClient(await sign({ exp: now - 60 }), 'exp in the past');
    });

    it('aud not equal to the token URL', async () => {
      await expectInvalidClient(await sign({ claims: { aud: `${base}/oauth/authorize` } }), 'aud authorize');
      await expectInvalidClient(await sign({ claims: { aud: fhirBase } }), 'aud fhir base');
    });

    it('an unknown kid, a kid whose key does not verify, kty/alg mismatch', async () => {
      await expectInvalidClient(await sign({ header: { kid: 'nope' } }), 'unknown kid');
      await expectInvalidClient(await sign({ key: otherEcKey }), 'wrong key for kid');
      // ES384 header naming the RSA key: kty RSA does not fit alg ES384.
      await expectInvalidClient(await sign({ header: { kid: 'rsa' } }), 'kty/alg mismatch');
    });

    it('two keys with the same kid: refused at registration, and refused at key selection when a jwks_uri serves them', async () => {
      const a = await generateKeyPair('ES384', { extractable: true });
      const b = await generateKeyPair('ES384', { extractable: true });
      const keys = [
        { ...(await exportJWK(a.publicKey)), kid: 'dup', alg: 'ES384' },
        { ...(await exportJWK(b.publicKey)), kid: 'dup', alg: 'ES384' },
      ];
      const inline = await fetch(`${base}/oauth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          grant_types: ['client_credentials'],
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys },
          scope: 'system/Patient.rs',
        }),
      });
      expect(inline.status).toBe(400);
      expect(((await inline.json()) as { error: string; error_description: string }).error_description).toMatch(/kid 'dup' appears more than once/);
      // A JWK Set at a jwks_uri can change after registration; docs/CONFORMANCE.md puts that failure at key selection (#73).
      const jwksServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys })));
      await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = jwksServer.address() as AddressInfo;
        const res = await fetch(`${base}/oauth/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            grant_types: ['client_credentials'],
            token_endpoint_auth_method: 'private_key_jwt',
            jwks_uri: `http://127.0.0.1:${port}/jwks.json`,
            scope: 'system/Patient.rs',
          }),
        });
        expect(res.status).toBe(201);
        const { client_id } = (await res.json()) as { client_id: string };
        const jwt = await new SignJWT({ iss: client_id, sub: client_id, aud: tokenUrl(), jti: randomUUID(), exp: Math.floor(Date.now() / 1000) + 300 })
          .setProtectedHeader({ alg: 'ES384', kid: 'dup', typ: 'JWT' })
          .sign(a.privateKey);
        const refused = await tokenRequest({
          grant_type: 'client_credentials',
          scope: 'system/Patient.rs',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: jwt,
        });
        expect([400, 401]).toContain(refused.status);
        expect(refused.body.error).toBe('invalid_client');
        expect(String(refused.body.error_description)).toMatch(/2 registered keys/);
      } finally {
        await new Promise((resolve) => jwksServer.close(resolve));
      }
    });

    it('a jku off the allow-list', async () => {
      await expectInvalidClient(await sign({ header: { jku: 'https://evil.example/jwks.json' } }), 'jku');
    });

    it('alg none and HS256', async () => {
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const claims = { iss: clientId, sub: clientId, aud: tokenUrl(), jti: randomUUID(), exp: Math.floor(Date.now() / 1000) + 300 };
      await expectInvalidClient(`${enc({ alg: 'none', kid: 'ec', typ: 'JWT' })}.${enc(claims)}.`, 'alg none');
      const hmac = await importJWK({ kty: 'oct', k: Buffer.from('a-shared-secret-of-32-bytes-long!').toString('base64url') }, 'HS256');
      await expectInvalidClient(await sign({ header: { alg: 'HS256' }, key: hmac }), 'HS256');
    });
  });

  it('#179: a backend scope beyond the pre-authorisation → invalid_scope, or down-scoped', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'pre', alg: 'ES384' };
    const { client_id } = await registerClient(base, {
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [jwk] },
      scope: 'system/Patient.rs',
    });
    const jwt = await new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES384', kid: 'pre', typ: 'JWT' })
      .setIssuer(client_id)
      .setSubject(client_id)
      .setAudience(`${base}/oauth/token`)
      .setExpirationTime('5m')
      .sign(privateKey);
    const assertionFor = () =>
      new SignJWT({ jti: randomUUID() })
        .setProtectedHeader({ alg: 'ES384', kid: 'pre', typ: 'JWT' })
        .setIssuer(client_id)
        .setSubject(client_id)
        .setAudience(`${base}/oauth/token`)
        .setExpirationTime('5m')
        .sign(privateKey);
    const form = (scope: string, assertion: string) => ({
      grant_type: 'client_credentials',
      scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
    // Partly beyond: down-scoped to what is pre-authorised, and the response says so (docs/CONFORMANCE.md #142).
    const partly = await tokenRequest(form('system/Patient.rs system/Observation.rs', jwt));
    expect(partly.status).toBe(200);
    expect(partly.body.scope).toBe('system/Patient.rs');
    // Wholly beyond: invalid_scope.
    const beyond = await tokenRequest(form('system/Observation.rs', await assertionFor()));
    expect(beyond.status).toBe(400);
    expect(beyond.body.error).toBe('invalid_scope');
  });

  it('#180: introspection without authentication → 401', async () => {
    const res = await fetch(`${base}/oauth/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=anything',
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).not.toBeNull();
  });

  it('#181: an out-of-order permission (.sr, .dus, .wr) is never read as a broader permission: refused with invalid_scope', async () => {
    // docs/CONFORMANCE.md allows ignoring or refusing; the sandbox refuses and names the bad scope.
    for (const bad of ['patient/Observation.sr', 'patient/Observation.dus', 'patient/Observation.wr']) {
      const params = await validAuthorizeParams(confidential.client.client_id, { scope: `launch/patient patient/Patient.rs ${bad}` });
      const loc = expectErrorRedirect(await authorize(params), params.state ?? '', 'invalid_scope');
      expect(loc.searchParams.get('error_description'), bad).toContain(bad);
    }
  });

  it('#182: /authorize sends no Access-Control-Allow-Origin; the token endpoint reflects only registered public-client origins', async () => {
    const res = await authorize(await validAuthorizeParams(confidential.client.client_id));
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const pub = await registerPublicClient(base);
    const evil = await tokenRequest(
      {
        grant_type: 'authorization_code',
        client_id: pub.client.client_id,
        code: 'x',
        redirect_uri: APP_REDIRECT_URI,
        code_verifier: oauth.generateRandomCodeVerifier(),
      },
      { origin: 'https://evil.example' },
    );
    expect(evil.headers.get('access-control-allow-origin')).not.toBe('https://evil.example');
    expect(evil.headers.get('access-control-allow-origin')).not.toBe('*');
    const registered = await tokenRequest(
      {
        grant_type: 'authorization_code',
        client_id: pub.client.client_id,
        code: 'x',
        redirect_uri: APP_REDIRECT_URI,
        code_verifier: oauth.generateRandomCodeVerifier(),
      },
      { origin: new URL(APP_REDIRECT_URI).origin },
    );
    expect(registered.headers.get('access-control-allow-origin')).toBe(new URL(APP_REDIRECT_URI).origin);
  });

  it('#174: an expired access token → 401 invalid_token (a 10 s token from an EHR launch, checked after it ran out)', async () => {
    expect(shortLived).not.toBeNull();
    const wait = (shortLived?.expiresAt ?? 0) + 1500 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const res = await fhirGet(base, `Patient/${OTHER_PATIENT}`, shortLived?.token);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    expect(res.headers.get('www-authenticate')).toMatch(/expired/);
  });
});
