// A workshop room served by two instances on one PostgreSQL database behind one origin (issue 15
// "Beyond one machine"): the room is created on one instance, attendees join on either, a token
// issued on one is accepted on the other in its own sandbox and refused in another sandbox on
// both, a code obtained on one is exchanged on the other, the grid streamed by one shows what the
// other saw, and closing the room on one ends access on the other once its sandbox cache expires.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { discover, fhirGet, insecure, registerBackendService, registerSymmetricClient, runCodeFlow } from '../integration/support/smart-client';
import type { BackendService } from '../integration/support/smart-client';
import { at, freePort, freshDatabase, prepareDatabase, SERVER_ENV, sleep, startServer } from './support/servers';
import type { TestServer } from './support/servers';

const BASIC = `Basic ${Buffer.from(`${SERVER_ENV.CONSOLE_USER}:${SERVER_ENV.CONSOLE_PASSWORD}`).toString('base64')}`;
const SCOPE = 'system/Patient.rs system/Observation.rs';

let one: TestServer;
let two: TestServer;
let origin = '';
let roomId = '';
let joinUrl = '';

interface Seat {
  readonly name: string;
  readonly sandboxId: string;
  readonly cookie: string;
  /** `{origin}/s/{id}` (the public base both instances advertise). */
  readonly base: string;
}
const seats: Seat[] = [];

/** Joins the room through one instance. */
async function join(server: TestServer, name: string): Promise<Seat> {
  const res = await fetch(at(server, joinUrl), {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  expect(res.status, await res.clone().text()).toBe(201);
  const body = (await res.json()) as { sandboxId: string; fhirBaseUrl: string };
  expect(body.fhirBaseUrl).toBe(`${origin}/s/${body.sandboxId}/fhir`);
  return { name, sandboxId: body.sandboxId, cookie: (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '', base: `${origin}/s/${body.sandboxId}` };
}

/**
 * A backend-services token of `service` from the token endpoint of one instance. The assertion's
 * audience is the sandbox's public token endpoint, as a client behind the shared origin sends it
 * (SMART App Launch 2.2 §backend-services: aud is the token endpoint URL).
 */
async function backendToken(server: TestServer, seat: Seat, service: BackendService): Promise<string> {
  const assertion = await new SignJWT({ jti: randomUUID() })
    .setProtectedHeader({ alg: service.alg, kid: service.kid, typ: 'JWT' })
    .setIssuer(service.clientId)
    .setSubject(service.clientId)
    .setAudience(`${seat.base}/oauth/token`)
    .setExpirationTime('4m')
    .sign(service.privateKey);
  const res = await fetch(at(server, `${seat.base}/oauth/token`), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: SCOPE,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** A FHIR read through one instance. */
async function read(server: TestServer, seat: Seat, token: string): Promise<number> {
  return (await fhirGet(at(server, seat.base), 'Patient?_count=1', token)).status;
}

describe.skipIf(!process.env.TEST_DATABASE_URL)('a workshop room on two instances sharing one PostgreSQL database', () => {
  beforeAll(async () => {
    const databaseUrl = await freshDatabase('postgresql', 'wsinstances');
    prepareDatabase(databaseUrl);
    const portOne = await freePort();
    origin = `http://localhost:${portOne}`;
    const env = { ...SERVER_ENV, PUBLIC_ORIGIN: origin, NEXTAUTH_SECRET: 'shared-between-instances-0123456789' };
    one = await startServer({ databaseUrl, port: portOne, env });
    two = await startServer({ databaseUrl, env });
    const created = await fetch(`${one.url}/api/workshops`, {
      method: 'POST',
      headers: { authorization: BASIC, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Two instances', patients: 2, seed: 9 }),
    });
    expect(created.status).toBe(201);
    const room = (await created.json()) as { id: string; joinUrl: string };
    roomId = room.id;
    joinUrl = room.joinUrl;
    expect(joinUrl.startsWith(`${origin}/w/`)).toBe(true);
    seats.push(await join(one, 'Ada'), await join(two, 'Bob'));
  }, 240_000);

  afterAll(async () => {
    await Promise.all([one?.stop(), two?.stop()]);
  });

  it('both instances list the attendees who joined on either', async () => {
    for (const server of [one, two]) {
      const view = (await (await fetch(`${server.url}/api/workshops/${roomId}`, { headers: { authorization: BASIC } })).json()) as {
        attendees: { name: string }[];
      };
      expect(view.attendees.map((a) => a.name)).toEqual(['Ada', 'Bob']);
    }
  });

  it('a token issued on one instance is accepted on the other in its sandbox and refused in another sandbox on both; a code from one is exchanged on the other', async () => {
    const [ada, bob] = seats as [Seat, Seat];
    // Ada's backend service, registered on instance one; its token issued there.
    expect((await discover(ada.base)).issuer).toBe(ada.base);
    const service = await registerBackendService(at(one, ada.base), { name: 'ws backend', kid: 'ws-backend', scope: SCOPE });
    const token = await backendToken(one, ada, service);
    expect(await read(two, ada, token)).toBe(200);
    expect(await read(one, ada, token)).toBe(200);
    for (const server of [one, two]) expect(await read(server, bob, token)).toBe(401);

    // Bob's confidential client: authorized on instance one, the code exchanged on instance two,
    // the refresh token used back on one.
    const bobAs = await discover(bob.base);
    const client = await registerSymmetricClient(at(two, bob.base), { client_name: 'ws confidential' });
    const patient = ((await fhirGet(at(two, bob.base), 'Patient?_count=1', await bobSystemToken(bob))).body.entry?.[0]?.resource?.id as string) ?? '';
    const flow = await runCodeFlow(
      at(one, bob.base),
      { ...bobAs, authorization_endpoint: at(one, bobAs.authorization_endpoint!), token_endpoint: at(two, bobAs.token_endpoint!) },
      client,
      { scope: 'launch/patient offline_access patient/Patient.rs', interaction: { persona: `Patient/${patient}` } },
    );
    expect(await read(one, bob, flow.tokens.access_token)).toBe(200);
    for (const server of [one, two]) expect(await read(server, ada, flow.tokens.access_token)).toBe(401);
    const refreshed = await oauth.refreshTokenGrantRequest(
      { ...bobAs, token_endpoint: at(one, bobAs.token_endpoint!) },
      client.client,
      client.auth(),
      flow.tokens.refresh_token ?? '',
      insecure,
    );
    expect(refreshed.status).toBe(200);
    const rotated = (await refreshed.json()) as { access_token: string };
    expect(await read(two, bob, rotated.access_token)).toBe(200);
  });

  it('the grid streamed by one instance shows milestones reached through the other, while it is open', async () => {
    const [ada] = seats as [Seat, Seat];
    const service = await registerBackendService(at(one, ada.base), { name: 'ws grid', kid: 'ws-grid', scope: SCOPE });
    const token = await backendToken(one, ada, service);
    const controller = new AbortController();
    const res = await fetch(`${two.url}/api/workshops/${roomId}/events`, { headers: { authorization: BASIC }, signal: controller.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    const rows: Record<string, string>[] = [];
    /** Reads progress events until Ada's row has `milestone`. */
    const until = async (milestone: string) => {
      while (!rows.some((r) => r[milestone])) {
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended');
        buffer += decoder.decode(value, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const data = /^event: progress\ndata: (.*)$/m.exec(buffer.slice(0, end))?.[1];
          buffer = buffer.slice(end + 2);
          if (!data) continue;
          const row = (JSON.parse(data) as { attendees: { name: string; milestones: Record<string, string> }[] }).attendees.find((a) => a.name === ada.name);
          rows.push(row?.milestones ?? {});
        }
      }
    };
    try {
      // The backend token issued on instance one is on instance two's grid…
      await until('backend-token');
      expect(rows.some((r) => r['scope-refused'])).toBe(false);
      // …and a FHIR call refused for scope on instance one reaches the stream already open on two.
      const refused = await fhirGet(at(one, ada.base), 'Encounter?_count=1', token);
      expect(refused.status).toBe(403);
      await until('scope-refused');
    } finally {
      controller.abort();
    }
  });

  it("a room closed on one instance ends its sandboxes' access on the other once the sandbox cache expires", async () => {
    const [ada] = seats as [Seat, Seat];
    const service = await registerBackendService(at(two, ada.base), { name: 'ws reader', kid: 'ws-reader', scope: SCOPE });
    const token = await backendToken(two, ada, service);
    expect(await read(two, ada, token)).toBe(200);
    expect((await fetch(at(two, `${ada.base}/console/tokens`), { headers: { cookie: ada.cookie }, redirect: 'manual' })).status).toBe(200);

    const closed = await fetch(`${one.url}/api/workshops/${roomId}`, {
      method: 'PATCH',
      headers: { authorization: BASIC, 'content-type': 'application/json' },
      body: JSON.stringify({ closed: true }),
    });
    expect(((await closed.json()) as { status: string }).status).toBe('closed');
    // Instance one knows at once; instance two within its cache time (a generous bound, not a speed test).
    expect(await read(one, ada, token)).toBe(404);
    let status = await read(two, ada, token);
    for (let i = 0; i < 150 && status !== 404; i++) {
      await sleep(200);
      status = await read(two, ada, token);
    }
    expect(status).toBe(404);
    expect((await fetch(at(two, `${ada.base}/console/tokens`), { headers: { cookie: ada.cookie }, redirect: 'manual' })).status).not.toBe(200);
    const tokenAnswer = await fetch(at(two, `${ada.base}/oauth/token`), { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials' }) });
    expect(tokenAnswer.status).toBe(404);
    expect(((await tokenAnswer.json()) as { error: string }).error).toBe('invalid_request');
  });
});

/** A backend token in Bob's sandbox, from instance-independent discovery (used to find a patient). */
async function bobSystemToken(bob: Seat): Promise<string> {
  const service = await registerBackendService(at(two, bob.base), { name: 'ws finder', kid: 'ws-finder', scope: SCOPE });
  return backendToken(two, bob, service);
}
