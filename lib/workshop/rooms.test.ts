import { describe, expect, it } from 'vitest';
import { getDb } from '../db';
import { Prisma } from '../generated/sqlite/client';
import { DEFAULT_SANDBOX_ID } from '../sandbox';
import { findAttendeeByLink, findAttendeeBySession, joinRoom, parseDisplayName, resetAttendee, resumeWithLink } from './attendees';
import { parseRoomCode } from './codes';
import { createRoom, deleteRoom, findRoom, updateRoom } from './rooms';

/** Rows per table of the given sandboxes (every table with a sandboxId), plus the room's own rows. */
async function rowCounts(sandboxIds: readonly string[]): Promise<Record<string, number>> {
  const db = getDb() as unknown as Record<string, { count(args: unknown): Promise<number> }>;
  const counts: Record<string, number> = {};
  for (const model of Object.values(Prisma.ModelName)) {
    const fields = Object.values((Prisma as unknown as Record<string, Record<string, string>>)[`${model}ScalarFieldEnum`] ?? {});
    if (!fields.includes('sandboxId')) continue;
    const delegate = db[model.charAt(0).toLowerCase() + model.slice(1)];
    if (delegate) counts[model] = await delegate.count({ where: { sandboxId: { in: [...sandboxIds] } } });
  }
  counts.Sandbox = await getDb().sandbox.count({ where: { id: { in: [...sandboxIds] } } });
  counts.Setting = await getDb().setting.count({ where: { key: { in: sandboxIds.map((id) => `dataset:${id}`) } } });
  return counts;
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

describe('workshop rooms', () => {
  it('a room seeds its base once; each attendee gets a copy of it under an unguessable sandbox id', async () => {
    const created = await createRoom({ name: 'OAuth 101', patients: 2, seed: 7, exercises: [{ builtIn: 'ehr-launch' }] });
    if (!created.ok) throw new Error(created.error);
    const room = created.room;
    expect(room.status).toBe('open');
    expect(parseRoomCode(room.code.toLowerCase())).toBe(room.code);
    const base = await getDb().resource.count({ where: { sandboxId: room.baseSandboxId } });
    expect(base).toBeGreaterThan(10);

    const ada = await joinRoom(room.code, '  Ada   Lovelace ');
    const bob = await joinRoom(room.code, 'Bob');
    if (!ada.ok || !bob.ok) throw new Error('join failed');
    expect(ada.attendee.name).toBe('Ada Lovelace');
    expect(ada.attendee.sandboxId).not.toBe(bob.attendee.sandboxId);
    expect(ada.attendee.sandboxId.length).toBeGreaterThanOrEqual(22);
    expect(await getDb().resource.count({ where: { sandboxId: ada.attendee.sandboxId } })).toBe(base);

    // The secrets are not stored; the cookie and the link find the attendee by their hash.
    const stored = await getDb().attendee.findUniqueOrThrow({ where: { id: ada.attendee.id } });
    expect(JSON.stringify(stored)).not.toContain(ada.sessionSecret);
    expect(JSON.stringify(stored)).not.toContain(ada.linkSecret);
    expect((await findAttendeeBySession(ada.sessionSecret))?.attendee.id).toBe(ada.attendee.id);
    expect(await findAttendeeBySession(ada.linkSecret)).toBeNull();
    expect((await findAttendeeByLink(ada.linkSecret))?.attendee.id).toBe(ada.attendee.id);

    // The personal link moves the session: the old cookie stops working.
    const moved = await resumeWithLink(ada.linkSecret);
    if (!moved.ok) throw new Error(moved.error);
    expect(await findAttendeeBySession(ada.sessionSecret)).toBeNull();
    expect((await findAttendeeBySession(moved.sessionSecret))?.attendee.id).toBe(ada.attendee.id);

    // Reset: a write in Ada's sandbox is gone afterwards; Bob's sandbox is untouched.
    const patient = await getDb().resource.findFirstOrThrow({ where: { sandboxId: ada.attendee.sandboxId, type: 'Patient' } });
    await getDb().resource.update({
      where: { sandboxId_type_id: { sandboxId: ada.attendee.sandboxId, type: 'Patient', id: patient.id } },
      data: { versionId: 99 },
    });
    expect(await resetAttendee(room.id, ada.attendee.id)).toBe(true);
    const after = await getDb().resource.findUniqueOrThrow({
      where: { sandboxId_type_id: { sandboxId: ada.attendee.sandboxId, type: 'Patient', id: patient.id } },
    });
    expect(after.versionId).not.toBe(99);
    expect(await resetAttendee(room.id, bob.attendee.id.slice(0, -1))).toBe(false);
    // The attendee keeps their cookie and link across a reset.
    expect((await findAttendeeBySession(moved.sessionSecret))?.attendee.sandboxId).toBe(ada.attendee.sandboxId);
    expect((await findAttendeeByLink(ada.linkSecret))?.attendee.id).toBe(ada.attendee.id);

    // Closing ends joining; reopening and extending work.
    expect((await updateRoom(room.id, { closed: true })).ok).toBe(true);
    expect(await joinRoom(room.code, 'Late')).toMatchObject({ ok: false, refusal: 'closed' });
    const reopened = await updateRoom(room.id, { closed: false, extendMinutes: 60 });
    expect(reopened.ok && reopened.room.status).toBe('open');
    expect(reopened.ok && reopened.room.endsAt.getTime()).toBeGreaterThan(room.endsAt.getTime());
  });

  it('deleting a room removes every row of its sandboxes and nothing of other rooms or of the default sandbox', async () => {
    const one = await createRoom({ name: 'Room one', patients: 1, seed: 1 });
    const two = await createRoom({ name: 'Room two', patients: 1, seed: 2 });
    if (!one.ok || !two.ok) throw new Error('create failed');
    const a = await joinRoom(one.room.code, 'A');
    const b = await joinRoom(two.room.code, 'B');
    if (!a.ok || !b.ok) throw new Error('join failed');
    await getDb().auditRecord.create({
      data: {
        id: 'audit-of-a',
        sandboxId: a.attendee.sandboxId,
        at: new Date(),
        kind: 'fhir',
        method: 'GET',
        endpoint: '/fhir/Patient',
        status: 200,
        latencyMs: 1,
      },
    });
    const oneIds = [one.room.baseSandboxId, a.attendee.sandboxId];
    const keepIds = [two.room.baseSandboxId, b.attendee.sandboxId, DEFAULT_SANDBOX_ID];
    const before = await rowCounts(oneIds);
    const keptBefore = await rowCounts(keepIds);
    expect(total(before)).toBeGreaterThan(50);
    expect(before.AuditRecord).toBe(1);
    expect(before.Setting).toBe(oneIds.length);

    expect(await deleteRoom(one.room.id)).toBe(true);
    const after = await rowCounts(oneIds);
    expect(Object.entries(after).filter(([, n]) => n > 0)).toEqual([]);
    expect(await getDb().attendee.count({ where: { roomId: one.room.id } })).toBe(0);
    expect(await findRoom(one.room.id)).toBeNull();
    expect(await rowCounts(keepIds)).toEqual(keptBefore);
    expect(await deleteRoom(one.room.id)).toBe(false);
  });

  it('refuses bad input with a reason', async () => {
    expect(await createRoom({ name: '' })).toMatchObject({ ok: false });
    expect(await createRoom({ name: 'x', patients: 100000 })).toMatchObject({ ok: false });
    expect(await createRoom({ name: 'x', endsAt: '2001-01-01T00:00:00Z' })).toMatchObject({ ok: false, error: expect.stringContaining('past') });
    expect(await createRoom({ name: 'x', surprise: 1 })).toMatchObject({ ok: false });
    expect(await joinRoom('ZZZZZZ', 'Ada')).toMatchObject({ ok: false, refusal: 'unknown-room' });
    expect(parseDisplayName('<script>alert(1)</script>')).toMatchObject({ ok: false });
    expect(parseDisplayName('x'.repeat(61))).toMatchObject({ ok: false });
    expect(parseDisplayName('x'.repeat(100_000))).toMatchObject({ ok: false });
    expect(parseDisplayName('   ')).toMatchObject({ ok: false });
    expect(parseDisplayName(42)).toMatchObject({ ok: false });
    expect(parseDisplayName('Zoë Ñandú')).toEqual({ ok: true, name: 'Zoë Ñandú' });
  });
});
