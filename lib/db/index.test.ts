import { describe, it, expect } from 'vitest';
import { getDb, getDbKind, pgStatementNames } from '.';

describe('database', () => {
  it('opens the per-test SQLite copy with the migrated schema', async () => {
    expect(getDbKind()).toBe('sqlite');
    await getDb().sandbox.create({ data: { id: 'db-test', name: 'db test' } });
    expect(await getDb().sandbox.count({ where: { id: 'db-test' } })).toBe(1);
  });
});

describe('pgStatementNames', () => {
  it('gives one name per statement text, the same every time, and none past the cap or to long texts', () => {
    const name = pgStatementNames(2, 20);
    expect(name({ sql: 'SELECT 1' })).toBe('s0');
    expect(name({ sql: 'SELECT 2' })).toBe('s1');
    expect(name({ sql: 'SELECT 1' })).toBe('s0');
    expect(name({ sql: 'SELECT 3' })).toBe('');
    expect(pgStatementNames(5, 20)({ sql: `SELECT ${'x'.repeat(20)}` })).toBe('');
  });
});
