import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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

/** A binary on PATH, or a file some package installs (bash-completion's script, say). */
export type Peer = string | { file: string; package: string };

function missingPeers(peers: Peer[]): string[] {
  return peers.flatMap((p) => (typeof p === 'string' ? (hasBinary(p) ? [] : [p]) : existsSync(p.file) ? [] : [`${p.file} (package ${p.package})`]));
}

/**
 * `describe` that needs external peers. Outside CI a missing peer skips loudly: the suite's tests
 * are still collected and reported as skipped (a suite without tests would fail the file as "no
 * test found"). Under CI=true a missing peer is a failure, because CI installs every peer in
 * .ci/run and a skip would hide that.
 */
export function describeWithPeer(peers: Peer[], name: string, fn: () => void): void {
  const missing = missingPeers(peers);
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

/**
 * For checks inside a test that use a peer when it is there (PHP cross-checks beside assertions
 * that stand on their own): true when present; a loud warning once per file when not; under
 * CI=true a missing peer throws, so the checks can never be skipped quietly there.
 */
export function optionalPeer(peer: Peer, what: string): boolean {
  const missing = missingPeers([peer]);
  if (missing.length === 0) return true;
  if (process.env.CI === 'true') throw new Error(`test peer missing under CI: ${missing[0]} — .ci/run must install it`);
  console.warn(`SKIPPING ${what}: missing test peer ${missing[0]}`);
  return false;
}
