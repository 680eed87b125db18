/**
 * WHMCS's two encryption layers and the small PHP behaviours around them, byte for byte:
 * - legacy `encrypt()`/`decrypt()` (docs/data-model.md §4.1): Duo keys in `2fasettings`;
 * - the AES layer of WHMCS 8.12 second-factor config (§2.2, §4.2);
 * - `json_encode` with default flags, which produces the AES plaintext;
 * - backup codes (§3).
 * All byte work is on Buffers: PHP strings are bytes and the ciphers are byte ciphers.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, randomInt } from 'node:crypto';
import { formatPhpFloat, phpNumberKind, phpTruthy } from '../php/php-serialize.js';

const sha1raw = (b: Buffer): Buffer => createHash('sha1').update(b).digest();
const hexOf = (algo: string, data: string | Buffer): string => createHash(algo).update(data).digest('hex');
const toBytes = (s: string | Buffer): Buffer => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s);

// ---------------------------------------------------------------------------------------------
// Legacy encrypt()/decrypt(): a SHA1 feedback stream cipher with a 20-byte IV and no integrity check
// ---------------------------------------------------------------------------------------------

const BLOCK = 20;

/** sha1raw(md5hex(md5hex(H)) . md5hex(H)): masks the IV in the 20-byte header. */
function legacyHashKey(ccHash: string): Buffer {
  const m = hexOf('md5', ccHash);
  return sha1raw(Buffer.from(hexOf('md5', m) + m, 'latin1'));
}

/**
 * XOR `input` with the keystream. The keystream block for bytes c…c+19 is sha1 of the previous
 * block's key followed by the previous 20 *plaintext* bytes, which is why encrypt and decrypt
 * differ only in which side supplies the plaintext.
 */
function legacyStream(input: Buffer, iv: Buffer, plaintextOf: (out: Buffer, inp: Buffer) => Buffer): Buffer {
  const out = Buffer.alloc(input.length);
  let key = iv;
  for (let c = 0; c < input.length; c++) {
    if (c !== 0 && c % BLOCK === 0) {
      key = sha1raw(Buffer.concat([key, plaintextOf(out, input).subarray(c - BLOCK, c)]));
    }
    out[c] = key[c % BLOCK] ^ input[c];
  }
  return out;
}

function xor20(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = a[i] ^ b[i];
  return out;
}

/**
 * WHMCS `encrypt()`: base64 of (IV XOR hashKey) followed by the stream-enciphered plaintext. The IV
 * is 20 random bytes (WHMCS derives it from rand(); any 20 bytes decrypt the same way); pass one
 * only to reproduce a known ciphertext.
 */
export function whmcsEncrypt(plain: string | Buffer, ccHash: string, iv: Buffer = randomBytes(BLOCK)): string {
  if (iv.length !== BLOCK) throw new RangeError(`whmcsEncrypt: the IV must be ${BLOCK} bytes, got ${iv.length}`);
  const p = toBytes(plain);
  const body = legacyStream(p, iv, () => p);
  return Buffer.concat([xor20(iv, legacyHashKey(ccHash)), body]).toString('base64');
}

/**
 * WHMCS `decrypt()`. A wrong key returns garbage, never an error — callers must sanity-check the
 * result. Like PHP's base64_decode, invalid base64 characters are skipped; input shorter than the
 * 20-byte header decrypts to nothing, as in WHMCS.
 */
export function whmcsDecrypt(b64: string, ccHash: string): Buffer {
  const d = Buffer.from(b64, 'base64');
  if (d.length < BLOCK) return Buffer.alloc(0);
  const iv = xor20(d.subarray(0, BLOCK), legacyHashKey(ccHash));
  return legacyStream(d.subarray(BLOCK), iv, (out) => out);
}

// ---------------------------------------------------------------------------------------------
// WHMCS 8.12 AES layer: phpseclib v2 AES-256-CBC with WHMCS's key and padding choices
// ---------------------------------------------------------------------------------------------

const AES_BLOCK = 16;
const ZERO_IV = Buffer.alloc(AES_BLOCK);

/** The ASCII text of the first 32 lowercase hex digits of sha256(H) — not the raw digest (§4.2). */
export function aesConfigKey(ccHash: string): Buffer {
  // Listing or bulk-checking 100 000 configs decrypts with one hash: derive its key once.
  if (lastKey?.ccHash !== ccHash) lastKey = { ccHash, key: Buffer.from(hexOf('sha256', ccHash).slice(0, 32), 'latin1') };
  return lastKey.key;
}
let lastKey: { ccHash: string; key: Buffer } | undefined;

/**
 * Plain AES-256-CBC as phpseclib v2 does it for WHMCS: zero IV, PKCS#7, lowercase hex. No WHMCS
 * space padding — that is `padConfigPlaintext`'s job. Exposed for test vectors.
 */
export function aesEncryptBytes(plaintext: string | Buffer, ccHash: string): string {
  const cipher = createCipheriv('aes-256-cbc', aesConfigKey(ccHash), ZERO_IV);
  return Buffer.concat([cipher.update(toBytes(plaintext)), cipher.final()]).toString('hex');
}

/**
 * §2.2 writing steps 2–3: str_pad to `strPad` bytes (WHMCS uses random_int(0,16), which only
 * matters for values under 16 bytes), then spaces up to the next multiple of 32 bytes. Lengths are
 * bytes, as in PHP.
 */
export function padConfigPlaintext(json: string, strPad: number = randomInt(0, 17)): Buffer {
  let b = toBytes(json);
  if (b.length < strPad) b = Buffer.concat([b, Buffer.alloc(strPad - b.length, 0x20)]);
  const rem = b.length % 32;
  return rem === 0 ? b : Buffer.concat([b, Buffer.alloc(32 - rem, 0x20)]);
}

/**
 * §2.2 writing steps 2–4: what WHMCS 8.12's setSecondFactorConfig stores for an already
 * json_encoded config (`""` for an empty one). `strPad` fixes the random str_pad length.
 */
export function aesEncryptConfig(json: string, ccHash: string, opts: { strPad?: number } = {}): string {
  return aesEncryptBytes(padConfigPlaintext(json, opts.strPad), ccHash);
}

/** A constant: a literal inside isAesDecryptable would be a new object at every call (once per account listed). */
const HEX = /^[0-9a-fA-F]+$/;

/** WHMCS's `isAesDecryptable`: non-empty, even length, hex digits only. */
export function isAesDecryptable(s: unknown): s is string {
  return typeof s === 'string' && s.length > 0 && s.length % 2 === 0 && HEX.test(s);
}

/** PHP trim()'s default set: space, \t, \n, \r, \0, \x0B — narrower than String#trim. */
const isPhpTrimmed = (x: number) => x === 0x20 || x === 0x09 || x === 0x0a || x === 0x0d || x === 0x00 || x === 0x0b;

/**
 * Decrypt a stored AES config and trim() it like WHMCS does before json_decode. Follows phpseclib
 * v2: the ciphertext is NUL-padded to a whole block, and unpadding checks only the last byte
 * (1…16). Returns null where phpseclib returns false (bad padding, not hex). A wrong key usually
 * gives null, occasionally garbage — never an exception.
 */
export function aesDecryptConfig(hex: string, ccHash: string): string | null {
  if (!isAesDecryptable(hex)) return null;
  let ct = Buffer.from(hex, 'hex');
  const rem = ct.length % AES_BLOCK;
  if (rem) ct = Buffer.concat([ct, Buffer.alloc(AES_BLOCK - rem)]);
  const decipher = createDecipheriv('aes-256-cbc', aesConfigKey(ccHash), ZERO_IV).setAutoPadding(false);
  const pt = Buffer.concat([decipher.update(ct), decipher.final()]);
  return unpadConfigPlaintext(pt, 0, pt.length);
}

/**
 * phpseclib v2's unpadding (last byte only, 1…16) and PHP's trim() of the plaintext in
 * `pt[start, end)`; null where phpseclib fails.
 */
function unpadConfigPlaintext(pt: Buffer, start: number, end: number): string | null {
  const pad = pt[end - 1];
  if (pad === 0 || pad > AES_BLOCK) return null;
  end -= pad;
  while (start < end && isPhpTrimmed(pt[start])) start++;
  while (end > start && isPhpTrimmed(pt[end - 1])) end--;
  return pt.toString('utf8', start, end);
}

/**
 * `aesDecryptConfig` for many values at once, one result per value: its result where the value is
 * AES hex (`isAesDecryptable`), undefined where it is not (aesDecryptConfig gives null for those).
 * A listing decrypts tens of thousands of small configs, and creating a decipher costs more than
 * running it: here one decipher runs over all the ciphertexts laid end to end. CBC then chains each
 * value's first block to the last block of the value before it instead of to the zero IV; XORing
 * that block back out gives exactly what decrypting each value alone gives.
 */
export function aesDecryptConfigs(hexes: readonly unknown[], ccHash: string): Array<string | null | undefined> {
  const out = new Array<string | null | undefined>(hexes.length).fill(undefined);
  // Each value's ciphertext length, NUL-padded to whole blocks as phpseclib does; 0 = not AES hex.
  const sizes = new Array<number>(hexes.length).fill(0);
  const hexOk = new Array<boolean>(hexes.length).fill(true);
  let total = 0;
  for (let i = 0; i < hexes.length; i++) {
    const h = hexes[i];
    if (typeof h !== 'string' || h.length === 0 || h.length % 2 !== 0) continue;
    const n = h.length / 2;
    sizes[i] = n + ((AES_BLOCK - (n % AES_BLOCK)) % AES_BLOCK);
    total += sizes[i];
  }
  if (total === 0) return out;
  const ct = Buffer.alloc(total);
  let at = 0;
  for (let i = 0; i < hexes.length; i++) {
    if (!sizes[i]) continue;
    // The isAesDecryptable test without its regular expression (a tenth of the time): ASCII (Node's
    // hex decoder reads only the low byte of a wider character, so 'İ' would pass for '0'), and
    // hex decoding stops at the first character that is not a hex digit. A value that is not hex
    // keeps its slot, so the chaining below stays right, and gets no result.
    const h = hexes[i] as string;
    if (Buffer.byteLength(h, 'utf8') !== h.length || ct.write(h, at, 'hex') !== h.length / 2) hexOk[i] = false;
    at += sizes[i];
  }
  const decipher = createDecipheriv('aes-256-cbc', aesConfigKey(ccHash), ZERO_IV).setAutoPadding(false);
  const pt = Buffer.concat([decipher.update(ct), decipher.final()]);
  at = 0;
  for (let i = 0; i < hexes.length; i++) {
    const size = sizes[i];
    if (!size) continue;
    if (at > 0) for (let k = 0; k < AES_BLOCK; k++) pt[at + k] ^= ct[at - AES_BLOCK + k];
    if (hexOk[i]) out[i] = unpadConfigPlaintext(pt, at, at + size);
    at += size;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// json_encode() with default flags
// ---------------------------------------------------------------------------------------------

const JSON_SHORT: Record<number, string> = { 0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0c: '\\f', 0x0d: '\\r', 0x22: '\\"', 0x5c: '\\\\', 0x2f: '\\/' };

function jsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (JSON_SHORT[c]) out += JSON_SHORT[c];
    else if (c >= 0x20 && c < 0x80) out += s[i];
    else {
      // PHP escapes every non-ASCII character as \uXXXX (UTF-16 units, so astral ones as a pair).
      // A lone surrogate is not UTF-8 encodable: json_encode would fail with JSON_ERROR_UTF8.
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = s.charCodeAt(i + 1);
        if (c > 0xdbff || !(d >= 0xdc00 && d <= 0xdfff)) throw new TypeError('phpJsonEncode: string contains a lone surrogate');
        out += `\\u${c.toString(16)}\\u${d.toString(16)}`;
        i++;
        continue;
      }
      out += `\\u${c.toString(16).padStart(4, '0')}`;
    }
  }
  return out + '"';
}

/** The entries of a JS container as a PHP array's entries (key order as JS iterates it). */
function jsonEntries(v: object): Array<[string, unknown]> | null {
  if (Array.isArray(v)) {
    const out: Array<[string, unknown]> = [];
    for (let i = 0; i < v.length; i++) if (i in v) out.push([String(i), v[i]]);
    return out;
  }
  if (v instanceof Map) return [...v].map(([k, x]) => [String(k), x]);
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null ? Object.entries(v) : null;
}

function jsonValue(v: unknown, ancestors: Set<object>): string {
  switch (typeof v) {
    case 'string':
      return jsonString(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return v.toString();
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError('phpJsonEncode: Inf and NaN cannot be JSON encoded');
      // PHP prints 1.0 as "1" by default, so an integral float and an int look the same.
      return phpNumberKind(v) === 'int' ? BigInt(v).toString() : formatPhpFloat(v, 'e');
    case 'object': {
      if (v === null) return 'null';
      const entries = jsonEntries(v);
      if (!entries) throw new TypeError(`phpJsonEncode: cannot encode ${v.constructor?.name ?? 'object'}`);
      if (ancestors.has(v)) throw new TypeError('phpJsonEncode: circular reference');
      ancestors.add(v);
      // A PHP array is a JSON list iff its keys are 0…n-1 in order; otherwise an object. An empty
      // JS object is an empty PHP array, hence "[]".
      const isList = entries.every(([k], i) => k === String(i));
      const body = isList
        ? entries.map(([, x]) => jsonValue(x, ancestors)).join(',')
        : entries.map(([k, x]) => `${jsonString(k)}:${jsonValue(x, ancestors)}`).join(',');
      ancestors.delete(v);
      return isList ? `[${body}]` : `{${body}}`;
    }
    default:
      throw new TypeError(`phpJsonEncode: cannot encode ${typeof v}`);
  }
}

/**
 * PHP `json_encode($value)` with default flags: `/` as `\/`, every non-ASCII character as `\uXXXX`
 * (lowercase hex, surrogate pairs), lists as `[…]`, other arrays (and nothing else) as `{…}`, floats
 * as PHP prints them. Throws TypeError where json_encode would return false.
 */
export function phpJsonEncode(value: unknown): string {
  return jsonValue(value, new Set());
}

// ---------------------------------------------------------------------------------------------
// Backup codes (§3)
// ---------------------------------------------------------------------------------------------

/** 16 lowercase hex characters, the alphabet WHMCS itself produces. */
export function generateBackupCode(): string {
  return randomBytes(8).toString('hex');
}

/** `0123456789abcdef` → `0123 4567 89ab cdef`, as WHMCS shows it. */
export function formatBackupCode(raw: string): string {
  return (raw.replace(/\s+/g, '').match(/.{1,4}/g) ?? []).join(' ');
}

/**
 * WHMCS's normalisation: strtolower (ASCII only in PHP 8), then drop every byte outside [a-z0-9].
 * JS toLowerCase would map e.g. the Kelvin sign to "k", which PHP never does.
 */
export function normalizeBackupCode(input: string): string {
  return input.replace(/[A-Z]/g, (c) => c.toLowerCase()).replace(/[^a-z0-9]/g, '');
}

/** The stored form: lowercase sha1 hex of the normalised code. */
export function hashBackupCode(input: string): string {
  return hexOf('sha1', normalizeBackupCode(input));
}

/** PHP 8 numeric string: optional leading/trailing whitespace, sign, digits, fraction, exponent. */
const NUMERIC = /^[ \t\n\r\v\f]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[ \t\n\r\v\f]*$/;
const INTEGRAL = /^[ \t\n\r\v\f]*[+-]?\d+[ \t\n\r\v\f]*$/;

/** A PHP numeric string's value: a bigint for an integer string that fits int64, else a float. */
function phpNumeric(s: string): { value: number | bigint; overflow: boolean } | null {
  if (!NUMERIC.test(s)) return null;
  if (INTEGRAL.test(s)) {
    const n = BigInt(s.trim());
    if (n >= -(2n ** 63n) && n < 2n ** 63n) return { value: n, overflow: false };
    return { value: Number(s.trim()), overflow: true };
  }
  return { value: Number(s.trim()), overflow: false };
}

/**
 * PHP 8 `$a == $b` for a string `$a` (the sha1 of the input) against a stored value of any type.
 * Two numeric strings compare as numbers — so "0e123…" == "0e456…" — which is WHMCS's behaviour and
 * therefore what a faithful verifier must predict.
 */
export function phpLooseEqualsString(a: string, b: unknown): boolean {
  if (b === null || b === undefined) return a === '';
  if (typeof b === 'boolean') return phpTruthy(a) === b;
  if (typeof b === 'number' || typeof b === 'bigint') {
    const na = phpNumeric(a);
    if (!na) return typeof b === 'bigint' || Number.isInteger(b) ? a === String(b) : false;
    return typeof na.value === 'bigint' && (typeof b === 'bigint' || Number.isInteger(b))
      ? na.value === BigInt(b)
      : Number(na.value) === Number(b);
  }
  if (typeof b !== 'string') return false;
  const na = phpNumeric(a);
  const nb = na && phpNumeric(b);
  if (!na || !nb) return a === b;
  // Same-side integer overflow and equal floats: PHP falls back to comparing the strings.
  if (na.overflow && nb.overflow && Number(na.value) === Number(nb.value)) return a === b;
  if (typeof na.value === 'bigint' && typeof nb.value === 'bigint') return na.value === nb.value;
  if (na.overflow !== nb.overflow && (typeof na.value === 'bigint' || typeof nb.value === 'bigint')) return false;
  const fa = Number(na.value);
  const fb = Number(nb.value);
  if (fa === fb && !Number.isFinite(fa)) return a === b;
  return fa === fb;
}

