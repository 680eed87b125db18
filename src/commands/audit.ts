import type { Command } from 'commander';
import { action } from './run.js';
import { collect, seconds, wholeNumber } from './option-values.js';
import type { Context } from '../context.js';
import type { View } from '../ui/view.js';
import { CliError, EXIT, UsageError } from '../errors.js';
import type { ClockFinding, FindingSelector } from '../whmcs/reports/audit.js';

interface AuditOptions {
  failOn?: string;
  warnOn?: string;
  ignore?: string;
  clock?: boolean;
  server?: string[];
  warning?: string;
  critical?: string;
  samples?: string;
  clockTimeout?: string;
  unknownIfUnreachable?: boolean;
}

/** Monitoring-plugin UNKNOWN: what `--format nagios` exits with for anything but a verdict. */
const UNKNOWN = 3;

/** `--format nagios` on the command line, however it is spelled: usage errors then exit UNKNOWN too. */
function nagiosRequested(argv: readonly string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--format' && argv[i + 1]?.toLowerCase() === 'nagios') return true;
    if (a.toLowerCase() === '--format=nagios') return true;
  }
  return false;
}

export function register(program: Command): void {
  const cmd = program
    .command('audit')
    .description('read-only check: is every way into this WHMCS protected by a second factor? (for people, Nagios and Prometheus)')
    .option('--fail-on <severity|ids>', 'findings that make the run fail (exit 1; Nagios CRITICAL): critical (default), warning, info, none, or finding ids separated by commas')
    .option('--warn-on <severity|ids>', 'findings that make Nagios/Prometheus report WARNING: warning (default), critical, info, none, or finding ids')
    .option('--ignore <ids>', 'leave these findings out entirely (accepted risks), finding ids separated by commas')
    .option('--clock', 'also check the clocks against NTP, as clock-check does, and report what they mean for TOTP')
    .option('--server <host[:port]>', 'with --clock: NTP server to ask; repeat or separate with commas (default: pool.ntp.org, time.cloudflare.com, time.google.com)', collect)
    .option('-w, --warning <seconds>', 'with --clock: WARNING when |offset| exceeds this (default 5)')
    .option('-c, --critical <seconds>', 'with --clock: CRITICAL when |offset| exceeds this (default 15)')
    .option('--samples <n>', 'with --clock: requests per server (default 4)')
    .option('--clock-timeout <seconds>', 'with --clock: bound for the clock check (default 10)')
    .option('--unknown-if-unreachable', 'with --clock: no usable NTP server is UNKNOWN (a warning finding) instead of CRITICAL')
    .addHelpText(
      'after',
      `
Reads, never writes. Findings, worst first, each with the accounts concerned, why it matters and the
command that fixes it: admins without a working second factor (full administrators first), the '0'
state, undecryptable data, services that cannot work (Duo keys, Duo before WHMCS 8.9, YubiKey without
API credentials), enforcement, cc_encryption_hash, duplicate settings rows, hygiene, and with --clock
the clock's TOTP verdict.

Exit status: 0 when no finding counts for --fail-on, 1 when one does; errors as the table in
\`whmcs-2fa --help\`. --format nagios: 0 OK · 1 WARNING · 2 CRITICAL · 3 UNKNOWN (any error),
with perfdata. --format prometheus: text exposition for node_exporter's textfile collector; exit 0
whatever the findings (the metrics carry them), and on an error whmcs_2fa_audit_success 0 is printed
before the usual exit code.`,
    )
    .action(
      action<AuditOptions>((ctx, opts) => audit(ctx, opts), { formats: ['csv', 'nagios', 'prometheus'] }),
    );
  // Command-line errors exit UNKNOWN when Nagios asked, like every other error then (src/cli.ts reads this).
  (cmd as Command & { usageExitCode?: (args: readonly string[]) => number }).usageExitCode = (args) => (nagiosRequested(args) ? UNKNOWN : EXIT.USAGE);
}



async function audit(ctx: Context, opts: AuditOptions): Promise<View> {
  const started = performance.now();
  const format = ctx.out.format;
  try {
    return await auditView(ctx, opts, started);
  } catch (e) {
    const mapped = e instanceof CliError ? e : (await import('../whmcs/connection/db.js')).queryError(e);
    const err = mapped instanceof CliError ? mapped : new CliError(mapped instanceof Error ? mapped.message : String(mapped), EXIT.ERROR);
    const message = err.message.split('\n')[0]!;
    if (format === 'nagios') {
      ctx.out.error(message, UNKNOWN);
      const { auditNagiosError } = await import('../ui/audit-render.js');
      return { json: null, blocks: [], raw: { nagios: auditNagiosError(message) }, exitCode: UNKNOWN };
    }
    if (format === 'prometheus') {
      // The textfile collector keeps serving the last file: a run that failed says so in the metrics.
      ctx.out.error(message, err.exitCode);
      const { auditPrometheusFailure } = await import('../ui/audit-render.js');
      return { json: null, blocks: [], raw: { prometheus: auditPrometheusFailure(Math.floor(Date.now() / 1000)) }, exitCode: err.exitCode };
    }
    throw err;
  }
}

async function auditView(ctx: Context, opts: AuditOptions, started: number): Promise<View> {
  const checkedAt = Date.now();
  const domain = await import('../whmcs/reports/audit.js');
  const selector = (name: string, text: string | undefined, fallback: string): FindingSelector => {
    const sel = domain.parseFindingSelector(text ?? fallback);
    if (typeof sel === 'string') throw new UsageError(`${name}: ${sel}`);
    return sel;
  };
  const failOn = selector('--fail-on', opts.failOn, 'critical');
  const warnOn = selector('--warn-on', opts.warnOn, 'warning');
  const ignore = opts.ignore === undefined ? ({ kind: 'none' } as const) : selector('--ignore', opts.ignore, 'none');
  if (ignore.kind === 'severity') throw new UsageError('--ignore takes finding ids, not a severity — use --fail-on/--warn-on to choose what counts');

  const clockOpts = opts.clock ? await clockOptions(opts) : null;
  if (!opts.clock && (opts.server || opts.warning || opts.critical || opts.samples || opts.clockTimeout || opts.unknownIfUnreachable)) {
    throw new UsageError('--server, --warning, --critical, --samples, --clock-timeout and --unknown-if-unreachable belong to --clock — add --clock');
  }
  const session = await ctx.session();
  // Side by side; if the audit fails, the clock check stops too instead of holding the process open.
  const abort = new AbortController();
  const clockRun = clockOpts ? runClock(session, clockOpts, abort.signal) : Promise.resolve(null);
  clockRun.catch(() => {});
  let report: Awaited<ReturnType<typeof domain.runAudit>>;
  try {
    report = await domain.runAudit(session);
  } catch (e) {
    abort.abort();
    throw e;
  }
  const clock = await clockRun;
  // The clock's finding joins the report once both are done (they run side by side).
  const full = clock ? domain.withClock(report, clock) : report;
  const r = domain.withoutIgnored(full, ignore);
  const status = domain.auditStatus(r.findings, failOn, warnOn);
  const render = await import('../ui/audit-render.js');
  const format = ctx.out.format;
  const checks = domain.FINDING_IDS.filter((id) => (id !== 'clock-totp' || clock) && !(ignore.kind === 'ids' && ignore.ids.has(id)));
  const json = {
    checkedAt: new Date(checkedAt).toISOString(),
    status,
    statusName: render.STATUS_NAMES[status],
    summary: r.summary,
    whmcs: r.whmcs,
    database: r.database,
    accounts: r.accounts,
    force: r.force,
    modules: r.modules,
    counts: r.counts,
    findings: r.findings,
    clock: r.clock,
    failOn: opts.failOn ?? 'critical',
    warnOn: opts.warnOn ?? 'warning',
    ignored: ignore.kind === 'ids' ? [...ignore.ids] : [],
  };
  const raw: View['raw'] = {};
  if (format === 'nagios') raw.nagios = render.auditNagios(r, status, clockOpts ? clockThresholds(clockOpts) : undefined);
  if (format === 'csv') raw.csv = (await import('../ui/csv.js')).toCsv(render.auditCsvRows(r), render.AUDIT_CSV_COLUMNS);
  if (format === 'prometheus') {
    raw.prometheus = render.auditPrometheus(r, { status, checks, nowSeconds: Math.floor(checkedAt / 1000), durationSeconds: (performance.now() - started) / 1000 });
  }
  return {
    json,
    blocks: format === 'table' ? render.auditBlocks(r, status, json.failOn) : [],
    raw,
    exitCode: format === 'nagios' ? status : format === 'prometheus' ? EXIT.OK : status === 2 ? EXIT.ERROR : EXIT.OK,
  };
}

// ----------------------------------------------------------------------------- --clock

interface ClockOpts {
  servers?: string[];
  warning?: number;
  critical?: number;
  samples?: number;
  timeoutMs: number;
  unknownIfUnreachable: boolean;
}

async function clockOptions(opts: AuditOptions): Promise<ClockOpts> {
  const { validateOptions, parseServerSpec } = await import('../clock/verdict.js');
  const warning = seconds('--warning', opts.warning);
  const critical = seconds('--critical', opts.critical);
  const timeout = seconds('--clock-timeout', opts.clockTimeout) ?? 10;
  if (timeout <= 0) throw new UsageError(`--clock-timeout must be more than 0 seconds, got "${opts.clockTimeout}"`);
  const samples = wholeNumber('--samples', opts.samples);
  const timeoutMs = timeout * 1000;
  validateOptions({ warning, critical, samples, timeoutMs });
  if (opts.server?.length === 0) throw new UsageError('--server needs a host name or address');
  opts.server?.forEach(parseServerSpec);
  return { servers: opts.server, warning, critical, samples, timeoutMs, unknownIfUnreachable: Boolean(opts.unknownIfUnreachable) };
}

function clockThresholds(o: ClockOpts): { warning: number; critical: number } {
  return { warning: o.warning ?? 5, critical: o.critical ?? 15 };
}

type Session = Awaited<ReturnType<Context['session']>>;

/** clock-check's machinery on the audit's own connection: NTP servers, and the database server's clock. */
async function runClock(session: Session, o: ClockOpts, signal: AbortSignal): Promise<ClockFinding> {
  const [{ checkClock }, { clockFinding }] = await Promise.all([import('../clock/verdict.js'), import('../whmcs/reports/audit.js')]);
  let dbClock: (() => Promise<number>) | undefined;
  if (session.db.dialect === 'mysql') {
    const { DB_CLOCK_SQL } = await import('../clock/db-clock.js');
    dbClock = async () => {
      const [rows] = (await session.db.knex.raw(DB_CLOCK_SQL)) as [Array<{ us: unknown }>];
      return Number(rows[0]!.us) / 1e6;
    };
  }
  const report = await checkClock({ servers: o.servers, samples: o.samples, timeoutMs: o.timeoutMs, warning: o.warning, critical: o.critical, unknownIfUnreachable: o.unknownIfUnreachable, dbClock, signal });
  return clockFinding(report);
}
