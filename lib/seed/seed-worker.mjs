// Entry of the seed pipeline's worker thread (lib/seed/pipeline.ts): registers tsx's loader (a
// dependency) in this thread, whatever the parent process was started with, then runs the
// TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./seed-worker');
