/**
 * Every sql_mode MariaDB knows, from configuration.php's $sql_mode and from `--db …?sql-mode=`:
 * a write either lands exactly as meant — the 2fasettings row unserializes in PHP itself, the
 * activity-log text holds its quotes and backslashes byte for byte — or is refused with one line
 * naming the mode, and nothing is written. NO_BACKSLASH_ESCAPES used to store every settings
 * write with literal backslashes (WHMCS then saw no 2FA for anyone) while reporting success.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDb, MYSQL_OK, tempDir, type TestDb } from '../helpers/db.js';
import { runCli } from '../helpers/cli.js';
import { describeWithPeer } from '../helpers/peers.js';
import { php } from '../helpers/php.js';
import { insertAdmin, setConfigValue } from '../../src/whmcs/schema/seed.js';
import { phpSerialize } from '../../src/whmcs/php/php-serialize.js';

/** Every flag and combination name MariaDB 10.11 accepts in sql_mode. */
export const SQL_MODES = [
  'REAL_AS_FLOAT', 'PIPES_AS_CONCAT', 'ANSI_QUOTES', 'IGNORE_SPACE', 'IGNORE_BAD_TABLE_OPTIONS', 'ONLY_FULL_GROUP_BY',
  'NO_UNSIGNED_SUBTRACTION', 'NO_DIR_IN_CREATE', 'POSTGRESQL', 'ORACLE', 'MSSQL', 'DB2', 'MAXDB', 'NO_KEY_OPTIONS',
  'NO_TABLE_OPTIONS', 'NO_FIELD_OPTIONS', 'MYSQL323', 'MYSQL40', 'ANSI', 'NO_AUTO_VALUE_ON_ZERO', 'NO_BACKSLASH_ESCAPES',
  'STRICT_TRANS_TABLES', 'STRICT_ALL_TABLES', 'NO_ZERO_IN_DATE', 'NO_ZERO_DATE', 'ALLOW_INVALID_DATES',
  'ERROR_FOR_DIVISION_BY_ZERO', 'TRADITIONAL', 'NO_AUTO_CREATE_USER', 'HIGH_NOT_PRECEDENCE', 'NO_ENGINE_SUBSTITUTION',
  'PAD_CHAR_TO_FULL_LENGTH', 'EMPTY_STRING_IS_NULL', 'SIMULTANEOUS_ASSIGNMENT', 'TIME_ROUND_FRACTIONAL',
];
const REFUSED = new Set(['ORACLE', 'EMPTY_STRING_IS_NULL']);
/** Combinations as a site might really configure them. */
const COMBOS = ['NO_BACKSLASH_ESCAPES,STRICT_TRANS_TABLES', 'ANSI,NO_BACKSLASH_ESCAPES', 'no_backslash_escapes', ' TRADITIONAL , NO_BACKSLASH_ESCAPES ', 'STRICT_ALL_TABLES,EMPTY_STRING_IS_NULL'];

const REASON = `O'Brien's "lost" phone \\ ticket #1\\'; --`;
const SETTINGS = phpSerialize({ modules: { totp: { clientenabled: 1, adminenabled: 1 }, yubico: { clientid: '7', secretkey: "k'e\"y\\", clientenabled: 0, adminenabled: 1 } }, forceclient: 0, forceadmin: 0 });

describeWithPeer(['php'], 'sql_mode', () => {
  if (!MYSQL_OK) {
    it.skip('needs MariaDB', () => {});
    return;
  }
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb('mysql', '8', '8.7.2-release.1');
    await insertAdmin(t.knex, { username: 'root', authmodule: 'totp', authdata: '{"secret":"JBSWY3DPEHPK3PXP","backupcode":"x"}' });
  });
  afterAll(() => t?.drop());
  beforeEach(async () => {
    await t.knex('tblconfiguration').where({ setting: '2fasettings' }).delete();
    await setConfigValue(t.knex, '2fasettings', SETTINGS);
    await t.knex('tbladmins').where({ username: 'root' }).update({ authmodule: 'totp', authdata: '{"secret":"JBSWY3DPEHPK3PXP","backupcode":"x"}' });
    await t.knex('tblactivitylog').delete();
  });

  const withMode = (mode: string): string => {
    const dir = tempDir();
    const conf = readFileSync(join(t.whmcsDir, 'configuration.php'), 'utf8');
    writeFileSync(join(dir, 'configuration.php'), conf + `$sql_mode = '${mode}';\n`);
    return dir;
  };
  const stored = async () => String((await t.knex('tblconfiguration').where({ setting: '2fasettings' }).first()).value);
  const unserialized = async () => JSON.parse(php('echo json_encode(unserialize(stream_get_contents(STDIN), ["allowed_classes" => false]));', await stored()));

  const check = async (mode: string, run: (args: string[]) => ReturnType<typeof runCli>, refusedExit: number) => {
    const refused = mode.split(',').some((m) => REFUSED.has(m.trim().toUpperCase()));
    const on = await run(['enforce', '--admins', 'on', '--yes', '--format', 'json']);
    const reset = await run(['reset', '--admin', 'root', '--reason', REASON, '--yes', '--format', 'json']);
    if (refused) {
      const named = [...REFUSED].find((m) => mode.toUpperCase().includes(m))!;
      for (const r of [on, reset]) {
        expect(r.code, r.stderr).toBe(refusedExit);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(new RegExp(`^Error: .*sql.mode.* contains ${named}, which whmcs-2fa cannot write under`));
      }
      expect(await stored()).toBe(SETTINGS);
      expect(await t.knex('tblactivitylog').count({ n: '*' }).first()).toMatchObject({ n: 0 });
      return;
    }
    expect(on.code, on.stderr).toBe(0);
    expect(reset.code, reset.stderr).toBe(0);
    const s = await unserialized();
    expect(s.forceadmin).toBe(1);
    expect(s.modules.yubico.secretkey).toBe("k'e\"y\\");
    const admin = await t.knex('tbladmins').where({ username: 'root' }).first();
    expect([admin.authmodule, admin.authdata]).toEqual(['', '']);
    const log = (await t.knex('tblactivitylog').select('description')).map((r: { description: string }) => r.description);
    expect(log.some((d: string) => d.includes(REASON)), log.join('\n')).toBe(true);
  };

  describe('configuration.php $sql_mode', () => {
    for (const mode of [...SQL_MODES, ...COMBOS]) {
      it(`'${mode}'`, async () => {
        const dir = withMode(mode);
        await check(mode, (args) => runCli(['--whmcs-dir', dir, ...args]), 1);
      });
    }
  });

  describe('--db …?sql-mode=', () => {
    for (const mode of ['NO_BACKSLASH_ESCAPES', 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES', 'EMPTY_STRING_IS_NULL', 'ORACLE']) {
      it(`'${mode}'`, async () => {
        const url = `${t.url}?sql-mode=${encodeURIComponent(mode)}`;
        await check(mode, (args) => runCli(['--db', url, ...args], { env: { WHMCS_CC_ENCRYPTION_HASH: t.ccHash } }), 2);
      });
    }
  });

  it('what the server stores is read back before COMMIT: a value rewritten on the way in rolls the change back (exit 5)', async () => {
    // Stands for anything between the statement and the stored bytes: an escaping mode, silent
    // truncation, a charset that cannot hold a character, a trigger.
    await t.knex.raw("CREATE TRIGGER w2fa_mangle BEFORE UPDATE ON tblconfiguration FOR EACH ROW SET NEW.value = REPLACE(NEW.value, 's:10:\"forceadmin\";i:1', 's:10:\"forceadmin\";i:0')");
    try {
      const r = await runCli(['--whmcs-dir', t.whmcsDir, 'enforce', '--admins', 'on', '--yes', '--format', 'json']);
      expect(r.code, r.stderr).toBe(5);
      expect(r.stderr).toMatch(/^Error: the database did not store what was written to tblconfiguration id=\d+ \(value read back different\) — nothing was written/);
      expect(r.json.error.exitCode).toBe(5);
      expect(await stored()).toBe(SETTINGS);
      expect(await t.knex('tblactivitylog').count({ n: '*' }).first()).toMatchObject({ n: 0 });
    } finally {
      await t.knex.raw('DROP TRIGGER IF EXISTS w2fa_mangle');
    }
  });
});
