import { promises as fs } from 'node:fs';
import type { Session } from '../connection/session.js';
import { confirmOrRefuse, emptyPlan, type ChangeOptions } from '../changes/change.js';
import { legacyDir, legacyFiles, readLegacyEntry, type LegacyEntry } from './journal-file.js';
import { JournalDamage } from './journal-rows.js';
import { queryError } from '../connection/db.js';
import { RefusedError } from '../../errors.js';

interface ImportReport {
  dir: string;
  dryRun: boolean;
  imported: number;
  entries: Array<{ id: string; createdAt: string; command: string; rows: number; state: string }>;
  warnings: string[];
}

/** How many entries an earlier version left in its file journal for this connection (0 when none). */
export async function legacyCount(session: Session): Promise<number> {
  const files = await legacyFiles(legacyDir(session.db.label, session.env));
  return files.length;
}

/**
 * Copies an earlier version's file journal into the installation's history, in the order the
 * entries were made, keeping their ids. Every line of every file is checked first (allow-list,
 * JSON): one damaged entry refuses the import naming file and line, and nothing is imported.
 * Entries without rows (interrupted before writing) are left out; an entry without a commit
 * marker is imported all the same — the database, not the marker, says what was written, and undo
 * restores only rows that hold what the change wrote. The files are renamed `*.imported` after
 * the commit, so a second import finds nothing.
 *
 * The file journal was keyed by the connection's label, so it may describe another database
 * that had the same label: undo still checks every row's values (and cannot check the account
 * for rows recorded before identities were kept) — import only what you know was made here.
 */
export async function importLegacy(session: Session, opts: ChangeOptions): Promise<ImportReport> {
  const dir = legacyDir(session.db.label, session.env);
  const files = await legacyFiles(dir);
  const warnings: string[] = [];
  const entries: Array<LegacyEntry & { torn: boolean }> = [];
  for (const f of files) {
    try {
      entries.push(await readLegacyEntry(f));
    } catch (e) {
      if (e instanceof JournalDamage) throw new RefusedError(`${e.message} — refusing to import; nothing was imported (move that file aside if it cannot be repaired)`);
      throw e;
    }
  }
  entries.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  const journal = session.journal();
  const known = new Set((await journal.list()).map((e) => e.id));
  const todo = entries.filter((e) => e.rows.length > 0 && !known.has(e.id));
  const report: ImportReport = {
    dir,
    dryRun: opts.dryRun,
    imported: 0,
    entries: entries.map((e) => ({
      id: e.id,
      createdAt: e.createdAt,
      command: e.command,
      rows: e.rows.length,
      state: known.has(e.id) ? 'already in the history' : e.rows.length === 0 ? 'no rows: skipped' : e.undoneBy ? `undone by ${e.undoneBy}` : e.commits ? 'applied' : 'no commit marker',
    })),
    warnings,
  };
  for (const e of entries) if (e.torn) warnings.push(`${e.file}: its last line was torn (a crash while writing); the complete lines are imported`);
  if (!todo.length || opts.dryRun) return report;
  const preview = emptyPlan();
  preview.diff = todo.map((e) => ({ field: `${e.id} ${e.command}`, before: '', after: `${e.rows.length} rows` }));
  await confirmOrRefuse(opts, preview);
  await journal.ensure();
  try {
    await session.db.knex.transaction(async (trx) => {
      for (const e of todo) {
        await journal.importEntry(
          trx,
          { id: e.id, createdAt: e.createdAt, command: e.command, summary: e.summary, reason: e.reason, operator: e.operator, undoOf: e.undoOf, undoneBy: e.undoneBy },
          e.rows,
        );
      }
    });
  } catch (e) {
    throw queryError(e, 'nothing was imported');
  }
  report.imported = todo.length;
  for (const e of todo) await fs.rename(e.file, `${e.file}.imported`).catch(() => warnings.push(`${e.file} was imported but could not be renamed`));
  return report;
}
