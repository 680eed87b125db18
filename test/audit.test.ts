/**
 * `audit` against databases built to hold each finding, a clean one (exit 0, "all admins
 * protected"), the 7.x, 8.7 JSON and 8.12 AES shapes and the sandbox — on MariaDB and SQLite.
 * Every run is also checked to have written nothing (whole-database snapshots) and to keep secrets
 * out of the output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDb, describeBackends, type TestDb } from './helpers/db.js';
import { runCli, TEST_STATE_HOME } from './helpers/cli.js';
import { snapshotDb, changedTables } from './helpers/snapshot.js';
import { insertAdmin, insertUser, insertClient, setConfigValue, userRow } from '../src/whmcs/schema/seed.js';
import { nowSql } from '../src/whmcs/connection/sql-time.js';
import { phpSerialize } from '../src/whmcs/php/php-serialize.js';
import { whmcsEncrypt } from '../src/whmcs/crypto/whmcs-encrypt.js';
import { encodeAccountConfig } from '../src/whmcs/accounts/account-config.js';

const DUO_ID = 'DIABCDEFGHIJKLMNOPQR';
const DUO_SECRET = 's3cr3tK3yW1thM0reThan20Bytess3cr3tK3yW1x'; // 40 chars
const SECRET = 'JBSWY3DPEHPK3PXP';
const BACKUP = 'fe5567e8d769550852182cdf69d74bb16dff8e29';

const audit = (t: TestDb, ...args: string[]) => runCli(['--whmcs-dir', t.whmcsDir, 'audit', ...args]);
const ids = (j: any) => j.findings.map((f: any) => f.id).sort();
const finding = (j: any, id: string) => j.findings.find((f: any) => f.id === id);
const names = (j: any, id: string) => finding(j, id)?.accounts.map((a: any) => a.name);

function settings(modules: Record<string, unknown>, force: { admins?: number; clients?: number } = {}): string {
  return phpSerialize({ modules, forceclient: force.clients ?? 1, forceadmin: force.admins ?? 1 });
}
const on = { clientenabled: 1, adminenabled: 1 };

describeBackends('audit', (backend) => {
  describe('a clean WHMCS 8.12 (AES)', () => {
    let t: TestDb;
    beforeAll(async () => {
      t = await createTestDb(backend, '8', '8.12.1-release.1');
      await setConfigValue(t.knex, '2fasettings', settings({ totp: on }));
      const aes = encodeAccountConfig({ secret: SECRET, backupcode: BACKUP }, 'aes', t.ccHash);
      await insertAdmin(t.knex, { username: 'admin', authmodule: 'totp', authdata: aes });
      await insertAdmin(t.knex, { username: 'sales', roleid: 2, authmodule: 'totp', authdata: aes });
      await insertAdmin(t.knex, { username: 'gone', disabled: 1 });
      await insertUser(t.knex, { email: 'a@x.test', second_factor: 'totp', second_factor_config: aes });
    });
    afterAll(() => t?.drop());

    it('exits 0 and says "all admins protected", in every format', async () => {
      const table = await audit(t, '--format', 'table');
      expect(table.stderr).toBe('');
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(/^OK: all admins protected: 2 of 2 active admins have a working second factor/);
      expect(table.stdout).toContain('No findings.');

      const json = await audit(t, '--format', 'json');
      expect(json.code).toBe(0);
      expect(json.json).toMatchObject({ status: 0, statusName: 'OK', findings: [], counts: { critical: 0, warning: 0, info: 0 } });
      expect(json.json.accounts.admins).toEqual({ total: 3, active: 2, protected: 2, unprotected: 0, broken: 0, unchecked: 0 });
      expect(json.json.accounts.users).toMatchObject({ total: 1, protected: 1, unprotected: 0 });

      const nagios = await audit(t, '--format', 'nagios');
      expect(nagios.code).toBe(0);
      expect(nagios.stdout.split('\n')[0]).toMatch(/^WHMCS-2FA OK - all admins protected.* \| admins_total=3;;;0 admins_active=2;;;0 admins_protected=2;;;0;2 admins_unprotected=0;;;0;2 /);

      const csv = await audit(t, '--format', 'csv');
      expect(csv.code).toBe(0);
      expect(csv.stdout).toBe('severity,finding,title,count,kind,id,name,email,role,module,why,fix\r\n');
    });
  });

  describe('a wrong cc_encryption_hash that only the key check can see (no Duo, no AES data)', () => {
    let t: TestDb;
    beforeAll(async () => {
      // 8.7: plaintext JSON configs, nothing of 2FA encrypted; the server password WHMCS encrypted
      // with the real key is the only witness — configuration.php holds another key.
      t = await createTestDb(backend, '8', '8.7.2-release.1', 'z'.repeat(64));
      await setConfigValue(t.knex, '2fasettings', settings({ totp: on }));
      const json = JSON.stringify({ secret: SECRET, backupcode: BACKUP });
      await insertAdmin(t.knex, { username: 'admin', authmodule: 'totp', authdata: json });
      await t.knex('tblservers').insert({
        name: 'web1', ipaddress: '192.0.2.10', hostname: 'web1.example.net', type: 'cpanel', username: 'root',
        password: whmcsEncrypt('Tr0ub4dor&3-horse', 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab'), accesshash: '', secure: 'on', active: 1, disabled: 0,
      });
    });
    afterAll(() => t?.drop());

    it('reports cc-hash-disagrees naming the value, critical', async () => {
      const r = await audit(t, '--format', 'json');
      expect(r.code).toBe(1);
      const f = finding(r.json, 'cc-hash-disagrees');
      expect(f?.severity).toBe('critical');
      expect(f.title).toMatch(/disagrees with what WHMCS encrypted: tblservers\.password #1/);
    });
  });

  describe('WHMCS 8.12 built to hold every finding', () => {
    let t: TestDb;
    let before: Awaited<ReturnType<typeof snapshotDb>>;
    let j: any;
    beforeAll(async () => {
      t = await createTestDb(backend, '8', '8.12.1-release.1');
      const H = t.ccHash;
      await setConfigValue(
        t.knex,
        '2fasettings',
        settings(
          {
            totp: on,
            // Wrong lengths: the Universal client refuses them.
            duosecurity: { integrationKey: whmcsEncrypt('SHORT', H), secretKey: whmcsEncrypt(DUO_SECRET, H), apiHostname: 'api-12345678.duosecurity.com', clientenabled: 0, adminenabled: 1 },
            yubico: { clientid: '', secretkey: '', clientenabled: 1, adminenabled: 0 },
          },
          { admins: 0, clients: 0 },
        ),
      );
      const aes = (c: Record<string, unknown>, key = H) => encodeAccountConfig(c, 'aes', key);
      const totp = { secret: SECRET, backupcode: BACKUP };
      await insertAdmin(t.knex, { username: 'helpdesk', roleid: 3 }); // no 2FA, not full admin
      await insertAdmin(t.knex, { username: 'root', roleid: 1 }); // no 2FA, full admin: listed first
      await insertAdmin(t.knex, { username: 'zero', authmodule: '0', authdata: JSON.stringify(totp) });
      await insertAdmin(t.knex, { username: 'garbled', authmodule: 'totp', authdata: aes(totp, 'another-cc-encryption-hash') });
      await insertAdmin(t.knex, { username: 'nosecret', authmodule: 'totp', authdata: aes({ backupcode: BACKUP }) });
      await insertAdmin(t.knex, { username: 'duoadmin', authmodule: 'duosecurity', authdata: aes({ backupcode: BACKUP, duo_auth_identifier: 'email' }) });
      await insertAdmin(t.knex, { username: 'yubiadmin', authmodule: 'yubico', authdata: aes({ yubicoprefix: 'x', backupcode: BACKUP }) });
      await insertAdmin(t.knex, { username: 'thirdparty', authmodule: 'acme2fa', authdata: '' });
      await insertAdmin(t.knex, { username: 'fine', authmodule: 'totp', authdata: aes(totp) });
      await insertAdmin(t.knex, { username: 'nobackup', authmodule: 'totp', authdata: aes({ secret: SECRET }) });
      await insertAdmin(t.knex, { username: 'former', authmodule: 'totp', authdata: aes(totp), disabled: 1 });
      await insertUser(t.knex, { email: 'duo@x.test', second_factor: 'duosecurity', second_factor_config: aes({ backupcode: BACKUP }) });
      await insertUser(t.knex, { email: 'junk@x.test', second_factor: 'totp', second_factor_config: 'not a config' });
      await insertUser(t.knex, { email: 'empty@x.test', second_factor: 'totp', second_factor_config: '' });
      await insertUser(t.knex, { email: 'zero@x.test', second_factor: '0', second_factor_config: JSON.stringify(totp) });
      await insertUser(t.knex, { email: 'nobackup@x.test', second_factor: 'totp', second_factor_config: JSON.stringify({ secret: SECRET }) });
      await insertUser(t.knex, { email: 'ok@x.test', second_factor: 'totp', second_factor_config: aes(totp) });
      before = await snapshotDb(t.knex);
      const r = await audit(t, '--format', 'json');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(1);
      j = r.json;
    });
    afterAll(() => t?.drop());

    it('reports each finding once, worst first', () => {
      expect(ids(j)).toEqual(
        [
          'admin-no-second-factor', 'admin-module-zero', 'admin-config-unusable', 'admin-service-broken', 'cc-hash-disagrees',
          'duo-keys-invalid', 'yubico-no-credentials', 'admins-not-forced', 'admin-no-backup-code', 'clients-second-factor-skipped',
          'client-config-unusable', 'module-gone', 'clients-not-forced', 'client-module-zero', 'disabled-admins-enrolled', 'client-no-backup-code',
        ].sort(),
      );
      const order = j.findings.map((f: any) => ({ critical: 3, warning: 2, info: 1 })[f.severity as 'critical']);
      expect(order).toEqual([...order].sort((a: number, b: number) => b - a));
      expect(j.counts).toEqual({ critical: 8, warning: 4, info: 4 });
      for (const f of j.findings) {
        expect(Object.keys(f).sort()).toEqual(['accounts', 'count', 'fix', 'id', 'severity', 'title', 'truncated', 'why']);
        expect(f.fix).toMatch(/whmcs-2fa|configuration\.php|cc_encryption_hash/);
      }
    });

    it('names the accounts concerned, full administrators first', () => {
      expect(names(j, 'admin-no-second-factor')).toEqual(['root', 'helpdesk']);
      expect(finding(j, 'admin-no-second-factor').accounts[0]).toMatchObject({ kind: 'admin', fullAdmin: true, role: 'Full Administrator', module: '' });
      expect(names(j, 'admin-module-zero')).toEqual(['zero']);
      expect(names(j, 'admin-config-unusable').sort()).toEqual(['garbled', 'nosecret']);
      expect(names(j, 'admin-service-broken').sort()).toEqual(['duoadmin', 'thirdparty', 'yubiadmin']);
      expect(names(j, 'admin-no-backup-code')).toEqual(['nobackup']);
      expect(names(j, 'disabled-admins-enrolled')).toEqual(['former']);
      expect(names(j, 'clients-second-factor-skipped')).toEqual(['duo@x.test']);
      expect(names(j, 'client-config-unusable')).toEqual(['junk@x.test', 'empty@x.test']);
      expect(finding(j, 'client-config-unusable').accounts.map((a: any) => a.module)).toEqual(['totp (is neither AES, JSON nor PHP-serialized)', 'totp (is empty)']);
      expect(names(j, 'client-module-zero')).toEqual(['zero@x.test']);
      expect(names(j, 'client-no-backup-code')).toEqual(['nobackup@x.test']);
      expect(finding(j, 'duo-keys-invalid').title).toMatch(/Client ID is 5 characters after decryption, Duo needs exactly 20/);
      expect(finding(j, 'yubico-no-credentials').title).toMatch(/Client ID is not set and .*Secret Key is not set/);
      expect(finding(j, 'cc-hash-disagrees').title).toMatch(/does not decrypt 1 account's second-factor data$/);
      expect(finding(j, 'module-gone').title).toBe('1 account on "acme2fa", a module with no settings that WHMCS does not ship');
      expect(names(j, 'module-gone')).toEqual(['thirdparty']);
      expect(finding(j, 'module-gone').fix).toContain('whmcs-2fa reset --module acme2fa --admins');
      // Unprotected admins make the missing enforcement critical.
      expect(finding(j, 'admins-not-forced').severity).toBe('critical');
      // One account: the fix can be run as printed.
      expect(finding(j, 'admin-module-zero').fix).toContain('whmcs-2fa reset --admin zero');
    });

    it('counts every active admin once: protected, password only, or broken', () => {
      expect(j.accounts.admins).toEqual({ total: 11, active: 10, protected: 2, unprotected: 3, broken: 5, unchecked: 0 });
      expect(j.accounts.users).toEqual({ total: 6, active: 6, protected: 2, unprotected: 2, broken: 2, unchecked: 0 });
      expect(j.summary).toBe('3 of 10 active admins can log in with a password alone (root, helpdesk, zero); 5 cannot complete their second factor');
    });

    it('wrote nothing and kept secrets out of the output', async () => {
      const r = await audit(t, '--format', 'yaml');
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('id: admin-no-second-factor');
      for (const s of [SECRET, DUO_SECRET, t.ccHash, BACKUP]) expect(r.stdout + JSON.stringify(j)).not.toContain(s);
      expect(changedTables(before, await snapshotDb(t.knex))).toEqual([]);
      const journal = join(TEST_STATE_HOME, 'whmcs-2fa');
      expect(existsSync(journal) ? readdirSync(journal) : []).toEqual([]);
    });

    it('table: verdict first, each finding with accounts, why and fix', async () => {
      const r = await audit(t, '--format', 'table');
      expect(r.code).toBe(1);
      const lines = r.stdout.split('\n');
      expect(lines[0]).toBe('CRITICAL: 3 of 10 active admins can log in with a password alone (root, helpdesk, zero); 5 cannot complete their second factor');
      expect(r.stdout).toMatch(/CRITICAL admin-no-second-factor: active admins without a second factor\n {2}Accounts {2}root \(Full Administrator\), helpdesk\n {2}Why/);
      expect(r.stdout.indexOf('CRITICAL admin-no-second-factor')).toBeLessThan(r.stdout.indexOf('INFO client-no-backup-code'));
    });

    it('csv: one row per finding and account', async () => {
      const r = await audit(t, '--format', 'csv');
      expect(r.code).toBe(1);
      const rows = r.stdout.trim().split('\r\n');
      expect(rows[0]).toBe('severity,finding,title,count,kind,id,name,email,role,module,why,fix');
      expect(rows.filter((l) => l.startsWith('critical,admin-no-second-factor,')).length).toBe(2);
      expect(rows.some((l) => l.startsWith('info,clients-not-forced,') && l.includes(',0,,,,,,,'))).toBe(true);
    });

    it('--fail-on, --warn-on and --ignore choose what counts', async () => {
      const ignoreAllCritical = [...new Set(j.findings.filter((f: any) => f.severity === 'critical').map((f: any) => f.id))].join(',');
      let r = await audit(t, '--format', 'json', '--ignore', ignoreAllCritical);
      expect(r.code).toBe(0);
      expect(r.json.counts.critical).toBe(0);
      expect(r.json.ignored.length).toBe(8);
      r = await audit(t, '--format', 'json', '--ignore', ignoreAllCritical, '--fail-on', 'warning');
      expect(r.code).toBe(1);
      r = await audit(t, '--format', 'nagios', '--ignore', ignoreAllCritical);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^WHMCS-2FA WARNING - /);
      r = await audit(t, '--format', 'nagios', '--fail-on', 'module-gone', '--warn-on', 'none');
      expect(r.code).toBe(2);
      r = await audit(t, '--format', 'nagios', '--fail-on', 'none', '--warn-on', 'none');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^WHMCS-2FA OK - 3 of 10 active admins/);
      r = await audit(t, '--format', 'json', '--fail-on', 'none');
      expect(r.code).toBe(0);
    });

    it('bad selectors: one Error line, exit 2 (3 UNKNOWN with --format nagios)', async () => {
      let r = await audit(t, '--format', 'json', '--fail-on', 'severe');
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^Error: --fail-on: unknown finding "severe" — use critical, warning, info, none/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.json.error.exitCode).toBe(2);
      r = await audit(t, '--format', 'nagios', '--ignore', 'critical');
      expect(r.code).toBe(3);
      expect(r.stdout).toMatch(/^WHMCS-2FA UNKNOWN - --ignore takes finding ids/);
      r = await audit(t, '--format', 'nagios', '--no-such-option');
      expect(r.code).toBe(3);
      expect(r.stderr).toBe("Error: unknown option '--no-such-option' — see `whmcs-2fa audit --help`\n");
      r = await audit(t, '--format', 'json', '--no-such-option');
      expect(r.code).toBe(2);
      expect(r.stderr).toBe("Error: unknown option '--no-such-option' — see `whmcs-2fa audit --help`\n");
      expect(r.json.error.exitCode).toBe(2);
      r = await audit(t, '--format', 'nagios', '--help');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: whmcs-2fa audit/);
      r = await audit(t, '--format', 'json', '--server', 'pool.ntp.org');
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/add --clock/);
      // The machine formats belong to the commands that render them.
      r = await runCli(['--whmcs-dir', t.whmcsDir, 'status', '--format', 'prometheus']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^Error: --format prometheus is not available for this command/);
    });

    it('--format prometheus: exit 0 whatever the findings, every check a sample', async () => {
      const r = await audit(t, '--format', 'prometheus');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('whmcs_2fa_audit_success 1\n');
      expect(r.stdout).toContain('whmcs_2fa_audit_status 2\n');
      expect(r.stdout).toContain('whmcs_2fa_accounts{kind="admin",state="unprotected"} 3\n');
      expect(r.stdout).toContain('whmcs_2fa_accounts{kind="admin",state="broken"} 5\n');
      expect(r.stdout).toContain('whmcs_2fa_audit_finding_accounts{finding="admin-no-second-factor"} 2\n');
      expect(r.stdout).toContain('whmcs_2fa_audit_finding_accounts{finding="settings-missing"} 0\n');
      expect(r.stdout).not.toContain('clock-totp');
      expect(r.stdout).toContain('whmcs_2fa_module_enabled{module="duosecurity",audience="admins"} 1\n');
    });
  });

  describe('without cc_encryption_hash (--db URL)', () => {
    let t: TestDb;
    beforeAll(async () => {
      t = await createTestDb(backend, '8', '8.12.1-release.1');
      await setConfigValue(t.knex, '2fasettings', settings({ totp: on }));
      await insertAdmin(t.knex, { username: 'admin', authmodule: 'totp', authdata: encodeAccountConfig({ secret: SECRET, backupcode: BACKUP }, 'aes', t.ccHash) });
    });
    afterAll(() => t?.drop());

    it('says what it could not check instead of guessing', async () => {
      const r = await runCli(['--db', t.url, 'audit', '--format', 'json']);
      expect(r.code).toBe(0);
      expect(ids(r.json)).toEqual(['cc-hash-missing']);
      expect(finding(r.json, 'cc-hash-missing').severity).toBe('warning');
      expect(r.json.accounts.admins).toMatchObject({ protected: 1, unchecked: 1 });
    });
  });

  describe('nothing enabled for clients', () => {
    let t: TestDb;
    beforeAll(async () => {
      t = await createTestDb(backend, '8', '8.12.1-release.1');
      await setConfigValue(t.knex, '2fasettings', settings({ totp: { clientenabled: 0, adminenabled: 1 } }));
      await insertAdmin(t.knex, { username: 'admin', authmodule: 'totp', authdata: encodeAccountConfig({ secret: SECRET, backupcode: BACKUP }, 'aes', t.ccHash) });
    });
    afterAll(() => t?.drop());

    it('is a warning: exit 0 by default, Nagios WARNING', async () => {
      const r = await audit(t, '--format', 'json');
      expect(r.code).toBe(0);
      expect(ids(r.json)).toEqual(['no-client-module']);
      expect(r.json).toMatchObject({ status: 1, statusName: 'WARNING', summary: 'all admins protected: 1 of 1 active admin has a working second factor' });
      const n = await audit(t, '--format', 'nagios');
      expect(n.code).toBe(1);
      expect(n.stdout).toMatch(/^WHMCS-2FA WARNING - all admins protected: 1 of 1 active admin has a working second factor; 0 critical, 1 warning, 0 info finding \| /);
      expect(n.stdout).toMatch(/\n\[WARNING\] no-client-module: no security module is enabled for clients — fix: `whmcs-2fa activate totp --clients`\n$/);
    });
  });

  describe('WHMCS 8.7 (plain JSON) with Duo', () => {
    let t: TestDb;
    beforeAll(async () => {
      t = await createTestDb(backend, '8', '8.7.2-release.1');
      const H = t.ccHash;
      await setConfigValue(
        t.knex,
        '2fasettings',
        settings({
          totp: on,
          duosecurity: { integrationKey: whmcsEncrypt(DUO_ID, H), secretKey: whmcsEncrypt(DUO_SECRET, H), apiHostname: 'api-12345678.duosecurity.com', clientenabled: 0, adminenabled: 1 },
        }),
      );
      await insertAdmin(t.knex, { username: 'admin', authmodule: 'totp', authdata: JSON.stringify({ secret: SECRET, backupcode: BACKUP }) });
      await insertAdmin(t.knex, { username: 'duo', authmodule: 'duosecurity', authdata: JSON.stringify({ backupcode: BACKUP, duo_auth_identifier: 'username' }) });
    });
    afterAll(() => t?.drop());

    it('flags Duo still in the iframe era, and its admins as unable to log in', async () => {
      const r = await audit(t, '--format', 'json');
      expect(r.code).toBe(1);
      expect(ids(r.json)).toEqual(['admin-service-broken', 'duo-iframe-era']);
      expect(finding(r.json, 'duo-iframe-era').title).toMatch(/WHMCS 8\.7\.2-release\.1, whose iframe prompt stopped working on 2024-03-30 \(enabled for admins, 1 admin enrolled\)/);
      expect(names(r.json, 'admin-service-broken')).toEqual(['duo']);
      expect(r.stdout).not.toContain(DUO_SECRET);
    });

    it('a cc_encryption_hash that does not decrypt the Duo keys: cc-hash-disagrees', async () => {
      const r = await runCli(['--db', t.url, 'audit', '--format', 'json'], { env: { WHMCS_CC_ENCRYPTION_HASH: 'not-the-hash-these-keys-were-saved-with' } });
      expect(r.code).toBe(1);
      expect(ids(r.json)).toEqual(['admin-service-broken', 'cc-hash-disagrees', 'duo-iframe-era', 'duo-keys-invalid']);
      expect(finding(r.json, 'cc-hash-disagrees').title).toBe('cc_encryption_hash disagrees with what WHMCS encrypted: 2fasettings duosecurity.integrationKey, 2fasettings duosecurity.secretKey');
      expect(finding(r.json, 'duo-keys-invalid').title).toMatch(/the Duo Client ID does not decrypt to readable text/);
      expect(r.stdout).not.toContain(DUO_SECRET);
    });
  });

  describe('WHMCS 7.8', () => {
    let t: TestDb;
    beforeAll(async () => {
      t = await createTestDb(backend, '7', '7.8.3-release.1');
      // Nothing enabled for admins or clients, yet accounts are enrolled; and a second settings row
      // (7.x has no unique key on tblconfiguration.setting). WHMCS loads every row and the last of
      // a name wins: the one that enables nothing, inserted after the one that enables TOTP.
      await setConfigValue(t.knex, '2fasettings', settings({ totp: on }));
      await t.knex('tblconfiguration').insert({ setting: '2fasettings', value: settings({ totp: { clientenabled: 0, adminenabled: 0 } }), created_at: nowSql(), updated_at: nowSql() });
      const cfg = phpSerialize({ tokendata: 'eA==', backupcode: BACKUP });
      await insertAdmin(t.knex, { username: 'admin', authmodule: 'totp', authdata: cfg });
      await insertClient(t.knex, { email: 'c1@x.test', authmodule: 'totp', authdata: cfg });
      await insertClient(t.knex, { email: 'closed@x.test', status: 'Closed' });
    });
    afterAll(() => t?.drop());

    it('admins and clients enrolled while nothing is enabled: WHMCS skips them', async () => {
      const r = await audit(t, '--format', 'json');
      expect(r.code).toBe(1);
      expect(r.json.whmcs.shape).toBe('7');
      expect(ids(r.json)).toEqual(['clients-second-factor-skipped', 'no-admin-module', 'no-service-enabled', 'settings-duplicate']);
      expect(names(r.json, 'no-admin-module')).toEqual(['admin']);
      expect(names(r.json, 'clients-second-factor-skipped')).toEqual(['c1@x.test']);
      expect(finding(r.json, 'settings-duplicate')).toMatchObject({
        severity: 'critical',
        title: '2 2fasettings rows in tblconfiguration, enforcing different things (admins: totp (forced); clients: totp (forced) / admins: none (forced); clients: none (forced))',
      });
      expect(r.json.accounts.clients).toEqual({ total: 2, active: 1, protected: 0, unprotected: 1, broken: 0, unchecked: 0 });
      expect(r.json.summary).toBe('1 of 1 active admin can log in with a password alone (admin)');
    });
  });

  describe('the 2fasettings row missing or unreadable', () => {
    let t: TestDb;
    beforeAll(async () => {
      t = await createTestDb(backend, '8');
      await insertAdmin(t.knex, { username: 'admin', authmodule: 'totp', authdata: JSON.stringify({ secret: SECRET, backupcode: BACKUP }) });
    });
    afterAll(() => t?.drop());

    it('missing: no second factor anywhere', async () => {
      await t.knex('tblconfiguration').where({ setting: '2fasettings' }).delete();
      const r = await audit(t, '--format', 'json');
      expect(r.code).toBe(1);
      expect(ids(r.json)).toEqual(['no-admin-module', 'settings-missing']);
      expect(r.json.accounts.admins.unprotected).toBe(1);
    });

    it('unreadable: WHMCS treats it as empty', async () => {
      await setConfigValue(t.knex, '2fasettings', 'a:1:{s:7:"modules";a:1:{');
      const r = await audit(t, '--format', 'json');
      expect(r.code).toBe(1);
      expect(ids(r.json)).toEqual(['no-admin-module', 'settings-unreadable']);
    });
  });
});

describeBackends('audit with more accounts in a finding than it lists', (backend) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb(backend, '8', '8.12.1-release.1');
    await setConfigValue(t.knex, '2fasettings', settings({ totp: on }));
    await insertAdmin(t.knex, { username: 'admin', authmodule: 'totp', authdata: encodeAccountConfig({ secret: SECRET, backupcode: BACKUP }, 'aes', t.ccHash) });
    const rows = Array.from({ length: 150 }, (_, i) => userRow({ email: `u${i}@x.test`, second_factor: '0', second_factor_config: '' }));
    for (let i = 0; i < rows.length; i += 50) await t.knex('tblusers').insert(rows.slice(i, i + 50));
  });
  afterAll(() => t?.drop());

  it('lists 100, counts all, and says so', async () => {
    const r = await audit(t, '--format', 'json', '--fail-on', 'info');
    expect(r.code).toBe(1);
    const f = finding(r.json, 'client-module-zero');
    expect(f).toMatchObject({ count: 150, truncated: true });
    expect(f.accounts).toHaveLength(100);
    expect(f.accounts[99].name).toBe('u99@x.test');
    const table = await audit(t, '--format', 'table');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/Accounts {2}u0@x\.test \(#\d+\), .*u9@x\.test \(#\d+\) and 140 more\n/);
  });
});

describe('audit on the sandbox', () => {
  it('finds what the sandbox was built to show', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'whmcs2fa-audit-')), 'sb');
    expect((await runCli(['sandbox', dir])).code).toBe(0);
    const r = await runCli(['--whmcs-dir', dir, 'audit', '--format', 'json']);
    expect(r.code).toBe(1);
    expect(ids(r.json)).toEqual(['admin-module-not-enabled', 'admin-module-zero', 'admin-no-second-factor', 'client-module-zero', 'clients-not-forced', 'clients-second-factor-skipped', 'disabled-admins-enrolled']);
    expect(names(r.json, 'admin-module-zero')).toEqual(['legacy']);
    expect(names(r.json, 'admin-no-second-factor')).toEqual(['support']);
    expect(names(r.json, 'clients-second-factor-skipped')).toEqual(['dave@example.net', 'erin@example.net']);
  });
});

describe('audit when the database is unreachable', () => {
  const url = 'mysql://nobody@127.0.0.1:1/whmcs';
  it('prometheus: whmcs_2fa_audit_success 0 and the database exit code', async () => {
    const r = await runCli(['--db', url, 'audit', '--format', 'prometheus'], { env: { WHMCS_DB_PASSWORD: 'x' } });
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/^# HELP whmcs_2fa_audit_success .*\n# TYPE whmcs_2fa_audit_success gauge\nwhmcs_2fa_audit_success 0\n/);
    expect(r.stderr).toMatch(/^Error: /);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
  it('nagios: UNKNOWN, exit 3', async () => {
    const r = await runCli(['--db', url, 'audit', '--format', 'nagios'], { env: { WHMCS_DB_PASSWORD: 'x' } });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^WHMCS-2FA UNKNOWN - /);
  });
  it('json: the error object, exit 5', async () => {
    const r = await runCli(['--db', url, 'audit', '--format', 'json'], { env: { WHMCS_DB_PASSWORD: 'x' } });
    expect(r.code).toBe(5);
    expect(r.json.error.exitCode).toBe(5);
  });
});

describe('audit --clock without a usable NTP server', () => {
  let dir: string;
  let server: string;
  beforeAll(async () => {
    dir = join(mkdtempSync(join(tmpdir(), 'whmcs2fa-audit-')), 'sb');
    expect((await runCli(['sandbox', dir])).code).toBe(0);
    const { freeUdpPort } = await import('./helpers/ntp-peers.js');
    server = `127.0.0.1:${await freeUdpPort()}`; // nothing listens there
  });

  it('is a critical clock-totp finding, or a warning with --unknown-if-unreachable', async () => {
    const base = ['--whmcs-dir', dir, 'audit', '--format', 'json', '--clock', '--server', server, '--clock-timeout', '1', '--samples', '1'];
    let r = await runCli(base);
    let f = r.json.findings.find((x: any) => x.id === 'clock-totp');
    expect(f).toMatchObject({ severity: 'critical' });
    expect(r.json.clock).toMatchObject({ status: 2, offset: null });
    r = await runCli([...base, '--unknown-if-unreachable']);
    f = r.json.findings.find((x: any) => x.id === 'clock-totp');
    expect(f).toMatchObject({ severity: 'warning' });
    expect(f.title).toMatch(/^the clock could not be checked: no NTP server gave usable time/);
    expect(r.json.clock).toMatchObject({ status: 3, statusName: 'UNKNOWN' });
    const n = await runCli([...base.slice(0, 3), '--format', 'nagios', ...base.slice(5), '--fail-on', 'none', '--warn-on', 'none']);
    expect(n.code).toBe(0);
    expect(n.stdout.split('\n')[0]).toMatch(/ clock_offset=U;5;15$/);
  });
});
