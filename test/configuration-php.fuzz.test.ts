/**
 * Fuzzing the configuration.php reader. Part one throws random and mutated files at the parser
 * and checks it only ever fails with ParseError, quickly. Part two is differential: PHP itself
 * includes a batch of the same kind of files and must agree with the parser on every file the
 * parser accepts and every file either side calls a syntax error.
 *
 * FUZZ_RUNS (default 100000) and PHP_DIFF_RUNS (default 3000) set the counts; FUZZ_SEED the seed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { ParseError } from '../src/errors.js';
import { CONFIG_VARIABLES, parseConfigurationPhp, PhpConfigError, type WhmcsConfigFile } from '../src/whmcs/connection/configuration-php.js';
import { parsePhpAssignments } from '../src/whmcs/php/php-assignments.js';
import { connectionFromConfig } from '../src/whmcs/connection/connection-spec.js';
import { describeWithPeer } from './helpers/peers.js';
import { chance, growth, int, LINEAR_GROWTH_LIMIT, mulberry32, pick, SLOWNESS_LIMIT, slownessAgainst, type Rng } from './helpers/fuzz.js';

const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 100_000);
const PHP_DIFF_RUNS = Number(process.env.PHP_DIFF_RUNS ?? 3_000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x2fa);

/** Byte strings: one char per byte, written out with Buffer.from(s, 'latin1'). */
const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');
/** A plain configuration.php of exactly `length` bytes (at least 16): one single-quoted string. */
const benignFile = (length: number): string => `<?php $a = '${'x'.repeat(Math.max(0, length - 15))}';`;
const utf8 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

const NAMES = ['db_host', 'db_port', 'db_username', 'db_password', 'db_name', 'cc_encryption_hash', 'mysql_charset', 'db_tls_verify_cert', 'license', 'x', 'Ab_9', utf8('ñ'), '_'];
const PLAIN = ('abcXYZ019 _-@!%&*()[]<>?/.,:;=+~^|' + utf8('é✓') + '\x00\x01\x7f\xff\x80').split('');
const DQ_ESCAPES = ['\\n', '\\t', '\\r', '\\v', '\\e', '\\f', '\\\\', '\\$', '\\"', '\\`', '\\q', '\\x41', '\\x4', '\\xZ', '\\X7e', '\\101', '\\7', '\\400', '\\0', '\\u{41}', '\\u{1F600}', '\\u{0}', '\\u202e', '\\u', '$ ', '{ ', '$1', '{x}'];

function randomPlain(r: Rng, max: number, exclude: string): string {
  let s = '';
  for (let i = int(r, max); i > 0; i--) {
    const c = chance(r, 0.1) ? String.fromCharCode(int(r, 256)) : pick(r, PLAIN);
    if (!exclude.includes(c)) s += c;
  }
  return s;
}

function randomNumber(r: Rng): string {
  const digits = (alphabet: string, n: number): string => {
    let s = pick(r, alphabet.split(''));
    for (let i = int(r, n); i > 0; i--) s += (chance(r, 0.1) ? '_' : '') + pick(r, alphabet.split(''));
    return s;
  };
  const sign = chance(r, 0.2) ? pick(r, ['-', '+', '- ', '-+-']) : '';
  switch (int(r, 8)) {
    case 0: return sign + digits('0123456789', 25);
    case 1: return sign + pick(r, ['0x', '0X']) + digits('0123456789abcdefABCDEF', 20);
    case 2: return sign + pick(r, ['0o', '0O', '0']) + digits('01234567', 25);
    case 3: return sign + pick(r, ['0b', '0B']) + digits('01', 70);
    case 4: return sign + digits('0123456789', 8) + '.' + digits('0123456789', 20);
    case 5: return sign + (chance(r, 0.5) ? '' : digits('0123456789', 3)) + '.' + digits('0123456789', 5) + pick(r, ['e', 'E']) + pick(r, ['', '+', '-']) + digits('0123456789', 3);
    case 6: return sign + pick(r, ['9223372036854775807', '9223372036854775808', '0xFFFFFFFFFFFFFFFF', '1e308', '1e309', '5e-324', '123456789012345.0', '0.1', '1.', '.5', '00']);
    default: return sign + String(int(r, 100_000));
  }
}

function randomHeredoc(r: Rng): string {
  const label = pick(r, ['EOT', 'X', '_a1', utf8('ñ')]);
  const indent = pick(r, ['', '', '  ', '    ', '\t']);
  const nowdoc = chance(r, 0.4);
  const lines: string[] = [];
  for (let i = int(r, 4); i > 0; i--) {
    let line = indent + (chance(r, 0.3) ? indent : '');
    for (let j = int(r, 5); j > 0; j--) line += nowdoc || chance(r, 0.6) ? randomPlain(r, 4, '\r\n$\\{') : pick(r, DQ_ESCAPES.filter((e) => !e.startsWith('$') && !e.startsWith('{')));
    lines.push(chance(r, 0.1) ? '' : line);
  }
  const open = nowdoc ? `'${label}'` : chance(r, 0.3) ? `"${label}"` : label;
  const nl = chance(r, 0.1) ? '\r\n' : '\n';
  return `<<<${chance(r, 0.2) ? ' ' : ''}${open}${nl}${lines.map((l) => l + nl).join('')}${indent}${label}`;
}

function randomLiteral(r: Rng): string {
  switch (int(r, 7)) {
    case 0:
    case 1: {
      let s = '';
      for (let i = int(r, 12); i > 0; i--) s += chance(r, 0.25) ? pick(r, ["\\'", '\\\\', '\\n', '\\']) : randomPlain(r, 3, "'\\");
      return (chance(r, 0.1) ? 'b' : '') + `'${s.endsWith('\\') && !s.endsWith('\\\\') ? s + '\\' : s}'`;
    }
    case 2:
    case 3: {
      let s = '';
      for (let i = int(r, 12); i > 0; i--) s += chance(r, 0.4) ? pick(r, DQ_ESCAPES) : randomPlain(r, 3, '"\\$');
      return `"${s}"`;
    }
    case 4:
      return randomNumber(r);
    case 5:
      return pick(r, ['true', 'TRUE', 'False', 'null', 'NULL', '\\true', 'nUlL']);
    default:
      return randomHeredoc(r);
  }
}

const GAPS = [' ', '', '\n', '\t', '  ', '\r\n', ' /* c */ ', '/**/', '\n// line\n', '\n# hash\n'];

function randomFile(r: Rng): string {
  let s = (chance(r, 0.1) ? '\xef\xbb\xbf' : '') + (chance(r, 0.05) ? 'text\n' : '') + pick(r, ['<?php\n', '<?php ', '<?PHP\r\n', '<?php\t']);
  if (chance(r, 0.05)) s += 'return;\n';
  for (let i = int(r, 10); i > 0; i--) {
    const g = (): string => pick(r, GAPS);
    s += `$${pick(r, NAMES)}${g()}=${g()}${randomLiteral(r)}${g()}${chance(r, 0.05) ? '?>\n<?php ' : ';'}${pick(r, ['\n', ' ', '\r\n', ''])}`;
    if (chance(r, 0.05)) s += '// note ?> out <?php\n';
  }
  if (chance(r, 0.15)) s += '?>' + pick(r, ['', '\n', '\n\ntrailing', '<?php $z = 1;']);
  return s;
}

const INSERTS = [
  "'", '"', '\\', '?>', '<?php ', '/*', '*/', '//', '#', '\n', '\r\n', '\r', ';', '.', '$', '$x', '{$', '${', '{', '}',
  '(', ')', '[', ']', '=', '<<<EOT\n', '\nEOT;', "<<<'N'\n", '\nN;', '0x', '0b', '0o', '_', 'e', '-', '+', '\\u{', '\\x',
  '\\0', ' ', '\t', '\x00', '\xff', '\x0c', 'b', 'true', 'NULL', 'return;', '#[', '<?', '<?=', '1', '08', '.5', '__halt_compiler();',
];

function mutate(r: Rng, input: string, inserts: readonly string[]): string {
  let s = input;
  for (let n = 1 + int(r, 4); n > 0; n--) {
    const at = int(r, s.length + 1);
    switch (int(r, 6)) {
      case 0: // byte flip
        if (s.length) s = s.slice(0, at) + String.fromCharCode(s.charCodeAt(Math.min(at, s.length - 1)) ^ (1 << int(r, 8))) + s.slice(at + 1);
        break;
      case 1: // truncation
        s = s.slice(0, at);
        break;
      case 2: // deletion
        s = s.slice(0, at) + s.slice(at + 1 + int(r, 8));
        break;
      case 3: // duplicated slice
        s = s.slice(0, at) + s.slice(at, at + int(r, 20)) + s.slice(at);
        break;
      default: // token insertion
        s = s.slice(0, at) + pick(r, inserts) + s.slice(at);
    }
  }
  return s;
}

const SEEDS = [
  "<?php\n$license = 'WHMCS-x';\n$db_host = 'localhost';\n$db_port = '';\n$db_username = 'whmcs';\n$db_password = 'p@ss\\'word';\n$db_name = 'whmcs';\n$db_tls_verify_cert = '';\n$cc_encryption_hash = 'abcdefABCDEF0123456789abcdefABCDEF0123456789abcdefABCDEF01234567';\n$templates_compiledir = 'templates_c';\n$mysql_charset = 'utf8';",
  "<?php\nreturn;\n/** sample */\n$license = 'WHMCS-xxxxxxxx';\n// db\n$db_host = 'localhost';\n",
  '<?php $a = "\\x41\\101\\u{1F600}\\$ {x} $ \\e"; $b = \'a\\\\b\\\'c\'; $c = 0x1F + 1; ?>\ntrailing',
  "<?php\n$a = <<<EOT\n  one\n    two \\x41\n  EOT;\n$b = <<<'N'\nraw $x\nN;\n",
  "<?php $a = 1; // c ?> out <?php $b = 2.5e3; # h\n/* block */ $c = TRUE ?>",
  "<?php $s = array('a' => 1); date_default_timezone_set('UTC'); $t = -0b101;",
];

type Outcome = 'ok' | 'syntax' | 'dynamic' | 'unsupported';

function classify(src: Buffer): { outcome: Outcome; cfg?: WhmcsConfigFile; err?: PhpConfigError } {
  try {
    const cfg = parseConfigurationPhp(src);
    try {
      connectionFromConfig(cfg);
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
    }
    return { outcome: 'ok', cfg };
  } catch (e) {
    if (!(e instanceof PhpConfigError)) throw e;
    return { outcome: e.reason, err: e };
  }
}

function nextInput(r: Rng, inserts: readonly string[]): string {
  if (chance(r, 0.3)) return randomFile(r);
  return mutate(r, chance(r, 0.4) ? pick(r, SEEDS) : randomFile(r), inserts);
}

describe('configuration.php parser fuzz', () => {
  it(`survives ${FUZZ_RUNS} random and mutated files with only ParseErrors, each fast`, () => {
    const r = mulberry32(SEED);
    const counts: Record<Outcome, number> = { ok: 0, syntax: 0, dynamic: 0, unsupported: 0 };
    let maxMs = 0;
    let slowest = '';
    const started = performance.now();
    for (let i = 0; i < FUZZ_RUNS; i++) {
      const input = nextInput(r, [...INSERTS, '`']);
      let outcome: Outcome;
      const timed = (): number => {
        const t0 = performance.now();
        try {
          outcome = classify(bytes(input)).outcome;
        } catch (e) {
          throw new Error(`run ${i} (FUZZ_SEED=${SEED}) threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}\ninput (hex): ${bytes(input).toString('hex')}`);
        }
        return performance.now() - t0;
      };
      let ms = timed();
      // A garbage-collection pause can stall any one call; a really slow input is slow every time.
      for (let retry = 0; retry < 3 && ms > 20; retry++) ms = Math.min(ms, timed());
      if (ms > maxMs) {
        maxMs = ms;
        slowest = input;
      }
      counts[outcome!]++;
    }
    const totalMs = performance.now() - started;
    // No input may cost much more than a benign file of its length (no time limit: a ratio).
    const slowness = slownessAgainst(
      () => classify(bytes(slowest)),
      () => classify(bytes(benignFile(slowest.length))),
    );
    console.log(
      `configuration.php fuzz: ${FUZZ_RUNS} inputs in ${(totalMs / 1000).toFixed(1)} s, slowest ${maxMs.toFixed(2)} ms (${slowest.length} bytes, ${slowness.toFixed(1)}× a benign file that long), outcomes ${JSON.stringify(counts)}`,
    );
    expect(slowness, `slowest input (hex): ${bytes(slowest).toString('hex')}`).toBeLessThan(SLOWNESS_LIMIT);
    // The generator must reach every outcome, or the fuzzing proves little.
    if (FUZZ_RUNS >= 10_000) for (const n of Object.values(counts)) expect(n).toBeGreaterThan(FUZZ_RUNS / 100);
  }, 120_000);

  // Each family at n and 16n repetitions (up to 200 000 bytes): the cost must grow like the input.
  const big: Array<[string, (n: number) => string]> = [
    ['digits', (n) => '<?php $a = ' + '1'.repeat(4 * n) + ';'],
    ['digit separators', (n) => '<?php $a = ' + '1_'.repeat(2 * n) + '1;'],
    ['escapes', (n) => '<?php $a = "' + '\\x41'.repeat(2 * n) + '";'],
    ['heredoc near-terminators', (n) => '<?php $a = <<<EOT\n' + '  EOTX\n'.repeat(n) + 'EOT;'],
    ['comments', (n) => '<?php ' + '/* c */'.repeat(2 * n)],
    ['statements', (n) => '<?php ' + "$a = 'x';".repeat(n)],
    ['nesting', (n) => '<?php $a = [' + '['.repeat(n) + ']'.repeat(n) + '];'],
    ['open/close tags', (n) => '<?php ' + '?><?php '.repeat(n)],
    ['unterminated interpolation', (n) => '<?php $a = "' + '$'.repeat(4 * n)],
  ];
  it.each(big)('stays linear on large pathological inputs: %s', (_, make) => {
    const parse = (src: string) => {
      try {
        parseConfigurationPhp(src);
      } catch (e) {
        expect(e).toBeInstanceOf(ParseError);
      }
    };
    const ratio = growth(make, parse, 3_125);
    expect(ratio).toBeLessThan(LINEAR_GROWTH_LIMIT);
  });
});

type PhpVerdict = { ok: Record<string, [string, string]> | [] } | { parse: string } | { runtime: string } | { fatal: true };

const DRIVER = `<?php
$files = file($argv[1], FILE_IGNORE_NEW_LINES);
for ($i = (int) $argv[2]; $i < count($files); $i++) {
  $r = (function () {
    ob_start();
    try {
      include func_get_arg(0);
      $vars = get_defined_vars();
      $r = [];
      foreach ($vars as $k => $v) { $r[bin2hex($k)] = [gettype($v), is_scalar($v) || $v === null ? bin2hex(strval($v)) : '']; }
      $r = ['ok' => $r];
    } catch (ParseError | CompileError $e) { $r = ['parse' => $e->getMessage()]; }
    catch (Throwable $e) { $r = ['runtime' => get_class($e) . ': ' . $e->getMessage()]; }
    while (ob_get_level() > 0) ob_end_clean();
    return $r;
  })($files[$i]);
  fwrite(STDOUT, "\\n@@R $i " . json_encode($r, JSON_INVALID_UTF8_SUBSTITUTE) . "\\n");
}
`;

/** Includes each file in PHP; a fatal error ends the process, so resume after the file that caused it. */
function phpVerdicts(dir: string, files: string[]): PhpVerdict[] {
  const driver = join(dir, 'driver.php');
  const list = join(dir, 'files.txt');
  writeFileSync(driver, DRIVER);
  writeFileSync(list, files.join('\n') + '\n');
  const verdicts: PhpVerdict[] = [];
  const disabled = 'exec,system,passthru,shell_exec,proc_open,popen,pcntl_exec,unlink,rmdir,rename,copy,mkdir,file_put_contents,fopen,mail,symlink,link,chmod,touch';
  while (verdicts.length < files.length) {
    const res = spawnSync(
      'php',
      ['-n', '-d', 'short_open_tag=0', '-d', 'precision=14', '-d', 'display_errors=stderr', '-d', 'error_reporting=E_ALL & ~E_WARNING & ~E_COMPILE_WARNING & ~E_DEPRECATED', '-d', `disable_functions=${disabled}`, '-d', 'max_execution_time=30', driver, list, String(verdicts.length)],
      { maxBuffer: 512 * 1024 * 1024, timeout: 120_000 },
    );
    const before = verdicts.length;
    for (const m of res.stdout.toString('utf8').matchAll(/^@@R (\d+) (.*)$/gm)) {
      if (Number(m[1]) === verdicts.length) verdicts.push(JSON.parse(m[2]) as PhpVerdict);
    }
    if (verdicts.length < files.length) verdicts.push({ fatal: true });
    if (verdicts.length === before) throw new Error(`php made no progress: ${res.stderr.toString().slice(0, 500)}`);
  }
  return verdicts;
}

const PHP_TYPE = { string: 'string', int: 'integer', float: 'double', bool: 'boolean', null: 'NULL' } as const;

describeWithPeer(['php'], 'configuration.php parser agrees with PHP on random files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'whmcs-2fa-phpdiff-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`${PHP_DIFF_RUNS} files: accepted ⇒ same values; syntax error on either side ⇒ both reject`, () => {
    const r = mulberry32(SEED ^ 0x5eed);
    // Only literal-only seeds: skipped statements may hide errors PHP finds (see php-assignments.ts).
    const inputs = Array.from({ length: PHP_DIFF_RUNS }, () => (chance(r, 0.5) ? randomFile(r) : mutate(r, chance(r, 0.3) ? pick(r, SEEDS.slice(0, 5)) : randomFile(r), INSERTS)));
    const files = inputs.map((src, i) => {
      const f = join(dir, `f${i}.php`);
      writeFileSync(f, bytes(src));
      return f;
    });
    const verdicts = phpVerdicts(dir, files);
    const problems: string[] = [];
    const counts = { bothOk: 0, bothRejectSyntax: 0, oursRefusedPhpOk: 0, skippedPhpRejects: 0, other: 0 };
    inputs.forEach((src, i) => {
      const php = verdicts[i];
      const ours = classify(bytes(src));
      const show = (why: string): void => {
        problems.push(`${why}\n  input: ${JSON.stringify(src)}\n  ours: ${ours.outcome} ${ours.err?.message ?? ''}\n  php: ${JSON.stringify(php).slice(0, 300)}`);
      };
      const phpRejects = 'parse' in php || 'fatal' in php;
      // Skipped statements are only bracket-matched, not fully parsed: PHP may find errors there.
      const literalOnly = ours.cfg?.fullyParsed === true;
      if (phpRejects && literalOnly) return show('PHP rejects a file the parser accepted');
      if (ours.outcome === 'syntax' && !phpRejects) return show('parser reports a syntax error in a file PHP accepts');
      if (literalOnly && ours.cfg) {
        if (!('ok' in php)) return show('PHP failed at runtime on a literal-only file');
        // Compare exact name bytes: the typed view decodes names as UTF-8, which is lossy for junk bytes.
        const mine: Record<string, [string, string]> = {};
        for (const [k, lit] of parsePhpAssignments(src, 'f.php', new Set(CONFIG_VARIABLES)).literals) {
          mine[bytes(k).toString('hex')] = [PHP_TYPE[lit.type], bytes(lit.bytes).toString('hex')];
        }
        const theirs = Array.isArray(php.ok) ? {} : php.ok;
        if (JSON.stringify(Object.entries(mine).sort()) !== JSON.stringify(Object.entries(theirs).sort())) return show('values differ');
        counts.bothOk++;
      } else if (phpRejects && ours.outcome === 'syntax') counts.bothRejectSyntax++;
      else if (!phpRejects && ours.outcome !== 'ok') counts.oursRefusedPhpOk++;
      else if (phpRejects && ours.outcome === 'ok') counts.skippedPhpRejects++;
      else counts.other++;
    });
    console.log(`configuration.php vs PHP: ${PHP_DIFF_RUNS} files, ${JSON.stringify(counts)}`);
    expect(problems.slice(0, 5).join('\n\n')).toBe('');
    if (PHP_DIFF_RUNS >= 1000) {
      expect(counts.bothOk).toBeGreaterThan(PHP_DIFF_RUNS / 10);
      expect(counts.bothRejectSyntax).toBeGreaterThan(PHP_DIFF_RUNS / 20);
    }
  }, 300_000);
});
