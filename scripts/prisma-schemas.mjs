// Writes the provider-specific Prisma schemas from prisma/schema.base.prisma.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const providers = {
  sqlite: { provider: 'sqlite', output: '../../lib/generated/sqlite' },
  postgresql: { provider: 'postgresql', output: '../../lib/generated/postgresql' },
};

/** Path of the schema file for one provider. */
export function schemaPath(kind) {
  return join(root, 'prisma', kind, 'schema.prisma');
}

/** Writes both provider schemas and returns their paths. */
export function writeSchemas() {
  const base = readFileSync(join(root, 'prisma', 'schema.base.prisma'), 'utf8');
  const header = '// Generated from prisma/schema.base.prisma by scripts/prisma-schemas.mjs. Do not edit.\n';
  for (const [kind, p] of Object.entries(providers)) {
    const text = header + base.replace('{{PROVIDER}}', p.provider).replace('{{OUTPUT}}', p.output);
    mkdirSync(dirname(schemaPath(kind)), { recursive: true });
    writeFileSync(schemaPath(kind), text);
  }
  return Object.keys(providers).map(schemaPath);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) writeSchemas();
