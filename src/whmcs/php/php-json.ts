/**
 * PHP's `json_encode()` with default flags, byte for byte: WHMCS 8.x stores second-factor configs
 * this way, and it is the plaintext of the 8.12 AES layer (docs/data-model.md §2.2).
 */
import { formatPhpFloat, phpNumberKind } from './php-serialize.js';

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
