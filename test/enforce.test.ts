import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDb, describeBackends, type Backend, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { php } from './helpers/php.js';
import { optionalPeer } from './helpers/peers.js';
import { activityCount, lastActivity, phpView, settingsRow, settingsValue } from './helpers/settings-row.js';
import { FRESH_INSTALL_2FA, insertAdmin, insertClient, insertUser, setConfigValue } from '../src/whmcs/schema/seed.js';
import { phpSerialize, phpUnserialize } from '../src/whmcs/php/php-serialize.js';
import { operatorName } from '../src/whmcs/changes/activity-log.js';

const hasPhp = optionalPeer('php', 'the PHP cross-checks in enforce.test.ts');

const WITH_THIRD_PARTY = phpSerialize({
  modules: {
    acme2fa: { token: 'x', clientenabled: '', adminenabled: '' },
    totp: { clientenabled: 1, adminenabled: 1 },
  },
  forceclient: 0,
  forceadmin: 0,
  acme_extra: 'keep me',
});

describeBackends('enforce', (backend) => {
  describe('WHMCS 8.12', () => suite(backend, '8', '8.12.1-release.1'));
  describe('WHMCS 7.8', () => suite(backend, '7', '7.8.3-release.1'));
});

function suite(backend: Backend, shape: '7' | '8', version: string) {
  let t: TestDb;
  let ids: Record<string, number>;
  const cli = (args: string[], opts: Parameters<typeof runCli>[1] = {}) => runCli(['--whmcs-dir', t.whmcsDir, ...args], opts);

  beforeAll(async () => {
    t = await createTestDb(backend, shape, version);
    ids = {
      // Disabled and enrolled: must not count as the admin who keeps the door open.
      gone: await insertAdmin(t.knex, { username: 'gone', authmodule: 'totp', disabled: 1 }),
      alice: await insertAdmin(t.knex, { username: 'alice' }),
      bob: await insertAdmin(t.knex, { username: 'bob', authmodule: '0' }),
      off: await insertAdmin(t.knex, { username: 'off', disabled: 1 }),
    };
    if (shape === '8') {
      await insertUser(t.knex, { email: 'u1@x.test' });
      await insertUser(t.knex, { email: 'u2@x.test', second_factor: 'totp', second_factor_config: '{}' });
    } else {
      await insertClient(t.knex, { email: 'c1@x.test' });
      await insertClient(t.knex, { email: 'c2@x.test', status: 'Closed' });
    }
  });
  afterAll(() => t?.drop());
  beforeEach(async () => {
    await setConfigValue(t.knex, '2fasettings', WITH_THIRD_PARTY);
    await t.knex('tbladmins').where({ id: ids.gone }).update({ authmodule: 'totp' });
    await t.knex('tbladmins').where({ id: ids.alice }).update({ authmodule: '' });
  });

  it('no flags: shows the current state and writes nothing', async () => {
    const row = await settingsRow(t.knex);
    const logs = await activityCount(t.knex);
    const r = await cli(['enforce', '--format', 'json']);
    expect(r.code).toBe(0);
    expect(r.json).toEqual({ changed: false, dryRun: false, force: { clients: false, admins: false }, before: { clients: false, admins: false }, willEnrol: [], journalId: null, warnings: [], diff: [] });
    const table = await cli(['enforce', '--format', 'table']);
    expect(table.stdout).toMatch(/Admins\s+not forced/);
    expect(await settingsRow(t.knex)).toEqual(row);
    expect(await activityCount(t.knex)).toBe(logs);
  });

  it('refuses to force admins when no active admin has a second factor (exit 4, nothing written)', async () => {
    const before = await settingsValue(t.knex);
    const r = await cli(['enforce', '--admins', 'on', '--yes']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/no active admin has a second factor yet.*enrol one first/);
    expect(await settingsValue(t.knex)).toBe(before);
  });

  it('refuses to force an audience no service is enabled for', async () => {
    await setConfigValue(t.knex, '2fasettings', phpSerialize({ modules: { totp: { clientenabled: 0, adminenabled: 1 } }, forceclient: 0, forceadmin: 0 }));
    const r = await cli(['enforce', '--clients', 'on', '--yes']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/no service is enabled for clients .*activate totp --clients/);
    const missing = await cli(['enforce', '--admins', 'on', '--yes']);
    expect(missing.code).toBe(4);
  });

  it('forcing admins lists who must enrol (diff, notes, JSON), writes int 1 PHP reads back, and is idempotent', async () => {
    await t.knex('tbladmins').where({ id: ids.alice }).update({ authmodule: 'totp' });
    const dry = await cli(['--dry-run', 'enforce', '--admins', 'on', '--format', 'table']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('force admins to enrol: off → on');
    expect(dry.stdout).toContain(`admin #${ids.bob} bob: no second factor → must enrol at next login`);
    expect(await settingsValue(t.knex)).toBe(WITH_THIRD_PARTY);

    const r = await cli(['enforce', '--admins', 'on', '--yes', '--format', 'json', '--reason', 'policy']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ changed: true, dryRun: false, force: { clients: false, admins: true }, before: { clients: false, admins: false } });
    // alice is enrolled; 'gone' and 'off' are disabled; bob's '0' is no second factor.
    expect(r.json.willEnrol).toEqual([{ id: ids.bob, username: 'bob' }]);
    expect(r.json.warnings.join('\n')).toMatch(/1 active admin will be made to enrol at next login: bob/);
    const stored = (await settingsValue(t.knex))!;
    expect(stored).toBe(WITH_THIRD_PARTY.replace('s:10:"forceadmin";i:0;', 's:10:"forceadmin";i:1;'));
    if (hasPhp) {
      const seen = phpView(stored);
      expect(seen.reserializes).toBe(true);
      expect(seen.value.forceadmin).toBe(1);
      expect(Object.keys(seen.value)).toEqual(['modules', 'forceclient', 'forceadmin', 'acme_extra']);
      const oracle = php(`$s = unserialize(stream_get_contents(STDIN)); $s['forceadmin'] = (int)(bool)'on'; echo serialize($s);`, WITH_THIRD_PARTY);
      expect(stored).toBe(oracle);
    }
    const log = await lastActivity(t.knex);
    expect(log.description).toBe(`Two-Factor Authentication: enrolment enforcement changed: admins forced to enrol by whmcs-2fa CLI (OS user ${operatorName()}) - Reason: policy`);

    const again = await cli(['enforce', '--admins', 'on', '--yes', '--format', 'json']);
    expect(again.code).toBe(0);
    expect(again.json).toMatchObject({ changed: false, journalId: null, force: { admins: true }, willEnrol: [{ id: ids.bob, username: 'bob' }] });
    expect(await settingsValue(t.knex)).toBe(stored);

    const state = await cli(['enforce', '--format', 'json']);
    expect(state.json.force).toEqual({ clients: false, admins: true });
    expect(state.json.willEnrol).toEqual([{ id: ids.bob, username: 'bob' }]);
  });

  it('forcing clients and switching admins off in one run', async () => {
    await setConfigValue(t.knex, '2fasettings', WITH_THIRD_PARTY.replace('s:10:"forceadmin";i:0;', 's:10:"forceadmin";s:2:"on";'));
    const r = await cli(['enforce', '--clients', 'on', '--admins', 'off', '--yes', '--format', 'json']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ changed: true, force: { clients: true, admins: false }, before: { clients: false, admins: true }, willEnrol: [] });
    expect(r.json.warnings.join('\n')).toMatch(new RegExp(`1 ${shape === '8' ? 'user' : 'client'} without a second factor will be made to enrol`));
    const s = phpUnserialize((await settingsValue(t.knex))!) as any;
    expect(s.forceclient).toBe(1);
    expect(s.forceadmin).toBe(0);
  });

  it('undo restores the row byte for byte; a value changed since makes undo refuse (exit 4)', async () => {
    await t.knex('tbladmins').where({ id: ids.alice }).update({ authmodule: 'totp' });
    const original = await settingsRow(t.knex);
    const r = await cli(['enforce', '--admins', 'on', '--yes', '--format', 'json']);
    expect(r.json.changed).toBe(true);
    const u = await cli(['undo', r.json.journalId, '--yes', '--format', 'json']);
    expect(u.code).toBe(0);
    expect(await settingsRow(t.knex)).toEqual(original);

    const r2 = await cli(['enforce', '--clients', 'on', '--yes', '--format', 'json']);
    expect(r2.json.changed).toBe(true);
    const other = await cli(['activate', 'totp', '--yes', '--format', 'json']);
    expect(other.json.changed).toBe(false);
    await setConfigValue(t.knex, '2fasettings', FRESH_INSTALL_2FA);
    const refused = await cli(['undo', r2.json.journalId, '--yes']);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/changed after it .*tblconfiguration id=\d+: now value=\(\d+ bytes\).*expected value=\(\d+ bytes\)/);
    expect(await settingsValue(t.knex)).toBe(FRESH_INSTALL_2FA);
  });

  it('bad values are usage errors', async () => {
    const r = await cli(['enforce', '--admins', 'yes-please', '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--admins takes on or off/);
  });

  it('no TTY without --yes: exit 4, nothing written', async () => {
    await t.knex('tbladmins').where({ id: ids.alice }).update({ authmodule: 'totp' });
    const row = await settingsRow(t.knex);
    const logs = await activityCount(t.knex);
    const r = await cli(['enforce', '--admins', 'on']);
    expect(r.code).toBe(4);
    expect(await settingsRow(t.knex)).toEqual(row);
    expect(await activityCount(t.knex)).toBe(logs);
  });
}
