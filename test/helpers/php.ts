import { execFileSync } from 'node:child_process';

/**
 * Run `php -r <code>` and return its stdout as raw bytes. `stdin` is handed to the script, which
 * is the safe way to pass test data (no quoting, binary-safe): read it with
 * `stream_get_contents(STDIN)`. Notices and warnings are turned into exceptions, so a cross-check
 * cannot pass by accident on a PHP error: the call throws instead.
 */
export function phpBytes(code: string, stdin: string | Buffer = ''): Buffer {
  const strict = 'set_error_handler(function ($n, $s) { throw new ErrorException($s, 0, $n); });';
  try {
    return execFileSync('php', ['-d', 'error_reporting=E_ALL', '-d', 'display_errors=stderr', '-r', strict + code], {
      input: stdin,
      maxBuffer: 256 * 1024 * 1024,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (e) {
    // Surface PHP's own message instead of the (long) command line.
    const err = e as { stderr?: Buffer; stdout?: Buffer; status?: number };
    const detail = `${err.stderr?.toString() ?? ''}${err.stdout?.toString() ?? ''}`.trim();
    throw new Error(`php -r failed (exit ${err.status ?? '?'}): ${detail.slice(0, 2000)}`);
  }
}

/** `php -r <code>` → stdout decoded as UTF-8. */
export function php(code: string, stdin: string | Buffer = ''): string {
  return phpBytes(code, stdin).toString('utf8');
}

/**
 * Run a PHP snippet once for many inputs: `body` sees `$x` (one JSON-decoded input, arrays as PHP
 * arrays) and must `return` a JSON-encodable result. `prelude` runs once first (function
 * definitions). One process per batch keeps corpus tests fast.
 */
export function phpMap<T = unknown>(body: string, inputs: unknown[], prelude = ''): T[] {
  const code = `${prelude}
    $in = json_decode(stream_get_contents(STDIN), true, 512, JSON_THROW_ON_ERROR);
    $f = function ($x) { ${body} };
    echo json_encode(array_map($f, $in), JSON_THROW_ON_ERROR);`;
  return JSON.parse(php(code, JSON.stringify(inputs))) as T[];
}
