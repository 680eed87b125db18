// The current LTS Node.js that the standalone executables are built on and that CI runs the suite
// on a second time. The binaries come from the npm registry's node-linux-<arch> packages (the
// official builds, repackaged), so a machine that reaches the registry needs nothing else. They are
// kept under $XDG_CACHE_HOME/whmcs-2fa/runtimes (default ~/.cache), never in the repository.
//
//   node scripts/lts-node.mjs                    prints the path of the x64 (this machine's) binary
//   node scripts/lts-node.mjs --arch arm64       … of the arm64 binary (fetched, not run)
//   node scripts/lts-node.mjs -- <command…>      runs the command with that Node first on PATH
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Node.js 24 "Krypton", active LTS. Bump deliberately: the executables' size and start-up change with it. */
export const LTS_NODE_VERSION = '24.22.3';

export function cacheRoot() {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'whmcs-2fa', 'runtimes');
}

/** Path of the official Node binary for `arch` (x64 | arm64), fetched from the registry once. */
export function ltsNode(arch = process.arch, version = LTS_NODE_VERSION) {
  const dir = join(cacheRoot(), `node-v${version}-linux-${arch}`);
  const bin = join(dir, 'bin', 'node');
  if (existsSync(bin)) return bin;
  mkdirSync(cacheRoot(), { recursive: true });
  const work = mkdtempSync(join(cacheRoot(), '.fetch-'));
  try {
    process.stderr.write(`fetching node-linux-${arch}@${version} from the npm registry…\n`);
    const tgz = execFileSync('npm', ['pack', '--silent', `node-linux-${arch}@${version}`], { cwd: work, encoding: 'utf8' }).trim().split('\n').pop();
    execFileSync('tar', ['-xzf', join(work, tgz), '-C', work]);
    // Renamed into place whole, so a concurrent or interrupted fetch never leaves half a runtime.
    renameSync(join(work, 'package'), dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return bin;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const sep = args.indexOf('--');
  const own = sep < 0 ? args : args.slice(0, sep);
  const arch = own[0] === '--arch' ? own[1] : process.arch;
  const bin = ltsNode(arch);
  if (sep < 0) {
    process.stdout.write(`${bin}\n`);
  } else {
    const [cmd, ...rest] = args.slice(sep + 1);
    const env = { ...process.env, PATH: `${dirname(bin)}:${process.env.PATH}` };
    const r = spawnSync(cmd, rest, { stdio: 'inherit', env });
    process.exit(r.status ?? 1);
  }
}
