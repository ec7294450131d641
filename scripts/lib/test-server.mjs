// Starts the built app on a free port against a given database, for integration, resilience and
// end-to-end tests: the server `npm start` runs (scripts/lib/app-server.mjs, API fast path in
// front of Next; API_FAST_PATH=0 in `env` sends everything through Next). The database is migrated and seeded with a small dataset first.
import { spawn, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { root } from '../prisma-schemas.mjs';
import { freePort } from './pg-cluster.mjs';
import { socketAddressPreload } from './socket-address.mjs';

export { freePort };

/** Migrates and seeds a database (small default dataset unless SEED_PATIENTS is set). */
export function prepareDatabase(databaseUrl, extraEnv = {}) {
  execFileSync(process.execPath, [join(root, 'scripts', 'prepare-db.mjs')], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DATABASE_URL: databaseUrl, SEED_PATIENTS: process.env.TEST_SEED_PATIENTS ?? '12', ...extraEnv },
  });
}

/** Starts the app server (`nodeArgs`: options for its node, e.g. --cpu-prof); resolves { url, stop() } once /api/health answers. */
export async function startServer({ databaseUrl, port, env = {}, nodeArgs = [] }) {
  port ??= await freePort();
  const url = `http://localhost:${port}`;
  const child = spawn(process.execPath, [...nodeArgs, ...socketAddressPreload, join(root, 'scripts', 'lib', 'app-server.mjs'), '--port', String(port)], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the app server exited early:\n${output}`);
    try {
      const res = await fetch(`${url}/api/health`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not answer within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    port,
    output: () => output,
    /** Kills the server at once (SIGKILL): no shutdown, in-flight requests are cut (fault tests). */
    kill: async () => {
      child.kill('SIGKILL');
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
    },
  };
}
