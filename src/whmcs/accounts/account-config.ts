/**
 * The per-account second-factor array (tbladmins.authdata, tblclients.authdata,
 * tblusers.second_factor_config) in all three formats WHMCS has used (docs/data-model.md §2.2, §11):
 * PHP-serialized (7.x), plain JSON (8.0–8.7) and AES hex of space-padded JSON (8.12). Rows of
 * different formats coexist because WHMCS converts lazily on read, so every format is read on
 * every version.
 */
import { aesDecryptConfig, aesDecryptConfigs, aesEncryptConfig, isAesDecryptable } from '../crypto/aes-config.js';
import { phpJsonEncode } from '../php/php-json.js';
import { phpSerialize, phpUnserialize, type UnserializeLimits } from '../php/php-serialize.js';

export type AccountConfigFormat = 'empty' | 'aes' | 'json' | 'serialized' | 'unreadable';
export type AccountConfigTarget = 'serialized' | 'json' | 'aes';

export interface DecodedAccountConfig {
  format: AccountConfigFormat;
  config: Record<string, unknown>;
  /**
   * The value is AES hex but does not decrypt to a JSON array with this cc_encryption_hash. WHMCS
   * silently reads such a row as an empty config (the secret and backup code vanish), so callers
   * must not write it back as if it were empty: it usually means a wrong key.
   */
  undecryptable: boolean;
}

const isArrayLike = (v: unknown): v is object => typeof v === 'object' && v !== null;

/** A decoded PHP array as a config object; a JSON list becomes index keys, as PHP would key it. */
function asConfig(v: object): Record<string, unknown> {
  return Array.isArray(v) ? Object.fromEntries(v.map((x, i) => [String(i), x])) : (v as Record<string, unknown>);
}

/** json_decode($s, true), keeping only arrays (objects or lists), as WHMCS's `is_array` check does. */
function jsonArray(s: string): Record<string, unknown> | null {
  // Only text opening with { or [ (after JSON whitespace) can decode to an array: anything else is
  // settled without a parse, and without a thrown SyntaxError for every PHP-serialized value.
  let i = 0;
  while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === '\n' || s[i] === '\r')) i++;
  if (s[i] !== '{' && s[i] !== '[') return null;
  try {
    const v: unknown = JSON.parse(s);
    return isArrayLike(v) ? asConfig(v) : null;
  } catch {
    return null;
  }
}

/**
 * §11 decodeCfg. Order matters and follows WHMCS 8.12: AES when the value looks like hex, else
 * JSON, else PHP-serialized. An AES value decrypting to "" (WHMCS's encoding of an empty config:
 * AES of "" or of 32 spaces) is a valid empty config, not an undecryptable one.
 */
export function decodeAccountConfig(
  raw: string | null | undefined,
  ccHash: string,
  limits?: Partial<UnserializeLimits>,
): DecodedAccountConfig {
  return decodeWith(raw, isAesDecryptable(raw) ? aesDecryptConfig(raw, ccHash) : undefined, limits);
}

/**
 * `decodeAccountConfig` for many values at once, one result per value: the AES ones are decrypted
 * together (see `aesDecryptConfigs`), which is what makes listing 100 000 accounts affordable.
 */
export function decodeAccountConfigs(
  raws: ReadonlyArray<string | null | undefined>,
  ccHash: string,
  limits?: Partial<UnserializeLimits>,
): DecodedAccountConfig[] {
  const plains = aesDecryptConfigs(raws, ccHash);
  return raws.map((raw, i) => decodeWith(raw, plains[i], limits));
}

/**
 * The §11 decodeCfg decisions, given what `raw` decrypts to when it is AES hex (undefined: it is
 * not, so the hex test is made once).
 */
function decodeWith(raw: string | null | undefined, aesPlain: string | null | undefined, limits?: Partial<UnserializeLimits>): DecodedAccountConfig {
  if (raw === null || raw === undefined || raw === '') return { format: 'empty', config: {}, undecryptable: false };

  if (aesPlain !== undefined) {
    if (aesPlain === '') return { format: 'aes', config: {}, undecryptable: false };
    const config = aesPlain === null ? null : jsonArray(aesPlain);
    return config ? { format: 'aes', config, undecryptable: false } : { format: 'aes', config: {}, undecryptable: true };
  }

  const json = jsonArray(raw);
  if (json) return { format: 'json', config: json, undecryptable: false };

  try {
    const v = phpUnserialize(raw, limits);
    if (isArrayLike(v)) return { format: 'serialized', config: v as Record<string, unknown>, undecryptable: false };
  } catch {
    // Falls through: WHMCS treats unparseable data as an empty config.
  }
  return { format: 'unreadable', config: {}, undecryptable: false };
}

/**
 * §11 encodeCfg: the column value for `config` in the chosen format. An empty config is written as
 * '' in every format — what WHMCS ≤ 8.7 writes, and what 8.12 reads back as an empty config.
 */
export function encodeAccountConfig(config: Record<string, unknown>, target: AccountConfigTarget, ccHash: string): string {
  if (Object.keys(config).length === 0) return '';
  switch (target) {
    case 'serialized':
      return phpSerialize(config);
    case 'json':
      return phpJsonEncode(config);
    case 'aes':
      return aesEncryptConfig(phpJsonEncode(config), ccHash);
  }
}
