import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8').toLowerCase();

// Searching for a rule's name lands on the code that implements it.
const RULES: [string, string[]][] = [
  ['granular scope', ['lib/smart/scopes.ts', 'lib/fhir/search/sql.ts', 'lib/fhir/access.ts']],
  ['patient compartment', ['lib/fhir/indexer.ts', 'lib/fhir/search/sql.ts']],
  ['pkce', ['lib/oauth/checks/pkce-s256.ts', 'lib/oauth/grants/authorization-code.ts']],
  ['refresh token reuse', ['lib/oauth/grants/refresh-token.ts']],
  ['jti replay', ['lib/oauth/client-assertion.ts']],
];

describe('names of the spec rules', () => {
  for (const [rule, files] of RULES) {
    it(`"${rule}" is written where it is implemented`, () => {
      for (const file of files) expect(read(file), file).toContain(rule);
    });
  }

  it('every file docs/ARCHITECTURE.md names exists', () => {
    const doc = readFileSync(join(root, 'docs', 'ARCHITECTURE.md'), 'utf8');
    const named = [...doc.matchAll(/`((?:lib|app|test|bench|scripts|docs)\/[^`*]+?\.(?:ts|tsx|md|mts))`/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(20);
    expect(named.filter((path) => !existsSync(join(root, path)))).toEqual([]);
  });
});
