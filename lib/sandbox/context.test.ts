import { afterEach, describe, expect, it } from 'vitest';
import { getDb } from '../db';
import {
  DEFAULT_SANDBOX,
  currentSandbox,
  invalidateSandbox,
  resolveSandbox,
  runInSandbox,
  sandboxContextOf,
  sandboxNowMs,
  sandboxOfHeaders,
  setSandboxClockOffset,
  setSandboxLoader,
  SANDBOX_HEADER,
} from './context';
import { isServedSandboxId, newSandboxId, sandboxBasePath } from './index';

afterEach(() => {
  setSandboxLoader(null);
});

describe('sandbox context', () => {
  it('is the default sandbox outside any request, and the given one inside runInSandbox across awaits', async () => {
    expect(currentSandbox()).toBe(DEFAULT_SANDBOX);
    expect(DEFAULT_SANDBOX).toEqual({ id: 'default', basePath: '', clockOffsetSeconds: 0 });
    const a = sandboxContextOf({ id: 'sbx-a', clockOffsetSeconds: 0 });
    const b = sandboxContextOf({ id: 'sbx-b', clockOffsetSeconds: 0 });
    const seen = await Promise.all([
      runInSandbox(a, async () => {
        await new Promise((r) => setTimeout(r, 5));
        return currentSandbox().id;
      }),
      runInSandbox(b, async () => {
        await Promise.resolve();
        return currentSandbox().basePath;
      }),
    ]);
    expect(seen).toEqual(['sbx-a', '/s/sbx-b']);
    expect(currentSandbox()).toBe(DEFAULT_SANDBOX);
  });

  it("runs the sandbox's clock ahead by its offset and leaves other sandboxes on real time", () => {
    const ahead = sandboxContextOf({ id: 'sbx-clock', clockOffsetSeconds: 3600 });
    const before = Date.now();
    const inside = runInSandbox(ahead, sandboxNowMs);
    const outside = sandboxNowMs();
    expect(inside - before).toBeGreaterThanOrEqual(3600_000);
    expect(inside - before).toBeLessThan(3600_000 + 5_000);
    expect(outside - before).toBeLessThan(5_000);
  });

  it('names new sandboxes with unguessable URL-safe ids and never serves the default one under /s/', () => {
    const ids = new Set(Array.from({ length: 50 }, newSandboxId));
    expect(ids.size).toBe(50);
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(isServedSandboxId(id)).toBe(true);
    }
    expect(isServedSandboxId('default')).toBe(false);
    expect(isServedSandboxId('a/b')).toBe(false);
    expect(isServedSandboxId('')).toBe(false);
    expect(sandboxBasePath('default')).toBe('');
    expect(sandboxBasePath('abc')).toBe('/s/abc');
  });
});

describe('resolveSandbox', () => {
  it('answers the default sandbox without the database, unknown or malformed ids with null', async () => {
    setSandboxLoader(() => Promise.reject(new Error('must not be read')));
    expect(await resolveSandbox('default')).toBe(DEFAULT_SANDBOX);
    expect(await resolveSandbox('../x')).toBeNull();
    expect(await resolveSandbox('x'.repeat(65))).toBeNull();
  });

  it('remembers an answer for a short time and forgets it when invalidated', async () => {
    let reads = 0;
    let offset = 0;
    setSandboxLoader((id) => {
      reads += 1;
      return Promise.resolve(id === 'known' ? { id, clockOffsetSeconds: offset } : null);
    });
    expect(await resolveSandbox('known')).toEqual({ id: 'known', basePath: '/s/known', clockOffsetSeconds: 0 });
    expect(await resolveSandbox('unknown')).toBeNull();
    offset = 60;
    expect((await resolveSandbox('known'))?.clockOffsetSeconds).toBe(0);
    expect(await resolveSandbox('unknown')).toBeNull();
    expect(reads).toBe(2);
    invalidateSandbox('known');
    expect((await resolveSandbox('known'))?.clockOffsetSeconds).toBe(60);
    expect(reads).toBe(3);
  });

  it('reads the Sandbox row, and setSandboxClockOffset is seen at once', async () => {
    const id = newSandboxId();
    expect(await resolveSandbox(id)).toBeNull();
    await getDb().sandbox.create({ data: { id, name: 'clock' } });
    invalidateSandbox(id);
    expect(await resolveSandbox(id)).toEqual({ id, basePath: `/s/${id}`, clockOffsetSeconds: 0 });
    await setSandboxClockOffset(id, 86_400);
    expect((await resolveSandbox(id))?.clockOffsetSeconds).toBe(86_400);
    await setSandboxClockOffset(id, 0);
    expect((await resolveSandbox(id))?.clockOffsetSeconds).toBe(0);
    await expect(setSandboxClockOffset(id, -1)).rejects.toThrow(RangeError);
    await expect(setSandboxClockOffset(id, 1.5)).rejects.toThrow(RangeError);
    await expect(setSandboxClockOffset('default', 60)).rejects.toThrow(RangeError);
  });

  it('serves a workshop sandbox while its room is open, not once it is closed or ended', async () => {
    const db = getDb();
    const roomId = newSandboxId();
    const [attendee, base, tagged] = [newSandboxId(), newSandboxId(), newSandboxId()];
    await db.room.create({
      data: { id: roomId, code: roomId.slice(0, 8), name: 'r', baseSandboxId: base, dataset: '{}', exercises: '[]', endsAt: new Date(Date.now() + 3_600_000) },
    });
    await db.sandbox.createMany({
      data: [
        { id: attendee, name: 'a' },
        { id: base, name: 'base' },
        { id: tagged, name: 't', roomId },
      ],
    });
    await db.attendee.create({ data: { id: newSandboxId(), roomId, sandboxId: attendee, name: 'a', sessionHash: newSandboxId(), linkHash: newSandboxId() } });
    const served = async () => {
      invalidateSandbox();
      return [(await resolveSandbox(attendee))?.id ?? null, (await resolveSandbox(base))?.id ?? null, (await resolveSandbox(tagged))?.id ?? null];
    };
    expect(await served()).toEqual([attendee, base, tagged]);
    await db.room.update({ where: { id: roomId }, data: { closedAt: new Date() } });
    expect(await served()).toEqual([null, null, null]);
    await db.room.update({ where: { id: roomId }, data: { closedAt: null, endsAt: new Date(Date.now() - 1000) } });
    expect(await served()).toEqual([null, null, null]);
  });

  it('takes the sandbox of a rewritten request from its header only', async () => {
    setSandboxLoader((id) => Promise.resolve(id === 'known' ? { id, clockOffsetSeconds: 0 } : null));
    expect(await sandboxOfHeaders(new Headers())).toBe(DEFAULT_SANDBOX);
    expect((await sandboxOfHeaders(new Headers({ [SANDBOX_HEADER]: 'known' })))?.id).toBe('known');
    expect(await sandboxOfHeaders(new Headers({ [SANDBOX_HEADER]: 'nope' }))).toBeNull();
  });
});
