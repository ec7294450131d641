import { afterEach, describe, expect, it } from 'vitest';
import { getDb } from '../db';
import { joinRoom } from './attendees';
import { roomPollStats, subscribeRoom } from './live';
import type { RoomSnapshot } from './live';
import { createRoom } from './rooms';

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

/** Waits (without a time limit of its own) until `done` holds. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setTimeout(r, 50));
}

describe('live room progress', () => {
  it('two streams of one room share one poll, which derives the progress again only when something changed', async () => {
    const created = await createRoom({ name: 'Live room', patients: 1, seed: 3, exercises: [{ builtIn: 'ehr-launch' }] });
    if (!created.ok) throw new Error(created.error);
    const room = created.room;
    const ada = await joinRoom(room.code, 'Ada');
    if (!ada.ok) throw new Error('join failed');

    const first: RoomSnapshot[] = [];
    const second: RoomSnapshot[] = [];
    stops.push(subscribeRoom(room.id, (s) => first.push(s)));
    stops.push(subscribeRoom(room.id, (s) => second.push(s)));
    await until(() => first.length > 0 && second.length > 0);
    expect(first[0]?.attendees.map((a) => a.name)).toEqual(['Ada']);
    expect(second[0]).toBe(first[0]);
    expect(roomPollStats(room.id)).toMatchObject({ recomputes: 1, listeners: 2 });

    // Nothing changes: the poll keeps checking, and derives nothing again.
    await until(() => (roomPollStats(room.id)?.checks ?? 0) >= 3);
    expect(roomPollStats(room.id)).toMatchObject({ recomputes: 1 });
    expect(first).toHaveLength(1);

    // Ada completes an EHR launch: both streams receive it from one derivation.
    await getDb().auditRecord.create({
      data: {
        id: `live-${ada.attendee.id}`,
        sandboxId: ada.attendee.sandboxId,
        at: new Date(),
        kind: 'oauth',
        method: 'POST',
        endpoint: '/oauth/token',
        status: 200,
        latencyMs: 1,
        scopes: 'launch openid patient/*.rs',
        detail: 'issued access token abc…; pkce verifier=abcd…wxyz(43) sha256=x',
        facts: JSON.stringify({ grantType: 'authorization_code', authMethod: 'none' }),
      },
    });
    await until(() => first.length === 2 && second.length === 2);
    const [row] = first[1]?.attendees ?? [];
    expect(row?.milestones['ehr-launch']).toBeInstanceOf(Date);
    expect(row?.exercises[0]?.doneAt).toBeInstanceOf(Date);
    expect(second[1]).toBe(first[1]);
    expect(roomPollStats(room.id)).toMatchObject({ recomputes: 2 });

    // A third stream opened later gets the current progress at once, from the same poll.
    const third: RoomSnapshot[] = [];
    stops.push(subscribeRoom(room.id, (s) => third.push(s)));
    await until(() => third.length > 0);
    expect(third[0]).toBe(first[1]);
    expect(roomPollStats(room.id)).toMatchObject({ recomputes: 2, listeners: 3 });

    // The last stream closing ends the poll.
    for (const stop of stops.splice(0)) stop();
    expect(roomPollStats(room.id)).toBeNull();
  });

  it('a room deleted while streams are open reaches them as a null room', async () => {
    const created = await createRoom({ name: 'Gone room', patients: 1, seed: 4 });
    if (!created.ok) throw new Error(created.error);
    const seen: RoomSnapshot[] = [];
    stops.push(subscribeRoom(created.room.id, (s) => seen.push(s)));
    await until(() => seen.length > 0);
    await getDb().room.delete({ where: { id: created.room.id } });
    await until(() => seen.length > 1);
    expect(seen[1]?.room).toBeNull();
  });
});
