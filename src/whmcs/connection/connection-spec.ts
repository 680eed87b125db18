/**
 * Where the database is and how to talk to it, from either WHMCS's configuration.php (with the
 * quirks WHMCS applies to it, docs/data-model.md §5) or a `--db` URL.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError, ParseError, UsageError } from '../../errors.js';
import type { WhmcsConfigFile } from './configuration-php.js';
import { DEFAULT_SERIALIZE_LIMITS, type SerializeLimits } from './install.js';

/**
 * TLS settings as WHMCS's `$db_tls_*` give them: ca/capath/cert/key are *file paths* (PDO takes
 * paths); tlsOptionsForMysql2() turns them into what mysql2 wants. rejectUnauthorized undefined
 * means the driver's default.
 */
type TlsSpec = {
  ca?: string;
  capath?: string;
  cert?: string;
  key?: string;
  cipher?: string;
  rejectUnauthorized?: boolean;
};

export interface MysqlConnectionSpec {
  kind: 'mysql';
  host?: string;
  port?: number;
  socketPath?: string;
  user: string;
  /** undefined: not known yet, the caller prompts. */
  password?: string;
  database: string;
  /** `$mysql_charset` as written (WHMCS default `utf8`); the driver layer maps it to a collation. */
  charset: string;
  ssl?: TlsSpec;
  /** undefined: not known (a --db URL without $WHMCS_CC_ENCRYPTION_HASH), secrets cannot be decrypted. */
  ccEncryptionHash?: string;
  /** Session sql_mode WHMCS runs with: `$sql_mode`, default '' (non-strict). */
  sqlMode: string;
  /** Set only when configuration.php overrides a limit; otherwise the caller uses the defaults. */
  serializeLimits?: SerializeLimits;
  /** The URL itself carried a password (`user:pw@`), visible in the process list. */
  passwordOnCommandLine: boolean;
}

interface SqliteSpec {
  kind: 'sqlite';
  /** As written in the URL; relative paths are relative to the caller's cwd. */
  file: string;
  ccEncryptionHash?: string;
  passwordOnCommandLine: false;
}

type Env = Record<string, string | undefined>;

const REQUIRED = ['db_host', 'db_username', 'db_password', 'db_name', 'cc_encryption_hash'] as const;
// db_password may legitimately be '' (passwordless local accounts); the others may not.
const NON_EMPTY = ['db_host', 'db_username', 'db_name', 'cc_encryption_hash'] as const;

/** The MySQL connection WHMCS itself would open from this configuration.php. */
export function connectionFromConfig(cfg: WhmcsConfigFile): MysqlConnectionSpec {
  const file = cfg.fileName;
  const missing = REQUIRED.filter((n) => cfg.literals[n] === undefined);
  if (missing.length > 0) {
    const names = missing.map((n) => '$' + n).join(', ');
    if (cfg.returnedAtLine !== undefined) {
      throw new ParseError(
        `${file} stops at \`return\` on line ${cfg.returnedAtLine} before setting ${names} (like configuration.sample.php) — point --whmcs-dir at the real WHMCS configuration or pass --db <url>`,
      );
    }
    throw new ParseError(`${file} does not set ${names} — point --whmcs-dir at the WHMCS root whose configuration.php has them, or pass --db <url>`);
  }
  const empty = NON_EMPTY.filter((n) => cfg[n] === '');
  if (empty.length > 0) {
    throw new ParseError(`${file}: ${empty.map((n) => '$' + n).join(', ')} is empty — fill it in configuration.php or pass --db <url>`);
  }
  // Strings go to the driver and to the crypto as UTF-8: refuse values that would not survive that.
  for (const n of ['db_username', 'db_password', 'cc_encryption_hash'] as const) {
    const lit = cfg.literals[n];
    if (!Buffer.from(cfg[n]!, 'utf8').equals(lit.raw)) {
      throw new ParseError(`${file} line ${lit.line}: $${n} is not valid UTF-8 — save configuration.php as UTF-8 or pass --db <url>`);
    }
  }

  const spec: MysqlConnectionSpec = {
    kind: 'mysql',
    user: cfg.db_username!,
    password: cfg.db_password!,
    database: cfg.db_name!,
    charset: checkCharset(cfg.mysql_charset || 'utf8', () => new ParseError(`${file}: $mysql_charset '${cfg.mysql_charset}' is not a MySQL character set name — fix it in configuration.php`)),
    ccEncryptionHash: cfg.cc_encryption_hash!,
    sqlMode: sessionSqlMode(cfg.sql_mode ?? '', `${file}: $sql_mode`, (m) => new ParseError(m)),
    passwordOnCommandLine: false,
  };

  // WHMCS splits `host:port` only on exactly one colon, so bare IPv6 addresses stay whole, and
  // the port from $db_host only counts when $db_port is empty.
  let host = cfg.db_host!;
  let port = cfg.db_port ?? '';
  if (/^p:/i.test(host)) {
    throw new ParseError(
      `${file}: $db_host '${host}' starts with "p:", mysqli's persistent-connection prefix, which WHMCS's database layer (PDO) does not know: it would read host "p" and socket "${host.slice(2)}" — set $db_host = '${host.slice(2)}'`,
    );
  }
  // A bracketed IPv6 address with a port, "[::1]:3306": the address, and the port as for host:port.
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(host);
  if (v6) {
    host = v6[1]!;
    if (port === '') port = v6[2]!;
  } else if (host.split(':').length === 2) {
    const [h, p] = host.split(':');
    host = h;
    if (port === '') port = p;
  }
  if (host === '') throw new ParseError(`${file}: $db_host has no host name before the colon — fix it in configuration.php`);
  spec.host = /^\[.*\]$/.test(host) ? host.slice(1, -1) : host;
  if (/^\s*\d+\s*$/.test(port)) {
    const n = Number(port);
    if (n < 1 || n > 65535) throw new ParseError(`${file}: database port ${port.trim()} is out of range — fix $db_port/$db_host in configuration.php`);
    spec.port = n;
  } else if (port !== '') {
    // WHMCS passes a non-numeric port to PDO as unix_socket.
    spec.socketPath = port;
  }

  const tls: TlsSpec = {};
  if (cfg.db_tls_ca) tls.ca = cfg.db_tls_ca;
  if (cfg.db_tls_ca_path) tls.capath = cfg.db_tls_ca_path;
  if (cfg.db_tls_cert) tls.cert = cfg.db_tls_cert;
  if (cfg.db_tls_key) tls.key = cfg.db_tls_key;
  if (cfg.db_tls_cipher) tls.cipher = cfg.db_tls_cipher;
  const verify = cfg.literals.db_tls_verify_cert;
  // '' and null mean "not set"; otherwise PHP truthiness ('0' and false are false, 'false' is true).
  if (verify && verify.type !== 'null' && !(verify.type === 'string' && verify.bytes === '')) {
    tls.rejectUnauthorized = verify.bytes !== '' && verify.bytes !== '0';
  }
  // Only the file/cipher options or an explicit "verify" switch TLS on; "don't verify" alone does not.
  if (Object.keys(tls).some((k) => k !== 'rejectUnauthorized') || tls.rejectUnauthorized) spec.ssl = tls;

  const limits = {
    maxLength: limit(cfg, 'serialize_input_max_length'),
    maxArrayLength: limit(cfg, 'serialize_array_max_length'),
    maxDepth: limit(cfg, 'serialize_array_max_depth'),
  };
  if (Object.values(limits).some((v) => v !== undefined)) {
    spec.serializeLimits = {
      maxLength: limits.maxLength ?? DEFAULT_SERIALIZE_LIMITS.maxLength,
      maxArrayLength: limits.maxArrayLength ?? DEFAULT_SERIALIZE_LIMITS.maxArrayLength,
      maxDepth: limits.maxDepth ?? DEFAULT_SERIALIZE_LIMITS.maxDepth,
    };
  }
  return spec;
}

function limit(cfg: WhmcsConfigFile, name: 'serialize_input_max_length' | 'serialize_array_max_length' | 'serialize_array_max_depth'): number | undefined {
  const v = cfg[name];
  if (v === undefined || v === '') return undefined;
  if (!/^\s*\d+\s*$/.test(v)) throw new ParseError(`${cfg.fileName}: $${name} must be a whole number, not '${v}' — fix it in configuration.php`);
  return Number(v);
}

function checkCharset(cs: string, err: () => Error): string {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(cs)) throw err();
  return cs;
}

/**
 * Modes that change what a value becomes, so that what whmcs-2fa writes is not what WHMCS reads:
 * EMPTY_STRING_IS_NULL stores every '' (a cleared module, an empty backup code) as NULL; ORACLE
 * switches the server to another SQL dialect. Refused, naming the mode.
 */
const INCOMPATIBLE_SQL_MODES: Record<string, string> = {
  EMPTY_STRING_IS_NULL: "it stores every empty string as NULL, where WHMCS's 2FA data needs ''",
  ORACLE: 'it switches the server to its Oracle SQL dialect',
};

/**
 * The sql_mode whmcs-2fa's session runs with: WHMCS's own, minus NO_BACKSLASH_ESCAPES. The driver
 * escapes values on the client with backslashes (`"` → `\"`); under that mode the server keeps the
 * backslashes, and a serialized 2fasettings row stored that way no longer unserializes. How a
 * statement is escaped does not change the bytes stored, so the session simply runs without it.
 */
function sessionSqlMode(mode: string, where: string, error: (message: string) => CliError): string {
  const flags = mode.split(',').map((f) => f.trim()).filter((f) => f !== '');
  for (const f of flags) {
    if (!/^[A-Za-z0-9_]+$/.test(f)) throw error(`${where} '${mode}' is not a list of MySQL sql_mode names — fix it`);
    const why = INCOMPATIBLE_SQL_MODES[f.toUpperCase()];
    if (why) throw error(`${where} contains ${f.toUpperCase()}, which whmcs-2fa cannot write under: ${why} — remove it (WHMCS's default is '')`);
  }
  return flags.filter((f) => f.toUpperCase() !== 'NO_BACKSLASH_ESCAPES').join(',');
}

const URL_HELP = 'use mysql://user[:password]@host[:port]/database, mysql://user@localhost/database?socket=/path, or sqlite:<file>';
const PARAMS = ['charset', 'socket', 'ssl', 'ssl-ca', 'ssl-capath', 'ssl-cert', 'ssl-key', 'ssl-cipher', 'ssl-verify-server-cert', 'sql-mode'];

/**
 * A `--db` URL. The password comes from the URL, else $WHMCS_DB_PASSWORD, else stays undefined
 * for the caller to prompt; the key for encrypted secrets comes from $WHMCS_CC_ENCRYPTION_HASH.
 * Error messages never echo the URL, which may hold a password.
 */
export function parseDbUrl(url: string, env: Env): MysqlConnectionSpec | SqliteSpec {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):([\s\S]*)$/.exec(url);
  if (!m) throw new UsageError(`the database URL has no scheme — ${URL_HELP}`);
  const scheme = m[1].toLowerCase();
  const ccEncryptionHash = env.WHMCS_CC_ENCRYPTION_HASH || undefined;
  if (scheme === 'sqlite') return { kind: 'sqlite', file: sqliteFile(m[2]), ccEncryptionHash, passwordOnCommandLine: false };
  if (scheme !== 'mysql' && scheme !== 'mariadb') {
    throw new UsageError(`unknown database URL scheme '${m[1]}:' — ${URL_HELP}`);
  }
  return mysqlUrl(m[2], env, ccEncryptionHash);
}

function sqliteFile(rest: string): string {
  if (!rest.startsWith('//')) {
    if (rest === '') throw new UsageError(`sqlite: needs a file name — ${URL_HELP}`);
    return rest;
  }
  // sqlite:///abs/path (empty authority) or sqlite://localhost/abs/path, percent-encoded.
  const slash = rest.indexOf('/', 2);
  const authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
  if (slash < 0 || (authority !== '' && authority.toLowerCase() !== 'localhost')) {
    throw new UsageError('sqlite:// URLs need an absolute path (sqlite:///var/db/file.sqlite); for a relative path write sqlite:file.sqlite');
  }
  const path = decode(rest.slice(slash), 'SQLite path');
  if (path === '/') throw new UsageError(`sqlite: needs a file name — ${URL_HELP}`);
  return path;
}

function mysqlUrl(rest: string, env: Env, ccEncryptionHash: string | undefined): MysqlConnectionSpec {
  if (!rest.startsWith('//')) throw new UsageError(`a MySQL URL starts with mysql:// — ${URL_HELP}`);
  let s = rest.slice(2);
  // The authority ends at the first '/' (the database name, the socket path in the query follow it);
  // its last '@' ends the credentials, so an unencoded '@' in the password still works, and one in
  // the database name or a socket path (/run/user@1/…) is not taken for the end of a password.
  const slashAt = s.indexOf('/');
  const at = s.lastIndexOf('@', slashAt < 0 ? s.length : slashAt);
  if (at < 0) throw new UsageError(`the database URL has no user name — ${URL_HELP}`);
  const userinfo = s.slice(0, at);
  s = s.slice(at + 1);
  const colon = userinfo.indexOf(':');
  const user = decode(colon < 0 ? userinfo : userinfo.slice(0, colon), 'user name');
  const urlPassword = colon < 0 ? undefined : decode(userinfo.slice(colon + 1), 'password');
  if (user === '') throw new UsageError(`the database URL has no user name — ${URL_HELP}`);

  const q = s.indexOf('?');
  const query = q < 0 ? '' : s.slice(q + 1);
  if (q >= 0) s = s.slice(0, q);
  const slash = s.indexOf('/');
  const hostport = slash < 0 ? s : s.slice(0, slash);
  const path = slash < 0 ? '' : s.slice(slash + 1);
  const database = decode(path, 'database name');
  if (database === '') throw new UsageError(`the database URL has no database name (…/whmcs) — ${URL_HELP}`);
  if (database.includes('/')) throw new UsageError(`the database name in the URL contains '/' — ${URL_HELP}`);

  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]*)\](?::(.*))?$/.exec(hostport);
  if (v6) {
    host = v6[1];
    portText = v6[2];
  } else {
    const parts = hostport.split(':');
    if (parts.length > 2) throw new UsageError('put an IPv6 address in the database URL in brackets: mysql://user@[::1]:3306/whmcs');
    host = decode(parts[0], 'host');
    portText = parts[1];
  }
  let port: number | undefined;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) throw new UsageError(`the port in the database URL is not a number between 1 and 65535 — ${URL_HELP}`);
  }

  const params = queryParams(query);
  const spec: MysqlConnectionSpec = {
    kind: 'mysql',
    user,
    database,
    charset: checkCharset(params.get('charset') ?? 'utf8', () => new UsageError(`charset=${params.get('charset')} is not a MySQL character set name`)),
    sqlMode: sessionSqlMode(params.get('sql-mode') ?? '', 'sql-mode= in the database URL', (m) => new UsageError(m)),
    // Any `user:…@` form counts, even an empty one: the caller warns about the habit, not the value.
    passwordOnCommandLine: urlPassword !== undefined,
  };
  const password = urlPassword ?? env.WHMCS_DB_PASSWORD;
  if (password !== undefined) spec.password = password;
  if (ccEncryptionHash !== undefined) spec.ccEncryptionHash = ccEncryptionHash;

  const socket = params.get('socket');
  if (socket !== undefined) {
    if (socket === '') throw new UsageError('socket= in the database URL needs a path');
    if (port !== undefined) throw new UsageError('the database URL gives both a port and a socket — use one');
    spec.socketPath = socket;
    if (host !== '') spec.host = host;
  } else {
    if (host === '') throw new UsageError(`the database URL has no host — ${URL_HELP}`);
    spec.host = host;
    if (port !== undefined) spec.port = port;
  }

  const tls: TlsSpec = {};
  const map = { 'ssl-ca': 'ca', 'ssl-capath': 'capath', 'ssl-cert': 'cert', 'ssl-key': 'key', 'ssl-cipher': 'cipher' } as const;
  for (const [param, field] of Object.entries(map)) {
    const v = params.get(param);
    if (v !== undefined && v !== '') tls[field] = v;
  }
  const verify = params.get('ssl-verify-server-cert');
  if (verify !== undefined) tls.rejectUnauthorized = flag('ssl-verify-server-cert', verify);
  const sslOn = params.has('ssl') ? flag('ssl', params.get('ssl')!) : undefined;
  if (sslOn === false && Object.keys(tls).length > 0) throw new UsageError('the database URL says ssl=0 but also gives ssl-* options — drop one');
  if (sslOn || Object.keys(tls).some((k) => k !== 'rejectUnauthorized') || tls.rejectUnauthorized) spec.ssl = tls;
  return spec;
}

function queryParams(query: string): Map<string, string> {
  const params = new Map<string, string>();
  if (query === '') return params;
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = decode(eq < 0 ? part : part.slice(0, eq), 'query').toLowerCase().replace(/_/g, '-');
    const value = eq < 0 ? '' : decode(part.slice(eq + 1), key);
    if (!PARAMS.includes(key)) throw new UsageError(`unknown database URL option '${key}' — known: ${PARAMS.join(', ')}`);
    if (params.has(key)) throw new UsageError(`the database URL gives ${key}= twice`);
    params.set(key, value);
  }
  return params;
}

function flag(name: string, v: string): boolean {
  const s = v.toLowerCase();
  if (['', '1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off'].includes(s)) return false;
  throw new UsageError(`${name}=${v} in the database URL must be true or false`);
}

function decode(s: string, what: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new UsageError(`bad percent-encoding in the ${what} of the database URL — encode special characters as %XX (UTF-8)`);
  }
}

/** mysql2 `ssl` options from a TlsSpec: reads the PEM files (mysql2 wants contents, PDO wants paths). */
export function tlsOptionsForMysql2(tls: TlsSpec): Record<string, unknown> {
  const read = (path: string, what: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (e) {
      throw new CliError(`cannot read the TLS ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} — fix $db_tls_* or the ssl-* URL options`);
    }
  };
  const out: Record<string, unknown> = {};
  const cas: string[] = [];
  if (tls.ca) cas.push(read(tls.ca, 'CA file'));
  if (tls.capath) {
    // A CA directory (OpenSSL -CApath): take every file in it that holds a PEM certificate.
    let names: string[];
    try {
      names = readdirSync(tls.capath);
    } catch (e) {
      throw new CliError(`cannot read the TLS CA directory ${tls.capath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    for (const n of names.sort()) {
      let text: string;
      try {
        text = readFileSync(join(tls.capath, n), 'utf8');
      } catch {
        continue;
      }
      if (text.includes('-----BEGIN CERTIFICATE-----')) cas.push(text);
    }
  }
  if (cas.length > 0) out.ca = cas;
  if (tls.cert) out.cert = read(tls.cert, 'client certificate');
  if (tls.key) out.key = read(tls.key, 'client key');
  if (tls.cipher) out.ciphers = tls.cipher;
  if (tls.rejectUnauthorized !== undefined) out.rejectUnauthorized = tls.rejectUnauthorized;
  return out;
}
