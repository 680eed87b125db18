/**
 * Fuzzing the PHP unserializer (WHMCS's safe_unserialize semantics). Random and mutated inputs —
 * built from valid `2fasettings` rows, `TOTPUsedOTPs` maps and 7.x account configs — must only ever
 * fail with PhpUnserializeError, each quickly; and every input that parses must survive a round
 * trip: phpSerialize(parsed) parses back to the same value.
 *
 * FUZZ_RUNS (default 100000) sets the count and FUZZ_SEED the seed; a failure names both.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { phpSerialize, phpUnserialize, PhpUnserializeError, type UnserializeLimits } from '../src/whmcs/php/php-serialize.js';
import { whmcsEncrypt } from '../src/whmcs/crypto/whmcs-encrypt.js';
import { encodeTokendata } from '../src/services/totp/stored-secret.js';
import { sonataBase32Decode } from '../src/services/totp/base32-secret.js';
import { FRESH_INSTALL_2FA } from '../src/whmcs/schema/seed.js';
import { chance, fuzzSettings, growth, int, LINEAR_GROWTH_LIMIT, mulberry32, mutateBytes, pick, SLOWNESS_LIMIT, slownessAgainst, timeIt, type Rng } from './helpers/fuzz.js';

const { seed: SEED, runs: FUZZ_RUNS } = fuzzSettings(0x5e41);

const H = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab';
const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** Valid values as WHMCS stores them: the seeds every mutation starts from. */
const SEEDS: Buffer[] = [
  FRESH_INSTALL_2FA,
  phpSerialize({
    modules: {
      totp: { clientenabled: 1, adminenabled: 1 },
      duosecurity: { integrationKey: whmcsEncrypt('DIWJ8X6AEYOR5OMC6TQ1', H), secretKey: whmcsEncrypt('Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep', H), apiHostname: 'api-1a2b3c4d.duosecurity.com', clientenabled: 0, adminenabled: 1 },
      yubico: { clientid: '87654', secretkey: 'c2VjcmV0LWtleS1vZi15dWJpY28tYXBp', clientenabled: 0, adminenabled: 0 },
    },
    forceclient: 0,
    forceadmin: 1,
  }),
  // Third-party guides write string flags; WHMCS reads them by truthiness.
  'a:3:{s:7:"modules";a:2:{s:4:"totp";a:2:{s:13:"clientenabled";s:2:"on";s:12:"adminenabled";s:0:"";}s:9:"acme2fa_x";a:1:{s:3:"url";s:19:"https://é.example/?";}}s:11:"forceclient";s:0:"";s:10:"forceadmin";b:1;}',
  // TOTPUsedOTPs: md5(identity . code) => unix time.
  phpSerialize(Object.fromEntries(Array.from({ length: 6 }, (_, i) => [md5(`alice@example.com${100000 + i * 7919}`), 1_700_000_000 + i * 30]))),
  phpSerialize({ [md5('WHMCS:123456')]: 1_700_000_000 }),
  // 7.x account configs: tokendata (base64 of a serialized ga4php token) and the backup code hash.
  phpSerialize({ tokendata: encodeTokendata(sonataBase32Decode('JBSWY3DPEHPK3PXP')), backupcode: sha1('0123456789abcdef') }),
  phpSerialize({ tokendata: encodeTokendata(sonataBase32Decode('GEZDGNBVGY3TQOJQ')) }),
  'a:6:{s:8:"tokenkey";s:20:"48656c6c6f21deadbeef";s:9:"tokentype";s:4:"TOTP";s:10:"tokentimer";i:30;s:12:"tokencounter";i:1;s:14:"tokenalgorithm";s:4:"SHA1";s:4:"user";s:0:"";}',
  phpSerialize({ yubicoprefix: sha1('cccccccbcjdi'), backupcode: sha1('x'), attempts: 3, backup_attempts: 0 }),
  // Every scalar form, int keys (negative, huge), nested lists, and strings full of syntax.
  'a:9:{i:0;N;i:-5;b:0;i:9223372036854775807;i:-9223372036854775808;s:1:"d";d:-1.5E-7;s:2:"ü";s:7:"a\";b:}{";i:7;a:2:{i:0;a:0:{}i:1;a:1:{s:0:"";d:0.1;}}s:3:"big";i:99999999999999999999;s:3:"dbl";d:1.0E+25;s:1:"z";d:9007199254740993;}',
].map((s) => Buffer.from(s, 'utf8'));

const INSERTS = [
  ';', ':', '{', '}', '"', 'a:1:{', 'a:0:{}', 'i:0;', 'N;', 'b:1;', 'b:2;', 'd:1E+999;', 'd:-0;', 'd:NAN;', 'd:INF;', 'd:1e5;',
  's:0:"";', 's:99999999:"', 'i:-9223372036854775809;', 'i:' + '9'.repeat(40) + ';', 'O:8:"stdClass":0:{}', 'C:3:"Foo":0:{}', 'r:1;', 'R:2;',
  'a:1:{i:0;'.repeat(8), '}'.repeat(8), 'a:-1:{', 'a:01:{', 's:-1:"', '\x00', '\xff', '\xc3', '\xed\xa0\x80', 'E+', '.', '-', '__proto__',
].map((s) => Buffer.from(s, 'latin1'));

/** Replace one length or count field (`s:<n>:` / `a:<n>:`) with a plausible-but-wrong one. */
function editLengthField(r: Rng, b: Buffer): Buffer {
  const text = b.toString('latin1');
  const fields = [...text.matchAll(/([sa]):(\d+):/g)];
  if (!fields.length) return b;
  const f = pick(r, fields);
  const n = Number(f[2]);
  const replacement = pick(r, [String(n + 1), String(Math.max(0, n - 1)), '0', String(n * 2), '0' + f[2], '9'.repeat(1 + int(r, 30)), String(2 ** 31), '-1', '']);
  const at = f.index! + 2;
  return Buffer.from(text.slice(0, at) + replacement + text.slice(at + f[2]!.length), 'latin1');
}

/** Replace one number (`i:` / `d:`) with an extreme one. */
function hugeNumber(r: Rng, b: Buffer): Buffer {
  const text = b.toString('latin1');
  const nums = [...text.matchAll(/([id]):(-?[0-9.E+-]+);/g)];
  if (!nums.length) return b;
  const m = pick(r, nums);
  const big = pick(r, [
    '9'.repeat(1 + int(r, 5000)),
    '-' + '9'.repeat(1 + int(r, 5000)),
    '9223372036854775808',
    '-9223372036854775809',
    '0'.repeat(int(r, 3000)) + '1',
    '1E+' + '9'.repeat(1 + int(r, 10)),
    '1.' + '5'.repeat(int(r, 5000)) + 'E-400',
    '4.9E-324',
    '1.7976931348623157E+308',
  ]);
  const at = m.index! + 2;
  return Buffer.from(text.slice(0, at) + big + text.slice(at + m[2]!.length), 'latin1');
}

/**
 * Arrays nested `depth` deep, closed or not. Kept to tens of kilobytes so the per-input time bound
 * measures the parser, not the input's size; the linear-time test below goes 200 000 deep.
 */
function nestingBomb(r: Rng): Buffer {
  const depth = pick(r, [6, 7, 64, 1000, 2500]);
  const open = chance(r, 0.5) ? 'a:1:{i:0;' : 'a:1:{s:1:"x";';
  const inner = pick(r, ['N;', 'a:0:{}', 'i:1;', '']);
  return Buffer.from(open.repeat(depth) + inner + (chance(r, 0.7) ? '}'.repeat(depth) : ''), 'latin1');
}

/** A random PHP value, serialized: what a mutation of no known row could still produce. */
function randomValue(r: Rng, depth = 0): string {
  const roll = int(r, depth > 3 ? 6 : 8);
  switch (roll) {
    case 0:
      return 'N;';
    case 1:
      return `b:${int(r, 2)};`;
    case 2:
      return `i:${pick(r, ['0', '-1', String(int(r, 1e9)), '9007199254740992', '-9223372036854775808', '9223372036854775807', String(-int(r, 1e6))])};`;
    case 3:
      return `d:${pick(r, ['0.5', '-2.25', '1.0E-7', '1.0E+25', '3', '-0', '0.1', '123456789.125'])};`;
    case 4:
    case 5: {
      const chars = ['a', 'Z', '"', ';', '}', '{', ':', ' ', 'é', '€', '😀', '\\', '\n', '\0'];
      let s = '';
      for (let i = int(r, 12); i > 0; i--) s += pick(r, chars);
      return `s:${Buffer.byteLength(s)}:"${s}";`;
    }
    default: {
      const n = int(r, 5);
      let body = '';
      const used = new Set<string>();
      for (let i = 0; i < n; i++) {
        const key = chance(r, 0.5) ? String(pick(r, [i, -i, int(r, 100), 2 ** 40])) : pick(r, ['modules', 'totp', 'k', 'ü', '', '05', '-0', '1.5', '__proto__', 'constructor']);
        if (used.has(key)) continue;
        used.add(key);
        body += (/^(0|-?[1-9][0-9]*)$/.test(key) ? `i:${key};` : `s:${Buffer.byteLength(key)}:"${key}";`) + randomValue(r, depth + 1);
      }
      return `a:${used.size}:{${body}}`;
    }
  }
}

function nextInput(r: Rng): Buffer {
  const roll = r();
  if (roll < 0.08) return Buffer.from(randomValue(r), 'utf8');
  if (roll < 0.12) return nestingBomb(r);
  let b: Buffer = chance(r, 0.8) ? pick(r, SEEDS) : Buffer.from(randomValue(r), 'utf8');
  for (let n = 1 + int(r, 3); n > 0; n--) {
    const m = r();
    if (m < 0.2) b = editLengthField(r, b);
    else if (m < 0.3) b = hugeNumber(r, b);
    else b = mutateBytes(r, b, INSERTS);
  }
  return b;
}

/** WHMCS's limits most of the time; sometimes none, so deep and long inputs reach the parser's core. */
function limitsFor(r: Rng): Partial<UnserializeLimits> | undefined {
  return chance(r, 0.2) ? { maxLength: 10_000_000, maxArrayLength: 1_000_000, maxDepth: 1_000_000 } : undefined;
}

/** Nesting depth of a parsed value (iterative: the values can be 20 000 levels deep). */
function depthOf(v: unknown): number {
  let max = 0;
  const todo: Array<[unknown, number]> = [[v, 0]];
  while (todo.length) {
    const [x, d] = todo.pop()!;
    if (x && typeof x === 'object') {
      max = Math.max(max, d + 1);
      for (const c of Object.values(x)) todo.push([c, d + 1]);
    }
  }
  return max;
}

/**
 * phpSerialize recurses once per nesting level, so values nested many thousands deep (possible only
 * when configuration.php raises $serialize_array_max_depth that far) overflow its stack. The round
 * trip is checked up to this depth — 200 times what WHMCS allows.
 */
const ROUND_TRIP_MAX_DEPTH = 1000;

function containsNonFinite(v: unknown): boolean {
  if (typeof v === 'number') return !Number.isFinite(v);
  if (v && typeof v === 'object') return Object.values(v).some(containsNonFinite);
  return false;
}

/**
 * "The same value" after a round trip. Numbers compare as PHP values compare: an integral float
 * beyond 2^53 comes back as an int (phpSerialize writes integral numbers as `i:`, which the reader
 * returns as a bigint past the safe range — documented), and -0 as 0. Keys compare in order.
 */
function sameValue(a: unknown, b: unknown, path = '$'): string | null {
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) {
    if (typeof a === 'number' && typeof b === 'number') return a === b ? null : `${path}: ${a} ≠ ${b}`;
    const x = typeof a === 'bigint' ? a : Number.isInteger(a) ? BigInt(a) : null;
    const y = typeof b === 'bigint' ? b : Number.isInteger(b) ? BigInt(b) : null;
    return x !== null && x === y ? null : `${path}: ${String(a)} ≠ ${String(b)}`;
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return Object.is(a, b) ? null : `${path}: ${JSON.stringify(a)} ≠ ${JSON.stringify(b)}`;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.join('\0') !== kb.join('\0')) return `${path}: keys ${JSON.stringify(ka)} ≠ ${JSON.stringify(kb)}`;
  for (const k of ka) {
    const d = sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    if (d) return d;
  }
  return null;
}

const hex = (b: Buffer) => (b.length > 400 ? `${b.subarray(0, 400).toString('hex')}… (${b.length} bytes)` : b.toString('hex'));

/** Parses and swallows the rejection: only the cost matters here. */
function tryUnserialize(input: Buffer, limits?: Parameters<typeof phpUnserialize>[1]): void {
  try {
    phpUnserialize(input, limits);
  } catch {
    /* rejected */
  }
}

/** A plain serialized string of exactly `length` bytes (at least 8). */
function benignString(length: number): Buffer {
  let n = Math.max(0, length - 6);
  while (`s:${n}:"";`.length + n > Math.max(length, 6)) n--;
  return Buffer.from(`s:${n}:"${'x'.repeat(n)}";`);
}

describe('PHP unserializer fuzz', () => {
  it(`survives ${FUZZ_RUNS} random and mutated inputs: only PhpUnserializeError, each fast, round trips exact`, () => {
    const r = mulberry32(SEED);
    const counts = { parsed: 0, rejected: 0, roundTrips: 0, nonFinite: 0, tooDeepToWrite: 0 };
    const kinds: Record<string, number> = {};
    let maxMs = 0;
    let slowest: Buffer = Buffer.alloc(0);
    let slowestLimits: ReturnType<typeof limitsFor>;
    const started = performance.now();
    for (let i = 0; i < FUZZ_RUNS; i++) {
      const input = nextInput(r);
      const limits = limitsFor(r);
      const where = () => `run ${i} (FUZZ_SEED=${SEED}), limits ${JSON.stringify(limits ?? 'WHMCS')}\ninput (hex): ${hex(input)}`;
      let value: unknown;
      let error: unknown = null;
      const ms = timeIt(() => {
        try {
          value = phpUnserialize(input, limits);
          error = null;
        } catch (e) {
          error = e;
        }
      });
      if (ms > maxMs) {
        maxMs = ms;
        slowest = input;
        slowestLimits = limits;
      }
      if (error) {
        if (!(error instanceof PhpUnserializeError)) throw new Error(`${where()}\nthrew ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
        counts.rejected++;
        kinds[error.kind] = (kinds[error.kind] ?? 0) + 1;
        continue;
      }
      counts.parsed++;
      if (depthOf(value) > ROUND_TRIP_MAX_DEPTH) {
        counts.tooDeepToWrite++;
        continue;
      }
      if (containsNonFinite(value)) {
        // d:1E+999 reads as INF, which serializes as d:INF — a form the strict reader (like
        // WHMCS's) refuses; settingsPlan() re-parses what it writes, so such a row is never written.
        counts.nonFinite++;
        expect(() => phpUnserialize(phpSerialize(value), limits), where()).toThrow(PhpUnserializeError);
        continue;
      }
      let again: unknown;
      try {
        again = phpUnserialize(phpSerialize(value), limits);
      } catch (e) {
        throw new Error(`${where()}\nround trip failed: ${(e as Error).message}\nserialized: ${phpSerialize(value).slice(0, 400)}`);
      }
      const diff = sameValue(value, again);
      if (diff) throw new Error(`${where()}\nround trip changed the value: ${diff}`);
      counts.roundTrips++;
    }
    const totalMs = performance.now() - started;
    console.log(
      `php-serialize fuzz: ${FUZZ_RUNS} inputs (FUZZ_SEED=${SEED}) in ${(totalMs / 1000).toFixed(1)} s, slowest ${maxMs.toFixed(2)} ms (${slowest.length} bytes), ${JSON.stringify(counts)}, rejections ${JSON.stringify(kinds)}`,
    );
    // No input may cost much more than a plain string of its length (a ratio, not a time limit).
    const slowness = slownessAgainst(
      () => tryUnserialize(slowest, slowestLimits),
      () => tryUnserialize(benignString(slowest.length), slowestLimits),
    );
    console.log(`php-serialize fuzz: slowest input is ${slowness.toFixed(1)}× a plain string of its length`);
    expect(slowness, `slowest input (hex): ${hex(slowest)}`).toBeLessThan(SLOWNESS_LIMIT);
    // The generator must reach every outcome, or the fuzzing proves little.
    if (FUZZ_RUNS >= 10_000) {
      expect(counts.roundTrips).toBeGreaterThan(FUZZ_RUNS / 20);
      expect(counts.rejected).toBeGreaterThan(FUZZ_RUNS / 4);
      for (const k of ['syntax', 'limit', 'object', 'type']) expect(kinds[k] ?? 0, `rejections of kind ${k}`).toBeGreaterThan(FUZZ_RUNS / 1000);
    }
  }, 120_000);

  // Each family at n and 16n (up to 50 000 nested arrays, 500 KB numbers): no stack overflow, and
  // the cost grows like the input (a ratio, not a time limit). Not floats: V8's Number() of a very
  // long mantissa grows faster than its length (~n^1.3 measured), which WHMCS's 16 KB input limit
  // bounds in practice; the float family only has to be rejected or read without a crash.
  it('reads a 2 MB float mantissa without a crash', () => {
    const s = 'd:' + '1'.repeat(1_000_000) + '.' + '2'.repeat(1_000_000) + 'E+' + '9'.repeat(100) + ';';
    expect(phpUnserialize(s, none)).toBe(Infinity);
  });
  const none = { maxLength: Infinity, maxArrayLength: Infinity, maxDepth: Infinity };
  const big: Array<[string, (n: number) => string]> = [
    ['nested arrays', (n) => 'a:1:{i:0;'.repeat(n) + 'N;' + '}'.repeat(n)],
    ['unterminated nesting', (n) => 'a:1:{i:0;'.repeat(n)],
    ['long array', (n) => `a:${n}:{${Array.from({ length: n }, (_, i) => `i:${i};s:1:"x";`).join('')}}`],
    ['long integer', (n) => 'i:' + '9'.repeat(10 * n) + ';'],
    ['long string length', (n) => 's:' + '9'.repeat(5 * n) + ':"x";'],
    ['long string', (n) => `s:${15 * n}:"${'x'.repeat(15 * n)}";`],
  ];
  it.each(big)('stays linear on large hostile inputs: %s', (_, make) => {
    const parse = (s: string) => {
      try {
        phpUnserialize(s, none);
      } catch (e) {
        expect(e).toBeInstanceOf(PhpUnserializeError);
      }
    };
    expect(growth(make, parse, 3_125)).toBeLessThan(LINEAR_GROWTH_LIMIT);
  });
});
