import { describe, expect, it } from 'vitest';
import { statSync, chmodSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Journal, installKey, journalLines, type JournalRow } from '../src/whmcs/journal.js';
import { mulberry32 } from './helpers/fuzz.js';
import { tempDir } from './helpers/db.js';

describe('undo journal', () => {
  it('creates 0700 directories and 0600 files keyed by install', async () => {
    const state = tempDir();
    const j = new Journal('mysql://whmcs@db:3306/whmcs', { XDG_STATE_HOME: state });
    const w = await j.begin({ command: 'test', summary: 's', operator: 'root' });
    await w.rows([{ t: 'tbladmins', k: { id: 1 }, b: { authmodule: 'totp' }, a: { authmodule: '' } }]);
    await w.committed();
    await w.close();
    expect(statSync(join(state, 'whmcs-2fa')).mode & 0o777).toBe(0o700);
    expect(statSync(j.dir).mode & 0o777).toBe(0o700);
    expect(statSync(w.file).mode & 0o777).toBe(0o600);
    const e = await j.get(undefined);
    expect(e.rows).toEqual([{ t: 'tbladmins', k: { id: 1 }, b: { authmodule: 'totp' }, a: { authmodule: '' } }]);
    expect(e.commits).toBe(1);
  });

  it('different installs never share a folder', () => {
    expect(installKey('mysql://a@h:3306/x')).not.toBe(installKey('mysql://a@h:3306/y'));
    expect(installKey('sqlite:/tmp/a b/c.sqlite')).toMatch(/^[A-Za-z0-9._@-]+$/);
  });

  it('an unwritable state directory refuses with exit 4 before anything happens', async () => {
    if (process.getuid?.() === 0) {
      // root ignores permission bits; use a path under a regular file instead.
      const j = new Journal('x', { XDG_STATE_HOME: '/dev/null/state' });
      await expect(j.begin({ command: 'c', summary: 's', operator: 'o' })).rejects.toMatchObject({ exitCode: 4 });
      return;
    }
    const state = tempDir();
    mkdirSync(join(state, 'whmcs-2fa'));
    chmodSync(join(state, 'whmcs-2fa'), 0o500);
    const j = new Journal('x', { XDG_STATE_HOME: state });
    await expect(j.begin({ command: 'c', summary: 's', operator: 'o' })).rejects.toMatchObject({ exitCode: 4 });
  });

  it('undo picks the newest entry that committed and is not undone; discard leaves nothing', async () => {
    const state = tempDir();
    const j = new Journal('x', { XDG_STATE_HOME: state });
    const a = await j.begin({ command: 'first', summary: '', operator: 'o' });
    await a.committed();
    await a.close();
    const b = await j.begin({ command: 'second', summary: '', operator: 'o' });
    await b.discard();
    expect(readdirSync(j.dir)).toHaveLength(1);
    expect((await j.get(undefined)).command).toBe('first');
    await j.markUndone(await j.get(undefined), 'later');
    await expect(j.get(undefined)).rejects.toMatchObject({ exitCode: 3 });
  });
});

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
