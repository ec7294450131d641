// Worker thread of the seed pipeline (lib/seed/pipeline.ts): generates and indexes batches and
// posts them to the writing thread, never more than the agreed number ahead of it.
import { parentPort, workerData } from 'node:worker_threads';
import { bulkTransferList } from '../fhir/bulk-rows';
import { seedBatches } from './batches';
import type { WorkerInput, WorkerMessage } from './pipeline';

const { plan, credits, maxAhead } = workerData as WorkerInput;
const state = new Int32Array(credits);
const port = parentPort!;

for (const batch of seedBatches(plan)) {
  // state[0]: batches posted and not yet written; state[1]: set when the reader stops early.
  for (;;) {
    if (Atomics.load(state, 1) !== 0) process.exit(0);
    const ahead = Atomics.load(state, 0);
    if (ahead < maxAhead) break;
    Atomics.wait(state, 0, ahead, 1000);
  }
  Atomics.add(state, 0, 1);
  // The row arrays move to the writing thread; only the batch's distinct strings are copied.
  port.postMessage({ kind: 'batch', batch } satisfies WorkerMessage, bulkTransferList(batch));
}
port.postMessage({ kind: 'done' } satisfies WorkerMessage);
