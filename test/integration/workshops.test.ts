// Workshop rooms over real HTTP (issue 15 items 1, 2, 4, 8): /api/workshops with HTTP Basic and
// the console account creates a room, `POST {joinUrl}` with JSON joins it, the room's JSON shows
// attendees and milestones, the progress CSV and event stream answer, an attendee is reset, a
// closed room refuses joins, and deleting the room removes every row of its sandboxes. Bad input
// (unknown room, closed room, huge or scripted names, a reused personal link) gets a clear 4xx that
// shows nothing of any room.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '../../lib/generated/sqlite/client';
import { startOwnServer } from './support/own-server';
import type { OwnServer } from './support/own-server';
import { discover, systemToken } from './support/smart-client';

const USER = 'ws-teacher';
const PASSWORD = 'ws-console-password-1';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

let server: OwnServer;
let base = '';

beforeAll(async () => {
  server = await startOwnServer('workshops', { CONSOLE_USER: USER, CONSOLE_PASSWORD: PASSWORD });
  base = server.url;
});
afterAll(async () => {
  await server?.stop();
});

function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${base}${path}`, { ...init, headers: { authorization: BASIC, 'content-type': 'application/json', ...(init.headers ?? {}) } });
}

function join(joinUrl: string, name: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(joinUrl, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ name }),
  });
}

interface Joined {
  attendeeId: string;
  sandboxId: string;
  fhirBaseUrl: string;
  consoleUrl: string;
  personalLink: string;
}

/** Rows per table of the given sandboxes (every table with a sandboxId), the Sandbox rows and their dataset settings. */
async function rowCounts(ids: readonly string[]): Promise<Record<string, number>> {
  const db = server.db as unknown as Record<string, { count(args: unknown): Promise<number> }>;
  const counts: Record<string, number> = {};
  for (const model of Object.values(Prisma.ModelName)) {
    const fields = Object.values((Prisma as unknown as Record<string, Record<string, string>>)[`${model}ScalarFieldEnum`] ?? {});
    if (!fields.includes('sandboxId')) continue;
    counts[model] = await db[model.charAt(0).toLowerCase() + model.slice(1)]!.count({ where: { sandboxId: { in: [...ids] } } });
  }
  counts.Sandbox = await server.db.sandbox.count({ where: { id: { in: [...ids] } } });
  counts.Setting = await server.db.setting.count({ where: { key: { in: ids.map((id) => `dataset:${id}`) } } });
  return counts;
}

describe('/api/workshops', () => {
  it('refuses requests without the console account', async () => {
    const none = await fetch(`${base}/api/workshops`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic /);
    const wrong = await fetch(`${base}/api/workshops`, { headers: { authorization: `Basic ${Buffer.from(`${USER}:nope`).toString('base64')}` } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_credentials' });
    const garbage = await fetch(`${base}/api/workshops`, { headers: { authorization: 'Basic !!!' } });
    expect(garbage.status).toBe(401);
    const create = await fetch(`${base}/api/workshops`, { method: 'POST', body: JSON.stringify({ name: 'x' }) });
    expect(create.status).toBe(401);
  });

  it('refuses a bad room with 400 and says why', async () => {
    for (const body of [
      '{',
      JSON.stringify({ name: '' }),
      JSON.stringify({ name: 'x', patients: 1e6 }),
      JSON.stringify({ name: 'x', exercises: [{ builtIn: 'nope' }] }),
    ]) {
      const res = await api('/api/workshops', { method: 'POST', body });
      expect(res.status, body).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
    }
    expect((await api('/api/workshops/rNoSuchRoom')).status).toBe(404);
    expect((await api('/api/workshops/rNoSuchRoom', { method: 'DELETE' })).status).toBe(404);
    expect((await api('/api/workshops/rNoSuchRoom/attendees/aNobody/reset', { method: 'POST' })).status).toBe(404);
  });

  it('creates a room, attendees join it by link, and its progress, CSV and events answer', async () => {
    const created = await api('/api/workshops', {
      method: 'POST',
      body: JSON.stringify({
        name: 'SMART 101',
        patients: 2,
        seed: 11,
        exercises: [{ builtIn: 'ehr-launch' }, { title: 'Own <b>', instructions: '# hi', milestones: ['refresh'] }],
      }),
    });
    expect(created.status).toBe(201);
    const room = (await created.json()) as { id: string; code: string; joinUrl: string; status: string };
    expect(room.joinUrl).toBe(`${base}/w/${room.code}`);
    expect(room.status).toBe('open');

    const ada = await join(room.joinUrl, 'Ada');
    expect(ada.status).toBe(201);
    expect(ada.headers.get('set-cookie')).toMatch(/sandbox-attendee=.*HttpOnly/i);
    const a = (await ada.json()) as Joined;
    expect(a.fhirBaseUrl).toBe(`${base}/s/${a.sandboxId}/fhir`);
    expect(a.consoleUrl).toBe(`${base}/s/${a.sandboxId}/console`);
    expect(a.personalLink.startsWith(`${room.joinUrl}/`)).toBe(true);
    // The code may be typed in lower case.
    const bob = (await (await join(`${base}/w/${room.code.toLowerCase()}`, 'Bob')).json()) as Joined;
    expect(bob.sandboxId).not.toBe(a.sandboxId);

    const view = (await (await api(`/api/workshops/${room.id}`)).json()) as { attendees: { name: string; milestones: object; exercises: unknown[] }[] };
    expect(view.attendees.map((x) => x.name)).toEqual(['Ada', 'Bob']);
    expect(view.attendees[0]?.milestones).toEqual({});
    expect(view.attendees[0]?.exercises).toHaveLength(2);

    const csv = await api(`/api/workshops/${room.id}/progress.csv`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines[0]).toMatch(/^attendee,joined_at,clock_offset_seconds,client-registered,/);
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(['Ada', 'Bob']);

    const events = await api(`/api/workshops/${room.id}/events`);
    expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = events.body!.getReader();
    let text = '';
    while (!text.includes('event: progress')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    expect(text).toContain('"name":"Ada"');

    expect((await api(`/api/workshops/${room.id}/attendees/${a.attendeeId}/reset`, { method: 'POST' })).status).toBe(200);

    // The personal link asks first (GET), then moves the sandbox to the browser that posts it.
    const ask = await fetch(a.personalLink);
    expect(ask.status).toBe(200);
    expect(await ask.text()).toContain('Open your sandbox in this browser?');
    const moved = await fetch(a.personalLink, { method: 'POST', headers: { accept: 'application/json' } });
    expect(moved.status).toBe(200);
    expect(((await moved.json()) as Joined).sandboxId).toBe(a.sandboxId);

    // Closed: joining and the personal link are refused; reopened: joining works again.
    const closed = await api(`/api/workshops/${room.id}`, { method: 'PATCH', body: JSON.stringify({ closed: true }) });
    expect(((await closed.json()) as { status: string }).status).toBe('closed');
    const late = await join(room.joinUrl, 'Late');
    expect(late.status).toBe(410);
    expect(await late.json()).toMatchObject({ error: 'closed' });
    const page = await fetch(room.joinUrl);
    expect(page.status).toBe(410);
    expect(await page.text()).not.toContain('SMART 101');
    expect((await fetch(a.personalLink, { method: 'POST', headers: { accept: 'application/json' } })).status).toBe(410);
    await api(`/api/workshops/${room.id}`, { method: 'PATCH', body: JSON.stringify({ closed: false, extendMinutes: 30 }) });
    expect((await join(room.joinUrl, 'Late')).status).toBe(201);

    // Deleting the room removes every row of its sandboxes.
    const ids = [a.sandboxId, bob.sandboxId];
    const baseId = (await server.db.room.findUniqueOrThrow({ where: { id: room.id } })).baseSandboxId;
    ids.push(baseId);
    const before = await rowCounts(ids);
    expect(before.Resource).toBeGreaterThan(0);
    expect((await api(`/api/workshops/${room.id}`, { method: 'DELETE' })).status).toBe(204);
    const after = await rowCounts(ids);
    expect(Object.entries(after).filter(([, n]) => n > 0)).toEqual([]);
    expect(await server.db.attendee.count({ where: { roomId: room.id } })).toBe(0);
    expect((await join(room.joinUrl, 'Ghost')).status).toBe(404);
    expect((await fetch(a.personalLink)).status).toBe(404);
  });

  it('refuses bad join input with a clear 4xx that leaks nothing', async () => {
    const room = (await (await api('/api/workshops', { method: 'POST', body: JSON.stringify({ name: 'Secret room name', patients: 1 }) })).json()) as {
      joinUrl: string;
      code: string;
    };
    for (const name of ['<script>alert(1)</script>', 'x'.repeat(61), '', '   ', 42, null]) {
      const res = await join(room.joinUrl, name);
      expect(res.status, String(name)).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid-name' });
    }
    const huge = await fetch(room.joinUrl, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x'.repeat(100_000) }),
    });
    expect(huge.status).toBe(413);
    // The HTML form shows the refusal and escapes what was typed.
    const form = await fetch(room.joinUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=%3Cscript%3Ealert(1)%3C%2Fscript%3E',
    });
    expect(form.status).toBe(400);
    const html = await form.text();
    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain('may not contain');
    for (const path of ['/w/ZZZZZZ', '/w/not-a-code-at-all', `/w/${room.code}/not-a-secret`, `/w/${room.code}/${'A'.repeat(43)}`]) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.text()).not.toContain('Secret room name');
    }
    const unknown = await join(`${base}/w/ZZZZZZ`, 'Ada');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: 'unknown-room' });
    const crossOrigin = await fetch(room.joinUrl, {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=Eve',
    });
    expect(crossOrigin.status).toBe(403);
  });

  it("an attendee's cookie opens their own sandbox's console and clock, nothing of another attendee's, no instructor page", async () => {
    const room = (await (await api('/api/workshops', { method: 'POST', body: JSON.stringify({ name: 'Console room', patients: 1 }) })).json()) as {
      id: string;
      joinUrl: string;
    };
    const adaRes = await join(room.joinUrl, 'Ada');
    const cookie = (adaRes.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const ada = (await adaRes.json()) as Joined;
    const bob = (await (await join(room.joinUrl, 'Bob')).json()) as Joined;
    const get = (path: string) => fetch(`${base}${path}`, { headers: { cookie }, redirect: 'manual' });

    const own = await get(`/s/${ada.sandboxId}/console/tokens`);
    expect(own.status).toBe(200);
    expect(await own.text()).toContain('workshop attendee');
    // Every console link of her pages stays in her sandbox.
    for (const page of ['tokens', 'audit', 'alerts', 'flows', 'clients', 'clients/new', 'scopes', 'exercises']) {
      const res = await get(`/s/${ada.sandboxId}/console/${page}`);
      expect(res.status, page).toBe(200);
      const links = [...(await res.text()).matchAll(/href="([^"]*\/console[^"]*)"/g)].map((m) => m[1]!);
      expect(links.length, page).toBeGreaterThan(0);
      expect(
        links.filter((l) => !l.startsWith(`/s/${ada.sandboxId}/`)),
        page,
      ).toEqual([]);
    }
    // Another attendee's console sends the cookie's holder to sign in there.
    const other = await get(`/s/${bob.sandboxId}/console/tokens`);
    expect(other.status).toBe(307);
    expect(other.headers.get('location')).toMatch(new RegExp(`/s/${bob.sandboxId}/console/login`));
    // A console page without the sandbox prefix (the default sandbox's, or the instructor's) takes
    // the attendee to the same page of their own sandbox.
    for (const path of ['/console/tokens', '/console/workshops']) {
      const res = await get(path);
      expect(res.status, path).toBe(307);
      expect(res.headers.get('location'), path).toMatch(new RegExp(`/s/${ada.sandboxId}${path}$`));
    }
    // In the attendee's own sandbox, the instructor's pages send them back to their console.
    const instructorPage = await get(`/s/${ada.sandboxId}/console/workshops`);
    expect(instructorPage.status).toBe(307);
    expect(instructorPage.headers.get('location')).toMatch(new RegExp(`/s/${ada.sandboxId}/console$`));
    expect((await fetch(`${base}/api/workshops`, { headers: { cookie } })).status).toBe(401);
    expect((await fetch(`${base}/api/workshops/${room.id}`, { headers: { cookie } })).status).toBe(401);

    // The sandbox clock: the attendee moves their own, not Bob's; the instructor's API sees it.
    const clock = (sandbox: string, body: unknown) =>
      fetch(`${base}/s/${sandbox}/api/console/clock`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const moved = await clock(ada.sandboxId, { advanceSeconds: 3600 });
    expect(moved.status).toBe(200);
    expect(await moved.json()).toEqual({ clockOffsetSeconds: 3600 });
    expect((await clock(bob.sandboxId, { advanceSeconds: 3600 })).status).toBe(401);
    expect((await clock(ada.sandboxId, { advanceSeconds: -5 })).status).toBe(400);
    const view = (await (await api(`/api/workshops/${room.id}`)).json()) as { attendees: { name: string; clockOffsetSeconds: number }[] };
    expect(view.attendees.map((a) => [a.name, a.clockOffsetSeconds])).toEqual([
      ['Ada', 3600],
      ['Bob', 0],
    ]);
    const instructorClock = await api(`/api/workshops/${room.id}/attendees/${bob.attendeeId}/clock`, {
      method: 'POST',
      body: JSON.stringify({ advanceSeconds: 600 }),
    });
    expect(await instructorClock.json()).toEqual({ clockOffsetSeconds: 600 });

    // Closing the room ends the attendee's console and sandbox at once.
    await api(`/api/workshops/${room.id}`, { method: 'PATCH', body: JSON.stringify({ closed: true }) });
    expect((await get(`/s/${ada.sandboxId}/console/tokens`)).status).not.toBe(200);
    expect((await fetch(`${ada.fhirBaseUrl}/metadata`)).status).toBe(404);
  });

  it("moves a sandbox's clock to just before a token's expiry: the token answers until then and is expired right after (issue 15 item 7)", async () => {
    const room = (await (await api('/api/workshops', { method: 'POST', body: JSON.stringify({ name: 'Expiry room', patients: 1 }) })).json()) as {
      id: string;
      joinUrl: string;
    };
    const adaRes = await join(room.joinUrl, 'Ada');
    const cookie = (adaRes.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const ada = (await adaRes.json()) as Joined;
    const root = `${base}/s/${ada.sandboxId}`;
    const token = await systemToken(root, await discover(root), 'system/Patient.rs');
    const exp = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp;
    const read = () => fetch(`${ada.fhirBaseUrl}/Patient?_count=1`, { headers: { authorization: `Bearer ${token}` } });
    const clock = (body: unknown) =>
      fetch(`${base}/s/${ada.sandboxId}/api/console/clock`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

    // The token's console page offers the jump in a workshop sandbox.
    const list = await (await fetch(`${base}/s/${ada.sandboxId}/console/tokens`, { headers: { cookie } })).text();
    const detailPath = /href="(\/s\/[^"]+\/console\/tokens\/[^"?]+)"/.exec(list)?.[1];
    expect(detailPath).toBeDefined();
    expect(await (await fetch(`${base}${detailPath}`, { headers: { cookie } })).text()).toContain('data-testid="clock-to-expiry"');

    const jumped = await clock({ untilSeconds: exp - 30 });
    expect(jumped.status).toBe(200);
    const { clockOffsetSeconds } = (await jumped.json()) as { clockOffsetSeconds: number };
    const expected = exp - 30 - Math.floor(Date.now() / 1000);
    expect(Math.abs(clockOffsetSeconds - expected)).toBeLessThanOrEqual(2);
    expect((await read()).status).toBe(200);
    // Backwards is refused (reset to real time first); so are malformed instants.
    for (const body of [{ untilSeconds: exp - 3600 }, { untilSeconds: 'soon' }, { untilSeconds: exp, advanceSeconds: 5 }]) {
      const res = await clock(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    }
    // One minute later on the sandbox's clock the token has expired (the server notices the change within its short cache).
    expect((await clock({ advanceSeconds: 60 })).status).toBe(200);
    let status = (await read()).status;
    for (let i = 0; i < 50 && status !== 401; i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = (await read()).status;
    }
    expect(status).toBe(401);
    expect((await clock({ offsetSeconds: 0 })).status).toBe(200);
  });
});
