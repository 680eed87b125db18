/**
 * PHP serialized data as a tree of byte spans, for two jobs the value-only reader cannot do:
 *
 * - **Writing back what was not touched, byte for byte** (`serializeLike`): a third-party module's
 *   `d:1;` stays a float (a JS number cannot say so), integer and string keys keep their PHP order
 *   (JS objects put integer-like keys first), and text keeps the exact bytes the connection gave.
 *   Every value whose JS reading did not change is copied from the original bytes; only what
 *   changed is serialized anew.
 * - **Recovering a damaged value** (`recover: true`): wrong string lengths (a hand edit, or text
 *   re-encoded between latin1 and utf8), array counts that do not match, repeated keys (the last
 *   wins, as in PHP) and trailing bytes are read through; what cannot be read is reported with its
 *   offset, so a rebuild can refuse instead of dropping it.
 */
import { phpSerialize, phpSerializeKey, UTF8_CODEC, type PhpCodec } from './php-serialize.js';

export interface PhpNode {
  kind: 'N' | 'b' | 'i' | 'd' | 's' | 'a';
  /** Byte offsets of the whole value (`s:3:"abc";`) in the parsed buffer. */
  start: number;
  end: number;
  /** The value as phpUnserialize reads it (arrays are plain objects). */
  value: unknown;
  /** Arrays: entries in PHP order (a repeated key appears once, where it was last written). */
  entries?: PhpEntry[];
  /** Recovery changed how this value (or something inside it) reads: its bytes must not be copied. */
  repaired?: boolean;
}

interface PhpEntry {
  key: string;
  keyStart: number;
  keyEnd: number;
  keyRepaired?: boolean;
  node: PhpNode;
}

interface PhpTree {
  root: PhpNode | null;
  /** What was read past (recover mode): wrong lengths, counts, repeated keys, trailing bytes. */
  repairs: string[];
  /** Where reading had to stop, and what was there: everything from here on is lost. */
  lost: { at: number; what: string; path: string } | null;
}

class Lost extends Error {
  constructor(
    readonly at: number,
    readonly what: string,
  ) {
    super(what);
  }
}

/** Nesting beyond this is not WHMCS data; recovery stops there instead of recursing on. */
const MAX_DEPTH = 64;

const FLOAT = /^-?[0-9]+(\.[0-9]*)?(E[+-][0-9]+)?;/;
const INT = /^-?[0-9]+;/;
/** The start of a token that the end of the data cut off. */
const TRUNCATED_TOKEN = /^(s(:[0-9]*(:"?)?)?|i(:-?[0-9]*)?|d(:[-0-9.E+]*)?|b(:[01]?)?|N|a(:[0-9]*(:)?)?)$/;

function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/**
 * Reads `buf` into a tree. Without `recover` the input must be well-formed (it was already accepted
 * by phpUnserialize); with it, damage is read through where the intent is unambiguous.
 */
export function phpTree(buf: Buffer, opts: { codec?: PhpCodec; recover?: boolean } = {}): PhpTree {
  const codec = opts.codec ?? UTF8_CODEC;
  const recover = Boolean(opts.recover);
  const repairs: string[] = [];
  const text = (a: number, b: number) => buf.toString('latin1', a, b);
  const path: string[] = [];

  /** Where a value may start in recovery: after `";` of a string, this tells a real end from a quote inside. */
  const startsToken = (p: number): boolean => {
    if (p >= buf.length) return true;
    const c = buf[p];
    if (c === 0x7d /* } */) return true;
    if (c === 0x4e /* N */) return buf[p + 1] === 0x3b;
    return (c === 0x73 || c === 0x69 || c === 0x61 || c === 0x62 || c === 0x64) && buf[p + 1] === 0x3a;
  };

  function value(p: number, depth: number): PhpNode {
    if (depth > MAX_DEPTH) throw new Lost(p, `arrays nested deeper than ${MAX_DEPTH} levels`);
    const tag = buf[p];
    const rest = text(p, Math.min(buf.length, p + 400));
    switch (tag) {
      case 0x4e:
        if (rest.startsWith('N;')) return { kind: 'N', start: p, end: p + 2, value: null };
        break;
      case 0x62: {
        const m = /^b:([01]);/.exec(rest);
        if (m) return { kind: 'b', start: p, end: p + 4, value: m[1] === '1' };
        break;
      }
      case 0x69: {
        const m = INT.exec(rest.slice(2));
        if (rest.startsWith('i:') && m) {
          const n = BigInt(m[0].slice(0, -1));
          const v = n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
          return { kind: 'i', start: p, end: p + 2 + m[0].length, value: v };
        }
        break;
      }
      case 0x64: {
        const m = FLOAT.exec(rest.slice(2));
        if (rest.startsWith('d:') && m) return { kind: 'd', start: p, end: p + 2 + m[0].length, value: Number(m[0].slice(0, -1)) };
        break;
      }
      case 0x73:
        return string(p);
      case 0x61:
        return array(p, depth);
    }
    // A token cut off by the end of the data is truncation, not garbage.
    if (p >= buf.length || TRUNCATED_TOKEN.test(rest)) throw new Lost(buf.length, 'the value ends here (truncated?)');
    throw new Lost(p, `'${rest.slice(0, 12)}' is not a PHP value`);
  }

  function string(p: number): PhpNode {
    const head = text(p, Math.min(buf.length, p + 24));
    const m = /^s:([0-9]+):"/.exec(head);
    if (!m) throw TRUNCATED_TOKEN.test(head) ? new Lost(buf.length, 'the value ends here (truncated?)') : new Lost(p, 'a string header that cannot be read');
    const from = p + m[0].length;
    const declared = Number(m[1]);
    let to = from + declared;
    if (!(buf[to] === 0x22 && buf[to + 1] === 0x3b)) {
      if (!recover) throw new Lost(p, `string of ${declared} bytes is not followed by '";'`);
      // The real end: the first `";` followed by something that can come next.
      let q = buf.indexOf('";', from, 'latin1');
      while (q >= 0 && !startsToken(q + 2)) q = buf.indexOf('";', q + 1, 'latin1');
      if (q < 0) throw new Lost(buf.length, 'a string that runs to the end of the data (truncated?)');
      to = q;
      repairs.push(`${path.join('.') || '(top level)'}: string declared as ${declared} bytes holds ${to - from}`);
    }
    let v: string;
    try {
      v = codec.decode(buf.subarray(from, to));
    } catch {
      throw new Lost(p, `string bytes that are not ${codec.name} text`);
    }
    return { kind: 's', start: p, end: to + 2, value: v, ...(to !== from + declared ? { repaired: true } : {}) };
  }

  function array(p: number, depth: number): PhpNode {
    const ahead = text(p, Math.min(buf.length, p + 24));
    const m = /^a:([0-9]+):\{/.exec(ahead);
    if (!m) throw TRUNCATED_TOKEN.test(ahead) ? new Lost(buf.length, 'the value ends here (truncated?)') : new Lost(p, 'an array header that cannot be read');
    const declared = Number(m[1]);
    const obj: Record<string, unknown> = {};
    const entries: PhpEntry[] = [];
    const seen = new Set<string>();
    const node: PhpNode = { kind: 'a', start: p, end: p, value: obj, entries };
    let q = p + m[0].length;
    try {
      while (buf[q] !== 0x7d) {
        if (q >= buf.length) throw new Lost(q, 'the array ends here (truncated?)');
        const k = buf[q];
        if (k !== 0x69 && k !== 0x73) throw new Lost(q, 'an array key that is neither an integer nor a string');
        const keyNode = value(q, depth + 1);
        const key = String(keyNode.value);
        path.push(key);
        const v = value(keyNode.end, depth + 1);
        path.pop();
        // Presence by set: a findIndex per key would make a long hostile array quadratic.
        const dup = seen.has(key) ? entries.findIndex((e) => e.key === key) : -1;
        seen.add(key);
        if (dup >= 0) {
          if (!recover) throw new Lost(q, `duplicate array key "${key}"`);
          repairs.push(`${[...path, key].join('.')}: key repeated, the last value wins (as in PHP)`);
          entries.splice(dup, 1);
          delete obj[key];
          node.repaired = true;
        }
        entries.push({ key, keyStart: q, keyEnd: keyNode.end, node: v, ...(keyNode.repaired ? { keyRepaired: true } : {}) });
        setKey(obj, key, v.value);
        if (keyNode.repaired || v.repaired) node.repaired = true;
        q = v.end;
      }
    } catch (e) {
      // A value cut off at the end of the data (a truncated column): what was there is kept; the
      // entry being read when the bytes ran out had nothing left to recover.
      if (!(recover && e instanceof Lost && e.at >= buf.length)) throw e;
      if (!node.repaired) repairs.push(`${path.join('.') || '(top level)'}: the value ends early (truncated?); the entries before the cut are kept`);
      node.repaired = true;
      node.end = buf.length;
      return node;
    }
    if (entries.length !== declared) {
      if (!recover) throw new Lost(p, `array declared ${declared} elements but has ${entries.length}`);
      repairs.push(`${path.join('.') || '(top level)'}: array declared ${declared} elements, holds ${entries.length}`);
      node.repaired = true;
    }
    node.end = q + 1;
    return node;
  }

  try {
    const root = value(0, 0);
    if (root.end < buf.length) {
      if (!recover) return { root, repairs, lost: { at: root.end, what: `${buf.length - root.end} bytes after the value`, path: '(after the value)' } };
      repairs.push(`${buf.length - root.end} bytes after the value dropped`);
    }
    return { root, repairs, lost: null };
  } catch (e) {
    if (!(e instanceof Lost)) throw e;
    return { root: null, repairs, lost: { at: e.at, what: e.what, path: path.join('.') || '(top level)' } };
  }
}

/** Whether two values read the same to PHP (same types as phpUnserialize maps them, same content). */
function samePhpValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) || Array.isArray(b) || a instanceof Map || b instanceof Map) return false;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  const ob = b as Record<string, unknown>;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(ob, k) && samePhpValue((a as Record<string, unknown>)[k], ob[k]));
}

/**
 * phpSerialize(next), except that every value that still reads as it did in `original` is copied
 * from the original bytes, and an array's surviving keys keep their original order (new keys
 * follow, in JS order). With no original it is plain phpSerialize.
 */
export function serializeLike(next: unknown, original: { buf: Buffer; root: PhpNode } | null, codec: PhpCodec = UTF8_CODEC): string {
  if (!original) return phpSerialize(next, codec);
  const { buf } = original;
  const copy = (a: number, b: number) => codec.decode(buf.subarray(a, b));
  const walk = (v: unknown, node: PhpNode | undefined): string => {
    if (node && !node.repaired && samePhpValue(v, node.value)) return copy(node.start, node.end);
    if (!node || node.kind !== 'a' || v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Map) return phpSerialize(v, codec);
    const obj = v as Record<string, unknown>;
    const seen = new Set<string>();
    let body = '';
    let n = 0;
    for (const e of node.entries!) {
      if (!Object.prototype.hasOwnProperty.call(obj, e.key)) continue;
      seen.add(e.key);
      body += (e.keyRepaired ? phpSerializeKey(e.key, codec) : copy(e.keyStart, e.keyEnd)) + walk(obj[e.key], e.node);
      n++;
    }
    for (const k of Object.keys(obj)) {
      if (seen.has(k)) continue;
      body += phpSerializeKey(k, codec) + phpSerialize(obj[k], codec);
      n++;
    }
    return `a:${n}:{${body}}`;
  };
  return walk(next, original.root);
}
