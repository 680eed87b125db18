/**
 * Whether the stock services can work as configured, and the cc_encryption_hash verdict, for
 * `audit` (data model §1.3, §4.1, §9).
 */
import type { Session } from '../connection/session.js';
import { summarizeKeyCheck, type KeyCheck } from '../crypto/key-check.js';
import type { PhpArray } from '../settings/settings.js';
import type { Finding } from './audit.js';
import { duoNeedsUniversalPrompt } from '../connection/install.js';
import { decryptField } from '../settings/module-settings.js';
import { DUO_API_HOSTNAME_PATTERN, DUO_CLIENT_ID_LENGTH, DUO_CLIENT_SECRET_LENGTH } from '../../services/duo.js';

/** Whether a stock service can work as configured: empty `broken` when it can. */
interface ServiceHealth {
  /** Problems that stop the service from working at all. */
  broken: string[];
}

export function duoHealth(entry: PhpArray | undefined, session: Session): ServiceHealth & { undecryptable: string[] } {
  const broken: string[] = [];
  const undecryptable: string[] = [];
  if (duoNeedsUniversalPrompt(session.install)) {
    broken.push(`WHMCS ${session.install.version} still uses Duo's iframe prompt, which stopped working on 2024-03-30`);
  }
  if (!entry) {
    broken.push('Duo Security has no settings (Client ID, Client Secret, API Hostname) in 2fasettings');
    return { broken, undecryptable };
  }
  for (const [key, label, want] of [
    ['integrationKey', 'Client ID', DUO_CLIENT_ID_LENGTH],
    ['secretKey', 'Client Secret', DUO_CLIENT_SECRET_LENGTH],
  ] as const) {
    const stored = entry[key];
    if (stored === undefined || stored === '' || stored === null) {
      broken.push(`the Duo ${label} is not set`);
      continue;
    }
    const d = decryptField(stored, session.ccHash);
    if (d.value === null) {
      if (session.ccHash) {
        undecryptable.push(`the Duo ${label}`);
        broken.push(`the Duo ${label} ${d.problem}`);
      }
      continue;
    }
    if (d.value.length !== want) broken.push(`the Duo ${label} is ${d.value.length} characters after decryption, Duo needs exactly ${want}`);
  }
  const host = typeof entry.apiHostname === 'string' ? entry.apiHostname : '';
  if (host === '') broken.push('the Duo API Hostname is not set');
  else if (!DUO_API_HOSTNAME_PATTERN.test(host)) broken.push(`the Duo API Hostname "${host.slice(0, 60)}" is not of the form api-XXXXXXXX.duosecurity.com`);
  return { broken, undecryptable };
}

export function yubicoHealth(entry: PhpArray | undefined): ServiceHealth {
  const broken: string[] = [];
  const set = (v: unknown) => v !== undefined && v !== null && String(v).trim() !== '';
  if (!entry || !set(entry.clientid)) broken.push('the YubiKey API Client ID is not set');
  if (!entry || !set(entry.secretkey)) broken.push('the YubiKey API Secret Key is not set');
  return { broken };
}

/**
 * "cc_encryption_hash disagrees with the stored data", from what can be seen today: Duo keys that
 * decrypt to unreadable bytes and AES account data that does not decrypt. The one place to switch
 * to a proof against all stored encrypted values when one exists.
 */
export function keyFinding(
  check: KeyCheck,
  evidence: { duoFields: string[]; undecryptableAccounts: number },
  session: Session,
): Pick<Finding, 'title' | 'why' | 'fix'> | null {
  if (!session.ccHash) return null;
  // The key proven against what WHMCS encrypted with it (key-check.ts, the check every encrypting
  // write makes): a disagreement is the finding, named by the values that disagree.
  if (check.verdict === 'disagrees') {
    const { disagreeing } = summarizeKeyCheck(check);
    const named = disagreeing.slice(0, 5).join(', ') + (disagreeing.length > 5 ? `, … (${disagreeing.length} values)` : '');
    return {
      title: `cc_encryption_hash disagrees with what WHMCS encrypted: ${named}`,
      why: 'WHMCS decrypts with the same key and silently gets garbage or an empty config: Duo stops working and the affected accounts lose their secret and backup code, so they cannot complete their second factor; every encrypting change is refused (exit 6) until it is fixed',
      fix: 'restore the $cc_encryption_hash these values were written with (configuration.php, or WHMCS_CC_ENCRYPTION_HASH with --db); if it is lost, re-enter the Duo keys (`whmcs-2fa activate duo`) and reset the affected accounts',
    };
  }
  // The key agrees with most of the data, but some values were written under another key.
  const parts: string[] = [];
  if (evidence.duoFields.length) parts.push(`${evidence.duoFields.join(' and ')} in 2fasettings`);
  const n = evidence.undecryptableAccounts;
  if (n) parts.push(`${n} account${n === 1 ? "'s" : "s'"} second-factor data`);
  if (!parts.length) return null;
  return {
    title: `cc_encryption_hash does not decrypt ${parts.join(' or ')}`,
    why: 'WHMCS decrypts with the same key and silently gets garbage or an empty config: Duo stops working and the affected accounts lose their secret and backup code, so they cannot complete their second factor',
    fix: 'restore the $cc_encryption_hash these values were written with (configuration.php, or WHMCS_CC_ENCRYPTION_HASH with --db); if it is lost, re-enter the Duo keys (`whmcs-2fa activate duo`) and reset the affected accounts',
  };
}

