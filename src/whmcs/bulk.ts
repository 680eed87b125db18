/**
 * The bulk engine: one change applied to every matching row of one table, for 100 000 rows as
 * well as for ten. Rows are taken in keyset batches (`id > last ORDER BY id LIMIT n FOR UPDATE`),
 * so memory holds one batch, and every batch is its own transaction: journal rows appended and
 * fsynced first, then the write (set-based when every row gets the same values; the lock taken by
 * the read is the compare-and-set),
 * then the activity-log rows, then commit and the journal's commit marker. All batches share one
 * journal entry, so one `whmcs-2fa undo` restores the whole run.
 *
 * Stopping (SIGINT, an error) never leaves half a batch: an unfinished batch is rolled back, and
 * its journal rows — written before the write — have no commit marker; undo judges those rows by
 * the database's values and finds them unchanged.
 */
import type { Knex } from 'knex';
import type { Session } from './session.js';
import type { ActivityEntry } from './activity-log.js';
import { writeActivity } from './activity-log.js';
import { writeRows, type RowChange } from './change.js';
import { queryError } from './db.js';
import { CliError, RefusedError } from '../errors.js';

export interface BatchInfo {
  /** 1-based batch number. */
  index: number;
  count: number;
  firstId: number;
  lastId: number;
}

export interface BulkJob {
  command: string;
  summary: string;
  reason?: string;
  table: string;
  /** Columns read, journalled and compared (besides `id`). */
  columns: string[];
  /** Narrows the rows; applied to every query, so counting, sampling and writing agree. */
  filter: (q: Knex.QueryBuilder) => Knex.QueryBuilder;
  /** The new values of one row, from its current ones (strings or null, exactly as stored). */
  change: (current: Record<string, string | null>) => Record<string, string | null>;
  /** Activity-log rows for one committed batch. */
  activity: (b: BatchInfo) => ActivityEntry[];
  batchSize: number;
}

export interface BulkHooks {
  /** After each committed batch. */
  onBatch?: (p: { done: number; batches: number; lastId: number }) => void;
  /** Polled between the steps of a batch; true rolls the current batch back and stops. */
  stopRequested?: () => boolean;
}

export interface BulkOutcome {
  journalId: string | null;
  rows: number;
  batches: number;
  interrupted: boolean;
  idRange: { first: number; last: number } | null;
  durationMs: number;
}

export interface BulkScope {
  count: number;
  idRange: { first: number; last: number } | null;
}

const isSqlite = (k: Knex | Knex.Transaction): boolean => k.client.config.client === 'better-sqlite3';

/** How many rows match, and their id range — one aggregate query, nothing loaded. */
export async function bulkScope(session: Session, job: Pick<BulkJob, 'table' | 'filter'>): Promise<BulkScope> {
  const row = (await job
    .filter(session.db.knex(job.table))
    .select(session.db.knex.raw('COUNT(*) AS n, MIN(id) AS first, MAX(id) AS last'))
    .first()) as { n: unknown; first: unknown; last: unknown } | undefined;
  const count = Number(row?.n ?? 0);
  return { count, idRange: count ? { first: Number(row!.first), last: Number(row!.last) } : null };
}

/** The first `n` matching rows (for a dry run's sample). */
export async function bulkSample(session: Session, job: Pick<BulkJob, 'table' | 'filter'>, columns: string[], n: number): Promise<Record<string, unknown>[]> {
  return (await job.filter(session.db.knex(job.table)).select(['id', ...columns]).orderBy('id').limit(n)) as Record<string, unknown>[];
}

class Stop extends Error {}

/**
 * Writes rows this transaction has just read under lock (FOR UPDATE, or SQLite's write lock taken
 * first), so their previous values cannot have changed since: rows that all get the same values go
 * out as one `UPDATE … WHERE id IN (…)` per chunk, and the affected count proves every row was
 * still there. Other shapes use writeRows' full compare-and-set.
 */
async function writeLocked(trx: Knex.Transaction, table: string, rows: RowChange[]): Promise<void> {
  const a = rows[0]!.a;
  const same = JSON.stringify(a);
  if (!a || !rows.every((r) => r.a && Object.keys(r.k).length === 1 && 'id' in r.k && JSON.stringify(r.a) === same)) {
    await writeRows(trx, rows);
    return;
  }
  for (let i = 0; i < rows.length; i += 1000) {
    const ids = rows.slice(i, i + 1000).map((r) => Number(r.k.id));
    const n = await trx(table).whereIn('id', ids).update(a);
    if (Number(n) !== ids.length) {
      throw new RefusedError(`${table}: ${ids.length - Number(n)} of ids ${ids[0]}-${ids[ids.length - 1]} vanished while locked — this batch was rolled back; run the command again`);
    }
  }
}

const asStored = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/**
 * Runs the job to the end (or until `stopRequested`). Throws only for real failures, and then
 * with what was already committed in the message; an interrupted run returns normally with
 * `interrupted: true`.
 */
export async function runBulk(session: Session, job: BulkJob, hooks: BulkHooks = {}): Promise<BulkOutcome> {
  const { knex } = session.db;
  const started = Date.now();
  const stop = () => {
    if (hooks.stopRequested?.()) throw new Stop();
  };
  const writer = await session.journal().begin({ command: job.command, summary: job.summary, reason: job.reason, operator: session.operator });
  let cursor = 0;
  let done = 0;
  let batches = 0;
  let first: number | null = null;
  let interrupted = false;
  try {
    for (;;) {
      if (hooks.stopRequested?.()) {
        interrupted = true;
        break;
      }
      const trx = await knex.transaction();
      let rows: RowChange[];
      try {
        // SQLite: take the write lock first, so a concurrent writer makes this batch wait rather
        // than fail when it upgrades from reading to writing (SQLITE_BUSY).
        if (isSqlite(trx)) await trx.raw(`UPDATE ${job.table} SET id = id WHERE 0`);
        let q = job.filter(trx(job.table)).select(['id', ...job.columns]).where('id', '>', cursor).orderBy('id').limit(job.batchSize);
        if (!isSqlite(trx)) q = q.forUpdate();
        const found = (await q) as Record<string, unknown>[];
        if (!found.length) {
          await trx.rollback();
          break;
        }
        rows = found.map((r) => {
          const b: Record<string, string | null> = {};
          for (const c of job.columns) b[c] = asStored(r[c]);
          return { t: job.table, k: { id: Number(r.id) }, b, a: job.change(b) };
        });
        stop();
        await writer.rows(rows);
        stop();
        await writeLocked(trx, job.table, rows);
        const info: BatchInfo = { index: batches + 1, count: rows.length, firstId: Number(rows[0]!.k.id), lastId: Number(rows[rows.length - 1]!.k.id) };
        await writeActivity(trx, session.install, job.activity(info));
        stop();
        await trx.commit();
      } catch (e) {
        await trx.rollback().catch(() => {});
        if (e instanceof Stop) {
          interrupted = true;
          break;
        }
        throw e;
      }
      await writer.committed();
      batches++;
      done += rows.length;
      first ??= Number(rows[0]!.k.id);
      cursor = Number(rows[rows.length - 1]!.k.id);
      hooks.onBatch?.({ done, batches, lastId: cursor });
    }
  } catch (e) {
    await finish();
    const what = done
      ? `${done} row${done === 1 ? ' was' : 's were'} already changed in ${batches} committed batch${batches === 1 ? '' : 'es'} — \`whmcs-2fa undo ${writer.id}\` restores them`
      : 'nothing was changed';
    // A driver error becomes its one-line message without the statement (values can be secrets).
    const err = queryError(e);
    const msg = (err as Error)?.message?.split('\n')[0] ?? String(err);
    throw new CliError(`bulk change stopped: ${msg} — ${what}`, err instanceof CliError ? err.exitCode : 1, { journalId: done ? writer.id : null, rows: done, batches });
  }
  await finish();
  return {
    journalId: batches ? writer.id : null,
    rows: done,
    batches,
    interrupted,
    idRange: first === null ? null : { first, last: cursor },
    durationMs: Date.now() - started,
  };

  async function finish(): Promise<void> {
    // A run that committed nothing leaves no journal entry (discard only deletes when no batch committed).
    if (batches) await writer.close();
    else await writer.discard();
  }
}
