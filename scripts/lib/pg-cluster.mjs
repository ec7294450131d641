// A throwaway PostgreSQL cluster for tests and migration diffs, started from the server binaries
// installed on the machine. initdb refuses to run as root, so as root it runs as `postgres`.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Directory of the newest installed PostgreSQL server binaries, or null. */
export function findPgBin() {
  if (process.env.PG_BIN && existsSync(join(process.env.PG_BIN, 'initdb'))) return process.env.PG_BIN;
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(base, versions[0], 'bin') : null;
}

/** A TCP port on loopback that is free right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

const asRoot = process.getuid?.() === 0;
function run(bin, args, opts = {}) {
  if (asRoot) return execFileSync('runuser', ['-u', 'postgres', '--', bin, ...args], opts);
  return execFileSync(bin, args, opts);
}

/**
 * Starts a cluster; returns { url, port, createDatabase(name), stop(), pause(), resume() }.
 * pause() shuts the server down (fast shutdown: sessions are terminated, as in a restart or a
 * failover) and keeps its data; resume() starts it again on the same port. Throws if no server
 * binaries are installed.
 */
export async function startCluster() {
  const bin = findPgBin();
  if (!bin) throw new Error('PostgreSQL server binaries not found (install the postgresql package)');
  const dir = mkdtempSync(join(tmpdir(), 'smart-sandbox-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const port = await freePort();
  if (asRoot) execFileSync('chown', ['postgres', dir]);
  run(join(bin, 'initdb'), ['-D', data, '-U', 'sandbox', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8'], { stdio: 'ignore' });
  const args = [
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    dir,
    '-h',
    '127.0.0.1',
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'max_connections=200',
  ];
  let child;
  const launch = async () => {
    child = asRoot
      ? spawn('runuser', ['-u', 'postgres', '--', join(bin, 'postgres'), ...args], { stdio: 'ignore', detached: false })
      : spawn(join(bin, 'postgres'), args, { stdio: 'ignore' });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        execFileSync(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
        return;
      } catch {
        if (Date.now() > deadline) throw new Error('PostgreSQL did not start within 30 s');
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  const exited = () => new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
  const shutdown = async (mode) => {
    try {
      run(join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', mode, '-w'], { stdio: 'ignore' });
    } catch {
      child.kill('SIGKILL');
    }
    await exited();
  };
  await launch();
  execFileSync(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'sandbox', 'sandbox'], { stdio: 'ignore' });
  const url = `postgresql://sandbox@127.0.0.1:${port}/sandbox`;
  /** Creates another empty database in the cluster and returns its URL. */
  const createDatabase = (name) => {
    execFileSync(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'sandbox', name], { stdio: 'ignore' });
    return `postgresql://sandbox@127.0.0.1:${port}/${name}`;
  };
  let paused = false;
  const stop = async () => {
    if (!paused) await shutdown('immediate');
    rmSync(dir, { recursive: true, force: true });
  };
  /** Shuts the server down, keeping its data and port: clients see their connections terminated, then refused. */
  const pause = async () => {
    if (paused) return;
    await shutdown('fast');
    paused = true;
  };
  /** Starts the paused server again on the same port with the same data. */
  const resume = async () => {
    if (!paused) return;
    await launch();
    paused = false;
  };
  return { url, port, createDatabase, stop, pause, resume };
}
