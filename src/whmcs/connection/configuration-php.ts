/**
 * WHMCS's configuration.php, read statically (see docs/data-model.md §5). WHMCS `include`s
 * the file, so it is PHP code; php-assignments.ts decodes its literal assignments exactly as
 * PHP would and refuses anything it would have to guess at.
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CliError, UsageError } from '../../errors.js';
import { parsePhpAssignments, type PhpLiteral } from '../php/php-assignments.js';
import { isFile } from './find-configuration-php.js';

export { findConfigurationPhp } from './find-configuration-php.js';

export { PhpConfigError, type ConfigErrorReason, type PhpLiteral, type PhpLiteralType } from '../php/php-assignments.js';

/** The configuration variables whmcs-2fa uses; a non-literal value for any of them is an error. */
export const CONFIG_VARIABLES = [
  'license',
  'db_host',
  'db_port',
  'db_username',
  'db_password',
  'db_name',
  'db_tls_ca',
  'db_tls_ca_path',
  'db_tls_cert',
  'db_tls_cipher',
  'db_tls_key',
  'db_tls_verify_cert',
  'mysql_charset',
  'cc_encryption_hash',
  'sql_mode',
  'serialize_input_max_length',
  'serialize_array_max_length',
  'serialize_array_max_depth',
] as const;

type ConfigVariable = (typeof CONFIG_VARIABLES)[number];

const STRICT: ReadonlySet<string> = new Set(CONFIG_VARIABLES);

/**
 * Typed view of configuration.php. Each known field is the variable's PHP string value
 * (`strval()`: numbers in PHP's notation, true → "1", false/null → ""), or undefined when the
 * file does not set it.
 */
export type WhmcsConfigFile = { [K in ConfigVariable]?: string } & {
  fileName: string;
  /** Every variable with a literal value, known or not, UTF-8 decoded (invalid bytes → U+FFFD). */
  vars: Record<string, string>;
  /** Exact bytes and PHP type of each of those values (e.g. for a non-UTF-8 `$cc_encryption_hash`). */
  literals: Record<string, PhpLiteral & { raw: Buffer }>;
  /** Other variables whose value is not a literal (arrays, constants…): not read, not needed. */
  skipped: Array<{ name: string; line: number; reason: string }>;
  /** Function-call statements that cannot set variables and were skipped. */
  ignoredCalls: Array<{ name: string; line: number }>;
  /** Line of a top-level `return;` (configuration.sample.php starts with one). */
  returnedAtLine?: number;
  /** Variables assigned after that `return`, which PHP never sets. */
  unreachable: string[];
  /** False when skipped code was only bracket-matched, so PHP might still reject the file. */
  fullyParsed: boolean;
};

/**
 * Parses configuration.php source. Throws PhpConfigError (a ParseError) naming the file and line
 * for PHP syntax errors and for non-literal values of the variables in CONFIG_VARIABLES.
 */
export function parseConfigurationPhp(source: string | Buffer, fileName = 'configuration.php'): WhmcsConfigFile {
  // PHP strings are bytes: tokenize one char per byte and decode values only at the end.
  const bytes = typeof source === 'string' ? Buffer.from(source, 'utf8') : source;
  const parsed = parsePhpAssignments(bytes.toString('latin1'), fileName, STRICT);
  const cfg: WhmcsConfigFile = {
    fileName,
    vars: Object.create(null) as Record<string, string>,
    literals: Object.create(null) as WhmcsConfigFile['literals'],
    skipped: [...parsed.nonLiteral].map(([name, v]) => ({ name, ...v })),
    ignoredCalls: parsed.ignoredCalls,
    unreachable: parsed.unreachable,
    fullyParsed: parsed.fullyParsed,
  };
  if (parsed.returnedAtLine !== undefined) cfg.returnedAtLine = parsed.returnedAtLine;
  for (const [name, lit] of parsed.literals) {
    // Variable names are bytes too (PHP allows any byte >= 0x80 in them).
    const key = Buffer.from(name, 'latin1').toString('utf8');
    const raw = Buffer.from(lit.bytes, 'latin1');
    cfg.vars[key] = raw.toString('utf8');
    cfg.literals[key] = { ...lit, raw };
    if (STRICT.has(key)) cfg[key as ConfigVariable] = cfg.vars[key];
  }
  return cfg;
}

/** Reads and parses `<dir>/configuration.php` (or the file itself when given a file). */
export function loadConfigurationPhp(dirOrFile: string): WhmcsConfigFile {
  const given = resolve(dirOrFile);
  const file = isFile(given) ? given : join(given, 'configuration.php');
  let source: Buffer;
  try {
    source = readRegularFile(file, CONFIGURATION_PHP_MAX_BYTES);
  } catch (e) {
    if (e instanceof CliError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new UsageError(`no configuration.php in ${dirname(file)} — pass --whmcs-dir <WHMCS root> or --db <url>`);
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new CliError(
        `cannot read ${file}: permission denied — run whmcs-2fa as a user that can read it (often the web server user) or pass --db <url>`,
      );
    }
    throw new CliError(`cannot read ${file}: ${(e as Error).message} — pass --whmcs-dir <WHMCS root> or --db <url>`);
  }
  return parseConfigurationPhp(source, file);
}

/** A real configuration.php is a few kilobytes; anything near this is not one. */
const CONFIGURATION_PHP_MAX_BYTES = 1 << 20;

/**
 * Reads a file that must be a regular file of bounded size. Opened without blocking and checked on
 * the open descriptor (no window between the check and the read): a FIFO would wait forever for a
 * writer, a link to /dev/zero or /dev/urandom never ends, and a huge file is read only up to the cap.
 */
function readRegularFile(file: string, maxBytes: number): Buffer {
  const fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      const what = st.isFIFO() ? 'a named pipe (FIFO)' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : st.isDirectory() ? 'a directory' : 'something else';
      throw new CliError(`cannot read ${file}: it is ${what}, not a regular file — point --whmcs-dir at the WHMCS root whose configuration.php is a plain file, or pass --db <url>`);
    }
    let buf = Buffer.alloc(Math.min(maxBytes + 1, Math.max(st.size + 1, 64 * 1024)));
    let length = 0;
    for (;;) {
      if (length === buf.length) {
        if (buf.length > maxBytes) break;
        buf = Buffer.concat([buf, Buffer.alloc(Math.min(buf.length, maxBytes + 1 - buf.length))]);
      }
      const n = readSync(fd, buf, length, buf.length - length, null);
      if (n === 0) break;
      length += n;
    }
    if (length > maxBytes) {
      throw new CliError(`cannot read ${file}: it is larger than ${maxBytes / (1 << 20)} MiB, which no WHMCS configuration.php is — check --whmcs-dir, or pass --db <url>`);
    }
    return buf.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}
