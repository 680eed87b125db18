import type { Command } from 'commander';
import { action } from './run.js';
import { StreamedList, type Block } from '../ui/view.js';
import type { AccountListing, ListFilter, Listed, ListedAdmin, ListedClient, ListedUser } from '../whmcs/accounts/accounts-list.js';
import type { Kind } from '../whmcs/accounts/accounts-table.js';
import { UsageError } from '../errors.js';
import { numberText, numbersText } from '../number-text.js';

interface AccountsOptions {
  admins?: boolean;
  users?: boolean;
  clients?: boolean;
  module?: string;
  enrolled?: boolean;
  notEnrolled?: boolean;
  admin?: string;
  user?: string;
  client?: string;
}

export function register(program: Command): void {
  program
    .command('accounts')
    .description('list admins and users/clients with their second factor, backup-code presence and problems')
    .option('--admins', 'only admins (tbladmins)')
    .option('--users', 'only WHMCS 8 users (tblusers)')
    .option('--clients', 'only WHMCS 7 clients (tblclients)')
    .option('--module <module>', 'only accounts on this module: totp, duo, yubikey, a third-party name, or none')
    .option('--enrolled', 'only accounts with a second factor')
    .option('--not-enrolled', 'only accounts without one')
    .option('--admin <username|email|id>', 'just this admin')
    .option('--user <email|id>', 'just this user (WHMCS 8)')
    .option('--client <email|id>', 'just this client (WHMCS 7)')
    .action(
      action<AccountsOptions>(
        async (ctx, opts) => {
          if (opts.enrolled && opts.notEnrolled) throw new UsageError('--enrolled and --not-enrolled exclude each other');
          const list = await import('../whmcs/accounts/accounts-list.js');
          const moduleFilter = opts.module !== undefined ? list.parseModuleFilter(opts.module) : undefined;
          if (moduleFilter?.kind === 'none' && opts.enrolled) throw new UsageError('--module none lists accounts without a second factor; drop --enrolled');
          if (moduleFilter?.kind === 'module' && opts.notEnrolled) throw new UsageError(`--module ${opts.module} lists enrolled accounts; drop --not-enrolled`);
          const session = await ctx.session();
          const filter = { module: moduleFilter, enrolled: opts.enrolled ? true : opts.notEnrolled ? false : undefined };
          let kinds: Kind[];
          let scope: ListFilter;
          if (opts.admin !== undefined || opts.user !== undefined || opts.client !== undefined) {
            const { findAccount } = await import('../whmcs/accounts/find-account.js');
            const a = await findAccount(session, { admin: opts.admin, user: opts.user, client: opts.client });
            kinds = [a.kind];
            scope = { id: a.id };
          } else {
            kinds = list.kindsFor(session, opts);
            scope = filter;
          }
          const flags = new Map<string, number>();
          const countFlags = (a: Listed) => {
            for (const f of a.flags) flags.set(f, (flags.get(f) ?? 0) + 1);
          };
          const warnings = () => listingWarnings(flags, Boolean(session.ccHash));
          const format = ctx.out.format;
          if (format === 'json') {
            // Written while it is read, page by page: memory stays flat however many accounts there
            // are. The problem counts are complete only at the end, so the warnings come after.
            const streamed: Record<string, StreamedList<Listed>> = {};
            for (const kind of kinds) streamed[KEY[kind]] = new StreamedList(() => counted(list.listedPages(session, kind, scope), countFlags));
            return { json: streamed, blocks: [], warningsAfter: warnings };
          }
          // Every other format streams too (a page of accounts in memory at a time). The table
          // reads the listing twice (column widths, then rows): the problems are counted once.
          const pagesOf = (kind: Kind, count: boolean) => () => (count ? counted(list.listedPages(session, kind, scope), countFlags) : list.listedPages(session, kind, scope));
          if (format === 'yaml') {
            const { writeYamlLists } = await import('../ui/yaml.js');
            const lists = kinds.map((kind) => [KEY[kind], pagesOf(kind, true)] as [string, () => AsyncIterable<Listed[]>]);
            return { json: null, blocks: [], stream: { yaml: (write) => writeYamlLists(lists, write) }, warningsAfter: warnings };
          }
          if (format === 'csv') {
            const { csvHeader, writeCsvPages } = await import('../ui/csv.js');
            const csv = async (write: (s: string) => void | Promise<void>) => {
              await write(csvHeader(CSV_COLUMNS));
              for (const kind of kinds) await writeCsvPages(pagesOf(kind, true)(), (batch) => csvRows({ [KEY[kind]]: batch } as AccountListing), CSV_COLUMNS, write);
            };
            return { json: null, blocks: [], stream: { csv }, warningsAfter: warnings };
          }
          const tables = kinds.map((kind) => {
            let first = true;
            const table = TABLES[kind];
            return {
              title: (n: number) => `${table.title} (${n})`,
              columns: [...table.columns],
              pages: async function* () {
                const count = first;
                first = false;
                for await (const page of pagesOf(kind, count)()) {
                  const rows = page.map((a) => table.row(a as never));
                  yield rows;
                  // Emptied once written, as listedPages empties its pages: not held while the next page is read.
                  rows.length = 0;
                }
              },
            };
          });
          return { json: null, blocks: [], tables, warningsAfter: warnings };
        },
        { formats: ['csv'] },
      ),
    );
}

/** The pages, passing each account to `see` on the way (the warnings count problems). */
async function* counted(pages: AsyncIterable<Listed[]>, see: (a: Listed) => void): AsyncGenerator<Listed[]> {
  for await (const page of pages) {
    for (const a of page) see(a);
    yield page;
  }
}

const yn = (b: boolean | null): string => (b === null ? '?' : b ? 'yes' : 'no');

function moduleCell(m: string): string {
  if (m === '') return '—';
  if (m === '0') return "'0' (off)";
  return m;
}

function flagsCell(flags: string[]): string {
  return flags.join(', ');
}

/** How each kind of account is shown in a table. */
const TABLES = {
  admin: {
    title: 'Admins',
    columns: ['ID', 'Username', 'Email', 'Role', 'Disabled', '2FA', 'Backup code', 'Problems'],
    row: (a: ListedAdmin) => [numberText(a.id), a.username, a.email, a.role ?? `#${a.roleId}`, a.disabled ? 'yes' : 'no', moduleCell(a.module), yn(a.backupCode), flagsCell(a.flags)],
  },
  user: {
    title: 'Users',
    columns: ['ID', 'Email', 'Clients', '2FA', 'Backup code', 'Problems'],
    row: (u: ListedUser) => [numberText(u.id), u.email, numbersText(u.clientIds) || '—', moduleCell(u.module), yn(u.backupCode), flagsCell(u.flags)],
  },
  client: {
    title: 'Clients',
    columns: ['ID', 'Email', 'Status', '2FA', 'Backup code', 'Problems'],
    row: (c: ListedClient) => [numberText(c.id), c.email, c.status, moduleCell(c.module), yn(c.backupCode), flagsCell(c.flags)],
  },
} as const;

export function accountBlocks(l: AccountListing): Block[] {
  const blocks: Block[] = [];
  if (l.admins) blocks.push({ kind: 'table', title: `Admins (${l.admins.length})`, columns: [...TABLES.admin.columns], rows: l.admins.map(TABLES.admin.row) });
  if (l.users) blocks.push({ kind: 'table', title: `Users (${l.users.length})`, columns: [...TABLES.user.columns], rows: l.users.map(TABLES.user.row) });
  if (l.clients) blocks.push({ kind: 'table', title: `Clients (${l.clients.length})`, columns: [...TABLES.client.columns], rows: l.clients.map(TABLES.client.row) });
  return blocks;
}

const CSV_BASE = { kind: '', id: 0, name: '', email: '', role: '', disabled: '', status: '', clientIds: '', module: '', enrolled: false, backupCode: '', configFormat: '', flags: '' };
const CSV_COLUMNS = Object.keys(CSV_BASE);

/** One flat row per account for --format csv; `kind` tells the tables apart. */
export function csvRows(l: AccountListing): Array<Record<string, unknown>> {
  const rows: Array<Record<string, unknown>> = [];
  const base = CSV_BASE;
  const bc = (b: boolean | null) => (b === null ? '' : b);
  for (const a of l.admins ?? []) {
    rows.push({ ...base, kind: 'admin', id: a.id, name: a.username, email: a.email, role: a.role ?? '', disabled: a.disabled, module: a.module, enrolled: a.enrolled, backupCode: bc(a.backupCode), configFormat: a.configFormat, flags: a.flags.join(' ') });
  }
  for (const u of l.users ?? []) {
    rows.push({ ...base, kind: 'user', id: u.id, name: u.email, email: u.email, clientIds: numbersText(u.clientIds), module: u.module, enrolled: u.enrolled, backupCode: bc(u.backupCode), configFormat: u.configFormat, flags: u.flags.join(' ') });
  }
  for (const c of l.clients ?? []) {
    rows.push({ ...base, kind: 'client', id: c.id, name: c.email, email: c.email, status: c.status, module: c.module, enrolled: c.enrolled, backupCode: bc(c.backupCode), configFormat: c.configFormat, flags: c.flags.join(' ') });
  }
  return rows;
}

const KEY = { admin: 'admins', user: 'users', client: 'clients' } as const;

function listingWarnings(counts: Map<string, number>, haveHash: boolean): string[] {
  const count = (f: string) => counts.get(f) ?? 0;
  const w: string[] = [];
  const zero = count('module-zero');
  if (zero) w.push(`${zero} account${zero === 1 ? '' : 's'} with module '0' (left by the SQL in WHMCS's docs; off, but the old secret is still stored) — \`whmcs-2fa reset --admin|--user|--client <id>\` clears them`);
  const bad = count('undecryptable');
  if (bad) w.push(`${bad} account${bad === 1 ? '' : 's'} whose second-factor data does not decrypt with this cc_encryption_hash — WHMCS reads it as empty; check $cc_encryption_hash, or reset them`);
  const unreadable = count('unreadable');
  if (unreadable) w.push(`${unreadable} account${unreadable === 1 ? '' : 's'} whose second-factor data is neither AES, JSON nor PHP-serialized — WHMCS reads it as empty; reset them`);
  const needs = count('needs-cc-hash');
  if (needs && !haveHash) w.push(`${needs} account${needs === 1 ? ' has' : 's have'} AES-encrypted second-factor data: backup-code presence is unknown without cc_encryption_hash — use --whmcs-dir or set WHMCS_CC_ENCRYPTION_HASH`);
  return w;
}
