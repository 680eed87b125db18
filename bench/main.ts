/**
 * `npm run bench`: seeds a throwaway WHMCS-8.12-shaped MariaDB database (100 000 users, 1 000
 * admins), then measures the built CLI against baselines that do the same work with the least
 * possible machinery, side by side in the same run, and reports ratios against the targets.
 *
 *   npm run bench -- [--runs N] [--warmup N] [--only id,id] [--users N] [--admins N] [--keep-db] [--strict]
 *
 * Children get a clean environment: NODE_OPTIONS, NODE_EXTRA_CA_CERTS and WHMCS_* are removed, so
 * a CA bundle Node would read on every start (or a stray preload) cannot blur the ratios.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { openDb, type Db } from '../src/whmcs/db.js';
import { BENCH_CC_HASH, seedBenchData, type SeedCounts } from './seed.js';
import { measurePair, measurePeakRss, median, runOnce, type Cmd, type RunResult } from './measure.js';
import { startChronyd, type ChronyPeer } from '../test/helpers/ntp-peers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const PRELOAD = join(ROOT, 'bench/maxrss.cjs');
const SNTP_ONCE = join(ROOT, 'bench/sntp-once.mjs');
const FLOOR_STATUS = join(ROOT, 'bench/floor-status.cjs');
const FLOOR_RESET = join(ROOT, 'bench/floor-reset.cjs');
const RESULTS = join(ROOT, 'bench/results.json');
const NODE = process.execPath;
const MB = 1024 * 1024;
const RSS_LIMIT = 120 * MB;

interface Args {
  runs: number;
  warmup: number;
  only: string[] | null;
  users: number;
  admins: number;
  keepDb: boolean;
  strict: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { runs: 11, warmup: 2, only: null, users: 100_000, admins: 1_000, keepDb: false, strict: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    if (k === '--runs') a.runs = Number(v());
    else if (k === '--warmup') a.warmup = Number(v());
    else if (k === '--only') a.only = v().split(',');
    else if (k === '--users') a.users = Number(v());
    else if (k === '--admins') a.admins = Number(v());
    else if (k === '--keep-db') a.keepDb = true;
    else if (k === '--strict') a.strict = true;
    else throw new Error(`unknown option ${k} (see the header of bench/main.ts)`);
  }
  return a;
}

interface Row {
  id: string;
  measure: string;
  kind: 'ratio' | 'rss' | 'info';
  available: boolean;
  note?: string;
  baseline?: { label: string; medianMs: number; samplesMs: number[] };
  ours?: { label: string; medianMs?: number; samplesMs?: number[]; peakRssBytes?: number; samplesBytes?: number[] };
  ratio?: number;
  target?: string;
  pass?: boolean;
  load?: { before: number; after: number };
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

function which(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

function fmtMs(ms: number | undefined): string {
  return ms === undefined ? '—' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const want = (id: string) => !args.only || args.only.includes(id);
  if (!existsSync(join(ROOT, 'dist/cli.cjs'))) throw new Error('dist/ is missing — run `npm run build` (npm run bench does it first)');

  const srv = server();
  const dbName = `whmcs2fa_bench_${randomBytes(4).toString('hex')}`;
  const work = mkdtempSync(join(tmpdir(), 'whmcs-2fa-bench-'));
  const stateHome = join(work, 'state');
  const whmcsDir = join(work, 'whmcs');
  const cwd = join(work, 'cwd');
  for (const d of [stateHome, whmcsDir, cwd]) execFileSync('mkdir', ['-p', d]);
  // The CLI runs from a snapshot of bin/ and dist/: a concurrent `npm run build` in the checkout
  // (tests do one) must not swap the code under a running benchmark.
  const pkg = join(work, 'pkg');
  execFileSync('mkdir', ['-p', pkg]);
  execFileSync('cp', ['-R', join(ROOT, 'bin'), join(ROOT, 'dist'), join(ROOT, 'package.json'), pkg]);
  symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
  const BIN = join(pkg, 'bin/whmcs-2fa.js');
  const ONE_FILE = join(pkg, 'dist/whmcs-2fa.mjs');
  // A private cache directory: the warm-up run fills the V8 code cache, as a user's first run does.
  const env = cleanEnv({ XDG_STATE_HOME: stateHome, XDG_CACHE_HOME: join(work, 'cache'), ...(srv.password ? { MYSQL_PWD: srv.password } : {}) });

  const rows: Row[] = [];
  let admin: Db | null = null;
  let db: Db | null = null;
  const peers: ChronyPeer[] = [];
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: +(totalmem() / 1024 ** 3).toFixed(1),
    kernel: release(),
    node: process.version,
    mariadb: '',
    loadAverageAtStart: loadavg().map((x) => +x.toFixed(2)),
  };
  let seed: { counts: SeedCounts; seconds: number } | null = null;

  const stop = async () => {
    for (const p of peers) await p.stop().catch(() => {});
    if (db) await db.close().catch(() => {});
    if (admin) {
      if (!args.keepDb) await admin.knex.raw(`DROP DATABASE IF EXISTS \`${dbName}\``).catch(() => {});
      await admin.close().catch(() => {});
    }
    rmSync(work, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    void stop().finally(() => process.exit(130));
  });

  try {
    admin = await openDb({ kind: 'mysql', ...srv, database: '', connectTimeoutMs: 5000 });
    machine.mariadb = String(((await admin.knex.raw('SELECT VERSION() AS v')) as [Array<{ v: string }>])[0][0]!.v);
    await admin.knex.raw(`CREATE DATABASE \`${dbName}\` CHARACTER SET utf8 COLLATE utf8_unicode_ci`);
    db = await openDb({ kind: 'mysql', ...srv, database: dbName });
    const knex = db.knex;

    const t0 = Date.now();
    process.stderr.write(`seeding ${dbName}: ${args.users} users, ${args.admins} admins … `);
    const counts = await seedBenchData(knex, { users: args.users, admins: args.admins });
    seed = { counts, seconds: +((Date.now() - t0) / 1000).toFixed(1) };
    process.stderr.write(`${seed.seconds} s ${JSON.stringify(counts.byModule)}\n`);

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

    const ours = (label: string, ...cli: string[]): Cmd => ({ label, argv: [NODE, BIN, ...cli] });
    const oursDb = (label: string, ...cli: string[]): Cmd => ours(label, '--whmcs-dir', whmcsDir, ...cli);
    const mariadb = (label: string, sql: string): Cmd => ({
      label,
      argv: ['mariadb', '--protocol=TCP', '-h', srv.host, '-P', String(srv.port), '-u', srv.user, '--batch', dbName, '-e', sql],
    });
    const nodeE0: Cmd = { label: 'node -e 0', argv: [NODE, '-e', '0'] };
    const haveMariadbClient = which('mariadb');

    /** Whether the built CLI has `command` with all these options; null if yes, else why not. */
    const missing = (command: string, options: string[]): string | null => {
      const r = runOnce(ours(`${command} --help`, command, '--help'), { env, cwd, capture: true });
      if (r.status !== 0) return `\`${command}\` is not implemented yet`;
      const absent = options.filter((o) => !r.stdout.includes(o));
      return absent.length ? `\`${command}\` has no ${absent.join(', ')} yet` : null;
    };

    const pair = async (
      id: string,
      measure: string,
      targetRatio: number,
      spec: {
        baseline: Cmd;
        ours: Cmd;
        unavailable?: string | null;
        runs?: number;
        oursEnv?: NodeJS.ProcessEnv;
        info?: boolean;
        before?: () => Promise<void>;
        check?: (side: 'baseline' | 'ours', r: RunResult) => string | null;
      },
    ) => {
      if (!want(id)) return;
      const target = spec.info ? '—' : `≤ ${targetRatio}×`;
      if (spec.unavailable) {
        rows.push({ id, measure, kind: 'ratio', available: false, note: spec.unavailable, target });
        process.stderr.write(`${id}: not available — ${spec.unavailable}\n`);
        return;
      }
      process.stderr.write(`${id}: ${spec.ours.label} vs ${spec.baseline.label} … `);
      const p = await measurePair({ ...spec, warmup: args.warmup, runs: spec.runs ?? args.runs, env, cwd });
      const b = median(p.baseline);
      const o = median(p.ours);
      const ratio = o / b;
      rows.push({
        id,
        measure,
        kind: spec.info ? 'info' : 'ratio',
        available: true,
        baseline: { label: spec.baseline.label, medianMs: b, samplesMs: p.baseline },
        ours: { label: spec.ours.label, medianMs: o, samplesMs: p.ours },
        ratio,
        target,
        ...(spec.info ? {} : { pass: ratio <= targetRatio }),
        load: { before: p.loadBefore, after: p.loadAfter },
      });
      process.stderr.write(`${fmtMs(o)} vs ${fmtMs(b)} = ${ratio.toFixed(2)}×\n`);
    };

    const rss = async (id: string, measure: string, cmd: Cmd, o: { unavailable?: string | null; before?: () => Promise<void>; info?: boolean } = {}) => {
      if (!want(id)) return;
      const target = o.info ? '—' : '≤ 120 MB';
      if (o.unavailable) {
        rows.push({ id, measure, kind: 'rss', available: false, note: o.unavailable, target });
        return;
      }
      // The peak of three runs, not the median: the target is a ceiling.
      const samples = await measurePeakRss(cmd, { env, cwd, preload: PRELOAD, runs: 3, before: o.before });
      const peak = Math.max(...samples);
      rows.push({ id, measure, kind: 'rss', available: true, ours: { label: cmd.label, peakRssBytes: peak, samplesBytes: samples }, target, ...(o.info ? {} : { pass: peak <= RSS_LIMIT }) });
      process.stderr.write(`${id}: peak RSS ${(peak / MB).toFixed(1)} MB\n`);
    };

    // --- start-up ---
    await pair('version', '`--version` wall time', 1.3, { baseline: nodeE0, ours: ours('whmcs-2fa --version', '--version') });
    await pair('help', '`--help` wall time', 1.3, {
      baseline: nodeE0,
      ours: ours('whmcs-2fa --help', '--help'),
      check: (side, r) => (side === 'ours' && !r.stdout.includes('Usage: whmcs-2fa') ? 'no usage text' : null),
    });

    // --- status ---
    const noClient = haveMariadbClient ? null : 'the `mariadb` client is not installed (package mariadb-client)';
    const statusSql = [
      "SELECT value FROM tblconfiguration WHERE setting = 'Version'",
      "SELECT id, value, updated_at FROM tblconfiguration WHERE setting = '2fasettings' ORDER BY id LIMIT 1",
      'SELECT authmodule AS module, COUNT(*) AS n, SUM(CASE WHEN disabled = 0 THEN 1 ELSE 0 END) AS active FROM tbladmins GROUP BY authmodule',
      'SELECT second_factor AS module, COUNT(*) AS n FROM tblusers GROUP BY second_factor',
    ].join('; ');
    await pair('status', '`status` (100k users)', 1.5, {
      baseline: mariadb('mariadb: the same aggregates', statusSql),
      ours: oursDb('whmcs-2fa status', 'status', '--format', 'json'),
      unavailable: noClient,
      check: (side, r) => {
        if (side === 'baseline') return null;
        const users = JSON.parse(r.stdout)?.accounts?.users?.total;
        return users === counts.users ? null : `reports ${users} users, expected ${counts.users}`;
      },
    });
    await pair('status-cold', '`status` without the V8 code cache (first run)', 1.5, {
      baseline: mariadb('mariadb: the same aggregates', statusSql),
      ours: oursDb('whmcs-2fa status', 'status', '--format', 'json'),
      oursEnv: { NODE_DISABLE_COMPILE_CACHE: '1' },
      unavailable: noClient,
      info: true,
    });
    // What no Node program on this stack can go below (see bench/floor-status.cjs), for the record.
    await pair('status-floor', 'floor: Node + mysql2, the same aggregates (info)', 1.5, {
      baseline: mariadb('mariadb: the same aggregates', statusSql),
      ours: { label: 'node + mysql2: the same aggregates', argv: [NODE, FLOOR_STATUS, pkg, srv.host, String(srv.port), srv.user, dbName] },
      unavailable: noClient,
      info: true,
    });
    await rss('status-rss', '`status` peak RSS', oursDb('whmcs-2fa status', 'status', '--format', 'json'));

    // --- accounts ---
    const accountsSql =
      'SELECT a.id, a.email, a.second_factor, a.second_factor_config, ' +
      '(SELECT GROUP_CONCAT(uc.client_id) FROM tblusers_clients uc WHERE uc.auth_user_id = a.id) AS client_ids, ' +
      '(SELECT GROUP_CONCAT(uc.client_id) FROM tblusers_clients uc WHERE uc.auth_user_id = a.id AND uc.owner = 1) AS owned_ids ' +
      'FROM tblusers a ORDER BY a.id';
    await pair('accounts', '`accounts --users --format json` (100k rows)', 2, {
      baseline: mariadb('mariadb: SELECT the same columns', accountsSql),
      ours: oursDb('whmcs-2fa accounts --users --format json', 'accounts', '--users', '--format', 'json'),
      unavailable: noClient ?? missing('accounts', ['--users']),
      check: (side, r) => {
        const n = side === 'baseline' ? r.stdout.split('\n').filter(Boolean).length - 1 : JSON.parse(r.stdout)?.users?.length;
        return n === counts.users ? null : `${n} rows, expected ${counts.users}`;
      },
    });
    await rss(
      'accounts-rss',
      '`accounts --users --format json` peak RSS',
      oursDb('whmcs-2fa accounts --users --format json', 'accounts', '--users', '--format', 'json'),
      { unavailable: missing('accounts', ['--users']), info: true },
    );

    // --- bulk reset: every run starts from the same rows ---
    const resetMissing = noClient ?? missing('reset', ['--module', '--users']);
    let restore: (() => Promise<void>) | undefined;
    if (!resetMissing && (want('reset') || want('reset-floor') || want('reset-rss'))) restore = await resettable(knex, stateHome);
    await pair('reset', 'bulk `reset --module duosecurity --users --yes` (~30k rows)', 1.5, {
      baseline: mariadb('mariadb: one UPDATE', "UPDATE tblusers SET second_factor = '', second_factor_config = '', updated_at = NOW() WHERE second_factor = 'duosecurity'"),
      ours: oursDb('whmcs-2fa reset --module duosecurity --users --yes', 'reset', '--module', 'duosecurity', '--users', '--yes', '--format', 'json'),
      unavailable: resetMissing,
      runs: Math.min(args.runs, 5),
      before: restore,
      check: (side, r) => {
        if (side === 'baseline') return null;
        const n = JSON.parse(r.stdout)?.rowsReset;
        return n === counts.duoUsers ? null : `reset ${n} rows, expected ${counts.duoUsers}`;
      },
    });
    await pair('reset-floor', 'floor: Node + mysql2, one journalled UPDATE (info)', 1.5, {
      baseline: mariadb('mariadb: one UPDATE', "UPDATE tblusers SET second_factor = '', second_factor_config = '', updated_at = NOW() WHERE second_factor = 'duosecurity'"),
      ours: { label: 'node + mysql2: read, journal, fsync, UPDATE', argv: [NODE, FLOOR_RESET, pkg, srv.host, String(srv.port), srv.user, dbName, join(work, 'floor-journal.jsonl')] },
      unavailable: resetMissing,
      runs: Math.min(args.runs, 5),
      before: restore,
      info: true,
      check: (side, r) => {
        if (side === 'baseline') return null;
        const n = JSON.parse(r.stdout)?.rows;
        return n === counts.duoUsers ? null : `journalled ${n} rows, expected ${counts.duoUsers}`;
      },
    });
    await rss(
      'reset-rss',
      'bulk reset peak RSS',
      oursDb('whmcs-2fa reset --module duosecurity --users --yes', 'reset', '--module', 'duosecurity', '--users', '--yes', '--format', 'json'),
      { unavailable: resetMissing, before: restore },
    );
    await restore?.();

    // --- clock-check against three loopback chronyd ---
    if (want('clock-check')) {
      let why = which('chronyd') ? missing('clock-check', ['--server', '--no-db']) : 'chronyd is not installed (package chrony)';
      if (!why) {
        try {
          for (let i = 0; i < 3; i++) peers.push(await startChronyd({}));
        } catch (e) {
          why = `chronyd did not start: ${(e as Error).message.split('\n')[0]}`;
        }
      }
      const servers = peers.map((p) => `127.0.0.1:${p.port}`).join(',');
      await pair('clock-check', '`clock-check` against 3 loopback chronyd', 1.3, {
        baseline: { label: 'node: one raw SNTP exchange', argv: [NODE, SNTP_ONCE, String(peers[0]?.port ?? 123)] },
        ours: ours('whmcs-2fa clock-check --no-db --server ×3', 'clock-check', '--no-db', '--server', servers, '--format', 'json'),
        unavailable: why,
        check: (side, r) => {
          if (side === 'baseline') return null;
          const j = JSON.parse(r.stdout);
          return j?.validServers === 3 ? null : `validServers ${j?.validServers}, expected 3`;
        },
      });
    }

    // --- the one-file artefact, for information ---
    if (want('one-file')) {
      if (existsSync(ONE_FILE)) {
        const p = await measurePair({ baseline: nodeE0, ours: { label: 'node dist/whmcs-2fa.mjs --help', argv: [NODE, ONE_FILE, '--help'] }, warmup: args.warmup, runs: args.runs, env, cwd });
        const b = median(p.baseline);
        const o = median(p.ours);
        rows.push({ id: 'one-file', measure: 'one-file artefact `--help` (info)', kind: 'info', available: true, baseline: { label: nodeE0.label, medianMs: b, samplesMs: p.baseline }, ours: { label: 'node dist/whmcs-2fa.mjs --help', medianMs: o, samplesMs: p.ours }, ratio: o / b, target: '—' });
      } else {
        rows.push({ id: 'one-file', measure: 'one-file artefact `--help` (info)', kind: 'info', available: false, note: 'dist/whmcs-2fa.mjs was not built', target: '—' });
      }
    }
  } finally {
    await stop();
  }

  const report = { date: new Date().toISOString(), machine: { ...machine, loadAverageAtEnd: loadavg().map((x) => +x.toFixed(2)) }, options: args, seed, rows };
  writeFileSync(RESULTS, JSON.stringify(report, null, 2) + '\n');
  printTable(rows);
  process.stdout.write(
    `\n${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, MariaDB ${machine.mariadb}; medians of ${args.runs} runs after ${args.warmup} warm-up (bulk reset: ${Math.min(args.runs, 5)}); ` +
      `load average ${machine.loadAverageAtStart[0]} → ${report.machine.loadAverageAtEnd[0]}. Written to bench/results.json.\n`,
  );
  if (report.machine.loadAverageAtEnd[0]! > machine.cpus || machine.loadAverageAtStart[0]! > machine.cpus) {
    process.stdout.write('Note: the machine was busy with other work during the run; ratios are more reliable than absolute times.\n');
  }
  if (args.strict && rows.some((r) => r.pass === false)) process.exitCode = 1;
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

function printTable(rows: Row[]): void {
  const head = ['measure', 'baseline', 'ours', 'ratio', 'target', 'result'];
  const body = rows.map((r) => {
    if (!r.available) return [r.measure, '—', 'not available', '—', r.target ?? '—', `skipped: ${r.note}`];
    if (r.kind === 'rss') return [r.measure, '—', `${(r.ours!.peakRssBytes! / MB).toFixed(1)} MB`, '—', r.target!, r.pass === undefined ? 'info' : r.pass ? 'pass' : 'FAIL'];
    return [
      r.measure,
      `${fmtMs(r.baseline!.medianMs)} (${r.baseline!.label})`,
      fmtMs(r.ours!.medianMs),
      `${r.ratio!.toFixed(2)}×`,
      r.target!,
      r.kind === 'info' ? 'info' : r.pass ? 'pass' : 'FAIL',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => [...b[i]!].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c + ' '.repeat(widths[i]! - [...c].length)).join(' | ') + ' |';
  process.stdout.write([line(head), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...body.map(line)].join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`\nbench failed: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
