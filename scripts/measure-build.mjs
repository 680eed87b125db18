// What each build plugin (scripts/build/) still pays, in instructions rather than milliseconds:
// callgrind counts the instructions a run executes, the same whatever else the machine is doing,
// so a 1 % difference is visible on a busy two-core machine where wall time would drown it.
//
//   node scripts/measure-build.mjs --db mysql://root@127.0.0.1:3306/<a WHMCS database>
//
// For the full build and for the build without each plugin in turn (BUILD_WITHOUT=<name>), it
// counts `status --help` (commander and the program definition) and `status --format json`
// against that database (the connection path: knex, mysql2), each after one warm-up run that fills
// the V8 code cache as a user's first run does. Needs valgrind. Prints a markdown table.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const db = process.argv[process.argv.indexOf('--db') + 1];
if (!process.argv.includes('--db') || !db) throw new Error('usage: node scripts/measure-build.mjs --db <mysql url of a WHMCS database>');
const PLUGINS = ['commander-lazy-child-process', 'knex-diet', 'absent-optional', 'mysql2-compact-errors', 'mysql2-small-caches'];
const work = mkdtempSync(join(tmpdir(), 'whmcs2fa-measure-build-'));

function buildInto(name, withoutPlugin) {
  execFileSync(process.execPath, [join(root, 'scripts/build.mjs')], { env: { ...process.env, BUILD_WITHOUT: withoutPlugin ?? '' }, stdio: 'ignore' });
  const dir = join(work, name);
  mkdirSync(dir);
  for (const f of ['bin', 'dist', 'package.json']) cpSync(join(root, f), join(dir, f), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

function instructions(dir, args, env) {
  const out = join(work, 'cg.out');
  const argv = [process.execPath, join(dir, 'bin/whmcs-2fa.js'), ...args];
  const warm = spawnSync(argv[0], argv.slice(1), { env, stdio: 'ignore' }); // warm-up: fills the code cache
  if (warm.status !== 0) throw new Error(`${args.join(' ')} failed (exit ${warm.status}) in ${dir}`);
  const r = spawnSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, ...argv], { env, encoding: 'utf8' });
  const m = /Collected : (\d+)/.exec(r.stderr);
  if (!m) throw new Error(`callgrind gave no count: ${r.stderr.slice(-500)}`);
  rmSync(out, { force: true });
  return Number(m[1]);
}

try {
  const variants = [['all plugins', null], ...PLUGINS.map((p) => [`without ${p}`, p])];
  const rows = [];
  for (const [label, plugin] of variants) {
    const dir = buildInto(plugin ?? 'all', plugin);
    const env = { ...process.env, XDG_CACHE_HOME: join(dir, '.cache'), XDG_STATE_HOME: join(dir, '.state'), NO_COLOR: '1' };
    delete env.NODE_OPTIONS;
    const help = instructions(dir, ['status', '--help'], env);
    const status = instructions(dir, ['--db', db, 'status', '--format', 'json'], env);
    rows.push({ label, help, status });
    process.stderr.write(`${label}: ${help} / ${status}\n`);
  }
  const base = rows[0];
  const pct = (x, b) => `${x > b ? '+' : ''}${(((x - b) / b) * 100).toFixed(1)} %`;
  console.log('| build | `status --help` (instructions) | | `status` on MariaDB (instructions) | |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.label} | ${(r.help / 1e6).toFixed(1)} M | ${r === base ? '—' : pct(r.help, base.help)} | ${(r.status / 1e6).toFixed(1)} M | ${r === base ? '—' : pct(r.status, base.status)} |`);
} finally {
  rmSync(work, { recursive: true, force: true });
  execFileSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'ignore' });
}
