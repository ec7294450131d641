import { describe, expect, it, vi } from 'vitest';
import { GroupCommitQueue } from './group-commit';
import type { BatchSink } from './group-commit';

/** A sink that records what it was asked to write; a write can be held open until released. */
class RecordingSink implements BatchSink<string> {
  readonly batches: string[][] = [];
  readonly singles: string[] = [];
  readonly rows: string[] = [];
  private gate: Promise<void> | null = null;
  private open: (() => void) | null = null;

  constructor(private readonly isBad: (item: string) => boolean = () => false) {}

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open?.();
    this.gate = null;
  }

  async writeBatch(items: readonly string[]): Promise<void> {
    this.batches.push([...items]);
    if (this.gate) await this.gate;
    if (items.some(this.isBad)) throw new Error('constraint violated: the whole batch is rolled back');
    this.rows.push(...items);
  }

  async writeOne(item: string): Promise<void> {
    this.singles.push(item);
    if (this.isBad(item)) throw new Error(`cannot write ${item}`);
    this.rows.push(item);
  }
}

const items = (n: number, prefix = 'r') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const tick = () => new Promise((r) => setImmediate(r));

describe('GroupCommitQueue', () => {
  it('writes everything enqueued in one turn of the event loop as one batch', async () => {
    const sink = new RecordingSink();
    const queue = new GroupCommitQueue(sink, { maxBatch: 200, onLost: () => undefined });
    await Promise.all(items(50).map((i) => queue.enqueue(i)));
    expect(sink.batches).toHaveLength(1);
    expect(sink.batches[0]).toHaveLength(50);
    expect(sink.rows.sort()).toEqual(items(50).sort());
    expect(queue.stats).toEqual({ batches: 1, written: 50, fallbacks: 0, lost: 0 });
  });

  it('gathers the items enqueued while a batch is being written into the next batch', async () => {
    const sink = new RecordingSink();
    const queue = new GroupCommitQueue(sink, { maxBatch: 200, onLost: () => undefined });
    sink.hold();
    const first = items(3, 'a').map((i) => queue.enqueue(i));
    await tick();
    expect(sink.batches).toEqual([['a0', 'a1', 'a2']]);
    // The first batch is still being written: these wait for the next one, whatever their number.
    const second = items(5, 'b').map((i) => queue.enqueue(i));
    await tick();
    expect(sink.batches).toHaveLength(1);
    expect(queue.waiting).toBe(5);
    sink.release();
    await Promise.all([...first, ...second]);
    expect(sink.batches).toEqual([
      ['a0', 'a1', 'a2'],
      ['b0', 'b1', 'b2', 'b3', 'b4'],
    ]);
  });

  it('caps the batch size and still writes every item exactly once', async () => {
    const sink = new RecordingSink();
    const queue = new GroupCommitQueue(sink, { maxBatch: 200, onLost: () => undefined });
    await Promise.all(items(450).map((i) => queue.enqueue(i)));
    expect(sink.batches.map((b) => b.length)).toEqual([200, 200, 50]);
    expect(sink.rows).toHaveLength(450);
    expect(new Set(sink.rows).size).toBe(450);
  });

  it('resolves a caller only once the batch holding its item is written', async () => {
    const sink = new RecordingSink();
    const queue = new GroupCommitQueue(sink, { maxBatch: 10, onLost: () => undefined });
    sink.hold();
    let settled = false;
    const done = queue.enqueue('x').then(() => {
      settled = true;
      expect(sink.rows).toContain('x');
    });
    await tick();
    await tick();
    expect(sink.batches).toEqual([['x']]);
    expect(settled).toBe(false);
    sink.release();
    await done;
    expect(settled).toBe(true);
  });

  it('falls back to one write per item when a batch fails, so only the bad item is lost', async () => {
    const sink = new RecordingSink((i) => i === 'r7');
    const lost: [string, unknown][] = [];
    const fallbacks: number[] = [];
    const queue = new GroupCommitQueue(sink, {
      maxBatch: 200,
      onLost: (item, err) => lost.push([item, err]),
      onFallback: (_err, size) => fallbacks.push(size),
    });
    const results = await Promise.allSettled(items(20).map((i) => queue.enqueue(i)));
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(sink.batches).toHaveLength(1);
    expect(sink.singles).toHaveLength(20);
    expect(sink.rows.sort()).toEqual(
      items(20)
        .filter((i) => i !== 'r7')
        .sort(),
    );
    expect(lost.map(([item]) => item)).toEqual(['r7']);
    expect(String(lost[0]?.[1])).toContain('cannot write r7');
    expect(fallbacks).toEqual([20]);
    expect(queue.stats).toEqual({ batches: 1, written: 19, fallbacks: 1, lost: 1 });
  });

  it('retries the items of a failed batch together, so a database that is down costs one wait', async () => {
    let started = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const queue = new GroupCommitQueue<string>(
      {
        writeBatch: async () => {
          throw new Error('connection refused');
        },
        writeOne: async () => {
          started++;
          await gate;
          throw new Error('connection refused');
        },
      },
      { maxBatch: 50, onLost: () => undefined },
    );
    const all = Promise.all(items(30).map((i) => queue.enqueue(i)));
    await tick();
    await tick();
    expect(started).toBe(30);
    release();
    await all;
    expect(queue.stats).toEqual({ batches: 1, written: 0, fallbacks: 1, lost: 30 });
  });

  it('keeps going after a failed batch and after a reporter that throws', async () => {
    const sink = new RecordingSink((i) => i.startsWith('bad'));
    const queue = new GroupCommitQueue(sink, {
      maxBatch: 200,
      onLost: () => {
        throw new Error('reporter broke');
      },
    });
    await Promise.all(['bad1', 'ok1'].map((i) => queue.enqueue(i)));
    await Promise.all(['ok2', 'ok3'].map((i) => queue.enqueue(i)));
    expect(sink.rows.sort()).toEqual(['ok1', 'ok2', 'ok3']);
    expect(sink.batches).toEqual([
      ['bad1', 'ok1'],
      ['ok2', 'ok3'],
    ]);
  });

  it('survives a sink that throws synchronously', async () => {
    const written: string[] = [];
    const queue = new GroupCommitQueue<string>(
      {
        writeBatch: () => {
          throw new Error('driver not ready');
        },
        writeOne: async (i) => void written.push(i),
      },
      { maxBatch: 5, onLost: () => undefined },
    );
    await Promise.all(items(7).map((i) => queue.enqueue(i)));
    expect(written.sort()).toEqual(items(7).sort());
    expect(queue.stats.fallbacks).toBe(2);
  });

  it('N concurrent producers over several turns: N items written, none twice', async () => {
    const sink = new RecordingSink();
    const queue = new GroupCommitQueue(sink, { maxBatch: 32, onLost: () => undefined });
    const producers = Array.from({ length: 25 }, async (_, p) => {
      for (let k = 0; k < 40; k++) {
        await queue.enqueue(`p${p}-${k}`);
        if (k % 3 === 0) await tick();
      }
    });
    await Promise.all(producers);
    expect(sink.rows).toHaveLength(1000);
    expect(new Set(sink.rows).size).toBe(1000);
    expect(sink.batches.length).toBeLessThan(1000);
    expect(Math.max(...sink.batches.map((b) => b.length))).toBeLessThanOrEqual(32);
  });

  it('flush() waits for every queued item', async () => {
    const sink = new RecordingSink();
    const queue = new GroupCommitQueue(sink, { maxBatch: 200, onLost: () => undefined });
    await queue.flush();
    sink.hold();
    for (const i of items(10)) void queue.enqueue(i);
    const flushed = queue.flush();
    await tick();
    expect(sink.rows).toHaveLength(0);
    sink.release();
    await flushed;
    expect(sink.rows).toHaveLength(10);
  });

  it('keeps writing while a test fakes the global timers', async () => {
    vi.useFakeTimers();
    try {
      const sink = new RecordingSink();
      const queue = new GroupCommitQueue(sink, { maxBatch: 200, onLost: () => undefined });
      await Promise.all(items(3).map((i) => queue.enqueue(i)));
      expect(sink.rows).toHaveLength(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses a batch size that is not a positive integer', () => {
    expect(() => new GroupCommitQueue(new RecordingSink(), { maxBatch: 0, onLost: () => undefined })).toThrow(RangeError);
  });
});
