/**
 * `accounts --format table|yaml|csv` are written a page at a time: the same bytes as rendering the
 * whole listing at once, over more than one page (LIST_PAGE) of accounts. What is held at once is
 * bounded: one page of accounts, and each write a batch of them (counted, not timed or measured).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, describeBackends, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { seedBulkUsers } from './helpers/bulk-seed.js';
import { insertAdmin } from '../src/whmcs/schema/seed.js';
import { LIST_PAGE, listedPages } from '../src/whmcs/accounts/accounts-list.js';
import { openSession } from '../src/whmcs/connection/connect.js';
import { accountBlocks, csvRows } from '../src/commands/accounts.js';
import { Output, TABLE_BATCH } from '../src/ui/output.js';
import { toYaml, writeYamlLists, YAML_BATCH } from '../src/ui/yaml.js';
import { CSV_BATCH, csvLines, toCsv, writeCsvPages } from '../src/ui/csv.js';
import { numberText, numbersText } from '../src/number-text.js';
import { mulberry32 } from './helpers/fuzz.js';
import { PassThrough } from 'node:stream';
import { IOStreams } from '../src/ui/iostreams.js';

const USERS = LIST_PAGE * 2 + 17;

describeBackends(
  'accounts streamed in every format',
  () => {
    let t: TestDb;
    let listing: any;
    beforeAll(async () => {
      t = await createTestDb('mysql', '8', '8.7.2-release.1');
      await seedBulkUsers(t.knex, USERS, 'stream');
      await insertAdmin(t.knex, { username: 'zed', email: 'zed@example.com', authmodule: '0', authdata: '{"secret":"x"}' });
      const r = await runCli(['--whmcs-dir', t.whmcsDir, 'accounts', '--format', 'json'], { timeoutMs: 60_000 });
      expect(r.code).toBe(0);
      listing = r.json;
      expect(listing.users).toHaveLength(USERS);
    }, 120_000);
    afterAll(() => t?.drop());
    const run = (format: string, extra: string[] = []) => runCli(['--whmcs-dir', t.whmcsDir, 'accounts', ...extra, '--format', format], { timeoutMs: 60_000 });

    it('yaml: byte for byte what toYaml makes of the whole listing; the warning once, after', async () => {
      const r = await run('yaml');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(toYaml(listing));
      expect(r.stderr).toBe("Warning: 1 account with module '0' (left by the SQL in WHMCS's docs; off, but the old secret is still stored) — `whmcs-2fa reset --admin|--user|--client <id>` clears them\n");
    });

    it('csv: byte for byte the CSV of the whole listing', async () => {
      const r = await run('csv');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(toCsv(csvRows(listing)));
      expect(r.stdout.split('\r\n')).toHaveLength(1 + USERS + listing.admins.length + 1);
    });

    it('table: byte for byte the table of the whole listing (widths from every page), counts counted once', async () => {
      const r = await run('table');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(new Output({ format: 'table', color: false, quiet: false }).renderBlocks(accountBlocks(listing)));
      expect(r.stdout).toContain(`Users (${USERS})`);
      expect(r.stderr.match(/Warning: /g)).toHaveLength(1);
    });

    it('one page of accounts at a time: a page handed out is emptied when the next one is asked for', async () => {
      const session = await openSession({ whmcsDir: t.whmcsDir, env: {}, cwd: t.whmcsDir, warn: () => {} });
      try {
        const seen: Array<readonly unknown[]> = [];
        let most = 0;
        let total = 0;
        for await (const page of listedPages(session, 'user', {})) {
          // Every page handed out before this one no longer holds its accounts.
          for (const before of seen) expect(before).toHaveLength(0);
          seen.push(page);
          total += page.length;
          most = Math.max(most, seen.reduce((n, p) => n + p.length, 0));
        }
        expect(total).toBe(USERS);
        expect(seen.length).toBe(Math.ceil(USERS / LIST_PAGE));
        expect(most).toBe(LIST_PAGE);
      } finally {
        await session.close();
      }
    });

    it('empty lists: yaml "key: []", the table "(none)", csv the header alone', async () => {
      const none = ['--admins', '--module', 'yubikey'];
      expect((await run('yaml', none)).stdout).toBe('admins: []\n');
      expect((await run('table', none)).stdout).toBe('Admins (0)\n  (none)\n');
      expect((await run('csv', none)).stdout).toBe('kind,id,name,email,role,disabled,status,clientIds,module,enrolled,backupCode,configFormat,flags\r\n');
    });
  },
  ['mysql'],
);

/** Pages of `n` items in pages of `size`, as listedPages hands them out. */
async function* pagesOf<T>(items: T[], size: number): AsyncGenerator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

describe('streamed formats write a batch of accounts at a time', () => {
  const accounts = Array.from({ length: 2 * LIST_PAGE + 17 }, (_, i) => ({ id: 900_000 + i, email: `u${i}@x.test`, module: i % 3 ? 'duosecurity' : '', clientIds: [900_000 + i], flags: i % 7 ? [] : ['module-zero'] }));

  it('yaml: each write holds at most YAML_BATCH list items, and together they are toYaml of the whole', async () => {
    const writes: string[] = [];
    await writeYamlLists([['users', () => pagesOf(accounts, LIST_PAGE)]], (s) => void writes.push(s));
    expect(writes.join('')).toBe(toYaml({ users: accounts }));
    for (const w of writes) expect(w.match(/^ {2}- /gm)?.length ?? 0).toBeLessThanOrEqual(YAML_BATCH);
    expect(writes.length).toBeGreaterThanOrEqual(Math.ceil(accounts.length / YAML_BATCH));
  });

  it('csv: each write holds at most CSV_BATCH rows, and together they are the CSV of the whole', async () => {
    const writes: string[] = [];
    const rowsOf = (batch: typeof accounts) => batch.map((a) => ({ id: a.id, email: a.email, clientIds: numbersText(a.clientIds) }));
    await writeCsvPages(pagesOf(accounts, LIST_PAGE), rowsOf, ['id', 'email', 'clientIds'], (s) => void writes.push(s));
    expect(writes.join('')).toBe(csvLines(rowsOf(accounts), ['id', 'email', 'clientIds']));
    for (const w of writes) expect(w.split('\r\n').length - 1).toBeLessThanOrEqual(CSV_BATCH);
    expect(writes.length).toBe(Math.ceil(LIST_PAGE / CSV_BATCH) * 2 + 1);
  });

  it('table: each write holds at most TABLE_BATCH rows, and together they are the table of the whole', async () => {
    const writes: string[] = [];
    const stdout = { write: (s: string) => (writes.push(s), true) } as unknown as NodeJS.WritableStream;
    const out = new Output({ format: 'table', color: false, quiet: false, io: new IOStreams({ stdin: new PassThrough(), stdout, stderr: new PassThrough() }) });
    const row = (a: (typeof accounts)[number]) => [numberText(a.id), a.email, a.module];
    await out.print({
      json: null,
      blocks: [],
      tables: [{ title: (n) => `Users (${n})`, columns: ['ID', 'Email', '2FA'], pages: async function* () { for await (const p of pagesOf(accounts, LIST_PAGE)) yield p.map(row); } }],
    });
    const whole = new Output({ format: 'table', color: false, quiet: false }).renderBlocks([{ kind: 'table', title: `Users (${accounts.length})`, columns: ['ID', 'Email', '2FA'], rows: accounts.map(row) }]);
    expect(writes.join('')).toBe(whole);
    // The title and the header line ride with the first batch.
    for (const w of writes) expect(w.split('\n').length - 1).toBeLessThanOrEqual(TABLE_BATCH + 2);
  });
});

describe('numberText', () => {
  it('writes what String() writes', () => {
    const values = [0, -0, 1, -1, 7, 42, 999_999, 1_000_000, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 1e21, 1.5, -0.25, 1e-7, NaN, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE];
    const rng = mulberry32(20);
    for (let i = 0; i < 10_000; i++) values.push(Math.floor(rng() * 2 ** 53) * (i % 2 ? 1 : -1), i, rng() * 1e6);
    for (const v of values) expect(numberText(v)).toBe(String(v));
    expect(numbersText([])).toBe('');
    expect(numbersText([3])).toBe('3');
    expect(numbersText([1, 22, 333])).toBe([1, 22, 333].join(' '));
  });
});
