/**
 * Every simulated error through the real endpoints (authorize, token, introspection, FHIR API):
 * the launch says what should fail, the endpoint fails exactly that way, for that launch only.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeJwt } from 'jose';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { getDb } from '../db';
import { ResourceStore } from './store';
import { load, patientRecord, sharedResources } from './test-fixtures';
import { fhirRequest, testHandler } from './test-support';
import type { ClientType, OAuthClient } from '../oauth/clients';
import { handleIntrospect } from '../oauth/endpoints/introspect';
import { handleToken } from '../oauth/endpoints/token';
import { completeInteraction, getInteractionOrThrow } from '../oauth/interaction';
import {
  assertionKeys,
  assertionParams,
  authorizeGet,
  authorizeQuery,
  basic,
  exchange,
  form,
  getCode,
  interactionIdOf,
  json,
  location,
  newClient,
  ORIGIN,
  pkce,
  REDIRECT,
  TOKEN_URL,
} from '../oauth/test-support';
import { createLaunch, findLaunch } from '../oauth/launches';
import type { LaunchOptions } from '../launch-options/options';
import { DEFAULT_LAUNCH_OPTIONS } from '../launch-options/options';
import type { SimulatedError } from '../launch-options/simulated-errors';
import { defaultSimulatedError, SIMULATED_ERROR_KINDS, simulatedErrorProblem } from '../launch-options/simulated-errors';

const PATIENT = 'sim-a';
const EHR_SCOPE = 'launch openid fhirUser patient/*.rs offline_access';
const STANDALONE_SCOPE = 'launch/patient openid fhirUser patient/*.rs offline_access';
const INTROSPECT = `${ORIGIN}/oauth/introspect`;
const { challenge } = pkce();
const fhir = testHandler();

beforeAll(async () => {
  await load(new ResourceStore(), 'default', [...sharedResources(), ...patientRecord(PATIENT, 'Simmons', 'tag-sim')]);
});

afterEach(() => {
  vi.useRealTimers();
});

/** A launch the launcher made for a client: EHR launches name the patient, others are armed for the next authorization. */
function launchFor(client: OAuthClient, options: Partial<LaunchOptions>): Promise<string> {
  const ehr = (options.launchType ?? 'provider-ehr') === 'provider-ehr';
  return createLaunch({ clientId: client.clientId, patientId: ehr ? PATIENT : null, options: { ...DEFAULT_LAUNCH_OPTIONS, ...options } });
}

interface Flow {
  client: OAuthClient;
  launch: string;
  auth: { headers?: Record<string, string>; params?: Record<string, string> };
  body: Record<string, unknown>;
  status: number;
}

/** A whole EHR launch through the real endpoints: launch → authorize → approve → code exchange. */
async function ehrLaunch(simulatedError: SimulatedError | null, opts: { type?: ClientType; options?: Partial<LaunchOptions> } = {}): Promise<Flow> {
  const { client, clientSecret } = await newClient(opts.type ?? 'confidential-symmetric');
  const launch = await launchFor(client, { simulatedError, ...opts.options });
  const { code, verifier } = await getCode(client, { params: { launch, scope: EHR_SCOPE }, complete: { patientId: PATIENT, grantedScope: EHR_SCOPE } });
  const auth = clientSecret ? { headers: basic(client.clientId, clientSecret) } : { params: { client_id: client.clientId } };
  const res = await exchange(code, verifier, auth);
  return { client, launch, auth, body: await json(res), status: res.status };
}

function refresh(flow: Flow, refreshToken = String(flow.body.refresh_token)): Promise<Response> {
  return handleToken(form(TOKEN_URL, { grant_type: 'refresh_token', refresh_token: refreshToken, ...flow.auth.params }, flow.auth.headers));
}

async function fhirGet(path: string, token: unknown): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fhir.handle(fhirRequest(path, String(token)));
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

function issueCode(body: Record<string, unknown>): string | undefined {
  return (body as unknown as OperationOutcome).issue?.[0]?.code;
}

async function introspect(flow: Flow, token: unknown): Promise<Record<string, unknown>> {
  return json(await handleIntrospect(form(INTROSPECT, { token: String(token) }, flow.auth.headers)));
}

async function authorizeAudit() {
  return getDb().auditRecord.findFirstOrThrow({ where: { endpoint: '/oauth/authorize' }, orderBy: { at: 'desc' } });
}

async function expectPage(res: Response, text: RegExp) {
  expect(res.status).toBe(400);
  expect(res.headers.get('location')).toBeNull();
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  expect(await res.text()).toMatch(text);
}

describe('/oauth/authorize: simulated errors fail exactly like the real check', () => {
  it('invalid_client_id: the 400 "Unknown client" page, no redirect; the launch is used up', async () => {
    const { client } = await newClient('public');
    const launch = await launchFor(client, { simulatedError: { kind: 'invalid_client_id' } });
    const res = await authorizeGet(authorizeQuery({ client_id: client.clientId, launch, scope: EHR_SCOPE }, challenge));
    await expectPage(res, new RegExp(`No client is registered with client_id &#x27;${client.clientId}&#x27;`));
    const audit = await authorizeAudit();
    expect(audit).toMatchObject({ status: 400, errorCode: 'invalid_request', launchId: launch });
    expect(audit.detail).toMatch(/simulated error: Invalid client id/);
    expect((await findLaunch(launch))?.consumedAt).not.toBeNull();
  });

  it('invalid_redirect_uri: the 400 "redirect_uri not registered" page, no redirect', async () => {
    const { client } = await newClient('public');
    const launch = await launchFor(client, { simulatedError: { kind: 'invalid_redirect_uri' } });
    const res = await authorizeGet(authorizeQuery({ client_id: client.clientId, launch, scope: EHR_SCOPE }, challenge));
    await expectPage(
      res,
      /redirect_uri &#x27;https:\/\/app\.example\.org\/callback&#x27; is refused as if it were not registered.*Registered: &#x27;https:\/\/app\.example\.org\/callback&#x27;/,
    );
  });

  it('invalid_scope: redirected to the app with error=invalid_scope, the same state and iss, no code', async () => {
    const { client } = await newClient('public');
    const launch = await launchFor(client, { simulatedError: { kind: 'invalid_scope' } });
    const res = await authorizeGet(authorizeQuery({ client_id: client.clientId, launch, scope: EHR_SCOPE, state: 'st-sim' }, challenge));
    expect(res.status).toBe(303);
    const url = location(res);
    expect(`${url.origin}${url.pathname}`).toBe(REDIRECT);
    expect(url.searchParams.get('error')).toBe('invalid_scope');
    expect(url.searchParams.get('error_description')).toMatch(/scope/);
    expect(url.searchParams.get('state')).toBe('st-sim');
    expect(url.searchParams.get('iss')).toBe(ORIGIN);
    expect(url.searchParams.get('code')).toBeNull();
  });

  it('a standalone launch (no launch parameter) picks up the armed launch once: its error fires, the next authorization is normal', async () => {
    const { client } = await newClient('public');
    const other = await newClient('public');
    const launch = await launchFor(client, { launchType: 'patient-standalone', simulatedError: { kind: 'invalid_scope' } });
    // Another client's authorization does not touch it.
    expect((await authorizeGet(authorizeQuery({ client_id: other.client.clientId, scope: STANDALONE_SCOPE }, challenge))).status).toBe(303);
    expect((await findLaunch(launch))?.consumedAt).toBeNull();

    const failed = await authorizeGet(authorizeQuery({ client_id: client.clientId, scope: STANDALONE_SCOPE }, challenge));
    expect(location(failed).searchParams.get('error')).toBe('invalid_scope');
    expect((await findLaunch(launch))?.consumedAt).not.toBeNull();
    const next = await authorizeGet(authorizeQuery({ client_id: client.clientId, scope: STANDALONE_SCOPE }, challenge));
    expect(location(next).pathname).toMatch(/^\/interaction\//);
  });

  it('a launch without a simulated error behaves as before', async () => {
    const { client } = await newClient('public');
    const launch = await launchFor(client, {});
    const res = await authorizeGet(authorizeQuery({ client_id: client.clientId, launch, scope: EHR_SCOPE }, challenge));
    expect(location(res).pathname).toMatch(/^\/interaction\//);
  });
});

describe('/oauth/token: simulated errors', () => {
  it('invalid_client_secret (HTTP Basic client): 401 invalid_client with a Basic challenge; the code is not used up', async () => {
    const flow = await ehrLaunch({ kind: 'invalid_client_secret' });
    expect(flow.status).toBe(401);
    expect(flow.body).toMatchObject({ error: 'invalid_client', error_description: 'unknown client_id or wrong client secret (HTTP Basic)' });
    const codes = await getDb().authCode.findMany({ where: { clientId: flow.client.clientId } });
    expect(codes.map((c) => c.used)).toEqual([false]);
    const audit = await getDb().auditRecord.findFirstOrThrow({ where: { endpoint: '/oauth/token', clientId: flow.client.clientId }, orderBy: { at: 'desc' } });
    expect(audit).toMatchObject({ status: 401, errorCode: 'invalid_client', launchId: flow.launch });
    expect(audit.detail).toMatch(/simulated error: Invalid client secret/);
  });

  it('invalid_client_secret (public client): 400 invalid_client as for an unknown client_id, without a challenge a browser would prompt for', async () => {
    const { client } = await newClient('public');
    const launch = await launchFor(client, { simulatedError: { kind: 'invalid_client_secret' } });
    const { code, verifier } = await getCode(client, { params: { launch, scope: EHR_SCOPE }, complete: { patientId: PATIENT, grantedScope: EHR_SCOPE } });
    const res = await exchange(code, verifier, { params: { client_id: client.clientId } });
    expect(res.status).toBe(400);
    expect(res.headers.get('www-authenticate')).toBeNull();
    expect(await json(res)).toMatchObject({ error: 'invalid_client', error_description: `unknown client_id '${client.clientId}'` });
  });

  async function backendLaunch(simulatedError: SimulatedError | null) {
    const keys = await assertionKeys('ES384');
    const { client } = await newClient('backend', { jwks: { keys: [keys.jwk as never] } });
    const launch = await launchFor(client, { launchType: 'backend-service', simulatedError });
    const cc = async () =>
      handleToken(form(TOKEN_URL, { grant_type: 'client_credentials', scope: 'system/Patient.rs', ...assertionParams(await keys.sign(client.clientId)) }));
    return { client, launch, cc };
  }

  it('invalid_jti (backend): 401 invalid_client as a replayed assertion, audit flag assertion-replay; the next request works', async () => {
    const { client, cc } = await backendLaunch({ kind: 'invalid_jti' });
    const res = await cc();
    expect(res.status).toBe(401);
    expect(await json(res)).toMatchObject({
      error: 'invalid_client',
      error_description: expect.stringMatching(/^client assertion rejected: jti '[0-9a-f]+' was already used/),
    });
    const audit = await getDb().auditRecord.findFirstOrThrow({ where: { endpoint: '/oauth/token', clientId: client.clientId }, orderBy: { at: 'desc' } });
    expect(audit.flags).toContain('assertion-replay');
    expect((await cc()).status).toBe(200);
  });

  it('invalid_jti (asymmetric app): the code exchange fails the same way', async () => {
    const keys = await assertionKeys('RS384');
    const { client } = await newClient('confidential-asymmetric', { jwks: { keys: [keys.jwk as never] } });
    const launch = await launchFor(client, { simulatedError: { kind: 'invalid_jti' } });
    const { code, verifier } = await getCode(client, { params: { launch, scope: EHR_SCOPE }, complete: { patientId: PATIENT, grantedScope: EHR_SCOPE } });
    const res = await exchange(code, verifier, { params: assertionParams(await keys.sign(client.clientId)) });
    expect(res.status).toBe(401);
    expect((await json(res)).error_description).toMatch(/was already used/);
  });

  it('backend_invalid_scope: 400 invalid_scope naming the scope; the next request works', async () => {
    const { cc } = await backendLaunch({ kind: 'backend_invalid_scope' });
    const res = await cc();
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ error: 'invalid_scope', error_description: expect.stringContaining('system/Patient.rs') });
    expect((await cc()).status).toBe(200);
  });

  it('expired_refresh_token: the refresh grant answers 400 invalid_grant "expired"; introspection says inactive', async () => {
    const flow = await ehrLaunch({ kind: 'expired_refresh_token' });
    expect(flow.status).toBe(200);
    expect(flow.body.refresh_token).toBeTruthy();
    expect(await introspect(flow, flow.body.refresh_token)).toEqual({ active: false });
    const res = await refresh(flow);
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/refresh token has expired/) });
  });

  it('refresh_token_revoked: the refresh grant answers 400 invalid_grant "revoked"; introspection says inactive', async () => {
    const flow = await ehrLaunch({ kind: 'refresh_token_revoked' });
    expect(await introspect(flow, flow.body.refresh_token)).toEqual({ active: false });
    const res = await refresh(flow);
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/refresh token has been revoked/) });
    // The access token itself is fine.
    expect((await fhirGet(`Patient/${PATIENT}`, flow.body.access_token)).status).toBe(200);
  });

  it('token_expires_soon: expires_in = N and exp = iat + N, refreshed tokens too; after N seconds FHIR answers 401 invalid_token', async () => {
    const flow = await ehrLaunch({ kind: 'token_expires_soon', seconds: 30 });
    expect(flow.body.expires_in).toBe(30);
    const claims = decodeJwt(String(flow.body.access_token));
    expect(Number(claims.exp) - Number(claims.iat)).toBe(30);
    expect((await fhirGet(`Patient/${PATIENT}`, flow.body.access_token)).status).toBe(200);
    const refreshed = await json(await refresh(flow));
    expect(refreshed.expires_in).toBe(30);

    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 31_000 });
    const res = await fhirGet(`Patient/${PATIENT}`, flow.body.access_token);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token", error_description="the access token has expired"/);
  });

  it('a launch with a token lifetime and no simulated error keeps that lifetime', async () => {
    const flow = await ehrLaunch(null, { options: { tokenLifetimeSeconds: 120 } });
    expect(flow.body.expires_in).toBe(120);
  });
});

describe('FHIR API: simulated errors', () => {
  it('invalid_access_token: every token of the launch, refreshed ones too → 401 invalid_token with an OperationOutcome; introspection inactive', async () => {
    const flow = await ehrLaunch({ kind: 'invalid_access_token' });
    const res = await fhirGet(`Patient/${PATIENT}`, flow.body.access_token);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="[^"]+", error="invalid_token"/);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(fhir.audits.at(-1)?.flags).toContain('invalid-token');
    expect(await introspect(flow, flow.body.access_token)).toEqual({ active: false });
    const refreshed = await json(await refresh(flow));
    expect((await fhirGet(`Patient/${PATIENT}`, refreshed.access_token)).status).toBe(401);
  });

  it('expired_access_token: the first token → 401 "the access token has expired"; the token from a refresh works', async () => {
    const flow = await ehrLaunch({ kind: 'expired_access_token' });
    expect(flow.body.expires_in).toBeGreaterThan(60);
    const res = await fhirGet(`Observation?patient=${PATIENT}`, flow.body.access_token);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token", error_description="the access token has expired"/);
    const refreshed = await json(await refresh(flow));
    expect((await fhirGet(`Patient/${PATIENT}`, refreshed.access_token)).status).toBe(200);
  });

  it('fhir_rate_limited: 429 with Retry-After and a "throttled" OperationOutcome, audit flag rate-limited; metadata still answers', async () => {
    const flow = await ehrLaunch({ kind: 'fhir_rate_limited', retryAfterSeconds: 42 });
    const res = await fhirGet(`Observation?patient=${PATIENT}`, flow.body.access_token);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('42');
    expect(issueCode(res.body)).toBe('throttled');
    const audit = fhir.audits.at(-1);
    expect(audit?.flags).toContain('rate-limited');
    expect(audit?.launchId).toBe(flow.launch);
    expect((await fhir.handle(fhirRequest('metadata', null))).status).toBe(200);
  });

  it('patient_deleted: reads of the patient and its record → 410 Gone, its searches → empty Bundle; shared data and other launches unaffected', async () => {
    const flow = await ehrLaunch({ kind: 'patient_deleted' });
    const token = flow.body.access_token;
    for (const path of [`Patient/${PATIENT}`, `Observation/${PATIENT}-vital`, `Patient/${PATIENT}/$everything`]) {
      const res = await fhirGet(path, token);
      expect(res.status, path).toBe(410);
      expect(issueCode(res.body)).toBe('deleted');
    }
    for (const path of [`Observation?patient=${PATIENT}&category=vital-signs`, `Condition?patient=${PATIENT}`, `Patient?_id=${PATIENT}`]) {
      const res = await fhirGet(path, token);
      expect(res.status, path).toBe(200);
      expect(res.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 0 });
      expect(res.body.entry ?? []).toEqual([]);
    }
    expect((await fhirGet('Practitioner/prac-1', token)).status).toBe(200);
    expect(fhir.audits.at(-1)?.flags ?? []).not.toContain('suspected-bola');

    const control = await ehrLaunch(null);
    expect((await fhirGet(`Patient/${PATIENT}`, control.body.access_token)).status).toBe(200);
    const obs = await fhirGet(`Observation?patient=${PATIENT}`, control.body.access_token);
    expect(Number(obs.body.total)).toBeGreaterThan(0);
  });

  it('a backend launch carries its launch: FHIR-side errors apply to its token', async () => {
    const keys = await assertionKeys('ES384');
    const { client } = await newClient('backend', { jwks: { keys: [keys.jwk as never] } });
    await launchFor(client, { launchType: 'backend-service', simulatedError: { kind: 'fhir_rate_limited', retryAfterSeconds: 5 } });
    const body = await json(
      await handleToken(
        form(TOKEN_URL, { grant_type: 'client_credentials', scope: 'system/Patient.rs', ...assertionParams(await keys.sign(client.clientId)) }),
      ),
    );
    const res = await fhirGet(`Patient/${PATIENT}`, body.access_token);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('5');
  });
});

describe('per-launch PKCE (docs/CONFORMANCE.md #52)', () => {
  it('a confidential client in a legacy PKCE-optional launch may omit PKCE; the audit says so', async () => {
    const { client, clientSecret } = await newClient('confidential-symmetric');
    expect(client.pkceRequired).toBe(true);
    const launch = await launchFor(client, { pkceRequired: false });
    const res = await authorizeGet(
      authorizeQuery({ client_id: client.clientId, launch, scope: EHR_SCOPE, code_challenge: undefined, code_challenge_method: undefined }, challenge),
    );
    expect(res.status).toBe(303);
    expect((await authorizeAudit()).detail).toMatch(/legacy PKCE-optional launch/);
    const redirect = new URL(
      await completeInteraction(interactionIdOf(res), {
        userId: 'Practitioner/prac-1',
        fhirUser: 'Practitioner/prac-1',
        patientId: PATIENT,
        grantedScope: EHR_SCOPE,
      }),
    );
    const consent = await getDb().auditRecord.findFirstOrThrow({
      where: { clientId: client.clientId, endpoint: { startsWith: '/interaction/' } },
      orderBy: { at: 'desc' },
    });
    expect(consent.detail).toMatch(/legacy PKCE-optional launch/);
    const token = await exchange(redirect.searchParams.get('code')!, null, { headers: basic(client.clientId, clientSecret!) });
    expect(token.status).toBe(200);
  });

  it('a public client must use PKCE even in a PKCE-optional launch', async () => {
    const { client } = await newClient('public');
    const launch = await launchFor(client, { pkceRequired: false });
    const res = await authorizeGet(
      authorizeQuery({ client_id: client.clientId, launch, scope: EHR_SCOPE, code_challenge: undefined, code_challenge_method: undefined }, challenge),
    );
    expect(location(res).searchParams.get('error')).toBe('invalid_request');
    expect(location(res).searchParams.get('error_description')).toMatch(/public clients must use PKCE/);
  });

  it('a confidential client in a PKCE-required launch must use PKCE', async () => {
    const { client } = await newClient('confidential-symmetric');
    const launch = await launchFor(client, { pkceRequired: true });
    const res = await authorizeGet(
      authorizeQuery({ client_id: client.clientId, launch, scope: EHR_SCOPE, code_challenge: undefined, code_challenge_method: undefined }, challenge),
    );
    expect(location(res).searchParams.get('error')).toBe('invalid_request');
  });
});

describe('standalone launches pick up their armed launch', () => {
  it('the armed launch is used up; its options apply, its patient is not imposed; tokens carry its id', async () => {
    const { client } = await newClient('public');
    const launch = await createLaunch({
      clientId: client.clientId,
      patientId: PATIENT,
      userId: 'Practitioner/someone-else',
      options: { ...DEFAULT_LAUNCH_OPTIONS, launchType: 'provider-standalone', tokenLifetimeSeconds: 90 },
    });
    const { verifier, challenge: ch } = pkce();
    const res = await authorizeGet(authorizeQuery({ client_id: client.clientId, scope: STANDALONE_SCOPE }, ch));
    const view = await getInteractionOrThrow(interactionIdOf(res));
    expect(view).toMatchObject({ ehrLaunch: false, needsPatient: true });
    expect(view.launch).toMatchObject({ id: launch, patientId: null, userId: null });
    expect((await findLaunch(launch))?.consumedAt).not.toBeNull();
    const redirect = new URL(
      await completeInteraction(view.id, {
        userId: 'Practitioner/prac-1',
        fhirUser: 'Practitioner/prac-1',
        patientId: PATIENT,
        grantedScope: STANDALONE_SCOPE,
      }),
    );
    const body = await json(await exchange(redirect.searchParams.get('code')!, verifier, { params: { client_id: client.clientId } }));
    expect(body.expires_in).toBe(90);
    expect(decodeJwt(String(body.access_token)).launch_id).toBe(launch);
    expect(body.need_patient_banner).toBe(true);
  });
});

describe('the launcher can tell which errors cannot happen in a launch', () => {
  it('simulatedErrorProblem', () => {
    const backend = { launchType: 'backend-service', tokenEndpointAuthMethod: 'private_key_jwt' } as const;
    const publicEhr = { launchType: 'provider-ehr', tokenEndpointAuthMethod: 'none' } as const;
    for (const kind of SIMULATED_ERROR_KINDS) {
      const e = defaultSimulatedError(kind);
      const forBackend = simulatedErrorProblem(e, backend);
      const forApp = simulatedErrorProblem(e, publicEhr);
      expect(forBackend === null || forApp === null, kind).toBe(true); // each one fires somewhere
    }
    expect(simulatedErrorProblem({ kind: 'invalid_scope' }, backend)).toMatch(/authorize/);
    expect(simulatedErrorProblem({ kind: 'invalid_jti' }, publicEhr)).toMatch(/private_key_jwt/);
    expect(simulatedErrorProblem({ kind: 'backend_invalid_scope' }, publicEhr)).toMatch(/backend/);
  });
});
