import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const SKIP = new Set(['node_modules', 'generated', 'results']);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (SKIP.has(name) || name.startsWith('.')) return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return /\.(ts|tsx|mts|mjs|cjs|md)$/.test(name) ? [path] : [];
  });
}

// Written in pieces so that this file does not cite them itself.
const OUTSIDE = [
  ['DESIGN', '.md'],
  ['STYLE', '.md'],
  ['check', 'list #'],
].map(([a, b]) => `${a}${b}`);

describe('citations a reader can follow', () => {
  it('no comment, test or document cites a guide or list that is not in the repository', () => {
    const found: string[] = [];
    for (const dir of ['lib', 'app', 'test', 'e2e', 'scripts', 'bench', 'docs', 'prisma']) {
      for (const path of files(join(root, dir))) {
        const text = readFileSync(path, 'utf8');
        for (const name of OUTSIDE) if (text.includes(name)) found.push(`${relative(root, path)}: ${name}`);
      }
    }
    expect(found).toEqual([]);
  });
});
