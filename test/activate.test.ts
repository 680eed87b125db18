import { createServer } from 'node:net';
import axios from 'axios';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDb, describeBackends, type Backend, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { php } from './helpers/php.js';
import { optionalPeer } from './helpers/peers.js';
import { startDuoMock, DUO_INVALID_CLIENT, type DuoMock } from './helpers/duo-mock.js';
import { activityCount, lastActivity, phpDecryptDuo, phpView, settingsRow, settingsValue } from './helpers/settings-row.js';
import { FRESH_INSTALL_2FA, insertAdmin, setConfigValue } from '../src/whmcs/schema/seed.js';
import { phpSerialize, phpUnserialize } from '../src/whmcs/php/php-serialize.js';
import { whmcsEncrypt } from '../src/whmcs/crypto/whmcs-encrypt.js';
import { operatorName } from '../src/whmcs/changes/activity-log.js';
import { whmcsDecryptString } from './helpers/whmcs-oracles.js';

/**
 * The program with Duo's transport replaced by a plain-HTTP client aimed at the local stand-in
 * (test/helpers/duo-mock.ts): Duo pins its own CAs, so no local HTTPS server can answer the real
 * client; the product itself reads no test endpoint.
 */
const viaDuoMock = (url: string) => ({ duoHttpClient: axios.create({ baseURL: url }) });

const DUO_ID = 'DIWJ8X6AEYOR5OMC6TQ1';
const DUO_SECRET = 'Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep';
const DUO_SECRET_2 = 'Qq7rTmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ez';
const DUO_HOST = 'api-1a2b3c4d.duosecurity.com';
const YUBI_ID = '85097';
const YUBI_KEY = 'WUxjaXNWdFRHaHVMSGFjWTRSUjU=';

/** A row with a third-party module between the stock ones, and a key WHMCS does not know. */
const WITH_THIRD_PARTY = phpSerialize({
  modules: {
    totp: { clientenabled: 1, adminenabled: 0 },
    acme2fa: { token: 'x', clientenabled: '1', adminenabled: '' },
  },
  forceclient: 0,
  forceadmin: 0,
  acme_extra: 'keep me',
});

const hasPhp = optionalPeer('php', 'the PHP cross-checks in activate.test.ts');

describeBackends('activate', (backend) => {
  describe('WHMCS 8.12', () => suite(backend, '8', '8.12.1-release.1'));
  describe('WHMCS 7.8', () => suite(backend, '7', '7.8.3-release.1'));
});

function suite(backend: Backend, shape: '7' | '8', version: string) {
  let t: TestDb;
  const cli = (args: string[], opts: Parameters<typeof runCli>[1] = {}) => runCli(['--whmcs-dir', t.whmcsDir, ...args], opts);

  beforeAll(async () => {
    t = await createTestDb(backend, shape, version);
    await insertAdmin(t.knex, { username: 'admin', authmodule: 'totp', authdata: '' });
  });
  afterAll(() => t?.drop());

  it('a provisioning script can run `activate totp --yes --format json` twice: changed true, then false', async () => {
    await t.knex('tblconfiguration').where({ setting: '2fasettings' }).delete();
    const first = await cli(['activate', 'totp', '--yes', '--format', 'json', '--reason', 'provisioning']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.json).toMatchObject({ changed: true, dryRun: false, service: 'totp', audiences: ['clients', 'admins'], before: { clients: false, admins: false }, after: { clients: true, admins: true } });
    expect(first.json.journalId).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    // A missing row is created exactly as WHMCS's installer writes it.
    const row = await settingsRow(t.knex);
    expect(row!.value).toBe(FRESH_INSTALL_2FA);
    expect(row!.created_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(row!.updated_at).toBe(row!.created_at);

    const second = await cli(['activate', 'totp', '--yes', '--format', 'json']);
    expect(second.code).toBe(0);
    expect(second.json).toMatchObject({ changed: false, dryRun: false, journalId: null, before: { clients: true, admins: true }, after: { clients: true, admins: true }, diff: [] });
    expect(await settingsValue(t.knex)).toBe(FRESH_INSTALL_2FA);

    const human = await cli(['activate', 'totp', '--yes', '--format', 'table']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('already active');
  });

  it('activating YubiKey keeps a third-party module, unknown keys and key order — byte-identical to what PHP would write', async () => {
    await setConfigValue(t.knex, '2fasettings', WITH_THIRD_PARTY);
    const r = await cli(['activate', 'yubikey', '--admins', '--client-id', YUBI_ID, '--secret-key', '-', '--yes', '--format', 'json'], { input: `${YUBI_KEY}\n` });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ changed: true, service: 'yubico', audiences: ['admins'], before: { clients: false, admins: false }, after: { clients: false, admins: true } });
    const stored = (await settingsValue(t.knex))!;
    const parsed = phpUnserialize(stored) as any;
    expect(Object.keys(parsed)).toEqual(['modules', 'forceclient', 'forceadmin', 'acme_extra']);
    expect(Object.keys(parsed.modules)).toEqual(['totp', 'acme2fa', 'yubico']);
    expect(parsed.modules.yubico).toEqual({ clientid: YUBI_ID, secretkey: YUBI_KEY, clientenabled: 0, adminenabled: 1 });
    expect(parsed.modules.acme2fa).toEqual({ token: 'x', clientenabled: '1', adminenabled: '' });
    expect(r.stdout + r.stderr).not.toContain(YUBI_KEY);
    if (!hasPhp) return;
    // What WHMCS's settings page does on first save: declared fields, then the two int flags.
    const oracle = php(
      `$s = unserialize(stream_get_contents(STDIN));
       $s['modules']['yubico'] = ['clientid' => '${YUBI_ID}', 'secretkey' => '${YUBI_KEY}', 'clientenabled' => (int)(bool)0, 'adminenabled' => (int)(bool)1];
       echo serialize($s);`,
      WITH_THIRD_PARTY,
    );
    expect(stored).toBe(oracle);
    const seen = phpView(stored);
    expect(seen.reserializes).toBe(true);
    expect(seen.value.modules.yubico.adminenabled).toBe(1);
    expect(seen.value.modules.yubico.clientenabled).toBe(0);
  });

  it('Duo: keys stored with encrypt() (ours and PHP decrypt them), hostname plain, secret never printed, re-activation is changed:false', async () => {
    await setConfigValue(t.knex, '2fasettings', WITH_THIRD_PARTY);
    const r = await cli(['activate', 'duo', '--admins', '--client-id', DUO_ID, '--api-hostname', DUO_HOST, '--yes', '--format', 'json'], {
      env: { WHMCS_DUO_CLIENT_SECRET: DUO_SECRET },
    });
    expect(r.stderr).not.toContain('Error');
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ changed: true, service: 'duosecurity', after: { clients: false, admins: true } });
    const diff = Object.fromEntries(r.json.diff.map((d: any) => [d.field, d]));
    expect(diff['Duo Security Client ID']).toEqual({ field: 'Duo Security Client ID', before: '(not set)', after: 'DIW…TQ1' });
    expect(diff['Duo Security Client Secret'].after).toBe('••••');
    expect(diff['Duo Security for admins']).toMatchObject({ before: 'off', after: 'on' });
    expect(r.stdout + r.stderr).not.toContain(DUO_SECRET);

    const stored = (await settingsValue(t.knex))!;
    expect(stored).not.toContain(DUO_SECRET);
    expect(stored).not.toContain(DUO_ID);
    const duo = (phpUnserialize(stored) as any).modules.duosecurity;
    expect(Object.keys(duo)).toEqual(['integrationKey', 'secretKey', 'apiHostname', 'clientenabled', 'adminenabled']);
    expect(duo.integrationKey).toHaveLength(56);
    expect(duo.secretKey).toHaveLength(80);
    expect(whmcsDecryptString(duo.integrationKey, t.ccHash)).toBe(DUO_ID);
    expect(whmcsDecryptString(duo.secretKey, t.ccHash)).toBe(DUO_SECRET);
    expect(duo.apiHostname).toBe(DUO_HOST);
    if (hasPhp) {
      expect(phpDecryptDuo(stored, t.ccHash)).toEqual({ integrationKey: DUO_ID, secretKey: DUO_SECRET, apiHostname: DUO_HOST });
      expect(phpView(stored).reserializes).toBe(true);
    }

    // Same credentials again (new random IVs would give new ciphertexts): compared decrypted → no change.
    const again = await cli(['activate', 'duo', '--admins', '--client-id', DUO_ID, '--api-hostname', DUO_HOST, '--client-secret', '-', '--yes', '--format', 'json'], {
      input: DUO_SECRET + '\n',
    });
    expect(again.code).toBe(0);
    expect(again.json.changed).toBe(false);
    expect(await settingsValue(t.knex)).toBe(stored);

    // Flags only: the stored keys are kept, their ciphertexts untouched.
    const clients = await cli(['activate', 'duo', '--clients', '--yes', '--format', 'json']);
    expect(clients.code).toBe(0);
    expect(clients.json).toMatchObject({ changed: true, before: { clients: false, admins: true }, after: { clients: true, admins: true } });
    expect(clients.json.diff).toEqual([{ field: 'Duo Security for clients', before: 'off', after: 'on' }]);
    const after = (phpUnserialize((await settingsValue(t.knex))!) as any).modules.duosecurity;
    expect(after).toEqual({ ...duo, clientenabled: 1 });

    // A new secret only: re-encrypted; the Client ID ciphertext stays.
    const rotate = await cli(['activate', 'duo', '--yes', '--format', 'json'], { env: { WHMCS_DUO_CLIENT_SECRET: DUO_SECRET_2 } });
    expect(rotate.code).toBe(0);
    expect(rotate.json.diff).toEqual([{ field: 'Duo Security Client Secret', before: '••••', after: '••••' }]);
    const rotated = (phpUnserialize((await settingsValue(t.knex))!) as any).modules.duosecurity;
    expect(rotated.integrationKey).toBe(duo.integrationKey);
    expect(whmcsDecryptString(rotated.secretKey, t.ccHash)).toBe(DUO_SECRET_2);
    expect(rotate.stdout + rotate.stderr).not.toContain(DUO_SECRET_2);

    const shown = await cli(['--show-secrets', 'activate', 'duo', '--dry-run', '--format', 'json'], { env: { WHMCS_DUO_CLIENT_SECRET: DUO_SECRET } });
    expect(shown.code).toBe(0);
    expect(shown.json.diff).toEqual([{ field: 'Duo Security Client Secret', before: DUO_SECRET_2, after: DUO_SECRET }]);
  });

  it('Duo keys that do not decrypt (wrong cc_encryption_hash) refuse with exit 6 unless new ones are given', async () => {
    await setConfigValue(
      t.knex,
      '2fasettings',
      phpSerialize({
        modules: { duosecurity: { integrationKey: whmcsEncrypt(DUO_ID, 'another-hash'), secretKey: whmcsEncrypt(DUO_SECRET, 'another-hash'), apiHostname: DUO_HOST, clientenabled: 0, adminenabled: 0 } },
        forceclient: 0,
        forceadmin: 0,
      }),
    );
    const before = await settingsValue(t.knex);
    const r = await cli(['activate', 'duo', '--yes', '--format', 'json']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/Client ID and Client Secret do not decrypt .*cc_encryption_hash.*--client-id and --client-secret/);
    expect(await settingsValue(t.knex)).toBe(before);

    const fresh = await cli(['activate', 'duo', '--client-id', DUO_ID, '--yes', '--format', 'json'], { env: { WHMCS_DUO_CLIENT_SECRET: DUO_SECRET } });
    expect(fresh.code).toBe(0);
    expect(fresh.json.changed).toBe(true);
    expect(fresh.json.warnings.join('\n')).toMatch(/did not decrypt with this cc_encryption_hash/);
    expect(fresh.json.diff.find((d: any) => d.field === 'Duo Security Client Secret')).toEqual({ field: 'Duo Security Client Secret', before: '(undecryptable)', after: '••••' });
    const duo = (phpUnserialize((await settingsValue(t.knex))!) as any).modules.duosecurity;
    expect(whmcsDecryptString(duo.secretKey, t.ccHash)).toBe(DUO_SECRET);
  });

  it('Duo credentials are validated before anything is written (exit 2)', async () => {
    await setConfigValue(t.knex, '2fasettings', FRESH_INSTALL_2FA);
    const before = await settingsValue(t.knex);
    const short = await cli(['activate', 'duo', '--client-id', DUO_ID.slice(1), '--api-hostname', 'admin-1a2b3c4d.duosecurity.com', '--yes'], { env: { WHMCS_DUO_CLIENT_SECRET: DUO_SECRET } });
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/exactly 20 characters, got 19/);
    expect(short.stderr).toMatch(/does not look like api-XXXXXXXX/);
    const missing = await cli(['activate', 'duo', '--client-id', DUO_ID, '--yes']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/not configured yet: give --client-secret, --api-hostname/);
    const wrongFlag = await cli(['activate', 'totp', '--client-secret', 'x', '--yes']);
    expect(wrongFlag.code).toBe(2);
    expect(await settingsValue(t.knex)).toBe(before);
  });

  it('an unknown service is a usage error listing the valid names', async () => {
    const r = await cli(['activate', 'sms', '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown service "sms" — use one of: totp.*duo\/duosecurity.*yubico\/yubikey/);
  });

  it('no TTY and no --yes: exit 4, nothing written; --dry-run: the difference, nothing written', async () => {
    await setConfigValue(t.knex, '2fasettings', WITH_THIRD_PARTY);
    const row = await settingsRow(t.knex);
    const logs = await activityCount(t.knex);
    const refused = await cli(['activate', 'duo', '--client-id', DUO_ID, '--api-hostname', DUO_HOST], { env: { WHMCS_DUO_CLIENT_SECRET: DUO_SECRET } });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/--yes/);
    expect(await settingsRow(t.knex)).toEqual(row);
    expect(await activityCount(t.knex)).toBe(logs);

    const dry = await cli(['--dry-run', 'activate', 'duo', '--client-id', DUO_ID, '--api-hostname', DUO_HOST, '--format', 'table'], { env: { WHMCS_DUO_CLIENT_SECRET: DUO_SECRET } });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('Would change');
    expect(dry.stdout).toContain('Duo Security Client ID: (not set) → DIW…TQ1');
    expect(dry.stdout).toContain('Duo Security Client Secret: (not set) → ••••');
    expect(dry.stdout).toContain('Duo Security for clients: off → on');
    expect(dry.stdout + dry.stderr).not.toContain(DUO_SECRET);
    const dryJson = await cli(['activate', 'totp', '--admins', '--dry-run', '--format', 'json']);
    expect(dryJson.json).toMatchObject({ changed: false, dryRun: true, journalId: null, after: { clients: true, admins: true } });
    expect(await settingsRow(t.knex)).toEqual(row);
    expect(await activityCount(t.knex)).toBe(logs);
  });

  it('writes an activity-log row naming the change, the tool, the OS user and the reason', async () => {
    await setConfigValue(t.knex, '2fasettings', WITH_THIRD_PARTY);
    const n = await activityCount(t.knex);
    const r = await cli(['activate', 'totp', '--admins', '--yes', '--format', 'json', '--reason', 'ticket #4711']);
    expect(r.code).toBe(0);
    expect(await activityCount(t.knex)).toBe(n + 1);
    const log = await lastActivity(t.knex);
    expect(log.description).toBe(
      `Two-Factor Authentication: Time-Based Tokens (totp) activated for admins by whmcs-2fa CLI (OS user ${operatorName()}) - Reason: ticket #4711`,
    );
    expect(log.user).toBe('System');
    expect(Number(log.userid)).toBe(0);
    if (shape === '8') expect(Number(log.admin_id)).toBe(0);
    else expect(log).not.toHaveProperty('admin_id');
    const list = await cli(['undo', '--list', '--format', 'json']);
    const entry = list.json.entries.find((e: any) => e.id === r.json.journalId);
    expect(entry).toMatchObject({ command: 'activate totp', reason: 'ticket #4711', committed: true, operator: operatorName() });
  });

  it('an unreadable 2fasettings row is refused (exit 1) unless --force, which rebuilds it keeping what it holds', async () => {
    const broken = 'a:2:{s:7:"modules";a:1:{s:6:"yubico";a:1:{s:8:"clientid";s:5:"12345";}}s:10:"forceadmin";i:1;';
    await setConfigValue(t.knex, '2fasettings', broken);
    const r = await cli(['activate', 'totp', '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot be read .*WHMCS currently sees no two-factor settings.*--force/);
    expect(await settingsValue(t.knex)).toBe(broken);
    const forced = await cli(['activate', 'totp', '--yes', '--force', '--format', 'json']);
    expect(forced.code).toBe(0);
    expect(forced.json.diff[0]).toEqual({
      field: '2fasettings',
      before: `unreadable (${broken.length} bytes)`,
      after: 'rebuilt keeping all it holds (modules yubico; repaired: (top level): the value ends early (truncated?); the entries before the cut are kept)',
    });
    expect(await settingsValue(t.knex)).toBe(
      'a:2:{s:7:"modules";a:2:{s:6:"yubico";a:1:{s:8:"clientid";s:5:"12345";}s:4:"totp";a:2:{s:13:"clientenabled";i:1;s:12:"adminenabled";i:1;}}s:10:"forceadmin";i:1;}',
    );
    const undo = await cli(['undo', forced.json.journalId, '--yes', '--format', 'json']);
    expect(undo.code).toBe(0);
    expect(await settingsValue(t.knex)).toBe(broken);
  });

  describe('Duo --check against a local Duo', () => {
    let mock: DuoMock;
    beforeAll(async () => {
      mock = await startDuoMock({ clientId: DUO_ID, clientSecret: DUO_SECRET, apiHost: DUO_HOST });
    });
    afterAll(() => mock?.close());
    beforeEach(async () => {
      mock.setHandler((req) => (req.assertionProblem === null ? { status: 200, body: { stat: 'OK', response: { timestamp: Math.floor(Date.now() / 1000) } } } : { status: 400, body: DUO_INVALID_CLIENT }));
      await setConfigValue(t.knex, '2fasettings', FRESH_INSTALL_2FA);
    });
    const args = ['activate', 'duo', '--admins', '--client-id', DUO_ID, '--api-hostname', DUO_HOST, '--check', '--yes', '--format', 'json'];

    it('healthy: reports the answer and writes', async () => {
      const r = await cli(args, { env: { WHMCS_DUO_CLIENT_SECRET: DUO_SECRET }, deps: viaDuoMock(mock.url) });
      expect(r.stderr).not.toContain('Error');
      expect(r.code).toBe(0);
      expect(r.json.check).toMatchObject({ kind: 'duo-health-check', ok: true, status: 'ok' });
      expect(r.json.check.message).toMatch(/accepted the Client ID and Client Secret/);
      expect(r.json.changed).toBe(true);
      expect(mock.requests.at(-1)!.assertionProblem).toBeNull();
      expect(r.stdout + r.stderr).not.toContain(DUO_SECRET);
    });

    it('a wrong secret (401): exit 4, the reason, nothing written', async () => {
      mock.setHandler(() => ({ status: 401, body: DUO_INVALID_CLIENT }));
      const r = await cli(args, { env: { WHMCS_DUO_CLIENT_SECRET: DUO_SECRET_2 }, deps: viaDuoMock(mock.url) });
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/Duo health check failed: Duo rejected the Client ID\/Client Secret.*nothing was written/);
      expect(r.stdout + r.stderr).not.toContain(DUO_SECRET_2);
      expect(await settingsValue(t.knex)).toBe(FRESH_INSTALL_2FA);
    });

    it('unreachable: a clear message, not a stack trace; exit 4 and nothing written', async () => {
      const port = await closedPort();
      const r = await cli(args, { env: { WHMCS_DUO_CLIENT_SECRET: DUO_SECRET }, deps: viaDuoMock(`http://127.0.0.1:${port}`) });
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/cannot reach Duo at api-1a2b3c4d\.duosecurity\.com: connection refused/);
      expect(r.stderr).not.toMatch(/\bat .*:\d+:\d+/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(await settingsValue(t.knex)).toBe(FRESH_INSTALL_2FA);
    });
  });
}

describeBackends('activate duo on WHMCS 8.7', (backend) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb(backend, '8', '8.7.2-release.1');
  });
  afterAll(() => t?.drop());

  it('warns that the old Duo prompt stopped working on 2024-03-30', async () => {
    const r = await runCli(['--whmcs-dir', t.whmcsDir, 'activate', 'duo', '--admins', '--client-id', DUO_ID, '--api-hostname', DUO_HOST, '--yes', '--format', 'json'], {
      env: { WHMCS_DUO_CLIENT_SECRET: DUO_SECRET },
    });
    expect(r.code).toBe(0);
    expect(r.json.changed).toBe(true);
    expect(r.json.warnings.join('\n')).toMatch(/WHMCS 8\.7\.2-release\.1 uses Duo's old iframe prompt, which stopped working on 2024-03-30/);
    expect(r.stderr).toMatch(/Warning: .*2024-03-30/);
  });
});

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}
