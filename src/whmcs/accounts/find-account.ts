import type { Knex } from 'knex';
import { holdSqliteWriteLock, isSqlite } from '../connection/sqlite-driver.js';
import type { Session } from '../connection/session.js';
import { ADMINS, CLIENTS, USERS, moduleIsOn, tableFor, type AccountTable, type Kind } from './accounts-table.js';
import { NotFoundError, UsageError } from '../../errors.js';

export interface Account {
  kind: Kind;
  id: number;
  /** What people call it: admin username, user/client email. */
  name: string;
  email: string;
  /** Module column as stored ('' and '0' mean off). */
  module: string;
  enrolled: boolean;
  /** Data column as stored (may be NULL for tblusers). */
  rawConfig: string | null;
  /** Admins: disabled flag; 7.x clients: status; users: none. */
  disabled?: boolean;
  status?: string;
  roleId?: number;
  /** 8.x users: the clients they belong to (tblusers_clients). */
  clientIds?: number[];
}

export interface Selector {
  admin?: string;
  user?: string;
  client?: string;
}

/** Exactly one of --admin / --user / --client, and the one that exists on this WHMCS version. */
function selectorKind(session: Session, sel: Selector): { kind: Kind; value: string } {
  const given = (['admin', 'user', 'client'] as const).filter((k) => sel[k] !== undefined);
  if (given.length !== 1) throw new UsageError('name exactly one account: --admin <username|email|id:N>, --user <email|id:N> (WHMCS 8) or --client <email|id:N> (WHMCS 7)');
  const kind = given[0]!;
  if (kind === 'user' && session.install.shape === '7') {
    throw new UsageError('WHMCS 7 has no users (tblusers): clients keep their second factor — use --client <email|id>');
  }
  if (kind === 'client' && session.install.shape === '8') {
    throw new UsageError('on WHMCS 8 second factors belong to users, not clients — use --user <email|id> (see `whmcs-2fa accounts --users`)');
  }
  const value = String(sel[kind]).trim();
  if (!value) throw new UsageError(`--${kind} needs a value`);
  return { kind, value };
}

function columnsFor(t: AccountTable): string[] {
  if (t === ADMINS) return ['id', 'username', 'email', 'authmodule', 'authdata', 'disabled', 'roleid'];
  if (t === USERS) return ['id', 'email', 'second_factor', 'second_factor_config'];
  return ['id', 'email', 'authmodule', 'authdata', 'status'];
}

export function toAccount(t: AccountTable, r: Record<string, unknown>): Account {
  const module = String(r[t.moduleColumn] ?? '');
  const raw = r[t.dataColumn];
  return {
    kind: t.kind,
    id: Number(r.id),
    name: String(t === ADMINS ? r.username : r.email),
    email: String(r.email ?? ''),
    module,
    enrolled: moduleIsOn(module),
    rawConfig: raw === null || raw === undefined ? null : String(raw),
    ...(t === ADMINS ? { disabled: Number(r.disabled) !== 0, roleId: Number(r.roleid) } : {}),
    ...(t === CLIENTS ? { status: String(r.status), disabled: r.status === 'Closed' } : {}),
  };
}

/**
 * Finds one account by id, username (admins) or email. `id:N` names the id and nothing else. A bare
 * value is looked up in SQL, then compared exactly, byte for byte, here: the database's collation
 * also "finds" `José` for `jose`, `Straße` for `strasse` or `alice` for `alice\x01`, and none of
 * those is the account the operator named. When nothing is exactly equal, the near matches are
 * listed (exit 3) and none is used; more than one exact match is ambiguous (exit 3 with the
 * candidates and the `id:N` form that names each) — nothing is guessed, because the next step may
 * be turning someone's second factor off.
 */
export async function findAccount(session: Session, sel: Selector, trx?: Knex.Transaction, lock = false): Promise<Account> {
  const { kind, value } = selectorKind(session, sel);
  const t = tableFor(kind);
  const k = trx ?? session.db.knex;
  const idForm = /^id:(.*)$/i.exec(value);
  if (idForm && !/^\d+$/.test(idForm[1]!.trim())) throw new UsageError(`--${kind} ${shownValue(value)}: after "id:" comes a number (e.g. --${kind} id:2)`);
  const id = idForm ? idForm[1]!.trim() : /^\d+$/.test(value) ? value : undefined;
  const q = k(t.table).select(columnsFor(t)).where((w) => {
    if (id !== undefined) w.orWhere('id', Number(id));
    if (idForm) return;
    if (t === ADMINS) w.orWhere('username', value);
    w.orWhere('email', value);
    // SQLite compares bytes: let it find the case-insensitive near matches MySQL's collation finds.
    if (session.db.dialect !== 'mysql') {
      if (t === ADMINS) w.orWhereRaw('username = ? COLLATE NOCASE', [value]);
      w.orWhereRaw('email = ? COLLATE NOCASE', [value]);
    }
  });
  if (lock) await lockForWrite(k);
  if (lock && session.db.dialect === 'mysql') q.forUpdate();
  const rows = (await q.limit(20)) as Record<string, unknown>[];
  const exact = rows.filter((r) => (id !== undefined && String(r.id) === String(Number(id))) || (!idForm && (r.username === value || r.email === value)));
  const list = (rs: Record<string, unknown>[]) => rs.map((r) => toAccount(t, r)).map((a) => ({ id: a.id, name: a.name, email: a.email, selector: `id:${a.id}` }));
  if (exact.length === 0) {
    if (rows.length > 0) {
      const near = list(rows);
      throw new NotFoundError(
        `no ${kind} is exactly "${shownValue(value)}"; near matches: ${near.map((c) => `#${c.id} ${shownValue(c.name)}`).join(', ')} — name one exactly or by id, e.g. --${kind} id:${near[0]!.id}`,
        { candidates: near, exact: false },
      );
    }
    throw new NotFoundError(`no ${kind} matches "${shownValue(value)}" — list them with \`whmcs-2fa accounts --${kind}s\``);
  }
  if (exact.length > 1) {
    const candidates = list(exact);
    throw new NotFoundError(
      `"${shownValue(value)}" matches ${exact.length} ${t.plural}: ${candidates.map((c) => `#${c.id} ${shownValue(c.name)}`).join(', ')} — select one by id, e.g. --${kind} id:${candidates[0]!.id}`,
      { candidates, exact: true },
    );
  }
  const acct = toAccount(t, exact[0]!);
  if (kind === 'user') acct.clientIds = await clientIdsOf(k, acct.id);
  return acct;
}

/** A selector or name as an error message quotes it: at most 60 characters (a pasted blob is not echoed whole). */
function shownValue(value: string): string {
  const chars = [...value];
  return chars.length <= 60 ? value : `${chars.slice(0, 50).join('')}… (${chars.length} characters)`;
}

async function clientIdsOf(k: Knex | Knex.Transaction, userId: number): Promise<number[]> {
  const rows = await k('tblusers_clients').where({ auth_user_id: userId }).orderBy('client_id').pluck('client_id');
  return rows.map(Number);
}

/** Re-reads one account by id (optionally locking it) — used inside write transactions. */
export async function accountById(k: Knex | Knex.Transaction, kind: Kind, id: number, lock: boolean): Promise<Account> {
  const t = tableFor(kind);
  if (lock) await lockForWrite(k);
  const q = k(t.table).select(columnsFor(t)).where({ id });
  if (lock && !isSqlite(k)) q.forUpdate();
  const r = (await q.first()) as Record<string, unknown> | undefined;
  if (!r) throw new NotFoundError(`${kind} #${id} no longer exists`);
  return toAccount(t, r);
}

/** SQLite's write lock (holdSqliteWriteLock); MySQL locks the rows with FOR UPDATE instead. */
async function lockForWrite(k: Knex | Knex.Transaction): Promise<void> {
  if (isSqlite(k)) await holdSqliteWriteLock(k);
}
