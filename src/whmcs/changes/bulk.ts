/**
 * The bulk engine: one change applied to every matching row of one table, for 100 000 rows as
 * well as for ten. Rows are taken in keyset batches (`id > last ORDER BY id LIMIT n FOR UPDATE`),
 * so memory holds one batch, and every batch is its own transaction: the write (set-based when
 * every row gets the same values; the lock taken by the read is the compare-and-set), the
 * activity-log rows and the batch's part of the history entry, then commit. All batches share one
 * history entry, so one `whmcs-2fa undo` restores the whole run.
 *
 * Stopping (SIGINT, an error, SIGKILL) never leaves half a batch: an unfinished batch is rolled
 * back together with its history part, so the history holds exactly the committed batches.
 */
import type { Knex } from 'knex';
import type { Session } from '../connection/session.js';
import type { ActivityEntry } from './activity-log.js';
import { writeActivity } from './activity-log.js';
import { writeRows, type RowChange } from './change.js';
import { journalPieces, type JournalBytes } from '../history/journal-rows.js';
import { commitChecked, connectionIdOf } from './commit.js';
import { queryError } from '../connection/db.js';
import { isSqlite } from '../connection/sqlite-driver.js';
import { CliError, RefusedError } from '../../errors.js';
import { numberText } from '../../number-text.js';

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
  /** Columns that name the row's account (username, email): recorded so undo can check it is still the same one. */
  identity?: string[];
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
  /** Batches whose COMMIT reply was lost and whose commit was proven after reconnecting. */
  recoveredBatches: number[];
}

export interface BulkScope {
  count: number;
  idRange: { first: number; last: number } | null;
}


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

/** Same columns, same values (the new values of a bulk change are usually one record for every row). */
function sameValues(x: Record<string, string | null>, y: Record<string, string | null>): boolean {
  const kx = Object.keys(x);
  if (kx.length !== Object.keys(y).length) return false;
  for (const k of kx) if (x[k] !== y[k] || !(k in y)) return false;
  return true;
}

/**
 * How a batch is written: one set of values for every id, or (other shapes) the rows themselves.
 * Only this is kept from the rows read, besides the batch's history text: a batch waits, prepared,
 * while the one before it commits, and whatever it holds lives through young-generation
 * collections and is promoted — garbage that only a full collection frees.
 */
type BatchWrite = { ids: number[]; values: Record<string, string | null> } | { rows: RowChange[] };

function batchWrite(rows: RowChange[]): BatchWrite {
  const a = rows[0]!.after;
  if (!a || !rows.every((r) => r.after && Object.keys(r.key).length === 1 && 'id' in r.key && (r.after === a || sameValues(r.after, a)))) return { rows };
  return { ids: rows.map((r) => Number(r.key.id)), values: a };
}

/**
 * Writes rows this transaction has just read under lock (FOR UPDATE, or SQLite's write lock taken
 * first), so their previous values cannot have changed since: rows that all get the same values go
 * out as one `UPDATE … WHERE id IN (…)` per chunk, and the affected count proves every row was
 * still there. Other shapes use writeRows' full compare-and-set.
 */
async function writeLocked(trx: Knex.Transaction, table: string, w: BatchWrite): Promise<void> {
  if ('rows' in w) {
    await writeRows(trx, w.rows);
    return;
  }
  const a = w.values;
  // One statement per batch on MySQL (up to 5 000 ids; MySQL 8's range optimizer gives up on
  // IN-lists past its 8 MB budget, some 35 000 values): the server then works through the whole
  // batch while this process reads and serializes the next one. SQLite binds at most 32 766 values.
  const chunk = isSqlite(trx) ? 1000 : 5000;
  for (let i = 0; i < w.ids.length; i += chunk) {
    const ids = w.ids.slice(i, i + chunk);
    // Ids read back from the primary key, checked to be integers: written into the statement
    // rather than bound one by one (binding 5 000 values costs more than the UPDATE's round trip).
    if (!ids.every(Number.isSafeInteger)) throw new CliError(`${table}: a non-integer id in the batch — nothing in it was written`);
    const list = ids.map(numberText).join(',');
    let n: unknown;
    if (isSqlite(trx)) {
      n = await trx(table).whereRaw(`id IN (${list})`).update(a);
    } else {
      // By primary key, never a table scan: on a small table the optimizer may scan it all, and a
      // locking scan would wait for the next batch's rows, which the pipeline holds until this
      // batch commits (a wait only the lock timeout ends).
      const cols = Object.keys(a);
      const r = (await trx.raw(`UPDATE ?? FORCE INDEX (PRIMARY) SET ${cols.map(() => '?? = ?').join(', ')} WHERE id IN (${list})`, [
        table,
        ...cols.flatMap((c) => [c, a[c] ?? null]),
      ])) as [{ affectedRows: number }];
      n = r[0].affectedRows;
    }
    if (Number(n) !== ids.length) {
      throw new RefusedError(`${table}: ${ids.length - Number(n)} of ids ${ids[0]}-${ids[ids.length - 1]} vanished while locked — this batch was rolled back; run the command again`);
    }
  }
}

const asStored = (v: unknown): string | null => (typeof v === 'string' ? v : v === null || v === undefined ? null : String(v));

/** A batch read under lock and ready to write: its transaction is open until committed or rolled back. */
interface Prepared {
  trx: Knex.Transaction;
  write: BatchWrite;
  lines: JournalBytes[];
  info: BatchInfo;
}

/**
 * Runs the job to the end (or until `stopRequested`). Throws only for real failures, and then
 * with what was already committed in the message; an interrupted run returns normally with
 * `interrupted: true`.
 *
 * On MySQL the batches are pipelined on two connections: while batch n is journalled, written and
 * committed, batch n+1 is already being read (under its own lock, ids above n's) and serialized,
 * so the server's write work and this process's read work overlap. Batches still commit strictly
 * in order, journal rows of n+1 are written only after n's commit marker, and a failure or a stop
 * rolls back both open batches — the journal and the database keep the sequential guarantees.
 */
export async function runBulk(session: Session, job: BulkJob, hooks: BulkHooks = {}): Promise<BulkOutcome> {
  const { knex } = session.db;
  const started = Date.now();
  const stopNow = () => hooks.stopRequested?.() ?? false;
  const stop = () => {
    if (stopNow()) throw new Stop();
  };
  const pipelined = !isSqlite(knex);
  const history = session.journal();
  await history.ensure();
  const writer = history.begin({ command: job.command, summary: job.summary, reason: job.reason, operator: session.operator });
  let committedParts = 0;
  /** Batches whose COMMIT reply was lost and whose commit was then proven. */
  const recovered: number[] = [];
  let done = 0;
  let batches = 0;
  let first: number | null = null;
  let last = 0;
  let interrupted = false;

  /**
   * The history text of batch `index` as UTF-8 in one of two buffers, reused: a buffer per batch
   * would live through the commit of the batch before it, be promoted, and keep its memory until a
   * full collection, which V8 puts off until tens of megabytes of such memory have built up (the
   * bulk reset's peak grew with the number of rows). Batch `index` reuses the buffer of batch
   * `index - 2`, which has committed (or failed) by the time `index` is prepared: the pipeline
   * prepares one batch while at most one other commits, and sealing copies the bytes.
   */
  const buffers: Buffer[] = [];
  const historyBytes = (pieces: Array<{ text: string; rows: number }>, index: number): JournalBytes[] => {
    let size = 0;
    for (const p of pieces) size += Buffer.byteLength(p.text);
    const slot = index % 2;
    if ((buffers[slot]?.length ?? 0) < size) buffers[slot] = Buffer.allocUnsafe(Math.max(size, Math.ceil((buffers[slot]?.length ?? 0) * 1.25)));
    const buf = buffers[slot]!;
    let at = 0;
    return pieces.map((p) => {
      const n = buf.write(p.text, at);
      const bytes = buf.subarray(at, at + n);
      at += n;
      return { bytes, rows: p.rows };
    });
  };

  /** Opens batch `index` after id `after`: locks and reads its rows, computes and serializes the change. Null when none are left. */
  const prepare = async (after: number, index: number): Promise<Prepared | null> => {
    const trx = await knex.transaction();
    try {
      // SQLite: take the write lock first, so a concurrent writer makes this batch wait rather
      // than fail when it upgrades from reading to writing (SQLITE_BUSY).
      if (isSqlite(trx)) await trx.raw(`UPDATE ${job.table} SET id = id WHERE 0`);
      const ident = job.identity ?? [];
      let q = job.filter(trx(job.table)).select(['id', ...job.columns, ...ident]).where('id', '>', after).orderBy('id').limit(job.batchSize);
      if (!isSqlite(trx)) q = q.forUpdate();
      const found = (await q) as Record<string, unknown>[];
      if (!found.length) {
        await trx.rollback();
        return null;
      }
      const { table, columns } = job;
      const rows: RowChange[] = new Array(found.length);
      for (let i = 0; i < found.length; i++) {
        const r = found[i]!;
        const b: Record<string, string | null> = {};
        for (const c of columns) b[c] = asStored(r[c]);
        const row: RowChange = { table, key: { id: Number(r.id) }, before: b, after: job.change(b) };
        if (ident.length) {
          const id: Record<string, string> = {};
          for (const c of ident) id[c] = asStored(r[c]) ?? '';
          row.identity = id;
        }
        rows[i] = row;
      }
      const info: BatchInfo = { index, count: rows.length, firstId: Number(rows[0]!.key.id), lastId: Number(rows[rows.length - 1]!.key.id) };
      return { trx, write: batchWrite(rows), info, lines: historyBytes(journalPieces(rows), index) };
    } catch (e) {
      await trx.rollback().catch(() => {});
      throw e;
    }
  };

  /** Writes a prepared batch, its activity-log rows and its history part, and commits them together; rolls back on a failure or a stop. */
  const commit = async (p: Prepared): Promise<void> => {
    let connectionId: number | null = null;
    try {
      stop();
      connectionId = await connectionIdOf(p.trx);
      await writeLocked(p.trx, job.table, p.write);
      await writeActivity(p.trx, session.install, job.activity(p.info));
      await writer.write(p.trx, p.lines);
      stop();
    } catch (e) {
      await p.trx.rollback().catch(() => {});
      if (writer.written.parts !== committedParts) writer.rollback();
      throw e;
    }
    let outcome;
    try {
      outcome = await commitChecked(knex, p.trx, { connectionId, entryId: writer.id, part: writer.written.parts });
    } catch (e) {
      writer.rollback();
      throw e;
    }
    if (outcome === 'recovered') recovered.push(p.info.index);
    writer.committed();
    committedParts = writer.written.parts;
    batches++;
    done += p.info.count;
    first ??= p.info.firstId;
    last = p.info.lastId;
    hooks.onBatch?.({ done, batches, lastId: last });
  };

  try {
    let next = stopNow() ? null : await prepare(0, 1);
    while (next) {
      const current: Prepared = next;
      next = null;
      const committing = commit(current);
      const following = pipelined ? (stopNow() ? Promise.resolve(null) : prepare(current.info.lastId, current.info.index + 1)) : null;
      const [c, f] = await Promise.allSettled([committing, following ?? Promise.resolve(null)]);
      if (c.status === 'rejected') {
        if (f.status === 'fulfilled' && f.value) await f.value.trx.rollback().catch(() => {});
        throw c.reason;
      }
      if (f.status === 'rejected') throw f.reason;
      next = pipelined ? f.value : stopNow() ? null : await prepare(current.info.lastId, current.info.index + 1);
    }
    if (stopNow()) interrupted = true;
  } catch (e) {
    if (!batches) await history.dropIfUnused();
    if (e instanceof Stop) {
      interrupted = true;
    } else {
      const what = done
        ? `${done} row${done === 1 ? ' was' : 's were'} already changed in ${batches} committed batch${batches === 1 ? '' : 'es'} — \`whmcs-2fa undo ${writer.id}\` restores them`
        : 'nothing was changed';
      // A driver error becomes its one-line message without the statement (values can be secrets).
      const err = queryError(e);
      const msg = (err as Error)?.message?.split('\n')[0] ?? String(err);
      throw new CliError(`bulk change stopped: ${msg} — ${what}`, err instanceof CliError ? err.exitCode : 1, { journalId: done ? writer.id : null, rows: done, batches });
    }
  }
  if (!batches) await history.dropIfUnused();
  return {
    journalId: batches ? writer.id : null,
    rows: done,
    batches,
    interrupted,
    recoveredBatches: recovered,
    idRange: first === null ? null : { first, last },
    durationMs: Date.now() - started,
  };
}
