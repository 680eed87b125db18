/**
 * Finding configuration.php, without reading it: its own module, so that a command which only needs
 * to know whether a WHMCS is configured (clock-check) does not load the reader or the connection path.
 */
import { statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * Where configuration.php is: `$WHMCS_DIR` if set, else the nearest one walking up from
 * `startDir` (so the tool works from anywhere inside a WHMCS tree, like `wp --path`).
 * Returns the file's path, or null when there is none.
 */
export function findConfigurationPhp(startDir: string, env: Record<string, string | undefined> = process.env): string | null {
  if (env.WHMCS_DIR) {
    const given = resolve(startDir, env.WHMCS_DIR);
    return isFile(given) ? given : join(given, 'configuration.php');
  }
  for (let dir = resolve(startDir); ; dir = dirname(dir)) {
    const candidate = join(dir, 'configuration.php');
    if (isFile(candidate)) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
