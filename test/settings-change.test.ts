import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDb, describeBackends, type Backend, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { php } from './helpers/php.js';
import { optionalPeer } from './helpers/peers.js';
import { activityCount, lastActivity, phpView, settingsRow, settingsValue } from './helpers/settings-row.js';
import { insertAdmin, insertClient, insertUser, setConfigValue } from '../src/whmcs/schema/seed.js';
import { phpSerialize, phpUnserialize } from '../src/whmcs/php/php-serialize.js';
import { operatorName } from '../src/whmcs/changes/activity-log.js';

const hasPhp = optionalPeer('php', 'the PHP cross-checks in settings-change.test.ts');

const YUBI_ID = '85097';
const YUBI_KEY = 'WUxjaXNWdFRHaHVMSGFjWTRSUjU=';

const BOTH = phpSerialize({
  modules: {
    totp: { clientenabled: 1, adminenabled: 1 },
    acme2fa: { token: 'x', clientenabled: '', adminenabled: '' },
    yubico: { clientid: YUBI_ID, secretkey: YUBI_KEY, clientenabled: 1, adminenabled: 1 },
  },
  forceclient: 0,
  forceadmin: 0,
});

describeBackends('deactivate', (backend) => {
  describe('WHMCS 8.12', () => deactivateSuite(backend, '8', '8.12.1-release.1'));
  describe('WHMCS 7.8', () => deactivateSuite(backend, '7', '7.8.3-release.1'));
});

function deactivateSuite(backend: Backend, shape: '7' | '8', version: string) {
  let t: TestDb;
  const cli = (args: string[], opts: Parameters<typeof runCli>[1] = {}) => runCli(['--whmcs-dir', t.whmcsDir, ...args], opts);
  const who = shape === '8' ? 'user' : 'client';

  beforeAll(async () => {
    t = await createTestDb(backend, shape, version);
    await insertAdmin(t.knex, { username: 'alice', authmodule: 'yubico' });
    await insertAdmin(t.knex, { username: 'bob', authmodule: 'totp' });
    await insertAdmin(t.knex, { username: 'retired', authmodule: 'yubico', disabled: 1 });
    if (shape === '8') {
      await insertUser(t.knex, { email: 'u1@x.test', second_factor: 'yubico', second_factor_config: '{}' });
      await insertUser(t.knex, { email: 'u2@x.test', second_factor: 'yubico', second_factor_config: '{}' });
      await insertUser(t.knex, { email: 'u3@x.test', second_factor: 'totp', second_factor_config: '{}' });
    } else {
      await insertClient(t.knex, { email: 'c1@x.test', authmodule: 'yubico' });
      await insertClient(t.knex, { email: 'c2@x.test', authmodule: 'yubico' });
      await insertClient(t.knex, { email: 'c3@x.test', authmodule: 'totp' });
      await insertClient(t.knex, { email: 'c4@x.test', authmodule: 'totp', status: 'Closed' });
    }
  });
  afterAll(() => t?.drop());
  beforeEach(() => setConfigValue(t.knex, '2fasettings', BOTH));

  it('sets both flags to 0 and keeps the settings, exactly as WHMCS writes it', async () => {
    // The yubico users would log in without 2FA on WHMCS 8: --force is the operator saying "I know".
    const r = await cli(['deactivate', 'yubico', '--force', '--yes', '--format', 'json', '--reason', 'keys lost']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ changed: true, service: 'yubico', audiences: ['clients', 'admins'], before: { clients: true, admins: true }, after: { clients: false, admins: false } });
    const stored = (await settingsValue(t.knex))!;
    const s = phpUnserialize(stored) as any;
    expect(s.modules.yubico).toEqual({ clientid: YUBI_ID, secretkey: YUBI_KEY, clientenabled: 0, adminenabled: 0 });
    expect(Object.keys(s.modules)).toEqual(['totp', 'acme2fa', 'yubico']);
    if (hasPhp) {
      const oracle = php(
        `$s = unserialize(stream_get_contents(STDIN)); $s['modules']['yubico']['clientenabled'] = (int)(bool)''; $s['modules']['yubico']['adminenabled'] = (int)(bool)''; echo serialize($s);`,
        BOTH,
      );
      expect(stored).toBe(oracle);
      expect(phpView(stored).value.modules.yubico.clientenabled).toBe(0);
    }
    const log = await lastActivity(t.knex);
    expect(log.description).toBe(
      `Two-Factor Authentication: YubiKey (yubico) deactivated for clients and admins, its settings kept by whmcs-2fa CLI (OS user ${operatorName()}) - Reason: keys lost`,
    );
    const again = await cli(['deactivate', 'yubikey', '--yes', '--format', 'json']);
    expect(again.code).toBe(0);
    expect(again.json.changed).toBe(false);
    const human = await cli(['deactivate', 'yubikey', '--yes', '--format', 'table']);
    expect(human.stdout).toContain('already inactive');
  });

  it('clients: names who would log in without 2FA and refuses without --force (exit 4, nothing written)', async () => {
    const row = await settingsRow(t.knex);
    const logs = await activityCount(t.knex);
    const r = await cli(['deactivate', 'yubico', '--clients', '--yes', '--format', 'json']);
    if (shape === '8') {
      // WHMCS 8 only challenges users whose own module is enabled for clients.
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/2 users enrolled in YubiKey would log in WITHOUT a second factor .*--force/);
      expect(r.json.error.details.consequences).toHaveLength(1);
    } else {
      // WHMCS 7 still challenges them while totp stays enabled for clients: a note, no refusal.
      expect(r.code).toBe(0);
      expect(r.json.warnings.join('\n')).toMatch(/2 clients enrolled in YubiKey will still be asked for it/);
    }
    if (shape === '8') {
      expect(await settingsRow(t.knex)).toEqual(row);
      expect(await activityCount(t.knex)).toBe(logs);
    }
  });

  it('the last client service: everyone enrolled would skip 2FA — named and refused', async () => {
    await setConfigValue(t.knex, '2fasettings', phpSerialize({ modules: { totp: { clientenabled: 1, adminenabled: 1 } }, forceclient: 0, forceadmin: 0 }));
    const r = await cli(['deactivate', 'totp', '--clients', '--yes']);
    expect(r.code).toBe(4);
    if (shape === '8') expect(r.stderr).toMatch(/1 user enrolled in Time-Based Tokens would log in WITHOUT a second factor/);
    else expect(r.stderr).toMatch(/no service would remain enabled for clients, so WHMCS 7 skips client 2FA entirely: 3 enrolled clients would log in without/);
  });

  it('admins: when no admin service remains, WHMCS skips admin 2FA entirely — named and refused; --force proceeds and says so', async () => {
    await setConfigValue(t.knex, '2fasettings', phpSerialize({ modules: { totp: { clientenabled: 1, adminenabled: 0 }, yubico: { clientid: YUBI_ID, secretkey: YUBI_KEY, clientenabled: 0, adminenabled: 1 } }, forceclient: 0, forceadmin: 0 }));
    const before = await settingsValue(t.knex);
    const r = await cli(['deactivate', 'yubico', '--admins', '--yes']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/no service would remain enabled for admins, so WHMCS skips admin 2FA entirely: 2 active admins with a second factor \(1 in YubiKey\) would log in without it/);
    expect(await settingsValue(t.knex)).toBe(before);
    const forced = await cli(['deactivate', 'yubico', '--admins', '--force', '--yes', '--format', 'json']);
    expect(forced.code).toBe(0);
    expect(forced.json.changed).toBe(true);
    expect(forced.json.warnings.join('\n')).toMatch(/skips admin 2FA entirely/);
  });

  it('admins of the module while another admin service remains: a note, no refusal', async () => {
    const r = await cli(['deactivate', 'yubico', '--admins', '--yes', '--format', 'json']);
    expect(r.code).toBe(0);
    expect(r.json.warnings.join('\n')).toMatch(/1 active admin enrolled in YubiKey will still be challenged with it .*Time-Based Tokens/);
  });

  it('refuses to leave forced 2FA with no active service for that audience, even with --force', async () => {
    await setConfigValue(t.knex, '2fasettings', phpSerialize({ modules: { totp: { clientenabled: 1, adminenabled: 1 } }, forceclient: 0, forceadmin: 1 }));
    const before = await settingsValue(t.knex);
    const r = await cli(['deactivate', 'totp', '--admins', '--force', '--yes']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/admins are forced to enrol .*`whmcs-2fa enforce --admins off` first/);
    expect(await settingsValue(t.knex)).toBe(before);
  });

  it('deactivating a service that is not configured changes nothing and creates nothing', async () => {
    await t.knex('tblconfiguration').where({ setting: '2fasettings' }).delete();
    const r = await cli(['deactivate', 'duo', '--yes', '--format', 'json']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ changed: false, service: 'duosecurity', before: { clients: false, admins: false } });
    expect(await settingsRow(t.knex)).toBeNull();
  });
}

describeBackends('concurrent writers', (backend) => {
  for (const shape of ['8', '7'] as const) {
    describe(`WHMCS ${shape}.x`, () => {
      let t: TestDb;
      beforeAll(async () => {
        t = await createTestDb(backend, shape);
        await insertAdmin(t.knex, { username: 'alice', authmodule: 'totp' });
      });
      afterAll(() => t?.drop());

      it('two CLI runs changing different parts of 2fasettings at once: neither change is lost', async () => {
        const start = phpSerialize({ modules: { totp: { clientenabled: 1, adminenabled: 1 } }, forceclient: 0, forceadmin: 0 });
        for (let round = 0; round < 4; round++) {
          await setConfigValue(t.knex, '2fasettings', start);
          const logs = await activityCount(t.knex);
          // SQLite's drivers are synchronous: a run waiting on the other's write lock would block the
          // only thread both share, so there they are processes of their own.
          const asProcesses = backend === 'sqlite';
          const [a, b] = await Promise.all([
            runCli(['--whmcs-dir', t.whmcsDir, 'activate', 'yubikey', '--admins', '--client-id', YUBI_ID, '--yes', '--format', 'json'], { env: { WHMCS_YUBICO_SECRET_KEY: YUBI_KEY }, process: asProcesses }),
            runCli(['--whmcs-dir', t.whmcsDir, 'enforce', '--clients', 'on', '--yes', '--format', 'json'], { process: asProcesses }),
          ]);
          expect(a.stderr, `round ${round}`).not.toContain('Error');
          expect(b.stderr, `round ${round}`).not.toContain('Error');
          expect([a.code, b.code]).toEqual([0, 0]);
          expect([a.json.changed, b.json.changed]).toEqual([true, true]);
          const s = phpUnserialize((await settingsValue(t.knex))!) as any;
          expect(s.modules.yubico, `round ${round}`).toEqual({ clientid: YUBI_ID, secretkey: YUBI_KEY, clientenabled: 0, adminenabled: 1 });
          expect(s.forceclient, `round ${round}`).toBe(1);
          expect(await activityCount(t.knex)).toBe(logs + 2);
        }
      }, 120_000);
    });
  }
});
