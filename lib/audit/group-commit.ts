// node:timers' own setImmediate: a test that fakes the global timers must not stall audit writes.
import { setImmediate } from 'node:timers';

/**
 * Group commit: callers enqueue items and each gets a promise that settles once its own item is
 * written. Items are written in batches, one batch at a time: the first item enqueued while the
 * writer is idle starts a batch on the next turn of the event loop (so everything enqueued in the
 * same turn shares it), and items enqueued while a batch is being written form the next one. A
 * database then pays one write transaction per batch instead of one per item, which matters most on
 * SQLite, where every write transaction is serialised with all other writers.
 */
export interface BatchSink<T> {
  /** Writes every item in one transaction (all or nothing). */
  writeBatch(items: readonly T[]): Promise<void>;
  /** Writes one item; used item by item when a batch fails, so one bad item cannot sink the others. */
  writeOne(item: T): Promise<void>;
}

export interface GroupCommitOptions<T> {
  /** Largest number of items in one batch. */
  readonly maxBatch: number;
  /** Told about an item that could not be written even on its own. */
  readonly onLost: (item: T, error: unknown) => void;
  /** Told that a batch failed as a whole and its items are being written one by one. */
  readonly onFallback?: (error: unknown, size: number) => void;
}

/** Counters of a queue since it was created. */
export interface GroupCommitStats {
  batches: number;
  written: number;
  /** Batches that failed as a whole and were retried item by item. */
  fallbacks: number;
  lost: number;
}

interface Pending<T> {
  readonly item: T;
  readonly done: () => void;
}

/** A group-commit queue in front of a sink (see the file comment). */
export class GroupCommitQueue<T> {
  readonly stats: GroupCommitStats = { batches: 0, written: 0, fallbacks: 0, lost: 0 };
  private pending: Pending<T>[] = [];
  private writing = false;
  private scheduled = false;
  private idle: (() => void)[] = [];

  constructor(
    private readonly sink: BatchSink<T>,
    private readonly options: GroupCommitOptions<T>,
  ) {
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1) throw new RangeError('maxBatch must be a positive integer');
  }

  /** Items waiting for a batch (not counting the batch being written). */
  get waiting(): number {
    return this.pending.length;
  }

  /**
   * Queues an item; resolves once it is written, or once it is known that it cannot be written
   * (then `onLost` was told). Never rejects.
   */
  enqueue(item: T): Promise<void> {
    return new Promise<void>((done) => {
      this.pending.push({ item, done });
      this.schedule();
    });
  }

  /** Resolves once every item enqueued so far has been written or given up on. */
  flush(): Promise<void> {
    if (!this.writing && !this.scheduled && this.pending.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private schedule(): void {
    if (this.writing || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, this.options.maxBatch);
        await this.write(batch);
      }
    } finally {
      this.writing = false;
      const waiters = this.idle;
      this.idle = [];
      for (const resolve of waiters) resolve();
    }
  }

  private async write(batch: Pending<T>[]): Promise<void> {
    this.stats.batches++;
    try {
      await this.sink.writeBatch(batch.map((p) => p.item));
      this.stats.written += batch.length;
      for (const p of batch) p.done();
      return;
    } catch (err) {
      this.stats.fallbacks++;
      report(() => this.options.onFallback?.(err, batch.length));
    }
    // The batch was rolled back as a whole: write its items one by one so that only the bad ones
    // are lost. They go out together (a database that is down then costs one wait, not one per
    // item), and each caller is released as soon as its own item is settled.
    await Promise.all(
      batch.map(async (p) => {
        try {
          await this.sink.writeOne(p.item);
          this.stats.written++;
        } catch (err) {
          this.stats.lost++;
          report(() => this.options.onLost(p.item, err));
        }
        p.done();
      }),
    );
  }
}

/** Runs a reporter; a failing reporter must not stop the queue. */
function report(fn: () => void): void {
  try {
    fn();
  } catch {
    // nothing better to do with it
  }
}
