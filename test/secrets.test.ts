/**
 * No secret reaches the terminal unless asked for. Every command runs in every output format it
 * accepts against three installs (8.12 AES, 8.7 JSON, 7.x serialized) seeded with known secrets:
 * TOTP secrets (base32, and the hex key inside 7.x tokendata), the Duo Client Secret, the Yubico
 * secret key, the database password (a MariaDB user made for this test, read from
 * configuration.php) and cc_encryption_hash. None may appear in stdout or stderr without
 * --show-secrets; the database password and cc_encryption_hash never. By design `enroll` shows the
 * secret it enrols and `backup-code` the code it issues — nothing older.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, describeBackends, mysqlServer, tempDir, type TestDb } from './helpers/db.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { reply, startFakeNtp, type FakeNtp } from './helpers/ntp-fake.js';
import { insertAdmin, insertClient, insertUser, setConfigValue } from '../src/whmcs/schema/seed.js';
import { encodeAccountConfig } from '../src/whmcs/accounts/account-config.js';
import { hashBackupCode } from '../src/whmcs/crypto/backup-code-hash.js';
import { whmcsEncrypt } from '../src/whmcs/crypto/whmcs-encrypt.js';
import { phpSerialize } from '../src/whmcs/php/php-serialize.js';
import { encodeTokendata } from '../src/services/totp/stored-secret.js';
import { sonataBase32Decode } from '../src/services/totp/base32-secret.js';
import type { Shape } from '../src/whmcs/schema/ddl.js';
import { totpAt } from './helpers/whmcs-oracles.js';
import { Journal, PARTS } from '../src/whmcs/history/journal.js';

const ADMIN_SECRET = 'KRUGS4ZANFZSAYLE';
const CLIENT_SECRET_TOTP = 'MFRGGZDFMZTWQ2LK';
const DUO_ID = 'DIWJ8X6AEYOR5OMC6TQ1';
const DUO_SECRET = 'Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep';
const YUBICO_SECRET = 'c2VjcmV0LWtleS1vZi15dWJpY28tYXBp';
const DB_PASSWORD = `Db-Pass-${randomBytes(6).toString('hex')}`;
const CC_HASH = 'Qm9uSm91ckxlTW9uZGVTZWNyZXRLZXlGb3JXSE1DU3Rlc3Q5ODc2NTQzMjEwAbCd';
const BACKUP_HASH = createHash('sha1').update('fedcba9876543210').digest('hex');

const hexOf = (b32: string) => sonataBase32Decode(b32).toString('hex');
const codeNow = (b32: string) => totpAt(sonataBase32Decode(b32), Math.floor(Date.now() / 1000));

interface Install {
  name: string;
  shape: Shape;
  version: string;
  t: TestDb;
  dir: string;
  user: string;
  /** Exact stored account configs: printing any of them is printing a secret. */
  stored: string[];
}

const INSTALLS: Array<Pick<Install, 'name' | 'shape' | 'version'>> = [
  { name: 'WHMCS 8.12 (AES)', shape: '8', version: '8.12.1-release.1' },
  { name: 'WHMCS 8.7 (JSON)', shape: '8', version: '8.7.2-release.1' },
  { name: 'WHMCS 7.8 (serialized)', shape: '7', version: '7.8.3-release.1' },
];

async function seed(base: Pick<Install, 'name' | 'shape' | 'version'>): Promise<Install> {
  const t = await createTestDb('mysql', base.shape, base.version, CC_HASH);
  const dbName = new URL(t.url).pathname.slice(1);
  const aes = base.version.startsWith('8.12');
  const config = (secret: string) =>
    base.shape === '7'
      ? phpSerialize({ tokendata: encodeTokendata(sonataBase32Decode(secret)), backupcode: BACKUP_HASH })
      : encodeAccountConfig({ secret, backupcode: BACKUP_HASH }, aes ? 'aes' : 'json', CC_HASH);
  const alice = config(ADMIN_SECRET);
  const carol = config(CLIENT_SECRET_TOTP);
  await insertAdmin(t.knex, { username: 'alice', email: 'alice@example.com', authmodule: 'totp', authdata: alice });
  await insertAdmin(t.knex, { username: 'dan', authmodule: 'duosecurity', authdata: base.shape === '7' ? phpSerialize({ backupcode: BACKUP_HASH }) : encodeAccountConfig({ backupcode: BACKUP_HASH, duo_auth_identifier: 'email' }, aes ? 'aes' : 'json', CC_HASH) });
  await insertAdmin(t.knex, { username: 'yuri', authmodule: 'yubico', authdata: base.shape === '7' ? phpSerialize({ yubicoprefix: 'x'.repeat(40), backupcode: BACKUP_HASH }) : encodeAccountConfig({ yubicoprefix: 'y'.repeat(40), backupcode: BACKUP_HASH }, aes ? 'aes' : 'json', CC_HASH) });
  await insertAdmin(t.knex, { username: 'bob' });
  if (base.shape === '8') await insertUser(t.knex, { email: 'carol@example.com', second_factor: 'totp', second_factor_config: carol });
  else await insertClient(t.knex, { email: 'carol@example.com', authmodule: 'totp', authdata: carol });
  await setConfigValue(
    t.knex,
    '2fasettings',
    phpSerialize({
      modules: {
        totp: { clientenabled: 1, adminenabled: 1 },
        duosecurity: { integrationKey: whmcsEncrypt(DUO_ID, CC_HASH), secretKey: whmcsEncrypt(DUO_SECRET, CC_HASH), apiHostname: 'api-1a2b3c4d.duosecurity.com', clientenabled: 0, adminenabled: 1 },
        yubico: { clientid: '87654', secretkey: YUBICO_SECRET, clientenabled: 0, adminenabled: 1 },
      },
      forceclient: 0,
      forceadmin: 0,
    }),
  );
  // The tool connects as a user with a real password, read from configuration.php.
  const user = `w2fa_sec_${randomBytes(4).toString('hex')}`;
  await t.knex.raw(`CREATE USER ?@'%' IDENTIFIED BY ?`, [user, DB_PASSWORD]);
  await t.knex.raw(`GRANT SELECT, INSERT, UPDATE, DELETE ON \`${dbName}\`.* TO ?@'%'`, [user]);
  // The history tables, created once by a user that may (this one may not CREATE).
  await new Journal(t.knex, CC_HASH, 'secrets').ensure();
  const s = mysqlServer();
  const dir = tempDir();
  writeFileSync(
    join(dir, 'configuration.php'),
    `<?php\n$license = 'WHMCS-x';\n$db_host = '${s.host}';\n$db_port = '${s.port}';\n$db_username = '${user}';\n$db_password = '${DB_PASSWORD}';\n$db_name = '${dbName}';\n$cc_encryption_hash = '${CC_HASH}';\n$mysql_charset = 'utf8';\n`,
  );
  const stored = [alice, carol];
  if (base.shape === '7') stored.push(...[alice, carol].map((c) => /"tokendata";s:\d+:"([^"]+)"/.exec(c)![1]!));
  return { ...base, t, dir, user, stored };
}

/** What must never be printed: with --show-secrets only the last two stay forbidden. */
function secretsOf(i: Install): { hidden: string[]; never: string[] } {
  return {
    hidden: [ADMIN_SECRET, CLIENT_SECRET_TOTP, hexOf(ADMIN_SECRET), hexOf(CLIENT_SECRET_TOTP), DUO_SECRET, YUBICO_SECRET, ...i.stored],
    never: [DB_PASSWORD, CC_HASH],
  };
}

function expectNoSecrets(r: CliResult, i: Install, args: string[], opts: { show?: boolean; allowed?: string[] } = {}): void {
  const { hidden, never } = secretsOf(i);
  const out = r.stdout + '\n' + r.stderr;
  for (const s of [...never, ...(opts.show ? [] : hidden)]) {
    if (opts.allowed?.includes(s)) continue;
    expect(out.includes(s), `${i.name}: \`whmcs-2fa ${args.join(' ')}\` (exit ${r.code}) printed a secret (${s.slice(0, 6)}…)\n${out.slice(0, 3000)}`).toBe(false);
  }
  expect(out, `${i.name}: ${args.join(' ')}`).not.toMatch(/^\s+at .+:\d+/m);
}

type Fmt = 'table' | 'json' | 'yaml' | 'csv' | 'nagios' | 'prometheus';
const BASE_FORMATS: Fmt[] = ['table', 'json', 'yaml'];

/** Runs with a bounded number of processes at a time. */
async function inParallel<T>(jobs: Array<() => Promise<T>>, limit = 4): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < jobs.length) {
        const k = next++;
        out[k] = await jobs[k]!();
      }
    }),
  );
  return out;
}

describeBackends(
  'secrets stay secret',
  () => {
    const installs: Install[] = [];
    let ntp: FakeNtp;
    let stateHome: string;
    let totalRuns = 0;

    beforeAll(async () => {
      for (const b of INSTALLS) installs.push(await seed(b));
      ntp = await startFakeNtp((req) => reply(req));
      stateHome = tempDir('whmcs2fa-secrets-state-');
    }, 120_000);
    afterAll(async () => {
      await ntp?.close();
      for (const i of installs) {
        await i.t.knex.raw(`DROP USER IF EXISTS ?@'%'`, [i.user]).catch(() => {});
        await i.t.drop();
      }
      console.log(`secrets: ${totalRuns} command runs checked`);
    });

    const run = async (i: Install, args: string[], env: Record<string, string | undefined> = {}) => {
      totalRuns++;
      return runCli(['--whmcs-dir', i.dir, ...args], { env: { XDG_STATE_HOME: stateHome, ...env }, timeoutMs: 60_000 });
    };

    /** Read-only and --dry-run commands, with the formats each accepts. */
    const readOnly = (i: Install): Array<{ args: string[]; formats: Fmt[]; exit?: number[] }> => {
      const cf = i.shape === '8' ? '--user' : '--client';
      return [
        { args: ['status'], formats: BASE_FORMATS },
        { args: ['accounts'], formats: [...BASE_FORMATS, 'csv'] },
        { args: ['accounts', '--admins', '--module', 'totp'], formats: [...BASE_FORMATS, 'csv'] },
        { args: ['accounts', '--admin', 'alice'], formats: [...BASE_FORMATS, 'csv'] },
        { args: ['accounts', cf, 'carol@example.com'], formats: [...BASE_FORMATS, 'csv'] },
        { args: ['enforce'], formats: BASE_FORMATS },
        { args: ['undo', '--list'], formats: BASE_FORMATS },
        { args: ['verify', '--admin', 'alice', '@CODE:admin'], formats: BASE_FORMATS },
        { args: ['verify', cf, 'carol@example.com', '@CODE:client'], formats: BASE_FORMATS },
        { args: ['verify', '--admin', 'alice', '000000'], formats: BASE_FORMATS, exit: [1] },
        { args: ['verify', '--admin', 'dan', '123456'], formats: BASE_FORMATS, exit: [1] },
        { args: ['activate', 'duo', '--admins', '--dry-run'], formats: BASE_FORMATS },
        { args: ['activate', 'duo', '--clients', '--dry-run'], formats: BASE_FORMATS },
        { args: ['activate', 'yubikey', '--clients', '--dry-run'], formats: BASE_FORMATS },
        { args: ['activate', 'totp', '--dry-run'], formats: BASE_FORMATS },
        { args: ['deactivate', 'duo', '--admins', '--force', '--dry-run'], formats: BASE_FORMATS },
        { args: ['deactivate', 'yubikey', '--dry-run', '--force'], formats: BASE_FORMATS },
        { args: ['enforce', '--admins', 'on', '--dry-run'], formats: BASE_FORMATS },
        { args: ['reset', '--admin', 'alice', '--reason', 'drill', '--dry-run'], formats: BASE_FORMATS },
        { args: ['reset', cf, 'carol@example.com', '--dry-run'], formats: BASE_FORMATS },
        { args: ['reset', '--module', 'totp', '--admins', '--reason', 'drill', '--dry-run'], formats: BASE_FORMATS },
        { args: ['backup-code', '--admin', 'alice', '--dry-run'], formats: BASE_FORMATS },
        { args: ['backup-code', '--all-admins', '--dry-run'], formats: BASE_FORMATS },
        { args: ['enroll', '--admin', 'alice', '--force', '--secret', 'GEZDGNBVGY3TQOJQ', '--code', '@CODE:new', '--dry-run'], formats: BASE_FORMATS },
        { args: ['clock-check', '--server', '@NTP', '--timeout', '2', '--samples', '1'], formats: [...BASE_FORMATS, 'csv', 'nagios'] },
        { args: ['completion', 'bash'], formats: ['table'] },
        { args: ['audit', '--clock', '--server', '@NTP', '--clock-timeout', '2', '--samples', '1'], formats: [...BASE_FORMATS, 'csv', 'nagios', 'prometheus'], exit: [0, 1, 2] },
      ];
    };

    const fill = async (args: string[]) =>
      Promise.all(
        args.map(async (a) =>
          a === '@NTP'
            ? `127.0.0.1:${ntp.port}`
            : a === '@CODE:admin'
              ? codeNow(ADMIN_SECRET)
              : a === '@CODE:client'
                ? codeNow(CLIENT_SECRET_TOTP)
                : a === '@CODE:new'
                  ? codeNow('GEZDGNBVGY3TQOJQ')
                  : a,
        ),
      );

    for (const [k, b] of INSTALLS.entries()) {
      describe(b.name, () => {
        it('read-only and --dry-run commands, every format: no secret printed', async () => {
          const i = installs[k]!;
          const jobs = readOnly(i).flatMap((c) =>
            c.formats.map((f) => async () => {
              const args = [...(await fill(c.args)), '--format', f];
              const r = await run(i, args);
              expect(c.exit ?? [0], `${args.join(' ')}\n${r.stderr}`).toContain(r.code);
              expectNoSecrets(r, i, args);
              return r;
            }),
          );
          await inParallel(jobs);
        }, 240_000);

        it('--show-secrets reveals them where asked (so the check above is not vacuous)', async () => {
          const i = installs[k]!;
          const status = await run(i, ['status', '--show-secrets', '--format', 'json']);
          expect(status.code).toBe(0);
          expect(status.stdout).toContain(DUO_SECRET);
          expect(status.stdout).toContain(YUBICO_SECRET);
          const table = await run(i, ['status', '--show-secrets', '--format', 'table']);
          expect(table.stdout).toContain(DUO_SECRET);
          const verify = await run(i, ['verify', '--admin', 'alice', await codeNow(ADMIN_SECRET), '--show-secrets', '--format', 'table']);
          expect(verify.code, verify.stderr).toBe(0);
          expect(verify.stdout).toContain(ADMIN_SECRET);
          for (const r of [status, table, verify]) expectNoSecrets(r, i, ['--show-secrets'], { show: true });
        });

        it('changes in every format: only the new backup code and the enrolled secret are shown; the history holds none in clear', async () => {
          const i = installs[k]!;
          const cf = i.shape === '8' ? '--user' : '--client';
          for (const f of BASE_FORMATS) {
            // backup-code: the new code, and nothing else secret.
            const bc = await run(i, ['backup-code', '--admin', 'alice', '--yes', '--format', f]);
            expect(bc.code, bc.stderr).toBe(0);
            expectNoSecrets(bc, i, ['backup-code', f]);
            const codes = [...bc.stdout.matchAll(/\b[0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4}\b|\b[0-9a-f]{16}\b/g)].map((m) => m[0]);
            expect(codes.length, bc.stdout).toBeGreaterThan(0);
            const stored = String((await i.t.knex('tbladmins').where({ username: 'alice' }).first('authdata')).authdata);
            expect(stored).not.toContain(BACKUP_HASH);
            expect(new Set(codes.map((c) => hashBackupCode(c))).size, 'one code, printed once per place').toBe(1);

            // enroll: the secret it enrols is its output; older secrets are not.
            const fresh = `${'GEZDGNBVGY3TQOJQ'.slice(0, 12)}${['MFRA', 'MZXW', 'NBSW'][BASE_FORMATS.indexOf(f)]}`;
            const en = await run(i, ['enroll', '--admin', 'bob', '--force', '--secret', fresh, '--code', await codeNow(fresh), '--yes', '--format', f]);
            expect(en.code, en.stderr).toBe(0);
            expect(en.stdout).toContain(fresh);
            expectNoSecrets(en, i, ['enroll', f]);

            for (const args of [
              ['undo', '--yes'],
              ['activate', 'yubikey', '--clients', '--yes'],
              ['deactivate', 'duo', '--admins', '--force', '--yes'],
              ['undo', '--yes'],
              ['undo', '--yes'],
              ['reset', cf, 'carol@example.com', '--yes'],
              ['undo', '--yes'],
            ]) {
              const r = await run(i, [...args, '--format', f]);
              expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
              expectNoSecrets(r, i, [...args, f]);
            }
          }

          // The history holds previous values: encrypted, so no secret is in it in clear.
          const parts = (await i.t.knex(PARTS).pluck('data')) as string[];
          expect(parts.length).toBeGreaterThan(0);
          const { hidden, never } = secretsOf(i);
          for (const secret of [...hidden, ...never]) expect(parts.some((d) => d.includes(secret)), `${i.name}: a secret in the history (${secret.slice(0, 6)}…)`).toBe(false);
        }, 240_000);
      });
    }

    describe('a password on the command line', () => {
      it('works but warns, and is never echoed — not on success, a wrong password, or a bad URL', async () => {
        const i = installs[0]!;
        const s = mysqlServer();
        const dbName = new URL(i.t.url).pathname.slice(1);
        const url = (pw: string, rest = `${s.host}:${s.port}/${dbName}`) => `mysql://${i.user}:${encodeURIComponent(pw)}@${rest}`;
        const ok = await runCli(['--db', url(DB_PASSWORD), 'status', '--format', 'json'], { env: { XDG_STATE_HOME: stateHome } });
        expect(ok.code, ok.stderr).toBe(0);
        expect(ok.stderr).toMatch(/^Warning: a password in --db is visible to other users in the process list — use \$WHMCS_DB_PASSWORD, the prompt, or --whmcs-dir instead$/m);
        expect(ok.stdout + ok.stderr).not.toContain(DB_PASSWORD);

        const wrong = await runCli(['--db', url('Not-The-Password-77'), 'status'], { env: { XDG_STATE_HOME: stateHome } });
        expect(wrong.code).toBe(5);
        expect(wrong.stderr).toMatch(/Warning: a password in --db is visible/);
        expect(wrong.stderr).toMatch(/^Error: access denied for mysql:\/\/w2fa_sec_\w+@/m);
        expect(wrong.stdout + wrong.stderr).not.toContain('Not-The-Password-77');

        const malformed = await runCli(['--db', url(DB_PASSWORD, `${s.host}:notaport/${dbName}`), 'status'], { env: { XDG_STATE_HOME: stateHome } });
        expect(malformed.code).toBe(2);
        expect(malformed.stdout + malformed.stderr).not.toContain(DB_PASSWORD);

        const change = await runCli(['--db', url(DB_PASSWORD), 'enforce', '--clients', 'on', '--dry-run', '--format', 'table'], { env: { XDG_STATE_HOME: stateHome, WHMCS_CC_ENCRYPTION_HASH: CC_HASH } });
        expect(change.code, change.stderr).toBe(0);
        expect(change.stderr).toMatch(/Warning: a password in --db is visible/);
        expect(change.stdout + change.stderr).not.toContain(DB_PASSWORD);
        expect(change.stdout + change.stderr).not.toContain(CC_HASH);
      });
    });
  },
  ['mysql'],
);
