/**
 * cc_encryption_hash is proven before any write that encrypts (issue #14, point 1): an empty slot
 * encrypted with a wrong key locks the account out (WHMCS reads an empty AES config) or breaks Duo
 * for everyone (keys decrypt to garbage). The configuration.php of these installs holds a WRONG
 * key; the data in the database was encrypted by "WHMCS" with the real one (TEST_CC_HASH).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDb, describeBackends, TEST_CC_HASH, type Backend, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { insertAdmin, setConfigValue } from '../src/whmcs/schema/seed.js';
import { aesEncryptConfig } from '../src/whmcs/crypto/aes-config.js';
import { hashBackupCode } from '../src/whmcs/crypto/backup-code-hash.js';
import { phpJsonEncode } from '../src/whmcs/php/php-json.js';
import { whmcsEncrypt } from '../src/whmcs/crypto/whmcs-encrypt.js';
import { phpSerialize } from '../src/whmcs/php/php-serialize.js';
import { sonataBase32Decode } from '../src/services/totp/base32-secret.js';
import { totpAt } from './helpers/whmcs-oracles.js';

const WRONG = 'ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba9876543210ZZ';
const SECRET = 'JBSWY3DPEHPK3PXP';
const DUO_ID = 'DIABCDEFGHIJKLMNOPQR';
const DUO_SECRET = 'abcdefghijklmnopqrstuvwxyz0123456789ABCD';
const code = () => totpAt(sonataBase32Decode(SECRET), Math.floor(Date.now() / 1000));
const aesConfig = (cfg: Record<string, unknown>, key = TEST_CC_HASH) => aesEncryptConfig(phpJsonEncode(cfg), key);

/** Everything a refused write must leave alone. */
async function snapshot(t: TestDb) {
  const [admins, config, activity] = await Promise.all([
    t.knex('tbladmins').select('id', 'authmodule', 'authdata', 'updated_at').orderBy('id'),
    t.knex('tblconfiguration').select('id', 'setting', 'value', 'updated_at').orderBy('id'),
    t.knex('tblactivitylog').count({ n: '*' }).first(),
  ]);
  return { admins, config, activity };
}

function expectOneErrorLine(stderr: string, re: RegExp) {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^Error: /);
  expect(lines[0]).toMatch(re);
}

describeBackends('cc_encryption_hash proof before encrypted writes', (backend: Backend) => {
  let t: TestDb;
  const cli = (args: string[], env?: Record<string, string>) => runCli(['--whmcs-dir', t.whmcsDir, ...args], { env });

  describe('WHMCS 8.12 (AES), configuration.php with the wrong key', () => {
    beforeEach(async () => {
      t = await createTestDb(backend, '8', '8.12.1-release.1', WRONG);
      // "WHMCS" enrolled alice with the real key; bob has an empty slot.
      await insertAdmin(t.knex, { username: 'alice', authmodule: 'totp', authdata: aesConfig({ secret: SECRET, backupcode: hashBackupCode('0123456789abcdef') }) });
      await insertAdmin(t.knex, { username: 'bob' });
    });
    afterEach(() => t?.drop());

    it('enroll into an empty slot: exit 6 naming the values that disagree, nothing written', async () => {
      const before = await snapshot(t);
      const r = await cli(['enroll', '--admin', 'bob', '--code', await code(), '--yes'], { WHMCS_TOTP_SECRET: SECRET });
      expect(r.code).toBe(6);
      expectOneErrorLine(r.stderr, /^Error: not encrypting the new TOTP secret: cc_encryption_hash is not the key WHMCS encrypted its data with: tbladmins\.authdata #1 does not decrypt with it — check \$cc_encryption_hash.* — nothing was written$/);
      expect(await snapshot(t)).toEqual(before);
      const list = await cli(['undo', '--list', '--format', 'json']);
      expect(list.json.entries).toEqual([]);
    });

    it('the same with --format json: the error object carries the verdict', async () => {
      const r = await cli(['enroll', '--admin', 'bob', '--code', await code(), '--yes', '--format', 'json'], { WHMCS_TOTP_SECRET: SECRET });
      expect(r.code).toBe(6);
      expect(r.json.error.exitCode).toBe(6);
      expect(r.json.error.details.encryptionKey).toMatchObject({ verdict: 'disagrees', checked: 1, disagreeing: ['tbladmins.authdata #1'] });
    });

    it('backup-code for an enrolled account with an empty config: exit 6, nothing written', async () => {
      await t.knex('tbladmins').where({ username: 'bob' }).update({ authmodule: 'totp', authdata: '' });
      const before = await snapshot(t);
      const r = await cli(['backup-code', '--admin', 'bob', '--yes']);
      expect(r.code).toBe(6);
      expectOneErrorLine(r.stderr, /not encrypting the new backup code: .*tbladmins\.authdata #1 does not decrypt/);
      expect(await snapshot(t)).toEqual(before);
    });

    it('activate duo with no keys stored yet: exit 6 (the AES configs disagree), nothing written', async () => {
      const before = await snapshot(t);
      // The secret comes from the environment so that it never shows in the process list.
      const r2 = await runCli(['--whmcs-dir', t.whmcsDir, 'activate', 'duo', '--admins', '--client-id', DUO_ID, '--api-hostname', 'api-12345678.duosecurity.com', '--yes'], {
        env: { WHMCS_DUO_CLIENT_SECRET: DUO_SECRET },
      });
      expect(r2.code).toBe(6);
      expectOneErrorLine(r2.stderr, /not encrypting the Duo Security keys: .*tbladmins\.authdata #1/);
      expect(await snapshot(t)).toEqual(before);
    });

    it('status reports the disagreement', async () => {
      const r = await cli(['status', '--format', 'json']);
      expect(r.code).toBe(0);
      expect(r.json.encryptionKey).toMatchObject({ verdict: 'disagrees', checked: 1, disagreeing: ['tbladmins.authdata #1'] });
      expect(r.json.warnings.join('\n')).toMatch(/cc_encryption_hash is not the key WHMCS encrypted its data with/);
    });

    it('a database holding data under two keys: one AES config that decrypts proves the key; the others are named', async () => {
      const { writeFileSync, readFileSync } = await import('node:fs');
      const conf = `${t.whmcsDir}/configuration.php`;
      writeFileSync(conf, readFileSync(conf, 'utf8').replace(WRONG, TEST_CC_HASH));
      await insertAdmin(t.knex, { username: 'moved', authmodule: 'totp', authdata: aesConfig({ secret: SECRET }, WRONG) });
      const st = await cli(['status', '--format', 'json']);
      expect(st.json.encryptionKey).toMatchObject({ verdict: 'agrees', checked: 2, disagreeing: ['tbladmins.authdata #3'] });
      expect(st.json.warnings.join('\n')).toMatch(/tbladmins\.authdata #3 does not decrypt with it — parts of this database were saved with another key/);
      const r = await cli(['enroll', '--admin', 'bob', '--code', await code(), '--yes', '--format', 'json'], { WHMCS_TOTP_SECRET: SECRET });
      expect(r.code).toBe(0);
      expect(r.json.warnings.join('\n')).toMatch(/tbladmins\.authdata #3 does not decrypt/);
    });

    it('with the right key the same enrolment goes through and WHMCS-readable data is written', async () => {
      const { writeFileSync, readFileSync } = await import('node:fs');
      const conf = `${t.whmcsDir}/configuration.php`;
      writeFileSync(conf, readFileSync(conf, 'utf8').replace(WRONG, TEST_CC_HASH));
      const st = await cli(['status', '--format', 'json']);
      expect(st.json.encryptionKey).toMatchObject({ verdict: 'agrees', checked: 1, disagreeing: [] });
      const r = await cli(['enroll', '--admin', 'bob', '--code', await code(), '--yes', '--format', 'json'], { WHMCS_TOTP_SECRET: SECRET });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.json.warnings).toEqual([]);
    });
  });

  describe('weak probes: encrypt()ed passwords WHMCS keeps elsewhere', () => {
    beforeEach(async () => {
      t = await createTestDb(backend, '7', '7.8.3-release.1', WRONG);
    });
    afterEach(() => t?.drop());

    const duoEnv = { WHMCS_DUO_CLIENT_SECRET: DUO_SECRET };
    const activateDuo = () =>
      runCli(['--whmcs-dir', t.whmcsDir, 'activate', 'duo', '--admins', '--client-id', DUO_ID, '--api-hostname', 'api-12345678.duosecurity.com', '--yes', '--format', 'json'], { env: duoEnv });

    it('a server password and the SMTP password encrypted with the real key: activate duo is refused (exit 6)', async () => {
      await t.knex('tblservers').insert({
        name: 'web1', ipaddress: '192.0.2.10', hostname: 'web1.example.net', type: 'cpanel', username: 'root',
        password: whmcsEncrypt('Tr0ub4dor&3-horse', TEST_CC_HASH), accesshash: '', secure: 'on', active: 1, disabled: 0,
      });
      await setConfigValue(t.knex, 'SMTPPassword', whmcsEncrypt('mail-password-2024', TEST_CC_HASH));
      const before = await snapshot(t);
      const r = await activateDuo();
      expect(r.code).toBe(6);
      expect(r.json.error.message).toMatch(/tblconfiguration SMTPPassword, tblservers\.password #1 do not decrypt with it/);
      expect(await snapshot(t)).toEqual(before);
    });

    it('registrar settings too; values that prove nothing (encrypt(""), short ones) are not counted', async () => {
      await t.knex('tblregistrars').insert([
        { registrar: 'enom', setting: 'Username', value: whmcsEncrypt('reseller-login', TEST_CC_HASH) },
        { registrar: 'enom', setting: 'TestMode', value: whmcsEncrypt('on', TEST_CC_HASH) },
        { registrar: 'enom', setting: 'Password', value: whmcsEncrypt('', TEST_CC_HASH) },
      ]);
      const st = await cli(['status', '--format', 'json']);
      expect(st.json.encryptionKey).toMatchObject({ verdict: 'disagrees', checked: 1, disagreeing: ['tblregistrars.value #1'] });
    });

    it('nothing encrypted anywhere: a warning (also in JSON), then the write proceeds', async () => {
      const r = await activateDuo();
      expect(r.code).toBe(0);
      expect(r.json.changed).toBe(true);
      expect(r.json.warnings.join('\n')).toMatch(/encrypting the Duo Security keys: nothing in the database was encrypted with cc_encryption_hash yet/);
      expect(r.stderr).toMatch(/nothing in the database was encrypted with cc_encryption_hash yet/);
      const st = await cli(['status', '--format', 'json']);
      // Now the Duo keys themselves are what the key is checked against.
      expect(st.json.encryptionKey).toMatchObject({ verdict: 'agrees', checked: 2 });
    });

    it('stored Duo keys saved with another key are replaced by new ones: they do not count against the key', async () => {
      const settings = phpSerialize({
        modules: {
          totp: { clientenabled: 1, adminenabled: 1 },
          duosecurity: { integrationKey: whmcsEncrypt(DUO_ID, TEST_CC_HASH), secretKey: whmcsEncrypt(DUO_SECRET, TEST_CC_HASH), apiHostname: 'api-12345678.duosecurity.com', clientenabled: 0, adminenabled: 0 },
        },
        forceclient: 0,
        forceadmin: 0,
      });
      await setConfigValue(t.knex, '2fasettings', settings);
      const st = await cli(['status', '--format', 'json']);
      expect(st.json.encryptionKey).toMatchObject({ verdict: 'disagrees', disagreeing: ['2fasettings duosecurity.integrationKey', '2fasettings duosecurity.secretKey'] });
      const r = await activateDuo();
      expect(r.code).toBe(0);
      expect(r.json.changed).toBe(true);
      expect(r.json.warnings.join('\n')).toMatch(/did not decrypt with this cc_encryption_hash/);
    });
  });
});
