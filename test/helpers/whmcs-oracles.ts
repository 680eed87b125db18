/**
 * WHMCS behaviour the product never needs at run time but tests judge it by: the TOTP code for a
 * moment, whether WHMCS would accept a code or a backup code, the username WHMCS sends to Duo,
 * WHMCS's backup-code formula. See docs/data-model.md §3, §6, §9.
 */
import { createHash, createHmac } from 'node:crypto';
import { analyzeCode, type VerifyMode } from '../../src/services/totp/code-check.js';
import { hashBackupCode } from '../../src/whmcs/crypto/backup-code-hash.js';
import { phpLooseEqualsString } from '../../src/whmcs/php/php-compare.js';
import { whmcsDecrypt } from '../../src/whmcs/crypto/whmcs-encrypt.js';
import { phpTruthy } from '../../src/whmcs/php/php-serialize.js';

/**
 * The 6-digit code WHMCS expects at `unixSeconds` (RFC 6238: HMAC-SHA1, 30 s steps), written
 * with node:crypto alone, independently of the product's otplib path; oathtool checks it.
 */
export function totpAt(secretBytes: Uint8Array, unixSeconds: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const h = createHmac('sha1', Buffer.from(secretBytes)).update(counter).digest();
  const o = h[19]! & 0xf;
  const bin = ((h[o]! & 0x7f) << 24) | (h[o + 1]! << 16) | (h[o + 2]! << 8) | h[o + 3]!;
  return String(bin % 1_000_000).padStart(6, '0');
}

/** Would WHMCS accept `code` at `unixSeconds` (current step ±1)? Asks the product's analyzeCode. */
export async function whmcsAccepts(secretBytes: Uint8Array, code: string, unixSeconds: number, mode: VerifyMode = 'sonata'): Promise<boolean> {
  return (await analyzeCode(secretBytes, code, { at: unixSeconds, window: 1, mode })).accepted;
}

/**
 * Would WHMCS accept `input` as the backup code for a config whose `backupcode` is `stored`? False
 * when nothing is stored; otherwise sha1(normalised input) == stored with PHP's loose `==`.
 */
export function verifyBackupCode(input: string, stored: unknown): boolean {
  if (!phpTruthy(stored)) return false;
  return phpLooseEqualsString(hashBackupCode(input), stored);
}

/** WHMCS's activation-time backup code: first 16 hex of sha1(H . accountId . unixTime). */
export function whmcsBackupCodeFormula(ccHash: string, accountId: number | string, unixTime: number): string {
  return createHash('sha1').update(`${ccHash}${accountId}${unixTime}`).digest('hex').slice(0, 16);
}

/**
 * The username WHMCS sends to Duo: `<identifier>:<email>:<license key>`. The identifier is the
 * e-mail address for users; for admins it is what `duo_auth_identifier` selects — the e-mail
 * (default since WHMCS 8.1) or the admin username (older enrolments, and always in WHMCS 7.x).
 */
export function duoUsername(identifier: string, email: string, license: string): string {
  return `${identifier}:${email}:${license}`;
}

/** `whmcsDecrypt` as UTF-8 text. */
export function whmcsDecryptString(b64: string, ccHash: string): string {
  return whmcsDecrypt(b64, ccHash).toString('utf8');
}
