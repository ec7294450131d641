import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * WAL checkpoints on a thread of their own. SQLite's automatic checkpoint runs inside whichever
 * commit crosses the threshold, on the connection that made it: its copy of the WAL into the
 * database and its fsyncs then stall the event loop, and every request waiting on it, for
 * milliseconds (`npm run bench -- fhir`: the search's p99 at a steady 100 req/s went from about
 * 18 ms to 7 ms without them). The app's connection turns automatic checkpoints off
 * (`wal_autocheckpoint = 0`) and this worker, with its own connection to the same file, runs a
 * PASSIVE checkpoint every CHECKPOINT_INTERVAL_MS: it never blocks readers or the writer, and once
 * a checkpoint has copied everything, the next commit starts the WAL over. A WAL that grows past
 * RESTART_FRAMES all the same (readers kept it from completing) gets a RESTART checkpoint, which
 * waits for the writer for up to the busy timeout.
 */
const CHECKPOINT_INTERVAL_MS = 1000;
const RESTART_FRAMES = 50_000;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { timeout: 5000 });
db.pragma('synchronous = NORMAL');
const checkpoint = () => {
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    if (result && result.log > workerData.restartFrames) db.pragma('wal_checkpoint(RESTART)');
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

export interface Checkpointer {
  /** Runs a last checkpoint and ends the thread. */
  stop(): void;
}

/** Starts the checkpoint thread of a SQLite file; it never keeps the process alive. */
export function startCheckpointer(file: string, intervalMs: number = CHECKPOINT_INTERVAL_MS): Checkpointer {
  const driver = createRequire(join(process.cwd(), 'package.json')).resolve('better-sqlite3');
  // execArgv: [] so that the parent's flags (--input-type=module, loaders) do not change how the script runs.
  const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { file, driver, intervalMs, restartFrames: RESTART_FRAMES } });
  let lastError = '';
  worker.on('message', (message: { error?: string }) => {
    if (message.error === undefined) return;
    // A checkpoint that could not run (the file is busy or gone) is retried at the next tick; one line per new reason.
    if (message.error !== lastError) console.error(`sqlite checkpoint: ${message.error}`);
    lastError = message.error;
  });
  worker.on('error', (err) => console.error(`sqlite checkpoint thread: ${err.message}`));
  // After the listeners: attaching one refs the thread again.
  worker.unref();
  return { stop: () => worker.postMessage('stop') };
}
