import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * One private temp directory per `vitest run`: test files, the CLI processes they start and the
 * peers they run (all inherit TMPDIR) make their temp files under it, and it goes when the run
 * ends — also what a file left behind (a killed worker, a file whose suites were all skipped).
 * Each file already removes its own directories (test/setup.ts); this is the net under that.
 */
export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'whmcs2fa-run-'));
  // Searchable by other users (not listable): peers that run as their own user — a private
  // mariadbd as `mysql`, the CLI as `nobody` — reach the directories tests make for them here.
  chmodSync(root, 0o711);
  process.env.TMPDIR = root;
  return () => {
    const left = readdirSync(root);
    if (left.length && process.env.WHMCS_2FA_TEST_TMP_REPORT) console.warn(`temp entries left by test files: ${left.join(', ')}`);
    rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  };
}
