import type { Knex } from 'knex';
import { HISTORY, Journal, type JournalEntry } from '../../src/whmcs/history/journal.js';
import type { RowChange } from '../../src/whmcs/changes/row-change.js';

/** The installation's history as the tool reads it (entries oldest first). */
export async function historyEntries(knex: Knex, ccHash?: string): Promise<JournalEntry[]> {
  return new Journal(knex, ccHash, 'test').list();
}

/** Every row of one entry, unsealed and checked like undo does. */
export async function historyRows(knex: Knex, ccHash: string | undefined, id: string): Promise<RowChange[]> {
  const j = new Journal(knex, ccHash, 'test');
  const e = await j.byId(id);
  if (!e) throw new Error(`no history entry ${id}`);
  return j.rowsOf(e);
}

/** Rows recorded so far for entry `id` (0 when absent or the table does not exist yet). */
export async function historyRowCount(knex: Knex, id?: string): Promise<number> {
  try {
    const q = knex(HISTORY).sum({ n: 'row_count' });
    const r = (await (id ? q.where({ id }) : q).first()) as { n: unknown } | undefined;
    return Number(r?.n ?? 0);
  } catch {
    return 0;
  }
}
