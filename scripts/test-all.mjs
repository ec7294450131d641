// `npm test`: types, lint, unit, build, integration on SQLite and PostgreSQL, end-to-end in
// Chromium. It brings up what it needs: a throwaway PostgreSQL cluster when the server binaries
// are installed, and Chromium (Debian's /usr/bin/chromium, else Playwright's own).
// With SANDBOX_REQUIRE_ALL=1 (CI) a suite that cannot run is a failure, never a skip.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './prisma-schemas.mjs';
import { findPgBin, startCluster } from './lib/pg-cluster.mjs';
import { findChromium } from './lib/chromium.mjs';

const requireAll = process.env.SANDBOX_REQUIRE_ALL === '1' || process.env.CI === 'true';
const only = process.argv.slice(2);
const results = [];
const bin = (name) => join(root, 'node_modules', '.bin', name);

function step(name, cmd, args, env = {}) {
  if (only.length && !only.some((o) => name.startsWith(o))) return true;
  console.log(`\n▶ ${name}`);
  const started = Date.now();
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  const ok = res.status === 0;
  results.push({ name, ok, seconds: (Date.now() - started) / 1000 });
  console.log(`${ok ? '✔' : '✖'} ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return ok;
}

function skip(name, reason) {
  if (only.length && !only.some((o) => name.startsWith(o))) return;
  if (requireAll) {
    console.log(`✖ ${name}: cannot run: ${reason}`);
    results.push({ name, ok: false, seconds: 0 });
  } else {
    console.log(`⚠ ${name} skipped: ${reason}`);
    results.push({ name, ok: true, skipped: true, seconds: 0 });
  }
}

// The build comes first: it writes the route types (.next/types) the type check validates.
const built = step('build', bin('next'), ['build'], { NEXT_DIST_DIR: '.next' });
step('typecheck', bin('tsc'), ['--noEmit']);
step('lint', bin('eslint'), ['.', '--max-warnings=0']);
step('layers', bin('depcruise'), ['lib', '--config', '.dependency-cruiser.cjs']);
step('unit', bin('vitest'), ['run', '--project', 'unit']);
step('unit in a clone with nothing beside it', process.execPath, [join(root, 'scripts', 'test-clone.mjs')]);

if (built) {
  step('integration (SQLite)', bin('vitest'), ['run', '--project', 'integration'], { TEST_DB: 'sqlite' });

  // The PostgreSQL suites: integration, then resilience (load, faults, several instances).
  const postgresSuites = (url) => {
    step('integration (PostgreSQL)', bin('vitest'), ['run', '--project', 'integration'], { TEST_DB: 'postgresql', TEST_DATABASE_URL: url });
    step('resilience', bin('vitest'), ['run', '--project', 'resilience'], { TEST_DATABASE_URL: url });
  };
  let cluster;
  if (process.env.TEST_DATABASE_URL) {
    postgresSuites(process.env.TEST_DATABASE_URL);
  } else if (findPgBin()) {
    try {
      cluster = await startCluster();
      postgresSuites(cluster.url);
    } catch (err) {
      skip('integration (PostgreSQL)', `PostgreSQL could not start: ${err.message}`);
      skip('resilience', `PostgreSQL could not start: ${err.message}`);
    } finally {
      await cluster?.stop();
    }
  } else {
    skip('integration (PostgreSQL)', 'no PostgreSQL server binaries (install the postgresql package, or set TEST_DATABASE_URL)');
    skip('resilience', 'no PostgreSQL server binaries (install the postgresql package, or set TEST_DATABASE_URL)');
  }

  const chromium = findChromium();
  if (chromium) step('e2e (Chromium)', bin('playwright'), ['test'], { CHROMIUM_PATH: chromium.path ?? '' });
  else skip('e2e (Chromium)', 'no Chromium (apt-get install chromium, or npx playwright install chromium)');
} else {
  skip('integration', 'build failed');
  skip('resilience', 'build failed');
  skip('e2e (Chromium)', 'build failed');
}

if (existsSync(join(root, 'test-results')) && results.every((r) => r.ok)) rmSync(join(root, 'test-results'), { recursive: true, force: true });

const passed = results.filter((r) => r.ok && !r.skipped).length;
const failed = results.filter((r) => !r.ok).length;
const skipped = results.filter((r) => r.skipped).length;
console.log('\nsummary');
for (const r of results) console.log(`  ${r.skipped ? 'skipped' : r.ok ? 'passed ' : 'FAILED '} ${r.name}${r.seconds ? ` (${r.seconds.toFixed(1)} s)` : ''}`);
console.log(`suites: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed ? 1 : 0);
