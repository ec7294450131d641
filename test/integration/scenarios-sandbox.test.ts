// Scenarios, share links and the built-in apps in a served sandbox (/s/{id}): each sandbox has its
// own saved scenarios, its built-in scenarios launch its own sample app, and its launcher page
// registers its own backend demo client.
import { beforeAll, describe, expect, inject, it } from 'vitest';

const origin = inject('baseUrl');
const databaseUrl = inject('databaseUrl');
let sandboxBase = '';
let sandboxId = '';

beforeAll(async () => {
  process.env.DATABASE_URL = databaseUrl;
  const [provision, sandbox, env] = await Promise.all([import('../../lib/sandbox/provision'), import('../../lib/sandbox'), import('../../lib/env')]);
  if (env.env.DATABASE_URL !== databaseUrl) throw new Error('lib/env was loaded before this suite set DATABASE_URL');
  sandboxId = sandbox.newSandboxId();
  await provision.provisionSandbox({ id: sandboxId, name: 'Scenario box', baseSandboxId: 'default' });
  sandboxBase = `${origin}/s/${sandboxId}`;
}, 180_000);

const json = (res: Response) => res.json() as Promise<Record<string, unknown>>;

describe('scenarios in a served sandbox', () => {
  it("the sandbox's launcher registers its own sample app and backend demo", async () => {
    const res = await fetch(`${sandboxBase}/`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain(`backend-demo-${sandboxId}`);
    expect(html).toContain(`sample-app-${sandboxId}`);
  });

  it('saved scenarios stay in their sandbox; built-in ones launch the sandbox’s own sample app there', async () => {
    const builtIn = (await json(await fetch(`${sandboxBase}/api/scenarios/builtin-non-ascii`))) as { config: Record<string, unknown> };
    expect(builtIn.config.clientId).toBe(`sample-app-${sandboxId}`);
    const saved = await fetch(`${sandboxBase}/api/scenarios`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Only in the box', config: builtIn.config }),
    });
    expect(saved.status).toBe(201);
    const { id } = (await saved.json()) as { id: string };
    const ids = async (base: string) => ((await json(await fetch(`${base}/api/scenarios`))).scenarios as { id: string }[]).map((s) => s.id);
    expect(await ids(sandboxBase)).toContain(id);
    expect(await ids(origin)).not.toContain(id);
    expect((await fetch(`${origin}/api/scenarios/${id}`)).status).toBe(404);

    const launch = await fetch(`${sandboxBase}/api/scenarios/builtin-non-ascii/launch`, { method: 'POST' });
    expect(launch.status).toBe(200);
    const appUrl = new URL(String((await json(launch)).appUrl));
    expect(appUrl.searchParams.get('iss')).toBe(`${sandboxBase}/fhir`);

    const share = await fetch(`${sandboxBase}/api/scenarios/${id}/share`, { method: 'POST' });
    const { url } = (await share.json()) as { url: string };
    expect(url.startsWith(`${sandboxBase}/l/`)).toBe(true);
    // The link is the sandbox's: unknown in the default sandbox.
    expect((await fetch(url.replace(sandboxBase, origin), { redirect: 'manual' })).status).toBe(404);
  });
});
