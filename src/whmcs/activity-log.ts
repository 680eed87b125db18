import type { Knex } from 'knex';
import { userInfo } from 'node:os';
import type { Install } from './install.js';
import { nowSql } from './sql-time.js';
import { isSqlite } from './sqlite-driver.js';

export interface ActivityEntry {
  description: string;
  /** tblclients id the entry relates to (WHMCS's `userid`), 0 for none. */
  clientId?: number;
  /** tblusers id (8.x only). */
  userId?: number;
  /** tbladmins id (8.x only). */
  adminId?: number;
}

/** Who ran the tool: the OS account, and the account behind sudo when there is one. */
export function operatorName(env: NodeJS.ProcessEnv = process.env): string {
  let name = env.USER || env.LOGNAME || '';
  try {
    name = userInfo().username || name;
  } catch {
    /* no passwd entry (containers): fall back to $USER */
  }
  const sudo = env.SUDO_USER && env.SUDO_USER !== name ? ` via sudo by ${env.SUDO_USER}` : '';
  return (name || 'unknown') + sudo;
}

/**
 * The description WHMCS's Activity Log page shows. Suffixes follow logActivity's " - " convention
 * so "User ID: n" / "Client ID: n" get auto-linked (they need a trailing space or end of text).
 */
export function activityText(what: string, operator: string, reason?: string, suffix?: string): string {
  let s = `Two-Factor Authentication: ${what} by whmcs-2fa CLI (OS user ${operator})`;
  if (reason) s += ` - Reason: ${reason.replace(/\s+/g, ' ').trim()}`;
  if (suffix) s += ` - ${suffix}`;
  return s;
}

/**
 * Inserts rows the way logActivity() does: date = DB server now, user "System" (no admin is logged
 * in), empty IP for System entries, and user_id/admin_id only where the 8.x columns exist. Every
 * NOT NULL column is supplied because 7.x `userid` has no default.
 */
export async function writeActivity(trx: Knex | Knex.Transaction, install: Install, entries: ActivityEntry[]): Promise<void> {
  if (!entries.length) return;
  const date = isSqlite(trx) ? nowSql() : trx.raw('NOW()');
  const rows = entries.map((e) => ({
    date,
    description: e.description,
    user: 'System',
    userid: e.clientId ?? 0,
    ...(install.activityHasUserColumns ? { user_id: e.userId ?? 0, admin_id: e.adminId ?? 0 } : {}),
    ipaddr: '',
  }));
  // Chunked so a bulk change does not build one enormous statement.
  for (let i = 0; i < rows.length; i += 500) await trx('tblactivitylog').insert(rows.slice(i, i + 500));
}
