import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CliError, ParseError, UsageError } from '../src/errors.js';
import {
  findConfigurationPhp,
  loadConfigurationPhp,
  parseConfigurationPhp,
  PhpConfigError,
  type WhmcsConfigFile,
} from '../src/whmcs/connection/configuration-php.js';
import { connectionFromConfig, parseDbUrl, tlsOptionsForMysql2 } from '../src/whmcs/connection/connection-spec.js';
import { describeTarget } from '../src/whmcs/connection/db.js';
import { phpFloatToString } from '../src/whmcs/php/php-literal.js';
import { describeWithPeer } from './helpers/peers.js';

// Tests run as root in CI, where chmod 000 does not stop a read: let one path fail like EACCES.
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const readFileSync = ((path: unknown, ...rest: unknown[]) => {
    if (String(path).includes('__eacces__')) throw Object.assign(new Error(`EACCES: permission denied, open '${String(path)}'`), { code: 'EACCES' });
    return (fs.readFileSync as (...a: unknown[]) => unknown)(path, ...rest);
  }) as typeof fs.readFileSync;
  const openSync = ((path: unknown, ...rest: unknown[]) => {
    if (String(path).includes('__eacces__')) throw Object.assign(new Error(`EACCES: permission denied, open '${String(path)}'`), { code: 'EACCES' });
    return (fs.openSync as (...a: unknown[]) => unknown)(path, ...rest);
  }) as typeof fs.openSync;
  return { ...fs, default: { ...fs, readFileSync, openSync }, readFileSync, openSync };
});

const INSTALLER_812 = `<?php
$license = 'WHMCS-0123456789abcdef';
$db_host = 'localhost';
$db_port = '';
$db_username = 'whmcs';
$db_password = 'p@ss\\'word\\\\';
$db_name = 'whmcs';
$db_tls_ca = '';
$db_tls_ca_path = '';
$db_tls_cert = '';
$db_tls_cipher = '';
$db_tls_key = '';
$db_tls_verify_cert = '';
$cc_encryption_hash = 'aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1eF3hJ5kL7nP9rS1uV3xY5zA7cD9fG1hJ3k';
$templates_compiledir = 'templates_c';
$mysql_charset = 'utf8';`;

const SAMPLE = `<?php
return;
/**
 * WHMCS sample configuration file
 */
$license = 'WHMCS-xxxxxxxx';
// Database connection
$db_host = 'localhost';
$db_username = '';
$db_password = '';
$db_name = '';
$cc_encryption_hash = 'randomly generated 64 chars';
`;

/** Tricky but valid files: PHP's own `include` must see exactly what the parser decodes. */
const CORPUS: Array<[name: string, source: string | Buffer]> = [
  ['installer 8.12', INSTALLER_812],
  ['installer 7.8 (no newline, no ?>)', "<?php\n$license = 'WHMCS-x';\n$db_host = 'db.example';\n$db_username = 'u';\n$db_password = '';\n$db_name = 'w';\n$cc_encryption_hash = 'abc';\n$templates_compiledir = 'templates_c';\n$mysql_charset = 'utf8';"],
  ['BOM and CRLF', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("<?php\r\n$db_host = 'h';\r\n$db_name = \"n\\r\\n\";\r\n")])],
  ['lone CR line endings', "<?php\r$a = 'x';\r# comment\r$b = 2;\r"],
  ['comments everywhere', "<?php\n/* block\n $a = 'no'; */ $a /* x */ = /* y */ 'yes' /* z */ ; // tail $a = 'no';\n# hash $b = 'no'\n$b = 'b'; /** doc */\n"],
  ['?> inside line comments ends PHP mode', "<?php\n$a = 1; // comment ?> output text $a = 2;\n<?php $b = 3; # again ?>more<?php $c = 4;"],
  ['closing tag with trailing output', "<?php\n$db_host = 'x';\n?>\n\nTrailing text <b>html</b>\n"],
  ['closing tag acts as ;', "<?php $a = 'v' ?>text<?PHP\n$b = 'w'?>"],
  ['open tag at EOF', '<?php'],
  ['open tag then tab', "<?php\t$a = 'tab';"],
  ['several statements per line', "<?php $a = 1; $b = '2'; $c = \"3\";;; $a = 'later wins';"],
  ['statements spanning lines', "<?php\n$db_password\n  =\n  'multi\nline'\n  ;\n$n =\n-\n5;"],
  ['single-quoted escapes', "<?php $a = 'a\\\\b\\'c\\d\\n\\x41\\\\'; $b = ''; $c = '\\\\\\\\';"],
  ['double-quoted escapes', '<?php $a = "\\x41\\101\\u{1F600}\\$x \\e\\v\\f\\t\\r\\n\\\\ \\" \\q \\u202e \\X4a \\x4 \\xZ \\0 \\7 \\400 \\`";'],
  ['dollar and braces that do not interpolate', '<?php $a = "cost $ 5 {x} { $ \\{$"; $b = "$"; $c = "{"; $d = "\\$var \\{$";'],
  ['unicode escapes', '<?php $a = "\\u{41}\\u{0000000042}\\u{e9}\\u{20AC}\\u{10FFFF}\\u{D800}"; $b = "\\u{0}";'],
  ['binary string prefix', "<?php $a = b'bin'; $b = B\"B\\x42\";"],
  ['raw bytes and UTF-8', Buffer.concat([Buffer.from("<?php $a = '"), Buffer.from([0xff, 0xfe, 0x00, 0x01]), Buffer.from("'; $b = 'héllo ✓'; $c = \"\\xff\\xc3\\xa9\";")])],
  ['non-ASCII variable names', '<?php $ñame = 1; $_x9 = 2; $Ünïcödé = "u";'],
  ['integers', '<?php $a = 0x1F; $b = 0X1f; $c = 017; $d = 0o17; $e = 0O17; $f = 0b101; $g = 0B11; $h = 1_000_000; $i = 0_7; $j = 0; $k = 00; $l = 0x0; $m = 0xDEAD_BEEF;'],
  ['integer limits', '<?php $a = 9223372036854775807; $b = 9223372036854775808; $c = -9223372036854775808; $d = 0xFFFFFFFFFFFFFFFF; $e = 0x7FFFFFFFFFFFFFFF; $f = 0777777777777777777777; $g = 0b1111111111111111111111111111111111111111111111111111111111111111; $h = 99999999999999999999999;'],
  ['floats', '<?php $a = 1.5; $b = .5; $c = 1.; $d = 1e3; $e = 1E-5; $f = 1.5e+3; $g = 08.5; $h = 1_0.2_5; $i = 0.1; $j = 1e15; $k = 1e14; $l = 123456789012345.0; $m = 0.0001; $n = 0.00001; $o = 1e999; $p = -1e999; $q = -0.0; $r = 2.5e-324; $s = 1.7976931348623157e308; $t = 100000000000000.5; $u = 0.30000000000000004; $v = 1.0e+25; $w = 5e-324; $x = 1234567.891;'],
  ['signs', '<?php $a = -1; $b = - 2; $c = +3; $d = - -4; $e = -+-5; $f = -0; $g = -0x10; $h = -1.5; $i = +.5;'],
  ['true false null', '<?php $a = true; $b = FALSE; $c = Null; $d = \\true; $e = TRUE; $f = null; $g = \\NULL;'],
  ['later assignments override', "<?php $db_host = 'first'; $db_host = 'second';\n$db_port = 3306; $db_port = '';"],
  ['heredoc', "<?php\n$a = <<<EOT\nline one\n  line \"two\" \\x41 \\$ \\\" \\\\\nEOT;\n$b = <<<\"Q\"\nq\nQ;\n$c = <<<EOT\nEOT;\n"],
  ['flexible heredoc indentation', "<?php\n$a = <<<EOT\n    four\n      six\n\n   \n    EOT;\n$b = <<<EOT\n\ttab\n\t\ttabs\n\tEOT;\n$c = <<<  X\n  X;\n"],
  ['nowdoc', "<?php\n$a = <<<'EOT'\nraw \\n $x {$y} \\\\\nEOT;\n$b = <<<'E'\n  indented\n   more\n  E;\n"],
  ['heredoc closing label followed by code', "<?php\n$a = <<<EOT\nbody\nEOTX\nEOT; $b = 'after';\n"],
  ['heredoc with CRLF', "<?php\r\n$a = <<<EOT\r\nx\r\ny\r\nEOT;\r\n$b = 1;\r\n"],
  ['heredoc escaped newline', '<?php\n$a = <<<EOT\na\\nb\\\nEOT;\n'],
  ['binary heredoc', "<?php $a = b<<<EOT\nx\nEOT;\n"],
  ['__halt_compiler', "<?php $a = 'x'; __halt_compiler(); garbage ' \" <?php $b = 'nope';"],
  ['sample file (return first)', SAMPLE],
  ['return after assignments', "<?php $a = 1; return; $b = 2;"],
  ['return with value', "<?php $a = 1; return ['x' => 1]; $b = 2;"],
  ['inline html before the open tag', "#!/usr/bin/env php\nsome text\n<?php $a = 'x';"],
  ['empty statements and close tags', '<?php ; ; ?><?php ;?>'],
  ['skipped function calls', "<?php date_default_timezone_set('UTC'); @ini_set('display_errors', '0'); \\error_reporting(E_ALL & ~E_NOTICE); $a = 'x';"],
];

const refused: Array<[string, RegExp]> = [
  ["<?php\n\n\n\n\n\n$db_password = 'a' . 'b';", /^configuration\.php line 7: \$db_password is not a plain literal \(concatenation\) — whmcs-2fa only reads literal values; write the value as a quoted string$/],
  ['<?php $db_host = DB_HOST;', /line 1: \$db_host is not a plain literal \(constant DB_HOST\)/],
  ["<?php $db_host = getenv('DB_HOST');", /\$db_host is not a plain literal \(function call getenv\(\)\)/],
  ['<?php $db_port = 3300 + 6;', /\$db_port is not a plain literal \(arithmetic\)/],
  ["<?php $db_name = ['a'];", /\$db_name is not a plain literal \(array\)/],
  ["<?php $db_name = array('a');", /\$db_name is not a plain literal \(array\)/],
  ['<?php $db_username = $user;', /\$db_username is not a plain literal \(uses variable \$user\)/],
  ['<?php $db_password = "pa$word";', /\$db_password is not a plain literal \(interpolates \$word\)/],
  ['<?php $db_password = "pa{$w}";', /\$db_password is not a plain literal \(interpolates \$w\)/],
  ['<?php $db_password = "pa${w}";', /\$db_password is not a plain literal \(interpolates/],
  ['<?php $db_password = <<<EOT\n$x\nEOT;\n', /\$db_password is not a plain literal \(interpolates \$x\)/],
  ["<?php $db_password = 'a' ?? 'b';", /\(conditional expression\)/],
  ["<?php $db_password .= 'x';", /\(compound assignment \.=\)/],
  ['<?php $db_password = &$x;', /\(reference to another variable\)/],
  ["<?php $db_password = -'5';", /\(arithmetic\)/],
  ['<?php $db_password = Foo::BAR;', /\(class constant Foo::…\)/],
  ["<?php $db_host =\n 'a'\n . 'b';", /line 1: \$db_host/],
  ["<?php $other = 'a' . $b;", /\$other is not a plain literal \(uses variable \$b\)/],
  ["<?php $other = foo($db_password);", /\$other is not a plain literal \(uses variable \$db_password\)/],
  ["<?php $other = extract(['db_host' => 'x']);", /\$other is not a plain literal \(function call extract\(\)\)|uses extract/],
  ["<?php $other = include 'x.php';", /\$other is not a plain literal \(uses include\)/],
  ['<?php $other = "$x";', /\$other is not a plain literal \(interpolates \$x\)/],
  ["<?php $other = [$db_host = 'x'];", /uses variable \$db_host/],
];

const unsupported: Array<[string, RegExp]> = [
  ["<?php include '/secret/db.php';", /line 1: include of another file is not supported/],
  ["<?php require_once('x.php');", /require_once of another file/],
  ["<?php if (true) { $db_host = 'x'; }", /unsupported PHP statement 'if'/],
  ["<?php $GLOBALS['db_host'] = 'x';", /unsupported PHP statement starting with \$GLOBALS/],
  ["<?php ${'db_host'} = 'x';", /unsupported PHP statement starting with '\$'/],
  ['<?php unset($db_port);', /unsupported PHP statement 'unset'/],
  ['<?php extract($a);', /extract\(\) can set variables/],
  ['<?php foo($db_host);', /function call statement foo\(\) uses variable \$db_host/],
  ["<?php define('X', 1); parse_str('db_host=x');", /parse_str\(\) can set variables/],
  ['<?php $a = `id`;', /backticks run a shell command/],
  ["<?php #[Attr]\n$a = 1;", /#\[ starts a PHP 8 attribute/],
  ["<? $a = 'x';", /short open tag/],
  ["<?= 'x' ?>", /<\?= echo tag/],
  ["<?php$a = 'x';", /short open tag/],
  ['just text, no PHP', /no <\?php open tag/],
  ['', /no <\?php open tag/],
];

const syntax: Array<[string, RegExp]> = [
  ["<?php\n$a = 'x'", /line 2: PHP syntax error: unexpected end of file, expecting ';'/],
  ["<?php $a = 'x' 'y';", /unexpected string/],
  ['<?php $a = ;', /unexpected ';'/],
  ["<?php\n$a = 'x;", /line 2: PHP syntax error: unterminated single-quoted string/],
  ['<?php $a = "x;', /unterminated double-quoted string/],
  ['<?php /* open', /unterminated \/\* comment/],
  ['<?php $a = 08;', /invalid numeric literal 08/],
  ['<?php $a = 0_9;', /invalid numeric literal/],
  ['<?php $a = "\\u{}";', /invalid UTF-8 codepoint escape/],
  ['<?php $a = "\\u{110000}";', /codepoint too large/],
  ['<?php $a = "\\u{12";', /invalid UTF-8 codepoint escape/],
  ['<?php $a = <<<EOT\nx\n', /unterminated heredoc/],
  ['<?php $a = <<<EOT\n  x\n y\n  EOT;', /invalid heredoc body indentation/],
  ['<?php $a = <<<EOT\n \tx\n \tEOT;', /tabs and spaces cannot be mixed/],
  ['<?php $this = 1;', /cannot re-assign \$this/],
  ['<?php $GLOBALS .= 1;', /cannot re-assign \$GLOBALS/],
  ['<?php $a = 1\f;', /unexpected character 0x0C/],
  ['<?php $a = ?>', /unexpected '\?>'/],
];

/** A PHP include of each file, in one process: [gettype, hex(strval)] per variable. */
function phpInclude(files: string[]): Array<Record<string, [string, string]> | { error: string }> {
  const code = `
    $files = json_decode(stream_get_contents(STDIN), true);
    $out = [];
    foreach ($files as $f) {
      $out[] = (function () {
        ob_start();
        try {
          include func_get_arg(0);
          $vars = get_defined_vars();
          $r = [];
          foreach ($vars as $k => $v) { $r[$k] = [gettype($v), is_array($v) ? '' : bin2hex(strval($v))]; }
        } catch (Throwable $e) { $r = ['error' => get_class($e) . ': ' . $e->getMessage()]; }
        ob_end_clean();
        return $r;
      })($f);
    }
    echo json_encode($out, JSON_INVALID_UTF8_SUBSTITUTE);`;
  const stdout = execFileSync('php', ['-d', 'precision=14', '-d', 'display_errors=stderr', '-d', 'error_reporting=E_ALL & ~E_WARNING & ~E_COMPILE_WARNING', '-r', code], {
    input: JSON.stringify(files),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return JSON.parse(stdout.toString('utf8'));
}

const PHP_TYPE = { string: 'string', int: 'integer', float: 'double', bool: 'boolean', null: 'NULL' } as const;

function ours(cfg: WhmcsConfigFile): Record<string, [string, string]> {
  const r: Record<string, [string, string]> = {};
  for (const [k, lit] of Object.entries(cfg.literals)) r[k] = [PHP_TYPE[lit.type], lit.raw.toString('hex')];
  return r;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'whmcs-2fa-confphp-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseConfigurationPhp', () => {
  it('reads an installer-written file into the typed view', () => {
    const cfg = parseConfigurationPhp(INSTALLER_812);
    expect(cfg.db_host).toBe('localhost');
    expect(cfg.db_password).toBe("p@ss'word\\");
    expect(cfg.db_port).toBe('');
    expect(cfg.mysql_charset).toBe('utf8');
    expect(cfg.cc_encryption_hash).toHaveLength(64);
    expect(cfg.vars.templates_compiledir).toBe('templates_c');
    expect(cfg.sql_mode).toBeUndefined();
    expect(cfg.literals.db_password.line).toBe(6);
    expect(cfg.skipped).toEqual([]);
  });

  it('stores numbers and constants as their PHP strings', () => {
    const cfg = parseConfigurationPhp('<?php $db_port = 3307; $a = 1.0; $b = true; $c = false; $d = null; $e = 0x10; $f = 1e20;');
    expect(cfg.db_port).toBe('3307');
    expect(cfg.vars).toMatchObject({ a: '1', b: '1', c: '', d: '', e: '16', f: '1.0E+20' });
    expect(cfg.literals.b.type).toBe('bool');
    expect(cfg.literals.d.type).toBe('null');
  });

  it('treats everything after a top-level return as never run', () => {
    const cfg = parseConfigurationPhp(SAMPLE);
    expect(cfg.vars).toEqual({});
    expect(cfg.returnedAtLine).toBe(2);
    expect(cfg.unreachable).toContain('db_host');
    expect(() => connectionFromConfig(cfg)).toThrow(/stops at `return` on line 2 before setting \$db_host.*configuration\.sample\.php/);
  });

  it('still reports syntax errors after return, since PHP compiles the whole file', () => {
    expect(() => parseConfigurationPhp("<?php return;\n$a = 'open;")).toThrow(/line 2: PHP syntax error: unterminated single-quoted string/);
    expect(() => parseConfigurationPhp("<?php return; $other = FOO . 'x'; foo(); $c = 'x';")).not.toThrow();
    // Code after return is held to the same rules: a file PHP may reject must not pass.
    expect(() => parseConfigurationPhp('<?php return; $a = $b;')).toThrow(/\$a is not a plain literal \(uses variable \$b\)/);
    expect(() => parseConfigurationPhp("<?php return; $db_host = FOO . 'x';")).toThrow(/\$db_host is not a plain literal \(constant FOO\)/);
    expect(() => parseConfigurationPhp('<?php return $x;')).toThrow(/return statement uses variable \$x/);
  });

  it('accepts Buffers and strings alike and keeps exact bytes', () => {
    const latin1 = Buffer.concat([Buffer.from(INSTALLER_812 + "\n$db_password = '"), Buffer.from([0xe9]), Buffer.from("';")]);
    const cfg = parseConfigurationPhp(latin1);
    expect(cfg.literals.db_password.raw).toEqual(Buffer.from([0xe9]));
    expect(cfg.db_password).toBe('\ufffd');
    expect(parseConfigurationPhp(INSTALLER_812)).toEqual(parseConfigurationPhp(Buffer.from(INSTALLER_812)));
    // A latin1-saved password would reach MySQL as different bytes: refuse rather than fail to log in.
    expect(() => connectionFromConfig(cfg)).toThrow(/line 17: \$db_password is not valid UTF-8 — save configuration.php as UTF-8/);
  });

  it('keeps unknown variables and skips non-literal values of variables it does not need', () => {
    const cfg = parseConfigurationPhp(`<?php
$smarty_security_policy = array(
    'system' => array('enabled_special_smarty_vars' => array('session', 'server')),
);
$api_access_key = 'k';
$display_errors = E_ALL;
$x = [1, 2, function () { return 3; }];
$api_access_key = 'k2';
`);
    expect(cfg.vars).toEqual({ api_access_key: 'k2' });
    expect(cfg.fullyParsed).toBe(false);
    expect(parseConfigurationPhp(INSTALLER_812).fullyParsed).toBe(true);
    expect(cfg.skipped).toEqual([
      { name: 'smarty_security_policy', line: 2, reason: 'array' },
      { name: 'display_errors', line: 6, reason: 'constant E_ALL' },
      { name: 'x', line: 7, reason: 'array' },
    ]);
  });

  it('skips harmless function-call statements but records them', () => {
    const cfg = parseConfigurationPhp("<?php\ndate_default_timezone_set('Europe/London');\n$db_host = 'h';");
    expect(cfg.ignoredCalls).toEqual([{ name: 'date_default_timezone_set', line: 2 }]);
    expect(cfg.db_host).toBe('h');
  });

  it.each(refused)('refuses dynamic values: %s', (src, message) => {
    let err: unknown;
    try {
      parseConfigurationPhp(src);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParseError);
    expect(err).toBeInstanceOf(PhpConfigError);
    expect((err as PhpConfigError).reason).toBe('dynamic');
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
  });

  it.each(unsupported)('refuses statements it cannot follow: %s', (src, message) => {
    expect(() => parseConfigurationPhp(src)).toThrow(message);
    expect(() => parseConfigurationPhp(src)).toThrow(ParseError);
  });

  it.each(syntax)('names the line of syntax errors: %s', (src, message) => {
    let err: unknown;
    try {
      parseConfigurationPhp(src, '/var/www/whmcs/configuration.php');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PhpConfigError);
    expect((err as PhpConfigError).reason).toBe('syntax');
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toMatch(/^\/var\/www\/whmcs\/configuration\.php line \d+: /);
  });

  it('formats floats like PHP with precision=14', () => {
    expect(phpFloatToString(123456789012345)).toBe('1.2345678901234E+14'); // tie → even, unlike toPrecision
    expect(phpFloatToString(0.1 + 0.2)).toBe('0.3');
    expect(phpFloatToString(1e15)).toBe('1.0E+15');
    expect(phpFloatToString(0.0001)).toBe('0.0001');
    expect(phpFloatToString(0.00001)).toBe('1.0E-5');
    expect(phpFloatToString(-0)).toBe('-0');
    expect(phpFloatToString(Infinity)).toBe('INF');
    expect(phpFloatToString(100)).toBe('100');
  });
});

describeWithPeer(['php'], 'configuration.php decoding matches PHP include', () => {
  let results: ReturnType<typeof phpInclude>;
  beforeAll(() => {
    const files = CORPUS.map(([, src], i) => {
      const f = join(dir, `corpus-${i}.php`);
      writeFileSync(f, src);
      return f;
    });
    results = phpInclude(files);
  });

  it.each(CORPUS.map(([name, src], i) => [name, src, i] as const))('%s', (_name, src, i) => {
    // json_encode writes an empty PHP array as [].
    const php = Array.isArray(results[i]) ? {} : results[i];
    expect(php).not.toHaveProperty('error');
    expect(ours(parseConfigurationPhp(src))).toEqual(php);
  });

  it('PHP rejects every file the parser calls a syntax error', () => {
    const cases = syntax.map(([src]) => src);
    const files = cases.map((src, i) => {
      const f = join(dir, `syntax-${i}.php`);
      writeFileSync(f, src);
      return f;
    });
    // Re-assigning $this or $GLOBALS is a fatal compile error that ends the PHP process: lint those on their own.
    const fatal = (i: number): boolean => /\$(this|GLOBALS) /.test(cases[i]);
    const verdicts = phpInclude(files.filter((_, i) => !fatal(i)));
    for (const v of verdicts) expect(v).toHaveProperty('error', expect.stringMatching(/^(ParseError|CompileError)/));
    for (const [i, f] of files.entries()) if (fatal(i)) expect(() => execFileSync('php', ['-l', f], { stdio: 'pipe' })).toThrow();
  });

  it('PHP accepts the values the parser refuses as dynamic (so the refusal is not a misreading)', () => {
    const valid = ["<?php $db_password = 'a' . 'b';", "<?php $db_port = 3300 + 6;", "<?php $db_name = ['a'];", "<?php $db_password = -'5';", "<?php $db_password = 'a' ?? 'b';"];
    const files = valid.map((src, i) => {
      const f = join(dir, `dynamic-${i}.php`);
      writeFileSync(f, src);
      return f;
    });
    for (const v of phpInclude(files)) expect(v).not.toHaveProperty('error');
  });
});

describe('connectionFromConfig', () => {
  const base = (extra: string): WhmcsConfigFile => parseConfigurationPhp(INSTALLER_812 + '\n' + extra);

  it('maps an installer file to a MySQL spec with WHMCS defaults', () => {
    expect(connectionFromConfig(base(''))).toEqual({
      kind: 'mysql',
      host: 'localhost',
      user: 'whmcs',
      password: "p@ss'word\\",
      database: 'whmcs',
      charset: 'utf8',
      ccEncryptionHash: 'aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1eF3hJ5kL7nP9rS1uV3xY5zA7cD9fG1hJ3k',
      sqlMode: '',
      passwordOnCommandLine: false,
    });
  });

  it('splits host:port on exactly one colon, and $db_port wins', () => {
    expect(connectionFromConfig(base("$db_host = 'db.example:3307';"))).toMatchObject({ host: 'db.example', port: 3307 });
    expect(connectionFromConfig(base("$db_host = 'db.example:3307'; $db_port = '3308';"))).toMatchObject({ host: 'db.example', port: 3308 });
    expect(connectionFromConfig(base("$db_host = '::1';"))).toMatchObject({ host: '::1' });
    expect(connectionFromConfig(base("$db_host = 'fe80::1:2';")).port).toBeUndefined();
    expect(connectionFromConfig(base("$db_host = '[::1]'; $db_port = 3306;"))).toMatchObject({ host: '::1', port: 3306 });
    expect(() => connectionFromConfig(base("$db_host = ':3306';"))).toThrow(/no host name before the colon/);
    // A bracketed IPv6 address with its port: the address, and the port unless $db_port gives one.
    const v6 = connectionFromConfig(base("$db_host = '[::1]:3307';"));
    expect(v6).toMatchObject({ host: '::1', port: 3307 });
    expect(describeTarget({ ...v6, kind: 'mysql' } as never)).toBe(`mysql://${v6.user}@[::1]:3307/${v6.database}`);
    expect(connectionFromConfig(base("$db_host = '[::1]:3307'; $db_port = '3308';"))).toMatchObject({ host: '::1', port: 3308 });
    // mysqli's persistent prefix is named, not taken for a socket called "localhost".
    expect(() => connectionFromConfig(base("$db_host = 'p:localhost';"))).toThrow(/\$db_host 'p:localhost' starts with "p:", mysqli's persistent-connection prefix.* set \$db_host = 'localhost'/);
    expect(() => connectionFromConfig(base("$db_port = '70000';"))).toThrow(/port 70000 is out of range/);
  });

  it('reads a non-numeric $db_port as a Unix socket path', () => {
    const spec = connectionFromConfig(base("$db_port = '/var/run/mysqld/mysqld.sock';"));
    expect(spec.socketPath).toBe('/var/run/mysqld/mysqld.sock');
    expect(spec.port).toBeUndefined();
    expect(connectionFromConfig(base("$db_host = 'localhost:/tmp/my.sock';")).socketPath).toBe('/tmp/my.sock');
  });

  it('maps $db_tls_* to TLS options; empty strings are unset', () => {
    expect(connectionFromConfig(base('')).ssl).toBeUndefined();
    expect(connectionFromConfig(base("$db_tls_ca = '/etc/ca.pem'; $db_tls_verify_cert = '1'; $db_tls_cipher = 'AES256';")).ssl).toEqual({
      ca: '/etc/ca.pem',
      cipher: 'AES256',
      rejectUnauthorized: true,
    });
    expect(connectionFromConfig(base("$db_tls_cert = 'c'; $db_tls_key = 'k'; $db_tls_ca_path = '/etc/ssl/certs'; $db_tls_verify_cert = '0';")).ssl).toEqual({
      cert: 'c',
      key: 'k',
      capath: '/etc/ssl/certs',
      rejectUnauthorized: false,
    });
    expect(connectionFromConfig(base("$db_tls_ca = 'x'; $db_tls_verify_cert = false;")).ssl).toEqual({ ca: 'x', rejectUnauthorized: false });
    expect(connectionFromConfig(base('$db_tls_verify_cert = true;')).ssl).toEqual({ rejectUnauthorized: true });
    expect(connectionFromConfig(base("$db_tls_verify_cert = '0';")).ssl).toBeUndefined();
  });

  it('passes charset, sql_mode and serialize limits through', () => {
    const spec = connectionFromConfig(base("$mysql_charset = 'utf8mb4'; $sql_mode = 'STRICT_ALL_TABLES'; $serialize_array_max_depth = 9;"));
    expect(spec).toMatchObject({ charset: 'utf8mb4', sqlMode: 'STRICT_ALL_TABLES', serializeLimits: { maxLength: 16384, maxArrayLength: 256, maxDepth: 9 } });
    expect(connectionFromConfig(base("$mysql_charset = '';")).charset).toBe('utf8');
    expect(() => connectionFromConfig(base("$mysql_charset = 'utf8; DROP';"))).toThrow(/not a MySQL character set name/);
    expect(() => connectionFromConfig(base("$serialize_input_max_length = 'lots';"))).toThrow(/must be a whole number/);
  });

  it('names every missing required variable and says what to do', () => {
    expect(() => connectionFromConfig(parseConfigurationPhp("<?php $db_host = 'h'; $db_name = 'n';"))).toThrow(
      /^configuration\.php does not set \$db_username, \$db_password, \$cc_encryption_hash — point --whmcs-dir at the WHMCS root .* or pass --db <url>$/,
    );
    expect(() => connectionFromConfig(base("$db_name = '';"))).toThrow(/\$db_name is empty/);
    expect(() => connectionFromConfig(base("$db_password = '';"))).not.toThrow();
  });
});

describe('parseDbUrl', () => {
  const env = {};

  it('parses a full mysql:// URL with percent-decoding', () => {
    expect(parseDbUrl('mysql://wh%40user:p%40ss%2Fw:rd@db.example:3307/whmcs%5Fprod?charset=utf8mb4', env)).toEqual({
      kind: 'mysql',
      host: 'db.example',
      port: 3307,
      user: 'wh@user',
      password: 'p@ss/w:rd',
      database: 'whmcs_prod',
      charset: 'utf8mb4',
      sqlMode: '',
      passwordOnCommandLine: true,
    });
  });

  it('takes the password from $WHMCS_DB_PASSWORD, else leaves it for a prompt', () => {
    const fromEnv = parseDbUrl('mariadb://u@h/d', { WHMCS_DB_PASSWORD: 'envpw', WHMCS_CC_ENCRYPTION_HASH: 'H' });
    expect(fromEnv).toMatchObject({ kind: 'mysql', password: 'envpw', passwordOnCommandLine: false, ccEncryptionHash: 'H' });
    const none = parseDbUrl('mysql://u@h/d', {});
    expect(none.kind === 'mysql' && none.password).toBeUndefined();
    expect(parseDbUrl('mysql://u:@h/d', { WHMCS_DB_PASSWORD: 'x' })).toMatchObject({ password: '', passwordOnCommandLine: true });
    expect(parseDbUrl('MySQL://u:p@w@h/d', {})).toMatchObject({ user: 'u', password: 'p@w', host: 'h' });
  });

  it('supports sockets, IPv6 and TLS options', () => {
    expect(parseDbUrl('mysql://u@localhost/d?socket=%2Fvar%2Frun%2Fmysqld.sock', env)).toMatchObject({ socketPath: '/var/run/mysqld.sock', host: 'localhost' });
    expect(parseDbUrl('mysql://u@/d?socket=/tmp/s', env)).toMatchObject({ socketPath: '/tmp/s' });
    expect(parseDbUrl('mysql://u@[::1]:3307/d', env)).toMatchObject({ host: '::1', port: 3307 });
    expect(parseDbUrl('mysql://u@h/d?ssl-ca=/ca.pem&ssl_verify_server_cert=1&ssl-cipher=X', env)).toMatchObject({
      ssl: { ca: '/ca.pem', cipher: 'X', rejectUnauthorized: true },
    });
    expect(parseDbUrl('mysql://u@h/d?ssl', env)).toMatchObject({ ssl: {} });
    expect(parseDbUrl('mysql://u@h/d?sql-mode=ANSI', env)).toMatchObject({ sqlMode: 'ANSI' });
  });

  it("splits the credentials at the authority's '@', not at one in the socket path or database name", () => {
    expect(parseDbUrl('mysql://whmcs@localhost/whmcs?socket=/run/user@1/mysqld.sock', env)).toMatchObject({
      user: 'whmcs',
      host: 'localhost',
      database: 'whmcs',
      socketPath: '/run/user@1/mysqld.sock',
    });
    expect(parseDbUrl('mysql://u:p@ss@db.example/whmcs@prod', env)).toMatchObject({ user: 'u', password: 'p@ss', host: 'db.example', database: 'whmcs@prod' });
    expect(parseDbUrl('mysql://u@h/d?socket=/a@b/s&sql-mode=', env)).toMatchObject({ user: 'u', host: 'h', database: 'd', socketPath: '/a@b/s' });
    expect(() => parseDbUrl('mysql://h/d@x', env)).toThrow(/no user name/);
  });

  it('parses sqlite URLs', () => {
    expect(parseDbUrl('sqlite:sandbox/whmcs.sqlite', { WHMCS_CC_ENCRYPTION_HASH: 'H' })).toEqual({ kind: 'sqlite', file: 'sandbox/whmcs.sqlite', ccEncryptionHash: 'H', passwordOnCommandLine: false });
    expect(parseDbUrl('sqlite:///abs/p%20ath.db', {})).toMatchObject({ file: '/abs/p ath.db' });
    expect(parseDbUrl('sqlite://localhost/abs.db', {})).toMatchObject({ file: '/abs.db' });
    expect(parseDbUrl('sqlite:/abs.db', {})).toMatchObject({ file: '/abs.db' });
  });

  const bad: Array<[string, RegExp]> = [
    ['whmcs', /no scheme/],
    ['postgres://u@h/d', /unknown database URL scheme 'postgres:'/],
    ['mysql:u@h/d', /starts with mysql:\/\//],
    ['mysql://h/d', /no user name/],
    ['mysql://:pw@h/d', /no user name/],
    ['mysql://u@h', /no database name/],
    ['mysql://u@h/', /no database name/],
    ['mysql://u@h/a/b', /contains '\/'/],
    ['mysql://u@/d', /no host/],
    ['mysql://u@h:99999/d', /port .* between 1 and 65535/],
    ['mysql://u@h:abc/d', /port/],
    ['mysql://u@::1/d', /IPv6 address .* in brackets/],
    ['mysql://u:%ZZ@h/d', /bad percent-encoding in the password/],
    ['mysql://u@h/d?colour=blue', /unknown database URL option 'colour'/],
    ['mysql://u@h/d?charset=a&charset=b', /charset= twice/],
    ['mysql://u@h:3306/d?socket=/s', /both a port and a socket/],
    ['mysql://u@h/d?ssl=maybe', /ssl=maybe .* true or false/],
    ['mysql://u@h/d?ssl=0&ssl-ca=x', /ssl=0 but also/],
    ['sqlite:', /needs a file name/],
    ['sqlite://relative.db', /absolute path/],
  ];
  it.each(bad)('rejects %s with a UsageError', (url, message) => {
    expect(() => parseDbUrl(url, env)).toThrow(UsageError);
    expect(() => parseDbUrl(url, env)).toThrow(message);
  });

  it('never echoes a password in its errors', () => {
    try {
      parseDbUrl('mysql://u:SuperSecret@h:bad/d', env);
    } catch (e) {
      expect((e as Error).message).not.toContain('SuperSecret');
    }
  });
});

describe('tlsOptionsForMysql2', () => {
  it('reads PEM files and CA directories into mysql2 options', () => {
    const d = join(dir, 'tls');
    mkdirSync(join(d, 'capath'), { recursive: true });
    const pem = (n: string): string => `-----BEGIN CERTIFICATE-----\n${n}\n-----END CERTIFICATE-----\n`;
    writeFileSync(join(d, 'ca.pem'), pem('A'));
    writeFileSync(join(d, 'capath', '1.pem'), pem('B'));
    writeFileSync(join(d, 'capath', 'README'), 'not a cert');
    writeFileSync(join(d, 'key.pem'), 'KEY');
    expect(tlsOptionsForMysql2({ ca: join(d, 'ca.pem'), capath: join(d, 'capath'), key: join(d, 'key.pem'), cipher: 'C', rejectUnauthorized: false })).toEqual({
      ca: [pem('A'), pem('B')],
      key: 'KEY',
      ciphers: 'C',
      rejectUnauthorized: false,
    });
    expect(() => tlsOptionsForMysql2({ cert: join(d, 'missing.pem') })).toThrow(/cannot read the TLS client certificate .*missing\.pem: ENOENT/);
  });
});

describe('findConfigurationPhp / loadConfigurationPhp', () => {
  it('walks up from the current directory to the nearest configuration.php', () => {
    const root = join(dir, 'whmcs-root');
    mkdirSync(join(root, 'admin', 'deep'), { recursive: true });
    writeFileSync(join(root, 'configuration.php'), INSTALLER_812);
    expect(findConfigurationPhp(join(root, 'admin', 'deep'), {})).toBe(join(root, 'configuration.php'));
    expect(findConfigurationPhp(root, {})).toBe(join(root, 'configuration.php'));
    expect(findConfigurationPhp(join(root, 'admin'), { WHMCS_DIR: '/elsewhere' })).toBe('/elsewhere/configuration.php');
    expect(findConfigurationPhp(join(root, 'admin'), { WHMCS_DIR: join(root, 'configuration.php') })).toBe(join(root, 'configuration.php'));
    expect(loadConfigurationPhp(root).db_name).toBe('whmcs');
    expect(loadConfigurationPhp(join(root, 'configuration.php')).fileName).toBe(join(root, 'configuration.php'));
  });

  it('returns null when no directory up to / has one', () => {
    const lonely = mkdtempSync(join(tmpdir(), 'whmcs-2fa-none-'));
    try {
      // /tmp itself could hold a stray configuration.php; only assert when it does not.
      const found = findConfigurationPhp(lonely, {});
      if (found !== null) expect(found.startsWith(lonely)).toBe(false);
      else expect(found).toBeNull();
    } finally {
      rmSync(lonely, { recursive: true });
    }
  });

  it('explains a directory without configuration.php', () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    expect(() => loadConfigurationPhp(empty)).toThrow(UsageError);
    expect(() => loadConfigurationPhp(empty)).toThrow(`no configuration.php in ${empty} — pass --whmcs-dir <WHMCS root> or --db <url>`);
    expect(() => loadConfigurationPhp(join(dir, 'does-not-exist'))).toThrow(/no configuration.php in .*does-not-exist/);
  });

  it('explains an unreadable configuration.php', () => {
    const locked = join(dir, '__eacces__');
    mkdirSync(locked);
    writeFileSync(join(locked, 'configuration.php'), INSTALLER_812);
    expect(() => loadConfigurationPhp(locked)).toThrow(CliError);
    expect(() => loadConfigurationPhp(locked)).toThrow(/^cannot read .*__eacces__\/configuration\.php: permission denied — run whmcs-2fa as a user that can read it/);
  });

  it.skipIf(process.getuid?.() === 0)('explains a configuration.php without read permission', () => {
    const locked = join(dir, 'locked');
    mkdirSync(locked);
    writeFileSync(join(locked, 'configuration.php'), INSTALLER_812);
    chmodSync(join(locked, 'configuration.php'), 0o000);
    let err: unknown;
    try {
      loadConfigurationPhp(locked);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(1);
    expect((err as Error).message).toMatch(/cannot read .*configuration\.php: permission denied — run whmcs-2fa as a user that can read it/);
  });

  it('explains a configuration.php it cannot read as a file', () => {
    const odd = join(dir, 'odd');
    mkdirSync(join(odd, 'configuration.php'), { recursive: true });
    expect(() => loadConfigurationPhp(odd)).toThrow(CliError);
    expect(() => loadConfigurationPhp(odd)).toThrow(/^cannot read .*odd\/configuration\.php: it is a directory, not a regular file — point --whmcs-dir at the WHMCS root whose configuration.php is a plain file, or pass --db <url>$/);
  });

  it('names the file path in parse errors', () => {
    const broken = join(dir, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'configuration.php'), "<?php\n$db_host = 'x' . 'y';");
    expect(() => loadConfigurationPhp(broken)).toThrow(`${join(broken, 'configuration.php')} line 2: $db_host is not a plain literal (concatenation)`);
  });
});
