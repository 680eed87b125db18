import { createHash, randomBytes } from 'node:crypto';
import { NotFoundError, ParseError, UsageError } from '../../errors.js';
import { phpSerialize, phpTruthy, phpUnserialize } from '../../whmcs/php/php-serialize.js';

/** WHMCS (Sonata `GoogleAuthenticator` and ga4php alike): HMAC-SHA1, 6 digits, 30 s, window ±1 step. */
export const TOTP_PERIOD = 30;
export const TOTP_DIGITS = 6;
export const WHMCS_WINDOW_STEPS = 1;
/** Sonata's `generateSecret()` default, and what WHMCS 8.x stores (16 base32 chars). */
export const SECRET_BYTES = 10;
/** Entries in `TOTPUsedOTPs` older than this are dropped, but only when WHMCS writes the map. */
export const REPLAY_PRUNE_SECONDS = 300;
/** `safe_unserialize` refuses bigger arrays, and WHMCS then treats the replay list as empty. */
export const USED_OTPS_MAX_ENTRIES = 256;
/** WHMCS 7.8 replay identity (unconfirmed; see docs/data-model.md §6). */
export const LEGACY_REPLAY_IDENTITY = 'WHMCS:';

/** 'sonata' = configs with `secret` (8.x); 'ga4php' = legacy `tokendata` (7.x, still read by 8.x). */
export type VerifyMode = 'sonata' | 'ga4php';

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

// ---------------------------------------------------------------------------------------------
// Secrets

/** RFC 4648 base32, uppercase, no padding — the form WHMCS stores and authenticator apps expect. */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32_ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

/** A new WHMCS-style TOTP secret: 10 random bytes as 16 uppercase base32 characters. */
export function generateTotpSecret(): string {
  return base32Encode(randomBytes(SECRET_BYTES));
}

/**
 * Validates a secret given on the command line and returns the form to store. Lengths whose
 * trailing bits cannot come from whole bytes (len mod 8 = 1, 3, 6) are refused: Sonata turns
 * those leftover bits into an extra key byte, authenticator apps drop them, so the codes differ.
 */
export function normalizeImportedSecret(input: string): string {
  const s = input.replace(/\s+/g, '').toUpperCase().replace(/=+$/, '');
  if (s === '') throw new UsageError('The TOTP secret is empty; pass a base32 secret such as JBSWY3DPEHPK3PXP.');
  const bad = [...new Set(s.replace(/[A-Z2-7]/g, ''))];
  if (bad.length > 0) {
    throw new UsageError(
      `The TOTP secret contains characters that are not base32 (${bad.join(' ')}); use only A-Z and 2-7.`,
    );
  }
  if ([1, 3, 6].includes(s.length % 8)) {
    throw new UsageError(
      `A ${s.length}-character secret is not valid base32 (no whole number of bytes); check for a missing or extra character.`,
    );
  }
  const bytes = Math.floor((s.length * 5) / 8);
  if (bytes < SECRET_BYTES) {
    throw new UsageError(
      `The TOTP secret is too short (${bytes} bytes); WHMCS uses at least ${SECRET_BYTES} bytes = 16 base32 characters.`,
    );
  }
  return s;
}

const SONATA_CHARMAP: ReadonlyMap<number, number> = new Map(
  [...BASE32_ALPHABET].map((c, i) => [c.charCodeAt(0), i]),
);

/**
 * Port of Sonata's `FixedBitNotation(5, A–Z2–7, rightPadFinalBits=true)->decode()`, byte for byte:
 * case-sensitive, unknown bytes skipped, trailing '=' stripped, and a partial final byte emitted
 * when the string's last character is a valid one. WHMCS derives the HMAC key this way, so a
 * lowercase or damaged secret must give the same "wrong" key here as it does there.
 */
export function sonataBase32Decode(encoded: string): Buffer {
  const s = Buffer.from(encoded, 'utf8');
  let last = s.length - 1;
  while (last >= 0 && s[last] === 0x3d) last--;
  const out: number[] = [];
  let byte = 0;
  let bitsWritten = 0;
  for (let c = 0; c <= last; c++) {
    const v = SONATA_CHARMAP.get(s[c]);
    if (v === undefined) continue;
    const bitsNeeded = 8 - bitsWritten;
    const unused = 5 - bitsNeeded;
    let newBits: number;
    if (bitsNeeded > 5) {
      newBits = v << (bitsNeeded - 5);
      bitsWritten += 5;
    } else {
      newBits = v >> unused;
      bitsWritten = 8;
    }
    byte |= newBits;
    if (bitsWritten === 8 || c === last) {
      out.push(byte & 0xff);
      if (c !== last) {
        bitsWritten = unused;
        byte = (v ^ (newBits << unused)) << (8 - bitsWritten);
      }
    }
  }
  return Buffer.from(out);
}

export type SecretSource = 'secret' | 'tokendata';

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

// ---------------------------------------------------------------------------------------------
// Codes (otplib does HMAC, truncation and the constant-time compare)

interface OtpLib {
  lib: typeof import('otplib');
  guardrails: import('otplib').OTPGuardrails;
}
let otpLib: Promise<OtpLib> | undefined;

function loadOtplib(): Promise<OtpLib> {
  otpLib ??= import('otplib').then((lib) => ({
    lib,
    // otplib refuses keys under 16 bytes by default; WHMCS keys are 10 bytes, and a damaged
    // secret can decode to even fewer, which WHMCS still happily uses.
    guardrails: lib.createGuardrails({ MIN_SECRET_BYTES: 1, MAX_SECRET_BYTES: 4096 }),
  }));
  return otpLib;
}

/**
 * HMAC zero-pads keys to the block size, so an empty key is the same key as one zero byte.
 * WHMCS can end up with an empty key (secret with no valid base32 characters); otplib cannot.
 */
function hmacKey(secretBytes: Uint8Array): Uint8Array {
  return secretBytes.length === 0 ? new Uint8Array(1) : new Uint8Array(secretBytes);
}

function stepOf(unixSeconds: number): number {
  return Math.floor(unixSeconds / TOTP_PERIOD);
}

const PHP_NUMERIC = /^[ \t\n\r\v\f]*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?[ \t\n\r\v\f]*$/;

/**
 * The 6-digit token a WHMCS verifier would effectively compare, or null if no code can match.
 * Sonata: `hash_equals` against the exact 6-character string. ga4php: six consecutive digits
 * somewhere, then PHP `==`, which compares numeric strings by value (" 071271", "71271.0e0"…).
 * Trailing whitespace counts as numeric from PHP 8 on; PHP 7 compared such input as a string.
 */
export function effectiveToken(code: string, mode: VerifyMode): string | null {
  if (typeof code !== 'string') return null;
  if (mode === 'sonata') return /^\d{6}$/.test(code) ? code : null;
  if (!/\d{6}/.test(code)) return null;
  if (/^\d{6}$/.test(code)) return code;
  if (!PHP_NUMERIC.test(code)) return null;
  const value = Number(code.trim());
  if (!Number.isInteger(value) || value < 0 || value > 999_999) return null;
  return String(value).padStart(TOTP_DIGITS, '0');
}

async function matchesAtStep(secretBytes: Uint8Array, token: string, step: number): Promise<boolean> {
  if (step < 0) return false;
  const { lib, guardrails } = await loadOtplib();
  const r = await lib.verify({
    secret: hmacKey(secretBytes),
    token,
    epoch: step * TOTP_PERIOD,
    epochTolerance: 0,
    period: TOTP_PERIOD,
    digits: TOTP_DIGITS,
    algorithm: 'sha1',
    guardrails,
  });
  return r.valid;
}

export type CodeVerdict = 'accepted' | 'past' | 'future' | 'no-match' | 'malformed';

export interface CodeAnalysis {
  /** WHMCS would accept it now (±1 step), ignoring replay protection. */
  accepted: boolean;
  /** Steps from now of the closest matching step within ±window, or null. */
  matchedStep: number | null;
  /** matchedStep × 30. Negative = the code belongs to the past. */
  offsetSeconds: number | null;
  verdict: CodeVerdict;
  explanation: string;
}

export interface AnalyzeOptions {
  /** Unix seconds to judge at; default now. */
  at?: number;
  /** How many steps either side to search for a match; default 10 (±5 min). */
  window?: number;
  mode?: VerifyMode;
}

function span(seconds: number): string {
  return seconds >= 60 && seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}

/** Was this code right at some nearby time? Turns "code rejected" into a clock or secret diagnosis. */
export async function analyzeCode(
  secretBytes: Uint8Array,
  code: string,
  opts: AnalyzeOptions = {},
): Promise<CodeAnalysis> {
  const at = opts.at ?? Math.floor(Date.now() / 1000);
  const window = opts.window ?? 10;
  const mode = opts.mode ?? 'sonata';
  if (!Number.isInteger(window) || window < 0 || window > 2880) {
    throw new UsageError(`The search window must be a whole number of steps from 0 to 2880, not ${window}.`);
  }
  const token = effectiveToken(code, mode);
  if (token === null) {
    return {
      accepted: false,
      matchedStep: null,
      offsetSeconds: null,
      verdict: 'malformed',
      explanation:
        mode === 'sonata'
          ? 'not a 6-digit code — WHMCS compares the exact 6-character string, leading zeros included'
          : 'not a usable code — WHMCS needs six consecutive digits that equal the expected code',
    };
  }
  const now = stepOf(at);
  // Nearest first, so a code that happens to repeat further out cannot hide the real match.
  let matched: number | null = null;
  for (let k = 0; k <= window && matched === null; k++) {
    for (const d of k === 0 ? [0] : [-k, k]) {
      if (await matchesAtStep(secretBytes, token, now + d)) {
        matched = d;
        break;
      }
    }
  }
  if (matched === null) {
    return {
      accepted: false,
      matchedStep: null,
      offsetSeconds: null,
      verdict: 'no-match',
      explanation: `no match within ±${window} steps (±${span(window * TOTP_PERIOD)}) — wrong secret, wrong account, or the device is far off`,
    };
  }
  const offsetSeconds = matched * TOTP_PERIOD;
  const accepted = Math.abs(matched) <= WHMCS_WINDOW_STEPS;
  const s = span(Math.abs(offsetSeconds));
  let explanation: string;
  if (matched === 0) explanation = 'accepted now (matches the current step)';
  else if (accepted) {
    explanation =
      matched < 0
        ? `accepted now (matches the previous step, ${s} ago — inside WHMCS's ±1 step tolerance)`
        : `accepted now (matches the next step, ${s} ahead — inside WHMCS's ±1 step tolerance)`;
  } else if (matched < 0) {
    explanation = `this code was valid ${s} ago — the device clock is about ${s} slow, or the server about ${s} fast`;
  } else {
    explanation = `this code will be valid in ${s} — the device clock is about ${s} fast, or the server about ${s} slow`;
  }
  return {
    accepted,
    matchedStep: matched,
    offsetSeconds,
    verdict: accepted ? 'accepted' : matched < 0 ? 'past' : 'future',
    explanation,
  };
}

// ---------------------------------------------------------------------------------------------
// Replay protection (tblconfiguration 'TOTPUsedOTPs')

export type UsedOtps = Record<string, unknown> | Map<string, unknown> | null | undefined;

/** md5 hex of identity . code, no separator — the key WHMCS stores in `TOTPUsedOTPs`. */
export function replayCacheKey(identity: string, code: string): string {
  return createHash('md5').update(`${identity}${code}`, 'utf8').digest('hex');
}

export interface ReplayCheck {
  /** WHMCS rejects the code before even checking it. */
  replayed: boolean;
  key: string;
  usedAt: number | null;
  ageSeconds: number | null;
  /**
   * The entry is older than 300 s, so the next successful TOTP login (by anyone) prunes it —
   * but until that write happens WHMCS keeps rejecting this code.
   */
  stale: boolean;
}

function entries(map: UsedOtps): Array<[string, unknown]> {
  if (!map) return [];
  return map instanceof Map ? [...map.entries()] : Object.entries(map);
}

/** WHMCS checks presence before pruning, so any entry — however old — means rejection. */
export function isReplayed(usedOtps: UsedOtps, identity: string, code: string, now: number): ReplayCheck {
  const key = replayCacheKey(identity, code);
  const hit = entries(usedOtps).find(([k]) => k === key);
  if (!hit) return { replayed: false, key, usedAt: null, ageSeconds: null, stale: false };
  const usedAt = Number(hit[1]);
  const ageSeconds = Number.isFinite(usedAt) ? now - usedAt : null;
  return {
    replayed: true,
    key,
    usedAt: Number.isFinite(usedAt) ? usedAt : null,
    ageSeconds,
    stale: ageSeconds !== null && ageSeconds > REPLAY_PRUNE_SECONDS,
  };
}

/**
 * What WHMCS writes after a successful verify: add the key, then drop entries older than 300 s.
 * Callers must not store more than USED_OTPS_MAX_ENTRIES entries.
 */
export function recordUsedOtp(usedOtps: UsedOtps, identity: string, code: string, now: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of entries(usedOtps)) out[k] = Number(v);
  out[replayCacheKey(identity, code)] = now;
  for (const [k, t] of Object.entries(out)) {
    if (!(now - t <= REPLAY_PRUNE_SECONDS)) delete out[k];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Provisioning

/** PHP rawurlencode: everything but A-Z a-z 0-9 - _ . ~ as %XX of the UTF-8 bytes. */
export function rawurlencode(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The WHMCS 8.12 provisioning URI: otpauth://totp/<issuer>:<account>?secret=…&issuer=<issuer>. */
export function otpauthUri({ issuer, account, secret }: { issuer: string; account: string; secret: string }): string {
  const i = rawurlencode(issuer);
  return `otpauth://totp/${i}:${rawurlencode(account)}?secret=${rawurlencode(secret)}&issuer=${i}`;
}

/**
 * WHMCS uses the host of the System URL as issuer (PHP `parse_url` host: case kept, no port or
 * user info); 'WHMCS' when there is none. A URL typed without a scheme is read as http.
 */
export function issuerFromSystemUrl(systemUrl: string | null | undefined): string {
  const raw = (systemUrl ?? '').trim();
  if (raw === '') return 'WHMCS';
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(withScheme)?.[1] ?? '';
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  const host = hostPort.startsWith('[') ? hostPort.slice(0, hostPort.indexOf(']') + 1) : hostPort.replace(/:\d*$/, '');
  return host === '' ? 'WHMCS' : host;
}
