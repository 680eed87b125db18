import { execFileSync } from 'node:child_process';
import { describe } from 'vitest';

/** True when `bin` is on PATH. */
export function hasBinary(bin: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * `describe` that needs an external peer. Outside CI a missing peer skips loudly; under CI=true a
 * missing peer is a failure, because CI installs every peer in .ci/run and a skip would hide that.
 */
export function describeWithPeer(bins: string[], name: string, fn: () => void): void {
  const missing = bins.filter((b) => !hasBinary(b));
  if (missing.length === 0) {
    describe(name, fn);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      throw new Error(`test peer(s) missing under CI: ${missing.join(', ')} — .ci/run must install them`);
    });
    return;
  }
  console.warn(`SKIPPING "${name}": missing test peer(s) ${missing.join(', ')}`);
  describe.skip(name, fn);
}
