import { encodeAccountConfig } from '../../../src/whmcs/accounts/account-config.js';
import { whmcsEncrypt } from '../../../src/whmcs/crypto/whmcs-encrypt.js';
import { phpSerialize } from '../../../src/whmcs/php/php-serialize.js';
import { setConfigValue } from '../../../src/whmcs/schema/seed.js';
import { BACKUP_HASH, SECRET, codeNow, configPhp, whmcsDirWith, type BadInput, type CaseEnv } from '../harness.js';

const OTHER_HASH = 'ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba9876543210zz';
const NEW_SECRET = 'GEZDGNBVGY3TQOJQ';
const UNDECRYPTABLE = /does not decrypt with this cc_encryption_hash/;

/** carol's second-factor data was encrypted by another install (a migrated or restored row). */
async function foreignCarol(e: CaseEnv): Promise<void> {
  await e.t.knex('tblusers').where({ email: 'carol@example.com' }).update({ second_factor_config: encodeAccountConfig({ secret: SECRET, backupcode: BACKUP_HASH }, 'aes', OTHER_HASH) });
}

/** configuration.php with the wrong cc_encryption_hash for this whole install. */
const wrongHashDir = (e: CaseEnv) => whmcsDirWith(e, configPhp(e, { cc_encryption_hash: `'${OTHER_HASH}'` }));
const dir = (e: CaseEnv) => ['--whmcs-dir', e.t.whmcsDir];
/** Neither secret nor key may leak into an error. */
const forbid = (e: CaseEnv) => [SECRET, e.t.ccHash, OTHER_HASH];

export const ccHashCases: BadInput[] = [
  {
    name: 'backup-code for a user whose AES data came from another install',
    setup: foreignCarol,
    args: (e) => [...dir(e), 'backup-code', '--user', 'carol@example.com', '--yes'],
    exit: 6,
    expect: { error: UNDECRYPTABLE },
    forbid,
  },
  {
    name: 'verify for a user whose AES data came from another install',
    setup: foreignCarol,
    args: async (e) => [...dir(e), 'verify', '--user', 'carol@example.com', await codeNow(SECRET)],
    exit: 6,
    expect: { error: UNDECRYPTABLE },
    forbid,
  },
  {
    name: 'enroll --force over a user whose AES data came from another install',
    setup: foreignCarol,
    args: async (e) => [...dir(e), 'enroll', '--user', 'carol@example.com', '--force', '--code', await codeNow(NEW_SECRET), '--yes'],
    env: () => ({ WHMCS_TOTP_SECRET: NEW_SECRET }),
    exit: 6,
    expect: { error: UNDECRYPTABLE },
    forbid,
  },
  {
    name: 'wrong $cc_encryption_hash in configuration.php: backup-code',
    args: (e) => ['--whmcs-dir', wrongHashDir(e), 'backup-code', '--admin', 'alice', '--yes'],
    exit: 6,
    expect: { error: UNDECRYPTABLE },
    forbid,
  },
  {
    name: 'wrong $cc_encryption_hash in configuration.php: backup-code --all-admins',
    args: (e) => ['--whmcs-dir', wrongHashDir(e), 'backup-code', '--all-admins', '--yes'],
    exit: 6,
    expect: { error: UNDECRYPTABLE },
    forbid,
  },
  {
    name: 'wrong $cc_encryption_hash in configuration.php: verify',
    args: async (e) => ['--whmcs-dir', wrongHashDir(e), 'verify', '--admin', 'alice', await codeNow(SECRET)],
    exit: 6,
    expect: { error: UNDECRYPTABLE },
    forbid,
  },
  {
    name: 'wrong $cc_encryption_hash in configuration.php: enroll --force',
    args: async (e) => ['--whmcs-dir', wrongHashDir(e), 'enroll', '--admin', 'alice', '--force', '--code', await codeNow(NEW_SECRET), '--yes'],
    env: () => ({ WHMCS_TOTP_SECRET: NEW_SECRET }),
    exit: 6,
    expect: { error: UNDECRYPTABLE },
    forbid,
  },
  {
    name: 'wrong $WHMCS_CC_ENCRYPTION_HASH with --db: backup-code',
    args: (e) => ['--db', e.t.url, 'backup-code', '--admin', 'alice', '--yes'],
    env: () => ({ WHMCS_CC_ENCRYPTION_HASH: OTHER_HASH }),
    exit: 6,
    expect: { error: UNDECRYPTABLE },
    forbid,
  },
  {
    name: '--db without $WHMCS_CC_ENCRYPTION_HASH on AES data: backup-code',
    args: (e) => ['--db', e.t.url, 'backup-code', '--admin', 'alice', '--yes'],
    env: () => ({ WHMCS_CC_ENCRYPTION_HASH: undefined }),
    exit: 6,
    expect: { error: /needs cc_encryption_hash — use --whmcs-dir \(reads configuration\.php\) or set WHMCS_CC_ENCRYPTION_HASH/ },
    forbid,
  },
  {
    name: 'Duo keys encrypted with another hash: activate duo keeps them only if they decrypt',
    setup: async (e) => {
      await setConfigValue(
        e.t.knex,
        '2fasettings',
        phpSerialize({
          modules: {
            totp: { clientenabled: 1, adminenabled: 1 },
            duosecurity: { integrationKey: whmcsEncrypt('DIWJ8X6AEYOR5OMC6TQ1', OTHER_HASH), secretKey: whmcsEncrypt('Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep', OTHER_HASH), apiHostname: 'api-1a2b3c4d.duosecurity.com', clientenabled: 0, adminenabled: 0 },
          },
          forceclient: 0,
          forceadmin: 0,
        }),
      );
    },
    args: (e) => [...dir(e), 'activate', 'duo', '--admins', '--yes'],
    exit: 6,
    expect: { error: /cc_encryption_hash/ },
    forbid: (e) => [...forbid(e), 'DIWJ8X6AEYOR5OMC6TQ1', 'Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep'],
  },
  {
    name: 'status with Duo keys encrypted with another hash warns',
    setup: async (e) => {
      await setConfigValue(
        e.t.knex,
        '2fasettings',
        phpSerialize({
          modules: {
            totp: { clientenabled: 1, adminenabled: 1 },
            duosecurity: { integrationKey: whmcsEncrypt('DIWJ8X6AEYOR5OMC6TQ1', OTHER_HASH), secretKey: whmcsEncrypt('Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep', OTHER_HASH), apiHostname: 'api-1a2b3c4d.duosecurity.com', clientenabled: 0, adminenabled: 1 },
          },
          forceclient: 0,
          forceadmin: 0,
        }),
      );
    },
    args: (e) => [...dir(e), 'status'],
    exit: 0,
    expect: { warning: /Duo Security .*cc_encryption_hash/ },
    forbid: (e) => [...forbid(e), 'DIWJ8X6AEYOR5OMC6TQ1', 'Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep'],
  },
  {
    name: 'accounts lists a user whose AES data came from another install, with a warning',
    setup: foreignCarol,
    args: (e) => [...dir(e), 'accounts', '--users'],
    exit: 0,
    expect: { warning: /1 account whose second-factor data does not decrypt with this cc_encryption_hash/ },
    forbid,
  },
];
