// `npm run test:soak`: the long forms of the adversarial suites. Fuzzing with FUZZ_RUNS runs per
// property (1500 unless set), then the resilience suites (load, faults, several instances) against
// a fresh build, with the load test running LOAD_SECONDS (60 unless set) on SQLite and PostgreSQL.
// PostgreSQL comes from TEST_DATABASE_URL, else a throwaway cluster from the installed server
// binaries; with neither, the PostgreSQL half is skipped (a failure when SANDBOX_REQUIRE_ALL=1 or CI).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { root } from './prisma-schemas.mjs';
import { findPgBin, startCluster } from './lib/pg-cluster.mjs';

const requireAll = process.env.SANDBOX_REQUIRE_ALL === '1' || process.env.CI === 'true';
const bin = (name) => join(root, 'node_modules', '.bin', name);
const results = [];

function step(name, cmd, args, env = {}) {
  console.log(`\n▶ ${name}`);
  const started = Date.now();
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  const ok = res.status === 0;
  const seconds = (Date.now() - started) / 1000;
  results.push({ name, ok, seconds });
  console.log(`${ok ? '✔' : '✖'} ${name} (${seconds.toFixed(1)} s)`);
  return ok;
}

const soak = { FUZZ_RUNS: process.env.FUZZ_RUNS ?? '1500', LOAD_SECONDS: process.env.LOAD_SECONDS ?? '60' };

step(`fuzz (${soak.FUZZ_RUNS} runs per property)`, bin('vitest'), ['run', '--project', 'unit', 'test/unit/fuzz'], soak);

// The resilience suites start the built app (NEXT_DIST_DIR, default .next): build it from this tree.
const built = step('build', bin('next'), ['build']);
if (built) {
  const resilience = (url, note) =>
    step(`resilience (load ${soak.LOAD_SECONDS} s${note})`, bin('vitest'), ['run', '--project', 'resilience'], {
      ...soak,
      ...(url ? { TEST_DATABASE_URL: url } : {}),
    });
  let cluster;
  if (process.env.TEST_DATABASE_URL) {
    resilience(process.env.TEST_DATABASE_URL, ', SQLite and PostgreSQL');
  } else if (findPgBin()) {
    try {
      cluster = await startCluster();
      resilience(cluster.url, ', SQLite and PostgreSQL');
    } catch (err) {
      console.log(`PostgreSQL could not start: ${err.message}`);
      if (requireAll) results.push({ name: 'resilience (PostgreSQL)', ok: false, seconds: 0 });
      resilience(null, ', SQLite only');
    } finally {
      await cluster?.stop();
    }
  } else {
    console.log('⚠ no PostgreSQL server binaries and no TEST_DATABASE_URL: the PostgreSQL half is skipped');
    if (requireAll) results.push({ name: 'resilience (PostgreSQL)', ok: false, seconds: 0 });
    resilience(null, ', SQLite only');
  }
}

const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
console.log('\nsummary');
for (const r of results) console.log(`  ${r.ok ? 'passed' : 'FAILED'} ${r.name}${r.seconds ? ` (${r.seconds.toFixed(1)} s)` : ''}`);
console.log(`suites: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
