/**
 * PHP `serialize()` data as WHMCS reads and writes it (`2fasettings`, 7.x authdata, `TOTPUsedOTPs`).
 *
 * Mapping between PHP and JS values:
 * - PHP arrays become plain JS objects whose keys are strings (`i:5` and `s:1:"5"` both become "5").
 *   JS orders integer-like keys ("0", "1", … up to 2^32-2) before all other keys and ascending,
 *   whatever the PHP order was; every other key keeps the PHP order. The WHMCS arrays we care about
 *   have string keys, so their order survives a read/write round trip. Pass a `Map` to
 *   `phpSerialize` when an exact order of integer keys matters.
 * - PHP ints become numbers, or bigints when they do not fit a JS safe integer, so that a value read
 *   and written back is unchanged. PHP floats become numbers; an integral float (`d:1;`) therefore
 *   comes back as an int (`i:1;`) if re-serialized — WHMCS never stores floats in 2FA data.
 *
 * Both directions are written here, scalars included: no npm package matched PHP where it matters
 * (byte lengths, float formatting, int keys, WHMCS's limits), so the project depends on none.
 */
import { ParseError } from '../../errors.js';

/**
 * How PHP's bytes and JS strings map onto each other on a given database connection. PHP strings
 * are bytes, and `s:<n>:` counts them in whatever charset WHMCS's connection delivers
 * (`$mysql_charset`): on a latin1 connection "é" is one byte, on utf8 two. The driver decodes that
 * same charset into JS strings, so encoding back with it gives exactly the bytes WHMCS sees.
 */
export interface PhpCodec {
  /** The connection charset this codec stands for, for messages. */
  readonly name: string;
  encode(s: string): Buffer;
  /** Throws on bytes this charset cannot hold (the string is then not readable as text). */
  decode(b: Buffer): string;
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
export const UTF8_CODEC: PhpCodec = Object.freeze({
  name: 'utf8',
  encode: (s: string) => Buffer.from(s, 'utf8'),
  decode: (b: Buffer) => utf8Strict.decode(b),
});

/**
 * A latin1 connection: the driver (mysql2) maps each byte to the character of the same number and
 * back, so that identity is the exact view of WHMCS's bytes (MySQL's latin1 is Windows-1252, so
 * byte 0x80 is "€" to MySQL but U+0080 here — the bytes, which is what PHP counts, are the same).
 */
export const LATIN1_CODEC: PhpCodec = Object.freeze({
  name: 'latin1',
  encode(s: string): Buffer {
    // eslint-disable-next-line no-control-regex
    if (/[^\x00-\xff]/.test(s)) throw new TypeError('text outside latin1 cannot be written over a latin1 connection without loss');
    return Buffer.from(s, 'latin1');
  },
  decode: (b: Buffer) => b.toString('latin1'),
});

/** For charsets without a codec here: ASCII only, anything else is refused rather than guessed. */
function asciiOnlyCodec(name: string): PhpCodec {
  return Object.freeze({
    name,
    encode(s: string): Buffer {
      // eslint-disable-next-line no-control-regex
      if (/[^\x00-\x7f]/.test(s)) throw new TypeError(`non-ASCII text cannot be written over a ${name} connection by whmcs-2fa`);
      return Buffer.from(s, 'latin1');
    },
    decode(b: Buffer): string {
      for (const x of b) if (x >= 0x80) throw new TypeError(`non-ASCII text over a ${name} connection is not supported by whmcs-2fa`);
      return b.toString('latin1');
    },
  });
}

/** The codec for a MySQL connection charset as configuration.php names it (`$mysql_charset`). */
export function codecForCharset(charset: string | undefined): PhpCodec {
  const c = (charset ?? 'utf8').toLowerCase().replace(/_.*$/, '');
  if (c === 'utf8' || c === 'utf8mb3' || c === 'utf8mb4') return UTF8_CODEC;
  if (c === 'latin1') return LATIN1_CODEC;
  if (c === 'ascii') return asciiOnlyCodec('ascii');
  return asciiOnlyCodec(c);
}

export interface UnserializeLimits {
  /** Longest accepted input, in bytes (WHMCS `$serialize_input_max_length`, default 16384). */
  maxLength: number;
  /** Most elements one array may declare (WHMCS `$serialize_array_max_length`, default 256). */
  maxArrayLength: number;
  /**
   * How many arrays may nest *inside* the top-level array (WHMCS `$serialize_array_max_depth`,
   * default 5). WHMCS counts only the enclosing arrays of the array being opened, so the default
   * admits a top-level array plus five nested levels.
   */
  maxDepth: number;
}

export const WHMCS_UNSERIALIZE_LIMITS: Readonly<UnserializeLimits> = Object.freeze({
  maxLength: 16384,
  maxArrayLength: 256,
  maxDepth: 5,
});

export type PhpUnserializeErrorKind = 'syntax' | 'limit' | 'object' | 'type';

/** Input that WHMCS's `safe_unserialize` would refuse (it returns false/NULL there). */
export class PhpUnserializeError extends ParseError {
  readonly kind: PhpUnserializeErrorKind;
  /** Byte offset into the UTF-8 input where the problem was found. */
  readonly offset: number;
  constructor(kind: PhpUnserializeErrorKind, offset: number, what: string) {
    super(`invalid PHP serialized data at byte ${offset}: ${what}`);
    this.kind = kind;
    this.offset = offset;
  }
}

// ---------------------------------------------------------------------------------------------
// Serialization
// ---------------------------------------------------------------------------------------------

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** PHP turns a string array key into an int key when it is a canonical decimal that fits int64. */
const CANONICAL_INT = /^(0|-?[1-9][0-9]*)$/;

function isInt64(n: bigint): boolean {
  return n >= INT64_MIN && n <= INT64_MAX;
}

/** The PHP int a string key becomes, or null when PHP keeps it a string ("05", "-0", "1.5", …). */
function intKeyOf(key: string): bigint | null {
  if (key.length > 20 || !CANONICAL_INT.test(key)) return null;
  const n = BigInt(key);
  return isInt64(n) ? n : null;
}

/**
 * A float as PHP ≥ 7.1 prints it with serialize_precision=-1 (serialize, var_export, json_encode):
 * the shortest round-trip digits, positional unless the decimal exponent is < -4 or > 16, where it
 * becomes `1.0E+25` style. `expChar` is 'E' for serialize() and 'e' for json_encode().
 */
export function formatPhpFloat(n: number, expChar: 'E' | 'e'): string {
  if (Number.isNaN(n)) return 'NAN';
  if (!Number.isFinite(n)) return n > 0 ? 'INF' : '-INF';
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  // toExponential() without an argument yields the shortest digits that round-trip.
  const [mant, expStr] = n.toExponential().split('e');
  const sign = mant.startsWith('-') ? '-' : '';
  const digits = mant.replace('-', '').replace('.', '');
  const exp = Number(expStr); // value = 0.d1d2… × 10^(exp+1)
  if (exp < -4 || exp > 16) {
    const frac = digits.length > 1 ? digits.slice(1) : '0';
    return `${sign}${digits[0]}.${frac}${expChar}${exp < 0 ? '-' : '+'}${Math.abs(exp)}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  if (digits.length <= exp + 1) return `${sign}${digits}${'0'.repeat(exp + 1 - digits.length)}`;
  return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}

/** How a JS number is stored by PHP: an int when integral and within int64, else a float. */
export function phpNumberKind(n: number): 'int' | 'float' {
  return Number.isInteger(n) && n >= -(2 ** 63) && n < 2 ** 63 ? 'int' : 'float';
}

type Entries = Array<[string, unknown]>;

function pathOf(path: string[]): string {
  return path.length ? path.join('.') : '(top level)';
}

/** The entries of a JS container as PHP array entries; null when `v` is not a container. */
function containerEntries(v: object, path: string[]): Entries | null {
  if (Array.isArray(v)) {
    const out: Entries = [];
    for (let i = 0; i < v.length; i++) if (i in v) out.push([String(i), v[i]]);
    return out;
  }
  if (v instanceof Map) {
    const out: Entries = [];
    for (const [k, val] of v) {
      if (typeof k === 'string') out.push([k, val]);
      else if (typeof k === 'bigint' || (typeof k === 'number' && Number.isInteger(k))) out.push([String(k), val]);
      else throw new TypeError(`phpSerialize: unsupported Map key ${String(k)} at ${pathOf(path)}`);
    }
    return out;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) return Object.entries(v);
  return null;
}

function serializeKey(key: string, codec: PhpCodec = UTF8_CODEC): string {
  const asInt = intKeyOf(key);
  return asInt !== null ? `i:${asInt};` : serializeString(key, codec);
}

/** `s:<byte length>:"<bytes>";` — the length counts the bytes of the connection's charset, as PHP's strlen() does. */
function serializeString(s: string, codec: PhpCodec): string {
  return `s:${codec.encode(s).length}:"${s}";`;
}

function serializeValue(v: unknown, path: string[], ancestors: Set<object>, codec: PhpCodec): string {
  switch (typeof v) {
    case 'string':
      return serializeString(v, codec);
    case 'boolean':
      return v ? 'b:1;' : 'b:0;';
    case 'bigint':
      if (!isInt64(v)) throw new TypeError(`phpSerialize: ${v} does not fit a PHP int at ${pathOf(path)}`);
      return `i:${v};`;
    case 'number':
      // PHP prints floats its own way (`d:1.0E-7;`, not JS's `1e-7`).
      if (phpNumberKind(v) === 'int') return `i:${BigInt(v)};`;
      return `d:${formatPhpFloat(v, 'E')};`;
    case 'object': {
      if (v === null) return 'N;';
      const entries = containerEntries(v, path);
      if (!entries) throw new TypeError(`phpSerialize: cannot serialize ${v.constructor?.name ?? 'object'} at ${pathOf(path)}`);
      if (ancestors.has(v)) throw new TypeError(`phpSerialize: circular reference at ${pathOf(path)}`);
      ancestors.add(v);
      // Only a Map can repeat a key (5 and "5" are the same PHP key).
      const seen = new Set<string>();
      let body = '';
      for (const [k, val] of entries) {
        if (seen.has(k)) throw new TypeError(`phpSerialize: duplicate PHP key "${k}" at ${pathOf(path)}`);
        seen.add(k);
        body += serializeKey(k, codec) + serializeValue(val, [...path, k], ancestors, codec);
      }
      ancestors.delete(v);
      return `a:${entries.length}:{${body}}`;
    }
    default:
      throw new TypeError(`phpSerialize: cannot serialize ${typeof v} at ${pathOf(path)}`);
  }
}

/**
 * PHP `serialize()` of a JS value, byte-for-byte as PHP (and WHMCS's `safe_serialize`) would write
 * it: null → `N;`, booleans → `b:`, integral numbers and bigints → `i:`, other numbers → `d:`,
 * strings → `s:<UTF-8 byte length>:"…";`, arrays/plain objects/Maps → `a:`. Object keys that PHP
 * would turn into ints ("5", "-3") are written as `i:` keys, as PHP does. Anything else (undefined,
 * functions, class instances, cycles) throws a TypeError rather than write something WHMCS rejects.
 */
export function phpSerialize(value: unknown, codec: PhpCodec = UTF8_CODEC): string {
  return serializeValue(value, [], new Set(), codec);
}

/** phpSerialize of one array key (`i:5;` or `s:1:"x";`), as PHP writes it. */
export function phpSerializeKey(key: string, codec: PhpCodec = UTF8_CODEC): string {
  return serializeKey(key, codec);
}

// ---------------------------------------------------------------------------------------------
// Unserialization: a strict reader with the semantics of WHMCS's safe_unserialize
// ---------------------------------------------------------------------------------------------

const C = {
  quote: 0x22,
  minus: 0x2d,
  dot: 0x2e,
  zero: 0x30,
  nine: 0x39,
  colon: 0x3a,
  semi: 0x3b,
  E: 0x45,
  plus: 0x2b,
  open: 0x7b,
  close: 0x7d,
} as const;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
// ignoreBOM keeps a leading U+FEFF as content instead of silently dropping it.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

interface Frame {
  obj: Record<string, unknown>;
  declared: number;
  count: number;
  /** Key read, value pending. */
  key: string | null;
}

/** Byte-level cursor; every method advances past what it consumed or throws. */
class Reader {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    readonly codec: PhpCodec = UTF8_CODEC,
  ) {}

  fail(kind: PhpUnserializeErrorKind, what: string, at = this.pos): never {
    throw new PhpUnserializeError(kind, at, what);
  }

  expect(byte: number, what: string): void {
    if (this.buf[this.pos] !== byte) this.fail('syntax', `expected ${what}`);
    this.pos++;
  }

  /** `[0-9]+` as text; the caller decides how big a number may be. */
  digits(what: string): string {
    const start = this.pos;
    while (this.pos < this.buf.length && this.buf[this.pos] >= C.zero && this.buf[this.pos] <= C.nine) this.pos++;
    if (this.pos === start) this.fail('syntax', `expected digits in ${what}`);
    return this.buf.toString('latin1', start, this.pos);
  }

  /** A length/count field: digits, compared to `max` without ever building a huge number. */
  count(what: string, max: number, kind: PhpUnserializeErrorKind): number {
    const at = this.pos;
    const text = this.digits(what).replace(/^0+(?=.)/, '');
    const n = text.length > 15 ? Infinity : Number(text);
    if (n > max) this.fail(kind, `${what} ${text.length > 15 ? text.slice(0, 15) + '…' : text} exceeds ${max}`, at);
    return n;
  }

  /** `i:` body: PHP's (int) cast saturates at the int64 bounds. */
  int(): number | bigint {
    const neg = this.buf[this.pos] === C.minus;
    if (neg) this.pos++;
    const text = this.digits('integer').replace(/^0+(?=.)/, '');
    // More than 19 digits always saturates; skipping BigInt there keeps huge inputs linear.
    let n = text.length > 19 ? INT64_MAX + 1n : BigInt(text);
    if (neg) n = -n;
    if (n > INT64_MAX) n = INT64_MAX;
    if (n < INT64_MIN) n = INT64_MIN;
    return n >= -MAX_SAFE && n <= MAX_SAFE ? Number(n) : n;
  }

  /** `d:` body: `-?[0-9]+\.?[0-9]*(E[+-][0-9]+)?` — no NAN/INF, no lowercase e. */
  float(): number {
    const start = this.pos;
    if (this.buf[this.pos] === C.minus) this.pos++;
    this.digits('float');
    if (this.buf[this.pos] === C.dot) {
      this.pos++;
      while (this.pos < this.buf.length && this.buf[this.pos] >= C.zero && this.buf[this.pos] <= C.nine) this.pos++;
    }
    if (this.buf[this.pos] === C.E) {
      this.pos++;
      const s = this.buf[this.pos];
      if (s !== C.plus && s !== C.minus) this.fail('syntax', "expected '+' or '-' after 'E' in float");
      this.pos++;
      this.digits('float exponent');
    }
    return Number(this.buf.toString('latin1', start, this.pos));
  }

  /** `s:` body after the tag: `<len>:"<len bytes>"` (the caller reads the `;`). */
  string(): string {
    const len = this.count('string length', this.buf.length, 'syntax');
    this.expect(C.colon, "':' after string length");
    this.expect(C.quote, "'\"' before string content");
    const start = this.pos;
    if (start + len + 1 > this.buf.length || this.buf[start + len] !== C.quote) {
      this.fail('syntax', `string of ${len} bytes is not followed by '"'`, start);
    }
    this.pos = start + len + 1;
    try {
      return this.codec === UTF8_CODEC ? utf8.decode(this.buf.subarray(start, start + len)) : this.codec.decode(this.buf.subarray(start, start + len));
    } catch {
      // WHMCS would keep the raw bytes; a JS string cannot, and rewriting them would corrupt them.
      return this.fail('type', this.codec === UTF8_CODEC ? 'string content is not valid UTF-8' : `string content is not ${this.codec.name} text`, start);
    }
  }
}

const OBJECT_TAGS = new Set([0x4f /* O */, 0x43 /* C */, 0x72 /* r */, 0x52 /* R */]);

function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  // A plain assignment to "__proto__" would replace the prototype instead of adding a key.
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/**
 * Parse PHP serialized data exactly as strictly as WHMCS's `safe_unserialize`: only `N;`, `b:0|1;`,
 * `i:`, `d:`, `s:` and `a:`; array keys `i:` or `s:` only; exact byte lengths; the whole input must
 * be consumed; limits as in WHMCS (overridable like configuration.php's `$serialize_*` settings).
 * Objects (`O:`/`C:`) and references (`r:`/`R:`) are refused. Iterative and linear in the input,
 * so hostile input can neither hang it nor overflow the stack.
 *
 * Stricter than WHMCS in three corner cases that no WHMCS-written value contains: a repeated array
 * key is refused (WHMCS overwrites it and can then miscount), trailing data is always refused (WHMCS
 * ignores a trailing "0"), and string bytes must be valid UTF-8.
 */
export function phpUnserialize(text: string | Buffer, limits: Partial<UnserializeLimits> = {}, codec: PhpCodec = UTF8_CODEC): unknown {
  return unserializeCore(text, limits, codec, false).value;
}

/**
 * phpUnserialize that stops after the first complete value instead of refusing what follows it:
 * `end` is where the value ends (PHP's own unserialize() ignores such trailing bytes too).
 */
export function phpUnserializePrefix(
  text: string | Buffer,
  limits: Partial<UnserializeLimits> = {},
  codec: PhpCodec = UTF8_CODEC,
): { value: unknown; end: number; length: number } {
  return unserializeCore(text, limits, codec, true);
}

function unserializeCore(
  text: string | Buffer,
  limits: Partial<UnserializeLimits>,
  codec: PhpCodec,
  allowTrailing: boolean,
): { value: unknown; end: number; length: number } {
  const lim: UnserializeLimits = { ...WHMCS_UNSERIALIZE_LIMITS, ...limits };
  const buf = typeof text === 'string' ? codec.encode(text) : text;
  // Explicitly typed so that TypeScript narrows after r.fail(), which never returns.
  const r: Reader = new Reader(buf, codec);
  if (buf.length === 0) r.fail('syntax', 'empty input');
  if (buf.length > lim.maxLength) r.fail('limit', `input of ${buf.length} bytes exceeds ${lim.maxLength}`);

  const stack: Frame[] = [];
  let root: unknown;
  for (;;) {
    const top = stack.length ? stack[stack.length - 1] : null;
    const at = r.pos;
    if (at >= buf.length) r.fail('syntax', top ? 'unexpected end of input inside an array' : 'unexpected end of input');
    const tag = buf[at];

    if (tag === C.close) {
      if (!top || top.key !== null) r.fail('syntax', top ? "expected a value, found '}'" : "unexpected '}'");
      if (top.count < top.declared) r.fail('syntax', `array declared ${top.declared} elements but has ${top.count}`);
      r.pos++;
      stack.pop();
      if (!stack.length) break;
      continue;
    }
    if (OBJECT_TAGS.has(tag)) r.fail('object', `'${String.fromCharCode(tag)}:' (objects and references) is not allowed`);

    let value: unknown;
    let opened: Frame | null = null;
    switch (tag) {
      case 0x4e /* N */:
        r.pos++;
        r.expect(C.semi, "';' after N");
        value = null;
        break;
      case 0x62 /* b */: {
        r.pos++;
        r.expect(C.colon, "':' after b");
        const d = buf[r.pos];
        if (d !== 0x30 && d !== 0x31) r.fail('syntax', 'boolean must be 0 or 1');
        r.pos++;
        r.expect(C.semi, "';' after boolean");
        value = d === 0x31;
        break;
      }
      case 0x69 /* i */:
        r.pos++;
        r.expect(C.colon, "':' after i");
        value = r.int();
        r.expect(C.semi, "';' after integer");
        break;
      case 0x64 /* d */:
        r.pos++;
        r.expect(C.colon, "':' after d");
        value = r.float();
        r.expect(C.semi, "';' after float");
        break;
      case 0x73 /* s */:
        r.pos++;
        r.expect(C.colon, "':' after s");
        value = r.string();
        r.expect(C.semi, "';' after string");
        break;
      case 0x61 /* a */: {
        r.pos++;
        r.expect(C.colon, "':' after a");
        const declared = r.count('array length', lim.maxArrayLength, 'limit');
        r.expect(C.colon, "':' after array length");
        r.expect(C.open, "'{' after array length");
        opened = { obj: {}, declared, count: 0, key: null };
        value = opened.obj;
        break;
      }
      default:
        r.fail('syntax', `unknown type '${tag >= 0x20 && tag < 0x7f ? String.fromCharCode(tag) : '\\x' + tag.toString(16).padStart(2, '0')}'`);
    }

    if (top && top.key === null) {
      // Key position: WHMCS accepts only i and s here.
      if (tag !== 0x69 && tag !== 0x73) r.fail('type', `array key must be an integer or string, found '${String.fromCharCode(tag)}:'`, at);
      if (top.count >= lim.maxArrayLength) r.fail('limit', `array has more than ${lim.maxArrayLength} elements`, at);
      if (top.count >= top.declared) r.fail('syntax', `array has more than the ${top.declared} elements it declared`, at);
      // PHP turns "5" into the int key 5, whose JS key is "5" again: the string form is the key.
      const key = String(value);
      if (Object.prototype.hasOwnProperty.call(top.obj, key)) r.fail('syntax', `duplicate array key "${key}"`, at);
      top.key = key;
      continue;
    }

    // WHMCS refuses to open an array while its stack of saved parents holds maxDepth entries. The
    // top-level array is never pushed there, so that count is the parent's depth below the top.
    if (opened && Math.max(0, stack.length - 1) >= lim.maxDepth) {
      r.fail('limit', `arrays nested more than ${lim.maxDepth} levels inside the top-level array`, at);
    }
    if (top) {
      setKey(top.obj, top.key as string, value);
      top.key = null;
      top.count++;
    } else {
      root = value;
    }
    if (opened) stack.push(opened);
    else if (!top) break;
  }
  if (r.pos !== buf.length && !allowTrailing) r.fail('syntax', `trailing data after the value (${buf.length - r.pos} bytes)`);
  return { value: root, end: r.pos, length: buf.length };
}

// ---------------------------------------------------------------------------------------------

/**
 * PHP truthiness (`(bool)`, `!empty()`), which is how WHMCS reads its enable/force flags and the
 * module columns: "", "0", 0, 0.0, null, false and empty arrays are false; "on", "1", " ", "0.0",
 * NAN and non-empty arrays are true. `undefined` (a missing key) counts as null.
 */
export function phpTruthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false) return false;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'bigint') return v !== 0n;
  if (typeof v === 'string') return v !== '' && v !== '0';
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}
