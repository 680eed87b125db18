import type { Command } from 'commander';
import { action } from './run.js';
import { collect, seconds, wholeNumber } from './option-values.js';
import { runOf, type Context } from '../context.js';
import type { Block, View } from '../ui/view.js';
import { CliError, UsageError } from '../errors.js';
import type { ClockReport } from '../clock/verdict.js';
import type { ServerResult } from '../clock/sntp.js';
import type { DatabaseClockSource } from '../clock/db-clock.js';
import { databaseConfigured } from '../clock/db-configured.js';

interface ClockCheckCliOptions {
  server?: string[];
  warning?: string;
  critical?: string;
  timeout?: string;
  samples?: string;
  unknownIfUnreachable?: boolean;
  /** false with --no-db. (The global --db <url> reaches the handler through ctx.opts.) */
  db?: boolean;
}

/** Monitoring-plugin exit codes: the ones this command promises instead of the tool-wide ones. */
const UNKNOWN = 3;

export function register(program: Command): void {
  // Set when the handler produced a report (or its own UNKNOWN): anything that failed before it must
  // not leave exit 1 or 2, which a monitoring system would read as WARNING or CRITICAL.
  let handled = false;
  const run = action<ClockCheckCliOptions>(
    async (ctx, opts) => {
      const v = await clockCheck(ctx, opts);
      handled = true;
      return v;
    },
    { formats: ['nagios', 'csv'] },
  );
  const cmd = program
    .command('clock-check')
    .description('check this host\'s (and the WHMCS database server\'s) clock against NTP, and what the error means for TOTP and Duo')
    .option('--server <host[:port]>', 'NTP server to ask; repeat or separate with commas (default: pool.ntp.org, time.cloudflare.com, time.google.com)', collect)
    .option('-w, --warning <seconds>', 'WARNING when |offset| exceeds this (default 5)')
    .option('-c, --critical <seconds>', 'CRITICAL when |offset| exceeds this (default 15)')
    .option('--timeout <seconds>', 'bound for the whole check: DNS, every server and the database (default 10)')
    .option('--samples <n>', 'requests per server; the one with the least round trip counts (default 4)')
    .option('--unknown-if-unreachable', 'UNKNOWN instead of CRITICAL when no server gives usable time')
    .option('--no-db', 'do not check the database server\'s clock even if a WHMCS database is configured')
    .addHelpText(
      'after',
      `
Offsets use the NTP sign: what must be added to a clock to get the right time (+ = it is behind).
The verdict uses the median of the servers that answered validly; servers more than 1 s apart are
reported as disagreeing. WHMCS accepts TOTP codes of the current 30 s step and one step either side,
so |offset| < 30 s never breaks codes by itself, and at 60 s or more every code fails: that is
CRITICAL whatever -c says. Duo's token time checks allow 60 s.
With a WHMCS database configured (--whmcs-dir, --db, $WHMCS_DIR, $WHMCS_DB_URL or a configuration.php
in or above the current directory) the database server's clock is checked too (MySQL/MariaDB; SQLite
has no server clock); without one, only this host's clock is checked. A configured database that cannot be read makes the result at least UNKNOWN.

Exit status, as a monitoring plugin: 0 OK · 1 WARNING · 2 CRITICAL · 3 UNKNOWN. No usable server is
CRITICAL (UNKNOWN with --unknown-if-unreachable). Usage errors and any other failure exit 3 as well,
never 1 or 2. --format nagios prints one status line with perfdata, e.g.
  CLOCK OK - offset +0.012 s, TOTP margin 29.9 s | offset=0.012s;5;15 delay=0.021s servers=3;;;0;3
--format json: {status, statusName, offset, delay, spread, disagree, totpMarginSeconds, totpVerdict,
duoVerdict, database, servers: [{host, address, stratum, leap, offset, delay, error, …}], notes, …}.`,
    )
    .action(async (...argv: unknown[]) => {
      handled = false;
      await run(...argv);
      const programRun = runOf(argv[argv.length - 1] as Command);
      if (!handled && programRun.exitCode !== undefined && programRun.exitCode !== 0) programRun.exitCode = UNKNOWN;
    });
  // Command-line errors too (src/cli.ts reads this).
  (cmd as Command & { usageExitCode?: number }).usageExitCode = UNKNOWN;
}




async function clockCheck(ctx: Context, opts: ClockCheckCliOptions): Promise<View> {
  let source: DatabaseClockSource | null = null;
  try {
    const { checkClock, parseServerSpec, validateOptions } = await import('../clock/verdict.js');
    const warning = seconds('--warning', opts.warning);
    const critical = seconds('--critical', opts.critical);
    // The global --timeout and this command's own are one option to the user, wherever it is written.
    const timeout = seconds('--timeout', opts.timeout ?? ctx.opts.timeout) ?? 10;
    if (timeout <= 0) throw new UsageError(`--timeout must be more than 0 seconds, got "${opts.timeout}"`);
    const samples = wholeNumber('--samples', opts.samples);
    const timeoutMs = timeout * 1000;
    validateOptions({ warning, critical, samples, timeoutMs });
    if (opts.server?.length === 0) throw new UsageError('--server needs a host name or address');
    opts.server?.forEach(parseServerSpec);

    // Reading configuration.php (and a password prompt on a TTY) comes before the timed part. With
    // nothing to connect to, the database path (reader, drivers, crypto) is not even loaded.
    const dbRequest = {
      whmcsDir: ctx.opts.whmcsDir,
      dbUrl: typeof ctx.opts.db === 'string' ? ctx.opts.db : undefined,
      env: ctx.env,
      cwd: ctx.io.cwd,
    };
    if (opts.db !== false && databaseConfigured(dbRequest)) {
      const { databaseClockSource } = await import('../clock/db-clock.js');
      source = await databaseClockSource({ ...dbRequest, askPassword: ctx.passwordPrompt(), warn: (w) => ctx.out.warn(w) }, timeoutMs);
    }

    const report = await checkClock({
      servers: opts.server,
      samples,
      timeoutMs,
      warning,
      critical,
      unknownIfUnreachable: Boolean(opts.unknownIfUnreachable),
      dbConnect: source?.connect,
      dbClock: source?.read,
    });
    if (source?.skipped) report.notes.push(`database clock not checked: ${source.skipped}`);
    const json = reportJson(report, source);
    return {
      json,
      blocks: reportBlocks(report, json.database, opts.db === false),
      rows: report.servers.map(serverRow),
      // Loaded only for the format that prints it.
      ...(ctx.out.format === 'nagios' ? { raw: { nagios: (await import('../clock/nagios.js')).formatNagios(report) } } : {}),
      exitCode: report.status,
    };
  } catch (e) {
    const message = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
    if (ctx.out.format === 'nagios') {
      ctx.out.error(message, UNKNOWN);
      return { json: null, blocks: [], raw: { nagios: `CLOCK UNKNOWN - ${message.replace(/\|/g, '/')}` }, exitCode: UNKNOWN };
    }
    throw new CliError(message, UNKNOWN);
  } finally {
    await source?.close().catch(() => {});
  }
}

interface DatabaseJson {
  source: string | null;
  label: string | null;
  dialect: 'mysql' | 'sqlite' | null;
  /** Seconds to add to the database server's clock to get the right time. */
  offset: number | null;
  reference: 'ntp' | 'local-clock' | null;
  roundTrip: number | null;
  error: string | null;
  skipped: string | null;
}

function reportJson(report: ClockReport, source: DatabaseClockSource | null) {
  let database: DatabaseJson | null = null;
  if (source) {
    database = {
      source: source.source,
      label: source.label,
      dialect: source.dialect,
      offset: report.database?.offset ?? null,
      reference: report.database?.reference ?? null,
      roundTrip: report.database?.roundTrip ?? null,
      error: report.database?.error ?? null,
      skipped: source.skipped,
    };
  }
  return {
    ...report,
    servers: report.servers.map((s) => ({ ...s, error: s.error ?? null })),
    database,
  };
}

const ERROR_LABELS: Record<string, string> = {
  dns: 'DNS failure',
  timeout: 'no answer (UDP blocked?)',
  kod: "kiss-o'-death",
  unsynchronised: 'unsynchronised',
  distance: 'root distance too large',
  invalid: 'bad answer',
  network: 'network error',
};

function serverStatus(s: ServerResult): string {
  if (!s.error) return 'ok';
  const label = ERROR_LABELS[s.error.kind] ?? s.error.kind;
  return s.error.code ? `${label} (${s.error.code})` : label;
}

function fixed(value: number | null, digits = 3): string {
  return value === null ? '-' : value.toFixed(digits);
}

function signed(value: number | null): string {
  if (value === null) return '-';
  const text = Math.abs(value).toFixed(3);
  return `${value < 0 && Number(text) !== 0 ? '-' : '+'}${text}`;
}

function serverRow(s: ServerResult): Record<string, unknown> {
  return {
    host: s.host,
    port: s.port,
    address: s.address,
    stratum: s.stratum,
    leap: s.leap,
    refid: s.refid,
    offset: s.offset,
    delay: s.delay,
    status: s.error ? s.error.kind : 'ok',
    error: s.error?.message ?? null,
  };
}

function reportBlocks(r: ClockReport, db: DatabaseJson | null, noDb: boolean): Block[] {
  const tone = r.status === 0 ? 'ok' : r.status === 1 || r.status === 3 ? 'warn' : 'bad';
  const blocks: Block[] = [
    {
      kind: 'table',
      title: 'NTP servers',
      columns: ['Host', 'Address', 'Stratum', 'Offset (s)', 'Delay (s)', 'Status'],
      rows: r.servers.map((s) => [
        s.port === 123 ? s.host : `${s.host}:${s.port}`,
        s.address ?? '-',
        s.stratum === null ? '-' : String(s.stratum),
        signed(s.offset),
        fixed(s.delay),
        serverStatus(s),
      ]),
    },
  ];

  const pairs: Array<[string, string]> = [];
  if (r.offset === null) {
    pairs.push(['Offset', 'unknown: no server gave usable time']);
  } else {
    const how = r.offset >= 0 ? 'behind' : 'ahead of';
    pairs.push(['Offset', `${signed(r.offset)} s (this host is ${Math.abs(r.offset).toFixed(3)} s ${how} NTP time; median of ${r.validServers} of ${r.servers.length})`]);
    if (r.validServers > 1) {
      pairs.push(['Servers', r.disagree ? `DISAGREE by ${fixed(r.spread)} s` : `agree (spread ${fixed(r.spread)} s)`]);
    }
    pairs.push(['TOTP', r.totpVerdict!.words]);
    pairs.push(['Duo', r.duoVerdict!.words]);
  }
  if (noDb) pairs.push(['Database clock', 'not checked (--no-db)']);
  else if (!db) pairs.push(['Database clock', 'not checked: no WHMCS configured (--whmcs-dir or --db to include it)']);
  else if (db.skipped) pairs.push(['Database clock', `not checked: ${db.skipped}`]);
  else if (db.offset !== null) {
    const against = db.reference === 'ntp' ? 'NTP time' : 'this host (no NTP time)';
    pairs.push(['Database clock', `${signed(db.offset)} s against ${against} (${db.label})`]);
  } else pairs.push(['Database clock', `unreadable: ${db.error}`]);
  pairs.push(['Thresholds', `warning ${r.thresholds.warning} s, critical ${r.thresholds.critical} s`]);
  blocks.push({ kind: 'pairs', title: 'Verdict', pairs });
  blocks.push({ kind: 'text', text: `CLOCK ${r.statusName} - ${r.summary}`, tone });
  if (r.notes.length) blocks.push({ kind: 'pairs', title: 'Notes', pairs: r.notes.map((n) => ['-', n]) });
  return blocks;
}
