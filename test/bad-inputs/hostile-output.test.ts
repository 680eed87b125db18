/**
 * Database text on a terminal and in a spreadsheet: account names, emails and module values
 * carrying terminal escapes, forged lines and formulas are shown as visible escapes in every human
 * format, neutralised in CSV, and reach JSON intact (JSON escapes them itself).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, describeBackends, type TestDb } from '../helpers/db.js';
import { runCli } from '../helpers/cli.js';
import { FORMULA_ATTACKS, RAW_CONTROL, TERMINAL_ATTACKS, hostileStrings } from '../helpers/hostile.js';
import { insertAdmin, insertUser } from '../../src/whmcs/schema/seed.js';
import { csvFormulaSafe, terminalSafe } from '../../src/ui/escape.js';
import { toCsv } from '../../src/ui/csv.js';

describe('terminalSafe / csvFormulaSafe (generated hostile strings)', () => {
  const strings = hostileStrings(2000);

  it('leaves no control character, keeps newlines only where asked, and keeps plain text as it is', () => {
    for (const s of strings) {
      const cell = terminalSafe(s);
      expect(cell, JSON.stringify(s)).not.toMatch(RAW_CONTROL);
      expect(cell, JSON.stringify(s)).not.toContain('\n');
      expect(terminalSafe(s, true), JSON.stringify(s)).not.toMatch(RAW_CONTROL);
      expect(terminalSafe(s, true).split('\n').length).toBe(s.split('\n').length);
    }
    for (const plain of ['alice@example.com', 'José Müller', '日本語', 'a\\b', "O'Brien", '']) expect(terminalSafe(plain)).toBe(plain);
    expect(terminalSafe('\x1b]0;x\x07\r\t\u202e')).toBe('\\e]0;x\\x07\\r\\t\\u{202e}');
  });

  it('CSV: no cell a spreadsheet would evaluate; numbers stay numbers', () => {
    for (const s of strings) {
      const csv = toCsv([{ v: s }]);
      const body = csv.slice(csv.indexOf('\r\n') + 2);
      const unquoted = body.startsWith('"') ? body.slice(1) : body;
      expect(unquoted, JSON.stringify(s)).not.toMatch(/^[=+\-@\t\r]/);
    }
    expect(toCsv([{ a: -0.5, b: '-0.5', c: '=1+1', d: 'plain' }])).toBe("a,b,c,d\r\n-0.5,'-0.5,'=1+1,plain\r\n");
    expect(csvFormulaSafe('@x')).toBe("'@x");
  });
});

describeBackends('hostile database text in the output', (backend) => {
  let t: TestDb;
  const names = [...TERMINAL_ATTACKS, ...FORMULA_ATTACKS];
  beforeAll(async () => {
    t = await createTestDb(backend, '8', '8.7.2-release.1');
    for (const [i, s] of names.entries()) {
      await insertAdmin(t.knex, { username: `a${i}${s}`, email: `${s}@x.test`, firstname: s, authmodule: i % 2 ? 'totp' : s, authdata: '' });
      await insertUser(t.knex, { email: `${s}${i}@u.test`, second_factor: i % 3 ? s : 'totp', second_factor_config: '{"secret":"JBSWY3DPEHPK3PXP"}' });
    }
  });
  afterAll(() => t?.drop());
  const cli = (...args: string[]) => runCli(['--whmcs-dir', t.whmcsDir, ...args]);

  for (const args of [['accounts'], ['accounts', '--admins', '--enrolled'], ['status'], ['reset', '--admin', 'a0\x1b]0;pwned\x07', '--reason', 'r', '--dry-run']]) {
    it(`${args.join(' ')}: table shows escapes, never raw controls (stdout and stderr)`, async () => {
      const r = await cli(...args, '--format', 'table');
      expect([0, 3]).toContain(r.code);
      expect(r.stdout + r.stderr).not.toMatch(RAW_CONTROL);
      if (args[0] === 'accounts') expect(r.stdout).toContain('\\e]0;pwned\\x07');
    });
  }

  it('an unknown selector holding escapes: the Error line is escaped too', async () => {
    const r = await cli('reset', '--admin', 'nobody\x1b[2J\x1b]0;t\x07', '--reason', 'r', '--format', 'table');
    expect(r.code).toBe(3);
    expect(r.stderr).not.toMatch(RAW_CONTROL);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('csv: formulas neutralised, CRLF only as the row separator', async () => {
    const r = await cli('accounts', '--format', 'csv');
    expect(r.code).toBe(0);
    for (const f of FORMULA_ATTACKS.filter((f) => !/[\t\r]/.test(f))) {
      expect(r.stdout).not.toMatch(new RegExp(`(^|,|")${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
    }
    expect(r.stdout).toContain(`'=HYPERLINK(""https://evil.test"",""click"")@x.test`);
  });

  it('json keeps the text exactly, with every control escaped (C1 and bidi too)', async () => {
    const r = await cli('accounts', '--admins', '--format', 'json');
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(RAW_CONTROL);
    const emails = r.json.admins.map((a: { email: string }) => a.email);
    for (const s of names) expect(emails).toContain(`${s}@x.test`);
  });

  it('yaml: every control escaped in its double-quoted scalars', async () => {
    const r = await cli('accounts', '--admins', '--format', 'yaml');
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(RAW_CONTROL);
    expect(r.stdout).toContain('"\\u202eevil\\u202c@x.test"');
  });
});
