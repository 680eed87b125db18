/**
 * TOTP secrets as WHMCS makes and reads them: 10 random bytes in RFC 4648 base32, a secret typed on
 * the command line checked before it is stored, and Sonata's own base32 decoding, which is how WHMCS
 * derives the HMAC key (docs/data-model.md §2.3).
 */
import { randomBytes } from 'node:crypto';
import { UsageError } from '../../errors.js';

/** Sonata's `generateSecret()` default, and what WHMCS 8.x stores (16 base32 chars). */
export const SECRET_BYTES = 10;

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

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
