// `npm start` (after prestart has migrated, seeded and built): serves the app with `next start`.
// `next start` runs in production mode, where the console refuses its default development
// account; unless CONSOLE_USER/CONSOLE_PASSWORD are set, a console account with a random
// password is created once (data/console-account.json, readable only by you) and printed.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './prisma-schemas.mjs';

const env = { ...process.env };
const port = env.PORT || '3000';
let consoleNote;
if (!env.CONSOLE_USER && !env.CONSOLE_PASSWORD) {
  const file = join(root, 'data', 'console-account.json');
  let account;
  try {
    account = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    account = null;
  }
  if (!account?.user || !account?.password) {
    mkdirSync(join(root, 'data'), { recursive: true });
    account = { user: 'instructor', password: randomBytes(12).toString('base64url') };
    writeFileSync(file, `${JSON.stringify(account, null, 2)}\n`, { mode: 0o600 });
  }
  if (existsSync(file)) chmodSync(file, 0o600);
  env.CONSOLE_USER = account.user;
  env.CONSOLE_PASSWORD = account.password;
  consoleNote = `console account: ${account.user} / ${account.password}  (kept in data/console-account.json; set CONSOLE_USER and CONSOLE_PASSWORD to choose your own)`;
} else consoleNote = 'console account: from CONSOLE_USER / CONSOLE_PASSWORD';

console.log(`\nSMART Sandbox on http://localhost:${port}`);
console.log(`  launcher  http://localhost:${port}/`);
console.log(`  FHIR      http://localhost:${port}/fhir`);
console.log(`  console   http://localhost:${port}/console — ${consoleNote}\n`);

const child = spawn(process.execPath, [join(root, 'node_modules', 'next', 'dist', 'bin', 'next'), 'start', '-p', port], { cwd: root, env, stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
