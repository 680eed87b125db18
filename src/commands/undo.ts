import type { Command } from 'commander';
import { action } from './run.js';
import type { Block } from '../ui/view.js';
import { UsageError } from '../errors.js';

export function register(program: Command): void {
  program
    .command('undo')
    .description('restore what an earlier whmcs-2fa change replaced (default: the last change not yet undone)')
    .argument('[id]', 'history entry id (or a unique prefix of 4+ characters) from `undo --list`; an undo\'s id re-applies its change')
    .option('--list', 'list the recorded changes of this installation, oldest first')
    .option('--skip-changed', 'restore the rows that still hold what the change wrote and list the others (default: refuse)')
    .option('--reason <text>', 'why (recorded in the WHMCS activity log and the history)')
    .option('--import-legacy', 'copy the file journal of earlier versions (for this connection) into the installation\'s history')
    .action(
      action<{ list?: boolean; skipChanged?: boolean; reason?: string; importLegacy?: boolean }>(async (ctx, opts, args) => {
        const session = await ctx.session();
        if ((opts.list || opts.importLegacy) && (args[0] || opts.skipChanged)) throw new UsageError('--list and --import-legacy take no id and no --skip-changed');
        if (opts.importLegacy) {
          const { importLegacy } = await import('../whmcs/history/journal-import.js');
          const r = await importLegacy(session, ctx.changeOptions('Import these entries into the installation\'s history?'));
          const blocks: Block[] = [
            {
              kind: 'table',
              title: `${r.dryRun ? 'Would import' : 'Imported'} from ${r.dir}`,
              columns: ['ID', 'When', 'Command', 'Rows', 'State'],
              rows: r.entries.map((e) => [e.id, e.createdAt.replace('T', ' ').slice(0, 19), e.command, String(e.rows), e.state]),
            },
          ];
          return { json: r, blocks, warnings: r.warnings };
        }
        if (opts.list) {
          const journal = session.journal();
          const entries = await journal.list();
          const { legacyCount } = await import('../whmcs/history/journal-import.js');
          const legacy = await legacyCount(session).catch(() => 0);
          const rows = entries.map((e) => ({
            id: e.id,
            seq: e.seq,
            createdAt: e.createdAt,
            command: e.command,
            summary: e.summary,
            operator: e.operator,
            reason: e.reason ?? null,
            committed: true,
            rows: e.rows,
            undoneBy: e.undoneBy ?? null,
            undoOf: e.undoOf ?? null,
            source: e.source,
          }));
          const blocks: Block[] = [
            {
              kind: 'table',
              title: `Changes recorded in ${journal.where}`,
              columns: ['#', 'ID', 'When (UTC)', 'Operator', 'Command', 'Summary', 'State'],
              rows: rows.map((r) => [
                String(r.seq),
                r.id,
                r.createdAt.replace('T', ' ').slice(0, 19),
                r.operator,
                r.command,
                r.summary,
                r.undoneBy ? `undone by ${r.undoneBy}` : r.undoOf ? `undoes ${r.undoOf}` : 'applied',
              ]),
            },
          ];
          const warnings = legacy
            ? [`${legacy} change${legacy === 1 ? '' : 's'} recorded by an earlier version in a file journal for this connection — \`whmcs-2fa undo --import-legacy\` brings them into this history`]
            : [];
          return { json: { journal: journal.where, entries: rows }, blocks, rows, warnings };
        }
        const { undoChange } = await import('../whmcs/history/undo.js');
        const r = await undoChange(session, args[0], { ...ctx.changeOptions(), warn: undefined, skipChanged: opts.skipChanged, reason: opts.reason });
        const { outcome } = r;
        const json = {
          undone: r.entry,
          changed: outcome.changed,
          dryRun: outcome.dryRun,
          journalId: outcome.journalId,
          rowsRestored: r.restored,
          rowsAlreadyRestored: r.skipped,
          rowsSkipped: r.changedCount,
          skippedRows: r.changedRows,
          reapplied: r.reapplied,
          commitReplyLost: Boolean(outcome.commitReplyLost),
        };
        const verb = outcome.dryRun ? 'Would restore' : outcome.changed ? (r.reapplied ? 'Re-applied' : 'Restored') : 'Nothing to restore';
        const blocks: Block[] = [
          { kind: 'diff', title: `${verb} — ${r.entry.id} ${r.entry.command}: ${r.entry.summary} (by ${r.entry.operator || 'unknown'})`, lines: outcome.plan.diff },
        ];
        if (r.changedCount) {
          const ids = r.changedRows.map((c) => `${c.id}${c.why === 'changed' ? '' : ` (${c.why})`}`);
          blocks.push({ kind: 'text', text: `Left as they are (changed since), ${r.changedRows[0]?.table ?? ''} ids: ${ids.join(', ')}${r.changedCount > ids.length ? ', …' : ''}`, tone: 'dim' });
        }
        if (outcome.changed) blocks.push({ kind: 'text', text: `Undo recorded as ${outcome.journalId} (\`whmcs-2fa undo ${outcome.journalId}\` re-applies the change).`, tone: 'ok' });
        return { json: { ...json, notes: outcome.plan.notes }, blocks, warnings: outcome.plan.notes };
      }),
    );
}

