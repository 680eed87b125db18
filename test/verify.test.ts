import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, describeBackends, type Backend, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { oathtoolTotp } from './helpers/oathtool.js';
import { describeWithPeer } from './helpers/peers.js';
import { reply, startFakeNtp, type FakeNtp } from './helpers/ntp-fake.js';
import { insertAdmin, insertClient, insertUser, setConfigValue } from '../src/whmcs/schema/seed.js';
import { encodeAccountConfig } from '../src/whmcs/accounts/account-config.js';
import { phpSerialize } from '../src/whmcs/php/php-serialize.js';
import { encodeTokendata } from '../src/services/totp/stored-secret.js';
import { sonataBase32Decode } from '../src/services/totp/base32-secret.js';
import { verifyAccountCode, whichClock } from '../src/whmcs/accounts/verify.js';
import { openSession } from '../src/whmcs/connection/connect.js';
import type { Session } from '../src/whmcs/connection/session.js';

const SECRET = 'JBSWY3DPEHPK3PXP';
const SECRET2 = 'GEZDGNBVGY3TQOJQ';
const BACKUP = 'fe5567e8d769550852182cdf69d74bb16dff8e29';
/** A fixed moment in the middle of a 30 s step, so tests never straddle a step boundary. */
const T = 1_700_000_015;
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

type Variant = { name: string; shape: '7' | '8'; version: string; encode: (secret: string, h: string) => string };

const VARIANTS: Variant[] = [
  { name: 'WHMCS 8.7 (plain JSON)', shape: '8', version: '8.7.2-release.1', encode: (s, h) => encodeAccountConfig({ secret: s, backupcode: BACKUP }, 'json', h) },
  { name: 'WHMCS 8.12 (AES)', shape: '8', version: '8.12.1-release.1', encode: (s, h) => encodeAccountConfig({ secret: s, backupcode: BACKUP }, 'aes', h) },
  {
    name: 'WHMCS 7.8 (tokendata)',
    shape: '7',
    version: '7.8.3-release.1',
    encode: (s) => phpSerialize({ tokendata: encodeTokendata(sonataBase32Decode(s)), backupcode: BACKUP }),
  },
];

/** A six-digit code that matches no step within ±10 of `at` (checked against oathtool). */
function codeMatchingNothing(secret: string, at: number): string {
  const near = new Set(oathtoolTotp(secret, at - 300, 21));
  for (let i = 0; ; i++) {
    const c = String((i * 104_729 + 13) % 1_000_000).padStart(6, '0');
    if (!near.has(c)) return c;
  }
}

describeWithPeer(['oathtool'], 'verify', () => {
  describeBackends('verify', (backend) => {
    for (const v of VARIANTS) describe(v.name, () => suite(backend, v));
  });
});

function suite(backend: Backend, v: Variant) {
  let t: TestDb;
  let session: Session;
  const clientFlag = v.shape === '8' ? '--user' : '--client';
  const clientEmail = 'bob@example.com';
  const run = (args: string[]) => runCli(['--whmcs-dir', t.whmcsDir, 'verify', ...args, '--format', 'json']);

  beforeAll(async () => {
    t = await createTestDb(backend, v.shape, v.version);
    await insertAdmin(t.knex, { username: 'alice', email: 'alice@example.com', authmodule: 'totp', authdata: v.encode(SECRET, t.ccHash) });
    if (v.shape === '8') await insertUser(t.knex, { email: clientEmail, second_factor: 'totp', second_factor_config: v.encode(SECRET2, t.ccHash) });
    else await insertClient(t.knex, { email: clientEmail, authmodule: 'totp', authdata: v.encode(SECRET2, t.ccHash) });
    await insertAdmin(t.knex, { username: 'duo', authmodule: 'duosecurity', authdata: '' });
    await insertAdmin(t.knex, { username: 'nobody' });
    await insertAdmin(t.knex, { username: 'nosecret', authmodule: 'totp', authdata: v.shape === '8' ? `{"backupcode":"${BACKUP}"}` : phpSerialize({ backupcode: BACKUP }) });
  });
  beforeAll(async () => {
    session = await openSession({ whmcsDir: t.whmcsDir, env: {}, cwd: t.whmcsDir, warn: () => {} });
  });
  afterAll(async () => {
    await session?.close();
    await t?.drop();
  });
  /** The same judgement in-process, for the cases that need no exit-code check. */
  const judge = (flag: string, who: string, code: string, opts: { at?: number; window?: number } = {}) =>
    verifyAccountCode(session, { [flag.slice(2)]: who }, code, { at: opts.at ?? T, window: opts.window });

  for (const [label, flag, who, secret] of [
    ['admin', '--admin', 'alice', SECRET],
    [v.shape === '8' ? 'user' : 'client', clientFlag, clientEmail, SECRET2],
  ] as const) {
    describe(label, () => {
      it('accepts the current code (exit 0)', async () => {
        const [code] = oathtoolTotp(secret, T);
        const r = await run([flag, who, code, '--at', String(T)]);
        expect(r.stderr).not.toContain('Error');
        expect(r.code).toBe(0);
        expect(r.json).toMatchObject({ accepted: true, codeMatches: true, matchedStep: 0, offsetSeconds: 0, replayed: false, verdict: 'accepted' });
        // Judged at --at, a moment in the past: nothing says "now".
        expect(r.json.reasons).toEqual([`accepted at ${r.json.at} (matches the current step)`]);
        const table = await runCli(['--whmcs-dir', t.whmcsDir, 'verify', flag, who, code, '--at', String(T), '--format', 'table']);
        expect(table.stdout).toContain(`ACCEPTED — WHMCS would accept this code at ${r.json.at} (--at)`);
        expect(table.stdout).not.toMatch(/\bnow\b/);
        expect(r.json.secret.source).toBe(v.shape === '8' ? 'secret' : 'tokendata');
        expect(r.stdout).not.toContain(secret);
      });

      it('accepts the previous and next step, as WHMCS does', async () => {
        const [prev, , next] = oathtoolTotp(secret, T - 30, 3);
        expect(await judge(flag, who, prev)).toMatchObject({ accepted: true, matchedStep: -1, offsetSeconds: -30 });
        expect(await judge(flag, who, next)).toMatchObject({ accepted: true, matchedStep: 1, offsetSeconds: 30 });
      });

      it('a code from 90 s ago matches step -3 and is rejected with a clock diagnosis (exit 1)', async () => {
        const [code] = oathtoolTotp(secret, T - 90);
        const r = await run([flag, who, code, '--at', new Date(T * 1000).toISOString()]);
        expect(r.code).toBe(1);
        expect(r.json).toMatchObject({ accepted: false, codeMatches: false, matchedStep: -3, offsetSeconds: -90, replayed: false, verdict: 'past' });
        expect(r.json.reasons.join('\n')).toContain('this code was valid 90 s ago — the device clock is about 90 s slow, or the server about 90 s fast');
      });

      it('a code from the future says the device is fast', async () => {
        const [code] = oathtoolTotp(secret, T + 120);
        const r = await judge(flag, who, code);
        expect(r).toMatchObject({ accepted: false, matchedStep: 4, offsetSeconds: 120, verdict: 'future' });
        expect(r.reasons.join('\n')).toContain('the device clock is about 2 min fast, or the server about 2 min slow');
      });

      it('a code matching no nearby step: matchedStep null', async () => {
        const code = codeMatchingNothing(secret, T);
        const r = await run([flag, who, code, '--at', String(T)]);
        expect(r.code).toBe(1);
        expect(r.json).toMatchObject({ accepted: false, matchedStep: null, offsetSeconds: null, verdict: 'no-match', replayed: false });
        expect(r.json.reasons.join('\n')).toMatch(/no match within ±10 steps/);
      });

      it('--window widens the search', async () => {
        const [code] = oathtoolTotp(secret, T - 600);
        expect((await judge(flag, who, code)).matchedStep).toBeNull();
        expect(await judge(flag, who, code, { window: 25 })).toMatchObject({ matchedStep: -20, offsetSeconds: -600, window: 25 });
      });

      it('a correct code already in TOTPUsedOTPs is replayed and rejected; verify leaves the list alone', async () => {
        const [code] = oathtoolTotp(secret, T);
        const identity = v.shape === '8' ? (flag === '--admin' ? 'alice@example.com' : clientEmail) : 'WHMCS:';
        const seeded = phpSerialize({ [md5(identity + code)]: T - 20 });
        await setConfigValue(t.knex, 'TOTPUsedOTPs', seeded);
        try {
          const r = await run([flag, who, code, '--at', String(T)]);
          expect(r.code).toBe(1);
          expect(r.json).toMatchObject({ accepted: false, codeMatches: true, matchedStep: 0, replayed: true });
          expect(r.json.replay).toMatchObject({ identity, identityConfirmed: v.shape === '8', key: md5(identity + code), usedAt: T - 20, ageSeconds: 20, cache: 'ok' });
          expect(r.json.reasons.join('\n')).toMatch(/already used 20 s ago/);
          const row = await t.knex('tblconfiguration').where({ setting: 'TOTPUsedOTPs' }).first('value');
          expect(row.value).toBe(seeded);
        } finally {
          await t.knex('tblconfiguration').where({ setting: 'TOTPUsedOTPs' }).delete();
        }
      });
    });
  }

  it('the replay key is per account on 8.x: another account\'s entry does not count', async () => {
    if (v.shape !== '8') return;
    const [code] = oathtoolTotp(SECRET, T);
    await setConfigValue(t.knex, 'TOTPUsedOTPs', phpSerialize({ [md5(clientEmail + code)]: T }));
    try {
      expect(await judge('--admin', 'alice', code)).toMatchObject({ accepted: true, replayed: false });
    } finally {
      await t.knex('tblconfiguration').where({ setting: 'TOTPUsedOTPs' }).delete();
    }
  });

  it('an unreadable replay list counts as empty, as in WHMCS', async () => {
    const [code] = oathtoolTotp(SECRET, T);
    await setConfigValue(t.knex, 'TOTPUsedOTPs', 'a:1:{garbage');
    try {
      const r = await judge('--admin', 'alice', code);
      expect(r).toMatchObject({ accepted: true, replayed: false });
      expect(r.replay.cache).toBe('unreadable');
      expect(r.notes.join('\n')).toMatch(/treats the replay list as empty/);
    } finally {
      await t.knex('tblconfiguration').where({ setting: 'TOTPUsedOTPs' }).delete();
    }
  });

  if (v.version.startsWith('8.12')) {
    it('--show-secrets prints the key; the table output explains the verdict', async () => {
      const [code] = oathtoolTotp(SECRET, T - 90);
      const r = await run(['--admin', 'alice', code, '--at', String(T), '--show-secrets']);
      expect(r.json.secret.value).toBe(SECRET);
      const h = await runCli(['--whmcs-dir', t.whmcsDir, 'verify', '--admin', 'alice', code, '--at', String(T), '--format', 'table']);
      expect(h.code).toBe(1);
      expect(h.stdout).toContain('REJECTED');
      expect(h.stdout).toContain('-3 (90 s ago)');
      expect(h.stdout).not.toContain(SECRET);
    });
  }

  it('another module or none: rejected with the reason (exit 1)', async () => {
    const duo = await run(['--admin', 'duo', '123456']);
    expect(duo.code).toBe(1);
    expect(duo.json).toMatchObject({ accepted: false, module: 'duosecurity', matchedStep: null });
    expect(duo.json.reasons.join('\n')).toMatch(/uses Duo Security, not Time-Based Tokens/);
    const none = await judge('--admin', 'nobody', '123456');
    expect(none.accepted).toBe(false);
    expect(none.reasons.join('\n')).toMatch(/has no second factor/);
  });

  it('a TOTP account without a stored secret: rejected with the reason', async () => {
    const r = await judge('--admin', 'nosecret', '123456');
    expect(r).toMatchObject({ accepted: false, verdict: 'no-secret' });
    expect(r.reasons.join('\n')).toMatch(/No TOTP secret is stored/);
  });

  it('verify writes nothing', async () => {
    const snapshot = async () =>
      JSON.stringify([
        await t.knex('tblconfiguration').orderBy('id').select(),
        await t.knex('tbladmins').orderBy('id').select('id', 'authmodule', 'authdata'),
        await t.knex('tblactivitylog').count({ n: '*' }),
      ]);
    const before = await snapshot();
    const [code] = oathtoolTotp(SECRET, Math.floor(Date.now() / 1000));
    expect((await run(['--admin', 'alice', code])).json.accepted).toBe(true);
    expect(await snapshot()).toBe(before);
  });

  if (v.shape === '8') {
    it('reports recent lockout bans and the user\'s failed-attempt counters', async () => {
      const cfg = { secret: SECRET, backupcode: BACKUP, attempts: 3, backup_attempts: 1 };
      const id = await insertUser(t.knex, { email: 'locked@example.com', second_factor: 'totp', second_factor_config: encodeAccountConfig(cfg, 'json', t.ccHash) });
      const local = (unix: number) => {
        const d = new Date(unix * 1000);
        const p = (n: number) => String(n).padStart(2, '0');
        return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
      };
      await t.knex('tblbannedips').insert([
        { ip: '198.51.100.7', reason: 'Login Attempts Exceeded', expires: local(T + 600) },
        { ip: '198.51.100.8', reason: 'Login Attempts Exceeded', expires: local(T - 3600) },
        { ip: '198.51.100.9', reason: 'Login Attempts Exceeded', expires: local(T - 3 * 86_400) },
        { ip: '198.51.100.10', reason: 'Spam', expires: local(T + 600) },
      ]);
      const [code] = oathtoolTotp(SECRET, T);
      const r = await judge('--user', String(id), code);
      expect(r.accepted).toBe(true);
      expect(r.lockout).toEqual({
        attempts: 3,
        backupAttempts: 1,
        bans: [
          { ip: '198.51.100.7', expires: local(T + 600), active: true },
          { ip: '198.51.100.8', expires: local(T - 3600), active: false },
        ],
      });
      expect(r.notes.join('\n')).toMatch(/1 IP is banned .*198\.51\.100\.7/);
      expect(r.notes.join('\n')).toMatch(/3 failed second-factor attempts/);
    });

    it('a user whose TOTP module is off for clients: accepted, with a note that WHMCS skips it', async () => {
      await setConfigValue(t.knex, '2fasettings', phpSerialize({ modules: { totp: { clientenabled: 0, adminenabled: 1 } }, forceclient: 0, forceadmin: 0 }));
      try {
        const [code] = oathtoolTotp(SECRET2, T);
        const r = await judge('--user', clientEmail, code);
        expect(r.moduleEnabled).toEqual({ totpForAudience: false, anyForAudience: false, settingsReadable: true });
        expect(r.notes.join('\n')).toMatch(/WHMCS 8 skips this user's second factor/);
      } finally {
        await setConfigValue(t.knex, '2fasettings', 'a:3:{s:7:"modules";a:1:{s:4:"totp";a:2:{s:13:"clientenabled";i:1;s:12:"adminenabled";i:1;}}s:11:"forceclient";i:0;s:10:"forceadmin";i:0;}');
      }
    });
  }

  if (v.version.startsWith('8.12')) {
    it('an AES config that does not decrypt with this cc_encryption_hash: exit 6', async () => {
      await insertAdmin(t.knex, { username: 'migrated', authmodule: 'totp', authdata: encodeAccountConfig({ secret: SECRET, backupcode: BACKUP }, 'aes', 'another-hash-from-the-old-server') });
      const r = await run(['--admin', 'migrated', '123456']);
      expect(r.code).toBe(6);
      expect(r.stderr).toMatch(/does not decrypt with this cc_encryption_hash/);
    });
  }
}

describe('usage', () => {
  it('bad --at and --window are usage errors (exit 2)', async () => {
    expect((await runCli(['--db', 'sqlite:/nonexistent', 'verify', '--admin', 'a', '123456', '--at', 'yesterday'])).code).toBe(2);
    expect((await runCli(['--db', 'sqlite:/nonexistent', 'verify', '--admin', 'a', '123456', '--window', '-1'])).code).toBe(2);
  });
});

describe('which clock is off', () => {
  it('combines the step offset with the NTP offset', () => {
    // Code from 90 s ago, server right → device slow.
    expect(whichClock(-90, 0.2)).toMatchObject({ culprit: 'device', deviceAheadSeconds: -90.2 });
    // Code from 90 s ahead, server 90 s slow (NTP says add +90) → server.
    expect(whichClock(90, 90)).toMatchObject({ culprit: 'server', serverAheadSeconds: -90 });
    expect(whichClock(0, 0)).toMatchObject({ culprit: 'neither' });
    expect(whichClock(-90, -200)).toMatchObject({ culprit: 'both' });
    // One step of quantisation (a step turned between typing and checking) does not blame the device.
    expect(whichClock(60, 90)).toMatchObject({ culprit: 'server' });
    expect(whichClock(120, 90)).toMatchObject({ culprit: 'server' });
    expect(whichClock(150, 90)).toMatchObject({ culprit: 'both' });
    expect(whichClock(null, null)).toMatchObject({ culprit: 'unknown' });
  });
});

describeWithPeer(['oathtool'], 'verify --ntp', () => {
  let t: TestDb;
  let ntp: FakeNtp;
  beforeAll(async () => {
    t = await createTestDb('sqlite', '8', '8.12.1-release.1');
    await insertAdmin(t.knex, { username: 'alice', email: 'alice@example.com', authmodule: 'totp', authdata: encodeAccountConfig({ secret: SECRET, backupcode: BACKUP }, 'aes', t.ccHash) });
    // True time (per this NTP server) is 90 s ahead of this machine: the server is 90 s slow.
    ntp = await startFakeNtp((req) => reply(req, { offset: 90 }));
  });
  afterAll(async () => {
    await ntp?.close();
    await t?.drop();
  });

  it('a device on true time looks 90 s fast; NTP shows the server is the one that is off', async () => {
    const now = Math.floor(Date.now() / 1000);
    const [code] = oathtoolTotp(SECRET, now + 90);
    const r = await runCli(['--whmcs-dir', t.whmcsDir, 'verify', '--admin', 'alice', code, '--ntp', `127.0.0.1:${ntp.port}`, '--format', 'json']);
    expect(r.code).toBe(1);
    expect([2, 3, 4]).toContain(r.json.matchedStep);
    expect(r.json.clock.ntpOffset).toBeGreaterThan(89);
    expect(r.json.clock.ntpOffset).toBeLessThan(91);
    expect(r.json.clock.culprit).toBe('server');
    expect(r.json.clock.summary).toMatch(/this server's clock is 90\.\d s slow/);
  });
});
