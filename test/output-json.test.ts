import { describe, expect, it } from 'vitest';
import { JSON_BATCH, writeJson } from '../src/ui/output.js';
import { StreamedList } from '../src/ui/view.js';

/** writeJson must be byte-identical to `JSON.stringify(v, null, 2) + '\n'`, however it splits the work. */
async function written(v: unknown): Promise<{ text: string; pieces: number }> {
  const parts: string[] = [];
  await writeJson(v, (s) => {
    parts.push(s);
  });
  return { text: parts.join(''), pieces: parts.length };
}

/** A StreamedList handing out `list` in pages of the given sizes (cycled), asynchronously. */
function streamed<T>(list: T[], sizes: number[]): StreamedList<T> {
  return new StreamedList(async function* () {
    let at = 0;
    for (let i = 0; at < list.length || i === 0; i++) {
      const n = sizes[i % sizes.length]!;
      await new Promise((r) => setImmediate(r));
      yield list.slice(at, at + n);
      at += n;
    }
  });
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
    ['an array just over one batch', { rows: Array.from({ length: JSON_BATCH + 1 }, (_, i) => ({ i })) }],
    ['an array of exactly one batch', { rows: Array.from({ length: JSON_BATCH }, (_, i) => ({ i })) }],
    ['an array of exactly two batches', { rows: Array.from({ length: 2 * JSON_BATCH }, (_, i) => ({ i })) }],
    ['arrays of 512 and 513', { a: Array.from({ length: 512 }, (_, i) => ({ i })), b: Array.from({ length: 513 }, (_, i) => [i]) }],
    ['small values', { a: 1, b: [1, 2, 3], c: 'x', d: null }],
    ['scalars', 42],
    ['an empty object', {}],
  ];
  for (const [name, v] of cases) {
    it(name, async () => {
      expect((await written(v)).text).toBe(JSON.stringify(v, null, 2) + '\n');
    });
  }

  it('writes a long listing in pieces', async () => {
    const v = { users: Array.from({ length: 30_000 }, (_, i) => account(i)) };
    expect((await written(v)).pieces).toBeGreaterThan(5);
  });

  it('a long array deeper than the wrappers have been tried at', async () => {
    const v = { a: { b: { c: Array.from({ length: 600 }, (_, i) => ({ i, deep: { list: [i, { x: [] }] } })) } } };
    expect((await written(v)).text).toBe(JSON.stringify(v, null, 2) + '\n');
  });
});

describe('writeJson with StreamedLists', () => {
  const users = Array.from({ length: 5_000 }, (_, i) => account(i));
  const cases: Array<[string, () => { value: unknown; same: unknown }]> = [
    ['pages of uneven sizes, some empty, some over a batch', () => ({ value: { users: streamed(users, [2000, 0, 1, JSON_BATCH + 1, JSON_BATCH - 1, JSON_BATCH, 700]) }, same: { users } })],
    ['next to other keys and a second list', () => ({ value: { admins: streamed(users.slice(0, 3), [2]), users: streamed(users, [2000]), n: 1, skip: undefined }, same: { admins: users.slice(0, 3), users, n: 1 } })],
    ['an empty list', () => ({ value: { users: streamed([], [0]) }, same: { users: [] } })],
    ['only empty pages', () => ({ value: { users: streamed([], [0, 0, 0]) }, same: { users: [] } })],
    ['one element', () => ({ value: { users: streamed(users.slice(0, 1), [5]) }, same: { users: users.slice(0, 1) } })],
    ['at the top', () => ({ value: streamed(users.slice(0, 1200), [1000]), same: users.slice(0, 1200) })],
    ['two objects deep', () => ({ value: { a: { b: streamed(users.slice(0, 900), [450]) } }, same: { a: { b: users.slice(0, 900) } } })],
  ];
  for (const [name, make] of cases) {
    it(name, async () => {
      const { value, same } = make();
      expect((await written(value)).text).toBe(JSON.stringify(same, null, 2) + '\n');
    });
  }

  it('waits for a write that signals backpressure before writing on', async () => {
    const parts: string[] = [];
    let pending = 0;
    await writeJson({ users: streamed(users, [1000]) }, async (s) => {
      expect(pending).toBe(0);
      pending++;
      await new Promise((r) => setTimeout(r, 1));
      pending--;
      parts.push(s);
    });
    expect(parts.join('')).toBe(JSON.stringify({ users }, null, 2) + '\n');
  });
});

describe('fitToTerminal: column widths for a terminal narrower than the table', async () => {
  const { fitToTerminal } = await import('../src/ui/output.js');
  const width = (w: number[]) => 2 + w.reduce((a, b) => a + b, 0) + 2 * (w.length - 1);
  it('leaves tables that fit, and pipes (no terminal), alone', () => {
    expect(fitToTerminal([2, 10, 20], 80)).toEqual([2, 10, 20]);
    expect(fitToTerminal([2, 50, 60], null)).toEqual([2, 50, 60]);
  });
  it('cuts the last column first, then the widest, to the terminal width', () => {
    // 131 cells into 100: the last column gives its 22 above 8, the widest (27) the other 9.
    expect(fitToTerminal([2, 8, 27, 18, 8, 11, 11, 30], 100)).toEqual([2, 8, 18, 18, 8, 11, 11, 8]);
    const w = fitToTerminal([2, 8, 27, 18, 8, 11, 11, 30], 80);
    expect(width(w)).toBe(80);
    expect(w[0]).toBe(2);
    expect(Math.min(...w.slice(1))).toBeGreaterThanOrEqual(8);
  });
  it('never below 8 cells a column: a terminal too narrow for that gets the narrowest table possible', () => {
    expect(fitToTerminal([20, 20, 20], 10)).toEqual([8, 8, 8]);
  });
});
