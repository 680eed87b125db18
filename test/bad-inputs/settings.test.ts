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

  /** What `activate totp --force` makes of each damaged row: everything it can read is kept; what would be lost is refused. */
  const REBUILT: Record<string, { code: 0; value: string } | { code: 4; error: RegExp }> = {
    truncated: { code: 0, value: FRESH_INSTALL_2FA },
    'a wrong string length': { code: 0, value: FRESH_INSTALL_2FA },
    'an object (O:)': { code: 0, value: FRESH_INSTALL_2FA },
    'a reference (r:)': { code: 4, error: /cannot be read past byte 44 \('r:1;}' is not a PHP value, in forceclient\), so a rebuild would drop what follows/ },
    'over 16384 bytes': { code: 4, error: /would not be readable by WHMCS \(.*input of \d+ bytes exceeds 16384\)/ },
    'an array of over 256 elements': { code: 4, error: /would not be readable by WHMCS \(.*array length 258 exceeds 256\)/ },
    'arrays nested over 5 levels': { code: 4, error: /would not be readable by WHMCS \(.*arrays nested more than 5 levels/ },
    'not an array at all': { code: 0, value: FRESH_INSTALL_2FA },
    'an empty value': { code: 0, value: FRESH_INSTALL_2FA },
  };

  it('each damaged row: activate --force rebuilds it keeping what it holds (or refuses, exit 4, rather than drop it); undo puts the damaged bytes back', async () => {
    const state = tempDir('whmcs2fa-badstate-');
    const cli = (...args: string[]) => runCli(['--whmcs-dir', t.whmcsDir, ...args, '--format', 'json'], { env: { XDG_STATE_HOME: state } });
    expect(Object.keys(REBUILT).sort()).toEqual(Object.keys(DAMAGED).sort());
    for (const [name, { value }] of Object.entries(DAMAGED)) {
      await setConfigValue(t.knex, '2fasettings', value);
      const r = await cli('activate', 'totp', '--force', '--yes');
      const want = REBUILT[name]!;
      expect(r.code, `${name}: ${r.stderr}`).toBe(want.code);
      if (want.code === 4) {
        expect(r.json.error.message, name).toMatch(want.error);
        expect(await settingsValue(t.knex), name).toBe(value);
        continue;
      }
      expect(r.json.diff[0], name).toMatchObject({ field: '2fasettings', after: expect.stringMatching(/^rebuilt /) });
      expect(await settingsValue(t.knex), name).toBe(want.value);
      const u = await cli('undo', '--yes');
      expect(u.code, `${name}: ${u.stderr}`).toBe(0);
      expect(await settingsValue(t.knex), name).toBe(value);
    }
  }, 120_000);
});
