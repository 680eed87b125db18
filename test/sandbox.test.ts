import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/db.js';
import { openDb } from '../src/whmcs/connection/db.js';
import { decodeAccountConfig } from '../src/whmcs/accounts/account-config.js';
import { parseConfigurationPhp } from '../src/whmcs/connection/configuration-php.js';
import { readFileSync } from 'node:fs';

describe('sandbox (README quick start, no MySQL)', () => {
  it('creates a WHMCS-8 install that status reads through --whmcs-dir', async () => {
    const dir = join(tempDir(), 'sbx');
    const made = await runCli(['sandbox', dir, '--format', 'json']);
    expect(made.code).toBe(0);
    expect(made.json.admins.map((a: any) => a.module)).toEqual(expect.arrayContaining(['totp', 'duosecurity', 'yubico', '0', '']));

    const r = await runCli(['--whmcs-dir', dir, 'status', '--format', 'json']);
    expect(r.code).toBe(0);
    expect(r.json.whmcs.shape).toBe('8');
    expect(r.json.modules.map((m: any) => m.name)).toEqual(['totp', 'duosecurity', 'yubico']);
    expect(r.json.accounts.admins.zeroModule).toBe(1);
    // The sandbox's Duo keys decrypt to valid Universal Prompt lengths: no Duo key warning.
    expect(r.json.warnings.join('\n')).not.toMatch(/Duo Security Client/);

    // Every stored config really decodes with the generated cc_encryption_hash.
    const conf = parseConfigurationPhp(readFileSync(join(dir, 'configuration.php')));
    expect(conf.cc_encryption_hash).toMatch(/^[A-Za-z0-9]{64}$/);
    const db = await openDb({ kind: 'sqlite', file: join(dir, 'whmcs-sandbox.sqlite') });
    const users = await db.knex('tblusers').select('email', 'second_factor_config');
    await db.close();
    const formats = users.map((u: any) => decodeAccountConfig(u.second_factor_config, conf.cc_encryption_hash!).format);
    expect(new Set(formats)).toEqual(new Set(['aes', 'json', 'serialized', 'empty']));
    expect(users.every((u: any) => !decodeAccountConfig(u.second_factor_config, conf.cc_encryption_hash!).undecryptable)).toBe(true);
  });

  it('refuses to overwrite an existing sandbox without --force', async () => {
    const dir = tempDir();
    expect((await runCli(['sandbox', dir])).code).toBe(0);
    const again = await runCli(['sandbox', dir]);
    expect(again.code).toBe(4);
    expect((await runCli(['sandbox', dir, '--force'])).code).toBe(0);
  });
});
