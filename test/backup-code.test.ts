import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, describeBackends, type Backend, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { describeWithPeer } from './helpers/peers.js';
import { php } from './helpers/php.js';
import { insertAdmin, insertClient, insertUser, linkUserToClient } from '../src/whmcs/schema/seed.js';
import { decodeAccountConfig, encodeAccountConfig } from '../src/whmcs/accounts/account-config.js';
import { aesEncryptConfig } from '../src/whmcs/crypto/aes-config.js';
import { hashBackupCode } from '../src/whmcs/crypto/backup-code-hash.js';
import { phpSerialize } from '../src/whmcs/php/php-serialize.js';
import { verifyBackupCode } from './helpers/whmcs-oracles.js';

const SECRET = 'JBSWY3DPEHPK3PXP';
const OLD_HASH = 'fe5567e8d769550852182cdf69d74bb16dff8e29'; // sha1 of 0123456789abcdef (docs/data-model.md §12)
const CODE_FORMAT = /^[0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4}$/;
const TOKENDATA = Buffer.from(
  'a:6:{s:8:"tokenkey";s:20:"48656c6c6f21deadbeef";s:9:"tokentype";s:4:"TOTP";s:10:"tokentimer";i:30;s:12:"tokencounter";i:1;s:14:"tokenalgorithm";s:4:"SHA1";s:4:"user";s:0:"";}',
).toString('base64');

async function stored(t: TestDb, table: string, id: number): Promise<Record<string, unknown>> {
  return (await t.knex(table).where({ id }).first())!;
}

async function lastActivity(t: TestDb): Promise<Record<string, unknown>> {
  return (await t.knex('tblactivitylog').orderBy('id', 'desc').first())!;
}

const cli = (t: TestDb, ...args: string[]) => runCli(['--whmcs-dir', t.whmcsDir, ...args]);

describeBackends('backup-code', (backend) => {
  describe('WHMCS 8.7 (plain JSON)', () => suite87(backend));
  describe('WHMCS 8.12 (AES)', () => suite812(backend));
  describe('WHMCS 7.8 (serialized)', () => suite7(backend));
});

function suite87(backend: Backend) {
  let t: TestDb;
  let userId: number;
  let duoAdmin: number;
  let bare: number;
  const userRaw = `{"secret":"${SECRET}","backupcode":"${OLD_HASH}","attempts":3,"backup_attempts":2,"zz":"keep/me"}`;
  const duoRaw = '{"backupcode":"8e4c59f8b49b0d0163a73e765e7be2169ac15614","duo_auth_identifier":"email"}';
  beforeAll(async () => {
    t = await createTestDb(backend, '8', '8.7.2-release.1');
    userId = await insertUser(t.knex, { email: 'alice@x.test', second_factor: 'totp', second_factor_config: userRaw });
    await linkUserToClient(t.knex, userId, 77);
    duoAdmin = await insertAdmin(t.knex, { username: 'jdoe', authmodule: 'duosecurity', authdata: duoRaw });
    bare = await insertAdmin(t.knex, { username: 'bare', authmodule: 'yubico', authdata: '' });
    await insertAdmin(t.knex, { username: 'nobody', authmodule: '' });
    await insertAdmin(t.knex, { username: 'zero', authmodule: '0', authdata: `{"secret":"${SECRET}"}` });
  });
  afterAll(() => t?.drop());

  it('prints a code WHMCS accepts; only backupcode changes, counters go, key order and JSON escaping stay; undo restores the bytes', async () => {
    const r = await cli(t, 'backup-code', '--user', 'alice@x.test', '--yes', '--format', 'json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ changed: true, dryRun: false, account: { kind: 'user', id: userId, module: 'totp' } });
    const code: string = r.json.backupCode;
    expect(code).toMatch(CODE_FORMAT);
    const row = await stored(t, 'tblusers', userId);
    expect(row.second_factor).toBe('totp');
    // 8.7 has no AES: written as plain JSON, exactly as PHP's json_encode would.
    expect(row.second_factor_config).toBe(`{"secret":"${SECRET}","backupcode":"${hashBackupCode(code)}","zz":"keep\\/me"}`);
    const cfg = decodeAccountConfig(String(row.second_factor_config), t.ccHash).config;
    expect(verifyBackupCode(code, cfg.backupcode)).toBe(true);
    expect(verifyBackupCode(code.toUpperCase().replace(/ /g, '-'), cfg.backupcode)).toBe(true);
    expect(verifyBackupCode('0123 4567 89ab cdef', cfg.backupcode)).toBe(false); // the old code is gone
    const act = await lastActivity(t);
    expect(act.description).toMatch(/backup code regenerated for user 'alice@x.test' .* - User ID: \d+$/);
    expect(act).toMatchObject({ user_id: userId, userid: 77, admin_id: 0 });

    const u = await cli(t, 'undo', '--yes', '--format', 'json');
    expect(u.code).toBe(0);
    expect((await stored(t, 'tblusers', userId)).second_factor_config).toBe(userRaw);
  });

  it('keeps an admin\'s duo_auth_identifier and appends backupcode where WHMCS puts it when absent', async () => {
    const r = await cli(t, 'backup-code', '--admin', 'jdoe', '--yes', '--format', 'json');
    expect(r.code).toBe(0);
    const raw = String((await stored(t, 'tbladmins', duoAdmin)).authdata);
    expect(raw).toBe(`{"backupcode":"${hashBackupCode(r.json.backupCode)}","duo_auth_identifier":"email"}`);
    const r2 = await cli(t, 'backup-code', '--admin', String(bare), '--yes', '--format', 'json');
    expect(r2.code).toBe(0);
    expect((await stored(t, 'tbladmins', bare)).authdata).toBe(`{"backupcode":"${hashBackupCode(r2.json.backupCode)}"}`);
    expect((await lastActivity(t)).admin_id).toBe(bare);
  });

  it('refuses an account with no second factor (exit 4), module \'0\' included, and writes nothing', async () => {
    for (const name of ['nobody', 'zero']) {
      const before = await t.knex('tbladmins').where({ username: name }).first();
      const r = await cli(t, 'backup-code', '--admin', name, '--yes', '--format', 'json');
      expect(r.code).toBe(4);
      expect(r.json.error.message).toMatch(/nothing to bypass/);
      expect(await t.knex('tbladmins').where({ username: name }).first()).toEqual(before);
    }
  });

  it('--dry-run generates and prints no code and writes nothing', async () => {
    const before = await stored(t, 'tblusers', userId);
    const r = await cli(t, 'backup-code', '--user', String(userId), '--dry-run', '--format', 'json');
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ changed: false, dryRun: true, backupCode: null, journalId: null });
    expect(r.stdout).not.toMatch(/[0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4}/);
    const table = await cli(t, 'backup-code', '--user', String(userId), '--dry-run', '--format', 'table');
    expect(table.stdout).toMatch(/no code is generated in a dry run/);
    expect(await stored(t, 'tblusers', userId)).toEqual(before);
  });

  it('--quiet still prints the code, alone, on stdout', async () => {
    const r = await cli(t, 'backup-code', '--user', 'alice@x.test', '--yes', '--quiet', '--format', 'table');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^[0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4}\n$/);
    const cfg = decodeAccountConfig(String((await stored(t, 'tblusers', userId)).second_factor_config), t.ccHash).config;
    expect(verifyBackupCode(r.stdout.trim(), cfg.backupcode)).toBe(true);
  });

  it('table output shows the code once, and no TTY without --yes is refused', async () => {
    const r = await cli(t, 'backup-code', '--admin', 'jdoe', '--yes', '--format', 'table');
    expect(r.code).toBe(0);
    const codes = r.stdout.match(/[0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4}/g);
    expect(codes).toHaveLength(1);
    const before = await stored(t, 'tbladmins', duoAdmin);
    const refused = await cli(t, 'backup-code', '--admin', 'jdoe', '--format', 'json');
    expect(refused.code).toBe(4);
    expect(await stored(t, 'tbladmins', duoAdmin)).toEqual(before);
  });

  it('--all-admins issues one code per enrolled admin in one journalled change', async () => {
    const r = await cli(t, 'backup-code', '--all-admins', '--yes', '--reason', 'DR drill', '--format', 'json');
    expect(r.code).toBe(0);
    const names = r.json.accounts.map((a: any) => a.name);
    expect(names).toEqual(['jdoe', 'bare']);
    for (const a of r.json.accounts) {
      expect(a.backupCode).toMatch(CODE_FORMAT);
      const cfg = decodeAccountConfig(String((await stored(t, 'tbladmins', a.id)).authdata), t.ccHash).config;
      expect(verifyBackupCode(a.backupCode, cfg.backupcode)).toBe(true);
    }
    expect(new Set(r.json.accounts.map((a: any) => a.backupCode)).size).toBe(2);
    const q = await cli(t, 'backup-code', '--all-admins', '--yes', '-q', '--format', 'table');
    expect(q.stdout.trim().split('\n').map((l) => l.split('\t')[0])).toEqual(['jdoe', 'bare']);
  });

  it('selector errors: none/both → 2, unknown → 3, --client on WHMCS 8 → 2', async () => {
    expect((await cli(t, 'backup-code', '--yes')).code).toBe(2);
    expect((await cli(t, 'backup-code', '--all-admins', '--admin', 'jdoe', '--yes')).code).toBe(2);
    expect((await cli(t, 'backup-code', '--admin', 'ghost', '--yes', '--format', 'json')).code).toBe(3);
    expect((await cli(t, 'backup-code', '--client', '1', '--yes')).code).toBe(2);
  });
}

function suite812(backend: Backend) {
  let t: TestDb;
  let userId: number;
  let adminId: number;
  let foreign: number;
  let userRaw: string;
  beforeAll(async () => {
    t = await createTestDb(backend, '8', '8.12.1-release.1');
    userRaw = aesEncryptConfig(`{"secret":"${SECRET}","backupcode":"${OLD_HASH}","backup_attempts":2}`, t.ccHash);
    userId = await insertUser(t.knex, { email: 'bob@x.test', second_factor: 'totp', second_factor_config: userRaw });
    // A plain-JSON row left from before the upgrade: written back in the database's format (AES).
    adminId = await insertAdmin(t.knex, { username: 'admin', authmodule: 'totp', authdata: `{"secret":"${SECRET}","backupcode":"${OLD_HASH}"}` });
    foreign = await insertUser(t.knex, {
      email: 'moved@x.test',
      second_factor: 'totp',
      second_factor_config: encodeAccountConfig({ secret: SECRET, backupcode: OLD_HASH }, 'aes', 'another-installs-cc-encryption-hash'),
    });
  });
  afterAll(() => t?.drop());

  it('writes AES that decrypts to the same keys with the new code; undo restores the exact hex', async () => {
    const r = await cli(t, 'backup-code', '--user', 'bob@x.test', '--yes', '--format', 'json');
    expect(r.code).toBe(0);
    const raw = String((await stored(t, 'tblusers', userId)).second_factor_config);
    const d = decodeAccountConfig(raw, t.ccHash);
    expect(d.format).toBe('aes');
    expect(d.config).toEqual({ secret: SECRET, backupcode: hashBackupCode(r.json.backupCode) });
    expect(Object.keys(d.config)).toEqual(['secret', 'backupcode']);
    expect(verifyBackupCode(r.json.backupCode, d.config.backupcode)).toBe(true);
    expect((await cli(t, 'undo', '--yes')).code).toBe(0);
    expect((await stored(t, 'tblusers', userId)).second_factor_config).toBe(userRaw);
  });

  it('converts a leftover JSON row to AES on write (the database already uses AES)', async () => {
    const r = await cli(t, 'backup-code', '--admin', 'admin', '--yes', '--format', 'json');
    expect(r.code).toBe(0);
    const raw = String((await stored(t, 'tbladmins', adminId)).authdata);
    expect(raw).toMatch(/^[0-9a-f]+$/);
    expect(decodeAccountConfig(raw, t.ccHash).config).toEqual({ secret: SECRET, backupcode: hashBackupCode(r.json.backupCode) });
  });

  it('refuses a config that does not decrypt with this cc_encryption_hash (exit 6), naming it', async () => {
    const before = await stored(t, 'tblusers', foreign);
    const r = await cli(t, 'backup-code', '--user', 'moved@x.test', '--yes', '--format', 'json');
    expect(r.code).toBe(6);
    expect(r.json.error.message).toMatch(/cc_encryption_hash/);
    expect(await stored(t, 'tblusers', foreign)).toEqual(before);
  });

  it('connected by URL without the hash: refuses with exit 6 instead of guessing', async () => {
    const r = await runCli(['--db', t.url, 'backup-code', '--user', 'bob@x.test', '--yes', '--format', 'json'], { env: { WHMCS_CC_ENCRYPTION_HASH: undefined } });
    expect(r.code).toBe(6);
    expect(r.json.error.message).toMatch(/cc_encryption_hash/);
  });
}

function suite7(backend: Backend) {
  let t: TestDb;
  let clientId: number;
  let adminId: number;
  const clientRaw = `a:2:{s:9:"tokendata";s:${TOKENDATA.length}:"${TOKENDATA}";s:10:"backupcode";s:40:"${OLD_HASH}";}`;
  beforeAll(async () => {
    t = await createTestDb(backend, '7', '7.8.3-release.1');
    clientId = await insertClient(t.knex, { email: 'carol@x.test', authmodule: 'totp', authdata: clientRaw });
    adminId = await insertAdmin(t.knex, { username: 'root7', authmodule: 'totp', authdata: phpSerialize({ tokendata: TOKENDATA }) });
  });
  afterAll(() => t?.drop());

  it('writes PHP-serialized data with the new code in place; undo restores the bytes', async () => {
    const r = await cli(t, 'backup-code', '--client', 'carol@x.test', '--yes', '--format', 'json');
    expect(r.code).toBe(0);
    const raw = String((await stored(t, 'tblclients', clientId)).authdata);
    expect(raw).toBe(`a:2:{s:9:"tokendata";s:${TOKENDATA.length}:"${TOKENDATA}";s:10:"backupcode";s:40:"${hashBackupCode(r.json.backupCode)}";}`);
    expect(verifyBackupCode(r.json.backupCode, decodeAccountConfig(raw, t.ccHash).config.backupcode)).toBe(true);
    const act = await lastActivity(t);
    expect(act).toMatchObject({ userid: clientId });
    expect(act.description).toMatch(/- Client ID: \d+$/);
    expect((await cli(t, 'undo', '--yes')).code).toBe(0);
    expect((await stored(t, 'tblclients', clientId)).authdata).toBe(clientRaw);
  });

  it('an abandoned-looking admin config (tokendata only) gets backupcode appended', async () => {
    const r = await cli(t, 'backup-code', '--admin', 'root7', '--yes', '--format', 'json');
    expect(r.code).toBe(0);
    expect((await stored(t, 'tbladmins', adminId)).authdata).toBe(phpSerialize({ tokendata: TOKENDATA, backupcode: hashBackupCode(r.json.backupCode) }));
  });

  it('--user on WHMCS 7 is a usage error', async () => {
    expect((await cli(t, 'backup-code', '--user', 'carol@x.test', '--yes')).code).toBe(2);
  });
}

// WHMCS's own check, run by PHP: decrypt like phpseclib (AES-256-CBC, key = first 32 hex chars of
// sha256(H), zero IV), trim, json_decode, then verifyBackupCode's strtolower/strip/sha1/==.
describeWithPeer(['php'], 'backup-code accepted by PHP (WHMCS 8.12 verifyBackupCode)', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb('sqlite', '8', '8.12.1-release.1');
    await insertUser(t.knex, { email: 'php@x.test', second_factor: 'totp', second_factor_config: aesEncryptConfig(`{"secret":"${SECRET}"}`, t.ccHash) });
  });
  afterAll(() => t?.drop());

  it('the printed code passes in PHP; a wrong one does not', async () => {
    const r = await cli(t, 'backup-code', '--user', 'php@x.test', '--yes', '--format', 'json');
    expect(r.code).toBe(0);
    const raw = String((await t.knex('tblusers').where({ email: 'php@x.test' }).first()).second_factor_config);
    const check = (input: string) =>
      php(
        `[$raw, $h, $in] = json_decode(stream_get_contents(STDIN), true);
         $key = substr(hash('sha256', $h), 0, 32);
         $plain = openssl_decrypt(hex2bin($raw), 'aes-256-cbc', $key, OPENSSL_RAW_DATA, str_repeat("\\0", 16));
         $cfg = json_decode(trim($plain), true);
         $norm = preg_replace('/[^a-z0-9]/', '', strtolower($in));
         echo json_encode(['ok' => is_array($cfg) && !empty($cfg['backupcode']) && sha1($norm) == $cfg['backupcode'], 'secret' => $cfg['secret'] ?? null]);`,
        JSON.stringify([raw, t.ccHash, input]),
      );
    expect(JSON.parse(check(r.json.backupCode))).toEqual({ ok: true, secret: SECRET });
    expect(JSON.parse(check(r.json.backupCode.toUpperCase()))).toEqual({ ok: true, secret: SECRET });
    expect(JSON.parse(check('0000 0000 0000 0000'))).toEqual({ ok: false, secret: SECRET });
  });
});
