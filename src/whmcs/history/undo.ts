import type { Knex } from 'knex';
import type { Session } from '../connection/session.js';
import { holdSqliteWriteLock, isSqlite } from '../connection/sqlite-driver.js';
import { applyChange, confirmOrRefuse, describeKey, readOnly, type ChangeOptions, type ChangeOutcome, type Plan, type RowChange } from '../changes/change.js';
import { activityText, writeActivity } from '../changes/activity-log.js';
import type { JournalEntry, Journal } from './journal.js';
import { ALLOWED_SETTINGS, identityColumns, JournalDamage } from './journal-rows.js';
import { commitChecked, connectionIdOf } from '../changes/commit.js';
import { queryError } from '../connection/db.js';
import { CliError, RefusedError } from '../../errors.js';
import type { DiffLine } from '../changes/diff.js';

export interface UndoOptions extends ChangeOptions {
  /** Restore the rows that still hold what the change wrote; report the others instead of refusing. */
  skipChanged?: boolean;
  reason?: string;
}

export interface UndoResult {
  entry: { id: string; seq: number; command: string; summary: string; createdAt: string; operator: string; rows: number };
  outcome: ChangeOutcome;
  /** Rows already at their old values. */
  skipped: number;
  /** Rows left as they are (--skip-changed): changed since, gone, or another account now. */
  changedRows: Array<{ table: string; id: number | string; why: 'changed' | 'missing' | 'other-account' }>;
  changedCount: number;
  /** Rows restored (or that would be, on a dry run). */
  restored: number;
  /** This undid an undo: the original change is applied again. */
  reapplied: boolean;
}

const SHOWN = 20;
/** Entries up to this many rows are planned in memory; bigger bulk entries are undone set-based. */
const IN_MEMORY = 2000;
const ID_LIST = 10_000;

/** The question every undo prompt asks: which entry, what it did, when and by whom. */
export function undoQuestion(e: JournalEntry): string {
  return `Undo ${e.id} — ${e.command}: ${e.summary} (made ${e.createdAt.replace('T', ' ').slice(0, 19)} UTC by ${e.operator || 'unknown'})?`;
}

function refuseDamage(e: unknown, entry: JournalEntry): never {
  if (e instanceof JournalDamage) throw new RefusedError(`${e.message} — refusing to undo ${entry.id}; nothing was restored`);
  throw e;
}

/**
 * Restores what a recorded change replaced — only where the database still holds exactly what
 * that change wrote, on the same account. A row changed since is a conflict: undo refuses and names
 * it, unless `skipChanged`, which restores the others and reports it. Undo is itself a recorded
 * change; undoing it re-applies the original.
 */
export async function undoChange(session: Session, id: string | undefined, opts: UndoOptions): Promise<UndoResult> {
  const journal = session.journal();
  const entry = await journal.pick(id);
  if (entry.undoneBy) {
    throw new RefusedError(`change ${entry.id} was already undone by ${entry.undoneBy} — to re-apply it, \`whmcs-2fa undo ${entry.undoneBy}\``);
  }
  if (entry.rows === 0) throw new RefusedError(`change ${entry.id} recorded no rows — nothing to undo`);
  const o: UndoOptions = { ...opts, confirmQuestion: undoQuestion(entry) };
  const base = {
    entry: { id: entry.id, seq: entry.seq, command: entry.command, summary: entry.summary, createdAt: entry.createdAt, operator: entry.operator, rows: entry.rows },
    reapplied: Boolean(entry.undoOf),
  };
  if (entry.rows > IN_MEMORY) {
    // A bulk entry: set-based, reading the history part by part. Every part is unsealed and checked
    // inside the undo's transaction before anything is restored, so damage rolls it all back.
    try {
      const shape = await firstShape(journal, entry);
      if (shape) return { ...base, ...(await setBasedUndo(session, entry, shape, o)) };
    } catch (e) {
      if (!(e instanceof NotUniform)) refuseDamage(e, entry);
    }
  }
  let rowsOf: RowChange[];
  try {
    rowsOf = await journal.rowsOf(entry);
  } catch (e) {
    refuseDamage(e, entry);
  }
  const outcome = await applyChange(
    session,
    {
      command: `undo ${entry.id}`,
      summary: `${entry.undoOf ? 're-apply' : 'undo'} of ${entry.command}: ${entry.summary}`,
      reason: o.reason,
      undoOf: entry.id,
      plan: async (trx, lock) => {
        const planned = await planUndo(trx, session, entry, rowsOf, lock, Boolean(o.skipChanged), o.reason);
        return { ...planned.plan, result: planned };
      },
      afterWrite: (trx, undoId) => journal.markUndone(trx, entry, undoId),
    },
    o,
  );
  const last = outcome.result;
  if (!outcome.changed && !outcome.dryRun && last.skipped === rowsOf.length && rowsOf.length > 0) {
    // Everything already holds its old values: record that, so plain `undo` moves on to the one before.
    await session.db.knex.transaction((trx) => journal.markUndone(trx, entry, '(values already restored)'));
  }
  return { ...base, outcome, skipped: last.skipped, changedRows: last.changed, changedCount: last.changedCount, restored: outcome.changed || outcome.dryRun ? last.plan.rows.length : 0 };
}

interface Planned {
  plan: Plan;
  skipped: number;
  changed: UndoResult['changedRows'];
  changedCount: number;
}

async function planUndo(
  trx: Knex.Transaction,
  session: Session,
  entry: JournalEntry,
  entryRows: RowChange[],
  lock: boolean,
  skipChanged: boolean,
  reason: string | undefined,
): Promise<Planned> {
  const rows: RowChange[] = [];
  const diff: DiffLine[] = [];
  const conflicts: string[] = [];
  const changed: UndoResult['changedRows'] = [];
  let skipped = 0;
  const notes: string[] = [];
  // Newest first, so a row changed twice in one entry ends at its oldest value.
  const todo = [...entryRows].reverse();
  const current = await readCurrent(trx, todo, lock && session.db.dialect === 'mysql');
  for (const r of todo) {
    const cur = current.get(keyOf(r));
    const other = cur ? otherAccount(r, cur) : null;
    if (other) {
      conflicts.push(`${r.table} ${describeKey(r.key)} is now ${other}`);
      changed.push({ table: r.table, id: Object.values(r.key)[0]!, why: 'other-account' });
    } else if (matches(cur, r.after)) {
      rows.push({ table: r.table, key: r.key, before: r.after, after: r.before, ...(r.soft ? { soft: true as const } : {}), ...(r.identity ? { identity: r.identity } : {}) });
      if (diff.length < SHOWN) diff.push(...describeRestore(r));
    } else if (matches(cur, r.before)) {
      skipped++;
    } else if (r.soft) {
      notes.push(`${r.table} ${describeKey(r.key)} changed since (WHMCS updates it on its own) — left as it is`);
    } else {
      // Name the same recorded columns on both sides, so the difference is visible.
      conflicts.push(`${r.table} ${describeKey(r.key)}: now ${summarizeValues(cur, r.after ?? r.before)}, expected ${summarizeValues(r.after)}`);
      changed.push({ table: r.table, id: Object.values(r.key)[0]!, why: cur ? 'changed' : 'missing' });
    }
  }
  if (conflicts.length && !skipChanged) {
    const shown = conflicts.slice(0, 5);
    throw new RefusedError(
      `cannot undo ${entry.id}: ${conflicts.length} row${conflicts.length === 1 ? ' was' : 's were'} changed after it (${shown.join('; ')}${conflicts.length > 5 ? '; …' : ''}) — nothing was restored; \`--skip-changed\` restores the others and lists these`,
      { conflicts: shown, changedRows: changed.slice(0, ID_LIST) },
    );
  }
  if (conflicts.length) notes.push(`${conflicts.length} row${conflicts.length === 1 ? '' : 's'} left as ${conflicts.length === 1 ? 'it is' : 'they are'} (changed since): ${conflicts.slice(0, 5).join('; ')}${conflicts.length > 5 ? '; …' : ''}`);
  if (rows.length > SHOWN) diff.push({ field: `… and ${rows.length - SHOWN} more rows`, before: '', after: '' });
  return {
    plan: { rows, diff, notes, activity: [{ description: undoActivity(session, entry, rows.length, conflicts.length, reason) }] },
    skipped,
    changed,
    changedCount: conflicts.length,
  };
}

function undoActivity(session: Session, entry: JournalEntry, restored: number, left: number, reason: string | undefined): string {
  const what = `${entry.undoOf ? 're-applied' : 'undid'} change ${entry.id} (${entry.summary}, made by ${entry.operator || 'unknown'}), ${restored} row${restored === 1 ? '' : 's'} restored${left ? `, ${left} changed since left as they are` : ''}`;
  return activityText(what, session.operator, reason);
}

/** When the row names another account than when it was changed: a description, else null. */
function otherAccount(r: RowChange, cur: Record<string, unknown>): string | null {
  if (r.table === 'tblconfiguration') {
    const setting = cur.setting;
    if (typeof setting === 'string' && !ALLOWED_SETTINGS.has(setting)) return `setting "${setting}", not one whmcs-2fa writes`;
    if (r.identity?.setting !== undefined && setting !== undefined && setting !== r.identity.setting) return `setting "${String(setting)}", not "${r.identity.setting}"`;
    return null;
  }
  if (!r.identity) return null;
  for (const c of identityColumns(r.table)) {
    if (r.identity[c] !== undefined && cur[c] !== undefined && String(cur[c] ?? '') !== r.identity[c]) return `another account (${c} differs)`;
  }
  return null;
}

function keyOf(r: RowChange): string {
  return `${r.table}\0${JSON.stringify(r.key)}`;
}

/** Current values of every recorded row, read in chunks. */
async function readCurrent(trx: Knex.Transaction, rows: RowChange[], lock: boolean): Promise<Map<string, Record<string, unknown> | null>> {
  const out = new Map<string, Record<string, unknown> | null>();
  const byId = new Map<string, RowChange[]>();
  for (const r of rows) {
    const keys = Object.keys(r.key);
    if (keys.length === 1 && keys[0] === 'id') (byId.get(r.table) ?? byId.set(r.table, []).get(r.table)!).push(r);
    else {
      let q = trx(r.table).where(r.key).orderBy('id').first();
      if (lock) q = q.forUpdate();
      const row = await q;
      out.set(keyOf(r), row ?? null);
    }
  }
  for (const [table, list] of byId) {
    for (let i = 0; i < list.length; i += 1000) {
      const chunk = list.slice(i, i + 1000);
      const ids = chunk.map((r) => Number(r.key.id));
      let q = trx(table).whereIn('id', ids);
      if (lock) q = q.forUpdate();
      const found = new Map<number, Record<string, unknown>>();
      for (const row of (await q) as Record<string, unknown>[]) found.set(Number(row.id), row);
      for (const r of chunk) out.set(keyOf(r), found.get(Number(r.key.id)) ?? null);
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
  const cols = new Set([...Object.keys(r.after ?? {}), ...Object.keys(r.before ?? {})]);
  return [...cols].map((c) => ({
    field: `${r.table} ${describeKey(r.key)} ${c}`,
    before: short(r.after?.[c] ?? null),
    after: short(r.before?.[c] ?? null),
  }));
}

// ---------------------------------------------------------------------------------------------
// Set-based undo of a bulk change: a temporary table joined to the account table
// ---------------------------------------------------------------------------------------------

interface BulkShape {
  table: string;
  columns: string[];
  identity: string[];
}

/** Rows that are not all updates of one table by id with the same columns: undone in memory instead. */
class NotUniform extends Error {}

function shapeOf(r: RowChange): BulkShape | null {
  if (!r.before || !r.after || !('id' in r.key) || r.soft) return null;
  const cols = Object.keys(r.before);
  if (Object.keys(r.after).join(',') !== cols.join(',')) return null;
  return { table: r.table, columns: cols, identity: r.identity ? Object.keys(r.identity) : [] };
}

function sameShape(r: RowChange, s: BulkShape): boolean {
  const x = shapeOf(r);
  return Boolean(x && x.table === s.table && x.columns.join(',') === s.columns.join(',') && x.identity.join(',') === s.identity.join(','));
}

/** The shape of the entry's first row (what the bulk engine writes), or null. */
async function firstShape(journal: Journal, entry: JournalEntry): Promise<BulkShape | null> {
  for await (const p of journal.parts(entry)) {
    const r = p.rows[0];
    return r ? shapeOf(r) : null;
  }
  return null;
}

const TMP = 'whmcs2fa_undo_rows';
/** Characters of values per INSERT into the temporary table (see classify). */
const INSERT_CHARS = 96 * 1024;
const ST_RESTORE = 1;
const ST_ALREADY = 2;
const ST_CHANGED = 3;
const ST_MISSING = 4;
const ST_OTHER = 5;

interface SetCounts {
  restore: number;
  already: number;
  changed: number;
  missing: number;
  other: number;
}

async function setBasedUndo(session: Session, entry: JournalEntry, shape: BulkShape, opts: UndoOptions): Promise<Omit<UndoResult, 'entry' | 'reapplied'>> {
  const { knex } = session.db;
  const journal = session.journal();
  const skip = Boolean(opts.skipChanged);
  // A preview (no locks) for the dry run and the prompt; with --yes the locked pass is the only one.
  if (opts.dryRun || !opts.yes) {
    const pre = await readOnly(knex, (trx) => classify(trx, journal, entry, shape, false));
    const plan = setPlan(entry, pre.counts, shape);
    if (!skip) refuseConflicts(entry, pre.counts, pre.ids);
    if (opts.dryRun || pre.counts.restore === 0) {
      return { outcome: { changed: false, dryRun: opts.dryRun, journalId: null, plan }, skipped: pre.counts.already, changedRows: pre.ids, changedCount: bad(pre.counts), restored: opts.dryRun ? pre.counts.restore : 0 };
    }
    await confirmOrRefuse(opts, plan);
  }
  await journal.ensure();
  const writer = journal.begin({
    command: `undo ${entry.id}`,
    summary: `${entry.undoOf ? 're-apply' : 'undo'} of ${entry.command}: ${entry.summary}`,
    reason: opts.reason,
    operator: session.operator,
    undoOf: entry.id,
  });
  const trx = await knex.transaction();
  (trx as unknown as { executionPromise?: Promise<unknown> }).executionPromise?.catch(() => {});
  let connectionId: number | null = null;
  let result: { counts: SetCounts; ids: UndoResult['changedRows'] };
  try {
    connectionId = await connectionIdOf(trx);
    // As every writing pass (changes/change.ts): on SQLite a transaction that has only read cannot
    // become a writer beside another one, so the lock comes before the reads that decide.
    if (isSqlite(trx)) await holdSqliteWriteLock(trx);
    result = await classify(trx, journal, entry, shape, true);
    if (!skip) refuseConflicts(entry, result.counts, result.ids);
    if (result.counts.restore === 0) {
      await trx.rollback().catch(() => {});
      await journal.dropIfUnused();
      // Everything already holds its old values: record that, so plain `undo` moves on to the one before.
      if (result.counts.already > 0 && bad(result.counts) === 0) await knex.transaction((t) => journal.markUndone(t, entry, '(values already restored)'));
      const plan = setPlan(entry, result.counts, shape);
      return { outcome: { changed: false, dryRun: false, journalId: null, plan }, skipped: result.counts.already, changedRows: result.ids, changedCount: bad(result.counts), restored: 0 };
    }
    await restoreSet(trx, shape, result.counts.restore);
    await recordSet(trx, entry, result.counts.restore, writer);
    await writeActivity(trx, session.install, [{ description: undoActivity(session, entry, result.counts.restore, bad(result.counts), opts.reason) }]);
    await journal.markUndone(trx, entry, writer.id);
    await trx.raw(`DROP ${session.db.dialect === 'mysql' ? 'TEMPORARY ' : ''}TABLE ${TMP}`);
  } catch (e) {
    await trx.rollback().catch(() => {});
    await journal.dropIfUnused();
    if (e instanceof NotUniform || e instanceof JournalDamage) throw e;
    throw queryError(e, 'nothing was written');
  }
  const done = await commitChecked(knex, trx, { connectionId, entryId: writer.id, part: writer.written.parts });
  const plan = setPlan(entry, result.counts, shape);
  if (done === 'recovered') {
    const note = `the connection failed at COMMIT; checked after reconnecting: the undo WAS committed (history entry ${writer.id})`;
    plan.notes.push(note);
    opts.warn?.(note);
  }
  return {
    outcome: { changed: true, dryRun: false, journalId: writer.id, plan, commitReplyLost: done === 'recovered' },
    skipped: result.counts.already,
    changedRows: result.ids,
    changedCount: bad(result.counts),
    restored: result.counts.restore,
  };
}

const bad = (c: SetCounts) => c.changed + c.missing + c.other;

function refuseConflicts(entry: JournalEntry, c: SetCounts, ids: UndoResult['changedRows']): void {
  const n = bad(c);
  if (!n) return;
  const list = ids.slice(0, 10).map((r) => `${r.id} (${r.why})`).join(', ');
  throw new RefusedError(
    `cannot undo ${entry.id}: ${n} row${n === 1 ? ' was' : 's were'} changed after it (${ids[0]?.table ?? ''} ids ${list}${n > 10 ? ', …' : ''}) — nothing was restored; \`--skip-changed\` restores the other ${c.restore} and lists these`,
    { changedRows: ids, changedCount: n, restorable: c.restore },
  );
}

function setPlan(entry: JournalEntry, c: SetCounts, shape: BulkShape): Plan {
  const notes: string[] = [];
  if (bad(c)) notes.push(`${bad(c)} row${bad(c) === 1 ? '' : 's'} of ${shape.table} changed since ${entry.id} (${c.changed} changed, ${c.missing} gone, ${c.other} now another account) — left as they are`);
  return {
    rows: [],
    diff: [{ field: `${shape.table}: ${shape.columns.join(', ')} of ${c.restore} row${c.restore === 1 ? '' : 's'}`, before: 'as written by the change', after: 'as before it' }],
    notes,
    activity: [],
  };
}

const mysqlOf = (k: Knex | Knex.Transaction) => !isSqlite(k);
const q = (name: string) => '`' + name.replace(/`/g, '') + '`';

/**
 * Loads the entry into a temporary table (part by part) and marks every row: restorable (holds what
 * the change wrote, same account), already restored, changed, missing, or another account now.
 * With `lock`, the rows are locked first, so the marks hold until commit.
 */
async function classify(trx: Knex.Transaction, journal: Journal, entry: JournalEntry, shape: BulkShape, lock: boolean): Promise<{ counts: SetCounts; ids: UndoResult['changedRows'] }> {
  const mysql = mysqlOf(trx);
  const text = mysql ? 'LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin' : 'TEXT';
  const m = shape.identity.length;
  const cols = [
    ...shape.columns.map((_, i) => `a${i} ${text} NULL`),
    ...shape.columns.map((_, i) => `b${i} ${text} NULL`),
    ...shape.identity.map((_, i) => `i${i} ${text} NULL`),
  ];
  await trx.raw(`DROP ${mysql ? 'TEMPORARY ' : ''}TABLE IF EXISTS ${TMP}`);
  await trx.raw(`CREATE TEMPORARY TABLE ${TMP} (id BIGINT NOT NULL PRIMARY KEY, st INT NOT NULL DEFAULT ${ST_MISSING}, ${cols.join(', ')})`);
  // Rows go in by multi-row INSERTs of at most `step` rows and about INSERT_CHARS of values, across
  // parts: few statements, none of them (nor its packet) a large object the young generation
  // cannot free. SQLite builds a multi-row INSERT as a compound SELECT, at most 500 terms.
  const step = mysql ? 2000 : 400;
  let pending: Array<Record<string, unknown>> = [];
  let chars = 0;
  let firstPart = 0;
  let lastPart = 0;
  const flush = async () => {
    if (!pending.length) return;
    const chunk = pending;
    pending = [];
    chars = 0;
    try {
      await trx(TMP).insert(chunk);
    } catch (e) {
      const parts = firstPart === lastPart ? `part ${firstPart}` : `parts ${firstPart}–${lastPart}`;
      if (/duplicate|UNIQUE/i.test(String((e as Error).message))) throw new RefusedError(`history entry ${entry.id} ${parts}: a row appears twice — refusing to undo it; nothing was restored`);
      throw e;
    }
  };
  for await (const p of journal.parts(entry, trx)) {
    for (const r of p.rows) if (!sameShape(r, shape)) throw new NotUniform();
    for (const r of p.rows) {
      if (!pending.length) firstPart = p.part;
      lastPart = p.part;
      const o: Record<string, unknown> = { id: Number(r.key.id) };
      shape.columns.forEach((c, j) => {
        const a = r.after![c] ?? null;
        const b = r.before![c] ?? null;
        o[`a${j}`] = a;
        o[`b${j}`] = b;
        chars += (a?.length ?? 4) + (b?.length ?? 4);
      });
      shape.identity.forEach((c, j) => {
        const i = r.identity?.[c] ?? null;
        o[`i${j}`] = i;
        chars += i?.length ?? 4;
      });
      pending.push(o);
      if (pending.length >= step || chars >= INSERT_CHARS) await flush();
    }
  }
  await flush();
  const T = q(shape.table);
  const same = (x: string, y: string) => (mysql ? `BINARY ${x} <=> BINARY ${y}` : `${x} IS ${y}`);
  const all = (side: 'a' | 'b') => shape.columns.map((c, j) => same(`t.${q(c)}`, `${TMP}.${side}${j}`)).join(' AND ');
  const ident = m ? shape.identity.map((c, j) => `(${TMP}.i${j} IS NULL OR ${same(`t.${q(c)}`, `${TMP}.i${j}`)})`).join(' AND ') : '1=1';
  const kase = `CASE WHEN NOT (${ident}) THEN ${ST_OTHER} WHEN ${all('a')} THEN ${ST_RESTORE} WHEN ${all('b')} THEN ${ST_ALREADY} ELSE ${ST_CHANGED} END`;
  if (mysql) {
    if (lock) await trx.raw(`SELECT COUNT(*) FROM ${T} t JOIN ${TMP} ON t.id = ${TMP}.id FOR UPDATE`);
    await trx.raw(`UPDATE ${TMP} JOIN ${T} t ON t.id = ${TMP}.id SET ${TMP}.st = ${kase}`);
  } else {
    await trx.raw(`UPDATE ${TMP} SET st = COALESCE((SELECT ${kase} FROM ${T} t WHERE t.id = ${TMP}.id), ${ST_MISSING})`);
  }
  const counts: SetCounts = { restore: 0, already: 0, changed: 0, missing: 0, other: 0 };
  for (const r of (await trx(TMP).select('st').count({ n: '*' }).groupBy('st')) as Array<{ st: number; n: number | string }>) {
    const k = Number(r.st);
    const v = Number(r.n);
    if (k === ST_RESTORE) counts.restore = v;
    else if (k === ST_ALREADY) counts.already = v;
    else if (k === ST_CHANGED) counts.changed = v;
    else if (k === ST_MISSING) counts.missing = v;
    else counts.other = v;
  }
  const why = { [ST_CHANGED]: 'changed', [ST_MISSING]: 'missing', [ST_OTHER]: 'other-account' } as const;
  const ids = ((await trx(TMP).select('id', 'st').whereIn('st', [ST_CHANGED, ST_MISSING, ST_OTHER]).orderBy('id').limit(ID_LIST)) as Array<{ id: number; st: number }>).map((r) => ({
    table: shape.table,
    id: Number(r.id),
    why: why[Number(r.st) as 3 | 4 | 5],
  }));
  return { counts, ids };
}

/** One UPDATE joined to the temporary table restores every marked row. */
async function restoreSet(trx: Knex.Transaction, shape: BulkShape, expected: number): Promise<void> {
  const T = q(shape.table);
  let n: unknown;
  if (mysqlOf(trx)) {
    const set = shape.columns.map((c, j) => `t.${q(c)} = ${TMP}.b${j}`).join(', ');
    const r = (await trx.raw(`UPDATE ${T} t JOIN ${TMP} ON t.id = ${TMP}.id SET ${set} WHERE ${TMP}.st = ${ST_RESTORE}`)) as [{ affectedRows: number }];
    n = r[0].affectedRows;
  } else {
    const set = shape.columns.map((c, j) => `${q(c)} = ${TMP}.b${j}`).join(', ');
    const r = (await trx.raw(`UPDATE ${T} SET ${set} FROM ${TMP} WHERE ${TMP}.id = ${T}.id AND ${TMP}.st = ${ST_RESTORE}`)) as unknown;
    n = (r as { changes?: number }).changes ?? expected;
  }
  if (Number(n) !== expected) throw new CliError(`${shape.table}: ${expected} rows to restore but ${String(n)} were written — rolled back, nothing was restored`);
}

/**
 * The undo's own history: a reference to the undone entry's parts (its rows, inverted) minus the
 * rows left as they were — no second copy of 100 000 rows. Parts are never changed once written,
 * so the reference stays exact; re-applying follows it.
 */
async function recordSet(trx: Knex.Transaction, entry: JournalEntry, restored: number, writer: ReturnType<Journal['begin']>): Promise<void> {
  const except: number[] = [];
  let after = 0;
  for (;;) {
    const got = (await trx(TMP).where('st', '<>', ST_RESTORE).andWhere('id', '>', after).orderBy('id').limit(50_000).pluck('id')) as number[];
    if (!got.length) break;
    for (const id of got) except.push(Number(id));
    after = Number(got[got.length - 1]);
  }
  await writer.writeRef(trx, { ref: entry.id, except }, restored);
}
