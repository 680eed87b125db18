import { describe, expect, it } from 'vitest';
import { journalLines, type JournalRow } from '../src/whmcs/history/journal.js';
import { checkRow, storedLines, storedRow } from '../src/whmcs/history/journal-rows.js';
import type { RowChange } from '../src/whmcs/changes/row-change.js';
import { mulberry32 } from './helpers/fuzz.js';

describe('storedLines', () => {
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
      const text = storedLines(rows).text;
      expect(text).toBe(perRow(rows));
      expect(text.split('\n').filter(Boolean).map((l) => JSON.parse(l))).toEqual(rows);
    }
  });

  it('falls back to row by row when a row does not start with its table', () => {
    const rows = [
      { t: 'tblusers', k: { id: 1 }, b: { x: 'a' }, a: { x: '' } },
      { k: { id: 2 }, t: 'tblusers', b: { x: 'b' }, a: { x: '' } } as JournalRow,
    ];
    expect(storedLines(rows).text).toBe(perRow(rows));
    expect(storedLines([]).text).toBe('');
  });
});

describe('the stored form of a row change', () => {
  const account: RowChange = {
    table: 'tbladmins',
    key: { id: 3 },
    before: { authmodule: 'totp', authdata: '{"secret":"JBSWY3DPEHPK3PXP"}' },
    after: { authmodule: '', authdata: '' },
    identity: { username: 'adm' },
  };
  const replay: RowChange = { table: 'tblconfiguration', key: { id: 7 }, before: { value: 'a:0:{}' }, after: { value: 'a:1:{}', updated_at: '2026-01-02 03:04:05' }, soft: true };
  const created: RowChange = { table: 'tblconfiguration', key: { setting: '2fasettings' }, before: null, after: { value: 'a:0:{}', created_at: 'c', updated_at: 'u' } };
  /** The lines every earlier version wrote for these changes: one-letter keys in this order. */
  const written =
    '{"t":"tbladmins","k":{"id":3},"b":{"authmodule":"totp","authdata":"{\\"secret\\":\\"JBSWY3DPEHPK3PXP\\"}"},"a":{"authmodule":"","authdata":""},"i":{"username":"adm"}}\n' +
    '{"t":"tblconfiguration","k":{"id":7},"b":{"value":"a:0:{}"},"a":{"value":"a:1:{}","updated_at":"2026-01-02 03:04:05"},"s":1}\n' +
    '{"t":"tblconfiguration","k":{"setting":"2fasettings"},"b":null,"a":{"value":"a:0:{}","created_at":"c","updated_at":"u"}}\n';

  it('is byte for byte what earlier versions wrote, and reads back as the same change', () => {
    const rows = [account, replay, created];
    expect(journalLines(rows)).toEqual({ text: written, rows: 3 });
    const read = written.split('\n').filter(Boolean).map((l, i) => checkRow(JSON.parse(l), `line ${i + 1}`));
    expect(read).toEqual(rows);
    expect(read.map(storedRow)).toEqual(written.split('\n').filter(Boolean).map((l) => JSON.parse(l)));
  });

  it('a domain key order does not change the stored one', () => {
    const shuffled: RowChange = { identity: { username: 'adm' }, after: account.after, before: account.before, key: account.key, table: account.table };
    expect(journalLines([shuffled]).text).toBe(written.split('\n')[0] + '\n');
  });
});
