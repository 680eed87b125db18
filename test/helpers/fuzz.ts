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
