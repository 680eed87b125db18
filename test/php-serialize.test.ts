import { describe, expect, it } from 'vitest';
import {
  formatPhpFloat,
  phpSerialize,
  phpTruthy,
  phpUnserialize,
  PhpUnserializeError,
  WHMCS_UNSERIALIZE_LIMITS,
  type PhpUnserializeErrorKind,
} from '../src/whmcs/php/php-serialize.js';
import { CliError, EXIT, ParseError } from '../src/errors.js';
import { describeWithPeer } from './helpers/peers.js';
import { php, phpMap } from './helpers/php.js';
import { growth, LINEAR_GROWTH_LIMIT } from './helpers/fuzz.js';

// docs/data-model.md §1.1 / §1.4.
const FRESH_INSTALL_ROW =
  'a:3:{s:7:"modules";a:1:{s:4:"totp";a:2:{s:13:"clientenabled";i:1;s:12:"adminenabled";i:1;}}s:11:"forceclient";i:0;s:10:"forceadmin";i:0;}';
const FULL_SETTINGS = {
  modules: {
    totp: { clientenabled: 1, adminenabled: 1 },
    duosecurity: {
      integrationKey: 'dAOGIsU4bZ1M32SIHU10byyt/PpESENBR0FDQU9BQ0FHQUNBX0FDQUFBQUFBQUFB', // 56+ chars, shape only
      secretKey: 'x'.repeat(80),
      apiHostname: 'api-xxxxxxxx.duosecurity.com',
      clientenabled: 0,
      adminenabled: 1,
    },
    yubico: { clientid: '12345', secretkey: 'c2VjcmV0LWtleQ==', clientenabled: 0, adminenabled: 0 },
  },
  forceclient: 0,
  forceadmin: 1,
};
const FULL_SETTINGS_ROW =
  'a:3:{s:7:"modules";a:3:{s:4:"totp";a:2:{s:13:"clientenabled";i:1;s:12:"adminenabled";i:1;}' +
  's:11:"duosecurity";a:5:{s:14:"integrationKey";s:64:"dAOGIsU4bZ1M32SIHU10byyt/PpESENBR0FDQU9BQ0FHQUNBX0FDQUFBQUFBQUFB";' +
  `s:9:"secretKey";s:80:"${'x'.repeat(80)}";s:11:"apiHostname";s:28:"api-xxxxxxxx.duosecurity.com";` +
  's:13:"clientenabled";i:0;s:12:"adminenabled";i:1;}' +
  's:6:"yubico";a:4:{s:8:"clientid";s:5:"12345";s:9:"secretkey";s:16:"c2VjcmV0LWtleQ==";s:13:"clientenabled";i:0;s:12:"adminenabled";i:0;}}' +
  's:11:"forceclient";i:0;s:10:"forceadmin";i:1;}';
// Third-party guides write string flags (§1.3).
const STRING_FLAGS_ROW =
  'a:3:{s:7:"modules";a:1:{s:4:"totp";a:2:{s:13:"clientenabled";s:2:"on";s:12:"adminenabled";s:0:"";}}s:11:"forceclient";s:0:"";s:10:"forceadmin";s:1:"0";}';
const TOKENDATA =
  'a:6:{s:8:"tokenkey";s:20:"48656c6c6f21deadbeef";s:9:"tokentype";s:4:"TOTP";s:10:"tokentimer";i:30;s:12:"tokencounter";i:1;s:14:"tokenalgorithm";s:4:"SHA1";s:4:"user";s:0:"";}';

/** What phpUnserialize gives back for a JS value: every array becomes an object with string keys. */
function asPhpArrays(v: unknown): unknown {
  if (Array.isArray(v)) return Object.fromEntries(v.map((x, i) => [String(i), asPhpArrays(x)]));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asPhpArrays(x)]));
  return v;
}

function rejection(input: string | Buffer, limits?: Parameters<typeof phpUnserialize>[1]): PhpUnserializeError {
  try {
    phpUnserialize(input, limits);
  } catch (e) {
    if (e instanceof PhpUnserializeError) return e;
    throw e;
  }
  throw new Error(`accepted: ${String(input)}`);
}

const nested = (levels: number) => 'a:1:{i:0;'.repeat(levels - 1) + 'a:0:{}' + '}'.repeat(levels - 1);
const list = (n: number) => `a:${n}:{${Array.from({ length: n }, (_, i) => `i:${i};N;`).join('')}}`;

describe('phpSerialize', () => {
  it.each([
    [null, 'N;'],
    [true, 'b:1;'],
    [false, 'b:0;'],
    [0, 'i:0;'],
    [-0, 'i:0;'],
    [42, 'i:42;'],
    [-7, 'i:-7;'],
    [2 ** 60, 'i:1152921504606846976;'],
    [-(2 ** 63), 'i:-9223372036854775808;'],
    [2 ** 63, 'd:9.223372036854776E+18;'],
    [9223372036854775807n, 'i:9223372036854775807;'],
    [1.5, 'd:1.5;'],
    [0.1, 'd:0.1;'],
    [-2.25, 'd:-2.25;'],
    [1e-7, 'd:1.0E-7;'],
    [1.5e-7, 'd:1.5E-7;'],
    [0.0001, 'd:0.0001;'],
    [0.00001, 'd:1.0E-5;'],
    [1e21, 'd:1.0E+21;'],
    [1e25, 'd:1.0E+25;'],
    [Infinity, 'd:INF;'],
    [-Infinity, 'd:-INF;'],
    [NaN, 'd:NAN;'],
    ['', 's:0:"";'],
    ['abc', 's:3:"abc";'],
    ['é', 's:2:"é";'],
    ['😀', 's:4:"😀";'],
    ['a";b', 's:4:"a";b";'],
    ['\0', 's:1:"\0";'],
  ])('%s → %s', (v, out) => {
    expect(phpSerialize(v)).toBe(out);
  });

  it('writes the data-model rows byte for byte', () => {
    expect(phpSerialize({ modules: { totp: { clientenabled: 1, adminenabled: 1 } }, forceclient: 0, forceadmin: 0 })).toBe(
      FRESH_INSTALL_ROW,
    );
    expect(phpSerialize(FULL_SETTINGS)).toBe(FULL_SETTINGS_ROW);
  });

  it('writes integer-like object keys as PHP int keys, other keys as strings', () => {
    expect(phpSerialize({ '5': 'a', '-3': 'b', '05': 'c', '-0': 'd', '1.5': 'e', '9223372036854775808': 'f' })).toBe(
      'a:6:{i:5;s:1:"a";i:-3;s:1:"b";s:2:"05";s:1:"c";s:2:"-0";s:1:"d";s:3:"1.5";s:1:"e";s:19:"9223372036854775808";s:1:"f";}',
    );
  });

  it('inherits JS key order: integer-like keys of a plain object come first (documented)', () => {
    expect(phpSerialize({ b: 1, 2: 2, a: 3, 1: 4 })).toBe('a:4:{i:1;i:4;i:2;i:2;s:1:"b";i:1;s:1:"a";i:3;}');
  });

  it('keeps a Map in insertion order, with number/bigint/string keys', () => {
    const m = new Map<unknown, unknown>([
      ['b', 1],
      [2, 2],
      ['a', 3],
      [1n, 4],
      ['7', 5],
    ]);
    expect(phpSerialize(m)).toBe('a:5:{s:1:"b";i:1;i:2;i:2;s:1:"a";i:3;i:1;i:4;i:7;i:5;}');
  });

  it('writes JS arrays as PHP lists, skipping holes like a sparse PHP array', () => {
    expect(phpSerialize(['x', ['y']])).toBe('a:2:{i:0;s:1:"x";i:1;a:1:{i:0;s:1:"y";}}');
    // eslint-disable-next-line no-sparse-arrays
    expect(phpSerialize([1, , 3])).toBe('a:2:{i:0;i:1;i:2;i:3;}');
    expect(phpSerialize([])).toBe('a:0:{}');
    expect(phpSerialize({})).toBe('a:0:{}');
    expect(phpSerialize(Object.create(null))).toBe('a:0:{}');
  });

  it('refuses what PHP could not read back', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => phpSerialize(undefined)).toThrow(TypeError);
    expect(() => phpSerialize({ a: { b: undefined } })).toThrow(/undefined at a\.b/);
    expect(() => phpSerialize(() => 1)).toThrow(TypeError);
    expect(() => phpSerialize(Symbol('x'))).toThrow(TypeError);
    expect(() => phpSerialize(new Date())).toThrow(/Date/);
    expect(() => phpSerialize(Buffer.from('x'))).toThrow(TypeError);
    expect(() => phpSerialize(cyclic)).toThrow(/circular/);
    expect(() => phpSerialize(2n ** 63n)).toThrow(/does not fit/);
    expect(() => phpSerialize(new Map<unknown, unknown>([[1, 'a'], ['1', 'b']]))).toThrow(/duplicate/);
    expect(() => phpSerialize(new Map([[1.5, 'a']]))).toThrow(/Map key/);
  });

  it('allows the same object twice when it is not its own ancestor', () => {
    const shared = { a: 1 };
    expect(phpSerialize({ x: shared, y: shared })).toBe('a:2:{s:1:"x";a:1:{s:1:"a";i:1;}s:1:"y";a:1:{s:1:"a";i:1;}}');
  });
});

describe('formatPhpFloat', () => {
  it('uses lowercase e for json_encode', () => {
    expect(formatPhpFloat(1e-7, 'e')).toBe('1.0e-7');
    expect(formatPhpFloat(1.234e17, 'e')).toBe('1.234e+17');
    expect(formatPhpFloat(1e16, 'e')).toBe('10000000000000000');
    expect(formatPhpFloat(123456789.125, 'e')).toBe('123456789.125');
  });
});

describe('phpUnserialize: accepted input', () => {
  it('reads the data-model rows', () => {
    expect(phpUnserialize(FRESH_INSTALL_ROW)).toEqual({
      modules: { totp: { clientenabled: 1, adminenabled: 1 } },
      forceclient: 0,
      forceadmin: 0,
    });
    expect(phpUnserialize(FULL_SETTINGS_ROW)).toEqual(FULL_SETTINGS);
    expect(phpUnserialize(STRING_FLAGS_ROW)).toEqual({
      modules: { totp: { clientenabled: 'on', adminenabled: '' } },
      forceclient: '',
      forceadmin: '0',
    });
    expect(phpUnserialize(TOKENDATA)).toEqual({
      tokenkey: '48656c6c6f21deadbeef',
      tokentype: 'TOTP',
      tokentimer: 30,
      tokencounter: 1,
      tokenalgorithm: 'SHA1',
      user: '',
    });
  });

  it('round-trips the data-model rows byte for byte', () => {
    for (const row of [FRESH_INSTALL_ROW, FULL_SETTINGS_ROW, STRING_FLAGS_ROW, TOKENDATA]) {
      expect(phpSerialize(phpUnserialize(row))).toBe(row);
    }
  });

  it.each([
    ['N;', null],
    ['b:0;', false],
    ['b:1;', true],
    ['i:0;', 0],
    ['i:-12;', -12],
    ['i:007;', 7],
    ['i:-0;', 0],
    ['d:0.5;', 0.5],
    ['d:-1.25;', -1.25],
    ['d:1.;', 1],
    ['d:3;', 3],
    ['d:1.0E+25;', 1e25],
    ['d:1.5E-7;', 1.5e-7],
    ['d:1E+999;', Infinity],
    ['s:0:"";', ''],
    ['s:2:"é";', 'é'],
    ['s:4:"a";b";', 'a";b'],
    ['s:4:"x\ny\0";', 'x\ny\0'],
    ['a:0:{}', {}],
    ['a:2:{i:0;s:1:"a";i:1;s:1:"b";}', { '0': 'a', '1': 'b' }],
    ['a:1:{s:0:"";N;}', { '': null }],
  ])('%j', (input, value) => {
    expect(phpUnserialize(input)).toEqual(value);
  });

  it('keeps -0.0 as -0', () => {
    expect(Object.is(phpUnserialize('d:-0;'), -0)).toBe(true);
  });

  it('returns bigints for ints beyond JS safe integers, saturating like PHP (int)', () => {
    expect(phpUnserialize('i:9007199254740991;')).toBe(9007199254740991);
    expect(phpUnserialize('i:9007199254740992;')).toBe(9007199254740992n);
    expect(phpUnserialize('i:9223372036854775807;')).toBe(9223372036854775807n);
    expect(phpUnserialize('i:99999999999999999999999;')).toBe(9223372036854775807n);
    expect(phpUnserialize('i:-99999999999999999999999;')).toBe(-9223372036854775808n);
    expect(phpSerialize(phpUnserialize('i:9223372036854775807;'))).toBe('i:9223372036854775807;');
  });

  it('turns every PHP key into a JS string key; i:5 and s:"5" are the same key', () => {
    expect(phpUnserialize('a:2:{i:5;s:1:"a";s:2:"05";s:1:"b";}')).toEqual({ '5': 'a', '05': 'b' });
    expect(rejection('a:2:{i:5;N;s:1:"5";N;}').message).toMatch(/duplicate array key "5"/);
  });

  it('stores a "__proto__" key as data without touching the prototype', () => {
    const v = phpUnserialize('a:1:{s:9:"__proto__";a:1:{s:5:"admin";b:1;}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect((v as { admin?: unknown }).admin).toBeUndefined();
    expect(phpSerialize(v)).toBe('a:1:{s:9:"__proto__";a:1:{s:5:"admin";b:1;}}');
  });

  it('keeps a leading byte-order mark inside a string', () => {
    expect(phpUnserialize('s:3:"\uFEFF";')).toBe('\uFEFF');
  });

  it('accepts a Buffer and counts bytes, not characters', () => {
    expect(phpUnserialize(Buffer.from('s:4:"😀";'))).toBe('😀');
    expect(rejection('s:1:"😀";').kind).toBe('syntax');
  });

  it('exports the WHMCS default limits', () => {
    expect(WHMCS_UNSERIALIZE_LIMITS).toEqual({ maxLength: 16384, maxArrayLength: 256, maxDepth: 5 });
  });
});

describe('phpUnserialize: refused input', () => {
  it.each<[string, PhpUnserializeErrorKind, number]>([
    ['', 'syntax', 0],
    ['O:8:"stdClass":0:{}', 'object', 0],
    ['C:3:"Foo":0:{}', 'object', 0],
    ['a:1:{i:0;O:8:"stdClass":0:{}}', 'object', 9],
    ['a:2:{i:0;i:1;i:1;r:2;}', 'object', 17],
    ['a:2:{i:0;i:1;i:1;R:2;}', 'object', 17],
    ['i:1;0', 'syntax', 4], // WHMCS ignores a trailing "0"; we do not
    ['i:1;i:2;', 'syntax', 4],
    ['i:1; ', 'syntax', 4],
    [' i:1;', 'syntax', 0],
    ['i:1', 'syntax', 3],
    ['i:+1;', 'syntax', 2],
    ['i:;', 'syntax', 2],
    ['i:1.5;', 'syntax', 3],
    ['d:1e5;', 'syntax', 3],
    ['d:1E5;', 'syntax', 4],
    ['d:.5;', 'syntax', 2],
    ['d:NAN;', 'syntax', 2],
    ['d:INF;', 'syntax', 2],
    ['b:2;', 'syntax', 2],
    ['b:;', 'syntax', 2],
    ['N', 'syntax', 1],
    ['s:3:"ab";', 'syntax', 5],
    ['s:1:"ab";', 'syntax', 5],
    ['s:2:"ab"', 'syntax', 8],
    ['s:2:ab;', 'syntax', 4],
    ['s:-1:"";', 'syntax', 2],
    ['s:99999999999999999999:"a";', 'syntax', 2],
    ['a:1:{i:0;i:1;', 'syntax', 13],
    ['a:2:{i:0;i:1;}', 'syntax', 13],
    ['a:1:{i:0;i:1;i:1;i:2;}', 'syntax', 13],
    ['a:1:{i:0;}', 'syntax', 9],
    ['a:1:{N;i:1;}', 'type', 5],
    ['a:1:{b:1;i:1;}', 'type', 5],
    ['a:1:{d:1.5;i:1;}', 'type', 5],
    ['a:1:{a:0:{}i:1;}', 'type', 5],
    ['a:1{}', 'syntax', 3],
    ['a:0:{}}', 'syntax', 6],
    ['}', 'syntax', 0],
    ['x:1;', 'syntax', 0],
    ['\u00ff', 'syntax', 0],
    ['s:1:"\xff";', 'syntax', 5], // U+00FF is two bytes in UTF-8
  ])('%j → %s at byte %d', (input, kind, offset) => {
    const e = rejection(input);
    expect(e.kind).toBe(kind);
    expect(e.offset).toBe(offset);
    expect(e.message).toContain(`at byte ${offset}`);
  });

  it('refuses string bytes that are not UTF-8', () => {
    const e = rejection(Buffer.from([0x73, 0x3a, 0x31, 0x3a, 0x22, 0xff, 0x22, 0x3b]));
    expect(e.kind).toBe('type');
    expect(e.offset).toBe(5);
  });

  it('is a ParseError (exit code 1) with a one-line message', () => {
    const e = rejection('O:1:"a":0:{}');
    expect(e).toBeInstanceOf(ParseError);
    expect(e).toBeInstanceOf(CliError);
    expect(e.exitCode).toBe(EXIT.ERROR);
    expect(e.name).toBe('PhpUnserializeError');
    expect(e.message).not.toContain('\n');
  });
});

describe('phpUnserialize: WHMCS limits', () => {
  it('input length ≤ 16384 bytes', () => {
    const str = (n: number) => `s:${n}:"${'x'.repeat(n)}";`;
    expect(Buffer.byteLength(str(16373))).toBe(16384);
    expect(phpUnserialize(str(16373))).toHaveLength(16373);
    const e = rejection(str(16374));
    expect([e.kind, e.offset]).toEqual(['limit', 0]);
    // Bytes, not characters: 8190 × "é" is 16380 bytes plus the frame.
    expect(rejection(`s:16380:"${'é'.repeat(8190)}";`).kind).toBe('limit');
  });

  it('arrays ≤ 256 declared elements', () => {
    expect(Object.keys(phpUnserialize(list(256)) as object)).toHaveLength(256);
    const e = rejection(list(257));
    expect(e.kind).toBe('limit');
    expect(e.offset).toBe(2);
    expect(rejection('a:1:{i:0;a:00257:{}}').kind).toBe('limit');
    expect(rejection('a:99999999999999999999999:{}').kind).toBe('limit');
  });

  it('nesting: the top-level array plus 5 nested levels', () => {
    expect(() => phpUnserialize(nested(6))).not.toThrow();
    const e = rejection(nested(7));
    expect(e.kind).toBe('limit');
    expect(e.offset).toBe(6 * 9);
  });

  it('limits can be overridden like configuration.php does', () => {
    expect(rejection(nested(3), { maxDepth: 1 }).kind).toBe('limit');
    expect(() => phpUnserialize(nested(2), { maxDepth: 1 })).not.toThrow();
    expect(rejection('a:0:{}', { maxDepth: 0 }).kind).toBe('limit');
    expect(phpUnserialize('i:1;', { maxDepth: 0 })).toBe(1);
    expect(rejection(list(3), { maxArrayLength: 2 }).kind).toBe('limit');
    expect(rejection('s:2:"ab";', { maxLength: 8 }).kind).toBe('limit');
    expect(() => phpUnserialize(nested(50), { maxDepth: 100 })).not.toThrow();
    expect(() => phpUnserialize(list(1000), { maxArrayLength: 1000, maxLength: 1e6 })).not.toThrow();
  });
});

describe('phpUnserialize: hostile input', () => {
  const big = { maxLength: Infinity, maxArrayLength: Infinity, maxDepth: Infinity };

  it('does not recurse: 200 000 nested arrays do not overflow the stack', () => {
    const v = phpUnserialize(nested(200_000), big);
    expect(v).toBeTypeOf('object');
  });

  // At n and 16n (up to 2 MB): the cost grows like the input — a ratio of two timings, not a
  // limit. (Float mantissas are not linear in V8's Number(): see php-serialize.fuzz.test.ts.)
  it.each<[string, (n: number) => string]>([
    ['integer digits', (n) => `i:${'9'.repeat(16 * n)};`],
    ['string length digits', (n) => `s:${'9'.repeat(16 * n)}:"";`],
    ['array count zeros', (n) => `a:${'0'.repeat(16 * n)}1:{i:0;N;}`],
    ['truncated nesting', (n) => 'a:1:{i:0;'.repeat(n / 2)],
    ['string length zeros', (n) => `a:1:{s:1:"a";s:${'0'.repeat(8 * n)}:"";}`],
    ['braces', (n) => '{'.repeat(16 * n)],
  ])('stays linear on huge numbers, lengths and truncations: %s', (_, make) => {
    const parse = (input: string) => {
      try {
        phpUnserialize(input, big);
      } catch (e) {
        expect(e).toBeInstanceOf(PhpUnserializeError);
      }
    };
    expect(growth(make, parse, 7_800)).toBeLessThan(LINEAR_GROWTH_LIMIT);
  });

  it('only ever throws PhpUnserializeError on 20 000 mutated inputs', () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const corpus = [FRESH_INSTALL_ROW, FULL_SETTINGS_ROW, STRING_FLAGS_ROW, TOKENDATA, 'a:1:{i:0;d:1.5E-7;}', nested(6)];
    const alphabet = Buffer.from('aisdbNOCrR{}:;"0123456789-.E+\xff\x00', 'latin1');
    let accepted = 0;
    for (let n = 0; n < 20_000; n++) {
      const bytes = [...Buffer.from(corpus[rnd(corpus.length)])];
      for (let m = rnd(4) + 1; m > 0; m--) {
        const at = rnd(bytes.length + 1);
        const op = rnd(4);
        if (op === 0) bytes.splice(at, 1);
        else if (op === 1) bytes.splice(at, 0, alphabet[rnd(alphabet.length)]);
        else if (op === 2) bytes[Math.min(at, bytes.length - 1)] = alphabet[rnd(alphabet.length)];
        else bytes.length = at;
      }
      try {
        const v = phpUnserialize(Buffer.from(bytes));
        accepted++;
        // Whatever is accepted must be writable again.
        expect(() => phpSerialize(v)).not.toThrow();
      } catch (e) {
        if (!(e instanceof PhpUnserializeError)) throw e;
      }
    }
    expect(accepted).toBeGreaterThan(0);
  });
});

describe('phpTruthy', () => {
  it.each<[unknown, boolean]>([
    [null, false],
    [undefined, false],
    [false, false],
    [0, false],
    [-0, false],
    [0n, false],
    ['', false],
    ['0', false],
    [[], false],
    [{}, false],
    [new Map(), false],
    [true, true],
    [1, true],
    [-1, true],
    [0.1, true],
    [NaN, true],
    [1n, true],
    ['1', true],
    ['on', true],
    [' ', true],
    ['00', true],
    ['0.0', true],
    ['false', true],
    [[0], true],
    [{ a: 0 }, true],
  ])('%s → %s', (v, out) => {
    expect(phpTruthy(v)).toBe(out);
  });
});

// ---------------------------------------------------------------------------------------------

/**
 * Values that JSON carries to PHP unchanged: no integral floats, no ints beyond 2^53 (JSON.stringify
 * prints 2^60 as 1152921504606847000), no integer-like keys after other keys.
 */
const CORPUS: unknown[] = [
  null,
  true,
  false,
  0,
  1,
  -1,
  2147483648,
  1700000000,
  9007199254740991,
  0.5,
  -0.25,
  0.1,
  1 / 3,
  1e-7,
  1e21,
  123456.789,
  '',
  'plain',
  'é',
  'ü𝄞 mixed ascii',
  '😀😀😀',
  'ÆØÅ\u00a0\u2028\u2029',
  'quotes " and \' and ";} inside',
  'line\nbreak\r\n\ttab\u0000nul',
  'slash / backslash \\',
  [],
  [1, 2, 3],
  ['a', ['b', ['c', []]]],
  { a: 1 },
  { '0': 'zero', '1': 'one', x: 'ex' },
  { '-1': 'neg', '01': 'padded', '1.0': 'dotted', ' 1': 'spaced' },
  { modules: { totp: { clientenabled: 1, adminenabled: 1 } }, forceclient: 0, forceadmin: 0 },
  FULL_SETTINGS,
  { modules: { totp: { clientenabled: 'on', adminenabled: '' } }, forceclient: '', forceadmin: '0' },
  { tokendata: Buffer.from(TOKENDATA).toString('base64'), backupcode: 'fe5567e8d769550852182cdf69d74bb16dff8e29' },
  { 'ключ': 'значение', '日本': ['語', { 'ü': null }] },
  { a: { b: { c: { d: { e: { f: 'deep' } } } } } },
];

describeWithPeer(['php'], 'php-serialize against php-cli', () => {
  it('serialize() output is byte-identical', () => {
    const theirs = phpMap<string>('return base64_encode(serialize($x));', CORPUS);
    CORPUS.forEach((v, i) => {
      expect(phpSerialize(v), JSON.stringify(v)).toBe(Buffer.from(theirs[i], 'base64').toString('utf8'));
    });
  });

  it("PHP's unserialize() of our output is the same PHP value", () => {
    const ok = phpMap<boolean>(
      '[$json, $ser] = $x; return unserialize($ser, ["allowed_classes" => false]) === json_decode($json, true);',
      CORPUS.map((v) => [JSON.stringify(v), phpSerialize(v)]),
    );
    expect(ok).toEqual(CORPUS.map(() => true));
  });

  it("our phpUnserialize() of PHP's output is the same value", () => {
    const theirs = phpMap<string>('return base64_encode(serialize($x));', CORPUS);
    CORPUS.forEach((v, i) => {
      expect(phpUnserialize(Buffer.from(theirs[i], 'base64')), JSON.stringify(v)).toEqual(asPhpArrays(v));
    });
  });

  it('data-model rows: PHP reads and rewrites them identically, and so do we', () => {
    const rows = [FRESH_INSTALL_ROW, FULL_SETTINGS_ROW, STRING_FLAGS_ROW, TOKENDATA];
    expect(phpMap<string>('return serialize(unserialize($x));', rows)).toEqual(rows);
    expect(rows.map((r) => phpSerialize(phpUnserialize(r)))).toEqual(rows);
  });

  it('formats 2 000 random floats like serialize() and json_encode()', () => {
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const floats: number[] = [5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1 + 0.2, 4503599627370495.5];
    while (floats.length < 2000) {
      const f = (next() * 10 - 5) * 10 ** Math.floor(next() * 60 - 30);
      // Integral doubles in [2^53, 2^63) are PHP ints; JSON would not carry them exactly.
      if (!(Number.isInteger(f) && Math.abs(f) >= 2 ** 53 && Math.abs(f) < 2 ** 63)) floats.push(f);
    }
    // JSON carries doubles exactly (shortest round-trip digits both ways).
    const theirs = phpMap<[string, string]>('return [serialize($x), json_encode($x)];', floats);
    floats.forEach((f, i) => {
      expect(phpSerialize(f), String(f)).toBe(theirs[i][0]);
    });
  });

  it('INF, -INF and NAN as PHP writes them', () => {
    expect(php('echo serialize(INF), serialize(-INF), serialize(NAN);')).toBe(
      phpSerialize(Infinity) + phpSerialize(-Infinity) + phpSerialize(NaN),
    );
  });

  it('integer-like keys become int keys in PHP too', () => {
    const v = { '7': 'a', '-3': 'b', '05': 'c', '9223372036854775807': 'd', '9223372036854775808': 'e' };
    const theirs = php(
      `echo serialize(["7" => "a", "-3" => "b", "05" => "c", "9223372036854775807" => "d", "9223372036854775808" => "e"]);`,
    );
    expect(phpSerialize(v)).toBe(theirs);
  });

  it('PHP truthiness agrees with (bool)', () => {
    const values: unknown[] = [null, false, true, 0, 1, -1, 0.5, '', '0', '00', '0.0', ' ', 'on', 'false', [], [0], {}, { a: 0 }];
    const theirs = phpMap<boolean>('return (bool)$x;', values);
    // json_decode turns {} into an empty PHP array, as an empty WHMCS array would be.
    expect(values.map((v) => phpTruthy(v))).toEqual(theirs);
  });
});
