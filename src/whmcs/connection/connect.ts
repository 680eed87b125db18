import { dirname, isAbsolute, join, resolve } from 'node:path';
import { openDb, type DbTarget, type DbWaits } from './db.js';
import { inspectInstall, DEFAULT_SERIALIZE_LIMITS, type SerializeLimits } from './install.js';
import { Session } from './session.js';
import { operatorName } from '../changes/activity-log.js';
import { findConfigurationPhp, loadConfigurationPhp } from './configuration-php.js';
import { connectionFromConfig, parseDbUrl, tlsOptionsForMysql2, type MysqlConnectionSpec } from './connection-spec.js';
import { existsSync } from 'node:fs';
import { SQLITE_CONFIG_VAR } from '../schema/sandbox-constants.js';
import { UsageError } from '../../errors.js';

export interface ConnectRequest {
  whmcsDir?: string;
  dbUrl?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /**
   * Asks for the database password when the URL has none and $WHMCS_DB_PASSWORD is unset; absent
   * when nobody can answer (no terminal), and the connection is then tried without one. Injected
   * by the caller: the domain knows no terminal.
   */
  askPassword?: (question: string) => Promise<string>;
  warn: (message: string) => void;
  /** --timeout and what to do while waiting (see DbWaits); default: 30 s, silent. */
  waits?: DbWaits;
}

interface ResolvedConnection {
  target: DbTarget;
  ccHash: string | undefined;
  limits: SerializeLimits;
  source: string;
}

/**
 * Where the database is, in the order the README documents: --db, $WHMCS_DB_URL, --whmcs-dir,
 * $WHMCS_DIR, then the nearest configuration.php walking up from the current directory.
 */
export async function resolveConnection(req: ConnectRequest): Promise<ResolvedConnection> {
  const url = req.dbUrl ?? (req.whmcsDir ? undefined : req.env.WHMCS_DB_URL);
  if (url) {
    const spec = parseDbUrl(url, req.env);
    if (spec.passwordOnCommandLine && req.dbUrl) {
      req.warn('a password in --db is visible to other users in the process list — use $WHMCS_DB_PASSWORD, the prompt, or --whmcs-dir instead');
    }
    const source = req.dbUrl ? '--db' : '$WHMCS_DB_URL';
    if (spec.kind === 'sqlite') {
      return { target: { kind: 'sqlite', file: resolve(req.cwd, spec.file) }, ccHash: spec.ccEncryptionHash, limits: DEFAULT_SERIALIZE_LIMITS, source };
    }
    let password = spec.password;
    if (password === undefined && req.askPassword) {
      password = await req.askPassword(`Password for ${spec.user}@${spec.socketPath ?? spec.host ?? 'localhost'}:`);
    }
    return { target: mysqlTarget({ ...spec, password }), ccHash: spec.ccEncryptionHash, limits: DEFAULT_SERIALIZE_LIMITS, source };
  }

  const dir = req.whmcsDir ?? req.env.WHMCS_DIR;
  let confDir: string;
  if (dir) {
    confDir = resolve(req.cwd, dir);
  } else {
    const found = findConfigurationPhp(req.cwd, {});
    if (!found) {
      throw new UsageError('no WHMCS found: pass --whmcs-dir <WHMCS root>, set WHMCS_DIR, run inside the WHMCS directory, or connect with --db <url>');
    }
    confDir = dirname(found);
  }
  const cfg = loadConfigurationPhp(confDir);
  const source = join(confDir, 'configuration.php');
  const sqliteFile = cfg.vars[SQLITE_CONFIG_VAR];
  const spec = connectionFromConfig(cfg);
  const limits = spec.serializeLimits ?? DEFAULT_SERIALIZE_LIMITS;
  if (sqliteFile) {
    const file = isAbsolute(sqliteFile) ? sqliteFile : join(confDir, sqliteFile);
    return { target: { kind: 'sqlite', file }, ccHash: spec.ccEncryptionHash, limits, source };
  }
  return { target: mysqlTarget(spec), ccHash: spec.ccEncryptionHash, limits, source };
}

/** Where PHP's pdo_mysql looks for the server socket on common distributions. */
const DEFAULT_SOCKETS = ['/run/mysqld/mysqld.sock', '/var/run/mysqld/mysqld.sock', '/var/lib/mysql/mysql.sock', '/tmp/mysql.sock'];

/**
 * For PHP (and so for WHMCS), host `localhost` without a port means the local Unix socket, not
 * TCP; accounts such as 'whmcs'@'localhost' may only be reachable that way. Do the same.
 */
function mysqlTarget(spec: MysqlConnectionSpec): DbTarget {
  let socketPath = spec.socketPath;
  if (!socketPath && (spec.host ?? 'localhost') === 'localhost' && !spec.port) {
    socketPath = DEFAULT_SOCKETS.find((p) => existsSync(p));
  }
  return {
    kind: 'mysql',
    host: socketPath ? undefined : spec.host,
    port: socketPath ? undefined : spec.port,
    socketPath,
    user: spec.user,
    password: spec.password,
    database: spec.database,
    charset: spec.charset,
    ssl: spec.ssl ? tlsOptionsForMysql2(spec.ssl) : undefined,
    sqlMode: spec.sqlMode,
  };
}

export async function openSession(req: ConnectRequest): Promise<Session> {
  const c = await resolveConnection(req);
  const db = await openDb(c.target, req.waits, req.env);
  try {
    const install = await inspectInstall(db);
    return new Session(db, install, c.ccHash, c.limits, operatorName(req.env), c.source, req.env);
  } catch (e) {
    await db.close();
    throw e;
  }
}
