import { describe, expect, it } from 'vitest';
import { journalLines, type JournalRow } from '../src/whmcs/history/journal.js';
import { mulberry32 } from './helpers/fuzz.js';

describe('journalLines', () => {
  const perRow = (rows: JournalRow[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  const nasty = ['', '},{"t":', '"},{"t":"x"', '\\', '\\"', '}\n{"t":', 'naïve ✓ 𝄞', '\u0000\u001f', '{"t":1}'];

  it('writes exactly what serializing row by row writes, whatever the values hold', () => {
    const rng = mulberry32(42);
    const pick = <T>(xs: T[]) => xs[Math.floor(rng() * xs.length)]!;
    for (let n = 0; n < 300; n++) {
      const rows: JournalRow[] = [];
      const count = 1 + Math.floor(rng() * 20);
      for (let i = 0; i < count; i++) {
        const val = () => (rng() < 0.1 ? null : pick(nasty) + String(Math.floor(rng() * 1000)) + pick(nasty));
        rows.push({ t: pick(['tblusers', '},{"t":', 'tbl"x']), k: { id: i + 1 }, b: rng() < 0.1 ? null : { c1: val(), [pick(nasty)]: val() }, a: rng() < 0.1 ? null : { c1: val() }, ...(rng() < 0.2 ? { s: 1 as const } : {}) });
      }
      const text = journalLines(rows).text;
      expect(text).toBe(perRow(rows));
      expect(text.split('\n').filter(Boolean).map((l) => JSON.parse(l))).toEqual(rows);
    }
  });

  it('falls back to row by row when a row does not start with its table', () => {
    const rows = [
      { t: 'tblusers', k: { id: 1 }, b: { x: 'a' }, a: { x: '' } },
      { k: { id: 2 }, t: 'tblusers', b: { x: 'b' }, a: { x: '' } } as JournalRow,
    ];
    expect(journalLines(rows).text).toBe(perRow(rows));
    expect(journalLines([]).text).toBe('');
  });
});
