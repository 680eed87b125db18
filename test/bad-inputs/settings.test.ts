import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCorpus, V812 } from './harness.js';
import { DAMAGED, settingsCases } from './cases/settings.js';
import { createTestDb, describeBackends, tempDir, type TestDb } from '../helpers/db.js';
import { runCli } from '../helpers/cli.js';
import { settingsValue } from '../helpers/settings-row.js';
import { FRESH_INSTALL_2FA, setConfigValue } from '../../src/whmcs/schema/seed.js';

runCorpus('2fasettings', settingsCases);

describeBackends('bad inputs: 2fasettings — --force rebuilds what was refused', (backend) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb(backend, '8', V812);
  });
  afterAll(() => t?.drop());

  it('each damaged row: activate --force rebuilds it, undo puts the damaged bytes back', async () => {
    const state = tempDir('whmcs2fa-badstate-');
    const cli = (...args: string[]) => runCli(['--whmcs-dir', t.whmcsDir, ...args, '--format', 'json'], { env: { XDG_STATE_HOME: state } });
    for (const [name, { value }] of Object.entries(DAMAGED)) {
      await setConfigValue(t.knex, '2fasettings', value);
      const r = await cli('activate', 'totp', '--force', '--yes');
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
      expect(r.json.diff[0], name).toMatchObject({ field: '2fasettings', after: 'rebuilt from scratch' });
      expect(await settingsValue(t.knex), name).toBe(FRESH_INSTALL_2FA);
      const u = await cli('undo', '--yes');
      expect(u.code, `${name}: ${u.stderr}`).toBe(0);
      expect(await settingsValue(t.knex), name).toBe(value);
    }
  }, 120_000);
});
