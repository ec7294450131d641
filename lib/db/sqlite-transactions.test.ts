import { describe, it, expect } from 'vitest';
import { getDb } from '.';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A promise and its resolver: lets a test act while a transaction is known to be open. */
function signal(): { wait: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const wait = new Promise<void>((r) => (fire = r));
  return { wait, fire };
}

describe('SQLite transactions (one shared connection)', () => {
  it('a write made while another request’s transaction is open survives that transaction’s rollback', async () => {
    const db = getDb();
    const open = signal();
    const failing = db
      .$transaction(async (tx) => {
        await tx.setting.create({ data: { key: 'tx-rolled-back', value: '1' } });
        open.fire();
        await sleep(100);
        throw new Error('the transaction fails');
      })
      .catch((err: unknown) => (err as Error).message);
    await open.wait;
    await db.setting.create({ data: { key: 'tx-outside-write', value: '1' } });
    expect(await failing).toBe('the transaction fails');
    const keys = (await db.setting.findMany({ where: { key: { startsWith: 'tx-' } } })).map((s) => s.key);
    expect(keys).toEqual(['tx-outside-write']);
  });

  it('a read outside a transaction never sees rows that are then rolled back', async () => {
    const db = getDb();
    const open = signal();
    const tx = db
      .$transaction(async (t) => {
        await t.setting.create({ data: { key: 'tx-uncommitted', value: '1' } });
        open.fire();
        await sleep(100);
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    await open.wait;
    const seen = await db.setting.count({ where: { key: 'tx-uncommitted' } });
    await tx;
    expect(seen).toBe(0);
  });

  it('concurrent transactions take turns: a conditional update wins once', async () => {
    const db = getDb();
    await db.setting.create({ data: { key: 'tx-counter', value: '0' } });
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        db.$transaction(async (tx) => {
          const taken = await tx.setting.updateMany({ where: { key: 'tx-counter', value: '0' }, data: { value: String(i + 1) } });
          await sleep(5);
          if (taken.count === 1) await tx.setting.create({ data: { key: `tx-winner-${i}`, value: '1' } });
          return taken.count;
        }),
      ),
    );
    expect(results.reduce((a, b) => a + b, 0)).toBe(1);
    expect(await db.setting.count({ where: { key: { startsWith: 'tx-winner-' } } })).toBe(1);
  });
});
