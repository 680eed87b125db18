import type { Command } from 'commander';
import { action } from './run.js';
import type { Block } from '../ui/view.js';
import { UsageError } from '../errors.js';

interface BackupCodeOptions {
  admin?: string;
  user?: string;
  client?: string;
  allAdmins?: boolean;
  reason?: string;
}

export function register(program: Command): void {
  program
    .command('backup-code')
    .description('issue a new backup code: the account stays enrolled and logs in with "Login using Backup Code"')
    .option('--admin <username|email|id>', 'for this admin')
    .option('--user <email|id>', 'for this user (WHMCS 8)')
    .option('--client <email|id>', 'for this client (WHMCS 7)')
    .option('--all-admins', 'for every admin with a second factor')
    .option('--reason <text>', 'why (written to the WHMCS activity log)')
    .action(
      action<BackupCodeOptions>(async (ctx, opts) => {
        const single = [opts.admin, opts.user, opts.client].filter((v) => v !== undefined).length;
        if (opts.allAdmins && single) throw new UsageError('--all-admins already names the accounts: drop --admin/--user/--client');
        if (!opts.allAdmins && single !== 1) {
          throw new UsageError('name one account (--admin <username|email|id>, --user <email|id>, --client <email|id>) or pass --all-admins');
        }
        const session = await ctx.session();
        const { issueBackupCodes } = await import('../whmcs/accounts/backup-code.js');
        const question = opts.allAdmins ? 'Issue new backup codes for every enrolled admin (their old codes stop working)?' : 'Issue a new backup code (the old one stops working)?';
        const r = await issueBackupCodes(
          session,
          { selector: { admin: opts.admin, user: opts.user, client: opts.client }, allAdmins: opts.allAdmins, reason: opts.reason?.trim() || undefined },
          ctx.changeOptions(question),
        );
        const { outcome } = r;
        const json = {
          changed: outcome.changed,
          dryRun: outcome.dryRun,
          journalId: outcome.journalId,
          ...(opts.allAdmins
            ? { accounts: r.accounts }
            : { account: withoutCode(r.accounts[0]!), backupCode: r.accounts[0]!.backupCode }),
          notes: r.notes,
          warnings: r.warnings,
        };
        const label = (a: (typeof r.accounts)[number]) => (a.kind === 'admin' ? `admin '${a.name}' (#${a.id})` : `${a.kind} ${a.email} (#${a.id})`);
        const blocks: Block[] = [];
        if (outcome.dryRun) {
          blocks.push({ kind: 'diff', title: `Would issue a new backup code for ${r.accounts.map(label).join(', ')} (no code is generated in a dry run)`, lines: outcome.plan.diff });
        } else {
          for (const a of r.accounts) {
            blocks.push({ kind: 'pairs', title: `New backup code for ${label(a)}`, pairs: [['Backup code', a.backupCode ?? ''], ['Stays enrolled in', a.module]] });
          }
          blocks.push({ kind: 'text', text: r.notes.join('\n'), tone: 'dim' });
          if (outcome.journalId) blocks.push({ kind: 'text', text: `Recorded as ${outcome.journalId} (\`whmcs-2fa undo\` restores the old code).`, tone: 'ok' });
        }
        // The code is the output that was asked for: --quiet still prints it (alone, one per line).
        const quietText = outcome.changed
          ? r.accounts.map((a) => (opts.allAdmins ? `${a.name}\t${a.backupCode}` : `${a.backupCode}`)).join('\n') + '\n'
          : undefined;
        return { json, blocks, warnings: r.warnings, raw: ctx.opts.quiet && quietText ? { table: quietText } : undefined };
      }),
    );
}

function withoutCode<T extends { backupCode: string | null }>(a: T): Omit<T, 'backupCode'> {
  const { backupCode: _omit, ...rest } = a;
  return rest;
}
