import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openDb } from '../connection/db.js';
import { createWhmcsSchema, insertAdmin, insertUser, insertClient, linkUserToClient, setConfigValue } from './seed.js';
import { phpSerialize } from '../php/php-serialize.js';
import { whmcsEncrypt } from '../crypto/whmcs-encrypt.js';
import { encodeAccountConfig } from '../accounts/account-config.js';
import { generateBackupCode, hashBackupCode } from '../crypto/backup-code-hash.js';
import { generateTotpSecret, sonataBase32Decode } from '../../services/totp/base32-secret.js';
import { encodeTokendata } from '../../services/totp/stored-secret.js';
import { yubicoPrefixHash } from '../../services/yubico-client.js';
import { RefusedError } from '../../errors.js';

import { SANDBOX_DB_FILE, SQLITE_CONFIG_VAR } from './sandbox-constants.js';

/**
 * A 2fasettings value with all three stock services configured (Duo's keys encrypted with `ccHash`
 * as WHMCS stores them), admins forced to enrol. The sandbox and the benchmark both seed it.
 */
export function sample2faSettings(ccHash: string, on: { duoClients: boolean; yubico: boolean }): string {
  const flag = (b: boolean) => (b ? 1 : 0);
  return phpSerialize({
    modules: {
      totp: { clientenabled: 1, adminenabled: 1 },
      duosecurity: {
        integrationKey: whmcsEncrypt('DIWJ8X6AEYOR5OMC6TQ1', ccHash),
        secretKey: whmcsEncrypt('Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep', ccHash),
        apiHostname: 'api-e4c9863e.duosecurity.com',
        clientenabled: flag(on.duoClients),
        adminenabled: 1,
      },
      yubico: { clientid: '85097', secretkey: 'dGhpc2lzYXNhbmRib3hrZXkhIQ==', clientenabled: flag(on.yubico), adminenabled: flag(on.yubico) },
    },
    forceclient: 0,
    forceadmin: 1,
  });
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
function randomString(n: number, alphabet = ALNUM): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[randomInt(alphabet.length)];
  return s;
}

interface SandboxResult {
  dir: string;
  configurationPhp: string;
  database: string;
  admins: Array<{ id: number; username: string; module: string }>;
  users: Array<{ id: number; email: string; module: string; format: string }>;
}

/**
 * A WHMCS-8.12-shaped SQLite install for trying the tool without MySQL: admins and users across
 * the three modules, every per-account storage format, a `'0'` row left by the docs' SQL, and a
 * configuration.php so `--whmcs-dir <dir>` finds it like a real install.
 */
export async function createSandbox(dirArg: string, opts: { force?: boolean } = {}): Promise<SandboxResult> {
  const dir = resolve(dirArg);
  const confPath = join(dir, 'configuration.php');
  const dbPath = join(dir, SANDBOX_DB_FILE);
  if (!opts.force && (existsSync(confPath) || existsSync(dbPath))) {
    throw new RefusedError(`${dir} already holds a configuration.php or sandbox database — choose another directory or pass --force to replace the sandbox`);
  }
  mkdirSync(dir, { recursive: true });
  const H = randomString(64);
  writeFileSync(
    confPath,
    `<?php
// whmcs-2fa sandbox: a WHMCS 8.12-shaped SQLite database for trying whmcs-2fa safely.
$license = 'WHMCS-sandbox';
$db_host = 'localhost';
$db_username = 'sandbox';
$db_password = '';
$db_name = 'sandbox';
$cc_encryption_hash = '${H}';
$templates_compiledir = 'templates_c';
$mysql_charset = 'utf8';
$${SQLITE_CONFIG_VAR} = '${SANDBOX_DB_FILE}';
`,
    { mode: 0o600 },
  );
  chmodSync(confPath, 0o600);
  for (const f of [dbPath, dbPath + '-wal', dbPath + '-shm']) rmSync(f, { force: true });

  const db = await openDb({ kind: 'sqlite', file: dbPath, create: true });
  try {
    const k = db.knex;
    await createWhmcsSchema(k, 'sqlite', '8');
    await setConfigValue(k, '2fasettings', sample2faSettings(H, { duoClients: false, yubico: false }));
    const aes = (cfg: Record<string, unknown>) => encodeAccountConfig(cfg, 'aes', H);
    const backup = () => hashBackupCode(generateBackupCode());
    const admins: SandboxResult['admins'] = [];
    const addAdmin = async (username: string, module: string, authdata: string, extra: { disabled?: number; roleid?: number } = {}) => {
      const id = await insertAdmin(k, { username, email: `${username}@billing.example.com`, authmodule: module, authdata, ...extra });
      admins.push({ id, username, module });
    };
    await addAdmin('admin', 'totp', aes({ secret: generateTotpSecret(), backupcode: backup() }));
    await addAdmin('jdoe', 'duosecurity', aes({ backupcode: backup(), duo_auth_identifier: 'email' }));
    await addAdmin('ops', 'yubico', aes({ yubicoprefix: yubicoPrefixHash('cccccbhkevrn'), backupcode: backup() }), { roleid: 2 });
    // Left by `UPDATE tbladmins SET authmodule = '' AND authdata = ''` from WHMCS's docs: '0', secret kept.
    await addAdmin('legacy', '0', JSON.stringify({ secret: generateTotpSecret(), backupcode: backup() }), { roleid: 3 });
    await addAdmin('support', '', '', { roleid: 3 });
    await addAdmin('former', 'totp', aes({ secret: generateTotpSecret(), backupcode: backup() }), { disabled: 1, roleid: 3 });

    const users: SandboxResult['users'] = [];
    const addUser = async (email: string, module: string, config: string | null, format: string) => {
      const id = await insertUser(k, { email, second_factor: module, second_factor_config: config });
      const clientId = await insertClient(k, { email });
      await linkUserToClient(k, id, clientId, true);
      users.push({ id, email, module, format });
    };
    const totp = () => ({ secret: generateTotpSecret(), backupcode: backup() });
    await addUser('alice@example.net', 'totp', aes(totp()), 'aes');
    await addUser('bob@example.net', 'totp', JSON.stringify(totp()), 'json (8.0-8.7)');
    const legacySecret = generateTotpSecret();
    await addUser(
      'carol@example.net',
      'totp',
      phpSerialize({ tokendata: encodeTokendata(sonataBase32Decode(legacySecret)), backupcode: backup() }),
      'serialized (7.x tokendata)',
    );
    await addUser('dave@example.net', 'duosecurity', aes({ backupcode: backup() }), 'aes');
    await addUser('erin@example.net', 'yubico', aes({ yubicoprefix: yubicoPrefixHash('cccccbhkevrv'), backupcode: backup() }), 'aes');
    await addUser('frank@example.net', '', null, 'none');
    await addUser('grace@example.net', '', aes({}), 'aes (2FA disabled by WHMCS 8.12)');
    await addUser('heidi@example.net', '0', JSON.stringify(totp()), "json, module '0'");
    return { dir, configurationPhp: confPath, database: dbPath, admins, users };
  } finally {
    await db.close();
  }
}
