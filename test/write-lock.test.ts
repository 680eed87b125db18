/**
 * A change's writing pass reads what it changes under a lock that keeps other writers out until it
 * commits: FOR UPDATE on MariaDB (test/faults-guards.test.ts), the database's write lock on SQLite.
 * On SQLite a transaction that has only read cannot become a writer while another process writes
 * (SQLITE_BUSY at once, no waiting), so a pass that read first failed with exit 7 where it had to
 * wait for the other writer and then judge what that writer committed.
 *
 * The interleaving is forced: the test holds a write transaction, starts the run, waits until the
 * run is at its lock (DEBUG=knex:query prints each statement as it is sent) or has ended, and only
 * then commits or rolls back.
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { createTestDb, describeBackends, type TestDb } from './helpers/db.js';
import { BIN, TEST_STATE_HOME, runCli, type CliResult } from './helpers/cli.js';
import { insertAdmin, insertUser, nowSql, setConfigValue } from '../src/whmcs/schema/seed.js';
import { phpSerialize } from '../src/whmcs/php/php-serialize.js';

const SETTINGS = phpSerialize({ modules: { totp: { clientenabled: 0, adminenabled: 1 } }, forceclient: 0, forceadmin: 0 });
/** What a concurrent writer (WHMCS's settings page, another run) saves meanwhile. */
const THEIRS = phpSerialize({ modules: { totp: { clientenabled: 1, adminenabled: 1 } }, forceclient: 0, forceadmin: 1 });
const CONFIG = (secret: string) => `{"secret":"${secret}","backupcode":"${'0'.repeat(40)}"}`;
/** The statement that takes SQLite's write lock (a write that changes nothing). */
const WRITE_LOCK = /UPDATE [`"]?\w+[`"]? SET id = id WHERE 0/;

interface Started {
  result: Promise<CliResult>;
  /** Resolves once the run has sent `pattern` (it then waits on the test's lock) or has ended. */
  reached(pattern: RegExp): Promise<void>;
}

/** Runs the built CLI with its statements on stderr, so the test can see where it is. */
function start(args: string[]): Started {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, XDG_STATE_HOME: TEST_STATE_HOME, NO_COLOR: '1', DEBUG: 'knex:query', DEBUG_COLORS: 'no' })) {
    if (v !== undefined && k !== 'WHMCS_DB_URL') env[k] = v;
  }
  const child = spawn(process.execPath, [BIN, ...args], { env, cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let ended = false;
  const waiters: Array<() => void> = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => {
    stderr += d;
    wake();
  });
  const result = new Promise<CliResult>((res, rej) => {
    child.on('error', rej);
    child.on('close', (code) => {
      ended = true;
      wake();
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        /* not JSON */
      }
      res({ code: code ?? -1, stdout, stderr, json });
    });
  });
  return {
    result,
    reached: (pattern) =>
      new Promise<void>((res) => {
        const check = () => (ended || pattern.test(stderr) ? res() : waiters.push(check));
        check();
      }),
  };
}

/** The run's own messages, without the statements DEBUG added. */
const messages = (r: CliResult) => r.stderr.split('\n').filter((l) => !/knex:/.test(l)).join('\n');

describeBackends(
  'the writing pass waits for a concurrent writer',
  () => {
    let t: TestDb;
    let writer: Knex.Transaction | undefined;
    beforeAll(async () => {
      t = await createTestDb('sqlite', '8', '8.7.2-release.1');
    }, 60_000);
    beforeEach(async () => {
      await t.knex('tbladmins').delete();
      await setConfigValue(t.knex, '2fasettings', SETTINGS);
    });
    afterAll(async () => {
      await writer?.rollback().catch(() => {});
      await t?.drop();
    });

    const cli = (...args: string[]) => ['--whmcs-dir', t.whmcsDir, ...args, '--yes', '--format', 'json', '--timeout', '60'];
    const settingsValue = async () => String((await t.knex('tblconfiguration').where({ setting: '2fasettings' }).first('value')).value);
    /** Another writer's open transaction that has changed `2fasettings` (holds the write lock). */
    async function theirSettingsWrite(): Promise<Knex.Transaction> {
      writer = await t.knex.transaction();
      await writer('tblconfiguration').where({ setting: '2fasettings' }).update({ value: THEIRS, updated_at: nowSql() });
      return writer;
    }
    async function activateForClients(): Promise<string> {
      const r = await runCli(['--whmcs-dir', t.whmcsDir, 'activate', 'totp', '--clients', '--yes', '--format', 'json']);
      expect(r.code, r.stderr).toBe(0);
      return r.json.journalId as string;
    }

    it('undo of a settings change, the other writer commits: undo waits, sees the row changed since and refuses (exit 4)', async () => {
      const id = await activateForClients();
      const w = await theirSettingsWrite();
      const undo = start(cli('undo', id));
      await undo.reached(WRITE_LOCK);
      await w.commit();
      const r = await undo.result;
      expect(r.code, messages(r)).toBe(4);
      expect(messages(r)).toMatch(/cannot undo .*changed after it/);
      expect(await settingsValue()).toBe(THEIRS);
    }, 120_000);

    it('undo of a settings change, the other writer rolls back: undo waits, then restores the row', async () => {
      const id = await activateForClients();
      const w = await theirSettingsWrite();
      const undo = start(cli('undo', id));
      await undo.reached(WRITE_LOCK);
      await w.rollback();
      const r = await undo.result;
      expect(r.code, messages(r)).toBe(0);
      expect(await settingsValue()).toBe(SETTINGS);
    }, 120_000);

    it('backup-code --all-admins waits for a concurrent change to an admin and builds on what it committed', async () => {
      const a = await insertAdmin(t.knex, { username: 'a', authmodule: 'totp', authdata: CONFIG('JBSWY3DPEHPK3PXP') });
      await insertAdmin(t.knex, { username: 'b', authmodule: 'totp', authdata: CONFIG('JBSWY3DPEHPK3PXP') });
      // Re-enrolled meanwhile: a new secret.
      writer = await t.knex.transaction();
      await writer('tbladmins').where({ id: a }).update({ authdata: CONFIG('KRSXG5CTMVRXEZLU') });
      const run = start(cli('backup-code', '--all-admins', '--reason', 'lock drill'));
      await run.reached(WRITE_LOCK);
      await writer.commit();
      const r = await run.result;
      expect(r.code, messages(r)).toBe(0);
      const cfg = JSON.parse(String((await t.knex('tbladmins').where({ id: a }).first('authdata')).authdata));
      // The new backup code went into the config the other writer committed, not the one read before it.
      expect(cfg.secret).toBe('KRSXG5CTMVRXEZLU');
      expect(cfg.backupcode).not.toBe('0'.repeat(40));
      expect(r.json.accounts.map((x: { name: string }) => x.name)).toEqual(['a', 'b']);
    }, 120_000);

    it('undo of a bulk reset (set-based) waits for a concurrent change to one of its rows and refuses what that writer committed (exit 4)', async () => {
      // More rows than undo replays one by one (2 000): the set-based path.
      await t.knex.transaction(async (trx) => {
        for (let i = 0; i < 2100; i++) await insertUser(trx as unknown as Knex, { email: `u${i}@x.test`, second_factor: 'totp', second_factor_config: '{"secret":"JBSWY3DPEHPK3PXP"}' });
      });
      const reset = await runCli(['--whmcs-dir', t.whmcsDir, 'reset', '--module', 'totp', '--users', '--reason', 'lock drill', '--yes', '--format', 'json']);
      expect(reset.code, reset.stderr).toBe(0);
      // Re-enrolled meanwhile, by WHMCS or another run.
      writer = await t.knex.transaction();
      await writer('tblusers').where({ email: 'u0@x.test' }).update({ second_factor: 'totp', second_factor_config: '{"secret":"KRSXG5CTMVRXEZLU"}' });
      const undo = start(cli('undo', '--reason', 'lock drill'));
      await undo.reached(WRITE_LOCK);
      await writer.commit();
      const r = await undo.result;
      expect(r.code, messages(r)).toBe(4);
      const users = await t.knex('tblusers').orderBy('id').select('email', 'second_factor', 'second_factor_config');
      // Nothing restored: the other writer's enrolment stands, the rest stay reset.
      expect(users.find((u) => u.email === 'u0@x.test')?.second_factor_config).toBe('{"secret":"KRSXG5CTMVRXEZLU"}');
      expect(users.filter((u) => u.email !== 'u0@x.test').every((u) => u.second_factor === '')).toBe(true);
    }, 120_000);
  },
  ['sqlite'],
);
