/**
 * The database server's own clock, for clock-check. Times written with SQL NOW() come from the
 * database host, the rest from PHP on the web host; when those are different machines, either clock
 * can be wrong on its own.
 *
 * Only the connection is needed here, not a WHMCS session: the clock of a database that is not (yet)
 * WHMCS-shaped is still worth knowing, and a session's schema inspection would only add round trips.
 */
import { findConfigurationPhp } from '../whmcs/connection/find-configuration-php.js';
import { databaseConfigured } from './db-configured.js';
import { resolveConnection, type ConnectRequest } from '../whmcs/connection/connect.js';
import { describeTarget, explainDbError, mysqlAddress, type MysqlTarget } from '../whmcs/connection/db.js';
import type { Connection } from 'mysql2';

/**
 * UTC microseconds since the epoch, by arithmetic on UTC datetimes. UNIX_TIMESTAMP(NOW(6)) would
 * convert through the session time zone, which maps the repeated hour at the end of daylight saving
 * time to the wrong instant: a false hour of offset once a year.
 */
export const DB_CLOCK_SQL = "SELECT TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) AS us";

export interface DatabaseClockSource {
  /** Where the connection settings came from (configuration.php path, --db, $WHMCS_DB_URL); null if unknown. */
  source: string | null;
  /** Password-free name of the database. */
  label: string | null;
  dialect: 'mysql' | 'sqlite' | null;
  /** Set when a database is configured but its clock is deliberately not read. */
  skipped: string | null;
  /** Connects (within the caller's time budget); rejects with a one-line reason. Absent when skipped. */
  connect?: () => Promise<void>;
  /** The database server's clock as Unix seconds; only after connect(). */
  read?: () => Promise<number>;
  close(): Promise<void>;
}

export { databaseConfigured };

/**
 * Resolves the configured database (reading configuration.php, asking for a password on a TTY)
 * without connecting yet. Null when nothing is configured. A configuration that cannot be resolved
 * becomes a source whose connect() fails, so the caller reports it like an unreachable server.
 */
export async function databaseClockSource(req: ConnectRequest, connectTimeoutMs: number): Promise<DatabaseClockSource | null> {
  if (!databaseConfigured(req)) return null;
  const done = async () => {};
  let resolved: Awaited<ReturnType<typeof resolveConnection>>;
  try {
    resolved = await resolveConnection(req);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return {
      source: configurationSource(req),
      label: null,
      dialect: null,
      skipped: null,
      connect: () => Promise.reject(new Error(message)),
      read: () => Promise.reject(new Error(message)),
      close: done,
    };
  }
  const { target, source } = resolved;
  const label = describeTarget(target);
  if (target.kind === 'sqlite') {
    return {
      source,
      label,
      dialect: 'sqlite',
      skipped: 'SQLite has no server clock: it uses the clock of the host it runs on',
      close: done,
    };
  }

  return { source, label, dialect: 'mysql', skipped: null, ...mysqlClock(target, connectTimeoutMs) };
}

/**
 * One plain connection rather than a knex pool: a probe needs no pool, a pending connect can be
 * destroyed the moment the time budget runs out, and the pool's own logging would write to stdout,
 * ahead of a monitoring status line.
 */
function mysqlClock(target: MysqlTarget, connectTimeoutMs: number): Pick<DatabaseClockSource, 'connect' | 'read' | 'close'> {
  let conn: Connection | undefined;
  let connected = false;
  return {
    connect: async () => {
      const mysql = await import('mysql2');
      const c = (mysql.default ?? mysql).createConnection({
        ...mysqlAddress(target),
        connectTimeout: connectTimeoutMs,
      });
      conn = c;
      // Late failures (the server going away after the probe) must not surface as an unhandled event.
      c.on('error', () => {});
      await new Promise<void>((resolve, reject) => c.connect((err) => (err ? reject(explainDbError(err, target)) : resolve())));
      connected = true;
    },
    read: async () => {
      const c = conn;
      if (!c || !connected) throw new Error('database clock read before connecting');
      const rows = await new Promise<unknown>((resolve, reject) =>
        c.query(DB_CLOCK_SQL, (err, result) => (err ? reject(explainDbError(err, target)) : resolve(result))),
      );
      const us = (rows as Array<{ us?: unknown }>)[0]?.us;
      return us === null || us === undefined ? NaN : Number(us) / 1e6;
    },
    close: async () => {
      const c = conn;
      conn = undefined;
      if (!c) return;
      if (!connected) {
        c.destroy();
        return;
      }
      // A polite COM_QUIT keeps "aborted connection" out of the server log; never wait long for it.
      await Promise.race([new Promise<void>((resolve) => c.end(() => resolve())), new Promise((r) => setTimeout(r, 1000).unref())]);
      c.destroy();
    },
  };
}

/** Names the setting that pointed at the database, in resolveConnection's order of precedence. */
function configurationSource(req: Pick<ConnectRequest, 'whmcsDir' | 'dbUrl' | 'env' | 'cwd'>): string | null {
  if (req.dbUrl) return '--db';
  if (req.whmcsDir) return '--whmcs-dir';
  if (req.env.WHMCS_DB_URL) return '$WHMCS_DB_URL';
  if (req.env.WHMCS_DIR) return '$WHMCS_DIR';
  return findConfigurationPhp(req.cwd, {});
}
