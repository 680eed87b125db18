import { describe, expect, it } from 'vitest';
import { writeJson } from '../src/ui/output.js';

/** writeJson must be byte-identical to `JSON.stringify(v, null, 2) + '\n'`, however it splits the work. */
function written(v: unknown): { text: string; pieces: number } {
  const parts: string[] = [];
  writeJson(v, (s) => parts.push(s));
  return { text: parts.join(''), pieces: parts.length };
}

const account = (i: number) => ({
  id: i,
  email: `user${i}@example.net`,
  note: i % 7 === 0 ? 'line\nbreak "quoted" \u00e9\u{1F600}' : undefined,
  fn: () => i,
  module: i % 3 ? 'totp' : '',
  flags: i % 5 ? [] : ['module-zero'],
  clientIds: [i, i + 1],
  nested: { when: new Date(Date.UTC(2026, 0, 1, 0, 0, i % 60)), empty: {}, none: null, list: [undefined, () => 1, 'x'] },
});

describe('writeJson', () => {
  const cases: Array<[string, unknown]> = [
    ['a listing of 30 000 accounts', { users: Array.from({ length: 30_000 }, (_, i) => account(i)), admins: [account(1)], skipped: undefined }],
    ['a top-level long array', Array.from({ length: 1500 }, (_, i) => (i % 2 ? account(i) : i))],
    ['long arrays two levels down', { a: { b: { c: Array.from({ length: 2000 }, (_, i) => [i, String(i)]) }, d: [] }, e: {} }],
    ['an array just over one batch', { rows: Array.from({ length: 513 }, (_, i) => ({ i })) }],
    ['an array of exactly one batch', { rows: Array.from({ length: 512 }, (_, i) => ({ i })) }],
    ['small values', { a: 1, b: [1, 2, 3], c: 'x', d: null }],
    ['scalars', 42],
    ['an empty object', {}],
  ];
  for (const [name, v] of cases) {
    it(name, () => {
      expect(written(v).text).toBe(JSON.stringify(v, null, 2) + '\n');
    });
  }

  it('writes a long listing in pieces', () => {
    const v = { users: Array.from({ length: 30_000 }, (_, i) => account(i)) };
    expect(written(v).pieces).toBeGreaterThan(5);
  });
});
