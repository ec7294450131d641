// `npm start` (after prestart has migrated, seeded and built): serves the app with the app server
// (scripts/lib/app-server.mjs: the API answered by its lib handlers, everything else by Next;
// API_FAST_PATH=0 sends everything through Next). It runs in production mode, where the console refuses its default development
// account; unless CONSOLE_USER/CONSOLE_PASSWORD are set, a console account with a random
// password is created once (data/console-account.json, readable only by you) and printed.
// `npm start -- --https` (or HTTPS=1) serves over https instead, with a local CA and certificate
// made once in data/tls/ (scripts/lib/https-server.mjs).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './prisma-schemas.mjs';
import { httpsRequested, planHttps } from './lib/https-server.mjs';
import { socketAddressPreload } from './lib/socket-address.mjs';

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

let command = [join(root, 'scripts', 'lib', 'app-server.mjs'), '--port', port];
env.NODE_ENV = 'production';
let origin = `http://localhost:${port}`;
let tlsNotes = [];
if (httpsRequested()) {
  let plan;
  try {
    plan = planHttps({ port, env });
  } catch (err) {
    console.error(`npm start --https: ${err.message}`);
    process.exit(1);
  }
  Object.assign(env, plan.env);
  command = plan.args;
  origin = plan.origin;
  tlsNotes = [
    '',
    `HTTPS with a local certificate authority${plan.tls.created ? ' (just made)' : ''}: trust it once to open ${origin} without warnings.`,
    ...plan.notes,
  ];
}

console.log(`\nSMART Sandbox on ${origin}`);
console.log(`  launcher  ${origin}/`);
console.log(`  FHIR      ${origin}/fhir`);
console.log(`  console   ${origin}/console — ${consoleNote}`);
for (const line of tlsNotes) console.log(line);
console.log('');

// The preload records each request's connection: the client IP and the public origin read it (lib/http/socket-address.ts).
const child = spawn(process.execPath, [...socketAddressPreload, ...command], { cwd: root, env, stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
