/**
 * Small, seedable building blocks for fuzz tests: a PRNG whose seed reproduces a failure exactly,
 * random choices, byte-level mutations and a timer that tells a slow input from a GC pause.
 */
import { performance } from 'node:perf_hooks';

export type Rng = () => number;

/** mulberry32: tiny, seedable, good enough to make failures reproducible. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The fuzz settings from the environment: FUZZ_SEED, FUZZ_RUNS (default 100 000). */
export function fuzzSettings(defaultSeed: number): { seed: number; runs: number } {
  const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : defaultSeed;
  const runs = Number(process.env.FUZZ_RUNS ?? 100_000);
  if (!Number.isFinite(seed) || !Number.isInteger(runs) || runs < 0) throw new Error('FUZZ_SEED must be a number and FUZZ_RUNS a whole number');
  return { seed, runs };
}

export const int = (r: Rng, n: number): number => Math.floor(r() * n);
export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)]!;
export const chance = (r: Rng, p: number): boolean => r() < p;

/** One mutation of a byte string: flips, replacements, insertions, deletions, truncation, slices. */
export function mutateBytes(r: Rng, input: Buffer, inserts: readonly (string | Buffer)[] = []): Buffer {
  let b = Buffer.from(input);
  const at = () => int(r, b.length + 1);
  switch (int(r, inserts.length ? 8 : 7)) {
    case 0: {
      if (!b.length) break;
      const i = int(r, b.length);
      b[i] = b[i]! ^ (1 << int(r, 8));
      break;
    }
    case 1: {
      if (!b.length) break;
      b[int(r, b.length)] = int(r, 256);
      break;
    }
    case 2: {
      const i = at();
      b = Buffer.concat([b.subarray(0, i), Buffer.from([int(r, 256)]), b.subarray(i)]);
      break;
    }
    case 3: {
      const i = at();
      b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1 + int(r, 8))]);
      break;
    }
    case 4:
      b = b.subarray(0, at());
      break;
    case 5: {
      // Duplicate a slice in place: repeated elements, repeated keys, repeated openings.
      const i = at();
      const len = 1 + int(r, 40);
      b = Buffer.concat([b.subarray(0, i), b.subarray(i, i + len), b.subarray(i)]);
      break;
    }
    case 6: {
      // Move a slice elsewhere.
      const i = at();
      const j = at();
      const piece = b.subarray(i, i + int(r, 30));
      const rest = Buffer.concat([b.subarray(0, i), b.subarray(i + piece.length)]);
      const k = Math.min(j, rest.length);
      b = Buffer.concat([rest.subarray(0, k), piece, rest.subarray(k)]);
      break;
    }
    default: {
      const i = at();
      const ins = pick(r, inserts);
      b = Buffer.concat([b.subarray(0, i), typeof ins === 'string' ? Buffer.from(ins, 'latin1') : ins, b.subarray(i)]);
    }
  }
  return b;
}

/**
 * Times `fn` on one input; an input over `retryOverMs` is re-timed (up to 3 more times) and the
 * fastest run counts, because a garbage-collection pause can stall any one call while a really
 * slow input is slow every time.
 */
export function timeIt(fn: () => void, retryOverMs = 20): number {
  const once = () => {
    const t0 = performance.now();
    fn();
    return performance.now() - t0;
  };
  let ms = once();
  for (let i = 0; i < 3 && ms > retryOverMs; i++) ms = Math.min(ms, once());
  return ms;
}

/**
 * Limits for `growth` (16× the input: linear ≈ 16, quadratic ≈ 256; on a busy 2-core machine
 * linear inputs measured up to ~4× over their ideal ratio) and `slownessAgainst`. Ratios, not
 * times, so a busy machine slows both sides alike instead of turning a limit red. For
 * `slownessAgainst` the benign input is a plain string: a legitimately heavy input of the same
 * length (2 800 nested arrays in 25 KB, one object per 9 bytes) measured ~80×; an input that
 * makes a parser backtrack or rescan costs orders of magnitude more.
 */
export const LINEAR_GROWTH_LIMIT = 100;
export const SLOWNESS_LIMIT = 300;

/**
 * The cheapest of `tries` runs of `fn`, in ms of CPU time this process spent (user + system), not
 * wall-clock time: time spent waiting for a core that other processes hold does not count, and a
 * pause (GC) only ever adds, so the minimum is the run's own cost.
 */
export function fastestOf(fn: () => void, tries = 5): number {
  let best = Infinity;
  for (let i = 0; i < tries; i++) {
    const t0 = process.cpuUsage();
    fn();
    const d = process.cpuUsage(t0);
    best = Math.min(best, (d.user + d.system) / 1000);
  }
  return best;
}

/**
 * How the cost of `consume(input(size))` grows when the size is multiplied by `factor`: the
 * fastest time at `size * factor` over the fastest time at `size` (inputs are built untimed). Linear work gives about `factor`, quadratic
 * `factor²`. A ratio of two timings taken back to back holds on a loaded machine where a time
 * limit does not: both sides slow down together.
 */
export function growth<T>(input: (size: number) => T, consume: (input: T) => void, size: number, factor = 16): number {
  let n = size;
  let small = input(n);
  consume(small); // warm-up: the first call pays for compilation
  let a = fastestOf(() => consume(small), 5);
  // A base run of a few microseconds is mostly measurement noise: grow it to half a millisecond.
  while (a < 0.5 && n < size * 16) {
    n *= 2;
    small = input(n);
    a = fastestOf(() => consume(small), 5);
  }
  const large = input(n * factor);
  const b = fastestOf(() => consume(large), 3);
  return b / Math.max(a, 0.01);
}

/**
 * How much slower `input` is than a benign input of the same length (`benign(length)`), both the
 * fastest of a few runs: a ratio that is far above 1 only for an input that makes the parser do
 * more than a pass over it.
 */
export function slownessAgainst(parse: () => void, benign: () => void): number {
  parse();
  benign();
  return fastestOf(parse) / Math.max(fastestOf(benign), 0.01);
}
