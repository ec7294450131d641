// The isolation matrix of workshop sandboxes (issue 15, "Must hold"), over real HTTP against the
// running app: two sandboxes A and B provisioned from the default sandbox's dataset, and the
// default sandbox itself. For every API path, each sandbox sees nothing of the others' and refuses
// the others' credentials (401/400/404 as the protocol requires), with the audit record in the
// sandbox where the credential was presented; the clock of A expires A's tokens and nobody else's.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import type { Db } from '../../lib/db';
import {
  APP_REDIRECT_URI,
  buildAuthorizationRequest,
  bundleRefs,
  discover,
  fhirGet,
  insecure,
  registerPublicClient,
  registerSymmetricClient,
  runCodeFlow,
  smartConfiguration,
  systemToken,
} from './support/smart-client';
import type { CompletedFlow, FhirJson, RegisteredClient } from './support/smart-client';
import type { OwnServer } from './support/own-server';

const origin = inject('baseUrl');
const databaseUrl = inject('databaseUrl');
const PATIENT = 'pat-42-0';
const PRACTITIONER = 'Practitioner/practitioner-1';
const SYSTEM_SCOPE = 'system/Patient.cruds system/Observation.cruds system/Encounter.rs system/Group.rs';

/** The app's lib/ on the server's database (lib/env reads DATABASE_URL once, on first import). */
async function serverLib() {
  process.env.DATABASE_URL = databaseUrl;
  const [provision, context, sandbox, db, env] = await Promise.all([
    import('../../lib/sandbox/provision'),
    import('../../lib/sandbox/context'),
    import('../../lib/sandbox'),
    import('../../lib/db'),
    import('../../lib/env'),
  ]);
  if (env.env.DATABASE_URL !== databaseUrl) throw new Error('lib/env was loaded before this suite set DATABASE_URL');
  return { ...provision, ...context, ...sandbox, db: db.getDb() as Db };
}
type ServerLib = Awaited<ReturnType<typeof serverLib>>;

/** One sandbox as the tests use it. */
interface Box {
  readonly name: string;
  readonly id: string;
  /** `{origin}` or `{origin}/s/{id}`. */
  readonly base: string;
  as: oauth.AuthorizationServer;
  /** A backend-services token (client_credentials + private_key_jwt). */
  system: string;
  /** A confidential client and a completed code flow of a patient persona. */
  confidential: RegisteredClient;
  flow: CompletedFlow;
  /** A public client with a launch URL. */
  app: RegisteredClient;
  /** A Patient only this sandbox holds, and an Observation it added to the shared patient. */
  ownPatient: string;
  ownObservation: string;
}

let lib: ServerLib;
const boxes: Box[] = [];

async function fhir(
  box: Box,
  path: string,
  token: string,
  init: RequestInit & { json?: unknown } = {},
): Promise<{ status: number; body: FhirJson; headers: Headers }> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  headers.set('accept', 'application/fhir+json');
  if (init.json !== undefined) headers.set('content-type', 'application/fhir+json');
  const res = await fetch(`${box.base}/fhir/${path}`, { ...init, headers, ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as FhirJson) : {} };
}

async function setUp(name: string, id: string, base: string): Promise<Box> {
  const as = await discover(base);
  const system = await systemToken(base, as, SYSTEM_SCOPE);
  const confidential = await registerSymmetricClient(base, { client_name: `isolation confidential ${name}` });
  const flow = await runCodeFlow(base, as, confidential, {
    scope: 'openid fhirUser launch/patient offline_access patient/Patient.rs patient/Observation.rs',
    interaction: { persona: `Patient/${PATIENT}` },
  });
  const app = await registerPublicClient(base, { client_name: `isolation app ${name}` });
  const box: Box = { name, id, base, as, system, confidential, flow, app, ownPatient: '', ownObservation: '' };
  const patient = await fhir(box, 'Patient', system, {
    method: 'POST',
    json: { resourceType: 'Patient', name: [{ family: `Isolated${name}`, given: ['Only'] }] },
  });
  expect(patient.status).toBe(201);
  box.ownPatient = String(patient.body.id);
  const observation = await fhir(box, 'Observation', system, {
    method: 'POST',
    json: {
      resourceType: 'Observation',
      status: 'final',
      code: { text: `written in ${name}` },
      subject: { reference: `Patient/${PATIENT}` },
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    },
  });
  expect(observation.status).toBe(201);
  box.ownObservation = String(observation.body.id);
  return box;
}

/** Every ordered pair of different sandboxes. */
function pairs(): [Box, Box][] {
  return boxes.flatMap((a) => boxes.filter((b) => b !== a).map((b) => [a, b] as [Box, Box]));
}

beforeAll(async () => {
  lib = await serverLib();
  const ids = [lib.newSandboxId(), lib.newSandboxId()];
  for (const [i, id] of ids.entries()) await lib.provisionSandbox({ id, name: `Attendee ${'AB'[i]}`, baseSandboxId: 'default' });
  boxes.push(await setUp('D', 'default', origin));
  boxes.push(await setUp('A', ids[0]!, `${origin}/s/${ids[0]}`));
  boxes.push(await setUp('B', ids[1]!, `${origin}/s/${ids[1]}`));
}, 180_000);

describe('sandbox isolation: discovery and addresses', () => {
  it('each sandbox advertises its own issuer, FHIR base and endpoints under its prefix', async () => {
    for (const box of boxes) {
      const smart = await smartConfiguration(box.base);
      expect(smart.issuer).toBe(box.base);
      expect(smart.token_endpoint).toBe(`${box.base}/oauth/token`);
      expect(smart.authorization_endpoint).toBe(`${box.base}/oauth/authorize`);
      expect(smart.registration_endpoint).toBe(`${box.base}/oauth/register`);
      expect(box.as.issuer).toBe(box.base);
      const metadata = await fetch(`${box.base}/fhir/metadata`);
      const cs = (await metadata.json()) as { url: string; rest: { security: { extension: { extension: { url: string; valueUri: string }[] }[] } }[] };
      expect(cs.url).toBe(`${box.base}/fhir/metadata`);
      const uris = cs.rest[0]!.security.extension[0]!.extension.map((e) => e.valueUri);
      expect(uris).toContain(`${box.base}/oauth/token`);
      // Links a search returns point into the sandbox it was made in.
      const search = await fhir(box, 'Patient?_count=1', box.system);
      for (const link of search.body.link ?? []) expect(link.url.startsWith(`${box.base}/fhir`)).toBe(true);
    }
  });

  it('an unknown sandbox, the default one named as /s/default, and a malformed id answer 404 in the protocol’s shape', async () => {
    for (const id of [lib.newSandboxId(), 'default', 'bad%20id']) {
      const fhirRes = await fetch(`${origin}/s/${id}/fhir/Patient`, { headers: { authorization: `Bearer ${boxes[0]!.system}` } });
      expect(fhirRes.status).toBe(404);
      expect(((await fhirRes.json()) as FhirJson).resourceType).toBe('OperationOutcome');
      const tokenRes = await fetch(`${origin}/s/${id}/oauth/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials' }) });
      expect(tokenRes.status).toBe(404);
      expect(((await tokenRes.json()) as { error: string }).error).toBe('invalid_request');
      const discovery = await fetch(`${origin}/s/${id}/fhir/.well-known/smart-configuration`);
      expect(discovery.status).toBe(404);
    }
  });

  it('a client cannot choose a sandbox with the internal header', async () => {
    const [, a] = boxes;
    const forged = await fetch(`${origin}/fhir/Patient?_count=1`, { headers: { authorization: `Bearer ${a!.system}`, 'x-smart-sandbox': a!.id } });
    expect(forged.status).toBe(401);
    const page = await fetch(`${origin}/`, { headers: { 'x-smart-sandbox': a!.id } });
    const html = await page.text();
    expect(html).not.toContain(`isolation app ${a!.name}`);
  });
});

describe('sandbox isolation: FHIR', () => {
  const paths = (box: Box) => [
    `Patient/${PATIENT}`,
    `Patient?family=Isolated${box.name}`,
    `Patient/${box.ownPatient}/_history`,
    `Patient/${PATIENT}/$everything`,
    `Observation/${box.ownObservation}`,
    'Patient/_history?_count=5',
  ];

  it("a sandbox's tokens read its data, and are refused (401) in every other sandbox on every path", async () => {
    for (const box of boxes) {
      for (const path of paths(box)) expect((await fhir(box, path, box.system)).status, `${box.name} ${path}`).toBe(200);
      expect((await fhirGet(box.base, `Patient/${PATIENT}`, box.flow.tokens.access_token)).status).toBe(200);
    }
    for (const [a, b] of pairs()) {
      for (const path of paths(a)) {
        const res = await fhir(b, path, a.system);
        expect(res.status, `${a.name}'s token in ${b.name}: ${path}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/invalid_token/);
      }
      expect((await fhirGet(b.base, `Patient/${PATIENT}`, a.flow.tokens.access_token)).status).toBe(401);
      const write = await fhir(b, 'Patient', a.system, { method: 'POST', json: { resourceType: 'Patient' } });
      expect(write.status).toBe(401);
      const kickOff = await fhir(b, '$export', a.system, { headers: { prefer: 'respond-async' } });
      expect(kickOff.status).toBe(401);
    }
  });

  it('what one sandbox writes, no other sandbox sees (read, search, history, $everything)', async () => {
    for (const [a, b] of pairs()) {
      expect((await fhir(b, `Patient/${a.ownPatient}`, b.system)).status).toBe(404);
      expect((await fhir(b, `Observation/${a.ownObservation}`, b.system)).status).toBe(404);
      expect((await fhir(b, `Patient/${a.ownPatient}/_history`, b.system)).status).toBe(404);
      const search = await fhir(b, `Patient?family=Isolated${a.name}`, b.system);
      expect(bundleRefs(search.body)).toEqual([]);
      const everything = await fhir(b, `Patient/${PATIENT}/$everything?_count=1000`, b.system);
      expect(bundleRefs(everything.body)).not.toContain(`Observation/${a.ownObservation}`);
      expect(bundleRefs(everything.body)).toContain(`Observation/${b.ownObservation}`);
      const history = await fhir(b, 'Patient/_history?_count=50', b.system);
      expect(history.status).toBe(200);
      expect(bundleRefs(history.body)).not.toContain(`Patient/${a.ownPatient}`);
    }
    // Proof the searches can find what they look for: each sandbox finds its own.
    for (const box of boxes)
      expect(bundleRefs((await fhir(box, `Patient?family=Isolated${box.name}`, box.system)).body)).toEqual([`Patient/${box.ownPatient}`]);
  });

  it('a bulk export started in one sandbox is served there only', async () => {
    const [, a, b] = boxes as [Box, Box, Box];
    const kickOff = await fhir(a, 'Patient/$export?_type=Patient', a.system, { headers: { prefer: 'respond-async' } });
    expect(kickOff.status).toBe(202);
    const status = kickOff.headers.get('content-location') ?? '';
    expect(status.startsWith(`${a.base}/fhir/`)).toBe(true);
    const inB = status.replace(a.base, b.base);
    expect((await fetch(inB, { headers: { authorization: `Bearer ${b.system}` } })).status).toBe(404);
    expect((await fetch(status, { headers: { authorization: `Bearer ${b.system}` } })).status).toBe(401);
    expect([200, 202]).toContain((await fetch(status, { headers: { authorization: `Bearer ${a.system}` } })).status);
  });

  it('a transaction Bundle sent to a sandbox writes there only, its locations under its prefix; another sandbox refuses its token', async () => {
    const [, a, b] = boxes as [Box, Box, Box];
    const family = `Transacted${Date.now()}`;
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:5a5a5a5a-0000-4000-8000-000000000001',
          request: { method: 'POST', url: 'Patient' },
          resource: { resourceType: 'Patient', name: [{ family }] },
        },
        {
          request: { method: 'POST', url: 'Observation' },
          resource: {
            resourceType: 'Observation',
            status: 'final',
            code: { text: 'transaction in a sandbox' },
            subject: { reference: 'urn:uuid:5a5a5a5a-0000-4000-8000-000000000001' },
          },
        },
      ],
    };
    const post = (box: Box) =>
      fetch(`${box.base}/fhir`, {
        method: 'POST',
        headers: { authorization: `Bearer ${a.system}`, 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
        body: JSON.stringify(bundle),
      });
    expect((await post(b)).status).toBe(401);
    const res = await post(a);
    expect(res.status).toBe(200);
    const entries = (((await res.json()) as FhirJson).entry ?? []) as { response?: { location?: string }; resource?: FhirJson }[];
    for (const e of entries) expect(e.response?.location?.startsWith(`${a.base}/fhir/`), e.response?.location).toBe(true);
    const patient = `Patient/${entries[0]?.resource?.id}`;
    expect((entries[1]?.resource?.subject as { reference?: string } | undefined)?.reference).toBe(patient);
    expect(bundleRefs((await fhir(a, `Patient?family=${family}`, a.system)).body)).toEqual([patient]);
    expect(bundleRefs((await fhir(b, `Patient?family=${family}`, b.system)).body)).toEqual([]);
    expect(bundleRefs((await fhir(boxes[0]!, `Patient?family=${family}`, boxes[0]!.system)).body)).toEqual([]);
  });
});

describe('sandbox isolation: OAuth', () => {
  it("a client's credentials, codes and refresh tokens are refused at every other sandbox's token endpoint (401 invalid_client), audited there", async () => {
    for (const [a, b] of pairs()) {
      const basic = `Basic ${Buffer.from(`${a.confidential.client.client_id}:${a.confidential.secret}`).toString('base64')}`;
      const token = (form: Record<string, string>) =>
        fetch(b.as.token_endpoint!, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
          body: new URLSearchParams(form),
        });
      const cc = await token({ grant_type: 'client_credentials', scope: 'system/Patient.rs' });
      expect(cc.status).toBe(401);
      expect(((await cc.json()) as { error: string }).error).toBe('invalid_client');
      const refresh = await token({ grant_type: 'refresh_token', refresh_token: a.flow.tokens.refresh_token ?? '' });
      expect(refresh.status).toBe(401);
      expect(((await refresh.json()) as { error: string }).error).toBe('invalid_client');
      const code = await token({ grant_type: 'authorization_code', code: a.flow.code, redirect_uri: APP_REDIRECT_URI, code_verifier: a.flow.request.verifier });
      expect(code.status).toBe(401);
      expect(((await code.json()) as { error: string }).error).toBe('invalid_client');
    }
    for (const b of boxes) {
      const others = boxes.filter((x) => x !== b).map((x) => x.confidential.client.client_id);
      const deadline = Date.now() + 10_000;
      let rows: { clientId: string | null; errorCode: string | null }[] = [];
      while (Date.now() < deadline) {
        rows = await lib.db.auditRecord.findMany({
          where: { sandboxId: b.id, endpoint: '/oauth/token', errorCode: 'invalid_client', clientId: { in: others } },
        });
        if (rows.length >= 3 * others.length) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(rows.length, `refusals audited in ${b.name}`).toBeGreaterThanOrEqual(3 * others.length);
      // …and none of them in the sandbox the client belongs to.
      for (const a of boxes.filter((x) => x !== b)) {
        const misplaced = await lib.db.auditRecord.count({
          where: { sandboxId: a.id, errorCode: 'invalid_client', clientId: a.confidential.client.client_id },
        });
        expect(misplaced).toBe(0);
      }
    }
  });

  it('introspection in another sandbox says inactive, and revocation there changes nothing', async () => {
    for (const box of boxes) {
      const own = await oauth.processIntrospectionResponse(
        box.as,
        box.confidential.client,
        await oauth.introspectionRequest(box.as, box.confidential.client, box.confidential.auth(), box.flow.tokens.access_token, insecure),
      );
      expect(own.active).toBe(true);
    }
    for (const [a, b] of pairs()) {
      const there = await oauth.processIntrospectionResponse(
        b.as,
        b.confidential.client,
        await oauth.introspectionRequest(b.as, b.confidential.client, b.confidential.auth(), a.flow.tokens.access_token, insecure),
      );
      expect(there.active).toBe(false);
      const refreshThere = await oauth.processIntrospectionResponse(
        b.as,
        b.confidential.client,
        await oauth.introspectionRequest(b.as, b.confidential.client, b.confidential.auth(), a.flow.tokens.refresh_token ?? '', insecure),
      );
      expect(refreshThere.active).toBe(false);
      const revoke = await oauth.revocationRequest(b.as, b.confidential.client, b.confidential.auth(), a.flow.tokens.access_token, insecure);
      expect(revoke.status).toBe(200);
    }
    for (const box of boxes) {
      const still = await oauth.processIntrospectionResponse(
        box.as,
        box.confidential.client,
        await oauth.introspectionRequest(box.as, box.confidential.client, box.confidential.auth(), box.flow.tokens.access_token, insecure),
      );
      expect(still.active).toBe(true);
      expect((await fhirGet(box.base, `Patient/${PATIENT}`, box.flow.tokens.access_token)).status).toBe(200);
    }
  });

  it("a launch id of one sandbox is unknown at another's authorize endpoint, and a client of one is unknown there", async () => {
    const [, a, b] = boxes as [Box, Box, Box];
    const launch = lib.newSandboxId();
    await lib.db.launch.create({
      data: {
        id: launch,
        sandboxId: a.id,
        clientId: a.app.client.client_id,
        patientId: PATIENT,
        userId: PRACTITIONER,
        expiresAt: new Date(Date.now() + 600_000),
      },
    });
    const inB = await buildAuthorizationRequest(b.as, b.app.client.client_id, { scope: 'launch openid fhirUser patient/*.rs', aud: `${b.base}/fhir`, launch });
    const refused = await fetch(inB.url, { redirect: 'manual' });
    expect(refused.status).toBe(303);
    const location = new URL(refused.headers.get('location') ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(APP_REDIRECT_URI);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(/launch/);

    const inA = await buildAuthorizationRequest(a.as, a.app.client.client_id, { scope: 'launch openid fhirUser patient/*.rs', aud: `${a.base}/fhir`, launch });
    const accepted = await fetch(inA.url, { redirect: 'manual' });
    expect(accepted.status).toBe(303);
    expect(accepted.headers.get('location')).toMatch(new RegExp(`^${a.base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/interaction/`));

    // A client of A at B's authorize endpoint: an error page, never a redirect (RFC 6749 §4.1.2.1).
    const foreign = await buildAuthorizationRequest(b.as, a.app.client.client_id, { scope: 'openid', aud: `${b.base}/fhir` });
    const page = await fetch(foreign.url, { redirect: 'manual' });
    expect(page.status).toBe(400);
    expect(page.headers.get('location')).toBeNull();
    // A token's audience names its sandbox: an aud of A at B's authorize endpoint is refused.
    const wrongAud = await buildAuthorizationRequest(b.as, b.app.client.client_id, { scope: 'openid', aud: `${a.base}/fhir` });
    const aud = await fetch(wrongAud.url, { redirect: 'manual' });
    expect(new URL(aud.headers.get('location') ?? '').searchParams.get('error')).toBe('invalid_request');
  });

  it('an interaction of one sandbox is unknown under another’s prefix', async () => {
    const [, a, b] = boxes as [Box, Box, Box];
    const request = await buildAuthorizationRequest(a.as, a.app.client.client_id, {
      scope: 'openid fhirUser patient/*.rs launch/patient',
      aud: `${a.base}/fhir`,
    });
    const res = await fetch(request.url, { redirect: 'manual' });
    const interaction = res.headers.get('location') ?? '';
    expect(interaction.startsWith(`${a.base}/interaction/`)).toBe(true);
    expect((await fetch(interaction)).status).toBe(200);
    const elsewhere = await fetch(interaction.replace(a.base, b.base));
    expect(elsewhere.status).toBe(400);
    expect(await elsewhere.text()).toMatch(/expired/);
  });
});

describe('sandbox isolation: launcher and console', () => {
  it('the launcher of a sandbox lists its own apps only, and its links stay in the sandbox', async () => {
    for (const box of boxes) {
      const html = await (await fetch(`${box.base}/`)).text();
      expect(html, box.name).toContain(`isolation app ${box.name}`);
      for (const other of boxes.filter((x) => x !== box)) expect(html, `${other.name} in ${box.name}`).not.toContain(`isolation app ${other.name}`);
      expect(html).toContain(`FHIR base: <!-- -->${box.base}<!-- -->/fhir`);
    }
  });

  it("the console API answers for the sandbox it is called in: another sandbox's client has no report there", async () => {
    for (const box of boxes) {
      const own = await fetch(`${box.base}/api/console/clients/${box.confidential.client.client_id}/report`, {
        headers: { authorization: `Bearer ${box.flow.tokens.access_token}` },
      });
      expect(own.status, box.name).toBe(200);
    }
    for (const [a, b] of pairs()) {
      const res = await fetch(`${b.base}/api/console/clients/${a.confidential.client.client_id}/report`, {
        headers: { authorization: `Bearer ${a.flow.tokens.access_token}` },
      });
      expect([401, 404]).toContain(res.status);
      expect(await res.text()).not.toContain(`isolation confidential ${a.name}`);
    }
  });
});

describe('sandbox isolation: the clock', () => {
  it("moving A's clock past its tokens' expiry expires A's tokens and no one else's; reset restores real time", async () => {
    const [d, a, b] = boxes as [Box, Box, Box];
    const answers = async () => ({
      a: (await fhir(a, `Patient/${PATIENT}`, a.system)).status,
      b: (await fhir(b, `Patient/${PATIENT}`, b.system)).status,
      d: (await fhir(d, `Patient/${PATIENT}`, d.system)).status,
    });
    /** Waits until the server has seen the clock change (it remembers a sandbox for a short time). */
    const until = async (want: { a: number; b: number; d: number }) => {
      let last = await answers();
      for (let i = 0; i < 50 && JSON.stringify(last) !== JSON.stringify(want); i++) {
        await new Promise((r) => setTimeout(r, 200));
        last = await answers();
      }
      return last;
    };
    expect(await answers()).toEqual({ a: 200, b: 200, d: 200 });
    await lib.setSandboxClockOffset(a.id, 2 * 86_400);
    expect(await until({ a: 401, b: 200, d: 200 })).toEqual({ a: 401, b: 200, d: 200 });
    const expired = await fhir(a, `Patient/${PATIENT}`, a.system);
    expect(expired.headers.get('www-authenticate')).toMatch(/expired/);
    // A token issued on A's moved clock lives its full lifetime from A's "now".
    const fresh = await systemToken(a.base, a.as, SYSTEM_SCOPE);
    expect((await fhir(a, `Patient/${PATIENT}`, fresh)).status).toBe(200);
    await lib.setSandboxClockOffset(a.id, 0);
    expect(await until({ a: 200, b: 200, d: 200 })).toEqual({ a: 200, b: 200, d: 200 });
  });
});

// Workshop attendees (issue 15 "Must hold": exports and SSE streams): two attendees of one room on
// a server with a console account, each with their own join cookie. Each one's flows, exports,
// handouts and event streams are theirs only; another attendee's cookie opens none of them, and no
// export carries a secret or token of another sandbox.
describe('sandbox isolation: attendees, flow exports and event streams', () => {
  const USER = 'iso-teacher';
  const PASSWORD = 'iso-console-password-1';
  const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  let server: OwnServer;
  let roomId = '';

  /** One attendee and everything secret their sandbox handed out. */
  interface Seat {
    readonly name: string;
    readonly sandboxId: string;
    readonly base: string;
    readonly cookie: string;
    readonly confidential: RegisteredClient;
    readonly flow: CompletedFlow;
    readonly system: string;
    /** Every secret value of the sandbox: client secret, access, refresh and id tokens, codes. */
    readonly secrets: string[];
  }
  const seats: Seat[] = [];

  interface StreamEvent {
    readonly event: string;
    readonly data: string;
  }

  /** Opens an event stream and reads events until `done` holds (the test's timeout bounds the wait). */
  async function readEvents(url: string, headers: Record<string, string>, done: (events: StreamEvent[]) => boolean) {
    const controller = new AbortController();
    const res = await fetch(url, { headers, signal: controller.signal });
    const events: StreamEvent[] = [];
    if (res.status !== 200 || !res.body) return { status: res.status, events, text: await res.text() };
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let text = '';
    try {
      while (!done(events)) {
        const { value, done: ended } = await reader.read();
        if (ended) break;
        const chunk = decoder.decode(value, { stream: true });
        text += chunk;
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data !== undefined) events.push({ event, data });
        }
      }
    } finally {
      controller.abort();
    }
    return { status: res.status, events, text };
  }

  async function join(joinUrl: string, name: string): Promise<{ sandboxId: string; cookie: string }> {
    const res = await fetch(joinUrl, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });
    expect(res.status).toBe(201);
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    return { sandboxId: ((await res.json()) as { sandboxId: string }).sandboxId, cookie };
  }

  async function seat(name: string, joinUrl: string): Promise<Seat> {
    const { sandboxId, cookie } = await join(joinUrl, name);
    const base = `${server.url}/s/${sandboxId}`;
    const as = await discover(base);
    const system = await systemToken(base, as, SYSTEM_SCOPE);
    const patient = ((await fhirGet(base, 'Patient?_count=1', system)).body.entry?.[0]?.resource?.id as string | undefined) ?? '';
    expect(patient).not.toBe('');
    const confidential = await registerSymmetricClient(base, { client_name: `seat confidential ${name}` });
    const flow = await runCodeFlow(base, as, confidential, {
      scope: 'openid fhirUser launch/patient offline_access patient/Patient.rs',
      interaction: { persona: `Patient/${patient}` },
    });
    expect((await fhirGet(base, `Patient/${patient}`, flow.tokens.access_token)).status).toBe(200);
    expect((await fhirGet(base, `Patient/${patient}`, system)).status).toBe(200);
    const secrets = [confidential.secret ?? '', flow.code, flow.tokens.access_token, flow.tokens.refresh_token ?? '', flow.tokens.id_token ?? '', system];
    expect(secrets.every((s) => s.length > 10)).toBe(true);
    return { name, sandboxId, base, cookie, confidential, flow, system, secrets };
  }

  /** GET with a seat's cookie. */
  const as = (s: Seat, url: string) => fetch(url, { headers: { cookie: s.cookie }, redirect: 'manual' });

  async function flowsOf(s: Seat): Promise<{ id: string; clientId: string | null }[]> {
    const res = await as(s, `${s.base}/api/console/flows?limit=500`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { flows: { id: string; clientId: string | null }[] }).flows;
  }

  /** Every export of every flow of a seat, read with its own cookie (tokens included where asked). */
  async function exportsOf(s: Seat): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const flow of await flowsOf(s)) {
      const id = encodeURIComponent(flow.id);
      for (const query of ['format=curl', 'format=curl&tokens=include', 'format=postman', 'format=postman&tokens=include']) {
        const res = await as(s, `${s.base}/api/console/flows/${id}/export?${query}`);
        expect(res.status, `${s.name} ${flow.id} ${query}`).toBe(200);
        out.set(`${flow.id} ${query}`, await res.text());
      }
      const handout = await as(s, `${s.base}/console/flows/${id}/handout`);
      expect(handout.status, `${s.name} ${flow.id} handout`).toBe(200);
      out.set(`${flow.id} handout`, await handout.text());
      const document = await as(s, `${s.base}/api/console/flows/${id}`);
      expect(document.status).toBe(200);
      out.set(`${flow.id} document`, await document.text());
    }
    return out;
  }

  beforeAll(async () => {
    // Imported here: own-server loads lib/ on import, which must follow serverLib() setting DATABASE_URL.
    const { startOwnServer } = await import('./support/own-server');
    server = await startOwnServer('isolation-seats', { CONSOLE_USER: USER, CONSOLE_PASSWORD: PASSWORD });
    const created = await fetch(`${server.url}/api/workshops`, {
      method: 'POST',
      headers: { authorization: BASIC, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Isolation room', patients: 2, seed: 5, exercises: [{ builtIn: 'ehr-launch' }] }),
    });
    expect(created.status).toBe(201);
    const room = (await created.json()) as { id: string; joinUrl: string };
    roomId = room.id;
    seats.push(await seat('Ada', room.joinUrl));
    seats.push(await seat('Bob', room.joinUrl));
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
  });

  it("an attendee's cookie lists, reads and exports their own flows; another attendee's flows are unknown in their sandbox and closed in the other's", async () => {
    const [a, b] = seats as [Seat, Seat];
    const flowsA = await flowsOf(a);
    const flowsB = await flowsOf(b);
    // Each has a launch and a backend flow of their own, and none of the other's.
    for (const [s, flows] of [
      [a, flowsA],
      [b, flowsB],
    ] as const) {
      expect(flows.length, s.name).toBeGreaterThanOrEqual(2);
      expect(flows.map((f) => f.clientId)).toContain(s.confidential.client.client_id);
    }
    expect(flowsA.map((f) => f.id).filter((id) => flowsB.some((f) => f.id === id))).toEqual([]);
    for (const [s, other, theirs] of [
      [a, b, flowsB],
      [b, a, flowsA],
    ] as const) {
      for (const flow of theirs) {
        const id = encodeURIComponent(flow.id);
        // In the attendee's own sandbox, the other's flow does not exist…
        expect((await as(s, `${s.base}/api/console/flows/${id}`)).status).toBe(404);
        expect((await as(s, `${s.base}/api/console/flows/${id}/export?format=curl`)).status).toBe(404);
        expect((await as(s, `${s.base}/api/console/flows/${id}/export?format=postman&tokens=include`)).status).toBe(404);
        expect((await as(s, `${s.base}/console/flows/${id}/handout`)).status).toBe(404);
        // …and in the other's sandbox the cookie opens nothing.
        expect((await as(s, `${other.base}/api/console/flows`)).status).toBe(401);
        expect((await as(s, `${other.base}/api/console/flows/${id}`)).status).toBe(401);
        expect((await as(s, `${other.base}/api/console/flows/${id}/export?format=curl&tokens=include`)).status).toBe(401);
        const handout = await as(s, `${other.base}/console/flows/${id}/handout`);
        expect(handout.status).toBe(307);
        expect(handout.headers.get('location')).toMatch(new RegExp(`/s/${other.sandboxId}/console/login`));
      }
    }
  });

  it('no export, handout or flow document of an attendee carries a secret, token or client of another sandbox; their own live token only when asked', async () => {
    const [a, b] = seats as [Seat, Seat];
    for (const [s, other] of [
      [a, b],
      [b, a],
    ] as const) {
      const exports = await exportsOf(s);
      expect(exports.size).toBeGreaterThan(0);
      for (const [what, text] of exports) {
        for (const secret of other.secrets) expect(text.includes(secret), `${other.name}'s secret in ${s.name}'s ${what}`).toBe(false);
        expect(text.includes(other.confidential.client.client_id), `${other.name}'s client in ${s.name}'s ${what}`).toBe(false);
        expect(text.includes(other.sandboxId), `${other.name}'s sandbox in ${s.name}'s ${what}`).toBe(false);
        // Codes, refresh tokens, id tokens and client secrets are never exported, not even one's own.
        for (const own of [s.confidential.secret ?? '', s.flow.code, s.flow.tokens.refresh_token ?? '', s.flow.tokens.id_token ?? ''])
          expect(text.includes(own), `${s.name}'s own secret in ${what}`).toBe(false);
      }
      // Not vacuous: with tokens=include, their own live access tokens are in (and only then).
      const included = [...exports].filter(([what]) => what.endsWith('tokens=include')).map(([, t]) => t);
      const plain = [...exports].filter(([what]) => !what.includes('tokens=include')).map(([, t]) => t);
      expect(included.some((t) => t.includes(s.flow.tokens.access_token))).toBe(true);
      expect(included.some((t) => t.includes(s.system))).toBe(true);
      expect(plain.some((t) => t.includes(s.flow.tokens.access_token) || t.includes(s.system))).toBe(false);
    }
  });

  it("the instructor's event stream needs the console account; an attendee's own stream shows their progress only, live, and opens in their sandbox only", async () => {
    const [a, b] = seats as [Seat, Seat];
    // An attendee's cookie opens no instructor stream.
    expect((await as(a, `${server.url}/api/workshops/${roomId}/events`)).status).toBe(401);
    // An attendee's stream opens with their cookie in their own sandbox only.
    expect((await as(a, `${b.base}/api/console/exercises/events`)).status).toBe(401);
    expect((await as(b, `${a.base}/api/console/exercises/events`)).status).toBe(401);
    expect((await as(a, `${server.url}/api/console/exercises/events`)).status).toBe(401);
    expect((await fetch(`${a.base}/api/console/exercises/events`)).status).toBe(401);

    const progress = (events: StreamEvent[]) => events.filter((e) => e.event === 'progress').map((e) => JSON.parse(e.data) as Record<string, unknown>);
    const own = await readEvents(`${a.base}/api/console/exercises/events`, { cookie: a.cookie }, (events) => progress(events).length > 0);
    expect(own.status).toBe(200);
    const first = progress(own.events)[0] as { milestones: Record<string, string>; exercises: unknown[] };
    expect(first.milestones['standalone-launch']).toBeTruthy();
    expect(first.milestones['backend-token']).toBeTruthy();
    expect(first.exercises).toHaveLength(1);
    for (const leak of ['Bob', b.sandboxId, b.confidential.client.client_id, ...b.secrets]) expect(own.text.includes(leak), leak).toBe(false);

    // The instructor's stream carries both attendees (and no secret of either).
    const grid = await readEvents(`${server.url}/api/workshops/${roomId}/events`, { authorization: BASIC }, (events) => progress(events).length > 0);
    expect(grid.status).toBe(200);
    const attendees = (progress(grid.events)[0] as { attendees: { name: string; milestones: Record<string, string> }[] }).attendees;
    expect(attendees.map((x) => x.name)).toEqual(['Ada', 'Bob']);
    for (const s of seats) for (const secret of s.secrets) expect(grid.text.includes(secret)).toBe(false);

    // Open streams stay current: a milestone Bob reaches now reaches the instructor's open stream
    // and Bob's own, and nothing of it reaches Ada's.
    const reached = (events: StreamEvent[], name: string | null) =>
      progress(events).some((p) => {
        const row = name ? (p as { attendees: { name: string; milestones: Record<string, string> }[] }).attendees.find((x) => x.name === name) : p;
        return Boolean((row as { milestones?: Record<string, string> } | undefined)?.milestones?.refresh);
      });
    const gridLive = readEvents(`${server.url}/api/workshops/${roomId}/events`, { authorization: BASIC }, (events) => reached(events, 'Bob'));
    const bobLive = readEvents(`${b.base}/api/console/exercises/events`, { cookie: b.cookie }, (events) => reached(events, null));
    const adaLive = readEvents(`${a.base}/api/console/exercises/events`, { cookie: a.cookie }, (events) => progress(events).length > 0);
    await new Promise((r) => setTimeout(r, 1_500));
    const bas = await discover(b.base);
    const refreshed = await oauth.refreshTokenGrantRequest(bas, b.confidential.client, b.confidential.auth(), b.flow.tokens.refresh_token ?? '', insecure);
    expect(refreshed.status).toBe(200);
    const [gridDone, bobDone, adaDone] = await Promise.all([gridLive, bobLive, adaLive]);
    expect(reached(gridDone.events, 'Bob')).toBe(true);
    expect(reached(gridDone.events, 'Ada')).toBe(false);
    expect(reached(bobDone.events, null)).toBe(true);
    expect(adaDone.text.includes('Bob')).toBe(false);
  });
});
