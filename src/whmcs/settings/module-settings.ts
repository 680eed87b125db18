import { whmcsDecrypt } from '../crypto/whmcs-encrypt.js';
import { moduleInfo } from '../../services/catalog.js';
import type { PhpArray } from './settings.js';

export const MASK = '••••';

export interface RevealedSetting {
  key: string;
  label: string;
  /** What may be shown: masked unless --show-secrets. */
  value: string;
  /** Set when the stored value is unusable (does not decrypt, wrong length…). */
  problem?: string;
}

/** Duo Universal requires exactly these lengths (duo_universal's CLIENT_ID/SECRET_LENGTH). */
const DUO_LENGTH: Record<string, number> = { integrationKey: 20, secretKey: 40 };

/**
 * Decrypts `encrypt()`-ed fields and checks them. A wrong cc_encryption_hash is undetectable by the
 * cipher itself (no integrity check), so a decrypted value that is not printable or not the length
 * Duo requires is the tell.
 */
export function decryptField(stored: unknown, ccHash: string | undefined): { value: string | null; problem?: string } {
  if (typeof stored !== 'string' || stored === '') return { value: '' };
  if (!ccHash) return { value: null, problem: 'cannot be decrypted without cc_encryption_hash (use --whmcs-dir or set WHMCS_CC_ENCRYPTION_HASH)' };
  let plain: string;
  try {
    plain = whmcsDecrypt(stored, ccHash).toString('utf8');
  } catch {
    return { value: null, problem: 'is not a valid encrypted value' };
  }
  if (/[^\x20-\x7e]/.test(plain)) {
    return { value: null, problem: 'does not decrypt to readable text — cc_encryption_hash is probably not the one it was saved with' };
  }
  return { value: plain };
}

export function maskClientId(v: string): string {
  return v.length <= 6 ? MASK : `${v.slice(0, 3)}…${v.slice(-3)}`;
}

export function revealModuleSettings(module: string, entry: PhpArray, ccHash: string | undefined, showSecrets: boolean): RevealedSetting[] {
  const info = moduleInfo(module);
  const out: RevealedSetting[] = [];
  if (!info) {
    // Third-party module: its fields' meaning is unknown, so none is shown without --show-secrets.
    for (const [k, v] of Object.entries(entry)) {
      if (k === 'clientenabled' || k === 'adminenabled') continue;
      out.push({ key: k, label: k, value: showSecrets ? String(v) : MASK });
    }
    return out;
  }
  for (const f of info.fields) {
    const stored = entry[f.key];
    if (stored === undefined) {
      out.push({ key: f.key, label: f.label, value: '(not set)', problem: module === 'totp' ? undefined : 'is not set' });
      continue;
    }
    let plain: string | null = typeof stored === 'string' ? stored : String(stored);
    let problem: string | undefined;
    if (f.type === 'password') ({ value: plain, problem } = decryptField(stored, ccHash));
    if (plain !== null && !problem && DUO_LENGTH[f.key] && plain.length !== DUO_LENGTH[f.key]) {
      problem = `is ${plain.length} characters after decryption, Duo needs exactly ${DUO_LENGTH[f.key]} — re-enter it with \`whmcs-2fa activate duo\`, or check cc_encryption_hash`;
    }
    let shown: string;
    if (plain === null) shown = '(undecryptable)';
    else if (showSecrets) shown = plain;
    else if (f.secret) shown = plain === '' ? '(empty)' : MASK;
    else if (f.key === 'integrationKey') shown = maskClientId(plain);
    else shown = plain;
    out.push({ key: f.key, label: f.label, value: shown, ...(problem ? { problem } : {}) });
  }
  return out;
}
