import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDb, describeBackends, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { oathtoolTotp } from './helpers/oathtool.js';
import { describeWithPeer } from './helpers/peers.js';
import { insertAdmin, setConfigValue } from '../src/whmcs/schema/seed.js';
import { generateTotpSecret } from '../src/services/totp/base32-secret.js';

/**
 * WHMCS rewrites the TOTP replay list on every TOTP login. Undoing an enrolment must not be
 * blocked by that: the account row is restored, the replay list is left as WHMCS has it.
 */
describeWithPeer(['oathtool'], 'undo after WHMCS touched the replay list', () => {
  describeBackends('undo enroll', (backend) => {
    let t: TestDb;
    beforeAll(async () => {
      t = await createTestDb(backend, '8', '8.12.1-release.1');
      await insertAdmin(t.knex, { username: 'ann' });
    });
    afterAll(() => t?.drop());

    it('restores the account and leaves a since-changed replay list alone', async () => {
      const secret = generateTotpSecret();
      const code = oathtoolTotp(secret, Math.floor(Date.now() / 1000))[0]!;
      const cli = (args: string[]) => runCli(['--whmcs-dir', t.whmcsDir, ...args]);
      const e = await cli(['enroll', '--admin', 'ann', '--secret', secret, '--code', code, '--yes', '--format', 'json']);
      expect(e.code).toBe(0);
      expect((await t.knex('tbladmins').where({ username: 'ann' }).first()).authmodule).toBe('totp');
      // A login elsewhere rewrites the list.
      await setConfigValue(t.knex, 'TOTPUsedOTPs', 'a:1:{s:32:"0123456789abcdef0123456789abcdef";i:1700000000;}');

      const u = await cli(['undo', '--yes', '--format', 'json']);
      expect(u.stderr).toMatch(/TOTPUsedOTPs|tblconfiguration/);
      expect(u.code).toBe(0);
      const admin = await t.knex('tbladmins').where({ username: 'ann' }).first();
      expect([admin.authmodule, admin.authdata]).toEqual(['', '']);
      const list = await t.knex('tblconfiguration').where({ setting: 'TOTPUsedOTPs' }).first();
      expect(list.value).toBe('a:1:{s:32:"0123456789abcdef0123456789abcdef";i:1700000000;}');
    });

    it('a changed account row still blocks undo (exit 4, nothing restored)', async () => {
      const secret = generateTotpSecret();
      const code = oathtoolTotp(secret, Math.floor(Date.now() / 1000))[0]!;
      const cli = (args: string[]) => runCli(['--whmcs-dir', t.whmcsDir, ...args]);
      expect((await cli(['enroll', '--admin', 'ann', '--secret', secret, '--code', code, '--yes', '--force'])).code).toBe(0);
      await t.knex('tbladmins').where({ username: 'ann' }).update({ authdata: 'changed-by-whmcs' });
      const u = await cli(['undo', '--yes']);
      expect(u.code).toBe(4);
      expect((await t.knex('tbladmins').where({ username: 'ann' }).first()).authdata).toBe('changed-by-whmcs');
    });
  });
});
