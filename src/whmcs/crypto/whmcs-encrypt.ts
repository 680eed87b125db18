/**
 * WHMCS's legacy `encrypt()`/`decrypt()` (docs/data-model.md §4.1), which hold the Duo keys in
 * `2fasettings`: a SHA1 feedback stream cipher with a 20-byte IV and no integrity check, byte for
 * byte. PHP strings are bytes, so all work is on Buffers.
 */
import { createHash, randomBytes } from 'node:crypto';

const sha1raw = (b: Buffer): Buffer => createHash('sha1').update(b).digest();
const md5hex = (data: string): string => createHash('md5').update(data).digest('hex');

const BLOCK = 20;

/** sha1raw(md5hex(md5hex(H)) . md5hex(H)): masks the IV in the 20-byte header. */
function legacyHashKey(ccHash: string): Buffer {
  const m = md5hex(ccHash);
  return sha1raw(Buffer.from(md5hex(m) + m, 'latin1'));
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
  const p = typeof plain === 'string' ? Buffer.from(plain, 'utf8') : plain;
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
