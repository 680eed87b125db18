import type { Command } from 'commander';
import { resolve } from 'node:path';
import { action } from './run.js';

export function register(program: Command): void {
  program
    .command('sandbox')
    .description('create a WHMCS-8-shaped SQLite sandbox with sample admins and users (no MySQL needed)')
    .argument('<dir>', 'directory to create it in (gets configuration.php and the database)')
    .option('--force', 'replace an existing sandbox in <dir>')
    .action(
      action<{ force?: boolean }>(async (ctx, opts, args) => {
        const { createSandbox } = await import('../whmcs/schema/sandbox.js');
        // A relative directory is the run's working directory's, not the process's (tests run in-process).
        const r = await createSandbox(resolve(ctx.io.cwd, args[0]!), { force: opts.force });
        return {
          json: r,
          blocks: [
            { kind: 'text', text: `Sandbox created in ${r.dir}`, tone: 'ok' },
            {
              kind: 'table',
              title: 'Admins',
              columns: ['ID', 'Username', '2FA module'],
              rows: r.admins.map((a) => [String(a.id), a.username, a.module === '' ? '—' : a.module]),
            },
            {
              kind: 'table',
              title: 'Users',
              columns: ['ID', 'Email', '2FA module', 'Stored as'],
              rows: r.users.map((u) => [String(u.id), u.email, u.module === '' ? '—' : u.module, u.format]),
            },
            { kind: 'text', text: `Try:  whmcs-2fa --whmcs-dir ${r.dir} status` },
          ],
        };
      }),
    );
}
