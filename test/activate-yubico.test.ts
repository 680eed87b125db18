import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, describeBackends, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { describeWithPeer } from './helpers/peers.js';
import { startYubiserver, type YubiserverPeer } from './helpers/yubiserver.js';
import { activityCount, settingsValue } from './helpers/settings-row.js';
import { FRESH_INSTALL_2FA, setConfigValue } from '../src/whmcs/schema/seed.js';
import { phpUnserialize } from '../src/whmcs/php/php-serialize.js';

describeWithPeer(['yubiserver', 'yubiserver-admin', 'ykgenerate'], 'activate yubikey --check-otp against a real yubiserver', () => {
  let peer: YubiserverPeer;
  beforeAll(async () => {
    peer = await startYubiserver();
  });
  afterAll(() => peer?.stop());

  describeBackends('activate yubikey --check-otp', (backend) => {
    let t: TestDb;
    beforeAll(async () => {
      t = await createTestDb(backend, '8');
    });
    afterAll(() => t?.drop());
    const activate = (otp: string, secretKey = peer.secretKey) =>
      runCli(
        ['--whmcs-dir', t.whmcsDir, 'activate', 'yubikey', '--client-id', peer.clientId, '--secret-key', '-', '--check-otp', otp, '--yubico-api-url', peer.url, '--yes', '--format', 'json'],
        { input: secretKey + '\n' },
      );

    it('a good OTP: the server says OK, the status is reported, the credentials are stored in plaintext', async () => {
      await setConfigValue(t.knex, '2fasettings', FRESH_INSTALL_2FA);
      const r = await activate(await peer.nextOtp());
      expect(r.stderr).not.toContain('Error');
      expect(r.code).toBe(0);
      expect(r.json.check).toEqual({ kind: 'yubico-otp', ok: true, status: 'OK', message: `the OTP is valid (YubiKey ${peer.key.publicId})` });
      expect(r.json.changed).toBe(true);
      const s = phpUnserialize((await settingsValue(t.knex))!) as any;
      expect(s.modules.yubico).toEqual({ clientid: peer.clientId, secretkey: peer.secretKey, clientenabled: 1, adminenabled: 1 });
      expect(r.stdout + r.stderr).not.toContain(peer.secretKey);
    });

    it('an OTP of a key the server does not know: exit 4 with the status message, nothing written', async () => {
      await setConfigValue(t.knex, '2fasettings', FRESH_INSTALL_2FA);
      const logs = await activityCount(t.knex);
      const r = await activate(await peer.foreignOtp());
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/YubiKey check failed \(BAD_OTP\): the validation server rejected the OTP.*nothing was written/);
      expect(await settingsValue(t.knex)).toBe(FRESH_INSTALL_2FA);
      expect(await activityCount(t.knex)).toBe(logs);
    });

    it('a replayed OTP and a wrong secret key are refused too', async () => {
      await setConfigValue(t.knex, '2fasettings', FRESH_INSTALL_2FA);
      const otp = await peer.nextOtp();
      expect((await activate(otp)).code).toBe(0);
      await setConfigValue(t.knex, '2fasettings', FRESH_INSTALL_2FA);
      const replay = await activate(otp);
      expect(replay.code).toBe(4);
      expect(replay.stderr).toMatch(/REPLAYED_OTP/);
      const wrongKey = await activate(await peer.nextOtp(), Buffer.alloc(20, 7).toString('base64'));
      expect(wrongKey.code).toBe(4);
      expect(wrongKey.stderr).toMatch(/YubiKey check failed/);
      expect(await settingsValue(t.knex)).toBe(FRESH_INSTALL_2FA);
    });
  });
});

describe('activate yubikey without credentials', () => {
  it('is a usage error naming the flags (no TTY to ask on)', async () => {
    const t = await createTestDb('sqlite', '8');
    try {
      const r = await runCli(['--whmcs-dir', t.whmcsDir, 'activate', 'yubikey', '--yes']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/YubiKey is not configured yet: give --client-id, --secret-key/);
    } finally {
      await t.drop();
    }
  });
});
