import type { Command } from 'commander';
import { action } from './run.js';
import type { Block } from '../ui/view.js';
import type { Context } from '../context.js';
import type { ActivationCheck, EnrolmentDraft } from '../whmcs/accounts/enroll.js';
import { CliError, EXIT, RefusedError, UsageError } from '../errors.js';

interface EnrollOptions {
  admin?: string;
  user?: string;
  client?: string;
  secret?: string;
  code?: string;
  window?: string;
  force?: boolean;
  activate?: boolean;
  reason?: string;
}

const TRIES = 3;

export function register(program: Command): void {
  program
    .command('enroll')
    .description('enrol an account in Time-Based Tokens: show the QR code, check the first code, then write it as WHMCS does')
    .option('--admin <admin>', 'admin username, email or id')
    .option('--user <user>', 'WHMCS 8 user email or id')
    .option('--client <client>', 'WHMCS 7 client email or id')
    .option('--secret <base32>', 'import this secret (migrating an existing device) instead of generating one; "-" reads it from stdin (also $WHMCS_TOTP_SECRET)')
    .option('--code <code>', 'the first code, without a prompt (scripts; needs --secret)')
    .option('--window <steps>', 'accept the first code this many 30 s steps either side (default 1, as WHMCS)')
    .option('--force', 'replace an existing second factor')
    .option('--activate', 'also enable Time-Based Tokens for this audience when it is off, in the same change')
    .option('--reason <text>', 'why: recorded in the activity log and the undo journal')
    .addHelpText(
      'after',
      `
Shows the otpauth:// URI, a QR code and the secret (the secret is the requested output here), asks
for the code the app shows and writes nothing until it matches (three tries). A code typed at the
prompt counts as the confirmation; without a terminal pass --secret, --code and --yes.
Writes: module totp, the config in this install's format (7.x tokendata, 8.x JSON or AES), a new
backup code (printed once), the activation code in WHMCS's replay list (8.x), an activity-log entry
and an undo-journal entry.
--format json prints {secret, otpauthUri, backupCode, …} because enrolling is asking for them.
--dry-run asks for nothing and needs no terminal: it previews the change without a code, and
without the secret, URI and QR code unless --show-secrets.
A secret given as --secret <base32> is visible in the process list: prefer $WHMCS_TOTP_SECRET or
--secret - (stdin; on a terminal it is asked for without echo).`,
    )
    .action(action<EnrollOptions>((ctx, opts) => enroll(ctx, opts)));
}

async function enroll(ctx: Context, opts: EnrollOptions) {
  const secretWarnings: string[] = [];
  const { secretFrom } = await import('./activate.js');
  opts.secret = await secretFrom(ctx, opts.secret, 'WHMCS_TOTP_SECRET', '--secret', 'TOTP secret (base32)', secretWarnings);
  for (const w of secretWarnings) ctx.out.warn(w);
  const canPrompt = ctx.io.canPrompt;
  // A dry run previews the change: it neither shows a secret to scan nor asks for a code.
  const preview = Boolean(ctx.opts.dryRun) && opts.code === undefined;
  if (opts.code === undefined && !canPrompt && !preview) {
    throw new RefusedError('no terminal to ask for the first code on — in scripts pass --secret <base32> --code <code> --yes');
  }
  if (opts.code !== undefined && opts.secret === undefined) {
    throw new UsageError('--code needs --secret <base32>: the code for a secret generated now cannot be known in advance');
  }
  const { parseWindow } = await import('../whmcs/accounts/verify.js');
  const window = parseWindow(opts.window, 1);
  const session = await ctx.session();
  const E = await import('../whmcs/accounts/enroll.js');
  const draft = await E.prepareEnrolment(session, { admin: opts.admin, user: opts.user, client: opts.client }, {
    secret: opts.secret,
    force: opts.force,
    activate: opts.activate,
  });
  for (const w of draft.warnings) ctx.out.warn(w);

  // The QR code paints its own colours when it lands on a terminal (src/ui/qr.ts).
  const qrOnTerminal = opts.code === undefined ? ctx.io.isTTY(ctx.out.human ? 'stdout' : 'stderr') : ctx.out.human && ctx.io.isTTY('stdout');
  const display = await displayBlocks(draft, qrOnTerminal);
  let displayed = false;
  let check: ActivationCheck | null = null;
  if (preview) {
    displayed = !ctx.showSecrets;
  } else if (opts.code === undefined) {
    // The operator needs the QR code before there is a code to type. It is the requested output,
    // so stdout in table mode; stderr when stdout carries JSON/YAML.
    const text = ctx.out.renderBlocks(display);
    if (ctx.out.human) ctx.out.write(text);
    else ctx.io.stderr.write(text);
    displayed = true;
    check = await askCode(ctx, draft, window);
  } else {
    check = await E.checkActivationCode(draft.secret, opts.code, { window });
    if (!check.ok) throw new CliError(`${check.message} — nothing was written`, EXIT.ERROR, analysisDetails(check));
  }
  if (check?.message) ctx.out.warn(check.message);

  const { generateBackupCode, formatBackupCode } = await import('../whmcs/crypto/backup-code-hash.js');
  const { applyChange } = await import('../whmcs/changes/change.js');
  const backupCode = generateBackupCode();
  const input = { draft, activation: check, backupCode, force: Boolean(opts.force), activate: Boolean(opts.activate), reason: opts.reason, showSecrets: ctx.showSecrets };
  const changeOptions = ctx.changeOptions(`Enrol ${draft.account.kind} "${draft.account.name}" in Time-Based Tokens?`);
  // The operator just typed a code from the new device: that is the confirmation.
  if (canPrompt && check) changeOptions.yes = true;
  const outcome = await applyChange(
    session,
    { command: 'enroll', summary: E.enrolmentSummary(draft), reason: opts.reason, plan: (trx, lock) => E.planEnrolment(session, trx, lock, input) },
    changeOptions,
  );

  const a = draft.account;
  const facts = outcome.result;
  const hideSecret = outcome.dryRun && !ctx.showSecrets;
  const json = {
    enrolled: outcome.changed,
    dryRun: outcome.dryRun,
    account: { kind: a.kind, id: a.id, name: a.name, email: a.email },
    module: 'totp',
    secret: hideSecret ? null : draft.secret,
    otpauthUri: hideSecret ? null : draft.otpauthUri,
    issuer: draft.issuer,
    label: draft.label,
    imported: draft.imported,
    backupCode: outcome.changed ? formatBackupCode(backupCode) : null,
    activation: check ? { matchedStep: check.analysis.matchedStep, offsetSeconds: check.analysis.offsetSeconds, window } : null,
    configFormat: facts.format,
    replaced: facts.replaced || null,
    replayCache: { recorded: facts.replayRecorded && outcome.changed, identity: facts.replayIdentity },
    totpEnabled: draft.settings.totpEnabled || facts.activated,
    activated: facts.activated && outcome.changed,
    journalId: outcome.journalId,
    warnings: [...draft.warnings, ...(check?.message ? [check.message] : [])],
    notes: outcome.plan.notes,
  };

  const blocks: Block[] = displayed ? [] : [...display];
  blocks.push({
    kind: 'diff',
    title: outcome.dryRun ? `Dry run — would enrol ${a.kind} "${a.name}" (nothing written):` : `Enrolled ${a.kind} "${a.name}" in Time-Based Tokens:`,
    lines: outcome.plan.diff,
  });
  for (const n of outcome.plan.notes) blocks.push({ kind: 'text', text: `Note: ${n}`, tone: 'dim' });
  if (outcome.changed) {
    blocks.push({
      kind: 'pairs',
      title: 'Backup code — shown once, store it safely (WHMCS keeps only its hash)',
      pairs: [['Backup code', formatBackupCode(backupCode)]],
    });
    blocks.push({ kind: 'text', text: `Recorded as ${outcome.journalId} — \`whmcs-2fa undo ${outcome.journalId}\` reverts it.`, tone: 'ok' });
    // --quiet hides the human blocks, but this code exists nowhere else once the command ends.
    if (ctx.out.quiet && ctx.out.human) ctx.out.write(`Backup code: ${formatBackupCode(backupCode)}\n`);
  }
  return { json, blocks };
}

async function displayBlocks(draft: EnrolmentDraft, paint: boolean): Promise<Block[]> {
  const { renderQr } = await import('../ui/qr.js');
  const qr = (await renderQr(draft.otpauthUri, { paint })).replace(/\n+$/, '');
  const a = draft.account;
  return [
    {
      kind: 'pairs',
      title: `Time-Based Tokens for ${a.kind} "${a.name}" (#${a.id})`,
      pairs: [
        ['Issuer', draft.issuer],
        ['Account', draft.label],
        ['Secret', `${draft.secret}   (manual entry: time-based, SHA1, 6 digits, 30 s)`],
        ['otpauth URI', draft.otpauthUri],
      ],
    },
    { kind: 'qr', text: qr },
    { kind: 'text', text: 'Scan the QR code (or type the secret) into the authenticator app, then enter the code it shows.' },
  ];
}

async function askCode(ctx: Context, draft: EnrolmentDraft, window: number): Promise<ActivationCheck> {
  const { checkActivationCode } = await import('../whmcs/accounts/enroll.js');
  let last: ActivationCheck | undefined;
  for (let i = 1; i <= TRIES; i++) {
    const input = await ctx.io.prompt.input(i === 1 ? 'Code from the app:' : `Code from the app (try ${i} of ${TRIES}):`, (v) =>
      /^\s*\d{3}[\s-]?\d{3}\s*$/.test(v) ? true : 'six digits, as the app shows them',
    ).catch((e: unknown) => {
      throw e instanceof CliError ? new CliError(`${e.message} — nothing was written`, e.exitCode) : e;
    });
    last = await checkActivationCode(draft.secret, input, { window });
    if (last.ok) return last;
    if (i < TRIES) ctx.out.warn(last.message!);
  }
  throw new CliError(`${TRIES} wrong codes — nothing was written. ${last!.message}`, EXIT.ERROR, analysisDetails(last!));
}

function analysisDetails(c: ActivationCheck) {
  return { matchedStep: c.analysis.matchedStep, offsetSeconds: c.analysis.offsetSeconds, verdict: c.analysis.verdict, explanation: c.analysis.explanation };
}
