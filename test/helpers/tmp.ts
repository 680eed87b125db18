import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const created: string[] = [];

/**
 * A fresh directory under the system temp dir, removed with everything in it when the test file
 * ends (test/setup.ts). Tests make their temp directories here, never with mkdtemp directly.
 */
export function tempDir(prefix = 'whmcs2fa-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** Removes every directory `tempDir` made so far. */
export function removeTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}
