/**
 * Safety guards against races: a guard's count must be taken under a lock that conflicts with the
 * change it guards against, or two runs that are each safe alone can together leave an unsafe
 * state. The interleavings are forced, not hoped for: the test holds a lock that stops the first
 * run inside its writing transaction, starts the second, and only then lets the first go on.
 *
 * - `enroll --admin x` vs `deactivate totp --admins` (no admin enrolled yet): both used to succeed,
 *   leaving x enrolled in a service WHMCS skips for admins, so x logs in with a password alone.
 * - `reset --admin` of the last enrolled admin vs `enforce --admins on` (whose guard refuses when no
 *   active admin is enrolled): both used to succeed, stopping every admin at the enrolment page.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { createTestDb, describeBackends, mysqlServer, type TestDb } from './helpers/db.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { insertAdmin, setConfigValue } from '../src/whmcs/schema/seed.js';
import { phpSerialize, phpUnserialize, phpTruthy } from '../src/whmcs/php/php-serialize.js';
import { sonataBase32Decode } from '../src/services/totp/base32-secret.js';
import { totpAt } from './helpers/whmcs-oracles.js';

const SECRET = 'JBSWY3DPEHPK3PXP';
const codeNow = () => totpAt(sonataBase32Decode(SECRET), Math.floor(Date.now() / 1000));
/** Waits for the first run to block on the test's lock; fails at once, with its output, if it ended instead. */
async function blocked(run: Promise<CliResult>, what: string, waitingFor: () => Promise<boolean>): Promise<void> {
  let ended: CliResult | undefined;
  void run.then((r) => (ended = r));
  for (let i = 0; i < 2000; i++) {
    if (ended) throw new Error(`${what}: it ended first (exit ${ended.code}): ${ended.stderr}`);
    if (await waitingFor()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}; ended: ${String(ended?.code)}`);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeBackends(
  'guards under locks',
  () => {
    let t: TestDb;
    let dbName: string;
    let locker: Connection;
    let probe: Connection;
    let ids: Record<string, number>;
    let lockerId: number;

    beforeAll(async () => {
      t = await createTestDb('mysql', '8', '8.7.2-release.1');
      dbName = new URL(t.url).pathname.slice(1);
      const s = mysqlServer();
      const mysql = await import('mysql2/promise');
      locker = await mysql.createConnection({ host: s.host, port: s.port, user: s.user, password: s.password, database: dbName });
      probe = await mysql.createConnection({ host: s.host, port: s.port, user: s.user, password: s.password, database: dbName });
      lockerId = locker.threadId!;
    }, 60_000);
    beforeEach(async () => {
      await t.knex('tbladmins').delete();
      await t.knex('tblconfiguration').where({ setting: '2fasettings' }).delete();
      await setConfigValue(t.knex, '2fasettings', phpSerialize({ modules: { totp: { clientenabled: 1, adminenabled: 1 } }, forceclient: 0, forceadmin: 0 }));
      ids = {
        x: await insertAdmin(t.knex, { username: 'x' }),
        last: await insertAdmin(t.knex, { username: 'last', authmodule: 'totp', authdata: `{"secret":"${SECRET}","backupcode":"b"}` }),
        plain: await insertAdmin(t.knex, { username: 'plain' }),
      };
    });
    afterEach(async () => {
      await locker.query('ROLLBACK').catch(() => {});
    });
    afterAll(async () => {
      await locker?.end().catch(() => {});
      await probe?.end().catch(() => {});
      await t?.drop();
    });

    const cli = (...args: string[]) => runCli(['--whmcs-dir', t.whmcsDir, ...args, '--yes', '--format', 'json'], { timeoutMs: 60_000 });

    /**
     * Locking statements of the tool's runs still in the process list: waiting for a lock (they take
     * a millisecond otherwise). INNODB_TRX does not list a statement that waits in the optimizer's
     * const-row read, so the process list is the reliable view.
     */
    async function waiting(): Promise<string[]> {
      const [rows] = (await probe.query(
        `SELECT INFO AS info FROM information_schema.PROCESSLIST WHERE DB = ? AND COMMAND = 'Query' AND ID NOT IN (CONNECTION_ID(), ?) AND (INFO LIKE '%for update%' OR INFO LIKE '%lock in share mode%')`,
        [dbName, lockerId],
      )) as [Array<{ info: string | null }>, unknown];
      return rows.map((r) => String(r.info ?? ''));
    }
    async function until(what: string, probeFn: () => Promise<boolean>): Promise<void> {
      for (let i = 0; i < 2000; i++) {
        if (await probeFn()) return;
        await sleep(10);
      }
      throw new Error(`timed out waiting for ${what}`);
    }
    /**
     * Resolves when the second run has finished or is seen waiting on a lock beside the first:
     * whichever comes first (before the fix, the second run does not wait: it finishes).
     */
    async function finishedOrWaiting(run: Promise<CliResult>): Promise<void> {
      let done = false;
      void run.then(() => (done = true));
      await until('the second run to finish or wait', async () => done || (await waiting()).length >= 2);
    }
    const settings = async () => phpUnserialize(String((await t.knex('tblconfiguration').where({ setting: '2fasettings' }).first()).value)) as any;

    it('enroll --admin vs deactivate totp --admins: never "enrolled in a service WHMCS skips"', async () => {
      // The last enrolled admin goes first, so deactivate's guard has nobody to count but x.
      await t.knex('tbladmins').where({ id: ids.last }).update({ authmodule: '', authdata: '' });
      await locker.query('START TRANSACTION');
      await locker.query('SELECT id FROM tbladmins WHERE id = ? FOR UPDATE', [ids.x]);
      const enroll = cli('enroll', '--admin', 'x', '--secret', SECRET, '--code', await codeNow(), '--timeout', '60');
      await blocked(enroll, 'enroll to wait on the admin row', async () => (await waiting()).some((q) => /tbladmins/i.test(q)));
      const deactivate = cli('deactivate', 'totp', '--admins', '--timeout', '60');
      await finishedOrWaiting(deactivate);
      await locker.query('COMMIT');
      const [e, d] = await Promise.all([enroll, deactivate]);

      const admin = await t.knex('tbladmins').where({ id: ids.x }).first();
      const adminsEnabled = phpTruthy((await settings()).modules.totp.adminenabled);
      const outcome = `enroll exit ${e.code}: ${e.stderr}\ndeactivate exit ${d.code}: ${d.stderr}`;
      expect(admin.authmodule === 'totp' && !adminsEnabled, `x enrolled in TOTP while TOTP is off for admins\n${outcome}`).toBe(false);
      expect(e.code === 0 && d.code === 0, `both succeeded\n${outcome}`).toBe(false);
      // The order the locks impose: enroll first, then deactivate's guard counts x and refuses.
      expect(e.code, outcome).toBe(0);
      expect(d.code, outcome).toBe(4);
      expect(d.stderr).toMatch(/refusing to deactivate Time-Based Tokens for admins: no service would remain enabled for admins.*1 active admin/);
    }, 120_000);

    it('reset of the last enrolled admin vs enforce --admins on: never "every admin stopped at the enrolment page"', async () => {
      await locker.query('START TRANSACTION');
      await locker.query('SELECT id FROM tbladmins WHERE id = ? FOR UPDATE', [ids.last]);
      const reset = cli('reset', '--admin', 'last', '--reason', 'race drill', '--timeout', '60');
      await blocked(reset, 'reset to wait on the admin row', async () => (await waiting()).some((q) => /tbladmins/i.test(q)));
      const enforce = cli('enforce', '--admins', 'on', '--timeout', '60');
      await finishedOrWaiting(enforce);
      await locker.query('COMMIT');
      const [r, f] = await Promise.all([reset, enforce]);

      const enrolled = Number((await t.knex('tbladmins').whereNotIn('authmodule', ['', '0']).where('disabled', 0).count({ n: '*' }).first())!.n);
      const forced = phpTruthy((await settings()).forceadmin);
      const outcome = `reset exit ${r.code}: ${r.stderr}\nenforce exit ${f.code}: ${f.stderr}`;
      expect(forced && enrolled === 0, `admins forced to enrol with no enrolled admin\n${outcome}`).toBe(false);
      expect(r.code, outcome).toBe(0);
      expect(f.code, outcome).toBe(4);
      expect(f.stderr).toMatch(/refusing to force admins to enrol: no active admin has a second factor yet/);
    }, 120_000);

    it('enroll vs deactivate, the other order: enroll sees the service gone and writes nothing', async () => {
      await t.knex('tbladmins').where({ id: ids.last }).update({ authmodule: '', authdata: '' });
      // Hold the settings row: deactivate is stopped before its guard, enroll behind it.
      await locker.query('START TRANSACTION');
      await locker.query("SELECT id FROM tblconfiguration WHERE setting = '2fasettings' FOR UPDATE");
      const deactivate = cli('deactivate', 'totp', '--admins', '--timeout', '60');
      await blocked(deactivate, 'deactivate to wait on the settings row', async () => (await waiting()).some((q) => /tblconfiguration/i.test(q)));
      const enroll = cli('enroll', '--admin', 'x', '--secret', SECRET, '--code', await codeNow(), '--timeout', '60');
      await finishedOrWaiting(enroll);
      await locker.query('COMMIT');
      const [d, e] = await Promise.all([deactivate, enroll]);
      const outcome = `deactivate exit ${d.code}: ${d.stderr}\nenroll exit ${e.code}: ${e.stderr}`;
      expect(d.code, outcome).toBe(0);
      expect(e.code, outcome).toBe(4);
      expect(e.stderr).toMatch(/Time-Based Tokens was turned off for admins while this enrolment was being prepared .* nothing was written/);
      expect((await t.knex('tbladmins').where({ id: ids.x }).first()).authmodule).toBe('');
    }, 120_000);
  },
  ['mysql'],
);
