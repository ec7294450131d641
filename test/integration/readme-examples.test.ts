// The README's registration example, taken from the README itself and sent as written: it must give
// a client the launcher can launch and that is granted refresh tokens.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, expect, inject } from 'vitest';

const base = inject('baseUrl');
const README = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

/** The JSON body of the first `curl … /oauth/register … -d '{…}'` example in the README. */
function registrationExample(): Record<string, unknown> {
  const m = /curl -s http:\/\/localhost:3000\/oauth\/register -H 'content-type: application\/json' -d '(\{[\s\S]*?\})'/.exec(README);
  expect(m, 'the README has a one-request registration example').not.toBeNull();
  return JSON.parse(m![1]!) as Record<string, unknown>;
}

describe('README examples', () => {
  it('the registration example registers a launchable client that keeps offline_access', async () => {
    const body = registrationExample();
    const res = await fetch(`${base}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(201);
    const reg = (await res.json()) as { client_id: string; launch_uris: string[]; grant_types: string[]; scope: string };
    expect(reg.launch_uris.length).toBeGreaterThan(0);
    expect(reg.grant_types).toContain('refresh_token');
    expect(reg.scope.split(' ')).toEqual(expect.arrayContaining(['offline_access', 'launch', 'launch/patient']));
  });
});
