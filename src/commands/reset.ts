import type { Command } from 'commander';
import { action } from './run.js';
import type { Context } from '../context.js';
import type { Block, View } from '../ui/view.js';
import { constants as osConstants } from 'node:os';
import { CancelledError, CliError, EXIT, RefusedError, UsageError } from '../errors.js';

interface ResetOptions {
  admin?: string;
  user?: string;
  client?: string;
  module?: string;
  admins?: boolean;
  users?: boolean;
  clients?: boolean;
  reason?: string;
  batchSize?: string;
}

export const DEFAULT_BATCH_SIZE = 2500;
const SAMPLE = 10;

export function register(program: Command): void {
  program
    .command('reset')
    .description("turn an account's second factor off (module and data cleared), or every account on a retired module")
    .option('--admin <username|email|id>', 'this admin')
    .option('--user <email|id>', 'this user (WHMCS 8)')
    .option('--client <email|id>', 'this client (WHMCS 7)')
    .option('--module <module>', 'bulk: every account on this module (with --admins, --users or --clients)')
    .option('--admins', 'bulk: admins')
    .option('--users', 'bulk: WHMCS 8 users')
    .option('--clients', 'bulk: WHMCS 7 clients')
    .option('--reason <text>', 'why (written to the WHMCS activity log; required for admins)')
    .option('--batch-size <n>', `bulk: rows per transaction (default ${DEFAULT_BATCH_SIZE})`)
    .addHelpText(
      'after',
      `
Bulk runs ask you to type the number of accounts (or pass --yes), then work in batches of one
transaction each. Ctrl-C (SIGINT), SIGTERM or SIGHUP roll back the batch in progress and stop:
committed batches stay, the run reports the rows reset so far, the signal and the journal id, and
exits with 128 + the signal's number (130, 143, 129); one \`whmcs-2fa undo <id>\` restores them
all. A second signal exits at once; the database rolls back the open batch.`,
    )
    .action(
      action<ResetOptions>(async (ctx, opts) => {
        const single = [opts.admin, opts.user, opts.client].filter((v) => v !== undefined).length;
        const bulk = opts.module !== undefined || opts.admins || opts.users || opts.clients;
        if (single && bulk) throw new UsageError('either one account (--admin/--user/--client) or a bulk reset (--module <m> with --admins/--users/--clients), not both');
        if (!single && !bulk) throw new UsageError('name an account (--admin <username|email|id>, --user <email|id>, --client <email|id>) or a bulk reset (--module <m> --admins|--users|--clients)');
        return single ? resetOne(ctx, opts) : resetBulk(ctx, opts);
      }),
    );
}

async function resetOne(ctx: Context, opts: ResetOptions): Promise<View> {
  if (opts.batchSize !== undefined) throw new UsageError('--batch-size is for bulk resets (--module <m> --admins|--users|--clients)');
  const { requireReasonFor, resetAccount } = await import('../whmcs/accounts/reset.js');
  const reason = requireReasonFor(opts.admin !== undefined ? 'admin' : opts.user !== undefined ? 'user' : 'client', opts.reason);
  const session = await ctx.session();
  const r = await resetAccount(session, { admin: opts.admin, user: opts.user, client: opts.client }, reason, ctx.changeOptions('Turn this second factor off?'));
  const { outcome } = r;
  const a = r.account;
  const label = a.kind === 'admin' ? `admin '${a.name}' (#${a.id})` : `${a.kind} ${a.email} (#${a.id})`;
  const json = {
    account: { kind: a.kind, id: a.id, name: a.name, email: a.email },
    previousModule: a.module,
    changed: outcome.changed,
    dryRun: outcome.dryRun,
    journalId: outcome.journalId,
    notes: r.notes,
    warnings: r.warnings,
  };
  const title = outcome.dryRun
    ? `Would reset the second factor of ${label}`
    : outcome.changed
      ? `Second factor of ${label} reset`
      : `Nothing to reset for ${label}`;
  const blocks: Block[] = [{ kind: 'diff', title, lines: outcome.plan.diff }];
  if (r.notes.length) blocks.push({ kind: 'text', text: r.notes.map((n) => `• ${n}`).join('\n') });
  if (outcome.journalId) blocks.push({ kind: 'text', text: `Recorded as ${outcome.journalId} (\`whmcs-2fa undo\` restores it).`, tone: 'ok' });
  return { json, blocks, warnings: r.warnings };
}

async function resetBulk(ctx: Context, opts: ResetOptions): Promise<View> {
  if (opts.module === undefined) throw new UsageError('a bulk reset needs --module <m> (e.g. --module duo --users)');
  if (!opts.admins && !opts.users && !opts.clients) throw new UsageError('a bulk reset needs --admins, --users or --clients');
  const batchSize = opts.batchSize === undefined ? DEFAULT_BATCH_SIZE : Number(opts.batchSize);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 50_000) throw new UsageError('--batch-size must be a whole number from 1 to 50000');
  const list = await import('../whmcs/accounts/accounts-list.js');
  const mf = list.parseModuleFilter(opts.module);
  if (mf.kind === 'none') throw new UsageError('--module none selects accounts that have no second factor — nothing to reset; reset one account with --admin/--user/--client');
  const { requireReasonFor, bulkResetJob, resetConsequences } = await import('../whmcs/accounts/reset.js');
  const reason = requireReasonFor(opts.admins ? 'admins' : 'user', opts.reason);
  const session = await ctx.session();
  const [kind] = list.kindsFor(session, opts);
  const { tableFor } = await import('../whmcs/accounts/accounts-table.js');
  const { moduleLabel } = await import('../services/catalog.js');
  const { bulkScope, bulkSample, runBulk } = await import('../whmcs/changes/bulk.js');
  const t = tableFor(kind!);
  const job = bulkResetJob(session, t, mf.name, reason, batchSize);
  // Both at once: counting is a full scan; the consequences (a bulk reset's do not depend on the count) are not.
  const [scope, consequences] = await Promise.all([
    bulkScope(session, job),
    resetConsequences(session, t, { label: `${t.plural} on ${moduleLabel(mf.name)}`, count: 0, module: mf.name }),
  ]);
  const what = `${scope.count} ${scope.count === 1 ? t.kind : t.plural} on ${moduleLabel(mf.name)}`;
  const base = { mode: 'bulk' as const, kind: t.kind, table: t.table, module: mf.name, matched: scope.count, batchSize };

  if (scope.count === 0) {
    return {
      json: { ...base, changed: false, dryRun: Boolean(ctx.opts.dryRun), interrupted: false, rowsReset: 0, batches: 0, journalId: null, idRange: null, notes: [], warnings: [] },
      blocks: [{ kind: 'text', text: `No ${t.plural} on ${moduleLabel(mf.name)} — nothing to reset.` }],
    };
  }
  const nameCol = t.kind === 'admin' ? 'username' : 'email';
  const sampleRows = async () =>
    (await bulkSample(session, job, [nameCol, t.moduleColumn], SAMPLE)).map((r) => ({ id: Number(r.id), name: String(r[nameCol] ?? ''), module: String(r[t.moduleColumn] ?? '') }));

  if (ctx.opts.dryRun) {
    const sample = await sampleRows();
    return {
      json: { ...base, changed: false, dryRun: true, interrupted: false, rowsReset: 0, batches: 0, journalId: null, idRange: scope.idRange, sample, notes: consequences.notes, warnings: consequences.warnings },
      blocks: [
        { kind: 'text', text: `Would reset ${what} (${t.table} ids ${scope.idRange!.first}–${scope.idRange!.last}) in batches of ${batchSize}.` },
        { kind: 'table', title: `First ${sample.length}`, columns: ['ID', t.kind === 'admin' ? 'Username' : 'Email'], rows: sample.map((s) => [String(s.id), s.name]) },
        { kind: 'text', text: consequences.notes.map((n) => `• ${n}`).join('\n') },
      ],
      warnings: consequences.warnings,
    };
  }

  await confirmBulk(ctx, scope.count, what, sampleRows, consequences);

  const { ProgressBar } = await import('../ui/progress.js');
  const io = ctx.io;
  const stderr = { write: (s: string) => io.stderr.write(s), isTTY: io.isTTY('stderr'), get columns() { return io.terminalWidth('stderr') ?? undefined; } };
  const bar = new ProgressBar(ctx.out.quiet ? { write: () => true, isTTY: false } : stderr, scope.count, { unit: t.plural, color: ctx.out.errColor });
  // SIGINT (Ctrl-C), SIGTERM (kill, `timeout`, systemd) and SIGHUP (the SSH session dropped) all
  // stop the run the same way: the batch in progress rolls back, the report says what was done,
  // and the exit status is 128 + the signal's number, as a shell reports a process the signal ended.
  let stoppedBy: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    // After SIGHUP the terminal may be gone: failed writes to it are dropped from now on, so the
    // rollback and the report on stdout (a file or pipe when it matters) are not cut short.
    if (signal === 'SIGHUP') io.dropWriteErrors();
    if (stoppedBy) {
      // A second signal: leave now. The open transaction dies with the connection (rolled back).
      safeWrite(io.stderr, '\nAborted — the batch in progress is rolled back by the database; committed batches stay (see `whmcs-2fa undo --list`).\n');
      io.exit(signalExitCode(signal));
      return;
    }
    stoppedBy = signal;
    bar.finish('interrupted');
    ctx.out.info(`Interrupted (${signal}) — rolling back the batch in progress and stopping${signal === 'SIGINT' ? ' (Ctrl-C again to abort at once)' : ''}`);
  };
  const stopListening = io.onSignals(STOP_SIGNALS, onSignal);
  let outcome;
  try {
    outcome = await runBulk(session, job, {
      stopRequested: () => stoppedBy !== null,
      onBatch: (p) => bar.update(p.done, Math.max(scope.count, p.done)),
    });
  } finally {
    stopListening();
    bar.finish();
  }
  const signal: NodeJS.Signals | null = outcome.interrupted ? stoppedBy : null;
  // A batch whose COMMIT reply was lost and whose commit was then proven (docs/journal.md).
  const recovered = outcome.recoveredBatches.map((n) => `the connection failed at the COMMIT of batch ${n}; checked after reconnecting: it WAS committed`);
  const json = {
    ...base,
    changed: outcome.rows > 0,
    dryRun: false,
    interrupted: outcome.interrupted,
    signal,
    rowsReset: outcome.rows,
    batches: outcome.batches,
    journalId: outcome.journalId,
    idRange: outcome.idRange,
    durationMs: outcome.durationMs,
    notes: consequences.notes,
    warnings: consequences.warnings,
  };
  const done = `${outcome.rows} ${outcome.rows === 1 ? t.kind : t.plural} reset in ${outcome.batches} batch${outcome.batches === 1 ? '' : 'es'} (${(outcome.durationMs / 1000).toFixed(1)} s)`;
  const blocks: Block[] = [
    outcome.interrupted
      ? { kind: 'text', text: `Interrupted: ${done}; any batch in progress was rolled back, and the other ${scope.count - outcome.rows} ${t.plural} keep their second factor.`, tone: 'warn' }
      : { kind: 'text', text: `Done: ${done}.`, tone: 'ok' },
    { kind: 'text', text: consequences.notes.map((n) => `• ${n}`).join('\n') },
  ];
  if (outcome.journalId) blocks.push({ kind: 'text', text: `Recorded as ${outcome.journalId} — \`whmcs-2fa undo ${outcome.journalId}\` restores every row.`, tone: 'ok' });
  return {
    json,
    blocks,
    warnings: [...recovered, ...(outcome.interrupted ? [`interrupted after ${outcome.rows} of ${scope.count} ${t.plural}${outcome.journalId ? ` — journal ${outcome.journalId}` : ''}`, ...consequences.warnings] : consequences.warnings)],
    exitCode: outcome.interrupted ? (signal ? signalExitCode(signal) : EXIT.INTERRUPTED) : EXIT.OK,
  };
}

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** 128 + the signal's number: 130 SIGINT, 143 SIGTERM, 129 SIGHUP. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (osConstants.signals[signal] ?? 0);
}

function safeWrite(stream: NodeJS.WritableStream, text: string): void {
  try {
    stream.write(text);
  } catch {
    /* the terminal is gone */
  }
}

/** Bulk changes are confirmed by typing the count, so a reflexive "y" cannot reset 100 000 accounts. */
async function confirmBulk(
  ctx: Context,
  count: number,
  what: string,
  sampleOf: () => Promise<Array<{ id: number; name: string }>>,
  consequences: { notes: string[]; warnings: string[] },
): Promise<void> {
  if (ctx.opts.yes) return;
  if (!ctx.io.canPrompt) {
    throw new RefusedError(`refusing to reset ${what} without confirmation: no terminal to ask on — pass --yes (or --dry-run to see the count and a sample)`);
  }
  const sample = await sampleOf();
  ctx.out.info(
    ctx.out.renderBlocks([
      { kind: 'text', text: `About to reset ${what}:` },
      { kind: 'table', columns: ['ID', 'Name'], rows: sample.map((s) => [String(s.id), s.name]) },
      ...(count > sample.length ? [{ kind: 'text' as const, text: `… and ${count - sample.length} more` }] : []),
    ]),
  );
  for (const n of consequences.notes) ctx.out.info(`• ${n}`);
  for (const w of consequences.warnings) ctx.out.warn(w);
  const typed = await ctx.io.prompt.input(`Type ${count} to reset ${count === 1 ? 'it' : 'all of them'} (anything else cancels):`).catch((e: unknown) => {
    throw e instanceof CliError ? new CliError(`${e.message} — nothing was changed`, e.exitCode) : e;
  });
  if (typed.trim().replace(/[,_ ]/g, '') !== String(count)) throw new CancelledError('cancelled at the prompt — nothing was changed');
}
