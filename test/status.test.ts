import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, describeBackends, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { insertAdmin, insertUser, insertClient, setConfigValue } from '../src/whmcs/schema/seed.js';
import { phpSerialize } from '../src/whmcs/php/php-serialize.js';
import { whmcsEncrypt } from '../src/whmcs/crypto/whmcs-encrypt.js';
import { encodeAccountConfig } from '../src/whmcs/accounts/account-config.js';

const DUO_ID = 'DIABCDEFGHIJKLMNOPQR';
const DUO_SECRET = 's3cr3tK3yW1thM0reThan20Bytess3cr3tK3yW1x'; // 40 chars

describeBackends('status', (backend) => {
  describe('WHMCS 8.12', () => describe8(backend));
  describe('WHMCS 7.8', () => describe7(backend));
});

function describe8(backend: 'mysql' | 'sqlite') {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb(backend, '8', '8.12.1-release.1');
    const H = t.ccHash;
    await setConfigValue(
      t.knex,
      '2fasettings',
      phpSerialize({
        modules: {
          totp: { clientenabled: 1, adminenabled: 1 },
          duosecurity: {
            integrationKey: whmcsEncrypt(DUO_ID, H),
            secretKey: whmcsEncrypt(DUO_SECRET, H),
            apiHostname: 'api-12345678.duosecurity.com',
            clientenabled: 0,
            adminenabled: 1,
          },
          acme2fa: { clientenabled: '1', adminenabled: '', token: 'x' },
        },
        forceclient: 0,
        forceadmin: 1,
      }),
    );
    await insertAdmin(t.knex, { username: 'admin', authmodule: 'totp', authdata: encodeAccountConfig({ secret: 'JBSWY3DPEHPK3PXP', backupcode: 'x' }, 'aes', H) });
    await insertAdmin(t.knex, { username: 'jdoe', authmodule: 'duosecurity', authdata: '{"backupcode":"a"}' });
    await insertAdmin(t.knex, { username: 'legacy', authmodule: '0', authdata: '{"secret":"JBSWY3DPEHPK3PXP"}' });
    await insertAdmin(t.knex, { username: 'off', authmodule: 'totp', authdata: '', disabled: 1 });
    await insertUser(t.knex, { email: 'a@x.test', second_factor: 'totp', second_factor_config: '{"secret":"JBSWY3DPEHPK3PXP"}' });
    await insertUser(t.knex, { email: 'b@x.test', second_factor: 'duosecurity', second_factor_config: '' });
    await insertUser(t.knex, { email: 'c@x.test', second_factor: 'duosecurity', second_factor_config: '' });
    await insertUser(t.knex, { email: 'd@x.test' });
  });
  afterAll(() => t?.drop());

  it('reports modules, flags, counts and warnings as JSON (8.12)', async () => {
    const r = await runCli(['--whmcs-dir', t.whmcsDir, 'status', '--format', 'json']);
    expect(r.stderr).not.toContain('Error');
    expect(r.code).toBe(0);
    const j = r.json;
    expect(j.whmcs).toEqual({ version: '8.12.1-release.1', shape: '8', accountConfigFormat: 'aes' });
    expect(j.force).toEqual({ clients: false, admins: true });
    const byName = Object.fromEntries(j.modules.map((m: any) => [m.name, m]));
    expect(byName.totp.enabled).toEqual({ clients: true, admins: true });
    expect(byName.totp.enrolled).toEqual({ admins: 2, users: 1 });
    expect(byName.duosecurity.enabled).toEqual({ clients: false, admins: true });
    expect(byName.duosecurity.enrolled).toEqual({ admins: 1, users: 2 });
    expect(byName.acme2fa.known).toBe(false);
    expect(byName.acme2fa.enabled).toEqual({ clients: true, admins: false });
    const duoSettings = Object.fromEntries(byName.duosecurity.settings.map((s: any) => [s.key, s.value]));
    expect(duoSettings.integrationKey).toBe('DIA…PQR');
    expect(duoSettings.secretKey).toBe('••••');
    expect(duoSettings.apiHostname).toBe('api-12345678.duosecurity.com');
    expect(j.accounts.admins).toEqual({ total: 4, enrolled: 3, activeEnrolled: 2, zeroModule: 1 });
    expect(j.accounts.users).toEqual({ total: 4, enrolled: 3, activeEnrolled: 3, zeroModule: 0 });
    const w = j.warnings.join('\n');
    expect(w).toMatch(/2 users enrolled in Duo Security, which is not enabled for clients: WHMCS 8 lets them log in WITHOUT/);
    expect(w).toMatch(/1 admin row with module '0'/);
    expect(r.stdout).not.toContain(DUO_SECRET);
    expect(r.stdout).not.toContain(t.ccHash);
  });

  it('--show-secrets prints the Duo keys decrypted exactly', async () => {
    const r = await runCli(['--db', t.url, '--show-secrets', 'status', '--format', 'json'], { env: { WHMCS_CC_ENCRYPTION_HASH: t.ccHash } });
    expect(r.code).toBe(0);
    const duo = r.json.modules.find((m: any) => m.name === 'duosecurity');
    const v = Object.fromEntries(duo.settings.map((s: any) => [s.key, s.value]));
    expect(v).toMatchObject({ integrationKey: DUO_ID, secretKey: DUO_SECRET });
    expect(r.json.warnings.join('\n')).not.toMatch(/Client (ID|Secret)/);
  });

  it('a wrong cc_encryption_hash is reported on the Duo keys', async () => {
    const r = await runCli(['--db', t.url, 'status', '--format', 'json'], { env: { WHMCS_CC_ENCRYPTION_HASH: 'not-the-right-hash' } });
    expect(r.code).toBe(0);
    expect(r.json.warnings.join('\n')).toMatch(/cc_encryption_hash/);
  });

  it('human table output names modules and warnings', async () => {
    const r = await runCli(['--whmcs-dir', t.whmcsDir, 'status', '--format', 'table']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Time-Based Tokens (totp)');
    expect(r.stdout).toContain('acme2fa (third-party)');
    expect(r.stderr).toContain('Warning:');
  });
}

function describe7(backend: 'mysql' | 'sqlite') {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb(backend, '7', '7.8.3-release.1');
    await insertAdmin(t.knex, { username: 'admin', authmodule: 'totp', authdata: phpSerialize({ tokendata: 'eA==', backupcode: 'x' }) });
    await insertClient(t.knex, { email: 'c1@x.test', authmodule: 'totp', authdata: phpSerialize({ tokendata: 'eA==' }) });
    await insertClient(t.knex, { email: 'c2@x.test' });
  });
  afterAll(() => t?.drop());

  it('reads a 7.x database (clients in tblclients)', async () => {
    const r = await runCli(['--whmcs-dir', t.whmcsDir, 'status', '--format', 'json']);
    expect(r.code).toBe(0);
    expect(r.json.whmcs).toEqual({ version: '7.8.3-release.1', shape: '7', accountConfigFormat: 'serialized' });
    expect(r.json.accounts.clients).toMatchObject({ total: 2, enrolled: 1 });
    expect(r.json.modules[0]).toMatchObject({ name: 'totp', enrolled: { admins: 1, clients: 1 } });
  });

  it('an unparseable 2fasettings row is a warning, not a crash', async () => {
    await setConfigValue(t.knex, '2fasettings', 'a:1:{s:7:"modules";a:1:{');
    const r = await runCli(['--whmcs-dir', t.whmcsDir, 'status', '--format', 'json']);
    expect(r.code).toBe(0);
    expect(r.json.settings.readable).toBe(false);
    expect(r.json.warnings.join('\n')).toMatch(/cannot be read/);
  });
}
