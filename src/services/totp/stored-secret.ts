/**
 * The TOTP key stored in one account's config (docs/data-model.md §2.3): the Sonata `secret` of 8.x,
 * or the legacy ga4php `tokendata` that 7.x writes and 8.x still reads — and which of WHMCS's two
 * verifiers then applies. Also the `tokendata` value WHMCS 7 writes for a new key.
 */
import { NotFoundError, ParseError } from '../../errors.js';
import { phpSerialize, phpTruthy, phpUnserialize } from '../../whmcs/php/php-serialize.js';
import { SECRET_BYTES, sonataBase32Decode } from './base32-secret.js';
import { TOTP_PERIOD, type VerifyMode } from './code-check.js';

type SecretSource = 'secret' | 'tokendata';

export interface ResolvedSecret {
  /** The HMAC key exactly as WHMCS derives it. */
  bytes: Buffer;
  source: SecretSource;
  /** Which WHMCS verifier applies to this config. */
  mode: VerifyMode;
  /** One line for humans: where the key came from. Never contains the secret. */
  description: string;
  /** Things that make WHMCS and an authenticator app disagree (lowercase secret, odd key length…). */
  warnings: string[];
}

/** Per-account config could not yield a TOTP key because none is stored. */
export class TotpSecretMissingError extends NotFoundError {}
/** Legacy `tokendata` is present but unreadable. */
export class TokendataMalformedError extends ParseError {}

function field(obj: unknown, key: string): unknown {
  if (obj instanceof Map) return obj.get(key);
  if (obj !== null && typeof obj === 'object') return (obj as Record<string, unknown>)[key];
  return undefined;
}

type Unserialize = (s: string) => unknown;
type Serialize = (v: unknown) => string;

/**
 * The TOTP key of one account config (already decoded from JSON / serialize / AES). A truthy legacy
 * `tokendata` wins over `secret` when both are present: WHMCS's `totp` module checks `tokendata`
 * first (through its ga4php wrapper) and only falls back to the Sonata `secret` without it, so the
 * `secret` of such a config is never used — said in the warnings.
 */
export function secretBytesFromConfig(
  config: Record<string, unknown> | Map<string, unknown>,
  unserialize: Unserialize = phpUnserialize,
): ResolvedSecret {
  const tokendata = field(config, 'tokendata');
  if (phpTruthy(tokendata)) {
    const resolved = fromTokendata(tokendata, unserialize);
    if (phpTruthy(field(config, 'secret'))) {
      resolved.warnings.push(
        'this config holds both a legacy "tokendata" and a "secret": WHMCS checks "tokendata" and never uses the "secret" — re-enrol to leave only one',
      );
    }
    return resolved;
  }

  const secret = field(config, 'secret');
  if (phpTruthy(secret)) {
    if (typeof secret !== 'string') {
      throw new TokendataMalformedError(
        `The stored TOTP secret is a ${typeof secret}, not a string; re-enrol TOTP for this account.`,
      );
    }
    const bytes = sonataBase32Decode(secret);
    const warnings: string[] = [];
    const strict = /^[A-Z2-7]+=*$/.test(secret);
    if (!strict) {
      warnings.push(
        `the stored secret has characters outside A-Z2-7 (e.g. lowercase); WHMCS skips them and uses a ${bytes.length}-byte key, so codes from an app that was given this secret will not match`,
      );
    } else if (bytes.length < SECRET_BYTES) {
      warnings.push(`the stored secret gives only a ${bytes.length}-byte key (WHMCS issues ${SECRET_BYTES})`);
    }
    const chars = secret.replace(/=+$/, '').length;
    if (strict && [1, 3, 6].includes(chars % 8)) {
      warnings.push(
        `a ${chars}-character secret has leftover bits that WHMCS turns into an extra key byte; most apps drop them, so codes may differ`,
      );
    }
    return {
      bytes,
      source: 'secret',
      mode: 'sonata',
      description: `base32 secret (${chars} chars → ${bytes.length}-byte key, Sonata decoding)`,
      warnings,
    };
  }

  throw new TotpSecretMissingError(
    'No TOTP secret is stored for this account (neither "secret" nor "tokendata"); enrol TOTP again.',
  );
}

function fromTokendata(tokendata: unknown, unserialize: Unserialize): ResolvedSecret {
  const bad = (why: string): never => {
    throw new TokendataMalformedError(`The legacy TOTP tokendata is unreadable (${why}); enrol TOTP again.`);
  };
  if (typeof tokendata !== 'string') return bad(`a ${typeof tokendata}, not a string`);
  let token: unknown;
  try {
    token = unserialize(Buffer.from(tokendata, 'base64').toString('utf8'));
  } catch {
    return bad('not base64 of a PHP-serialized array');
  }
  const key = field(token, 'tokenkey');
  if (typeof key !== 'string' || key === '') return bad('no tokenkey');
  if (!/^[0-9a-fA-F]+$/.test(key)) return bad('tokenkey is not hex');
  const warnings: string[] = [];
  // PHP's pack('H*') pads an odd final nibble with 0.
  const hex = key.length % 2 === 1 ? `${key}0` : key;
  if (hex !== key) warnings.push('tokenkey has an odd number of hex digits; the last nibble is padded as PHP does');
  const type = field(token, 'tokentype');
  if (type !== undefined && type !== 'TOTP') warnings.push(`tokentype is ${String(type)}, not TOTP`);
  const timer = field(token, 'tokentimer');
  if (timer !== undefined && Number(timer) !== TOTP_PERIOD) warnings.push(`tokentimer is ${String(timer)}, not 30`);
  const bytes = Buffer.from(hex, 'hex');
  return {
    bytes,
    source: 'tokendata',
    mode: 'ga4php',
    description: `legacy tokendata (ga4php, tokenkey ${key.length} hex chars → ${bytes.length}-byte key)`,
    warnings,
  };
}

/** The WHMCS 7.x `tokendata` value for a key: base64 of the serialized ga4php token array. */
export function encodeTokendata(secretBytes: Uint8Array, serialize: Serialize = phpSerialize): string {
  // Key order and int-vs-string types are those ga4php writes.
  const token = {
    tokenkey: Buffer.from(secretBytes).toString('hex'),
    tokentype: 'TOTP',
    tokentimer: 30,
    tokencounter: 1,
    tokenalgorithm: 'SHA1',
    user: '',
  };
  return Buffer.from(serialize(token), 'utf8').toString('base64');
}
