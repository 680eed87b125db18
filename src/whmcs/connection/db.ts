import type { Knex } from 'knex';
import { CliError, DatabaseError, TimeoutError } from '../../errors.js';

export interface MysqlTarget {
  kind: 'mysql';
  host?: string;
  port?: number;
  socketPath?: string;
  user: string;
  password?: string;
  database: string;
  charset?: string;
  ssl?: Record<string, unknown>;
  sqlMode?: string;
  connectTimeoutMs?: number;
}

/**
 * How long a run may wait on the database (--timeout): connecting, each lock wait (the session's
 * lock_wait_timeout and innodb_lock_wait_timeout; SQLite's busy timeout), and any statement that
 * gets no answer at all (a dead SSH tunnel, a hung server) — the watchdog below.
 */
export interface DbWaits {
  timeoutMs: number;
  /** Called once when a statement has been waiting WAIT_NOTE_MS: tell the operator why nothing happens. */
  onWait?: (message: string) => void;
  /**
   * Called when a statement has had no answer for timeoutMs plus a grace period, which the server's
   * own lock timeouts would have ended: the connection is dead. The run cannot go on.
   */
  onStall?: (error: TimeoutError) => void;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** Connecting never takes longer than this, even under a long --timeout: a live server answers at once. */
const MAX_CONNECT_MS = 10_000;
const WAIT_NOTE_MS = 2_000;
const STALL_GRACE_MS = 3_000;

/** The --timeout of this run, for messages (one process, one run). */
let runTimeoutMs = DEFAULT_TIMEOUT_MS;

function seconds(ms: number): string {
  return `${+(ms / 1000).toFixed(1)} s`;
}

interface SqliteTarget {
  kind: 'sqlite';
  file: string;
  /** The sandbox creates its file; everything else must find an existing one. */
  create?: boolean;
}

export type DbTarget = MysqlTarget | SqliteTarget;

export interface Db {
  knex: Knex;
  dialect: 'mysql' | 'sqlite';
  /** A stable, password-free name of this database, used to key the undo journal. */
  label: string;
  /** MySQL: the connection charset as configured (`$mysql_charset`), which decides how PHP counts bytes. */
  charset?: string;
  close(): Promise<void>;
}

/** knex logs pool errors to stdout with stack traces; errors reach the user as one line instead. */
const SILENT_LOG = { warn() {}, error() {}, deprecate() {}, debug() {} };

/**
 * knex prefixes a failed query's message with the statement, by default with the values bound in:
 * those can be secrets (a Yubico key, a TOTP config). Placeholders only; queryError() drops even those.
 */
const NO_VALUES_IN_ERRORS = { compileSqlOnError: false } as const;

/**
 * knex writes every query's bound values to the `knex:bindings` debug channel: with `DEBUG=knex:*`
 * (or `DEBUG=*`) a settings write would print the Yubico key, a reset the TOTP configs it compares.
 * The channel is switched off before knex (and the copy of `debug` bundled with it) loads, whatever
 * $DEBUG says; the statements themselves (`knex:query`) carry placeholders only and stay available.
 */
const SECRET_DEBUG_CHANNELS = ['knex:bindings'];

export function withoutSecretDebugChannels(env: NodeJS.ProcessEnv = process.env): void {
  const d = env.DEBUG;
  if (!d || !d.trim()) return;
  const skips = SECRET_DEBUG_CHANNELS.map((c) => `-${c}`).filter((c) => !d.split(/[\s,]+/).includes(c));
  if (skips.length) env.DEBUG = `${d},${skips.join(',')}`;
}

export function describeTarget(t: DbTarget): string {
  if (t.kind === 'sqlite') return `sqlite:${t.file}`;
  const host = t.host ?? 'localhost';
  // An IPv6 address is bracketed before its port, as in URLs: [::1]:3306.
  const where = t.socketPath ? `${t.socketPath}` : `${host.includes(':') ? `[${host}]` : host}:${t.port ?? 3306}`;
  return `mysql://${t.user}@${where}/${t.database}`;
}

/**
 * Opens the connection and proves it works, turning driver errors into one-line advice (exit 5, 7
 * for timeouts). `env`: the run's environment, whose $DEBUG loses the secret channels.
 */
export async function openDb(target: DbTarget, waits: DbWaits = { timeoutMs: DEFAULT_TIMEOUT_MS }, env: NodeJS.ProcessEnv = process.env): Promise<Db> {
  const label = describeTarget(target);
  withoutSecretDebugChannels(env);
  runTimeoutMs = waits.timeoutMs;
  const knex = target.kind === 'sqlite' ? await openSqlite(target, waits.timeoutMs) : await openMysql(target, waits.timeoutMs);
  try {
    // MySQL: taking a connection from the pool connects, authenticates and runs the pool's setup
    // statement, which proves the database is reachable without a round trip of its own. SQLite
    // opens files lazily: a statement (in-process) is what finds a file that is not a database.
    if (target.kind === 'sqlite') await knex.raw('SELECT 1');
    else await knex.client.releaseConnection(await knex.client.acquireConnection());
  } catch (e) {
    await knex.destroy().catch(() => {});
    throw explainDbError(e, target);
  }
  const stopWatching = watchStatements(knex, waits);
  return {
    knex,
    dialect: target.kind,
    label,
    ...(target.kind === 'mysql' ? { charset: target.charset ?? 'utf8' } : {}),
    close: async () => {
      stopWatching();
      await closeWithin(knex, CLOSE_GRACE_MS);
    },
  };
}

const CLOSE_GRACE_MS = 1_000;

/**
 * knex.destroy() waits for every statement in flight; one that will never be answered (a hung
 * server, a frozen tunnel) would keep the process alive after its error was reported. After a grace
 * period the pool's connections are destroyed outright — the server rolls back what they had open.
 */
async function closeWithin(knex: Knex, graceMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const destroyed = knex.destroy().then(
    () => true,
    () => true,
  );
  const late = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), graceMs);
    timer.unref();
  });
  const done = await Promise.race([destroyed, late]);
  clearTimeout(timer);
  if (done) return;
  const pool = (knex.client as { pool?: { used?: Array<{ resource?: unknown }>; free?: Array<{ resource?: unknown }> } }).pool;
  for (const r of [...(pool?.used ?? []), ...(pool?.free ?? [])]) {
    const conn = r.resource as { destroy?: () => void } | undefined;
    try {
      conn?.destroy?.();
    } catch {
      /* already gone */
    }
  }
}

/**
 * Every statement in flight, by knex's query id, with when it was sent and on which connection. A
 * statement that has waited WAIT_NOTE_MS gets a note, so the operator knows why nothing happens;
 * one with no answer for --timeout plus a grace period ends the run (onStall) — unless the server,
 * asked on a connection of its own, shows that statement's session still executing: a long but
 * healthy statement (a set-based undo of a million rows) is not a hung server. What the server
 * says also words the note: a lock wait, or a statement still running.
 */
function watchStatements(knex: Knex, waits: DbWaits): () => void {
  const inFlight = new Map<string, { at: number; conn?: string }>();
  let noted = false;
  let stalled = false;
  let probing = false;
  let checkedUntil = 0;
  let noteAfter = 0;
  knex.on('query', (q: { __knexQueryUid?: string; __knexUid?: string }) => {
    if (q.__knexQueryUid) inFlight.set(q.__knexQueryUid, { at: Date.now(), conn: q.__knexUid });
  });
  const settle = (q: { __knexQueryUid?: string } | undefined) => {
    if (q?.__knexQueryUid) inFlight.delete(q.__knexQueryUid);
    if (inFlight.size === 0) {
      noted = false;
      checkedUntil = 0;
      noteAfter = 0;
    }
  };
  knex.on('query-response', (_r: unknown, q: { __knexQueryUid?: string }) => settle(q));
  knex.on('query-error', (_e: unknown, q: { __knexQueryUid?: string }) => settle(q));
  const stall = (waited: number) => {
    stalled = true;
    waits.onStall?.(
      new TimeoutError(`timed out: the database has not answered a statement for ${seconds(waited)} (--timeout ${seconds(waits.timeoutMs)}) — the server or the connection to it (an SSH tunnel?) is hung; nothing more was written, and a change in progress is rolled back when the connection closes`),
    );
  };
  const timer = setInterval(() => {
    let oldest = Infinity;
    for (const q of inFlight.values()) oldest = Math.min(oldest, q.at);
    const waited = Date.now() - oldest;
    const noteDue = !noted && waited >= Math.max(Math.min(WAIT_NOTE_MS, waits.timeoutMs / 2), noteAfter);
    const stallDue = !stalled && waited >= Math.max(waits.timeoutMs + STALL_GRACE_MS, checkedUntil);
    if ((!noteDue && !stallDue) || probing) return;
    probing = true;
    const threads = threadsOf(knex, inFlight, oldest);
    void serverSays(knex, threads, PROBE_TIMEOUT_MS)
      .then((state) => {
        if (noteDue && !noted && state === 'running') {
          // A long but healthy statement (a large set-based change): nothing to explain; look again later.
          noteAfter = Date.now() - oldest + WAIT_NOTE_MS;
        } else if (noteDue && !noted) {
          noted = true;
          const why =
            state === 'lock'
              ? 'the server says it is waiting for a lock another session holds — a backup\'s LOCK TABLES or FLUSH TABLES WITH READ LOCK, a long transaction'
              : 'probably a lock held by another session — a backup\'s LOCK TABLES or FLUSH TABLES WITH READ LOCK, a long transaction';
          waits.onWait?.(`waiting for the database (${seconds(waited)} so far): ${why}; giving up after ${seconds(waits.timeoutMs)} (--timeout)`);
        }
        if (stallDue && !stalled) {
          // Still executing (or waiting on a lock, which the server ends itself): look again later.
          if (state === 'running' || state === 'lock') checkedUntil = Date.now() - oldest + waits.timeoutMs;
          else stall(Date.now() - oldest);
        }
      })
      .finally(() => (probing = false));
  }, 250);
  timer.unref();
  return () => clearInterval(timer);
}

const PROBE_TIMEOUT_MS = 5_000;

/** Server thread ids of the pool connections running the statements in flight since `since`. */
function threadsOf(knex: Knex, inFlight: Map<string, { at: number; conn?: string }>, since: number): number[] {
  const uids = new Set([...inFlight.values()].filter((q) => q.at <= since + 1).map((q) => q.conn));
  const pool = (knex.client as { pool?: { used?: Array<{ resource?: { __knexUid?: string; threadId?: number } }> } }).pool;
  const ids: number[] = [];
  for (const r of pool?.used ?? []) if (r.resource?.__knexUid && uids.has(r.resource.__knexUid) && Number.isInteger(r.resource.threadId)) ids.push(r.resource.threadId!);
  return ids;
}

/**
 * What the server says those sessions are doing, asked on a new connection outside the pool:
 * 'running' (executing a statement), 'lock' (waiting for a lock), or 'unknown' — no answer within
 * `timeoutMs` (the server or the path to it is hung), the sessions idle or gone (the answer was
 * lost on the way), or nothing to ask about (SQLite).
 */
async function serverSays(knex: Knex, threads: number[], timeoutMs: number): Promise<'running' | 'lock' | 'unknown'> {
  if (!threads.length || (knex.client as { dialect?: string }).dialect !== 'mysql') return 'unknown';
  const client = knex.client as { acquireRawConnection(): Promise<RawConn>; destroyRawConnection(c: RawConn): Promise<void> };
  let conn: RawConn | undefined;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'unknown'>((r) => {
    timer = setTimeout(() => r('unknown'), timeoutMs);
    timer.unref();
  });
  const ask = (async (): Promise<'running' | 'lock' | 'unknown'> => {
    conn = await client.acquireRawConnection();
    const rows = await new Promise<Array<{ COMMAND: string; STATE: string | null }>>((res, rej) =>
      conn!.query(`SELECT COMMAND, STATE FROM information_schema.PROCESSLIST WHERE ID IN (${threads.map(Number).join(',')})`, (err, r) => (err ? rej(err) : res(r as never))),
    );
    const busy = rows.filter((r) => r.COMMAND !== 'Sleep' && r.COMMAND !== 'Killed');
    if (!busy.length) return 'unknown';
    return busy.some((r) => /lock/i.test(r.STATE ?? '')) ? 'lock' : 'running';
  })().catch(() => 'unknown' as const);
  try {
    return await Promise.race([ask, late]);
  } finally {
    clearTimeout(timer);
    const c = conn;
    if (c) void client.destroyRawConnection(c).catch(() => {});
    else void ask.then(() => conn && client.destroyRawConnection(conn).catch(() => {}));
  }
}

interface RawConn {
  query(sql: string, cb: (err: Error | null, rows: unknown) => void): void;
}

async function openSqlite(t: SqliteTarget, timeoutMs: number): Promise<Knex> {
  const { existsSync } = await import('node:fs');
  if (!t.create && !existsSync(t.file)) {
    throw new DatabaseError(`SQLite database ${t.file} does not exist — check the path, or create a sandbox with \`whmcs-2fa sandbox <dir>\``);
  }
  const { default: knexFactory } = await import('knex');
  const { sqliteClientConfig } = await import('./sqlite-driver.js');
  const config = await sqliteClientConfig(knexFactory, {
    log: SILENT_LOG,
    ...NO_VALUES_IN_ERRORS,
    connection: { filename: t.file },
    useNullAsDefault: true,
    pool: {
      // The busy timeout makes a concurrent run wait for the writer instead of failing.
      afterCreate(conn: { pragma(s: string): unknown }, done: (err: Error | null, c: unknown) => void) {
        try {
          conn.pragma(`busy_timeout = ${Math.max(1, Math.round(timeoutMs))}`);
          conn.pragma('foreign_keys = ON');
          done(null, conn);
        } catch (e) {
          done(e as Error, conn);
        }
      },
    },
  });
  return knexFactory(config);
}

/**
 * Where and as whom mysql2 connects, for the pool and for the plain connections beside it (the
 * database clock): a socket path wins over host and port, as in WHMCS's configuration.
 */
export function mysqlAddress(t: MysqlTarget) {
  return {
    host: t.socketPath ? undefined : t.host ?? 'localhost',
    port: t.socketPath ? undefined : t.port ?? 3306,
    socketPath: t.socketPath,
    user: t.user,
    password: t.password ?? '',
    database: t.database,
    ssl: t.ssl as never,
  };
}

async function openMysql(t: MysqlTarget, timeoutMs: number): Promise<Knex> {
  const { default: knexFactory } = await import('knex');
  const timeout = t.connectTimeoutMs ?? Math.min(timeoutMs, MAX_CONNECT_MS);
  // Whole seconds, at least 1: what both variables accept on MySQL and MariaDB.
  const lockWait = Math.max(1, Math.ceil(timeoutMs / 1000));
  const sqlMode = t.sqlMode ?? '';
  return knexFactory({
    client: 'mysql2',
    log: SILENT_LOG,
    ...NO_VALUES_IN_ERRORS,
    connection: {
      ...mysqlAddress(t),
      charset: mysqlCharset(t.charset),
      connectTimeout: timeout,
      // Dates are compared and journalled as the strings MySQL stores, not shifted into JS time zones.
      dateStrings: true,
      supportBigNumbers: true,
    },
    // knex would ask every new connection for `select version()`; only its DDL compiler uses
    // the answer, and whmcs-2fa runs no DDL against a WHMCS database.
    version: 'latest',
    acquireConnectionTimeout: timeout + 1000,
    pool: {
      min: 0,
      // Room for the parallel range scans of status-style aggregates (see parallel-count.ts).
      max: 4,
      // WHMCS runs with sql_mode='' (zero dates, NOT NULL columns without defaults): match it.
      // Never NO_BACKSLASH_ESCAPES (sessionSqlMode drops it): mysql2 escapes values with backslashes
      // on the client, so a server that still reports the mode (a proxy's own settings) is refused.
      afterCreate(conn: { query(sql: string, params: unknown[], cb: (err: Error | null, res?: unknown) => void): void }, done: (err: Error | null, c: unknown) => void) {
        // One statement for all three, so a new connection costs no extra round trip.
        conn.query('SET SESSION sql_mode = ?, lock_wait_timeout = ?, innodb_lock_wait_timeout = ?', [sqlMode, lockWait, lockWait], (err, res) => {
          const status = Number((res as { serverStatus?: unknown } | undefined)?.serverStatus ?? 0);
          if (!err && status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) {
            err = new DatabaseError(`the server still runs this session with sql_mode NO_BACKSLASH_ESCAPES after it was turned off — values would be stored with stray backslashes; check a proxy or init_connect between whmcs-2fa and the server`);
          }
          done(err, conn);
        });
      },
    },
  });
}

/** The server's status flag: string literals are read without backslash escapes. */
const SERVER_STATUS_NO_BACKSLASH_ESCAPES = 0x200;

/** WHMCS's `utf8` means MySQL's 3-byte utf8; utf8mb4 is a superset, so reading with it is lossless. */
function mysqlCharset(cs: string | undefined): string {
  const c = (cs ?? 'utf8').toLowerCase();
  if (c === 'utf8' || c === 'utf8mb3') return 'UTF8MB4_UNICODE_CI';
  if (c === 'utf8mb4') return 'UTF8MB4_UNICODE_CI';
  return c.toUpperCase() + '_GENERAL_CI';
}

interface DriverError {
  code?: string;
  errno?: number;
  message?: string;
  name?: string;
}

/** One line that says what went wrong and what to do; never includes the password. */
export function explainDbError(e: unknown, target: DbTarget): CliError {
  if (e instanceof CliError) return e;
  const err = (e ?? {}) as DriverError;
  const where = describeTarget(target);
  const code = err.code ?? '';
  if (target.kind === 'sqlite') {
    return new DatabaseError(`cannot open SQLite database ${target.file}: ${firstLine(withoutStatement(err.message))}`);
  }
  switch (code) {
    case 'ECONNREFUSED':
      return new DatabaseError(`cannot connect to ${where}: connection refused — is MySQL/MariaDB running and listening there?`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new DatabaseError(`cannot connect to ${where}: host name not found — check $db_host or the --db URL`);
    case 'ETIMEDOUT':
      return new TimeoutError(`cannot connect to ${where}: no answer within ${seconds(connectMs(target))} — check the host, port and firewall (or the SSH tunnel)`);
    case 'ECONNRESET':
      return new DatabaseError(`cannot connect to ${where}: the connection was reset — check the host, port and firewall (or the SSH tunnel)`);
    case 'ENOENT':
      return new DatabaseError(`cannot connect to ${where}: socket file not found — check the socket path`);
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR':
      return new DatabaseError(`access denied for ${where} — check the database user name and password`);
    case 'ER_BAD_DB_ERROR':
      return new DatabaseError(`database "${target.database}" does not exist on ${where.replace(/\/[^/]*$/, '')} — check $db_name or the --db URL`);
    case 'ER_DBACCESS_DENIED_ERROR':
      return new DatabaseError(`user "${target.user}" may not use database "${target.database}" — grant it access or use WHMCS's own database user`);
    case 'HANDSHAKE_SSL_ERROR':
    case 'HANDSHAKE_NO_SSL_SUPPORT':
      return new DatabaseError(`TLS handshake with ${where} failed: ${firstLine(err.message)} — check the $db_tls_* settings`);
  }
  if (err.name === 'KnexTimeoutError') {
    return new TimeoutError(`cannot connect to ${where}: no answer within ${seconds(connectMs(target))} — check the host, port and firewall (or the SSH tunnel)`);
  }
  return new DatabaseError(`database error on ${where}: ${firstLine(withoutStatement(err.message))}`);
}

function connectMs(t: DbTarget): number {
  return t.kind === 'mysql' ? t.connectTimeoutMs ?? Math.min(runTimeoutMs, MAX_CONNECT_MS) : runTimeoutMs;
}

/** Lock waits, deadlocks and statement timeouts: the run was blocked, not broken (exit 7). */
function blockedError(code: string, errno: number | undefined, outcome: string | undefined): TimeoutError | null {
  const then = outcome ? ` — ${outcome}` : '';
  if (code === 'ER_LOCK_WAIT_TIMEOUT' || errno === 1205 || code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return new TimeoutError(
      `timed out after ${seconds(runTimeoutMs)} waiting for a lock another session holds (a backup's LOCK TABLES or FLUSH TABLES WITH READ LOCK, a long transaction, another whmcs-2fa)${then}; try again when it is done, or raise --timeout`,
    );
  }
  if (code === 'ER_LOCK_DEADLOCK' || errno === 1213) {
    return new TimeoutError(`deadlock: another session wanted the same rows at the same moment and the database stopped this run${then}; run the command again`);
  }
  if (code === 'ER_STATEMENT_TIMEOUT' || errno === 1969 || code === 'ER_QUERY_TIMEOUT' || errno === 3024) {
    return new TimeoutError(`timed out: the database stopped a statement at its max_statement_time${then}; try again, or raise the server's limit`);
  }
  return null;
}

const ACCESS_DENIED = new Set([
  'ER_TABLEACCESS_DENIED_ERROR',
  'ER_COLUMNACCESS_DENIED_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'ER_SPECIFIC_ACCESS_DENIED_ERROR',
  'ER_OPTION_PREVENTS_STATEMENT',
  'SQLITE_READONLY',
]);
const CONNECTION_LOST = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE', 'ER_CONNECTION_KILLED', 'ER_SERVER_SHUTDOWN', 'ER_QUERY_INTERRUPTED']);

/**
 * A driver error from a query (after connecting) as one line with exit 5: the server's own words,
 * never the statement. Anything that is not a driver error is returned unchanged. `outcome` says
 * what the failure left behind ("nothing was written" when a transaction rolled back).
 */
export function queryError(e: unknown, outcome?: string): unknown {
  if (e instanceof CliError || !e || typeof e !== 'object') return e;
  const err = e as DriverError & { sqlMessage?: unknown; fatal?: unknown };
  // A further connection (the pool opens more while a run works) got no answer in time.
  if (err.code === 'ETIMEDOUT' || err.name === 'KnexTimeoutError') {
    return new TimeoutError(
      `timed out: the database did not answer a new connection within ${seconds(Math.min(runTimeoutMs, MAX_CONNECT_MS))} — the server or the connection to it (an SSH tunnel?) is hung${outcome ? ` — ${outcome}` : ''}`,
    );
  }
  // mysql2 marks errors that leave the connection unusable as fatal, some without a code.
  const lost = CONNECTION_LOST.has(String(err.code ?? '')) || err.fatal === true;
  const code = typeof err.code === 'string' ? err.code : '';
  if (typeof err.sqlMessage !== 'string' && !/^(ER_|SQLITE_)/.test(code) && !lost) return e;
  const blocked = blockedError(code, err.errno, outcome);
  if (blocked) return blocked;
  const message = typeof err.sqlMessage === 'string' ? err.sqlMessage : withoutStatement(err.message);
  const hint = ACCESS_DENIED.has(code)
    ? "the database user lacks a privilege whmcs-2fa needs (SELECT, INSERT, UPDATE and DELETE on WHMCS's tables) — use WHMCS's own database user from configuration.php"
    : lost
      ? 'the connection to the database was lost'
      : '';
  return new DatabaseError(`database error: ${firstLine(message)}${outcome ? ` — ${outcome}` : ''}${hint ? `; ${hint}` : ''}`);
}

/** knex reports a failed query as "<statement> - <driver message>": the driver's part. */
function withoutStatement(message: string | undefined): string {
  const full = message ?? '';
  const cut = full.lastIndexOf(' - ');
  return cut < 0 ? full : full.slice(cut + 3);
}

function firstLine(s: string | undefined): string {
  return (s ?? 'unknown error').split('\n')[0]!.slice(0, 300);
}
