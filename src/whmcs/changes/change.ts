import type { Knex } from 'knex';
import { holdSqliteWriteLock, isSqlite } from '../connection/sqlite-driver.js';
import { CancelledError, DatabaseError, EXIT, InterruptedError, RefusedError } from '../../errors.js';
import type { DiffLine } from './diff.js';
import { writeActivity, type ActivityEntry } from './activity-log.js';
import { queryError } from '../connection/db.js';
import type { Session } from '../connection/session.js';
import type { RowChange } from './row-change.js';
import { commitChecked, connectionIdOf } from './commit.js';

export type { RowChange } from './row-change.js';

export interface Plan {
  rows: RowChange[];
  activity: ActivityEntry[];
  /** Human diff with secrets masked. */
  diff: DiffLine[];
  /** Notes for the operator about consequences ("admins will have to enrol at next login"). */
  notes: string[];
}

/**
 * A plan and what the caller learns while making it (the state before and after, the accounts it
 * read…): the caller's result comes back with the plan that decided the outcome, not through
 * variables the plan fills in on the side.
 */
export type PlanWithResult<R> = Plan & { result: R };

interface ChangeRequest<R> {
  command: string;
  summary: string;
  reason?: string;
  /**
   * Reads what it needs and returns the rows to write, with the caller's result. Called once
   * outside any lock for the preview, then again inside the writing transaction with `lock` true,
   * so the rows written are computed from values that cannot change underneath (no lost update
   * between two runs).
   */
  plan(trx: Knex.Transaction, lock: boolean): Promise<PlanWithResult<R>>;
  /** For an undo: the entry it undoes (recorded in the history). */
  undoOf?: string;
  /** Runs inside the writing transaction after the rows (an undo marks its entry undone here). */
  afterWrite?: (trx: Knex.Transaction, journalId: string) => Promise<void>;
}

export interface ChangeOptions {
  dryRun: boolean;
  yes: boolean;
  /** Asks the operator; returns false to abort. Absent when stdin is not a TTY. */
  confirm?: (question: string, preview: Plan) => Promise<boolean>;
  confirmQuestion?: string;
  /** Tells the operator something that happened on the way (a COMMIT whose reply was lost, then proven). */
  warn?: (message: string) => void;
}

export interface ChangeOutcome {
  changed: boolean;
  dryRun: boolean;
  journalId: string | null;
  plan: Plan;
  /** The reply to COMMIT was lost and the commit was then proven (a note says so too). */
  commitReplyLost?: boolean;
}

/** The outcome with the result of the plan that decided it: the locked pass when it ran, else the preview. */
export type ChangeOutcomeWith<R> = ChangeOutcome & { result: R };

function withoutResult<R>(planned: PlanWithResult<R>): { plan: Plan; result: R } {
  const { result, ...plan } = planned;
  return { plan, result };
}

/**
 * The one way anything is written: preview → dry-run or confirmation → one transaction that
 * re-plans under lock, writes with compare-and-set, adds the activity-log rows and the history
 * entry (previous and new values), and commits — change and history together or not at all. A
 * COMMIT whose reply is lost is resolved by looking for the history entry (src/whmcs/changes/commit.ts).
 */
export async function applyChange<R>(session: Session, req: ChangeRequest<R>, opts: ChangeOptions): Promise<ChangeOutcomeWith<R>> {
  const { knex } = session.db;
  const { plan: preview, result: previewResult } = withoutResult(await readOnly(knex, (trx) => req.plan(trx, false)));
  if (preview.rows.length === 0) return { changed: false, dryRun: opts.dryRun, journalId: null, plan: preview, result: previewResult };
  if (opts.dryRun) return { changed: false, dryRun: true, journalId: null, plan: preview, result: previewResult };
  await confirmOrRefuse(opts, preview);

  const history = session.journal();
  await history.ensure();
  const journal = history.begin({
    command: req.command,
    summary: req.summary,
    reason: req.reason,
    operator: session.operator,
    undoOf: req.undoOf,
  });
  let plan: Plan = preview;
  let result: R = previewResult;
  const trx = await knex.transaction();
  // The outcome is read from commit()/rollback(); knex also rejects this promise, which nobody awaits.
  (trx as unknown as { executionPromise?: Promise<unknown> }).executionPromise?.catch(() => {});
  let connectionId: number | null = null;
  try {
    connectionId = await connectionIdOf(trx);
    // SQLite: the writing pass holds the database's write lock before the plan reads anything, so a
    // concurrent writer is waited for and the plan sees what it committed (FOR UPDATE's role on
    // MySQL). A pass that had only read could not become a writer at all while another one wrote.
    if (isSqlite(trx)) await holdSqliteWriteLock(trx);
    ({ plan, result } = withoutResult(await req.plan(trx, true)));
    if (plan.rows.length === 0) {
      await trx.rollback().catch(() => {});
      await history.dropIfUnused();
      return { changed: false, dryRun: false, journalId: null, plan, result };
    }
    await writeRows(trx, plan.rows);
    await writeActivity(trx, session.install, plan.activity);
    await journal.write(trx, plan.rows);
    await req.afterWrite?.(trx, journal.id);
  } catch (e) {
    await trx.rollback().catch(() => {});
    await history.dropIfUnused();
    // A driver error must not carry the statement (values can be secrets).
    throw queryError(e, 'nothing was written');
  }
  const outcome = await commitChecked(knex, trx, { connectionId, entryId: journal.id, part: journal.written.parts }).catch(async (e) => {
    if ((e as { details?: { committed?: unknown } }).details?.committed === false) await history.dropIfUnused();
    throw e;
  });
  if (outcome === 'recovered') {
    const note = `the connection failed at COMMIT; checked after reconnecting: the change WAS committed (history entry ${journal.id})`;
    plan.notes.push(note);
    opts.warn?.(note);
  }
  return { changed: true, dryRun: false, journalId: journal.id, plan, result, commitReplyLost: outcome === 'recovered' };
}

export async function confirmOrRefuse(opts: ChangeOptions, preview: Plan): Promise<void> {
  if (opts.yes) return;
  if (!opts.confirm) {
    throw new RefusedError('refusing to change the database without confirmation: no terminal to ask on — pass --yes (or --dry-run to see the change)');
  }
  const ok = await opts.confirm(opts.confirmQuestion ?? 'Apply this change?', preview).catch((e: unknown) => {
    if ((e as { exitCode?: number }).exitCode === EXIT.INTERRUPTED) throw new InterruptedError(`${(e as Error).message} — nothing was changed`);
    throw e;
  });
  if (!ok) throw new CancelledError('cancelled at the prompt — nothing was changed');
}

/** Runs `fn` in a transaction that is always rolled back: a preview never writes. */
export async function readOnly<T>(knex: Knex, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  const trx = await knex.transaction();
  try {
    return await fn(trx);
  } finally {
    await trx.rollback().catch(() => {});
  }
}

/**
 * Compare-and-set writes: every row is written only if it still holds its previous values, so a
 * row changed by someone else since it was read fails the whole transaction instead of being
 * overwritten. Rows keyed by `id` are handled set-based (lock + check a chunk with one SELECT …
 * FOR UPDATE, then one UPDATE per chunk); others one statement each.
 */
export async function writeRows(trx: Knex.Transaction, rows: RowChange[]): Promise<void> {
  const groups = new Map<string, RowChange[]>();
  for (const r of rows) {
    if (r.before && r.after && Object.keys(r.key).length === 1 && 'id' in r.key) {
      const g = `${r.table}\0${Object.keys(r.after).sort().join(',')}\0${Object.keys(r.before).sort().join(',')}`;
      (groups.get(g) ?? groups.set(g, []).get(g)!).push(r);
    } else {
      await writeOne(trx, r);
    }
  }
  for (const group of groups.values()) {
    for (let i = 0; i < group.length; i += CHUNK) await writeChunk(trx, group.slice(i, i + CHUNK));
  }
  await verifyWritten(trx, rows);
}

/**
 * Reads back what the transaction just wrote, before it commits: the server must hold exactly the
 * bytes meant. A session mode that escapes differently, silent truncation (a value longer than the
 * column under a non-strict sql_mode), a charset that cannot hold a character or a trigger that
 * rewrites the row would otherwise be committed and reported as success — a 2fasettings row that no
 * longer unserializes turns 2FA off for everyone. Any difference rolls the whole change back.
 */
async function verifyWritten(trx: Knex.Transaction, rows: RowChange[]): Promise<void> {
  const byShape = new Map<string, RowChange[]>();
  for (const r of rows) {
    if (r.after === null) continue;
    const g = `${r.table}\0${Object.keys(r.key).sort().join(',')}\0${Object.keys(r.after).sort().join(',')}`;
    (byShape.get(g) ?? byShape.set(g, []).get(g)!).push(r);
  }
  for (const group of byShape.values()) {
    const { table: t, key: k } = group[0]!;
    const keyCols = Object.keys(k);
    const cols = Object.keys(group[0]!.after!);
    for (let i = 0; i < group.length; i += CHUNK) {
      const chunk = group.slice(i, i + CHUNK);
      let q = trx(t).select([...new Set([...keyCols, ...cols])]);
      if (keyCols.length === 1 && keyCols[0] === 'id') q = q.whereIn('id', chunk.map((r) => Number(r.key.id)));
      else q = q.where((w) => { for (const r of chunk) void w.orWhere(r.key); });
      const found = (await q) as Record<string, unknown>[];
      for (const r of chunk) {
        const matches = found.filter((row) => keyCols.every((c) => String(row[c]) === String(r.key[c])));
        const bad = matches.length !== 1 ? keyCols : cols.filter((c) => !sameStored(matches[0]![c], r.after![c]!));
        if (bad.length) {
          throw new DatabaseError(
            `the database did not store what was written to ${t} ${describeKey(r.key)} (${bad.join(', ')} read back different) — nothing was written; check the session's sql_mode, the column sizes and the connection charset`,
          );
        }
      }
    }
  }
}

/** A column's value as read back against the string (or null) that was written. */
function sameStored(have: unknown, want: string | null): boolean {
  if (want === null) return have === null || have === undefined;
  if (have === null || have === undefined) return false;
  if (Buffer.isBuffer(have)) return have.equals(Buffer.from(want, 'utf8'));
  return String(have) === want;
}

const CHUNK = 500;

function isMysql(trx: Knex | Knex.Transaction): boolean {
  return !isSqlite(trx);
}

function conflict(r: RowChange): RefusedError {
  return new RefusedError(
    `${r.table} ${describeKey(r.key)} was changed by someone else while whmcs-2fa was working — nothing was written; run the command again`,
  );
}

async function writeOne(trx: Knex.Transaction, r: RowChange): Promise<void> {
  if (r.before === null && r.after !== null) {
    await trx(r.table).insert({ ...r.key, ...r.after });
    return;
  }
  const binary = isMysql(trx);
  let q = trx(r.table).where(r.key);
  for (const [col, val] of Object.entries(r.before ?? {})) {
    // WHMCS tables use a case-insensitive collation: compare bytes, or 'ABC' would match 'abc'.
    if (val === null) q = q.whereNull(col);
    else q = binary ? q.whereRaw('BINARY ?? = ?', [col, val]) : q.where(col, val);
  }
  const n = r.after === null ? await q.delete() : await q.update(r.after);
  if (Number(n) !== 1) throw conflict(r);
}

async function writeChunk(trx: Knex.Transaction, chunk: RowChange[]): Promise<void> {
  const t = chunk[0]!.table;
  const ids = chunk.map((r) => Number(r.key.id));
  const cols = Object.keys(chunk[0]!.before!);
  let q = trx(t).select(['id', ...cols]).whereIn('id', ids);
  if (isMysql(trx)) q = q.forUpdate();
  const current = new Map<number, Record<string, unknown>>();
  for (const row of (await q) as Record<string, unknown>[]) current.set(Number(row.id), row);
  for (const r of chunk) {
    const cur = current.get(Number(r.key.id));
    if (!cur) throw conflict(r);
    for (const c of cols) {
      const want = r.before![c];
      const have = cur[c];
      if (want === null ? have !== null && have !== undefined : have === null || have === undefined || String(have) !== want) throw conflict(r);
    }
  }
  const first = JSON.stringify(chunk[0]!.after);
  if (chunk.every((r) => JSON.stringify(r.after) === first)) {
    await trx(t).whereIn('id', ids).update(chunk[0]!.after!);
    return;
  }
  // Different values per row: one UPDATE with a CASE per column.
  const set: Record<string, Knex.Raw> = {};
  for (const c of Object.keys(chunk[0]!.after!)) {
    const parts: string[] = [];
    const bindings: Knex.RawBinding[] = [];
    for (const r of chunk) {
      parts.push('WHEN ? THEN ?');
      bindings.push(Number(r.key.id), r.after![c] ?? null);
    }
    set[c] = trx.raw(`CASE id ${parts.join(' ')} END`, bindings);
  }
  await trx(t).whereIn('id', ids).update(set);
}

export function describeKey(k: Record<string, string | number>): string {
  return Object.entries(k)
    .map(([c, v]) => `${c}=${v}`)
    .join(',');
}

export function emptyPlan(): Plan {
  return { rows: [], activity: [], diff: [], notes: [] };
}
