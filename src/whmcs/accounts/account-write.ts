import { decodeAccountConfig, encodeAccountConfig, type AccountConfigTarget, type DecodedAccountConfig } from './account-config.js';
import { tableFor } from './accounts-table.js';
import type { Account } from './find-account.js';
import type { Install } from '../connection/install.js';
import type { Session } from '../connection/session.js';
import type { RowChange } from '../changes/change.js';
import { DecryptError } from '../../errors.js';

/**
 * The format a write must use on this install (docs/data-model.md §11): 7.x serialized; 8.x AES-hex when
 * this WHMCS is known to read it (8.12+, or AES already present), else plain JSON, which every 8.x
 * reads and 8.12 upgrades on first read.
 */
export function configTargetFor(install: Install): AccountConfigTarget {
  if (install.shape === '7') return 'serialized';
  return install.aesConfigs ? 'aes' : 'json';
}

/**
 * Decodes an account's config for a read-modify-write. A config that does not decrypt must never be
 * written back: the secret would be lost for good, so this stops with exit 6 naming the cause.
 */
export function decodeForWrite(session: Session, account: Account): DecodedAccountConfig {
  const ccHash = session.requireCcHash('reading the account\'s second-factor data');
  const d = decodeAccountConfig(account.rawConfig, ccHash, session.limits);
  if (d.undecryptable) {
    throw new DecryptError(
      `the second-factor data of ${account.kind} "${account.name}" (#${account.id}) does not decrypt with this cc_encryption_hash — it was saved with another one (restored backup or migrated install?); fix $cc_encryption_hash in configuration.php before writing, or \`whmcs-2fa reset\` the account`,
    );
  }
  if (d.format === 'unreadable') {
    throw new DecryptError(
      `the second-factor data of ${account.kind} "${account.name}" (#${account.id}) is neither AES, JSON nor PHP-serialized — writing would destroy it; \`whmcs-2fa reset\` the account instead`,
    );
  }
  return d;
}

/** One row change for an account's module and data columns, values exactly as stored. */
export function accountRowChange(account: Account, next: { module: string; rawConfig: string | null }): RowChange {
  const t = tableFor(account.kind);
  return {
    table: t.table,
    key: { id: account.id },
    before: { [t.moduleColumn]: account.module, [t.dataColumn]: account.rawConfig },
    after: { [t.moduleColumn]: next.module, [t.dataColumn]: next.rawConfig },
    // Undo checks the row is still this account (a username/email), not only that the values match.
    identity: account.kind === 'admin' ? { username: account.name } : { email: account.email },
  };
}

export function encodeForInstall(session: Session, config: Record<string, unknown>): string {
  const target = configTargetFor(session.install);
  // Only AES needs the key: 7.x and plain-JSON installs can be written when connected by URL alone.
  return encodeAccountConfig(config, target, target === 'aes' ? session.requireCcHash('writing second-factor data') : '');
}
