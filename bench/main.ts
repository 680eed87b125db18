/**
 * `npm run bench`: seeds a throwaway WHMCS-8.12-shaped MariaDB database per scale (100 000 and/or
 * 1 000 000 users, 1 000 admins), then measures the built CLI beside
 *   - its peer: the cheapest way a sysadmin gets the same answer with stock tools (the `mariadb`
 *     client running a plain SELECT, the same aggregates, one UPDATE; `node -e 0` for start-up;
 *     a one-exchange SNTP script for clock-check), and
 *   - its floor: the least a Node + mysql2 program pays for the same work (bench/floor-*.cjs),
 * interleaved in the same run, and reports wall time, each process's own CPU, the database server's
 * CPU, peak RSS, ratios against the targets and, across scales, how each cost grows.
 *
 *   npm run bench -- [--scale 100k|1m|100k,1m | --users N[,N…]] [--admins N] [--runs N] [--warmup N]
 *                    [--only id,id] [--keep-db] [--strict] [--readme] [--out FILE] [--buffer-pool MiB]
 *                    [--profile DIR]
 *   node bench/run.mjs --from bench/results.json [--readme]     (render a finished run again)
 *
 * stdout is the README's Performance block in markdown (the machine/load line, one table per scale,
 * the CPU split, the growth across scales); progress goes to stderr. --readme also writes the block
 * into README.md between the bench markers. --buffer-pool sets the server's innodb_buffer_pool_size
 * for the run and puts it back after: at 1 000 000 users the tables (~1 GiB) outgrow MariaDB's
 * default 128 MiB pool, and every scan would then measure the disk rather than the work. --profile
 * writes a V8 CPU profile (node --cpu-prof) of one extra, untimed run of the tool and of the floor
 * for each timed row into DIR, named <scale>-<row>-<ours|floor>.cpuprofile (open them in Chrome
 * DevTools or speedscope), lists them in the results, and puts each one's summary by owner there
 * (bench/profile-summary.ts): the block shows the tool beside its floor, owner by owner. The
 * standalone-executable rows need `npm run release` first (they say so when it is missing).
 *
 * Children get a clean environment: NODE_OPTIONS, NODE_EXTRA_CA_CERTS and WHMCS_* are removed, so
 * a CA bundle Node would read on every start (or a stray preload) cannot blur the ratios.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { openDb, type Db } from '../src/whmcs/connection/db.js';
import { BENCH_CC_HASH, seedBenchData } from './seed.js';
import { eachLine, mean, measurePeakRss, measureSet, median, runOnce, watchServer, which, type Cmd, type RunResult, type Samples, type Side } from './measure.js';
import { summarizeProfileFile } from './profile-summary.js';
import { growthOf, renderMarkdown, updateReadme, type BenchReport, type Row, type ScaleReport, type SideStats } from './report.js';
import { startChronyd, type ChronyPeer } from '../test/helpers/ntp-peers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const PRELOAD = join(ROOT, 'bench/maxrss.cjs');
const SNTP_ONCE = join(ROOT, 'bench/sntp-once.cjs');
const FLOOR = (name: string) => join(ROOT, `bench/floor-${name}.cjs`);
const README = join(ROOT, 'README.md');
const README_RUN = join(ROOT, 'bench/readme-run.json');
const NODE = process.execPath;
const MiB = 1024 * 1024;
const RSS_LIMIT = 120 * MiB;
const SCALES: Record<string, number> = { '100k': 100_000, '1m': 1_000_000 };

interface Args {
  runs: number;
  warmup: number;
  only: string[] | null;
  scales: Array<{ name: string; users: number }>;
  admins: number;
  keepDb: boolean;
  strict: boolean;
  readme: boolean;
  from: string | null;
  out: string;
  /** Sets the server's InnoDB buffer pool for the run (restored after); null: leave it. */
  bufferPoolMiB: number | null;
  /** Also write a V8 CPU profile of one more run of ours and of the floor per timed row, here. */
  profileDir: string | null;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    runs: 11,
    warmup: 2,
    only: null,
    scales: [{ name: '100k', users: SCALES['100k']! }],
    admins: 1_000,
    keepDb: false,
    strict: false,
    readme: false,
    from: null,
    out: join(ROOT, 'bench/results.json'),
    bufferPoolMiB: null,
    profileDir: null,
  };
  const count = (k: string, x: string, min: number) => {
    const n = Number(x.replace(/_/g, ''));
    if (!Number.isInteger(n) || n < min) throw new Error(`${k} needs a whole number of at least ${min}, got "${x}"`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    if (k === '--runs') a.runs = count(k, v(), 1);
    else if (k === '--warmup') a.warmup = count(k, v(), 0);
    else if (k === '--only') a.only = v().split(',');
    else if (k === '--scale') {
      a.scales = v()
        .split(',')
        .map((s) => {
          const users = SCALES[s.toLowerCase()];
          if (!users) throw new Error(`--scale takes ${Object.keys(SCALES).join(', ')} or a comma-separated list of them, got "${s}" (--users N for any other size)`);
          return { name: s.toLowerCase(), users };
        });
    } else if (k === '--users') {
      // A list compares sizes as --scale 100k,1m does, e.g. --users 1000,10000 for a quick check.
      a.scales = v()
        .split(',')
        .map((x) => ({ name: x, users: count(k, x, 10) }));
    } else if (k === '--buffer-pool') a.bufferPoolMiB = count(k, v(), 64); else if (k === '--admins') a.admins = count(k, v(), 1);
    else if (k === '--keep-db') a.keepDb = true;
    else if (k === '--strict') a.strict = true;
    else if (k === '--readme') a.readme = true;
    else if (k === '--from') a.from = resolve(v());
    else if (k === '--out') a.out = resolve(v());
    else if (k === '--profile') a.profileDir = resolve(v());
    else throw new Error(`unknown option ${k} (see the header of bench/main.ts)`);
  }
  return a;
}

function server() {
  const u = new URL(process.env.WHMCS_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306');
  return {
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password || ''),
  };
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k === 'NODE_OPTIONS' || k === 'NODE_EXTRA_CA_CERTS' || k.startsWith('WHMCS_') || k.startsWith('npm_')) continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

function fmtMs(ms: number | null | undefined): string {
  return ms === undefined || ms === null ? '—' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

function stats(label: string, s: Samples): SideStats {
  return { label, medianMs: median(s.ms), samplesMs: s.ms, cpuMs: mean(s.cpuMs), cpuSamplesMs: s.cpuMs, serverCpuMs: mean(s.serverCpuMs), serverCpuSamplesMs: s.serverCpuMs };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.from) {
    const report = JSON.parse(readFileSync(args.from, 'utf8')) as BenchReport;
    if (report.scales.length > 1) report.growth = growthOf(report.scales[0]!, report.scales[report.scales.length - 1]!);
    finish(report, args);
    return;
  }
  const want = (id: string) => !args.only || args.only.includes(id) || args.only.some((o) => id.startsWith(`${o}-`));
  const log = (s: string) => process.stderr.write(s);
  if (!existsSync(join(ROOT, 'dist/cli.cjs'))) throw new Error('dist/ is missing — run `npm run build` (npm run bench does it first)');

  const srv = server();
  const work = mkdtempSync(join(tmpdir(), 'whmcs-2fa-bench-'));
  const stateHome = join(work, 'state');
  const cwd = join(work, 'cwd');
  for (const d of [stateHome, cwd]) execFileSync('mkdir', ['-p', d]);
  // The CLI runs from a snapshot of bin/ and dist/: a concurrent `npm run build` in the checkout
  // (tests do one) must not swap the code under a running benchmark.
  const pkg = join(work, 'pkg');
  execFileSync('mkdir', ['-p', pkg]);
  execFileSync('cp', ['-R', join(ROOT, 'bin'), join(ROOT, 'dist'), join(ROOT, 'package.json'), pkg]);
  symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
  const BIN = join(pkg, 'bin/whmcs-2fa.js');
  const ONE_FILE = join(pkg, 'dist/whmcs-2fa.cjs');
  // A private cache directory: the warm-up run fills the V8 code cache, as a user's first run does.
  const env = cleanEnv({ XDG_STATE_HOME: stateHome, XDG_CACHE_HOME: join(work, 'cache'), ...(srv.password ? { MYSQL_PWD: srv.password } : {}) });

  let admin: Db | null = null;
  let db: Db | null = null;
  let dbName = '';
  let restorePool: (() => Promise<void>) | null = null;
  const peers: ChronyPeer[] = [];
  const report: BenchReport = {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: +(totalmem() / 1024 ** 3).toFixed(1),
      kernel: release(),
      node: process.version,
      mariadb: '',
      bufferPoolMiB: null,
      loadAverageAtStart: loadavg().map((x) => +x.toFixed(2)),
      loadAverageAtEnd: [],
    },
    options: { runs: args.runs, warmup: args.warmup, slowRuns: Math.min(args.runs, 5), undoRuns: Math.min(args.runs, 3), admins: args.admins, only: args.only },
    serverCpu: null,
    startup: [],
    scales: [],
    growth: null,
  };

  const dropDb = async () => {
    if (db) await db.close().catch(() => {});
    db = null;
    if (admin && dbName && !args.keepDb) await admin.knex.raw(`DROP DATABASE IF EXISTS \`${dbName}\``).catch(() => {});
    dbName = '';
  };
  const stop = async () => {
    for (const p of peers) await p.stop().catch(() => {});
    await dropDb();
    if (restorePool) await restorePool().catch((e) => log(`could not restore innodb_buffer_pool_size: ${(e as Error).message}\n`));
    if (admin) await admin.close().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    void stop().finally(() => process.exit(130));
  });

  const ours = (label: string, ...cli: string[]): Cmd => ({ label, argv: [NODE, BIN, ...cli] });
  const nodeE0: Cmd = { label: 'node -e 0', argv: [NODE, '-e', '0'] };
  const haveMariadbClient = which('mariadb');
  const noClient = haveMariadbClient ? null : 'the `mariadb` client is not installed (package mariadb-client)';

  /** Whether the built CLI has `command` with all these options; null if yes, else why not. */
  const missing = (command: string, options: string[]): string | null => {
    const r = runOnce(ours(`${command} --help`, command, '--help'), { env, cwd, capture: true });
    if (r.status !== 0) return `\`${command}\` is not implemented yet`;
    const absent = options.filter((o) => !r.stdout.includes(o));
    return absent.length ? `\`${command}\` has no ${absent.join(', ')} yet` : null;
  };

  interface CompareSpec {
    peer: Side;
    floor?: Side | null;
    ours: Side;
    /** ours ÷ peer must not exceed it; null: information only. */
    target: number | null;
    unavailable?: string | null;
    runs?: number;
    check?: (side: 'peer' | 'floor' | 'ours', r: RunResult) => Promise<string | null> | string | null;
  }

  const compare = async (rows: Row[], id: string, measure: string, spec: CompareSpec) => {
    if (!want(id)) return;
    const target = spec.target === null ? '—' : `≤ ${spec.target}×`;
    if (spec.unavailable) {
      rows.push({ id, measure, kind: 'time', available: false, note: spec.unavailable, target });
      log(`${id}: not available — ${spec.unavailable}\n`);
      return;
    }
    log(`${id}: ${spec.ours.cmd.label} vs ${spec.peer.cmd.label}${spec.floor ? ` and ${spec.floor.cmd.label}` : ''} … `);
    const sides: Record<string, Side> = { peer: spec.peer, ...(spec.floor ? { floor: spec.floor } : {}), ours: spec.ours };
    const r = await measureSet({ sides, warmup: args.warmup, runs: spec.runs ?? args.runs, env, cwd, check: spec.check as never });
    const peer = stats(spec.peer.cmd.label, r.samples.peer!);
    const o = stats(spec.ours.cmd.label, r.samples.ours!);
    const floor = spec.floor ? stats(spec.floor.cmd.label, r.samples.floor!) : undefined;
    const ratio = o.medianMs / peer.medianMs;
    rows.push({
      id,
      measure,
      kind: 'time',
      available: true,
      peer,
      ...(floor ? { floor, ratioFloor: o.medianMs / floor.medianMs, floorRatio: floor.medianMs / peer.medianMs } : {}),
      ours: o,
      ratio,
      target,
      ...(spec.target === null ? {} : { pass: ratio <= spec.target }),
      load: { before: r.loadBefore, after: r.loadAfter },
    });
    log(`${fmtMs(o.medianMs)} vs ${fmtMs(peer.medianMs)}${floor ? ` (floor ${fmtMs(floor.medianMs)})` : ''} = ${ratio.toFixed(2)}×\n`);
    // One more run of ours (and of the floor) under V8's sampling profiler, untimed: where the gap to the floor goes.
    if (args.profileDir) {
      execFileSync('mkdir', ['-p', args.profileDir]);
      const prefix = `${rows === report.startup ? 'startup' : (report.scales[report.scales.length - 1]?.scale ?? 'x')}-${id}`;
      const profiles: Record<string, string> = {};
      for (const [name, sd] of [['ours', spec.ours], ['floor', spec.floor]] as const) {
        if (!sd || sd.cmd.argv[0] !== NODE) continue;
        const file = `${prefix}-${name}.cpuprofile`;
        await sd.before?.();
        const argv = [NODE, '--cpu-prof', '--cpu-prof-dir', args.profileDir, '--cpu-prof-name', file, ...sd.cmd.argv.slice(1)];
        const r = runOnce({ label: `${sd.cmd.label} (profile)`, argv }, { env: { ...env, ...sd.env }, cwd });
        if (r.status === 0) profiles[name] = join(args.profileDir, file);
      }
      const row = rows[rows.length - 1]!;
      // Summarized now, while the copy of dist/ the runs used (and its source maps) still exists.
      row.profileSummary = Object.fromEntries(Object.entries(profiles).map(([side, file]) => [side, summarizeProfileFile(file)]));
      // Named from the checkout when they are in it: the results may be committed (bench/readme-run.json).
      const named = (f: string) => (relative(ROOT, f).startsWith('..') || isAbsolute(relative(ROOT, f)) ? f : relative(ROOT, f));
      row.profiles = Object.fromEntries(Object.entries(profiles).map(([side, file]) => [side, named(file)]));
    }
  };

  const rss = async (rows: Row[], id: string, measure: string, cmd: Cmd, o: { unavailable?: string | null; before?: () => Promise<void>; env?: NodeJS.ProcessEnv } = {}) => {
    if (!want(id)) return;
    if (o.unavailable) {
      rows.push({ id, measure, kind: 'rss', available: false, note: o.unavailable, target: '≤ 120 MiB' });
      return;
    }
    // The peak of three runs, not the median: the target is a ceiling.
    const m = await measurePeakRss(cmd, { env: { ...env, ...o.env }, cwd, preload: PRELOAD, runs: 3, before: o.before });
    const peak = Math.max(...m.bytes);
    rows.push({ id, measure, kind: 'rss', available: true, rss: { label: cmd.label, peakBytes: peak, samplesBytes: m.bytes, cpuSamplesMs: m.cpuMs }, target: '≤ 120 MiB', pass: peak <= RSS_LIMIT });
    log(`${id}: peak RSS ${(peak / MiB).toFixed(1)} MiB\n`);
  };

  try {
    admin = await openDb({ kind: 'mysql', ...srv, database: '', connectTimeoutMs: 5000 });
    const [[info]] = (await admin.knex.raw('SELECT VERSION() AS v, @@pid_file AS pidFile, @@innodb_buffer_pool_size AS pool')) as [Array<{ v: string; pidFile: string | null; pool: unknown }>];
    report.machine.mariadb = String(info!.v);
    if (args.bufferPoolMiB !== null && args.bufferPoolMiB * MiB !== Number(info!.pool)) {
      const original = Number(info!.pool);
      await setBufferPool(admin.knex, args.bufferPoolMiB * MiB);
      const a = admin;
      restorePool = () => setBufferPool(a.knex, original);
    }
    report.machine.bufferPoolMiB = Math.round(Number(((await admin.knex.raw('SELECT @@innodb_buffer_pool_size AS p')) as [[{ p: unknown }]])[0][0].p) / MiB);
    // Only a server on this machine can be watched; a remote one reports no server CPU.
    const loopback = /^(127\.|localhost$|::1$)/.test(srv.host);
    report.serverCpu = loopback ? watchServer(info!.pidFile) : `the server (${srv.host}) is not on this machine`;
    if (report.serverCpu) log(`server CPU not measured: ${report.serverCpu}\n`);

    // --- start-up: independent of the data, measured once ---
    const startup = report.startup;
    await compare(startup, 'version', '`--version`', { peer: { cmd: nodeE0 }, ours: { cmd: ours('whmcs-2fa --version', '--version') }, target: 1.1 });
    await compare(startup, 'help', '`--help` into a file', {
      peer: { cmd: nodeE0 },
      ours: { cmd: ours('whmcs-2fa --help', '--help') },
      target: 1.3,
      check: (side, r) => (side === 'ours' && !r.stdout.includes('Usage: whmcs-2fa') ? 'no usage text' : null),
    });
    await rss(startup, 'version-rss', '`--version` peak RSS', ours('whmcs-2fa --version', '--version'));

    // The standalone executable (npm run release), against node -e 0 and the npm-installed command.
    if (want('executable')) {
      const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
      const exe = join(ROOT, 'release', `whmcs-2fa-${version}-linux-${process.arch}`);
      if (existsSync(exe)) {
        const mb = (statSync(exe).size / MiB).toFixed(0);
        const sandbox = join(work, 'sandbox');
        runOnce({ label: 'sandbox', argv: [exe, 'sandbox', sandbox] }, { env, cwd, capture: true });
        const exeCmd = (label: string, ...cli: string[]): Cmd => ({ label, argv: [exe, ...cli] });
        const status = ['--whmcs-dir', sandbox, 'status', '--format', 'json'];
        await compare(startup, 'exe-version', `executable \`--version\` (${mb} MiB)`, { peer: { cmd: nodeE0 }, ours: { cmd: exeCmd('executable --version', '--version') }, target: null });
        await compare(startup, 'exe-version-npm', 'executable `--version` vs the npm-installed command', {
          peer: { cmd: ours('npm-installed --version', '--version') },
          ours: { cmd: exeCmd('executable --version', '--version') },
          target: null,
        });
        await compare(startup, 'exe-status', 'executable `status` on the sandbox', { peer: { cmd: nodeE0 }, ours: { cmd: exeCmd('executable status (sandbox)', ...status) }, target: null });
        await compare(startup, 'exe-status-npm', '`status` on the sandbox vs the npm-installed command', {
          peer: { cmd: ours('npm-installed status (sandbox)', ...status) },
          ours: { cmd: exeCmd('executable status (sandbox)', ...status) },
          target: null,
        });
      } else {
        startup.push({ id: 'executable', measure: 'standalone executable', kind: 'info', available: false, note: `${exe} was not built (npm run release)`, target: '—' });
      }
    }
    // The one-file artefact, for information.
    if (want('one-file')) {
      if (existsSync(ONE_FILE)) {
        await compare(startup, 'one-file', 'one-file artefact `--help`', { peer: { cmd: nodeE0 }, ours: { cmd: { label: 'node dist/whmcs-2fa.cjs --help', argv: [NODE, ONE_FILE, '--help'] } }, target: null });
      } else {
        startup.push({ id: 'one-file', measure: 'one-file artefact `--help`', kind: 'info', available: false, note: 'dist/whmcs-2fa.cjs was not built', target: '—' });
      }
    }

    // One loopback chronyd for every scale's clock-check.
    let noChrony: string | null = null;
    if (want('clock-check')) {
      noChrony = which('chronyd') ? missing('clock-check', ['--server']) : 'chronyd is not installed (package chrony)';
      if (!noChrony) {
        try {
          peers.push(await startChronyd({}));
        } catch (e) {
          noChrony = `chronyd did not start: ${(e as Error).message.split('\n')[0]}`;
        }
      }
    }

    for (const scale of args.scales) {
      const rows: Row[] = [];
      dbName = `whmcs2fa_bench_${randomBytes(4).toString('hex')}`;
      await admin.knex.raw(`CREATE DATABASE \`${dbName}\` CHARACTER SET utf8 COLLATE utf8_unicode_ci`);
      db = await openDb({ kind: 'mysql', ...srv, database: dbName });
      const knex = db.knex;
      const whmcsDir = join(work, `whmcs-${scale.name}`);
      execFileSync('mkdir', ['-p', whmcsDir]);

      const t0 = Date.now();
      log(`seeding ${dbName}: ${scale.users} users, ${args.admins} admins … `);
      const counts = await seedBenchData(knex, { users: scale.users, admins: args.admins });
      const seed = { counts, seconds: +((Date.now() - t0) / 1000).toFixed(1) };
      log(`${seed.seconds} s ${JSON.stringify(counts.byModule)}\n`);
      const sr: ScaleReport = { scale: scale.name, users: counts.users, admins: counts.admins, seed, rows };
      report.scales.push(sr);

      const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
      writeFileSync(
        join(whmcsDir, 'configuration.php'),
        [
          '<?php',
          `$db_host = ${q(srv.host)};`,
          `$db_port = ${q(String(srv.port))};`,
          `$db_username = ${q(srv.user)};`,
          `$db_password = ${q(srv.password)};`,
          `$db_name = ${q(dbName)};`,
          `$cc_encryption_hash = ${q(BENCH_CC_HASH)};`,
          `$mysql_charset = 'utf8';`,
          '',
        ].join('\n'),
      );
      const oursDb = (label: string, ...cli: string[]): Cmd => ours(label, '--whmcs-dir', whmcsDir, ...cli);
      const mariadb = (label: string, sql: string): Cmd => ({
        label,
        // --quick: rows are printed as they arrive instead of each result being held in memory first.
        argv: ['mariadb', '--protocol=TCP', '-h', srv.host, '-P', String(srv.port), '-u', srv.user, '--batch', '--quick', dbName, '-e', sql],
      });
      const floor = (name: string, label: string, ...extra: string[]): Cmd => ({ label, argv: [NODE, FLOOR(name), pkg, srv.host, String(srv.port), srv.user, dbName, ...extra] });
      const n = (x: number) => x.toLocaleString('en-US').replace(/,/g, ' ');
      const usersText = `${n(counts.users)} users`;

      // --- status: the same aggregates ---
      const statusSql = [
        "SELECT value FROM tblconfiguration WHERE setting = 'Version'",
        "SELECT id, value, updated_at FROM tblconfiguration WHERE setting = '2fasettings' ORDER BY id LIMIT 1",
        'SELECT authmodule AS module, COUNT(*) AS n, SUM(CASE WHEN disabled = 0 THEN 1 ELSE 0 END) AS active FROM tbladmins GROUP BY authmodule',
        'SELECT second_factor AS module, COUNT(*) AS n FROM tblusers GROUP BY second_factor',
      ].join('; ');
      const statusPeer: Side = { cmd: mariadb('mariadb: the same aggregates', statusSql) };
      const statusCmd = oursDb('whmcs-2fa status', 'status', '--format', 'json');
      await compare(rows, 'status', `\`status\` (${usersText})`, {
        peer: statusPeer,
        floor: { cmd: floor('status', 'node + mysql2: the same aggregates') },
        ours: { cmd: statusCmd },
        target: 1.5,
        unavailable: noClient,
        check: (side, r) => {
          if (side !== 'ours') return null;
          const users = JSON.parse(r.stdout)?.accounts?.users?.total;
          return users === counts.users ? null : `reports ${users} users, expected ${counts.users}`;
        },
      });
      await compare(rows, 'status-cold', '`status` without the V8 code cache (a first run)', {
        peer: statusPeer,
        ours: { cmd: statusCmd, env: { NODE_DISABLE_COMPILE_CACHE: '1' } },
        target: null,
        unavailable: noClient,
      });
      await rss(rows, 'status-rss', '`status` peak RSS', statusCmd);
      // audit reads every admin and the users' enrolment: its memory must not grow with them either.
      await rss(rows, 'audit-rss', '`audit --format json` peak RSS', oursDb('whmcs-2fa audit --fail-on none --format json', 'audit', '--fail-on', 'none', '--format', 'json'), {
        unavailable: missing('audit', ['--fail-on']),
      });

      // --- accounts: the peer is a plain SELECT of the rows and one of the client links ---
      const accountsMissing = missing('accounts', ['--users']);
      const accountsSql = 'SELECT id, email, second_factor, second_factor_config FROM tblusers; SELECT auth_user_id, client_id, owner FROM tblusers_clients';
      await compare(rows, 'accounts', `\`accounts --users --format json\` (${usersText})`, {
        peer: { cmd: mariadb('mariadb: SELECT the rows, SELECT the links', accountsSql) },
        floor: { cmd: floor('accounts', 'node + mysql2: the same rows as JSON, undecoded') },
        ours: { cmd: oursDb('whmcs-2fa accounts --users --format json', 'accounts', '--users', '--format', 'json') },
        target: 2,
        unavailable: noClient ?? accountsMissing,
        runs: counts.users > 200_000 ? Math.min(args.runs, 5) : undefined,
        check: (side, r) => {
          // Counted line by line (at 1 000 000 users an output is hundreds of MB). The peer prints
          // two result sets, each after its header line; the JSON listings indent a user's "id" by 6.
          let got = 0;
          if (side === 'peer') eachLine(r.stdoutFile, (line) => (line === 'auth_user_id\tclient_id\towner' ? false : void got++));
          else eachLine(r.stdoutFile, (line) => void (line.startsWith('      "id": ') && got++));
          if (side === 'peer') got -= 1;
          return got === counts.users ? null : `${got} users, expected ${counts.users}`;
        },
      });
      for (const format of ['json', 'csv', 'yaml', 'table']) {
        await rss(rows, `accounts-rss-${format}`, `\`accounts --users --format ${format}\` peak RSS`, oursDb(`whmcs-2fa accounts --users --format ${format}`, 'accounts', '--users', '--format', format), {
          unavailable: accountsMissing,
        });
      }

      // --- bulk reset and its undo: every run starts from the same rows ---
      const resetMissing = noClient ?? missing('reset', ['--module', '--users']);
      const slow = Math.min(args.runs, 5);
      let restore: (() => Promise<void>) | undefined;
      if (!resetMissing && ['reset', 'reset-rss', 'undo', 'undo-rss'].some(want)) restore = await resettable(knex, stateHome);
      const resetSql = "UPDATE tblusers SET second_factor = '', second_factor_config = '', updated_at = NOW() WHERE second_factor = 'duosecurity'";
      const resetCmd = oursDb('whmcs-2fa reset --module duosecurity --users --yes', 'reset', '--module', 'duosecurity', '--users', '--yes', '--format', 'json');
      const journal = join(work, 'floor-journal.jsonl');
      const floorReset = floor('reset', 'node + mysql2: read, journal, fsync, UPDATE', journal);
      await compare(rows, 'reset', `bulk \`reset --module duosecurity --users\` (${n(counts.duoUsers)} rows)`, {
        peer: { cmd: mariadb('mariadb: one UPDATE', resetSql), before: restore },
        floor: { cmd: floorReset, before: restore },
        ours: { cmd: resetCmd, before: restore },
        target: 1.5,
        unavailable: resetMissing,
        runs: slow,
        check: (side, r) => {
          if (side === 'peer') return null;
          const got = side === 'ours' ? JSON.parse(r.stdout)?.rowsReset : JSON.parse(r.stdout)?.rows;
          return got === counts.duoUsers ? null : `reset ${got} rows, expected ${counts.duoUsers}`;
        },
      });
      await rss(rows, 'reset-rss', 'bulk reset peak RSS', resetCmd, { unavailable: resetMissing, before: restore });

      // undo of that reset. Each side first makes its own reset, untimed: the peer restores the rows
      // from a copy a careful sysadmin took first (one UPDATE … JOIN); the floor replays the journal
      // floor-reset wrote; the tool undoes its last change.
      const undoMissing = resetMissing ?? missing('undo', ['--list']);
      const untimed = (cmd: Cmd) => {
        const r = runOnce(cmd, { env, cwd, capture: true });
        if (r.status !== 0) throw new Error(`${cmd.label} (before undo): exit ${r.status}\n${r.stderr.slice(0, 2000)}`);
      };
      const undoCmd = oursDb('whmcs-2fa undo --yes', 'undo', '--yes', '--format', 'json');
      const resetThen = (cmd: Cmd | null) => async () => {
        await restore!();
        if (cmd) untimed(cmd);
        else await knex.raw(resetSql);
      };
      const duoBack = async () => {
        const [[{ c }]] = (await knex.raw("SELECT COUNT(*) AS c FROM tblusers WHERE second_factor = 'duosecurity'")) as [[{ c: unknown }]];
        return Number(c) === counts.duoUsers ? null : `${c} rows on duosecurity after undo, expected ${counts.duoUsers}`;
      };
      await compare(rows, 'undo', `\`undo\` of that bulk reset (${n(counts.duoUsers)} rows)`, {
        peer: { cmd: mariadb('mariadb: one UPDATE … JOIN from a copy', 'UPDATE tblusers u JOIN bench_duo_copy c ON c.id = u.id SET u.second_factor = c.second_factor, u.second_factor_config = c.second_factor_config, u.updated_at = NOW()'), before: restore && resetThen(null) },
        floor: { cmd: floor('undo', 'node + mysql2: journal into a temporary table, one UPDATE … JOIN', journal), before: restore && resetThen(floorReset) },
        ours: { cmd: undoCmd, before: restore && resetThen(resetCmd) },
        target: null,
        unavailable: undoMissing,
        runs: Math.min(args.runs, 3),
        check: () => duoBack(),
      });
      await rss(rows, 'undo-rss', '`undo` of the bulk reset peak RSS', undoCmd, { unavailable: undoMissing, before: restore && resetThen(resetCmd) });
      await restore?.();

      // --- clock-check as the README shows it: $WHMCS_DIR set (configuration.php found), one server ---
      const ntpPort = String(peers[0]?.port ?? 123);
      const clockCmd = ours('WHMCS_DIR=… whmcs-2fa clock-check --server (one)', 'clock-check', '--server', `127.0.0.1:${ntpPort}`);
      await compare(rows, 'clock-check', '`clock-check`, a WHMCS configured, one NTP server', {
        peer: { cmd: { label: 'node: one raw SNTP exchange', argv: [NODE, SNTP_ONCE, ntpPort] } },
        floor: { cmd: { label: 'node + mysql2: one SNTP exchange, one database clock read', argv: [NODE, FLOOR('clock'), pkg, ntpPort, srv.host, String(srv.port), srv.user, dbName] } },
        ours: { cmd: clockCmd, env: { WHMCS_DIR: whmcsDir } },
        target: 1.3,
        unavailable: noChrony,
        check: (side, r) => {
          if (side !== 'ours') return null;
          // The table, as the README shows it (JSON only if a format is asked for): either is accepted.
          const read = r.stdout.startsWith('{') ? typeof JSON.parse(r.stdout)?.database?.offset === 'number' : /Database clock +[+-]\d/.test(r.stdout);
          return read ? null : `the database clock was not read:\n${r.stdout.slice(0, 1000)}`;
        },
      });
      await rss(rows, 'clock-check-rss', '`clock-check` peak RSS', clockCmd, { unavailable: noChrony, env: { WHMCS_DIR: whmcsDir } });

      await dropDb();
    }
  } finally {
    await stop();
  }

  report.machine.loadAverageAtEnd = loadavg().map((x) => +x.toFixed(2));
  if (report.scales.length > 1) report.growth = growthOf(report.scales[0]!, report.scales[report.scales.length - 1]!);
  writeFileSync(args.out, JSON.stringify(report, null, 2) + '\n');
  log(`Written to ${args.out}.\n`);
  finish(report, args);
}

/** Prints the report (and writes it into the README when asked); --strict: exit 1 on a missed target. */
function finish(report: BenchReport, args: Args): void {
  const md = renderMarkdown(report);
  process.stdout.write(md);
  if (args.readme) {
    writeFileSync(README, updateReadme(readFileSync(README, 'utf8'), md));
    // The run behind the block, kept in the repository: `--from bench/readme-run.json` renders it
    // again, and a test checks that the block is exactly that rendering.
    if (!args.from || resolve(args.from) !== README_RUN) writeFileSync(README_RUN, JSON.stringify(report, null, 2) + '\n');
    process.stderr.write('README.md: performance block updated (its run: bench/readme-run.json).\n');
  }
  const rows = [...report.startup, ...report.scales.flatMap((s) => s.rows)];
  if (args.strict && rows.some((r) => r.pass === false)) process.exitCode = 1;
}

/** SET GLOBAL innodb_buffer_pool_size, and wait (≤ 60 s) until the resize, which runs in the background, has finished. */
async function setBufferPool(knex: Knex, bytes: number): Promise<void> {
  const status = async () => {
    const [rows] = (await knex.raw("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_resize_status'")) as [Array<{ Value: string }>];
    return rows[0]?.Value ?? '';
  };
  await knex.raw(`SET GLOBAL innodb_buffer_pool_size = ${Math.round(bytes)}`);
  for (let i = 0; i < 600; i++) {
    // Empty (builds that resize at once), "Completed resizing buffer pool at …", "Size did not
    // change …": done. "Resizing …", "Withdrawing blocks …" and the like: still under way.
    const now = await status();
    if (now === '' || /completed|did not change|nothing to do/i.test(now)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Keeps a copy of every row the bulk reset changes and returns a function that puts them back,
 * removes the activity-log rows and history entries a run added — between runs, outside the timing.
 */
async function resettable(knex: Knex, stateHome: string): Promise<() => Promise<void>> {
  await knex.raw('DROP TABLE IF EXISTS bench_duo_copy');
  await knex.raw(
    "CREATE TABLE bench_duo_copy (PRIMARY KEY (id)) AS SELECT id, second_factor, second_factor_config, updated_at FROM tblusers WHERE second_factor = 'duosecurity'",
  );
  const [[{ m }]] = (await knex.raw('SELECT COALESCE(MAX(id), 0) AS m FROM tblactivitylog')) as [[{ m: unknown }]];
  const lastActivity = Number(m);
  return async () => {
    await knex.raw(
      'UPDATE tblusers u JOIN bench_duo_copy c ON c.id = u.id SET u.second_factor = c.second_factor, u.second_factor_config = c.second_factor_config, u.updated_at = c.updated_at',
    );
    await knex.raw('DELETE FROM tblactivitylog WHERE id > ?', [lastActivity]);
    // The history lives in the database: the run's entries go too (the tables stay, as after a first run).
    for (const t of ['mod_whmcs2fa_journal_parts', 'mod_whmcs2fa_journal']) await knex.raw(`DELETE FROM ${t}`).catch(() => {});
    rmSync(stateHome, { recursive: true, force: true });
  };
}

main().catch((e) => {
  process.stderr.write(`\nbench failed: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
