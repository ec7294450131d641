import { describe, expect, it } from 'vitest';
import { databaseUnavailablePage, loadOrLeave, localRetryPath, unavailablePageUrl } from './unavailable';

describe('the database-unavailable page', () => {
  it('answers 503 with Retry-After, and links back only to a path on this server', async () => {
    const res = databaseUnavailablePage('/console/audit?page=2');
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await res.text()).toContain('<a href="/console/audit?page=2">Try again</a>');
    for (const hostile of ['//evil.example/', '/\\evil.example', 'https://evil.example/', 'javascript:alert(1)', '/a b', '', null, `/${'x'.repeat(400)}`]) {
      expect(localRetryPath(hostile), String(hostile)).toBe('/');
    }
    expect(localRetryPath('/console')).toBe('/console');
    expect(unavailablePageUrl('//evil.example')).toBe('/interaction/unavailable?back=%2F');
    expect(await databaseUnavailablePage(localRetryPath('/"><script>')).text()).not.toContain('<script>');
  });

  it('loadOrLeave leaves for the page only when the database is unavailable', async () => {
    const leave = (url: string): never => {
      throw new Error(`left for ${url}`);
    };
    expect(await loadOrLeave('test', '/', leave, async () => 7)).toBe(7);
    const down = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    await expect(loadOrLeave('test', '/console', leave, () => Promise.reject(down))).rejects.toThrow('left for /interaction/unavailable?back=%2Fconsole');
    await expect(loadOrLeave('test', '/', leave, () => Promise.reject(new TypeError('a bug')))).rejects.toThrow('a bug');
  });
});
