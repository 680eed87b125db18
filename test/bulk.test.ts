import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDb, describeBackends, type TestDb } from './helpers/db.js';
import { BIN, TEST_STATE_HOME, runCli } from './helpers/cli.js';
import { seedBulkUsers, usersChecksum } from './helpers/bulk-seed.js';
import { DEFAULT_BATCH_SIZE } from '../src/commands/reset.js';
import { historyEntries, historyRowCount, historyRows } from './helpers/history.js';

/** How many users the big run resets; CI keeps the default, a quick local run may lower it. */
const BIG = Number(process.env.WHMCS_2FA_BULK_TEST_USERS || 100_000);
const expectedDuo = (n: number) => n - Math.ceil(n / 50);

describeBackends(
  'bulk reset at scale',
  () => {
    let t: TestDb;
    beforeAll(async () => {
      t = await createTestDb('mysql', '8', '8.7.2-release.1');
    }, 120_000);
    afterAll(() => t?.drop());

    it(`resets ${BIG} users on Duo and undo restores every row byte for byte`, async () => {
      const seedStart = Date.now();
      await seedBulkUsers(t.knex, BIG);
      const seedMs = Date.now() - seedStart;
      const before = await usersChecksum(t.knex);
      expect(before.rows).toBe(BIG);
      expect(before.duo).toBe(expectedDuo(BIG));
      const logBefore = Number((await t.knex('tblactivitylog').count({ n: '*' }).first())!.n);

      const t0 = Date.now();
      const r = await runCli(['--whmcs-dir', t.whmcsDir, 'reset', '--module', 'duo', '--users', '--reason', 'Duo iframe prompt retired', '--yes', '--format', 'json'], { timeoutMs: 120_000 });
      const resetMs = Date.now() - t0;
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.json).toMatchObject({ matched: expectedDuo(BIG), rowsReset: expectedDuo(BIG), interrupted: false, changed: true, batchSize: DEFAULT_BATCH_SIZE });
      expect(r.json.batches).toBe(Math.ceil(expectedDuo(BIG) / DEFAULT_BATCH_SIZE));
      const after = await usersChecksum(t.knex);
      expect(after.duo).toBe(0);
      expect(after.rows).toBe(BIG);
      expect(Number((await t.knex('tblusers').where({ second_factor: '', second_factor_config: '' }).count({ n: '*' }).first())!.n)).toBe(expectedDuo(BIG));
      expect(Number((await t.knex('tblusers').where({ second_factor: 'totp' }).count({ n: '*' }).first())!.n)).toBe(Math.ceil(BIG / 50));
      const logAfter = Number((await t.knex('tblactivitylog').count({ n: '*' }).first())!.n);
      expect(logAfter - logBefore).toBe(r.json.batches);

      const t1 = Date.now();
      const u = await runCli(['--whmcs-dir', t.whmcsDir, 'undo', r.json.journalId, '--yes', '--format', 'json'], { timeoutMs: 180_000 });
      const undoMs = Date.now() - t1;
      expect(u.stderr).toBe('');
      expect(u.code).toBe(0);
      expect(u.json.rowsRestored).toBe(expectedDuo(BIG));
      expect(await usersChecksum(t.knex)).toEqual(before);
      // Shown in the test log so the timings can be reported.
      console.log(`bulk reset of ${BIG} users: seed ${seedMs} ms, reset ${resetMs} ms (engine ${r.json.durationMs} ms), undo ${undoMs} ms`);
    }, 300_000);
  },
  ['mysql'],
);

describeBackends(
  'bulk reset interrupted by SIGINT',
  () => {
    let t: TestDb;
    const N = 30_000;
    beforeAll(async () => {
      t = await createTestDb('mysql', '8', '8.7.2-release.1');
      await seedBulkUsers(t.knex, N, 'sig');
    }, 120_000);
    afterAll(() => t?.drop());

    it('stops after whole batches only, reports them, the history matches the database, undo restores everything', async () => {
      const before = await usersChecksum(t.knex);
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries({ ...process.env, XDG_STATE_HOME: TEST_STATE_HOME, NO_COLOR: '1' })) if (v !== undefined) env[k] = v;
      delete env.WHMCS_DB_URL;
      const child = spawn(process.execPath, [BIN, '--whmcs-dir', t.whmcsDir, 'reset', '--module', 'duo', '--users', '--batch-size', '50', '--yes', '--format', 'json'], {
        env,
        cwd: tmpdir(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number>((res) => child.on('close', (code) => res(code ?? -1)));

      // Wait until a few batches have committed, then interrupt mid-run.
      const deadline = Date.now() + 60_000;
      for (;;) {
        if ((await historyRowCount(t.knex)) >= 5 * 50) break;
        if (Date.now() > deadline) throw new Error(`no batches committed in time; stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      child.kill('SIGINT');
      const code = await exited;

      expect(code).toBe(130); // 128 + SIGINT
      const j = JSON.parse(stdout);
      expect(j).toMatchObject({ interrupted: true, signal: 'SIGINT', changed: true, batchSize: 50 });
      expect(j.rowsReset).toBeGreaterThanOrEqual(5 * 50);
      expect(j.rowsReset).toBeLessThan(j.matched);
      expect(j.rowsReset).toBe(j.batches * 50); // whole batches only
      expect(stderr).toMatch(/interrupted after \d+ of \d+ users — journal /);

      // The database holds exactly the committed batches: the lowest ids, nothing beyond.
      const resetIds: number[] = await t.knex('tblusers').where({ second_factor: '' }).orderBy('id').pluck('id');
      expect(resetIds.length).toBe(j.rowsReset);
      expect(resetIds.at(-1)).toBe(j.idRange.last);
      expect(Number((await t.knex('tblusers').where('id', '<=', j.idRange.last).where({ second_factor: 'duosecurity' }).count({ n: '*' }).first())!.n)).toBe(0);
      expect(Number((await t.knex('tblactivitylog').count({ n: '*' }).first())!.n)).toBe(j.batches);

      // The history matches: it holds exactly the committed batches' rows — the batch rolled back
      // by the stop took its part of the history with it.
      const entries = await historyEntries(t.knex, t.ccHash);
      expect(entries.map((e) => e.id)).toEqual([j.journalId]);
      expect(entries[0]).toMatchObject({ rows: j.rowsReset, parts: j.batches, command: 'reset' });
      const recorded = await historyRows(t.knex, t.ccHash, j.journalId);
      expect(recorded.map((r) => Number(r.key.id))).toEqual(resetIds);

      const u = await runCli(['--whmcs-dir', t.whmcsDir, 'undo', j.journalId, '--yes', '--format', 'json'], { timeoutMs: 60_000 });
      expect(u.code).toBe(0);
      expect(u.json.rowsRestored).toBe(j.rowsReset);
      expect(u.json.rowsAlreadyRestored).toBe(0);
      expect(await usersChecksum(t.knex)).toEqual(before);
    }, 120_000);
  },
  ['mysql'],
);
