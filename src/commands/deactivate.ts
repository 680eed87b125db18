import type { Command } from 'commander';
import { action } from './run.js';
import { audiencesOf, resolveService, serviceChangeView } from './activate.js';

interface DeactivateOptions {
  clients?: boolean;
  admins?: boolean;
  force?: boolean;
  reason?: string;
}

export function register(program: Command): void {
  program
    .command('deactivate')
    .description('disable a security service for clients and/or admins (its settings are kept, as WHMCS does)')
    .argument('<service>', 'totp | duo | yubikey (or the names WHMCS stores: duosecurity, yubico)')
    .option('--clients', 'disable it for clients/users (default: both audiences)')
    .option('--admins', 'disable it for admins (default: both audiences)')
    .option('--force', 'deactivate even though enrolled people would then log in without a second factor; also rebuilds an unreadable 2fasettings row')
    .option('--reason <text>', 'why (recorded in the WHMCS activity log and the undo journal)')
    .action(
      action<DeactivateOptions>(async (ctx, opts, args) => {
        const module = resolveService(args[0]!);
        const audiences = audiencesOf(opts);
        const session = await ctx.session();
        const { deactivateService } = await import('../whmcs/settings/service-change.js');
        const result = await deactivateService(
          session,
          { module, audiences, force: Boolean(opts.force), reason: opts.reason, showSecrets: ctx.showSecrets },
          ctx.changeOptions(`Deactivate ${module} for ${audiences.join(' and ')}?`),
        );
        return serviceChangeView(result, 'deactivate');
      }),
    );
}
