import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, describeBackends, type Backend, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { oathtoolTotp } from './helpers/oathtool.js';
import { describeWithPeer } from './helpers/peers.js';
import { zbarDecode } from './helpers/qr-image.js';
import { renderTerminalQr } from './helpers/terminal-image.js';
import { insertAdmin, insertClient, insertUser, setConfigValue, FRESH_INSTALL_2FA } from '../src/whmcs/schema/seed.js';
import { decodeAccountConfig } from '../src/whmcs/accounts/account-config.js';
import { hashBackupCode } from '../src/whmcs/crypto/backup-code-hash.js';
import { phpSerialize, phpUnserialize } from '../src/whmcs/php/php-serialize.js';
import { generateTotpSecret, sonataBase32Decode } from '../src/services/totp/base32-secret.js';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const now = () => Math.floor(Date.now() / 1000);
const codeNow = (secret: string) => oathtoolTotp(secret, now())[0]!;

type Variant = { name: string; shape: '7' | '8'; version: string; format: 'json' | 'aes' | 'serialized' };
const VARIANTS: Variant[] = [
  { name: 'WHMCS 8.7', shape: '8', version: '8.7.2-release.1', format: 'json' },
  { name: 'WHMCS 8.12', shape: '8', version: '8.12.1-release.1', format: 'aes' },
  { name: 'WHMCS 7.8', shape: '7', version: '7.8.3-release.1', format: 'serialized' },
];

async function usedOtps(t: TestDb): Promise<Record<string, number> | null> {
  const row = await t.knex('tblconfiguration').where({ setting: 'TOTPUsedOTPs' }).first('value');
  return row ? (phpUnserialize(String(row.value)) as Record<string, number>) : null;
}

async function accountRow(t: TestDb, table: string, id: number) {
  return t.knex(table).where({ id }).first();
}

describeWithPeer(['oathtool'], 'enroll (scripts, no TTY)', () => {
  describeBackends('enroll', (backend) => {
    for (const v of VARIANTS) describe(v.name, () => formats(backend, v));
    describe('safety rules (WHMCS 8.12)', () => rules(backend));
  });
});

function formats(backend: Backend, v: Variant) {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb(backend, v.shape, v.version);
  });
  afterAll(() => t?.drop());
  const cli = (args: string[]) => runCli(['--whmcs-dir', t.whmcsDir, ...args]);

  it('enrols an admin with --secret --code --yes, in this install\'s format; verify and undo agree', async () => {
    const id = await insertAdmin(t.knex, { username: 'alice', email: 'alice@example.com' });
    const secret = generateTotpSecret();
    const code = codeNow(secret);
    const before = now();
    const r = await runCli(['--whmcs-dir', t.whmcsDir, 'enroll', '--admin', 'alice', '--code', code, '--yes', '--format', 'json', '--reason', 'new laptop'], { env: { WHMCS_TOTP_SECRET: secret } });
    // On AES, a fresh database holds nothing that proves cc_encryption_hash: said, then written.
    expect(r.stderr).toBe(
      v.format === 'aes' ? "Warning: encrypting the new TOTP secret: nothing in the database was encrypted with cc_encryption_hash yet (no AES second-factor data, Duo keys or encrypted passwords), so it cannot be proven — make sure it is the one in WHMCS's own configuration.php\n" : '',
    );
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({
      enrolled: true,
      dryRun: false,
      account: { kind: 'admin', id, name: 'alice', email: 'alice@example.com' },
      module: 'totp',
      secret,
      otpauthUri: `otpauth://totp/billing.example.com:alice?secret=${secret}&issuer=billing.example.com`,
      issuer: 'billing.example.com',
      label: 'alice',
      imported: true,
      configFormat: v.format,
      replaced: null,
      replayCache: { recorded: v.shape === '8', identity: v.shape === '8' ? 'alice@example.com' : null },
      totpEnabled: true,
      activated: false,
    });
    expect(r.json.backupCode).toMatch(/^[0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4}$/);
    expect(Math.abs(r.json.activation.matchedStep)).toBeLessThanOrEqual(1);

    const row = await accountRow(t, 'tbladmins', id);
    expect(row.authmodule).toBe('totp');
    const d = decodeAccountConfig(row.authdata, t.ccHash);
    expect(d.format).toBe(v.format);
    expect(d.config.backupcode).toBe(hashBackupCode(r.json.backupCode));
    if (v.shape === '8') {
      expect(Object.keys(d.config)).toEqual(['secret', 'backupcode']);
      expect(d.config.secret).toBe(secret);
    } else {
      expect(Object.keys(d.config)).toEqual(['tokendata', 'backupcode']);
      const token = phpUnserialize(Buffer.from(String(d.config.tokendata), 'base64').toString('utf8'));
      expect(token).toEqual({ tokenkey: sonataBase32Decode(secret).toString('hex'), tokentype: 'TOTP', tokentimer: 30, tokencounter: 1, tokenalgorithm: 'SHA1', user: '' });
    }

    const used = await usedOtps(t);
    if (v.shape === '8') {
      expect(used![md5(`alice@example.com${code}`)]).toBeGreaterThanOrEqual(before);
    } else {
      expect(used).toBeNull();
    }
    const log = await t.knex('tblactivitylog').orderBy('id', 'desc').first();
    expect(log.description).toMatch(/Time-Based Token enrolled for admin 'alice' by whmcs-2fa CLI .* - Reason: new laptop/);
    if (v.shape === '8') expect(Number(log.admin_id)).toBe(id);

    // The activation code is used up on 8.x (WHMCS records it too); the next one is accepted.
    const same = await cli(['verify', '--admin', 'alice', code, '--format', 'json']);
    expect(same.json.replayed).toBe(v.shape === '8');
    const at = now() + 30;
    const next = await cli(['verify', '--admin', 'alice', oathtoolTotp(secret, at)[0]!, '--at', String(at), '--format', 'json']);
    expect(next.code).toBe(0);
    expect(next.json).toMatchObject({ accepted: true, matchedStep: 0, replayed: false });

    const u = await cli(['undo', '--yes', '--format', 'json']);
    expect(u.code).toBe(0);
    expect(await accountRow(t, 'tbladmins', id)).toMatchObject({ authmodule: '', authdata: '' });
    expect(await usedOtps(t)).toBeNull();
  });

  it(`enrols a ${v.shape === '8' ? 'user' : 'client'}: label is the email`, async () => {
    const email = 'bob@example.com';
    const id = v.shape === '8' ? await insertUser(t.knex, { email }) : await insertClient(t.knex, { email });
    const secret = generateTotpSecret();
    const flag = v.shape === '8' ? '--user' : '--client';
    const r = await cli(['enroll', flag, email, '--secret', secret, '--code', codeNow(secret), '--yes', '--format', 'json']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ label: email, otpauthUri: `otpauth://totp/billing.example.com:bob%40example.com?secret=${secret}&issuer=billing.example.com` });
    const row = v.shape === '8' ? await accountRow(t, 'tblusers', id) : await accountRow(t, 'tblclients', id);
    const [mod, data] = v.shape === '8' ? [row.second_factor, row.second_factor_config] : [row.authmodule, row.authdata];
    expect(mod).toBe('totp');
    expect(decodeAccountConfig(data, t.ccHash).config.backupcode).toBe(hashBackupCode(r.json.backupCode));
    const log = await t.knex('tblactivitylog').orderBy('id', 'desc').first();
    expect(log.description).toMatch(v.shape === '8' ? new RegExp(`- User ID: ${id}$`) : new RegExp(`- Client ID: ${id}$`));
    expect(Number(log.userid)).toBe(v.shape === '8' ? 0 : id);
  });
}

function rules(backend: Backend) {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb(backend, '8', '8.12.1-release.1');
  });
  afterAll(() => t?.drop());
  const cli = (args: string[]) => runCli(['--whmcs-dir', t.whmcsDir, ...args]);
  const snapshot = async () =>
    JSON.stringify([
      await t.knex('tblconfiguration').orderBy('id').select(),
      await t.knex('tbladmins').orderBy('id').select('id', 'authmodule', 'authdata'),
      await t.knex('tblusers').orderBy('id').select('id', 'second_factor', 'second_factor_config'),
      await t.knex('tblactivitylog').count({ n: '*' }),
    ]);

  it('without a terminal and without --code: exit 4, nothing written', async () => {
    await insertAdmin(t.knex, { username: 'carol' });
    const before = await snapshot();
    const r = await cli(['enroll', '--admin', 'carol', '--yes']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/no terminal to ask for the first code on/);
    expect(await snapshot()).toBe(before);
  });

  it('--code without --secret is a usage error (exit 2)', async () => {
    const r = await cli(['enroll', '--admin', 'carol', '--code', '123456', '--yes']);
    expect(r.code).toBe(2);
  });

  it('a wrong code: exit 1 with the time-step analysis, nothing written', async () => {
    const secret = generateTotpSecret();
    const before = await snapshot();
    const r = await cli(['enroll', '--admin', 'carol', '--secret', secret, '--code', oathtoolTotp(secret, now() - 90)[0]!, '--yes', '--format', 'json']);
    expect(r.code).toBe(1);
    // 90 s ago is step -3, or -4 if the step turns before the CLI checks it.
    expect(r.stderr).toMatch(/did not match what was expected: this code was valid (90 s|2 min) ago — the device clock is about (90 s|2 min) slow/);
    expect(r.stderr).toMatch(/nothing was written/);
    expect(r.json.error.details).toMatchObject({ verdict: 'past' });
    expect(await snapshot()).toBe(before);
  });

  it('--window 4 accepts that code, with a warning that WHMCS will not', async () => {
    const secret = generateTotpSecret();
    const r = await cli(['enroll', '--admin', 'carol', '--secret', secret, '--code', oathtoolTotp(secret, now() - 90)[0]!, '--window', '4', '--yes', '--format', 'json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/accepted only because of --window 4/);
    expect([-3, -4]).toContain(r.json.activation.matchedStep);
  });

  it('refuses to replace an existing second factor without --force (exit 4); --force replaces it', async () => {
    const id = await insertAdmin(t.knex, { username: 'dave', authmodule: 'duosecurity', authdata: '{"backupcode":"x"}' });
    const secret = generateTotpSecret();
    const before = await snapshot();
    const r = await cli(['enroll', '--admin', 'dave', '--secret', secret, '--code', codeNow(secret), '--yes']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/already has a second factor \(Duo Security\) — pass --force/);
    expect(await snapshot()).toBe(before);
    const f = await cli(['enroll', '--admin', 'dave', '--secret', secret, '--code', codeNow(secret), '--yes', '--force', '--format', 'json']);
    expect(f.code).toBe(0);
    expect(f.json.replaced).toBe('duosecurity');
    expect((await accountRow(t, 'tbladmins', id)).authmodule).toBe('totp');
  });

  it('without --yes and without a terminal: exit 4 after the code check, nothing written', async () => {
    await insertAdmin(t.knex, { username: 'erin' });
    const secret = generateTotpSecret();
    const before = await snapshot();
    const r = await cli(['enroll', '--admin', 'erin', '--secret', secret, '--code', codeNow(secret)]);
    expect(r.code).toBe(4);
    expect(await snapshot()).toBe(before);
  });

  it('--dry-run checks the code, writes nothing and masks the secret', async () => {
    const secret = generateTotpSecret();
    const before = await snapshot();
    const r = await cli(['--dry-run', 'enroll', '--admin', 'erin', '--secret', secret, '--code', codeNow(secret), '--format', 'json']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ enrolled: false, dryRun: true, secret: null, otpauthUri: null, backupCode: null, journalId: null });
    expect(r.stdout).not.toContain(secret);
    const h = await cli(['--dry-run', 'enroll', '--admin', 'erin', '--secret', secret, '--code', codeNow(secret), '--format', 'table']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/Dry run — would enrol admin "erin" \(nothing written\)/);
    expect(h.stdout).toMatch(/authdata: \(empty\) → AES-encrypted JSON \{secret: ••••, backupcode: new\}/);
    expect(await snapshot()).toBe(before);
    const bad = await cli(['--dry-run', 'enroll', '--admin', 'erin', '--secret', secret, '--code', codeMatchingNothing(secret)]);
    expect(bad.code).toBe(1);
  });

  it('--dry-run without a terminal and without a code previews the change: no prompt, no secret, nothing written', async () => {
    await insertAdmin(t.knex, { username: 'preview' });
    const before = await snapshot();
    const r = await cli(['--dry-run', 'enroll', '--admin', 'preview', '--format', 'json']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ enrolled: false, dryRun: true, secret: null, otpauthUri: null, backupCode: null, activation: null, journalId: null });
    const h = await cli(['--dry-run', 'enroll', '--admin', 'preview', '--format', 'table']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/Dry run — would enrol admin "preview" \(nothing written\)/);
    expect(h.stdout).toMatch(/TOTPUsedOTPs: .* → \+1 entry \(the activation code, when enrolling for real\)/);
    expect(h.stdout).not.toMatch(/otpauth:|Secret\s+[A-Z2-7]{16}/);
    expect(await snapshot()).toBe(before);
  });

  it('--secret - reads the secret from stdin and $WHMCS_TOTP_SECRET from the environment, without a warning; a literal --secret warns', async () => {
    const fromStdin = generateTotpSecret();
    await insertAdmin(t.knex, { username: 'stdin' });
    const a = await runCli(['--whmcs-dir', t.whmcsDir, 'enroll', '--admin', 'stdin', '--secret', '-', '--code', codeNow(fromStdin), '--yes', '--format', 'json'], { input: `${fromStdin}\n` });
    expect(a.code).toBe(0);
    expect(a.json.secret).toBe(fromStdin);
    expect(a.stderr).not.toMatch(/process list/);

    const fromEnv = generateTotpSecret();
    await insertAdmin(t.knex, { username: 'env' });
    const b = await runCli(['--whmcs-dir', t.whmcsDir, 'enroll', '--admin', 'env', '--code', codeNow(fromEnv), '--yes', '--format', 'json'], { env: { WHMCS_TOTP_SECRET: fromEnv } });
    expect(b.code).toBe(0);
    expect(b.json.secret).toBe(fromEnv);
    expect(b.stderr).not.toMatch(/process list/);

    const literal = generateTotpSecret();
    await insertAdmin(t.knex, { username: 'literal' });
    const c = await cli(['enroll', '--admin', 'literal', '--secret', literal, '--code', codeNow(literal), '--yes', '--format', 'json']);
    expect(c.code).toBe(0);
    expect(c.stderr).toMatch(/Warning: --secret on the command line is visible to other users in the process list — prefer \$WHMCS_TOTP_SECRET or --secret - \(stdin\)/);

    const empty = await runCli(['--whmcs-dir', t.whmcsDir, 'enroll', '--admin', 'literal', '--secret', '-', '--code', '123456', '--yes']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/^Error: --secret - read nothing from stdin/);
  });

  it('warns when TOTP is off for clients; --activate turns it on in the same change, undo turns it off again', async () => {
    const off = phpSerialize({ modules: { totp: { clientenabled: 0, adminenabled: 1 } }, forceclient: 0, forceadmin: 0 });
    await setConfigValue(t.knex, '2fasettings', off);
    try {
      const id = await insertUser(t.knex, { email: 'frank@example.com' });
      const secret = generateTotpSecret();
      const w = await cli(['--dry-run', 'enroll', '--user', 'frank@example.com', '--secret', secret, '--code', codeNow(secret), '--format', 'json']);
      expect(w.code).toBe(0);
      expect(w.stderr).toMatch(/WHMCS 8 ignores this factor and the user logs in WITHOUT 2FA — pass --activate/);
      expect(w.json.totpEnabled).toBe(false);
      const r = await runCli(['--whmcs-dir', t.whmcsDir, 'enroll', '--user', 'frank@example.com', '--secret', '-', '--code', codeNow(secret), '--activate', '--yes', '--format', 'json'], { input: secret });
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.json).toMatchObject({ activated: true, totpEnabled: true });
      const s = await t.knex('tblconfiguration').where({ setting: '2fasettings' }).first('value');
      expect(phpUnserialize(String(s.value))).toEqual({ modules: { totp: { clientenabled: 1, adminenabled: 1 } }, forceclient: 0, forceadmin: 0 });
      expect((await accountRow(t, 'tblusers', id)).second_factor).toBe('totp');
      expect((await cli(['undo', '--yes'])).code).toBe(0);
      expect((await t.knex('tblconfiguration').where({ setting: '2fasettings' }).first('value')).value).toBe(off);
      expect((await accountRow(t, 'tblusers', id)).second_factor).toBe('');
    } finally {
      await setConfigValue(t.knex, '2fasettings', FRESH_INSTALL_2FA);
    }
  });

  it('the replay list is pruned (> 300 s) and kept within 256 entries, still parseable by WHMCS', async () => {
    const t0 = now();
    const seeded: Record<string, number> = { [md5('old')]: t0 - 1000 };
    for (let i = 0; i < 255; i++) seeded[md5(`fresh${i}`)] = t0 - 100 + (i % 50);
    seeded[md5('oldest-fresh')] = t0 - 200;
    await setConfigValue(t.knex, 'TOTPUsedOTPs', phpSerialize(seeded)); // 257 entries: WHMCS reads that as empty
    await insertAdmin(t.knex, { username: 'gina', email: 'gina@example.com' });
    const secret = generateTotpSecret();
    let code = codeNow(secret);
    let r = await cli(['enroll', '--admin', 'gina', '--secret', secret, '--code', code, '--yes', '--format', 'json']);
    expect(r.code).toBe(0);
    // The 257-entry list was unreadable, so it started again from just this code, as WHMCS would.
    expect(Object.keys((await usedOtps(t))!)).toEqual([md5(`gina@example.com${code}`)]);

    delete seeded[md5('oldest-fresh')]; // 256: readable
    seeded[md5('oldest-fresh')] = t0 - 200;
    delete seeded[md5('old')];
    await setConfigValue(t.knex, 'TOTPUsedOTPs', phpSerialize(seeded));
    code = codeNow(secret);
    r = await cli(['enroll', '--admin', 'gina', '--secret', secret, '--code', code, '--yes', '--force', '--format', 'json']);
    expect(r.code).toBe(0);
    const after = (await usedOtps(t))!;
    expect(Object.keys(after)).toHaveLength(256);
    expect(after[md5(`gina@example.com${code}`)]).toBeGreaterThanOrEqual(t0);
    expect(after[md5('oldest-fresh')]).toBeUndefined();
  });
}

function codeMatchingNothing(secret: string): string {
  const near = new Set(oathtoolTotp(secret, now() - 330, 23));
  for (let i = 0; ; i++) {
    const c = String((i * 104_729 + 13) % 1_000_000).padStart(6, '0');
    if (!near.has(c)) return c;
  }
}

describeWithPeer(['oathtool', 'zbarimg'], 'enroll --format table without a terminal', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb('sqlite', '8', '8.12.1-release.1');
    await insertAdmin(t.knex, { username: 'hank' });
  });
  afterAll(() => t?.drop());

  it('prints the URI, a QR code that scans to it, the secret and the backup code on stdout', async () => {
    const secret = generateTotpSecret();
    const r = await runCli(['--whmcs-dir', t.whmcsDir, 'enroll', '--admin', 'hank', '--secret', secret, '--code', codeNow(secret), '--yes', '--format', 'table']);
    expect(r.code).toBe(0);
    const uri = /otpauth:\/\/\S+/.exec(r.stdout)![0];
    expect(uri).toBe(`otpauth://totp/billing.example.com:hank?secret=${secret}&issuer=billing.example.com`);
    // Not a terminal: plain dark-on-light text, as printed on paper or shown by a light viewer.
    expect(r.stdout).not.toContain('\x1b[');
    expect(zbarDecode(renderTerminalQr(r.stdout, 'light'), 'ppm')).toEqual([uri]);
    expect(r.stdout).toMatch(new RegExp(`Secret\\s+${secret}`));
    expect(r.stdout).toMatch(/Backup code\s+[0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4}/);
  });
});
