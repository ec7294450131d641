import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise } from 'dependency-cruiser';
import type { ICruiseResult, IConfiguration } from 'dependency-cruiser';
import { afterAll, describe, expect, it } from 'vitest';

// The layer rule of docs/ARCHITECTURE.md, run the way `npm run lint` runs it.
const root = fileURLToPath(new URL('../../..', import.meta.url));
const config = createRequire(import.meta.url)(join(root, '.dependency-cruiser.cjs')) as IConfiguration;

async function check(dir: string, paths: string[]): Promise<ICruiseResult> {
  const previous = process.cwd();
  process.chdir(dir);
  try {
    const result = await cruise(paths, { ...config.options, ruleSet: { forbidden: config.forbidden }, validate: true, tsConfig: undefined });
    return result.output as ICruiseResult;
  } finally {
    process.chdir(previous);
  }
}

const scratch = mkdtempSync(join(tmpdir(), 'layers-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(scratch, 'tree-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const rulesBroken = (result: ICruiseResult) => result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);

describe('lib layers point one way (docs/ARCHITECTURE.md)', () => {
  it('the repository passes', async () => {
    const result = await check(root, ['lib']);
    expect(rulesBroken(result)).toEqual([]);
    // The check saw the tree: every layer has modules.
    expect(result.summary.totalCruised).toBeGreaterThan(200);
  }, 60_000);

  it('refuses a lower layer importing a higher one, type-only imports included', async () => {
    const dir = tree({
      'lib/console/format.ts': 'export type Row = { id: string };\nexport const x = 1;\n',
      'lib/oauth/tokens.ts': "import type { Row } from '../console/format';\nexport const row: Row | null = null;\n",
      'lib/fhir/router.ts': "import { x } from '../console/format';\nexport const y = x;\n",
      'lib/console/ok.ts': "import { row } from '../oauth/tokens';\nexport const z = row;\n",
    });
    expect(rulesBroken(await check(dir, ['lib'])).sort()).toEqual([
      'layer-fhir: lib/fhir/router.ts → lib/console/format.ts',
      'layer-oauth: lib/oauth/tokens.ts → lib/console/format.ts',
    ]);
  });

  it('refuses an import cycle and a module outside every layer', async () => {
    const dir = tree({
      'lib/oauth/a.ts': "import { b } from './b';\nexport const a = () => b;\n",
      'lib/oauth/b.ts': "import { a } from './a';\nexport const b = () => a;\n",
      'lib/newthing/c.ts': "import { a } from '../oauth/a';\nexport const c = a;\n",
    });
    const broken = rulesBroken(await check(dir, ['lib']));
    expect(broken.filter((v) => v.startsWith('no-circular:')).length).toBeGreaterThan(0);
    expect(broken.filter((v) => v.startsWith('no-circular:')).every((v) => /lib\/oauth\/[ab]\.ts → lib\/oauth\/[ab]\.ts/.test(v))).toBe(true);
    expect(broken).toContain('lib-layer-unknown: lib/newthing/c.ts → lib/oauth/a.ts');
  });
});
