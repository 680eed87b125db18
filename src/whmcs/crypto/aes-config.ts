/**
 * The AES layer of WHMCS 8.12's per-account second-factor config (docs/data-model.md §2.2, §4.2):
 * phpseclib v2 AES-256-CBC with WHMCS's key derivation and padding choices, byte for byte. All byte
 * work is on Buffers: PHP strings are bytes and the cipher is a byte cipher.
 */
import { createCipheriv, createDecipheriv, createHash, randomInt } from 'node:crypto';

const toBytes = (s: string | Buffer): Buffer => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s);

const AES_BLOCK = 16;
const ZERO_IV = Buffer.alloc(AES_BLOCK);

/** The ASCII text of the first 32 lowercase hex digits of sha256(H) — not the raw digest (§4.2). */
export function aesConfigKey(ccHash: string): Buffer {
  // Listing or bulk-checking 100 000 configs decrypts with one hash: derive its key once.
  if (lastKey?.ccHash !== ccHash) lastKey = { ccHash, key: Buffer.from(createHash('sha256').update(ccHash).digest('hex').slice(0, 32), 'latin1') };
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
