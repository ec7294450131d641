// kill -9 in the middle of a seed and in the middle of token issuance (issue 8 item 5), on SQLite
// and, with TEST_DATABASE_URL, on PostgreSQL: afterwards the database holds whole patients only,
// the next start completes an interrupted seed, no token row lacks its grant, and no code or
// refresh token is ever redeemed twice (RFC 6749 §4.1.2, §10.5; RFC 9700 §4.14.2).
import { execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkDataset } from './support/dataset-check';
import { openDb, tokenInvariants, withDb } from './support/db';
import { exchangeCode, fhirStatus, obtainCodes, PATIENT, refreshToken, registerApp, succeeded } from './support/oauth';
import type { IssuedCode, TokenOutcome } from './support/oauth';
import { databaseKinds, freshDatabase, prepareDatabase, SERVER_ENV, sleep, startServer } from './support/servers';
import type { TestServer } from './support/servers';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cleanup: (() => Promise<void> | void)[] = [];

afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

function dropLater(url: string): void {
  if (url.startsWith('file:')) cleanup.push(() => rmSync(dirname(url.slice(5)), { recursive: true, force: true }));
}

const SEED_SPEC = { seed: 7, anchorDate: '2026-01-01', patients: 30 } as const;

for (const kind of databaseKinds()) {
  describe(`kill -9 on ${kind}`, () => {
    it('a seed killed between batches leaves whole patients only, and the next start completes the dataset', async () => {
      const url = await freshDatabase(kind, 'faults_seed');
      dropLater(url);
      execFileSync(process.execPath, ['scripts/prepare-db.mjs', '--no-seed'], {
        cwd: root,
        env: { ...process.env, DATABASE_URL: url },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      const seed = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'prisma/seed.ts',
          '--patients',
          String(SEED_SPEC.patients),
          '--seed',
          String(SEED_SPEC.seed),
          '--anchor-date',
          SEED_SPEC.anchorDate,
          '--no-roster',
          '--quiet',
        ],
        { cwd: root, env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      seed.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<void>((r) => seed.once('exit', () => r()));
      // Kill it once a few batches (whole patients) have committed.
      await withDb(url, async (db) => {
        const deadline = Date.now() + 120_000;
        for (;;) {
          if (seed.exitCode !== null) throw new Error(`the seed ended (${seed.exitCode}) before it could be interrupted:\n${stderr}`);
          if ((await db.resource.count({ where: { sandboxId: 'default', type: 'Patient' } })) >= 3) break;
          if (Date.now() > deadline) throw new Error(`no patient was stored within 120 s:\n${stderr}`);
          await sleep(50);
        }
        seed.kill('SIGKILL');
        await exited;
        expect(seed.signalCode).toBe('SIGKILL');

        const afterKill = await checkDataset(db, SEED_SPEC);
        expect(afterKill.problems).toEqual([]);
        expect(afterKill.storedPatients.length).toBeGreaterThanOrEqual(3);
        expect(afterKill.storedPatients.length).toBeLessThan(SEED_SPEC.patients);
        expect(await db.setting.findUnique({ where: { key: 'dataset:default' } })).toBeNull();
      });

      // What `npm start` runs first (scripts/prepare-db.mjs): it must not take the half dataset for
      // a seeded one, whatever SEED and SEED_PATIENTS say now.
      prepareDatabase(url, { SEED: '42', SEED_PATIENTS: '5' });
      const completed = await withDb(url, async (db) => {
        const report = await checkDataset(db, SEED_SPEC);
        expect(report.problems).toEqual([]);
        expect(report.storedPatients).toEqual(Array.from({ length: SEED_SPEC.patients }, (_, i) => i));
        const record = await db.setting.findUnique({ where: { key: 'dataset:default' } });
        expect(JSON.parse(record?.value ?? '{}')).toMatchObject({ seed: SEED_SPEC.seed, anchorDate: SEED_SPEC.anchorDate, patients: SEED_SPEC.patients });
        expect(await db.setting.findUnique({ where: { key: 'seeding:default' } })).toBeNull();
        return report;
      });

      // And a start after that leaves the complete dataset as it is.
      prepareDatabase(url, { SEED: '42', SEED_PATIENTS: '5' });
      expect(await withDb(url, async (db) => (await checkDataset(db, SEED_SPEC)).resources)).toBe(completed.resources);
    });

    it('a server killed during concurrent code exchanges and refreshes leaves no code or refresh token redeemable twice', async () => {
      const url = await freshDatabase(kind, 'faults_tokens');
      dropLater(url);
      prepareDatabase(url);
      let server: TestServer = await startServer({ databaseUrl: url, env: SERVER_ENV });
      cleanup.push(() => server.stop());
      const base = server.url;
      const app = await registerApp(base);
      const { db, close } = openDb(url);
      cleanup.push(close);

      // Refresh tokens to rotate during the crash, from codes exchanged beforehand.
      const refreshTokens: string[] = [];
      for (const code of await obtainCodes(base, app, 16)) {
        const out = await exchangeCode(base, app.clientId, code);
        if (!succeeded(out)) throw new Error(`exchange failed: ${JSON.stringify(out)}`);
        refreshTokens.push(String(out.body.refresh_token));
      }
      const codes = await obtainCodes(base, app, 40);

      // The burst: every code and refresh token once, half of them twice at the same time.
      type Attempt = { what: 'code' | 'refresh'; index: number; outcome: Promise<TokenOutcome> };
      const attempts: Attempt[] = [];
      let answered = 0;
      let onAnswer: () => void = () => undefined;
      const track = (p: Promise<TokenOutcome>) =>
        p.then((o) => {
          if (o.kind === 'response') answered++;
          onAnswer();
          return o;
        });
      codes.forEach((code, index) => {
        for (let n = 0; n < (index % 2 ? 2 : 1); n++) attempts.push({ what: 'code', index, outcome: track(exchangeCode(base, app.clientId, code)) });
      });
      refreshTokens.forEach((token, index) => {
        for (let n = 0; n < (index % 2 ? 2 : 1); n++) attempts.push({ what: 'refresh', index, outcome: track(refreshToken(base, app.clientId, token)) });
      });
      const killAfter = Math.ceil(attempts.length * 0.15);
      await new Promise<void>((resolve) => {
        onAnswer = () => answered >= killAfter && resolve();
      });
      await server.kill();
      const burst = await Promise.all(attempts.map(async (a) => ({ ...a, result: await a.outcome })));
      const cut = burst.filter((a) => a.result.kind === 'cut').length;
      // The crash really happened with requests in flight.
      expect(cut).toBeGreaterThan(0);

      // Right after the crash, before anything else touches the database.
      expect(await tokenInvariants(db, app.clientId)).toEqual({ withoutGrant: [], badRotations: [], usedWithoutTokens: [], liveUnderRevokedGrant: [] });

      // Codes live 60 s; keep them alive so that the replays below test single use, not expiry.
      await db.authCode.updateMany({ where: { clientId: app.clientId }, data: { expiresAt: new Date(Date.now() + 10 * 60_000) } });
      server = await startServer({ databaseUrl: url, port: server.port, env: SERVER_ENV });

      // Replay every code and refresh token captured before the crash against the restarted server.
      const replays = await Promise.all([
        ...codes.map(async (code: IssuedCode, index) => ({ what: 'code' as const, index, result: await exchangeCode(base, app.clientId, code) })),
        ...refreshTokens.map(async (token, index) => ({ what: 'refresh' as const, index, result: await refreshToken(base, app.clientId, token) })),
      ]);
      for (const r of replays) expect(r.result.kind, `${r.what} ${r.index} replay`).toBe('response');

      const all = [...burst, ...replays];
      let redeemedAfterRestart = 0;
      for (const what of ['code', 'refresh'] as const) {
        const count = what === 'code' ? codes.length : refreshTokens.length;
        for (let index = 0; index < count; index++) {
          const outcomes = all.filter((a) => a.what === what && a.index === index).map((a) => a.result);
          const wins = outcomes.filter(succeeded);
          expect(wins.length, `${what} ${index}: successful redemptions`).toBeLessThanOrEqual(1);
          const replay = replays.find((r) => r.what === what && r.index === index)!.result;
          if (succeeded(replay)) {
            redeemedAfterRestart++;
            continue;
          }
          // Refused as a replay: invalid_grant, and what the earlier success produced is revoked
          // (RFC 6749 §4.1.2; RFC 9700 §4.14.2), also across the restart.
          expect(replay.kind === 'response' && replay.status, `${what} ${index} replay status`).toBe(400);
          expect(replay.kind === 'response' && replay.body.error).toBe('invalid_grant');
          const win = wins[0];
          if (win) expect(await fhirStatus(base, `Patient/${PATIENT}`, String(win.body.access_token)), `${what} ${index}: token of a replayed grant`).toBe(401);
        }
      }
      expect(await tokenInvariants(db, app.clientId)).toEqual({ withoutGrant: [], badRotations: [], usedWithoutTokens: [], liveUnderRevokedGrant: [] });
      console.log(
        `[faults ${kind}] ${attempts.length} token requests in the burst, ${cut} cut by kill -9, ${redeemedAfterRestart} codes/refresh tokens first redeemed after the restart, ${replays.length} replays`,
      );
    });
  });
}
