import type { Knex } from 'knex';
import type { Session } from './session.js';
import { applyChange, describeKey, type ChangeOptions, type ChangeOutcome, type Plan, type RowChange } from './change.js';
import { activityText } from './activity-log.js';
import type { JournalEntry } from './journal.js';
import { RefusedError } from '../errors.js';
import type { DiffLine } from './diff.js';

export interface UndoResult {
  entry: { id: string; command: string; summary: string; createdAt: string; rows: number };
  outcome: ChangeOutcome;
  /** Journal rows whose batch never committed (interrupted run): already at their old values. */
  skipped: number;
}

const SHOWN = 20;

/**
 * Restores what a journalled change replaced — only where the database still holds exactly what
 * that change wrote. A row someone changed since is a conflict: undo refuses and shows it, because
 * restoring over it would silently revert their work. Undo is itself a journalled change.
 */
export async function undoChange(session: Session, id: string | undefined, opts: ChangeOptions): Promise<UndoResult> {
  const journal = session.journal();
  const entry = await journal.get(id);
  if (entry.undoneBy) {
    throw new RefusedError(`change ${entry.id} was already undone by ${entry.undoneBy} — to reapply it, undo ${entry.undoneBy}`);
  }
  let skipped = 0;
  const outcome = await applyChange(
    session,
    {
      command: `undo ${entry.id}`,
      summary: `undo of ${entry.command}: ${entry.summary}`,
      plan: async (trx, lock) => {
        const r = await planUndo(trx, entry, lock, session.db.dialect === 'mysql');
        skipped = r.skipped;
        return r.plan;
      },
    },
    opts,
  );
  if (outcome.changed && outcome.journalId) await journal.markUndone(entry, outcome.journalId);
  if (!outcome.changed && !outcome.dryRun && skipped === entry.rows.length && entry.rows.length > 0) {
    await journal.markUndone(entry, '(values already restored)');
  }
  return {
    entry: { id: entry.id, command: entry.command, summary: entry.summary, createdAt: entry.createdAt, rows: entry.rows.length },
    outcome,
    skipped,
  };
}

async function planUndo(trx: Knex.Transaction, entry: JournalEntry, lock: boolean, mysql: boolean): Promise<{ plan: Plan; skipped: number }> {
  const rows: RowChange[] = [];
  const diff: DiffLine[] = [];
  const conflicts: string[] = [];
  let skipped = 0;
  const notes: string[] = [];
  // Newest first, so a row changed twice in one entry ends at its oldest value.
  const todo = [...entry.rows].reverse();
  const current = await readCurrent(trx, todo, lock && mysql);
  for (const r of todo) {
    const cur = current.get(keyOf(r));
    if (matches(cur, r.a)) {
      rows.push({ t: r.t, k: r.k, b: r.a, a: r.b, ...(r.s ? { s: 1 as const } : {}) });
      if (diff.length < SHOWN) diff.push(...describeRestore(r));
    } else if (matches(cur, r.b)) {
      skipped++;
    } else if (r.s) {
      notes.push(`${r.t} ${describeKey(r.k)} changed since (WHMCS updates it on its own) — left as it is`);
    } else if (conflicts.length < 5) {
      // Name the same journalled columns on both sides, so the difference is visible.
      conflicts.push(`${r.t} ${describeKey(r.k)}: now ${summarizeValues(cur, r.a ?? r.b)}, expected ${summarizeValues(r.a)}`);
    } else {
      conflicts.push('');
    }
  }
  if (conflicts.length) {
    const shown = conflicts.filter(Boolean);
    throw new RefusedError(
      `cannot undo ${entry.id}: ${conflicts.length} row${conflicts.length === 1 ? ' was' : 's were'} changed after it (${shown.join('; ')}) — nothing was restored`,
      { conflicts: shown },
    );
  }
  if (rows.length > SHOWN) diff.push({ field: `… and ${rows.length - SHOWN} more rows`, before: '', after: '' });
  return {
    plan: {
      rows,
      diff,
      notes,
      activity: [{ description: activityText(`undid change ${entry.id} (${entry.summary}), ${rows.length} row${rows.length === 1 ? '' : 's'} restored`, entry.operator === '' ? 'unknown' : entry.operator) }],
    },
    skipped,
  };
}

function keyOf(r: RowChange): string {
  return `${r.t}\0${JSON.stringify(r.k)}`;
}

/** Current values of every journalled row, read in chunks (set-based, also for 100 000 rows). */
async function readCurrent(trx: Knex.Transaction, rows: RowChange[], lock: boolean): Promise<Map<string, Record<string, unknown> | null>> {
  const out = new Map<string, Record<string, unknown> | null>();
  const byId = new Map<string, RowChange[]>();
  for (const r of rows) {
    const keys = Object.keys(r.k);
    if (keys.length === 1 && keys[0] === 'id') (byId.get(r.t) ?? byId.set(r.t, []).get(r.t)!).push(r);
    else {
      let q = trx(r.t).where(r.k).first();
      if (lock) q = q.forUpdate();
      const row = await q;
      out.set(keyOf(r), row ?? null);
    }
  }
  for (const [table, list] of byId) {
    for (let i = 0; i < list.length; i += 1000) {
      const chunk = list.slice(i, i + 1000);
      const ids = chunk.map((r) => Number(r.k.id));
      let q = trx(table).whereIn('id', ids);
      if (lock) q = q.forUpdate();
      const found = new Map<number, Record<string, unknown>>();
      for (const row of (await q) as Record<string, unknown>[]) found.set(Number(row.id), row);
      for (const r of chunk) out.set(keyOf(r), found.get(Number(r.k.id)) ?? null);
    }
  }
  return out;
}

function matches(cur: Record<string, unknown> | null | undefined, want: Record<string, string | null> | null): boolean {
  if (want === null) return cur === null || cur === undefined;
  if (!cur) return false;
  for (const [c, v] of Object.entries(want)) {
    const have = cur[c];
    if (v === null ? have !== null && have !== undefined : have === null || have === undefined || String(have) !== v) return false;
  }
  return true;
}

function short(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  const s = String(v);
  // Long values are configs that can hold secrets: show their size, not their bytes.
  return s.length > 24 ? `(${s.length} bytes)` : `'${s}'`;
}

function summarizeValues(v: Record<string, unknown> | null | undefined, columnsOf?: Record<string, unknown> | null): string {
  if (!v) return 'absent';
  const cols = columnsOf ? new Set(Object.keys(columnsOf)) : null;
  return Object.entries(v)
    .filter(([c]) => c !== 'id' && (!cols || cols.has(c)))
    .slice(0, 3)
    .map(([c, x]) => `${c}=${short(x)}`)
    .join(', ');
}

/** Stored values can be encrypted configs: the diff names columns and sizes, never contents. */
function describeRestore(r: RowChange): DiffLine[] {
  const cols = new Set([...Object.keys(r.a ?? {}), ...Object.keys(r.b ?? {})]);
  return [...cols].map((c) => ({
    field: `${r.t} ${describeKey(r.k)} ${c}`,
    before: short(r.a?.[c] ?? null),
    after: short(r.b?.[c] ?? null),
  }));
}
