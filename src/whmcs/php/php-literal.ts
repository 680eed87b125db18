/**
 * PHP literal semantics (PHP 8.x): string escape decoding, numeric literal values and the string
 * form PHP gives a number (`strval()`, `precision=14`). Strings are "byte strings": one JS char per
 * byte (latin1), because PHP strings are bytes and a configuration value such as `"\xff"` need not
 * be valid UTF-8.
 */

/** A PHP numeric literal's value: PHP ints are 64-bit, so keep them exact as bigint. */
export type PhpNumber = { type: 'int'; value: bigint } | { type: 'float'; value: number };

/** Thrown for escapes PHP itself rejects at compile time; `offset` is relative to the body. */
export class PhpEscapeError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const PHP_INT_MAX = 0x7fffffffffffffffn;
const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9a-fA-F]$/.test(c);
const isOct = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '7';

/** Single-quoted body: only `\\` and `\'` are escapes; every other backslash stays. */
export function decodeSingleQuoted(body: string): string {
  return body.replace(/\\([\\'])/g, '$1');
}

/**
 * Double-quoted / heredoc body, ported from zend_scan_escape_string(). `quote` is `"` for
 * double-quoted strings and '' for heredocs, where `\"` is not an escape and stays as written.
 * The caller has already rejected interpolation, so `$` and `{` are plain characters here.
 */
export function decodeDoubleQuoted(body: string, quote: '"' | ''): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    i++;
    if (i >= body.length) {
      out += '\\';
      break;
    }
    const e = body[i];
    switch (e) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'v': out += '\v'; break;
      case 'e': out += '\x1b'; break;
      case 'f': out += '\f'; break;
      case '\\':
      case '$':
        out += e;
        break;
      case '"':
      case '`':
        out += e === quote ? e : '\\' + e;
        break;
      case 'x':
      case 'X': {
        if (!isHex(body[i + 1])) {
          out += '\\' + e;
          break;
        }
        let hex = body[++i];
        if (isHex(body[i + 1])) hex += body[++i];
        out += String.fromCharCode(parseInt(hex, 16));
        break;
      }
      case 'u': {
        // `\u` without `{` passes silently (PHP keeps JSON-looking strings working); a broken
        // `\u{…}` is a compile error.
        if (body[i + 1] !== '{') {
          out += '\\u';
          break;
        }
        const close = body.indexOf('}', i + 2);
        const digits = close < 0 ? '' : body.slice(i + 2, close);
        if (digits === '' || !/^[0-9a-fA-F]+$/.test(digits)) {
          throw new PhpEscapeError('invalid UTF-8 codepoint escape sequence \\u{…}', i - 1);
        }
        const cp = BigInt('0x' + digits);
        if (cp > 0x10ffffn) {
          throw new PhpEscapeError('invalid UTF-8 codepoint escape sequence: codepoint too large', i - 1);
        }
        out += utf8Bytes(Number(cp));
        i = close;
        break;
      }
      default:
        if (isOct(e)) {
          let oct = e;
          if (isOct(body[i + 1])) {
            oct += body[++i];
            if (isOct(body[i + 1])) oct += body[++i];
          }
          // PHP only warns about `\400`..`\777` and keeps the low byte.
          out += String.fromCharCode(parseInt(oct, 8) & 0xff);
        } else {
          out += '\\' + e;
        }
    }
  }
  return out;
}

/** UTF-8 encoding as PHP writes it for `\u{…}`: surrogates are encoded too, unlike TextEncoder. */
function utf8Bytes(cp: number): string {
  if (cp < 0x80) return String.fromCharCode(cp);
  if (cp < 0x800) return String.fromCharCode(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
  if (cp < 0x10000) {
    return String.fromCharCode(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return String.fromCharCode(
    0xf0 | (cp >> 18),
    0x80 | ((cp >> 12) & 0x3f),
    0x80 | ((cp >> 6) & 0x3f),
    0x80 | (cp & 0x3f),
  );
}

// The scanner's number rules (zend_language_scanner.l). PHP's re2c runs case-inverted, so the
// 0x/0b/0o prefixes are case-insensitive.
const LNUM = '[0-9]+(?:_[0-9]+)*';
const DNUM = `(?:(?:${LNUM})?\\.${LNUM}|${LNUM}\\.(?:${LNUM})?)`;
const NUMBER_RULES: Array<[kind: 'exp' | 'dnum' | 'hex' | 'bin' | 'oct' | 'lnum', re: RegExp]> = [
  ['exp', new RegExp(`(?:${DNUM}|${LNUM})[eE][+-]?${LNUM}`, 'y')],
  ['dnum', new RegExp(DNUM, 'y')],
  ['hex', /0[xX][0-9a-fA-F]+(?:_[0-9a-fA-F]+)*/y],
  ['bin', /0[bB][01]+(?:_[01]+)*/y],
  ['oct', /0[oO][0-7]+(?:_[0-7]+)*/y],
  ['lnum', new RegExp(LNUM, 'y')],
];

/**
 * Longest numeric literal at `pos` (flex/re2c maximal munch), or null when none starts there.
 * Throws PhpEscapeError for `08`-style literals, which PHP rejects as "Invalid numeric literal".
 */
export function scanNumber(src: string, pos: number): { text: string; value: PhpNumber } | null {
  let best: { kind: string; text: string } | null = null;
  for (const [kind, re] of NUMBER_RULES) {
    re.lastIndex = pos;
    const m = re.exec(src);
    if (m && (!best || m[0].length > best.text.length)) best = { kind, text: m[0] };
  }
  if (!best) return null;
  const digits = best.text.replace(/_/g, '');
  switch (best.kind) {
    case 'exp':
    case 'dnum':
      return { text: best.text, value: { type: 'float', value: Number(digits) } };
    case 'hex':
      return { text: best.text, value: radixValue(digits.slice(2), 16) };
    case 'bin':
      return { text: best.text, value: radixValue(digits.slice(2), 2) };
    case 'oct':
      return { text: best.text, value: radixValue(digits.slice(2), 8) };
    default:
      if (digits.length > 1 && digits[0] === '0') {
        if (!/^[0-7]+$/.test(digits)) throw new PhpEscapeError(`invalid numeric literal ${best.text}`, 0);
        return { text: best.text, value: radixValue(digits.slice(1), 8) };
      }
      // 20 digits or more are past PHP_INT_MAX (19 digits): skip BigInt, whose decimal parse is not linear.
      if (digits.length > 19) return { text: best.text, value: { type: 'float', value: Number(digits) } };
      return { text: best.text, value: intOrFloat(BigInt(digits), () => Number(digits)) };
  }
}

/** Significant digits past which a hex/octal/binary literal is certainly over PHP_INT_MAX (2^63 − 1). */
const RADIX_MAX_DIGITS: Record<number, number> = { 16: 16, 8: 21, 2: 63 };

/** Overflowing hex/octal/binary literals become floats accumulated digit by digit, as zend_hex_strtod does. */
function radixValue(digits: string, radix: number): PhpNumber {
  const asFloat = () => {
    let v = 0;
    for (const d of digits) v = v * radix + parseInt(d, radix);
    return v;
  };
  if (digits.replace(/^0+/, '').length > RADIX_MAX_DIGITS[radix]!) return { type: 'float', value: asFloat() };
  return intOrFloat(BigInt((radix === 16 ? '0x' : radix === 8 ? '0o' : '0b') + digits), asFloat);
}

function intOrFloat(v: bigint, asFloat: () => number): PhpNumber {
  return v > PHP_INT_MAX ? { type: 'float', value: asFloat() } : { type: 'int', value: v };
}

export function negate(n: PhpNumber): PhpNumber {
  return n.type === 'int' ? { type: 'int', value: -n.value } : { type: 'float', value: -n.value };
}

/** `strval()` of a number: ints in decimal, floats like PHP's `precision=14` (zend_gcvt). */
export function phpNumberToString(n: PhpNumber): string {
  return n.type === 'int' ? n.value.toString() : phpFloatToString(n.value);
}

export function phpFloatToString(v: number): string {
  if (Number.isNaN(v)) return 'NAN';
  if (!Number.isFinite(v)) return v > 0 ? 'INF' : '-INF';
  const sign = v < 0 || Object.is(v, -0) ? '-' : '';
  if (v === 0) return sign + '0';
  const { digits, decpt } = roundToDigits(Math.abs(v), 14);
  if (decpt < 0 ? decpt < -3 : decpt > 14) {
    const exp = decpt - 1;
    const mantissa = digits[0] + '.' + (digits.length > 1 ? digits.slice(1) : '0');
    return `${sign}${mantissa}E${exp < 0 ? '-' : '+'}${Math.abs(exp)}`;
  }
  if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
  if (digits.length <= decpt) return sign + digits + '0'.repeat(decpt - digits.length);
  return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
}

/**
 * zend_dtoa mode 2: the value correctly rounded to `n` significant digits, ties to even,
 * trailing zeros dropped; `decpt` is where the decimal point goes. Worked out on the exact
 * binary value with bigints, because toPrecision() rounds ties away from zero.
 */
function roundToDigits(v: number, n: number): { digits: string; decpt: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, v);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & 0xfffffffffffffn;
  let exp2 = biased === 0 ? -1074 : biased - 1075;
  if (biased !== 0) mant |= 1n << 52n;
  // v = mant * 2^exp2 = digitsInt * 10^-scale exactly.
  let digitsInt: bigint;
  let scale: number;
  if (exp2 >= 0) {
    digitsInt = mant << BigInt(exp2);
    scale = 0;
  } else {
    digitsInt = mant * 5n ** BigInt(-exp2);
    scale = -exp2;
  }
  let str = digitsInt.toString();
  let decpt = str.length - scale;
  if (str.length > n) {
    const keep = BigInt(str.slice(0, n));
    const rest = str.slice(n);
    const half = '5' + '0'.repeat(rest.length - 1);
    const cmp = rest === half ? 0 : rest > half ? 1 : -1;
    const up = cmp > 0 || (cmp === 0 && keep % 2n === 1n);
    let rounded = (up ? keep + 1n : keep).toString();
    if (rounded.length > n) {
      rounded = rounded.slice(0, n);
      decpt++;
    }
    str = rounded;
  }
  return { digits: str.replace(/0+$/, '') || '0', decpt };
}
