import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, describeBackends, type Backend, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { insertAdmin, insertClient, insertUser, linkUserToClient } from '../src/whmcs/schema/seed.js';
import { aesEncryptConfig } from '../src/whmcs/crypto/aes-config.js';
import { encodeAccountConfig } from '../src/whmcs/accounts/account-config.js';
import { phpSerialize } from '../src/whmcs/php/php-serialize.js';
import { LIST_PAGE } from '../src/whmcs/accounts/accounts-list.js';

const SECRET = 'JBSWY3DPEHPK3PXP';
const cli = (t: TestDb, ...args: string[]) => runCli(['--whmcs-dir', t.whmcsDir, ...args]);

describeBackends('accounts', (backend) => {
  describe('WHMCS 8.12', () => suite8(backend));
  describe('WHMCS 7.8', () => suite7(backend));
});

function suite8(backend: Backend) {
  let t: TestDb;
  const ids: Record<string, number> = {};
  beforeAll(async () => {
    t = await createTestDb(backend, '8', '8.12.1-release.1');
    const H = t.ccHash;
    ids.root = await insertAdmin(t.knex, { username: 'root', roleid: 1, authmodule: 'totp', authdata: aesEncryptConfig(`{"secret":"${SECRET}","backupcode":"abc"}`, H) });
    ids.sales = await insertAdmin(t.knex, { username: 'sales', roleid: 2, authmodule: 'duosecurity', authdata: '{"duo_auth_identifier":"email"}', disabled: 1 });
    ids.legacy = await insertAdmin(t.knex, { username: 'legacy', roleid: 3, authmodule: '0', authdata: `{"secret":"${SECRET}","backupcode":"x"}` });
    ids.orphan = await insertAdmin(t.knex, { username: 'orphan', roleid: 9 });
    ids.alice = await insertUser(t.knex, { email: 'alice@x.test', second_factor: 'totp', second_factor_config: `{"secret":"${SECRET}","backupcode":"b"}` });
    ids.bob = await insertUser(t.knex, {
      email: 'bob@x.test',
      second_factor: 'duosecurity',
      second_factor_config: encodeAccountConfig({ backupcode: 'c' }, 'aes', 'some-other-installs-hash'),
    });
    ids.carol = await insertUser(t.knex, { email: 'carol@x.test', second_factor_config: null });
    ids.dave = await insertUser(t.knex, { email: 'dave@x.test', second_factor: 'yubico', second_factor_config: 'garbage{' });
    await linkUserToClient(t.knex, ids.alice, 30, true);
    await linkUserToClient(t.knex, ids.alice, 5, false);
    await linkUserToClient(t.knex, ids.alice, 12, false);
    await linkUserToClient(t.knex, ids.bob, 5, true);
  });
  afterAll(() => t?.drop());

  it('no flag: admins and users with role, clients, module, backup code and problems', async () => {
    const r = await cli(t, 'accounts', '--format', 'json');
    expect(r.code).toBe(0);
    expect(Object.keys(r.json)).toEqual(['admins', 'users']);
    expect(r.json.admins).toEqual([
      { id: ids.root, username: 'root', email: 'root@example.com', roleId: 1, role: 'Full Administrator', disabled: false, module: 'totp', enrolled: true, configFormat: 'aes', backupCode: true, flags: [] },
      { id: ids.sales, username: 'sales', email: 'sales@example.com', roleId: 2, role: 'Sales Operator', disabled: true, module: 'duosecurity', enrolled: true, configFormat: 'json', backupCode: false, flags: [] },
      { id: ids.legacy, username: 'legacy', email: 'legacy@example.com', roleId: 3, role: 'Support Operator', disabled: false, module: '0', enrolled: false, configFormat: 'json', backupCode: true, flags: ['module-zero'] },
      { id: ids.orphan, username: 'orphan', email: 'orphan@example.com', roleId: 9, role: null, disabled: false, module: '', enrolled: false, configFormat: 'empty', backupCode: false, flags: [] },
    ]);
    const users = Object.fromEntries(r.json.users.map((u: any) => [u.email, u]));
    expect(users['alice@x.test']).toEqual({ id: ids.alice, email: 'alice@x.test', module: 'totp', enrolled: true, configFormat: 'json', backupCode: true, flags: [], clientIds: [5, 12, 30], ownedClientIds: [30] });
    expect(users['bob@x.test']).toMatchObject({ configFormat: 'undecryptable', backupCode: null, flags: ['undecryptable'], clientIds: [5], ownedClientIds: [5] });
    expect(users['carol@x.test']).toMatchObject({ module: '', enrolled: false, configFormat: 'empty', backupCode: false, clientIds: [], ownedClientIds: [] });
    expect(users['dave@x.test']).toMatchObject({ configFormat: 'unreadable', backupCode: null, flags: ['unreadable'] });
    const w = r.stderr;
    expect(w).toMatch(/1 account with module '0'/);
    expect(w).toMatch(/1 account whose second-factor data does not decrypt/);
    expect(w).toMatch(/neither AES, JSON nor PHP-serialized/);
  });

  it('filters: --admins/--users, --module alias, --module none, --enrolled, --not-enrolled', async () => {
    const names = async (...args: string[]) => {
      const r = await cli(t, 'accounts', '--format', 'json', ...args);
      expect(r.code).toBe(0);
      return [...(r.json.admins ?? []).map((a: any) => a.username), ...(r.json.users ?? []).map((u: any) => u.email)];
    };
    expect(await names('--admins')).toEqual(['root', 'sales', 'legacy', 'orphan']);
    expect(await names('--module', 'duo')).toEqual(['sales', 'bob@x.test']);
    expect(await names('--module', 'YubiKey', '--users')).toEqual(['dave@x.test']);
    expect(await names('--module', 'none', '--admins')).toEqual(['legacy', 'orphan']);
    expect(await names('--enrolled')).toEqual(['root', 'sales', 'alice@x.test', 'bob@x.test', 'dave@x.test']);
    expect(await names('--not-enrolled', '--users')).toEqual(['carol@x.test']);
    const none = await cli(t, 'accounts', '--users', '--module', 'webauthn', '--format', 'json');
    expect(none.stdout).toBe('{\n  "users": []\n}\n');
  });

  it('one account by selector; ambiguous/unknown → exit 3; bad flag combinations → exit 2', async () => {
    const r = await cli(t, 'accounts', '--user', String(ids.alice), '--format', 'json');
    expect(r.code).toBe(0);
    expect(r.json).toEqual({ users: [expect.objectContaining({ id: ids.alice, clientIds: [5, 12, 30] })] });
    expect((await cli(t, 'accounts', '--admin', 'nobody', '--format', 'json')).code).toBe(3);
    expect((await cli(t, 'accounts', '--clients')).code).toBe(2);
    expect((await cli(t, 'accounts', '--admins', '--users')).code).toBe(2);
    expect((await cli(t, 'accounts', '--enrolled', '--not-enrolled')).code).toBe(2);
    expect((await cli(t, 'accounts', '--module', 'no such!')).code).toBe(2);
  });

  it('csv: one row per account with a kind column; table names roles and marks problems', async () => {
    const csv = await cli(t, 'accounts', '--format', 'csv');
    expect(csv.code).toBe(0);
    const lines = csv.stdout.trim().split('\r\n');
    expect(lines[0]).toBe('kind,id,name,email,role,disabled,status,clientIds,module,enrolled,backupCode,configFormat,flags');
    expect(lines).toHaveLength(1 + 4 + 4);
    expect(lines).toContain(`user,${ids.alice},alice@x.test,alice@x.test,,,,5 12 30,totp,true,true,json,`);
    expect(lines).toContain(`admin,${ids.legacy},legacy,legacy@example.com,Support Operator,false,,,0,false,true,json,module-zero`);
    const yaml = await cli(t, 'accounts', '--format', 'yaml', '--admins');
    expect(yaml.code).toBe(0);
    expect(yaml.stdout).toMatch(/username: root/);
    const table = await cli(t, 'accounts', '--format', 'table');
    expect(table.stdout).toMatch(/Admins \(4\)/);
    expect(table.stdout).toMatch(/Sales Operator/);
    expect(table.stdout).toMatch(/'0' \(off\)/);
  });

  it('without cc_encryption_hash AES rows are "unknown", not misreported', async () => {
    const r = await runCli(['--db', t.url, 'accounts', '--admins', '--format', 'json'], { env: { WHMCS_CC_ENCRYPTION_HASH: undefined } });
    expect(r.code).toBe(0);
    expect(r.json.admins[0]).toMatchObject({ username: 'root', configFormat: 'unknown', backupCode: null, flags: ['needs-cc-hash'] });
    expect(r.stderr).toMatch(/cc_encryption_hash/);
  });
}

function suite7(backend: Backend) {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb(backend, '7', '7.8.3-release.1');
    await insertAdmin(t.knex, { username: 'admin', authmodule: 'totp', authdata: phpSerialize({ tokendata: 'eA==', backupcode: 'x' }) });
    await insertClient(t.knex, { email: 'c1@x.test', authmodule: 'totp', authdata: phpSerialize({ tokendata: 'eA==' }), status: 'Closed' });
    await insertClient(t.knex, { email: 'c2@x.test' });
  });
  afterAll(() => t?.drop());

  it('no flag on 7.x: admins and clients (tblclients) with status', async () => {
    const r = await cli(t, 'accounts', '--format', 'json');
    expect(r.code).toBe(0);
    expect(Object.keys(r.json)).toEqual(['admins', 'clients']);
    expect(r.json.admins[0]).toMatchObject({ username: 'admin', configFormat: 'serialized', backupCode: true });
    expect(r.json.clients).toEqual([
      expect.objectContaining({ email: 'c1@x.test', status: 'Closed', module: 'totp', enrolled: true, configFormat: 'serialized', backupCode: false }),
      expect.objectContaining({ email: 'c2@x.test', status: 'Active', module: '', enrolled: false, backupCode: false }),
    ]);
    expect((await cli(t, 'accounts', '--users')).code).toBe(2);
  });
}

// Keyset paging: more rows than one page, read in id order without gaps or repeats.
describeBackends(
  'accounts paging',
  (backend) => {
    let t: TestDb;
    const N = LIST_PAGE * 2 + 7;
    beforeAll(async () => {
      t = await createTestDb(backend, '8', '8.7.2-release.1');
      const rows = Array.from({ length: N }, (_, i) => ({
        email: `p${i}@x.test`,
        second_factor: i % 3 === 0 ? 'totp' : '',
        second_factor_config: i % 3 === 0 ? `{"secret":"${SECRET}","backupcode":"b${i}"}` : null,
        first_name: '', last_name: '', password: '', language: '',
      }));
      for (let i = 0; i < rows.length; i += 200) await t.knex('tblusers').insert(rows.slice(i, i + 200));
      const ids = await t.knex('tblusers').orderBy('id').limit(5).pluck('id');
      await t.knex('tblusers_clients').insert(ids.map((id: number, i: number) => ({ auth_user_id: id, client_id: 100 + i, owner: 1, invite_id: 0 })));
      // Far more links than MySQL's default GROUP_CONCAT length (1024 bytes) holds. MariaDB's
      // default is 1 MiB, so this bites on MySQL servers (WHMCS_TEST_MYSQL_URL) — and on WHMCS hosts.
      const many = Array.from({ length: 400 }, (_, i) => ({ auth_user_id: ids[0], client_id: 1_000_000 + i, owner: 0, invite_id: 0 }));
      await t.knex('tblusers_clients').insert(many);
    });
    afterAll(() => t?.drop());

    it(`lists all ${N} users across pages, in id order`, async () => {
      const r = await cli(t, 'accounts', '--users', '--format', 'json');
      expect(r.code).toBe(0);
      expect(r.json.users).toHaveLength(N);
      const got = r.json.users.map((u: any) => u.id);
      expect(got).toEqual([...got].sort((a: number, b: number) => a - b));
      expect(new Set(got).size).toBe(N);
      expect(r.json.users.filter((u: any) => u.backupCode).length).toBe(Math.ceil(N / 3));
      expect(r.json.users[4].clientIds).toEqual([104]);
      expect(r.json.users[0].clientIds).toEqual([100, ...Array.from({ length: 400 }, (_, i) => 1_000_000 + i)]);
      expect(r.json.users[0].ownedClientIds).toEqual([100]);
      // Written page by page, yet exactly what JSON.stringify of the whole listing gives.
      expect(r.stdout).toBe(JSON.stringify(r.json, null, 2) + '\n');
      const e = await cli(t, 'accounts', '--users', '--enrolled', '--format', 'json');
      expect(e.json.users).toHaveLength(Math.ceil(N / 3));
      // Links of users a filter leaves out do not end up on the users it lists.
      expect(e.json.users[0].clientIds).toEqual(r.json.users[0].clientIds);
      expect(e.json.users[1]).toMatchObject({ id: r.json.users[3].id, clientIds: [103], ownedClientIds: [103] });
      expect(e.json.users[2]).toMatchObject({ id: r.json.users[6].id, clientIds: [], ownedClientIds: [] });
      const one = await cli(t, 'accounts', '--user', String(r.json.users[4].id), '--format', 'json');
      expect(one.json.users).toEqual([r.json.users[4]]);
    });
  },
);
