import type { Command } from 'commander';
import { action } from './run.js';
import type { Block } from '../ui/view.js';

export function register(program: Command): void {
  program
    .command('undo')
    .description('restore what an earlier whmcs-2fa change replaced (default: the last change)')
    .argument('[id]', 'journal entry id (or a unique prefix) from `undo --list`')
    .option('--list', 'list the recorded changes for this database')
    .action(
      action<{ list?: boolean }>(async (ctx, opts, args) => {
        const session = await ctx.session();
        if (opts.list) {
          const entries = await session.journal().list();
          const rows = entries.map((e) => ({
            id: e.id,
            createdAt: e.createdAt,
            command: e.command,
            summary: e.summary,
            operator: e.operator,
            reason: e.reason ?? null,
            committed: e.commits > 0,
            undoneBy: e.undoneBy ?? null,
          }));
          const blocks: Block[] = [
            {
              kind: 'table',
              title: `Changes recorded in ${session.journal().dir}`,
              columns: ['ID', 'When', 'Command', 'Summary', 'State'],
              rows: rows.map((r) => [r.id, r.createdAt.replace('T', ' ').slice(0, 19), r.command, r.summary, r.undoneBy ? `undone by ${r.undoneBy}` : r.committed ? 'applied' : 'not applied']),
            },
          ];
          return { json: { journal: session.journal().dir, entries: rows }, blocks, rows };
        }
        const { undoChange } = await import('../whmcs/undo.js');
        const r = await undoChange(session, args[0], ctx.changeOptions(`Restore the values from before ${args[0] ?? 'the last change'}?`));
        const { outcome } = r;
        const json = {
          undone: r.entry,
          changed: outcome.changed,
          dryRun: outcome.dryRun,
          journalId: outcome.journalId,
          rowsRestored: outcome.plan.rows.length,
          rowsAlreadyRestored: r.skipped,
        };
        const blocks: Block[] = [
          { kind: 'diff', title: `${outcome.dryRun ? 'Would restore' : outcome.changed ? 'Restored' : 'Nothing to restore'} — ${r.entry.command}: ${r.entry.summary}`, lines: outcome.plan.diff },
        ];
        if (outcome.changed) blocks.push({ kind: 'text', text: `Undo recorded as ${outcome.journalId} (undo that to reapply).`, tone: 'ok' });
        return { json: { ...json, notes: outcome.plan.notes }, blocks, warnings: outcome.plan.notes };
      }),
    );
}
