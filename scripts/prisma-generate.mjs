// Generates the Prisma clients (one per provider) without downloading any engine binary:
// the `prisma-client` generator never runs the schema engine, but the CLI insists that one
// exists, so PRISMA_SCHEMA_ENGINE_BINARY points at a file that does.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { writeSchemas, root } from './prisma-schemas.mjs';

const require = createRequire(import.meta.url);
const cli = join(dirname(require.resolve('prisma/package.json')), 'build', 'index.js');

for (const schema of writeSchemas()) {
  execFileSync(process.execPath, [cli, 'generate', '--schema', schema], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
      PRISMA_HIDE_UPDATE_MESSAGE: '1',
      CHECKPOINT_DISABLE: '1',
    },
  });
}
