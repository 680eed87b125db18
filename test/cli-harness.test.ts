/**
 * The in-process harness (test/helpers/cli.ts runCli without `process`) answers as the real
 * process does: for the same command line, the same exit code, standard output and standard
 * error as the built CLI started by node. Most command tests rely on this.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from './helpers/db.js';
import { runCli, type CliOptions } from './helpers/cli.js';
import { insertAdmin, insertUser, setConfigValue } from '../src/whmcs/schema/seed.js';
import { phpSerialize } from '../src/whmcs/php/php-serialize.js';

// One backend: what is compared is the harness, not the database (both backends run every suite).
describe('in-process runs answer as the process does', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb('sqlite', '8', '8.7.2-release.1');
    await insertAdmin(t.knex, { username: 'root', authmodule: 'totp', authdata: '{"secret":"JBSWY3DPEHPK3PXP","backupcode":"x"}' });
    await insertAdmin(t.knex, { username: 'ops' });
    await insertUser(t.knex, { email: 'u@x.test', second_factor: '0', second_factor_config: '' });
    await setConfigValue(t.knex, '2fasettings', phpSerialize({ modules: { totp: { clientenabled: 1, adminenabled: 1 } }, forceclient: 0, forceadmin: 0 }));
  });
  afterAll(() => t?.drop());

  const cases: Array<[string, (t: TestDb) => string[], CliOptions?]> = [
    ['success, a table with a warning', (t) => ['--whmcs-dir', t.whmcsDir, 'accounts'], { asTyped: true }],
    ['success, JSON', (t) => ['--whmcs-dir', t.whmcsDir, 'status', '--format', 'json']],
    ['a dry run', (t) => ['--whmcs-dir', t.whmcsDir, 'enforce', '--clients', 'on', '--dry-run', '--format', 'table']],
    ['a usage error (commander)', () => ['status', '--bogus'], { asTyped: true }],
    ['a usage error with --format json', () => ['status', '--bogus', '--format', 'json'], { asTyped: true }],
    ['an unknown command', () => ['stauts'], { asTyped: true }],
    ['a format the command does not have', (t) => ['--whmcs-dir', t.whmcsDir, 'status', '--format', 'nagios']],
    ['a usage error from the command, as JSON', (t) => ['--whmcs-dir', t.whmcsDir, 'reset', '--format', 'json']],
    ['not found (exit 3), as JSON', (t) => ['--whmcs-dir', t.whmcsDir, 'accounts', '--admin', 'nobody', '--format', 'json']],
    ['a database that refuses the connection (exit 5)', () => ['--db', 'mysql://root@127.0.0.1:1/x', 'status'], { env: { WHMCS_DB_PASSWORD: '' } }],
    ['refused without a terminal (exit 4)', (t) => ['--whmcs-dir', t.whmcsDir, 'enforce', '--clients', 'on', '--format', 'table']],
    ['refused without a terminal, as JSON', (t) => ['--whmcs-dir', t.whmcsDir, 'enforce', '--clients', 'on', '--format', 'json']],
    ['help of a command', () => ['backup-code', '--help'], { asTyped: true }],
    ['the version', () => ['--version'], { asTyped: true }],
    ['a secret read from stdin', (t) => ['--whmcs-dir', t.whmcsDir, 'activate', 'yubikey', '--admins', '--client-id', '1', '--secret-key', '-', '--dry-run', '--format', 'json'], { input: 'c2VjcmV0LWtleQ==\n' }],
  ];

  for (const [name, args, opts] of cases) {
    it(name, async () => {
      const a = args(t);
      const inProcess = await runCli(a, opts);
      const spawned = await runCli(a, { ...opts, process: true });
      expect({ code: inProcess.code, stdout: inProcess.stdout, stderr: inProcess.stderr }).toEqual({ code: spawned.code, stdout: spawned.stdout, stderr: spawned.stderr });
      // The cases say something: each writes on at least one stream.
      expect(spawned.stdout + spawned.stderr).not.toBe('');
    });
  }
});
