import type { Knex } from 'knex';
import type { Session } from './session.js';
import { ADMINS, USERS, moduleIsOn, tableFor, type AccountTable, type Kind } from './accounts-table.js';
import { decodeAccountConfig, type AccountConfigFormat } from './account-config.js';
import { isAesDecryptable } from './crypto.js';
import { phpTruthy } from './php-serialize.js';
import { readOnly } from './change.js';
import { resolveModuleName } from '../services/catalog.js';
import { UsageError } from '../errors.js';

/** What `--module` selects: one stored module name, or "no second factor" ('' and '0'). */
export type ModuleFilter = { kind: 'module'; name: string } | { kind: 'none' };

/**
 * `--module` as typed: a stock module by any alias (`duo`), `none`, or a third-party module's
 * stored name (WHMCS sanitises those to [0-9a-z_-], so nothing else can be stored).
 */
export function parseModuleFilter(input: string): ModuleFilter {
  const s = input.trim().toLowerCase();
  if (s === 'none' || s === 'off') return { kind: 'none' };
  const known = resolveModuleName(s);
  if (known) return { kind: 'module', name: known };
  if (/^[0-9a-z_-]+$/.test(s) && s !== '0') return { kind: 'module', name: s };
  throw new UsageError(`unknown module "${input}" — use totp, duo, yubikey, a third-party module's name, or none`);
}

export interface ListFilter {
  module?: ModuleFilter;
  /** true: only accounts with a second factor; false: only accounts without. */
  enrolled?: boolean;
  /** Just this account (after findAccount). */
  id?: number;
}

export type AccountFlag = 'module-zero' | 'undecryptable' | 'unreadable' | 'needs-cc-hash';

interface ListedBase {
  id: number;
  email: string;
  /** The module column as stored: '' and '0' both mean off. */
  module: string;
  enrolled: boolean;
  /** How the data column is stored; `undecryptable` = AES that this cc_encryption_hash cannot read. */
  configFormat: AccountConfigFormat | 'undecryptable' | 'unknown';
  /** A backup code is stored (null: cannot tell — config unreadable or cc_encryption_hash missing). */
  backupCode: boolean | null;
  flags: AccountFlag[];
}

export interface ListedAdmin extends ListedBase {
  username: string;
  roleId: number;
  role: string | null;
  disabled: boolean;
}

export interface ListedUser extends ListedBase {
  /** Every client the user belongs to (tblusers_clients). */
  clientIds: number[];
  /** The clients this user owns (owner = 1). */
  ownedClientIds: number[];
}

export interface ListedClient extends ListedBase {
  status: string;
}

export interface AccountListing {
  admins?: ListedAdmin[];
  users?: ListedUser[];
  clients?: ListedClient[];
}

/** Rows read per query: keyset pages by id keep memory flat however many accounts exist. */
export const LIST_PAGE = 2000;

function applyFilter(q: Knex.QueryBuilder, col: string, f: ListFilter): Knex.QueryBuilder {
  if (f.id !== undefined) q = q.where('a.id', f.id);
  if (f.module?.kind === 'module') q = q.where(col, f.module.name);
  if (f.module?.kind === 'none' || f.enrolled === false) q = q.whereIn(col, ['', '0']);
  if (f.enrolled === true) q = q.whereNotIn(col, ['', '0']);
  return q;
}

function pageQuery(k: Knex.Transaction, t: AccountTable, f: ListFilter, after: number): Knex.QueryBuilder {
  const mod = `a.${t.moduleColumn}`;
  let q: Knex.QueryBuilder;
  if (t === ADMINS) {
    q = k({ a: 'tbladmins' })
      .leftJoin({ r: 'tbladminroles' }, 'r.id', 'a.roleid')
      .select('a.id', 'a.username', 'a.email', 'a.roleid', 'r.name as role', 'a.disabled', 'a.authmodule', 'a.authdata');
  } else if (t === USERS) {
    // One aggregate per page instead of one query per user; GROUP_CONCAT order is not portable
    // (SQLite), so the ids are sorted after splitting.
    q = k({ a: 'tblusers' }).select(
      'a.id',
      'a.email',
      'a.second_factor',
      'a.second_factor_config',
      k.raw('(SELECT GROUP_CONCAT(uc.client_id) FROM tblusers_clients uc WHERE uc.auth_user_id = a.id) AS client_ids'),
      k.raw('(SELECT GROUP_CONCAT(uc.client_id) FROM tblusers_clients uc WHERE uc.auth_user_id = a.id AND uc.owner = 1) AS owned_ids'),
    );
  } else {
    q = k({ a: 'tblclients' }).select('a.id', 'a.email', 'a.status', 'a.authmodule', 'a.authdata');
  }
  return applyFilter(q, mod, f).where('a.id', '>', after).orderBy('a.id').limit(LIST_PAGE);
}

function idList(v: unknown): number[] {
  if (v === null || v === undefined || v === '') return [];
  const s = String(v);
  if (!s.includes(',')) return [Number(s)];
  return s.split(',').map(Number).sort((a, b) => a - b);
}

/**
 * Reads the data column only as far as the listing needs: its format and whether a backup code is
 * in it. Decryption happens per row and the decoded config is dropped at once — nothing but the
 * summary is kept, so 100 000 AES rows cost the time of 100 000 small decrypts, not their memory.
 */
function inspectConfig(raw: string | null, session: Session): Pick<ListedBase, 'configFormat' | 'backupCode' | 'flags'> {
  if (raw === null || raw === '') return { configFormat: 'empty', backupCode: false, flags: [] };
  if (!session.ccHash && isAesDecryptable(raw)) return { configFormat: 'unknown', backupCode: null, flags: ['needs-cc-hash'] };
  const d = decodeAccountConfig(raw, session.ccHash ?? '', session.limits);
  if (d.undecryptable) return { configFormat: 'undecryptable', backupCode: null, flags: ['undecryptable'] };
  if (d.format === 'unreadable') return { configFormat: 'unreadable', backupCode: null, flags: ['unreadable'] };
  return { configFormat: d.format, backupCode: phpTruthy(d.config.backupcode), flags: [] };
}

/** Built field by field (no spreads): this runs once per account, 100 000 times for a big install. */
function toListed(t: AccountTable, r: Record<string, unknown>, session: Session): ListedAdmin | ListedUser | ListedClient {
  const module = String(r[t.moduleColumn] ?? '');
  const rawValue = r[t.dataColumn];
  const cfg = inspectConfig(rawValue === null || rawValue === undefined ? null : String(rawValue), session);
  if (module === '0') cfg.flags.unshift('module-zero');
  const id = Number(r.id);
  const email = String(r.email ?? '');
  const enrolled = moduleIsOn(module);
  if (t === ADMINS) {
    return {
      id,
      username: String(r.username ?? ''),
      email,
      roleId: Number(r.roleid),
      role: r.role === null || r.role === undefined ? null : String(r.role),
      disabled: Number(r.disabled) !== 0,
      module,
      enrolled,
      configFormat: cfg.configFormat,
      backupCode: cfg.backupCode,
      flags: cfg.flags,
    };
  }
  if (t === USERS) {
    return {
      id,
      email,
      module,
      enrolled,
      configFormat: cfg.configFormat,
      backupCode: cfg.backupCode,
      flags: cfg.flags,
      clientIds: idList(r.client_ids),
      ownedClientIds: idList(r.owned_ids),
    };
  }
  return { id, email, status: String(r.status ?? ''), module, enrolled, configFormat: cfg.configFormat, backupCode: cfg.backupCode, flags: cfg.flags };
}

/**
 * Walks one account table in keyset pages of LIST_PAGE ids, calling `onRow` per account. One
 * read-only transaction pins one connection, which gives a consistent snapshot on InnoDB and lets
 * the GROUP_CONCAT length limit be raised for users linked to many clients.
 */
export async function eachListedAccount(
  session: Session,
  kind: Kind,
  filter: ListFilter,
  onRow: (a: ListedAdmin | ListedUser | ListedClient) => void,
): Promise<void> {
  const t = tableFor(kind);
  const mysql = session.db.dialect === 'mysql';
  await readOnly(session.db.knex, async (trx) => {
    if (mysql && t === USERS) await trx.raw('SET SESSION group_concat_max_len = 4194304');
    const page = (after: number) => pageQuery(trx, t, filter, after) as Promise<Record<string, unknown>[]>;
    let next: Promise<Record<string, unknown>[]> | null = page(0);
    try {
      while (next) {
        const rows: Record<string, unknown>[] = await next;
        // Ask for the following page before decoding this one: the server works while we decrypt.
        next = rows.length === LIST_PAGE ? page(Number(rows[rows.length - 1]!.id)) : null;
        for (const r of rows) onRow(toListed(t, r, session));
      }
    } finally {
      // A failure mid-page must not leave the prefetch to reject unobserved after the rollback.
      next?.catch(() => {});
    }
  });
}

export async function listAccounts(session: Session, kinds: Kind[], filter: ListFilter): Promise<AccountListing> {
  const out: AccountListing = {};
  for (const kind of kinds) {
    const list: Array<ListedAdmin | ListedUser | ListedClient> = [];
    await eachListedAccount(session, kind, filter, (a) => list.push(a));
    if (kind === 'admin') out.admins = list as ListedAdmin[];
    else if (kind === 'user') out.users = list as ListedUser[];
    else out.clients = list as ListedClient[];
  }
  return out;
}

/** The kinds `--admins/--users/--clients` (or none of them) select on this install. */
export function kindsFor(session: Session, f: { admins?: boolean; users?: boolean; clients?: boolean }): Kind[] {
  const given = (['admins', 'users', 'clients'] as const).filter((k) => f[k]);
  if (given.length > 1) throw new UsageError('pick one of --admins, --users or --clients (or none for admins and the client side)');
  const shape = session.install.shape;
  if (f.users && shape === '7') throw new UsageError('WHMCS 7 has no users (tblusers): clients keep their second factor — use --clients');
  if (f.clients && shape === '8') throw new UsageError('on WHMCS 8 second factors belong to users, not clients — use --users');
  if (f.admins) return ['admin'];
  if (f.users) return ['user'];
  if (f.clients) return ['client'];
  return ['admin', shape === '8' ? 'user' : 'client'];
}
