import type { Knex } from 'knex';
import { userInfo } from 'node:os';
import type { Install } from '../connection/install.js';
import { nowSql } from '../connection/sql-time.js';
import { isSqlite } from '../connection/sqlite-driver.js';

export interface ActivityEntry {
  description: string;
  /** tblclients id the entry relates to (WHMCS's `userid`), 0 for none. */
  clientId?: number;
  /** tblusers id (8.x only). */
  userId?: number;
  /** tbladmins id (8.x only). */
  adminId?: number;
}

/** A login name as POSIX tools accept it (useradd's default pattern, plus '.' and '@' for directory accounts). */
const LOGIN = /^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}\$?$/;

/**
 * A name that came from the environment, made safe for WHMCS's activity log and the history: no
 * control characters or line breaks, bounded length, and anything that does not look like a
 * login name is quoted as such — so `SUDO_USER="x - Reason: …"` cannot pose as another field.
 */
function sanitizeName(raw: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this removes
  const clean = raw.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, '').trim();
  if (LOGIN.test(clean)) return clean;
  const cut = clean.slice(0, 32).replace(/[^A-Za-z0-9_.@$-]/g, '?');
  return cut ? `invalid name "${cut}"` : 'unknown';
}

/**
 * Who ran the tool: the OS account (from the system, not the environment, when it can), and the
 * account behind sudo when there is one. SUDO_USER is only believed when running as root (sudo
 * sets it for the target user; anyone can set it otherwise), and sanitised either way.
 */
export function operatorName(env: NodeJS.ProcessEnv = process.env): string {
  let name = '';
  try {
    name = userInfo().username;
  } catch {
    /* no passwd entry (containers): fall back to $USER */
  }
  if (!name) name = sanitizeName(env.USER || env.LOGNAME || '') || 'unknown';
  else name = sanitizeName(name);
  const sudoRaw = env.SUDO_USER;
  let sudo = '';
  if (sudoRaw && (process.getuid?.() ?? 0) === 0) {
    const s = sanitizeName(sudoRaw);
    if (s !== name) sudo = ` via sudo by ${s}`;
  }
  return name + sudo;
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
