import type { Knex } from 'knex';
import { isSqlite } from './sqlite-driver.js';

/** A UTC `YYYY-MM-DD HH:MM:SS`. Only for test fixtures and the sandbox seed: WHMCS's columns hold local time. */
export function nowSql(d = new Date()): string {
  return d.toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * "Now" as WHMCS on that host writes it into its own created_at/updated_at columns: local time, not
 * UTC (PHP formats the time in its own zone; logActivity() uses the database's NOW()). The
 * database's NOW() in this session's time zone is that clock wherever whmcs-2fa runs — on the WHMCS
 * host or elsewhere — because the session, like WHMCS's own connection, uses the server's default
 * time zone. SQLite (the sandbox) has no server: the local time of this machine.
 */
export async function dbNow(k: Knex | Knex.Transaction): Promise<string> {
  if (isSqlite(k)) {
    const row = (await k.raw("SELECT datetime('now', 'localtime') AS now")) as Array<{ now: string }>;
    return String(row[0]!.now);
  }
  const [rows] = (await k.raw("SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s') AS now")) as [Array<{ now: unknown }>];
  return String(rows[0]!.now);
}
