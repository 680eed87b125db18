/**
 * Waiting on the database, and never forever: a backup's `LOCK TABLES … READ` and other sessions'
 * row locks in front of every kind of write, a server that accepts TCP and never answers, a
 * connection that freezes in the middle of a change, and a configuration.php that would never end.
 * Each run must end within its --timeout (plus the watchdog's grace) with exit 7 and one `Error:`
 * line (notes while waiting allowed), and leave the database byte for byte as it was and no undo
 * journal entry. A run that hung would be stopped by runCli and show exit -1.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { createTestDb, MYSQL_OK, mysqlServer, tempDir, type TestDb } from './helpers/db.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { snapshotDb } from './helpers/snapshot.js';
import { freezingProxy, silentServer, type TcpFault } from './helpers/tcp-fault.js';
import { reply, startFakeNtp, type FakeNtp } from './helpers/ntp-fake.js';
import { insertAdmin, insertUser, setConfigValue } from '../src/whmcs/schema/seed.js';
import { phpSerialize } from '../src/whmcs/php/php-serialize.js';
import { queryError } from '../src/whmcs/connection/db.js';
import { EXIT } from '../src/errors.js';

const TIMEOUT = 2;

function journalFiles(stateHome: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith('.jsonl')) out.push(p);
    }
  };
  walk(stateHome);
  return out;
}

/** Exit 7, notes while waiting, then exactly one Error line; the JSON error agrees. */
function expectBlocked(r: CliResult, error: RegExp, where: string): void {
  expect(r.code, `${where}\n${r.stderr}`).toBe(EXIT.TIMEOUT);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  const errors = lines.filter((l) => l.startsWith('Error: '));
  expect(errors, where).toHaveLength(1);
  expect(errors[0], where).toMatch(error);
  for (const l of lines) expect(l, where).toMatch(/^(Error: |Note: waiting for the database)/);
  expect(r.stderr + r.stdout, where).not.toMatch(/^\s+at /m);
  if (r.json?.error) expect(r.json.error.exitCode, where).toBe(EXIT.TIMEOUT);
}

describe('lock waits, deadlocks and timeouts map to exit 7', () => {
  it('ER_LOCK_WAIT_TIMEOUT, ER_LOCK_DEADLOCK and max_statement_time are exit 7 with their own words', () => {
    const lock = queryError({ code: 'ER_LOCK_WAIT_TIMEOUT', errno: 1205, sqlMessage: 'Lock wait timeout exceeded' }, 'nothing was written') as Error & { exitCode: number };
    expect(lock.exitCode).toBe(7);
    expect(lock.message).toMatch(/^timed out after .* waiting for a lock another session holds .* — nothing was written; try again when it is done, or raise --timeout$/);
    const dead = queryError({ code: 'ER_LOCK_DEADLOCK', errno: 1213, sqlMessage: 'Deadlock found' }, 'nothing was written') as Error & { exitCode: number };
    expect(dead.exitCode).toBe(7);
    expect(dead.message).toMatch(/^deadlock: .* — nothing was written; run the command again$/);
    const stmt = queryError({ code: 'ER_STATEMENT_TIMEOUT', errno: 1969, sqlMessage: 'Query execution was interrupted (max_statement_time exceeded)' }) as Error & { exitCode: number };
    expect(stmt.exitCode).toBe(7);
    const other = queryError({ code: 'ER_NO_SUCH_TABLE', errno: 1146, sqlMessage: "Table 'x' doesn't exist" }) as Error & { exitCode: number };
    expect(other.exitCode).toBe(5);
  });
});

describe.runIf(MYSQL_OK)('faults: locks, hung servers and frozen connections (MariaDB)', () => {
  let t: TestDb;
  let dbName: string;
  /** Holds the locks: a second session, as a backup or a long transaction would be. */
  let locker: Connection;
  beforeAll(async () => {
    t = await createTestDb('mysql', '8', '8.7.2-release.1');
    dbName = new URL(t.url).pathname.slice(1);
    await insertAdmin(t.knex, { username: 'root', authmodule: 'totp', authdata: '{"secret":"JBSWY3DPEHPK3PXP","backupcode":"x"}' });
    await insertAdmin(t.knex, { username: 'ops', authmodule: 'totp', authdata: '{"secret":"JBSWY3DPEHPK3PXP","backupcode":"y"}' });
    for (let i = 0; i < 30; i++) await insertUser(t.knex, { email: `u${i}@x.test`, second_factor: 'totp', second_factor_config: '{"secret":"JBSWY3DPEHPK3PXP"}' });
    await setConfigValue(t.knex, '2fasettings', phpSerialize({ modules: { totp: { clientenabled: 1, adminenabled: 1 } }, forceclient: 0, forceadmin: 0 }));
    const s = mysqlServer();
    const mysql = await import('mysql2/promise');
    locker = await mysql.createConnection({ host: s.host, port: s.port, user: s.user, password: s.password, database: dbName });
  }, 120_000);
  afterEach(async () => {
    await locker.query('UNLOCK TABLES').catch(() => {});
    await locker.query('ROLLBACK').catch(() => {});
  });
  afterAll(async () => {
    await locker?.end().catch(() => {});
    await t?.drop();
  });

  const cli = (args: string[], stateHome: string, extra: string[] = []) =>
    runCli(['--whmcs-dir', t.whmcsDir, '--timeout', String(TIMEOUT), ...extra, ...args, '--yes', '--format', 'json'], { env: { XDG_STATE_HOME: stateHome }, timeoutMs: 60_000 });

  /** Every kind of write the tool makes. */
  const WRITES: Array<[string, string[]]> = [
    ['enforce (2fasettings)', ['enforce', '--admins', 'on']],
    ['deactivate (2fasettings, guard counts)', ['deactivate', 'totp', '--clients', '--force']],
    ['reset one admin (tbladmins, activity log)', ['reset', '--admin', 'ops', '--reason', 'lock drill']],
    ['backup-code (tbladmins)', ['backup-code', '--admin', 'root']],
    ['bulk reset (tblusers in batches)', ['reset', '--module', 'totp', '--users', '--reason', 'lock drill', '--batch-size', '7']],
  ];
  /** What other sessions hold: generated per table set. */
  const tables = ['tblconfiguration', 'tbladmins', 'tblusers', 'tblactivitylog'];
  const LOCKS: Array<[string, (c: Connection) => Promise<unknown>]> = [
    // mysqldump --lock-tables, Percona/MariaBackup's non-InnoDB phase: every table READ.
    ['LOCK TABLES … READ on every table (a backup)', async (c) => {
      const [rows] = (await c.query('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [dbName])) as [Array<{ n: string }>, unknown];
      await c.query(`LOCK TABLES ${rows.map((r) => `\`${r.n}\` READ`).join(', ')}`);
    }],
    // A long transaction (another admin tool, a stuck cron job) holding the rows.
    ['row locks of an open transaction (SELECT … FOR UPDATE)', async (c) => {
      await c.query('START TRANSACTION');
      for (const tb of tables) await c.query(`SELECT * FROM \`${tb}\` FOR UPDATE`);
    }],
    // Only the write path's tables: reads succeed, the write waits.
    ['LOCK TABLES … READ on the written tables only', (c) => c.query(`LOCK TABLES ${tables.map((tb) => `\`${tb}\` READ`).join(', ')}, tblusers_clients READ, tbladminroles READ, tblclients READ`)],
  ];

  // Each lock is held once while every kind of write runs against it side by side: each must wait
  // out its own --timeout on that lock, and none may write (the waits overlap instead of adding up).
  for (const [lockName, lock] of LOCKS) {
    it(`${lockName} × every write (${WRITES.map(([w]) => w.split(' (')[0]).join(', ')}): exit 7 after --timeout, nothing written, no journal`, async () => {
      const before = await snapshotDb(t.knex);
      await lock(locker);
      const results = await Promise.all(WRITES.map(([, args]) => cli(args, tempDir())));
      await locker.query('UNLOCK TABLES');
      await locker.query('ROLLBACK');
      results.forEach((r, i) => expectBlocked(r, /timed out after 2 s waiting for a lock another session holds/, `${lockName} × ${WRITES[i]![0]}`));
      // The history lives in the database: unchanged means no history entry either.
      expect((await snapshotDb(t.knex)).hash, 'database unchanged, history tables included').toBe(before.hash);
    }, 60_000);
  }

  it('a statement that takes longer than --timeout but is executing is not a hang: no note, no exit 7', async () => {
    // A trigger makes the UPDATE itself slow (the server is working on it, as on a set-based undo of
    // a million rows). The watchdog asks the server on a connection of its own and lets it finish.
    await t.knex.raw('CREATE TRIGGER slow_admin_update BEFORE UPDATE ON tbladmins FOR EACH ROW SET @w2fa_slept = SLEEP(5)');
    try {
      const before = await t.knex('tbladmins').where({ username: 'ops' }).first('authmodule');
      expect(before.authmodule).toBe('totp');
      const r = await runCli(['--whmcs-dir', t.whmcsDir, '--timeout', '1', 'reset', '--admin', 'ops', '--reason', 'slow server drill', '--yes', '--format', 'json'], {
        env: { XDG_STATE_HOME: tempDir() },
        timeoutMs: 60_000,
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.json.changed).toBe(true);
      expect((await t.knex('tbladmins').where({ username: 'ops' }).first('authmodule')).authmodule).toBe('');
    } finally {
      await t.knex.raw('DROP TRIGGER IF EXISTS slow_admin_update');
      await t.knex('tbladmins').where({ username: 'ops' }).update({ authmodule: 'totp', authdata: '{"secret":"JBSWY3DPEHPK3PXP","backupcode":"y"}' });
    }
  }, 60_000);

  it('a note on stderr while a write waits on a lock (table format)', async () => {
    await locker.query('LOCK TABLES tblconfiguration READ');
    const r = await runCli(['--whmcs-dir', t.whmcsDir, '--timeout', '3', 'enforce', '--admins', 'on', '--yes', '--format', 'table']);
    await locker.query('UNLOCK TABLES');
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/^Note: waiting for the database \([\d.]+ s so far\): the server says it is waiting for a lock another session holds .* giving up after 3 s \(--timeout\)$/m);
  }, 60_000);

  it('the lock released in time: the write goes through (exit 0) after waiting', async () => {
    await locker.query('LOCK TABLES tblconfiguration READ');
    const run = runCli(['--whmcs-dir', t.whmcsDir, '--timeout', '30', 'enforce', '--clients', 'on', '--yes', '--format', 'json'], { env: { XDG_STATE_HOME: tempDir() } });
    // Released once the tool is seen waiting on it.
    for (let i = 0; i < 600; i++) {
      const [rows] = (await locker.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND STATE LIKE 'Waiting for table metadata lock%'", [dbName])) as [Array<{ n: number }>, unknown];
      if (Number(rows[0]!.n) > 0) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    await locker.query('UNLOCK TABLES');
    const r = await run;
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ changed: true, force: { clients: true } });
    await runCli(['--whmcs-dir', t.whmcsDir, 'enforce', '--clients', 'off', '--yes']);
  }, 60_000);

  describe('servers that never answer', () => {
    let fault: TcpFault | undefined;
    let ntp: FakeNtp | undefined;
    afterEach(async () => {
      await fault?.close();
      await ntp?.close();
      fault = ntp = undefined;
    });
    const viaPort = (port: number) => `mysql://root@127.0.0.1:${port}/${dbName}`;

    it('accepts TCP, never sends a handshake (a dead SSH tunnel): status exits 7 within --timeout', async () => {
      fault = await silentServer();
      const r = await runCli(['--db', viaPort(fault.port), '--timeout', String(TIMEOUT), 'status', '--format', 'json'], { env: { WHMCS_DB_PASSWORD: '' }, timeoutMs: 60_000 });
      expectBlocked(r, /^Error: cannot connect to mysql:\/\/root@127\.0\.0\.1:\d+\/\S+: no answer within 2 s — check the host, port and firewall \(or the SSH tunnel\)$/, 'silent server');
    }, 60_000);

    it('the same for clock-check --timeout 2: it reports (UNKNOWN at least) and exits, monitoring codes kept', async () => {
      fault = await silentServer();
      ntp = await startFakeNtp((req) => reply(req));
      const r = await runCli(['--db', viaPort(fault.port), 'clock-check', '--timeout', '2', '--server', `127.0.0.1:${ntp.port}`, '--format', 'nagios'], { env: { WHMCS_DB_PASSWORD: '' }, timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stdout).toMatch(/^CLOCK UNKNOWN - /);
      expect(r.stdout + r.stderr).toMatch(/did not report its time within 2 s/);
    }, 60_000);

    for (const [name, freezeOn, args] of [
      ['while reading (status)', /select/i, ['status']],
      ['inside a change, at its UPDATE (enforce)', /update `tblconfiguration`/i, ['enforce', '--admins', 'on', '--yes']],
      ['inside a bulk batch, at its UPDATE', /update `tblusers`/i, ['reset', '--module', 'totp', '--users', '--reason', 'freeze drill', '--batch-size', '7', '--yes']],
    ] as Array<[string, RegExp, string[]]>) {
      it(`a connection that freezes ${name}: exit 7, and nothing is committed`, async () => {
        const before = await snapshotDb(t.knex);
        const s = mysqlServer();
        fault = await freezingProxy({ host: s.host!, port: s.port! }, freezeOn);
        const stateHome = tempDir();
        // A process of its own: the run ends by exiting, which is what closes the frozen connection
        // (and so rolls back its transaction) before the database is compared.
        const r = await runCli(['--db', viaPort(fault.port), '--timeout', String(TIMEOUT), ...args, '--format', 'json'], {
          env: { WHMCS_DB_PASSWORD: '', WHMCS_CC_ENCRYPTION_HASH: t.ccHash, XDG_STATE_HOME: stateHome },
          timeoutMs: 60_000,
          process: true,
        });
        expect(fault.frozen, 'the proxy froze').toBe(true);
        // The frozen statement's own watchdog, or a further connection the pool opened meanwhile.
        expectBlocked(r, /^Error: (bulk change stopped: )?timed out: the database (has not answered a statement for [\d.]+ s \(--timeout 2 s\)|did not answer a new connection within 2 s)/, name);
        await fault.close();
        fault = undefined;
        expect((await snapshotDb(t.knex)).hash, 'nothing committed').toBe(before.hash);
      }, 60_000);
    }
  });
});

describe('configuration.php that would never end', () => {
  const cases: Array<[string, (dir: string) => void, RegExp]> = [
    ['a named pipe (FIFO) with no writer', (dir) => execFileSync('mkfifo', [join(dir, 'configuration.php')]), /configuration\.php: it is a named pipe \(FIFO\), not a regular file/],
    ['a link to /dev/zero', (dir) => symlinkSync('/dev/zero', join(dir, 'configuration.php')), /configuration\.php: it is a device, not a regular file/],
    ['a link to /dev/urandom', (dir) => symlinkSync('/dev/urandom', join(dir, 'configuration.php')), /configuration\.php: it is a device, not a regular file/],
    ['a 2 MiB file', (dir) => writeFileSync(join(dir, 'configuration.php'), '<?php\n' + '// x\n'.repeat(1 << 19)), /configuration\.php: it is larger than 1 MiB/],
  ];
  for (const [name, make, error] of cases) {
    it(`${name}: refused at once with one Error line (exit 1)`, async () => {
      const dir = tempDir();
      make(dir);
      const r = await runCli(['--whmcs-dir', dir, 'status', '--format', 'json'], { timeoutMs: 20_000 });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/^Error: [^\n]+\n$/);
      expect(r.stderr).toMatch(error);
    });
  }
});

describe('--timeout itself', () => {
  for (const bad of ['0', '-1', 'abc', '1e3', '86401']) {
    it(`--timeout ${bad}: a usage error (exit 2), before anything connects`, async () => {
      const r = await runCli(['--db', 'mysql://nobody@127.0.0.1:1/none', '--timeout', bad, 'status', '--format', 'json']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^Error: --timeout must be a number of seconds above 0 and at most 86400, such as 30 or 2\.5, got "[^"]*"\n$/);
      expect(r.json.error.exitCode).toBe(2);
    });
  }
});
