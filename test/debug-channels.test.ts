/**
 * Debug channels carry no secret: with `DEBUG=knex:*` or `DEBUG=*` (what a stuck user is told to
 * try) the statements are printed, but never the values bound into them — which include the TOTP
 * configs a reset compares and the keys a settings write stores. A sentinel secret is planted in
 * every place a command binds from.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDb, describeBackends, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { insertAdmin, insertUser, setConfigValue } from '../src/whmcs/schema/seed.js';
import { phpSerialize } from '../src/whmcs/php/php-serialize.js';

const SENTINEL = 'SENTINELQZXWVUTS'; // base32, a valid TOTP secret
const YUBICO_KEY = 'U2VudGluZWxZdWJpY29LZXk9PQ==';

describeBackends('debug channels', (backend) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb(backend, '8', '8.7.2-release.1');
    await insertAdmin(t.knex, { username: 'root', authmodule: 'totp', authdata: `{"secret":"${SENTINEL}","backupcode":"x"}` });
    await insertAdmin(t.knex, { username: 'ops', authmodule: 'totp', authdata: `{"secret":"${SENTINEL}","backupcode":"y"}` });
    await insertUser(t.knex, { email: 'u@x.test', second_factor: 'totp', second_factor_config: `{"secret":"${SENTINEL}","backupcode":"z"}` });
    await setConfigValue(t.knex, '2fasettings', phpSerialize({ modules: { totp: { clientenabled: 1, adminenabled: 1 }, yubico: { clientid: '1', secretkey: YUBICO_KEY, clientenabled: 0, adminenabled: 0 } }, forceclient: 0, forceadmin: 0 }));
  });
  afterAll(() => t?.drop());

  const runs: string[][] = [
    ['accounts', '--format', 'json'],
    ['verify', '--admin', 'root', '000000'],
    ['reset', '--admin', 'ops', '--reason', 'debug test', '--yes'],
    ['reset', '--module', 'totp', '--users', '--reason', 'debug test', '--yes'],
    ['deactivate', 'yubikey', '--yes'],
    ['undo', '--yes'],
  ];
  for (const debug of ['knex:*', '*']) {
    for (const args of runs) {
      it(`DEBUG=${debug} ${args.join(' ')}: statements shown, no bound value`, async () => {
        // A process of its own: the debug library reads $DEBUG once, when it loads.
        const r = await runCli(['--whmcs-dir', t.whmcsDir, ...args], { env: { DEBUG: debug, DEBUG_COLORS: 'no' }, process: true });
        expect(r.stderr, r.stderr.slice(0, 2000)).toMatch(/knex:query/);
        const all = r.stdout + r.stderr;
        expect(all.includes(SENTINEL), all.slice(0, 4000)).toBe(false);
        expect(all.includes(YUBICO_KEY)).toBe(false);
        expect(all).not.toMatch(/knex:bindings/);
      });
    }
  }
});
