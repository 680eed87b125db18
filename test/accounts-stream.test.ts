/**
 * `accounts --format table|yaml|csv` are written a page at a time: the same bytes as rendering the
 * whole listing at once, over more than one page (LIST_PAGE) of accounts.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDb, describeBackends, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { seedBulkUsers } from './helpers/bulk-seed.js';
import { insertAdmin } from '../src/whmcs/schema/seed.js';
import { LIST_PAGE } from '../src/whmcs/accounts/accounts-list.js';
import { accountBlocks, csvRows } from '../src/commands/accounts.js';
import { Output } from '../src/ui/output.js';
import { toYaml } from '../src/ui/yaml.js';
import { toCsv } from '../src/ui/csv.js';

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

    it('empty lists: yaml "key: []", the table "(none)", csv the header alone', async () => {
      const none = ['--admins', '--module', 'yubikey'];
      expect((await run('yaml', none)).stdout).toBe('admins: []\n');
      expect((await run('table', none)).stdout).toBe('Admins (0)\n  (none)\n');
      expect((await run('csv', none)).stdout).toBe('kind,id,name,email,role,disabled,status,clientIds,module,enrolled,backupCode,configFormat,flags\r\n');
    });
  },
  ['mysql'],
);
