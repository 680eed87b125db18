import type { Command } from 'commander';
import { action } from './run.js';
import type { Block } from '../ui/view.js';
import type { Context } from '../context.js';
import type { ClockSide, VerifyReport } from '../whmcs/accounts/verify.js';
import { EXIT, UsageError } from '../errors.js';

interface VerifyOptions {
  admin?: string;
  user?: string;
  client?: string;
  window?: string;
  at?: string;
  ntp?: string | boolean;
}

export function register(program: Command): void {
  program
    .command('verify')
    .description('explain whether WHMCS would accept a TOTP code for an account now, and why not (read-only)')
    .argument('[code]', 'the code the device shows')
    .option('--admin <admin>', 'admin username, email or id')
    .option('--user <user>', 'WHMCS 8 user email or id')
    .option('--client <client>', 'WHMCS 7 client email or id')
    .option('--window <steps>', 'search this many 30 s steps either side for the step the code belongs to (default 10)')
    .option('--at <time>', 'judge as of this moment instead of now: unix seconds or ISO 8601')
    .option('--ntp [server]', 'also ask NTP (default pool, or host[:port][,…]) whether this server or the device is off')
    .addHelpText(
      'after',
      `
Exit status: 0 WHMCS would accept the code now, or at --at (current step ±1, not already used), 1 it would not;
other errors keep their codes (6: the stored secret does not decrypt with this cc_encryption_hash).
verify never writes, so the code is not used up. --format json: {accepted, matchedStep, offsetSeconds,
replayed, reasons, …}. Put the code before --ntp (or write --ntp=server).`,
    )
    .action(action<VerifyOptions>((ctx, opts, args) => verify(ctx, opts, args)));
}

async function verify(ctx: Context, opts: VerifyOptions, args: string[]) {
  let code = args[0];
  let ntp = opts.ntp;
  // `verify --admin a --ntp 123456`: commander hands the code to --ntp's optional value.
  if (code === undefined && typeof ntp === 'string' && /^\d{6}$/.test(ntp)) {
    code = ntp;
    ntp = true;
  }
  if (code === undefined) throw new UsageError('give the code to check, e.g. `whmcs-2fa verify --admin jdoe 123456`');
  const V = await import('../whmcs/accounts/verify.js');
  const window = V.parseWindow(opts.window, V.DEFAULT_VERIFY_WINDOW);
  const at = opts.at !== undefined ? V.parseAt(opts.at) : undefined;
  const session = await ctx.session();
  const report = await V.verifyAccountCode(session, { admin: opts.admin, user: opts.user, client: opts.client }, code, {
    at,
    window,
    showSecrets: ctx.showSecrets,
  });

  let clock: (ClockSide & { ntpOffset: number | null; status: string; validServers: number; about: string }) | null = null;
  if (ntp) {
    const servers = typeof ntp === 'string' ? ntp.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
    const { checkClock } = await import('../clock/verdict.js');
    const r = await checkClock({ servers });
    clock = {
      ntpOffset: r.offset,
      status: r.statusName,
      validServers: r.validServers,
      about: at !== undefined ? 'the clocks now, not at --at' : 'now',
      ...V.whichClock(report.offsetSeconds, r.offset),
    };
  }

  // Judged at --at, not now: say so wherever "now" would be said.
  if (at !== undefined) report.reasons = report.reasons.map((r) => r.replace(/^accepted now\b/, `accepted at ${report.at}`));
  const json = { ...report, clock };
  return { json, blocks: blocks(report, clock, at !== undefined), exitCode: report.accepted ? EXIT.OK : EXIT.ERROR };
}

function blocks(r: VerifyReport, clock: (ClockSide & { about: string }) | null, atGiven: boolean): Block[] {
  const when = atGiven ? `at ${r.at} (--at)` : 'now';
  const out: Block[] = [
    r.accepted
      ? { kind: 'text', text: `ACCEPTED — WHMCS would accept this code ${when}`, tone: 'ok' }
      : { kind: 'text', text: `REJECTED — WHMCS would not accept this code ${when}`, tone: 'bad' },
  ];
  const step =
    r.matchedStep === null
      ? r.secret.present
        ? `no match within ±${r.window} steps`
        : '—'
      : r.matchedStep === 0
        ? 'current step'
        : `${r.matchedStep > 0 ? '+' : ''}${r.matchedStep} (${r.offsetSeconds! > 0 ? `${r.offsetSeconds} s ahead` : `${-r.offsetSeconds!} s ago`})`;
  out.push({
    kind: 'pairs',
    pairs: [
      ['Account', `${r.account.kind} "${r.account.name}" (#${r.account.id})${r.account.email && r.account.email !== r.account.name ? ` ${r.account.email}` : ''}`],
      ['Module', r.module === '' ? '(none)' : r.module],
      ['Judged at', r.at],
      ['Matching step', step],
      ['Replay list', r.replayed ? `already used${r.replay.ageSeconds !== null ? ` ${r.replay.ageSeconds} s ago` : ''}` : `not used (${r.replay.cache === 'absent' ? 'no list yet' : `${r.replay.entries} entries`})`],
      ['Secret', r.secret.present ? `${r.secret.description}, stored as ${r.secret.format}${r.secret.value ? `: ${r.secret.value}` : ''}` : 'none'],
      ...(r.lockout.attempts !== null || r.lockout.backupAttempts !== null
        ? [['Failed attempts', `${r.lockout.attempts ?? 0} code, ${r.lockout.backupAttempts ?? 0} backup code`] as [string, string]]
        : []),
    ],
  });
  out.push({ kind: 'text', text: r.reasons.map((s) => `  • ${s}`).join('\n') });
  if (r.notes.length) out.push({ kind: 'text', text: r.notes.map((s) => `  Note: ${s}`).join('\n'), tone: 'dim' });
  if (r.lockout.bans.length) {
    out.push({
      kind: 'table',
      title: 'Recent "Login Attempts Exceeded" bans (tblbannedips)',
      columns: ['IP', 'Expires', 'State'],
      rows: r.lockout.bans.map((b) => [b.ip, b.expires, b.active ? 'active' : 'expired']),
    });
  }
  if (clock) out.push({ kind: 'pairs', title: `Clock (NTP, ${clock.about})`, pairs: [['Verdict', clock.summary]] });
  return out;
}
