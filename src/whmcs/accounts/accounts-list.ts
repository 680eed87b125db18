import type { Knex } from 'knex';
import type { Session } from '../connection/session.js';
import { ADMINS, USERS, moduleIsOn, tableFor, type AccountTable, type Kind } from './accounts-table.js';
import { decodeAccountConfigs, type AccountConfigFormat } from './account-config.js';
import { isAesDecryptable } from '../crypto/aes-config.js';
import { phpTruthy } from '../php/php-serialize.js';
import { resolveModuleName } from '../../services/catalog.js';
import { UsageError } from '../../errors.js';

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
    q = k({ a: 'tblusers' }).select('a.id', 'a.email', 'a.second_factor', 'a.second_factor_config');
  } else {
    q = k({ a: 'tblclients' }).select('a.id', 'a.email', 'a.status', 'a.authmodule', 'a.authdata');
  }
  return applyFilter(q, mod, f).where('a.id', '>', after).orderBy('a.id').limit(LIST_PAGE);
}

interface ClientLinks {
  all: number[];
  owned: number[];
}

/**
 * The tblusers_clients links of a page's users (ids ascending), grouped by user: one indexed read
 * per page instead of two correlated GROUP_CONCATs per user (which cost the server more than the
 * page itself does, and are cut off at group_concat_max_len). A dense page — nearly
 * contiguous ids, as an unfiltered listing has — is one range read; a sparse one (a filter) names
 * its ids, so the links of users it does not list are not read.
 */
async function clientLinks(k: Knex.Transaction, ids: number[]): Promise<Map<number, ClientLinks>> {
  const first = ids[0]!;
  const last = ids[ids.length - 1]!;
  const q = k('tblusers_clients').select('auth_user_id', 'client_id', 'owner');
  const rows = (await (last - first < 2 * ids.length ? q.whereBetween('auth_user_id', [first, last]) : q.whereIn('auth_user_id', ids)).orderBy([
    { column: 'auth_user_id' },
    { column: 'client_id' },
  ])) as Array<Record<string, unknown>>;
  const byUser = new Map<number, ClientLinks>();
  for (const r of rows) {
    const user = Number(r.auth_user_id);
    let l = byUser.get(user);
    if (!l) byUser.set(user, (l = { all: [], owned: [] }));
    const client = Number(r.client_id);
    l.all.push(client);
    if (Number(r.owner) === 1) l.owned.push(client);
  }
  return byUser;
}

type ConfigSummary = Pick<ListedBase, 'configFormat' | 'backupCode' | 'flags'>;

/**
 * Reads the data column only as far as the listing needs: its format and whether a backup code is
 * in it. A page's configs are decoded together (one decipher for all its AES values) and the
 * decoded configs are dropped at once — nothing but the summary is kept.
 */
function inspectConfigs(raws: Array<string | null>, session: Session): ConfigSummary[] {
  const hash = session.ccHash;
  // Without the hash AES values are not decrypted at all: their contents are unknown.
  const decoded = decodeAccountConfigs(hash ? raws : raws.map((raw) => (isAesDecryptable(raw) ? null : raw)), hash ?? '', session.limits);
  return raws.map((raw, i): ConfigSummary => {
    if (raw === null || raw === '') return { configFormat: 'empty', backupCode: false, flags: [] };
    if (!hash && isAesDecryptable(raw)) return { configFormat: 'unknown', backupCode: null, flags: ['needs-cc-hash'] };
    const d = decoded[i];
    if (d.undecryptable) return { configFormat: 'undecryptable', backupCode: null, flags: ['undecryptable'] };
    if (d.format === 'unreadable') return { configFormat: 'unreadable', backupCode: null, flags: ['unreadable'] };
    return { configFormat: d.format, backupCode: phpTruthy(d.config.backupcode), flags: [] };
  });
}

const NO_LINKS: ClientLinks = { all: [], owned: [] };

/** Built field by field (no spreads): this runs once per account, 100 000 times for a big install. */
function toListed(t: AccountTable, r: Record<string, unknown>, cfg: ConfigSummary, links: Map<number, ClientLinks> | null): Listed {
  const module = String(r[t.moduleColumn] ?? '');
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
    const l = links?.get(id) ?? NO_LINKS;
    return {
      id,
      email,
      module,
      enrolled,
      configFormat: cfg.configFormat,
      backupCode: cfg.backupCode,
      flags: cfg.flags,
      // Each user gets lists of its own: NO_LINKS is shared and must not be handed out.
      clientIds: l === NO_LINKS ? [] : l.all,
      ownedClientIds: l === NO_LINKS ? [] : l.owned,
    };
  }
  return { id, email, status: String(r.status ?? ''), module, enrolled, configFormat: cfg.configFormat, backupCode: cfg.backupCode, flags: cfg.flags };
}

function configsOf(t: AccountTable, rows: Array<Record<string, unknown>>, session: Session): ConfigSummary[] {
  return inspectConfigs(
    rows.map((r) => {
      const v = r[t.dataColumn];
      return v === null || v === undefined ? null : String(v);
    }),
    session,
  );
}

export type Listed = ListedAdmin | ListedUser | ListedClient;

/**
 * One account table in keyset pages of LIST_PAGE ids, yielded a page at a time in id order. One
 * read-only transaction pins one connection for the whole walk (a consistent snapshot on InnoDB);
 * it is rolled back when the walk ends, fails, or the consumer stops early. The next page is asked
 * for before the current one is handed out, so the server reads it while the consumer writes; its
 * rows are taken in only after that (the consumer writes synchronously). A page is valid until the
 * next one is asked for: it is then emptied. So no more than one page of accounts is held at a
 * time; data that outlives two young-generation collections is promoted, garbage that only a full
 * collection frees, and the peak RSS of a long listing grew with the number of accounts.
 */
export async function* listedPages(session: Session, kind: Kind, filter: ListFilter): AsyncGenerator<Listed[], void, undefined> {
  const t = tableFor(kind);
  const trx = await session.db.knex.transaction();
  // Queries in flight while the consumer holds a page: a failure must not surface as an unhandled
  // rejection before we await it (the await still throws).
  const inFlight = <T>(p: Promise<T>): Promise<T> => {
    p.catch(() => {});
    return p;
  };
  // then() once: every then() of a knex builder runs its query again.
  const query = (after: number) => inFlight(pageQuery(trx, t, filter, after).then((r: Array<Record<string, unknown>>) => r));
  let next: Promise<Array<Record<string, unknown>>> | null = query(0);
  /**
   * The page `next` brings, as listed accounts; asks for the one after it on the way. Its own
   * function so that the rows and decoded configs are garbage once the page is built, not kept
   * alive by this generator while the consumer writes the page.
   */
  const listNext = async (): Promise<Listed[]> => {
    const rows = await next!;
    next = null;
    if (rows.length === 0) return [];
    const ids = rows.map((r) => Number(r.id));
    // This page's links are read while its configs are decoded; the next page is asked for once
    // they are in, so its rows arrive while this page is written, not before.
    const links = t === USERS ? inFlight(clientLinks(trx, ids)) : null;
    const cfgs = configsOf(t, rows, session);
    const byUser = links ? await links : null;
    next = rows.length === LIST_PAGE ? query(ids[ids.length - 1]!) : null;
    return rows.map((r, i) => toListed(t, r, cfgs[i]!, byUser));
  };
  try {
    while (next) {
      const page = await listNext();
      if (page.length) yield page;
      // Handed out until the next page is asked for, then emptied: the generator's frame and the
      // consumer's loop variable still point at this array while the next page is read and
      // decoded, and its accounts would live on through that (see the comment above).
      page.length = 0;
    }
  } finally {
    await trx.rollback().catch(() => {});
  }
}

/** `listedPages`, one account at a time. */
export async function eachListedAccount(session: Session, kind: Kind, filter: ListFilter, onRow: (a: Listed) => void): Promise<void> {
  for await (const p of listedPages(session, kind, filter)) for (const a of p) onRow(a);
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
