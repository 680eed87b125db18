/**
 * The counts behind the lockout guards of activate, deactivate and enforce, taken so that a
 * concurrent change cannot slip past them (see guardRead).
 */
import type { Knex } from 'knex';
import { isSqlite } from '../connection/sqlite-driver.js';
import type { AccountTable } from '../accounts/accounts-table.js';

/**
 * A safety guard's count, taken inside the writing transaction, must see what concurrent runs have
 * committed and keep them from changing it until this change commits: on MySQL it is a locking read
 * (LOCK IN SHARE MODE), which waits for a concurrent enrolment or reset holding an account row and
 * then reads the latest committed rows, and blocks new ones until COMMIT. (WHMCS indexes no module
 * column, so InnoDB locks every row the count scans: the rows that could join the count too.)
 * SQLite's writing transaction already holds the database's write lock. Previews count without locks.
 */
export function guardRead(trx: Knex | Knex.Transaction, q: Knex.QueryBuilder): Knex.QueryBuilder {
  return guardLocking.has(trx) && !isSqlite(trx) ? q.forShare() : q;
}
/** Transactions whose plan runs under lock (the writing pass), for guardRead. */
const guardLocking = new WeakSet<object>();
export function lockGuards(trx: Knex.Transaction, lock: boolean): void {
  if (lock) guardLocking.add(trx);
}

/** Accounts able to log in whose module column is `module` (or any service when omitted). */
export async function countEnrolled(trx: Knex.Transaction, t: AccountTable, module?: string): Promise<number> {
  let q = trx(t.table);
  q = module !== undefined ? q.where(t.moduleColumn, module) : q.whereNotNull(t.moduleColumn).whereNotIn(t.moduleColumn, ['', '0']);
  if (t.table === 'tbladmins') q = q.where('disabled', 0);
  if (t.table === 'tblclients') q = q.whereNot('status', 'Closed');
  const row = (await guardRead(trx, q.count({ n: '*' })).first()) as { n: unknown } | undefined;
  return Number(row?.n ?? 0);
}
