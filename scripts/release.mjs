// `npm run release`: everything a release publishes, in release/:
//
//   whmcs-2fa-<version>.tgz            `npm pack` (built by the `prepare` script); installs with
//                                      `npm install -g ./whmcs-2fa-<version>.tgz`, offline: the
//                                      package bundles what it runs and has no dependencies
//   whmcs-2fa-<version>-linux-x64      standalone executables: the current LTS Node with the
//   whmcs-2fa-<version>-linux-arm64    one-file build (dist/whmcs-2fa.cjs) injected as a Node
//                                      single executable application, with a V8 code cache
//   LICENSE, THIRD-PARTY-NOTICES       the tool's licence; Node's and the bundled packages' notices
//   SHA256SUMS                         `sha256sum -c SHA256SUMS` checks all of them
//
// The code cache is V8's compiled form of the program and only loads on the CPU architecture that
// made it, so each executable's preparation blob is made by its own Node: the arm64 one under
// qemu-user-static (Debian's package, with the arm64 C libraries) on an x64 machine. Without qemu
// the arm64 executable is still made, without a code cache, and the script says so (CI=true: fails).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LTS_NODE_VERSION, ltsNode } from './lts-node.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'release');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
// The fuse Node's single-executable support looks for; postject flips it when it injects the blob.
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const ARCHES = (process.env.RELEASE_ARCHES ?? 'x64,arm64').split(',');
const QEMU = { arm64: 'qemu-aarch64-static', x64: 'qemu-x86_64-static' };
const CROSS_LIBS = { arm64: '/usr/aarch64-linux-gnu', x64: '/usr/x86_64-linux-gnu' };

function log(msg) {
  process.stderr.write(`release: ${msg}\n`);
}

/** argv prefix that runs a binary of `arch` here: itself, or under qemu-user-static, or null. */
function runnerFor(arch) {
  if (arch === process.arch) return { argv: [], env: {} };
  const qemu = QEMU[arch];
  const found = spawnSync('sh', ['-c', `command -v ${qemu}`], { encoding: 'utf8' }).stdout.trim();
  if (!found || !existsSync(CROSS_LIBS[arch])) return null;
  return { argv: [found], env: { QEMU_LD_PREFIX: CROSS_LIBS[arch] } };
}

function packTarball() {
  // npm pack runs `prepare`, which builds dist/ from the sources; the executables use that build.
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', out], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    .trim()
    .split('\n')
    .pop();
  log(`${name}`);
  return name;
}

function buildExecutable(arch) {
  const node = ltsNode(arch);
  const runner = runnerFor(arch);
  if (!runner && process.env.CI === 'true') throw new Error(`cannot run linux-${arch} binaries here (install qemu-user-static and the ${arch} C libraries)`);
  const work = join(out, `.sea-${arch}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const blob = join(work, 'sea.blob');
  const config = {
    main: join(root, 'dist', 'whmcs-2fa.cjs'),
    output: blob,
    disableExperimentalSEAWarning: true,
    // Start-up: the program's top level arrives compiled (only for the architecture that made it).
    useCodeCache: !!runner,
  };
  if (!runner) log(`WARNING: no way to run linux-${arch} binaries here: its executable has no code cache (slower start)`);
  writeFileSync(join(work, 'sea-config.json'), JSON.stringify(config));
  // The blob is made by the same Node version it is injected into; without a way to run the target
  // architecture, this machine's build of that version makes it (no code cache then).
  const maker = runner ? [...runner.argv, node] : [ltsNode(process.arch)];
  const r = spawnSync(maker[0], [...maker.slice(1), '--experimental-sea-config', join(work, 'sea-config.json')], {
    env: { ...process.env, ...(runner?.env ?? {}) },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`making the ${arch} preparation blob failed: ${r.stderr || r.error}`);

  const exe = join(out, `whmcs-2fa-${version}-linux-${arch}`);
  copyFileSync(node, exe);
  chmodSync(exe, 0o755);
  const postject = join(root, 'node_modules', '.bin', 'postject');
  const p = spawnSync(postject, [exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], { encoding: 'utf8' });
  if (p.status !== 0) throw new Error(`injecting the program into the ${arch} Node failed: ${p.stderr}`);
  rmSync(work, { recursive: true, force: true });
  log(`whmcs-2fa-${version}-linux-${arch} (Node ${LTS_NODE_VERSION}${config.useCodeCache ? ', code cache' : ''})`);
  return exe;
}

/**
 * The licences that travel with the executables: the tool's own, and what each executable holds
 * besides — Node.js (its LICENSE, which lists what Node bundles) and the npm packages in the one-file
 * build (the notices esbuild collected while bundling them).
 */
function notices() {
  copyFileSync(join(root, 'LICENSE'), join(out, 'LICENSE'));
  const node = readFileSync(join(ltsNode(process.arch), '..', '..', 'LICENSE'), 'utf8');
  const bundled = readFileSync(join(root, 'dist', 'whmcs-2fa.cjs.LEGAL.txt'), 'utf8');
  writeFileSync(
    join(out, 'THIRD-PARTY-NOTICES'),
    `The standalone executables contain Node.js ${LTS_NODE_VERSION} and these npm packages.\n\n` +
      `=== Node.js ===\n\n${node}\n\n=== npm packages in dist/whmcs-2fa.cjs ===\n\n${bundled}`,
  );
  return ['LICENSE', 'THIRD-PARTY-NOTICES'];
}

function sha256sums(files) {
  const lines = files.map((f) => `${createHash('sha256').update(readFileSync(join(out, f))).digest('hex')}  ${f}`);
  writeFileSync(join(out, 'SHA256SUMS'), `${lines.join('\n')}\n`);
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out);
const files = [packTarball()];
for (const arch of ARCHES) files.push(buildExecutable(arch).split('/').pop());
files.push(...notices());
sha256sums(files);
log(`SHA256SUMS — done: ${out}`);
