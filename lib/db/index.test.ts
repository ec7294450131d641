import { describe, it, expect } from 'vitest';
import { getDb, getDbKind } from '.';

describe('database', () => {
  it('opens the per-test SQLite copy with the migrated schema', async () => {
    expect(getDbKind()).toBe('sqlite');
    await getDb().sandbox.create({ data: { id: 'db-test', name: 'db test' } });
    expect(await getDb().sandbox.count({ where: { id: 'db-test' } })).toBe(1);
  });
});
