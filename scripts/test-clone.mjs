// A clone of this repository in an empty directory, with nothing beside it, passes the type
// check and the unit suite: nothing in the project reads outside its own tree. The clone is of
// the committed HEAD; node_modules are hard-linked from this checkout (installing again would only
// fetch the same packages), and the Prisma clients are generated in the clone as postinstall does.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root } from './prisma-schemas.mjs';

const parent = mkdtempSync(join(tmpdir(), 'smart-sandbox-clone-'));
const clone = join(parent, 'smart-sandbox');
let status = 1;
try {
  execFileSync('git', ['clone', '--quiet', root, clone], { stdio: 'inherit' });
  const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' }).trim();
  if (dirty) console.log('note: the clone has the committed HEAD; uncommitted changes are not in it');
  try {
    execFileSync('cp', ['-al', join(root, 'node_modules'), join(clone, 'node_modules')]);
  } catch {
    symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'), 'dir');
  }
  execFileSync(process.execPath, [join(clone, 'scripts', 'prisma-generate.mjs')], { cwd: clone, stdio: ['ignore', 'ignore', 'inherit'] });
  const beside = readdirSync(parent);
  if (beside.length !== 1) throw new Error(`the clone's directory is not empty: ${beside.join(', ')}`);
  const bin = (name) => join(clone, 'node_modules', '.bin', name);
  const run = (cmd, args) => spawnSync(cmd, args, { cwd: clone, stdio: 'inherit', env: { ...process.env, INIT_CWD: clone } }).status === 0;
  status = run(bin('tsc'), ['--noEmit']) && run(bin('vitest'), ['run', '--project', 'unit']) ? 0 : 1;
} finally {
  rmSync(parent, { recursive: true, force: true });
}
process.exit(status);
