import type { Command } from 'commander';
import { action } from './run.js';
import type { Block, View } from '../ui/view.js';
import { UsageError } from '../errors.js';
import type { EnforceJson } from '../whmcs/settings/enforce.js';

interface EnforceOptions {
  admins?: string;
  clients?: string;
  force?: boolean;
  reason?: string;
}

export function register(program: Command): void {
  program
    .command('enforce')
    .description('force admins and/or clients to enrol in 2FA at next login (no flags: show the current state)')
    .option('--admins <on|off>', 'force admins to enrol')
    .option('--clients <on|off>', 'force clients/users to enrol')
    .option('--force', 'rebuild an unreadable 2fasettings row from scratch (the old value goes to the undo journal)')
    .option('--reason <text>', 'why (recorded in the WHMCS activity log and the undo journal)')
    .action(
      action<EnforceOptions>(async (ctx, opts) => {
        const want = { admins: onOff('--admins', opts.admins), clients: onOff('--clients', opts.clients) };
        const session = await ctx.session();
        const sc = await import('../whmcs/settings/enforce.js');
        if (want.admins === undefined && want.clients === undefined) {
          const state = await sc.readEnforcement(session);
          return enforceView(state, null);
        }
        const force = Object.fromEntries(Object.entries(want).filter(([, v]) => v !== undefined)) as Partial<Record<'admins' | 'clients', boolean>>;
        const r = await sc.enforce(session, { force, rebuild: Boolean(opts.force), reason: opts.reason }, ctx.changeOptions('Change 2FA enforcement?'));
        return enforceView(r.json, r.outcome.plan.rows.length > 0);
      }),
    );
}

function onOff(flag: string, v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  const s = v.trim().toLowerCase();
  if (s === 'on') return true;
  if (s === 'off') return false;
  throw new UsageError(`${flag} takes on or off, got "${v}"`);
}

const state = (b: boolean) => (b ? 'forced to enrol' : 'not forced');

/** `wouldWrite` null: the read-only state view. */
function enforceView(j: EnforceJson, wouldWrite: boolean | null): View {
  const blocks: Block[] = [];
  if (wouldWrite === null) {
    blocks.push({ kind: 'pairs', title: 'Two-factor enrolment', pairs: [['Admins', state(j.force.admins)], ['Clients', state(j.force.clients)]] });
  } else if (j.dryRun && wouldWrite) {
    blocks.push({ kind: 'diff', title: 'Would change (dry run, nothing written):', lines: j.diff });
  } else if (!j.changed) {
    blocks.push({ kind: 'text', text: `Already so — admins ${state(j.force.admins)}, clients ${state(j.force.clients)}; nothing to change.`, tone: 'ok' });
  } else {
    blocks.push({ kind: 'diff', title: 'Enforcement changed:', lines: j.diff });
    blocks.push({ kind: 'text', text: `Recorded as ${j.journalId} — \`whmcs-2fa undo ${j.journalId}\` reverts it.`, tone: 'dim' });
  }
  if (j.force.admins) {
    blocks.push({
      kind: 'table',
      title: 'Active admins who must enrol at next login',
      columns: ['ID', 'Username'],
      rows: j.willEnrol.map((a) => [String(a.id), a.username]),
    });
  }
  return { json: j, blocks, warnings: j.warnings };
}
