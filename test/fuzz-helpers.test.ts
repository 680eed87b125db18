import { describe, expect, it } from 'vitest';
import { growth, LINEAR_GROWTH_LIMIT } from './helpers/fuzz.js';

/** The cost checks of the parser tests can fail: they tell quadratic work from linear work. */
describe('growth', () => {
  const sum = (s: string) => {
    let x = 0;
    for (let i = 0; i < s.length; i++) x = (x + s.charCodeAt(i)) | 0;
    return x;
  };
  const linear = (s: string) => void sum(s);
  // Rescans the input from every position: what a backtracking parser does.
  const quadratic = (s: string) => {
    let x = 0;
    for (let i = 0; i < s.length; i += 1) for (let j = i; j < s.length; j += 8) x = (x + s.charCodeAt(j)) | 0;
    return void x;
  };
  const input = (n: number) => 'a'.repeat(n);

  it('passes linear work', () => {
    expect(growth(input, linear, 200_000)).toBeLessThan(LINEAR_GROWTH_LIMIT);
  });

  it('fails quadratic work', () => {
    expect(growth(input, quadratic, 500)).toBeGreaterThan(LINEAR_GROWTH_LIMIT);
  });
});
