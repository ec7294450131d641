import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { getDb } from '../db';
import { newClient } from '../oauth/test-support';
import { listAuthorizedApps, revokeAppAccess } from './access-management';

const SANDBOX = 'default';
const NOW = new Date('2026-03-01T12:00:00Z');
const HOUR = 3600_000;

async function grant(
  clientId: string,
  userId: string,
  tokens: { kind: 'access' | 'refresh'; expiresInMs: number; revoked?: boolean; rotated?: boolean }[],
): Promise<string> {
  const db = getDb();
  const id = randomUUID();
  await db.grant.create({
    data: {
      id,
      sandboxId: SANDBOX,
      clientId,
      userId,
      scope: 'launch/patient offline_access patient/Observation.rs',
      context: JSON.stringify({ patient: userId.split('/')[1], launchKind: 'standalone' }),
    },
  });
  for (const t of tokens) {
    await db.token.create({
      data: {
        id: randomUUID(),
        sandboxId: SANDBOX,
        kind: t.kind,
        grantId: id,
        clientId,
        userId,
        scope: 'patient/Observation.rs',
        expiresAt: new Date(NOW.getTime() + t.expiresInMs),
        revoked: t.revoked ?? false,
        rotated: t.rotated ?? false,
      },
    });
  }
  return id;
}

describe('access management', () => {
  it('lists only grants with a live token, per app, with the scopes explained and whether a refresh token keeps them alive', async () => {
    const user = `Patient/am-${randomUUID().slice(0, 8)}`;
    const { client: app } = await newClient('public', { name: 'Growth chart' });
    const { client: expired } = await newClient('public', { name: 'Expired app' });
    await grant(app.clientId, user, [
      { kind: 'access', expiresInMs: HOUR },
      { kind: 'refresh', expiresInMs: 90 * 24 * HOUR },
    ]);
    await grant(app.clientId, user, [{ kind: 'access', expiresInMs: HOUR }]);
    // Everything of this grant is expired, revoked or rotated away: it gives no access any more.
    await grant(expired.clientId, user, [
      { kind: 'access', expiresInMs: -HOUR },
      { kind: 'refresh', expiresInMs: HOUR, revoked: true },
      { kind: 'refresh', expiresInMs: HOUR, rotated: true },
    ]);

    const apps = await listAuthorizedApps(SANDBOX, user, NOW);
    expect(apps.map((a) => a.clientName)).toEqual(['Growth chart']);
    const grants = apps[0]?.grants ?? [];
    expect(grants).toHaveLength(2);
    expect(grants.map((g) => g.refreshable).sort()).toEqual([false, true]);
    expect(grants.find((g) => g.refreshable)?.activeUntil).toEqual(new Date(NOW.getTime() + 90 * 24 * HOUR));
    expect(grants[0]?.scopes.map((s) => s.scope)).toEqual(['launch/patient', 'offline_access', 'patient/Observation.rs']);
    expect(grants[0]?.patient).toBe(user.split('/')[1]);
  });

  it("revokes every grant the persona gave an app with their tokens, and never another persona's", async () => {
    const user = `Patient/am-${randomUUID().slice(0, 8)}`;
    const other = `Patient/am-${randomUUID().slice(0, 8)}`;
    const { client: app } = await newClient('public', { name: 'Shared app' });
    const mine = [
      await grant(app.clientId, user, [{ kind: 'refresh', expiresInMs: HOUR }]),
      await grant(app.clientId, user, [{ kind: 'access', expiresInMs: HOUR }]),
    ];
    const theirs = await grant(app.clientId, other, [{ kind: 'access', expiresInMs: HOUR }]);

    expect(await revokeAppAccess(SANDBOX, other, 'no-such-client')).toBe(0);
    expect(await revokeAppAccess(SANDBOX, user, app.clientId)).toBe(2);
    const db = getDb();
    expect((await db.grant.findMany({ where: { id: { in: mine } } })).every((g) => g.revoked)).toBe(true);
    expect((await db.token.findMany({ where: { grantId: { in: mine } } })).every((t) => t.revoked)).toBe(true);
    expect((await db.grant.findUnique({ where: { id: theirs } }))?.revoked).toBe(false);
    expect(await listAuthorizedApps(SANDBOX, user, NOW)).toEqual([]);
    expect((await listAuthorizedApps(SANDBOX, other, NOW)).map((a) => a.clientId)).toEqual([app.clientId]);
    expect(await revokeAppAccess(SANDBOX, user, app.clientId)).toBe(0);
  });
});
