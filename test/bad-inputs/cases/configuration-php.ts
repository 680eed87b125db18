import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { configPhp, mysqlUser, whmcsDirWith, type BadInput, type CaseEnv } from '../harness.js';
import { mysqlServer } from '../../helpers/db.js';

const status = (dir: string) => ['--whmcs-dir', dir, 'status'];
/** Status with this configuration.php content. */
const withConfig = (content: (e: CaseEnv) => string | Buffer) => (e: CaseEnv) => status(whmcsDirWith(e, content(e)));
/** Status must have reached this case's database. */
const reached = (e: CaseEnv) => e.dbName;
const hexEscaped = (s: string) => [...s].map((c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
const connected = /"database":\s*\{\s*"label": "[^"]*(whmcs2fa_test_|whmcs\.sqlite)/;

/** A password full of PHP's quoting hazards, and how each string syntax spells it. */
const HAZARD = `pa"ss'w$rd\\x{41}`;
const HAZARD_DQ = `"pa\\"ss'w\\$rd\\\\x{41}"`;
const HAZARD_SQ = `'pa"ss\\'w$rd\\\\x{41}'`;

export const configurationPhpCases: BadInput[] = [
  // --- valid but unusual: must work ---
  {
    name: 'double-quoted values with escapes (\\x5f for _) connect',
    args: withConfig((e) =>
      configPhp(e, {
        db_name: `"${reached(e).replace(/_/g, '\\x5f')}"`,
        cc_encryption_hash: `"${e.t.ccHash}"`,
        ...(e.backend === 'sqlite' ? { whmcs_2fa_sqlite: `"${e.dbName.replace(/\//g, '\\x2f')}"` } : { db_host: `"${hexEscaped(mysqlServer().host!)}"` }),
      }),
    ),
    exit: 0,
    expect: { ok: connected },
  },
  {
    name: 'a password with quotes, $ and backslashes, double-quoted, logs in',
    backends: ['mysql'],
    setup: async (e) => {
      e.vars.user = await mysqlUser(e, HAZARD, 'SELECT');
    },
    args: withConfig((e) => configPhp(e, { db_username: `'${e.vars.user}'`, db_password: HAZARD_DQ })),
    exit: 0,
    expect: { ok: connected },
    forbid: () => [HAZARD],
  },
  {
    name: 'the same password single-quoted logs in',
    backends: ['mysql'],
    setup: async (e) => {
      e.vars.user = await mysqlUser(e, HAZARD, 'SELECT');
    },
    args: withConfig((e) => configPhp(e, { db_username: `'${e.vars.user}'`, db_password: HAZARD_SQ })),
    exit: 0,
    expect: { ok: connected },
    forbid: () => [HAZARD],
  },
  {
    name: 'a UTF-8 byte order mark before <?php is fine',
    args: withConfig((e) => configPhp(e, {}, { prefix: '\ufeff' })),
    exit: 0,
    expect: { ok: connected },
  },
  {
    name: '?> followed by trailing HTML is fine',
    args: withConfig((e) => configPhp(e, {}, { suffix: '?>\n<html><body>maintenance</body></html>\n' })),
    exit: 0,
    expect: { ok: connected },
  },
  {
    name: 'a nowdoc value and comments between statements are fine',
    args: withConfig((e) => configPhp(e, { cc_encryption_hash: `<<<'EOT'\n${e.t.ccHash}\nEOT` }, { suffix: '/* end */ # done\n// really\n' })),
    exit: 0,
    expect: { ok: connected },
  },
  // --- missing or empty variables ---
  {
    name: 'missing $db_name',
    args: withConfig((e) => configPhp(e, { db_name: null })),
    exit: 1,
    expect: { error: /configuration\.php does not set \$db_name — / },
  },
  {
    name: 'missing $db_password and $cc_encryption_hash, named together',
    args: withConfig((e) => configPhp(e, { db_password: null, cc_encryption_hash: null })),
    exit: 1,
    expect: { error: /does not set \$db_password, \$cc_encryption_hash/ },
  },
  {
    name: 'empty $cc_encryption_hash',
    args: withConfig((e) => configPhp(e, { cc_encryption_hash: "''" })),
    exit: 1,
    expect: { error: /\$cc_encryption_hash is empty — fill it in configuration\.php/ },
  },
  {
    name: 'configuration.sample.php (return; before the variables)',
    args: withConfig((e) => configPhp(e, {}, { open: '<?php\nreturn;\n' })),
    exit: 1,
    expect: { error: /stops at `return` on line 2 before setting \$db_host/ },
  },
  // --- anything dynamic is refused, naming the variable ---
  {
    name: 'concatenation',
    args: withConfig((e) => configPhp(e, { db_password: "'se' . 'cret'" })),
    exit: 1,
    expect: { error: /line \d+: \$db_password is not a plain literal \(concatenation\)/ },
  },
  {
    name: 'double quotes interpolating a variable',
    args: withConfig((e) => configPhp(e, { db_password: '"p$suffix"' })),
    exit: 1,
    expect: { error: /\$db_password is not a plain literal \(interpolates \$suffix\)/ },
  },
  {
    name: 'a constant',
    args: withConfig((e) => configPhp(e, { db_host: 'DB_HOST' })),
    exit: 1,
    expect: { error: /\$db_host is not a plain literal \(constant DB_HOST\)/ },
  },
  {
    name: 'a function call (getenv)',
    args: withConfig((e) => configPhp(e, { db_password: "getenv('WHMCS_DB_PASS')" })),
    exit: 1,
    expect: { error: /\$db_password is not a plain literal \(function call getenv\(\)\)/ },
  },
  {
    name: 'another variable',
    args: withConfig((e) => configPhp(e, { db_username: '$user' })),
    exit: 1,
    expect: { error: /\$db_username is not a plain literal \(uses variable \$user\)/ },
  },
  {
    name: 'backticks (a shell command)',
    args: withConfig((e) => configPhp(e, { db_password: '`cat /etc/whmcs-pass`' })),
    exit: 1,
    expect: { error: /backticks run a shell command/ },
  },
  {
    name: 'include of another file',
    args: withConfig((e) => configPhp(e, {}, { suffix: "include __DIR__ . '/secrets.php';\n" })),
    exit: 1,
    expect: { error: /include of another file is not supported/ },
  },
  // --- syntax errors ---
  {
    name: 'an unterminated string',
    args: withConfig((e) => configPhp(e, {}, { suffix: "$db_extra = 'oops;\n" })),
    exit: 1,
    expect: { error: /PHP syntax error: unterminated single-quoted string — PHP cannot load this file either/ },
  },
  {
    name: 'a missing semicolon',
    args: withConfig((e) => configPhp(e, { db_name: "'x' $db_tail = 1" })),
    exit: 1,
    expect: { error: /PHP syntax error: unexpected variable \$db_tail, expecting ';'/ },
  },
  {
    name: 'an unterminated heredoc',
    args: withConfig((e) => configPhp(e, {}, { suffix: '$notes = <<<EOT\nnever closed\n' })),
    exit: 1,
    expect: { error: /PHP syntax error/ },
  },
  {
    name: 'a syntax error after ?> … <?php',
    args: withConfig((e) => configPhp(e, {}, { suffix: '?>\ntext\n<?php $x = ;\n' })),
    exit: 1,
    expect: { error: /PHP syntax error/ },
  },
  {
    name: 'no <?php open tag',
    args: withConfig((e) => configPhp(e, {}, { open: '' })),
    exit: 1,
    expect: { error: /no <\?php open tag — this is not a PHP configuration file/ },
  },
  {
    name: 'an empty file',
    args: withConfig(() => ''),
    exit: 1,
    expect: { error: /no <\?php open tag/ },
  },
  {
    name: 'a password that is not UTF-8',
    args: withConfig((e) => Buffer.concat([Buffer.from(configPhp(e, { db_password: null })), Buffer.from("$db_password = 'caf"), Buffer.from([0xe9]), Buffer.from("';\n")])),
    exit: 1,
    expect: { error: /\$db_password is not valid UTF-8/ },
  },
  // --- values that parse but cannot be right ---
  {
    name: 'a port out of range',
    args: withConfig((e) => configPhp(e, { db_port: "'70000'" })),
    exit: 1,
    expect: { error: /database port 70000 is out of range/ },
  },
  {
    name: 'a charset that is not a name (injection attempt)',
    args: withConfig((e) => configPhp(e, { mysql_charset: "'utf8; DROP TABLE tbladmins'" })),
    exit: 1,
    expect: { error: /\$mysql_charset 'utf8; DROP TABLE tbladmins' is not a MySQL character set name/ },
  },
  {
    name: 'a serialize limit that is not a number',
    args: withConfig((e) => configPhp(e, { serialize_input_max_length: "'lots'" })),
    exit: 1,
    expect: { error: /\$serialize_input_max_length must be a whole number/ },
  },
  // --- the file itself ---
  {
    name: 'configuration.php is a directory',
    args: (e) => {
      const dir = join(e.dir, 'isdir');
      mkdirSync(join(dir, 'configuration.php'), { recursive: true });
      return status(dir);
    },
    exit: 1,
    expect: { error: /cannot read .*configuration\.php: it is a directory, not a regular file/ },
  },
  {
    name: 'configuration.php is a dangling symlink',
    args: (e) => {
      const dir = join(e.dir, 'dangling');
      mkdirSync(dir);
      symlinkSync(join(e.dir, 'gone', 'configuration.php'), join(dir, 'configuration.php'));
      return status(dir);
    },
    exit: 2,
    expect: { error: /no configuration\.php in .*dangling — pass --whmcs-dir/ },
  },
  {
    name: 'configuration.php is a symlink loop',
    args: (e) => {
      const dir = join(e.dir, 'loop');
      mkdirSync(dir);
      symlinkSync(join(dir, 'configuration.php'), join(dir, 'configuration.php'));
      return status(dir);
    },
    exit: 1,
    expect: { error: /cannot read .*configuration\.php: ELOOP/ },
  },
  {
    name: 'no configuration.php anywhere up from the working directory',
    args: () => ['status'],
    cwd: (e) => {
      const d = join(e.dir, 'empty', 'deeper');
      mkdirSync(d, { recursive: true });
      return d;
    },
    exit: 2,
    expect: { error: /no WHMCS found: pass --whmcs-dir/ },
  },
];
