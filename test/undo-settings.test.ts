import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, describeBackends, type Backend, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { activityCount, lastActivity, settingsRow, settingsValue } from './helpers/settings-row.js';
import { insertAdmin, setConfigValue } from '../src/whmcs/schema/seed.js';
import { phpSerialize } from '../src/whmcs/php/php-serialize.js';
import { whmcsEncrypt } from '../src/whmcs/crypto/whmcs-encrypt.js';

const DUO_ID = 'DIWJ8X6AEYOR5OMC6TQ1';
const DUO_SECRET = 'Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep';
const DUO_SECRET_2 = 'Qq7rTmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ez';
const DUO_HOST = 'api-1a2b3c4d.duosecurity.com';

describeBackends('undo of settings changes', (backend) => {
  describe('WHMCS 8.12', () => suite(backend, '8', '8.12.1-release.1'));
  describe('WHMCS 7.8', () => suite(backend, '7', '7.8.3-release.1'));
});

function suite(backend: Backend, shape: '7' | '8', version: string) {
  let t: TestDb;
  const cli = (args: string[], opts: Parameters<typeof runCli>[1] = {}) => runCli(['--whmcs-dir', t.whmcsDir, ...args], opts);

  beforeAll(async () => {
    t = await createTestDb(backend, shape, version);
    await insertAdmin(t.knex, { username: 'alice', authmodule: 'totp' });
  });
  afterAll(() => t?.drop());

  it('undoes activate, deactivate and enforce one by one back to the original bytes', async () => {
    const original = phpSerialize({
      modules: {
        totp: { clientenabled: 1, adminenabled: 1 },
        acme2fa: { token: 'x', clientenabled: 'on', adminenabled: '' },
        duosecurity: { integrationKey: whmcsEncrypt(DUO_ID, t.ccHash), secretKey: whmcsEncrypt(DUO_SECRET, t.ccHash), apiHostname: DUO_HOST, clientenabled: 0, adminenabled: 0 },
      },
      forceclient: 0,
      forceadmin: 0,
    });
    await setConfigValue(t.knex, '2fasettings', original);
    const row0 = await settingsRow(t.knex);
    const steps = [
      await cli(['activate', 'duo', '--admins', '--yes', '--format', 'json'], { env: { WHMCS_DUO_CLIENT_SECRET: DUO_SECRET_2 } }),
      await cli(['enforce', '--admins', 'on', '--yes', '--format', 'json']),
      await cli(['deactivate', 'totp', '--admins', '--yes', '--format', 'json']),
    ];
    for (const s of steps) {
      expect(s.stderr).not.toContain('Error');
      expect(s.json.changed).toBe(true);
    }
    // Unwind newest first: each undo finds exactly what its change wrote.
    const journalIds = steps.map((s) => s.json.journalId as string);
    const logs = await activityCount(t.knex);
    for (let i = journalIds.length - 1; i >= 0; i--) {
      const u = await cli(['undo', journalIds[i]!, '--yes', '--format', 'json']);
      expect(u.stderr).not.toContain('Error');
      expect(u.code).toBe(0);
      expect(u.json).toMatchObject({ changed: true, rowsRestored: 1 });
    }
    expect(await settingsRow(t.knex)).toEqual(row0);
    expect(await settingsValue(t.knex)).toBe(original);
    expect(await activityCount(t.knex)).toBe(logs + 3);
    expect(String((await lastActivity(t.knex)).description)).toMatch(/undid change .*Duo Security activated for admins/);
  });

  it('undo of a created row removes it again', async () => {
    await t.knex('tblconfiguration').where({ setting: '2fasettings' }).delete();
    const r = await cli(['activate', 'totp', '--yes', '--format', 'json']);
    expect(r.json.changed).toBe(true);
    expect(await settingsRow(t.knex)).not.toBeNull();
    const u = await cli(['undo', '--yes', '--format', 'json']);
    expect(u.code).toBe(0);
    expect(u.json.undone.id).toBe(r.json.journalId);
    expect(await settingsRow(t.knex)).toBeNull();
  });

  it('refuses (exit 4) when the value changed after the change — e.g. someone saved the settings page — and shows the difference', async () => {
    await setConfigValue(t.knex, '2fasettings', phpSerialize({ modules: { totp: { clientenabled: 1, adminenabled: 0 } }, forceclient: 0, forceadmin: 0 }));
    const r = await cli(['activate', 'totp', '--admins', '--yes', '--format', 'json']);
    expect(r.json.changed).toBe(true);
    const theirs = phpSerialize({ modules: { totp: { clientenabled: 1, adminenabled: 1 } }, forceclient: 1, forceadmin: 0 });
    await setConfigValue(t.knex, '2fasettings', theirs);
    const logs = await activityCount(t.knex);
    const u = await cli(['undo', r.json.journalId, '--yes']);
    expect(u.code).toBe(4);
    expect(u.stderr).toMatch(/cannot undo .*changed after it \(tblconfiguration id=\d+: now value=\(\d+ bytes\), updated_at='[^']+', expected value=\(\d+ bytes\), updated_at='[^']+'\) — nothing was restored/);
    expect(await settingsValue(t.knex)).toBe(theirs);
    expect(await activityCount(t.knex)).toBe(logs);
  });
}
