import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ROSTER_IDS } from '../synthetic';
import { seedBatches } from './batches';
import type { BatchPlan, SeedBatch } from './batches';

export type { BatchPlan, SeedBatch } from './batches';

/**
 * Where batches are generated and indexed:
 * - 'worker': on a worker thread, while the caller writes the previous ones (two cores at work);
 *   fails if the worker cannot start;
 * - 'auto' (default): a worker for datasets of WORKER_MIN_PATIENTS or more when one starts,
 *   otherwise the calling thread (a worker takes about a second to start, which a small dataset
 *   does not win back);
 * - 'inline': the calling thread.
 * Every mode yields the same batches for the same plan.
 */
export type PipelineThreads = 'auto' | 'worker' | 'inline';

/** Dataset size (patients, roster included) from which 'auto' generates on a worker. */
export const WORKER_MIN_PATIENTS = 100;

export interface PipelineOptions {
  threads?: PipelineThreads;
  /** Batches the worker may have ready before the writer takes them (memory bound; default 3). */
  maxAhead?: number;
  /** Called as each batch arrives from the worker, with the number of batches then waiting. */
  onBacklog?: (waiting: number) => void;
}

/** Old-generation heap of the worker, MiB (what it keeps alive at any time is a fraction of it). */
const WORKER_HEAP_MB = 256;

/** @internal What the worker thread receives. */
export interface WorkerInput {
  plan: BatchPlan;
  credits: SharedArrayBuffer;
  maxAhead: number;
}

/** @internal What the worker thread posts. */
export type WorkerMessage = { kind: 'batch'; batch: SeedBatch } | { kind: 'done' };

type Event = WorkerMessage | { kind: 'error'; error: unknown } | { kind: 'exit'; code: number };

/**
 * Streams the batches of a seed plan. With a worker, generation and search indexing (most of the
 * CPU time) run beside the database writes; at most `maxAhead` batches wait in memory, so a
 * 10,000-patient seed needs no more memory than a small one.
 */
export async function* streamSeedBatches(plan: BatchPlan, options: PipelineOptions = {}): AsyncGenerator<SeedBatch, void, undefined> {
  const threads = options.threads ?? 'auto';
  const patients = plan.dataset.patients + (plan.dataset.includeRoster === false ? 0 : ROSTER_IDS.length);
  if (threads === 'inline' || (threads === 'auto' && patients < WORKER_MIN_PATIENTS)) {
    yield* seedBatches(plan);
    return;
  }
  const maxAhead = Math.max(1, options.maxAhead ?? 3);
  const credits = new SharedArrayBuffer(8);
  const state = new Int32Array(credits);
  let worker: Worker;
  try {
    worker = startWorker({ plan, credits, maxAhead });
  } catch (err) {
    if (threads === 'worker') throw err;
    yield* seedBatches(plan);
    return;
  }
  const events: Event[] = [];
  let wake: (() => void) | null = null;
  const push = (e: Event) => {
    events.push(e);
    wake?.();
    wake = null;
  };
  worker.on('message', (m: WorkerMessage) => push(m));
  worker.on('error', (error) => push({ kind: 'error', error }));
  worker.on('exit', (code) => push({ kind: 'exit', code }));
  const next = async (): Promise<Event> => {
    while (!events.length) await new Promise<void>((resolve) => (wake = resolve));
    return events.shift()!;
  };
  let received = 0;
  let finished = false;
  try {
    for (;;) {
      const event = await next();
      if (event.kind === 'batch') {
        received++;
        options.onBacklog?.(events.filter((e) => e.kind === 'batch').length + 1);
        yield event.batch;
        // Written: the worker may build one more.
        Atomics.sub(state, 0, 1);
        Atomics.notify(state, 0);
        continue;
      }
      if (event.kind === 'done') {
        finished = true;
        return;
      }
      // The worker could not run at all (no TypeScript loader in this process, say): generate
      // here instead. A worker that fails midway is an error: some batches are already written.
      if (received === 0 && threads === 'auto') {
        yield* seedBatches(plan);
        finished = true;
        return;
      }
      if (event.kind === 'error') throw event.error;
      throw new Error(`seed worker stopped (exit code ${event.code}) before the dataset was complete`);
    }
  } finally {
    if (!finished) {
      Atomics.store(state, 1, 1);
      Atomics.notify(state, 0);
    }
    await worker.terminate();
  }
}

/**
 * Starts the worker: it registers tsx's loader (a dependency) in its own thread, whatever this
 * process was started with, then runs the TypeScript worker module next to this one.
 */
function startWorker(input: WorkerInput): Worker {
  const loader = pathToFileURL(tsxEsmApi()).href;
  const entry = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'seed-worker.ts')).href;
  const code = `import(${JSON.stringify(loader)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  // The worker keeps little alive (definitions, one patient, one batch), but left to itself V8 lets
  // its heap fill with garbage up to a limit sized for the whole machine: a bound keeps a
  // 10,000-patient seed under 1 GiB.
  return new Worker(code, { eval: true, workerData: input, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
}

/** File of tsx's ESM API, read from the package's own exports map (its CommonJS build cannot register from a worker). */
function tsxEsmApi(): string {
  const manifest: unknown = createRequire(import.meta.url).resolve('tsx/package.json');
  // A bundler (Next.js serving the console's reseed) may hand back a module id instead of a path.
  if (typeof manifest !== 'string') throw new Error('tsx cannot be located from this module');
  const { exports } = JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import?: { default?: string } }> };
  const file = exports['./esm/api']?.import?.default;
  if (!file) throw new Error('tsx has no ESM API entry');
  return join(dirname(manifest), file);
}
