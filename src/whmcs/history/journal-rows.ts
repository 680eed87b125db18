/**
 * The rows a history entry holds, in the form the history stores them, and the allow-list every
 * row read back must pass: `undo` only ever writes the tables and columns whmcs-2fa itself writes,
 * keyed the way it keys them. A row naming anything else is damage or tampering, and the whole
 * entry is refused.
 */
import type { RowChange } from '../changes/row-change.js';

/**
 * A RowChange as the history stores it, one JSON line per row: one-letter keys, in this order.
 * Entries written by every earlier version read back through checkRow, and rows written now are
 * the bytes those versions wrote.
 */
export interface JournalRow {
  /** table */
  t: string;
  /** key columns */
  k: Record<string, string | number>;
  /** before (null: the row did not exist) */
  b: Record<string, string | null> | null;
  /** after (null: the row was deleted) */
  a: Record<string, string | null> | null;
  /** soft (RowChange.soft) */
  s?: 1;
  /** identity (RowChange.identity) */
  i?: Record<string, string>;
}

/** The stored form of a row. */
export function storedRow(r: RowChange): JournalRow {
  const o: JournalRow = { t: r.table, k: r.key, b: r.before, a: r.after };
  if (r.soft) o.s = 1;
  if (r.identity) o.i = r.identity;
  return o;
}

/** Thrown for a damaged or foreign entry; the message names where (entry, part, line). */
export class JournalDamage extends Error {}

interface Allowed {
  keys: readonly string[];
  columns: readonly string[];
  identity: readonly string[];
}

/** Everything whmcs-2fa writes (data model §2, §5): nothing else is ever restored. */
const ALLOWED: Readonly<Record<string, Allowed>> = {
  tblconfiguration: { keys: ['id', 'setting'], columns: ['value', 'created_at', 'updated_at'], identity: ['setting'] },
  tbladmins: { keys: ['id'], columns: ['authmodule', 'authdata'], identity: ['username'] },
  tblusers: { keys: ['id'], columns: ['second_factor', 'second_factor_config'], identity: ['email'] },
  tblclients: { keys: ['id'], columns: ['authmodule', 'authdata'], identity: ['email'] },
};

/** The tblconfiguration settings whmcs-2fa writes. */
export const ALLOWED_SETTINGS: ReadonlySet<string> = new Set(['2fasettings', 'TOTPUsedOTPs']);

export function identityColumns(table: string): readonly string[] {
  return ALLOWED[table]?.identity ?? [];
}

const MAX_VALUE = 16 * 1024 * 1024;
const isPlain = (o: unknown): o is Record<string, unknown> => Boolean(o) && typeof o === 'object' && !Array.isArray(o);

function checkValues(v: unknown, allowed: Allowed, where: string, side: string): Record<string, string | null> | null {
  if (v === null) return null;
  if (!isPlain(v)) throw new JournalDamage(`${where}: "${side}" is not an object`);
  const out: Record<string, string | null> = {};
  for (const [c, x] of Object.entries(v)) {
    if (!allowed.columns.includes(c)) throw new JournalDamage(`${where}: column "${short(c)}" is not one whmcs-2fa writes`);
    if (x !== null && typeof x !== 'string') throw new JournalDamage(`${where}: ${c} is neither text nor NULL`);
    if (typeof x === 'string' && x.length > MAX_VALUE) throw new JournalDamage(`${where}: ${c} is ${x.length} characters long`);
    out[c] = x;
  }
  return out;
}

// eslint-disable-next-line no-control-regex -- control characters are what this replaces
const short = (s: string) => (s.length > 40 ? `${s.slice(0, 40)}…` : s).replace(/[\x00-\x1f\x7f]/g, '?');

/** Validates one parsed row of the stored form against the allow-list; `where` names it in the error. */
export function checkRow(o: unknown, where: string): RowChange {
  if (!isPlain(o)) throw new JournalDamage(`${where}: not a journal row`);
  const t = o.t;
  if (typeof t !== 'string' || !Object.hasOwn(ALLOWED, t)) throw new JournalDamage(`${where}: table "${short(String(t))}" is not one whmcs-2fa writes`);
  const allowed = ALLOWED[t]!;
  if (!isPlain(o.k)) throw new JournalDamage(`${where}: no key`);
  const keys = Object.entries(o.k);
  if (keys.length !== 1) throw new JournalDamage(`${where}: the key must be one column`);
  const [kc, kv] = keys[0]!;
  if (!allowed.keys.includes(kc)) throw new JournalDamage(`${where}: key column "${short(kc)}" is not one whmcs-2fa uses`);
  if (kc === 'id' ? !(Number.isSafeInteger(kv) && (kv as number) > 0) : !(typeof kv === 'string' && ALLOWED_SETTINGS.has(kv))) {
    throw new JournalDamage(`${where}: key ${kc}=${short(String(kv))} is not one whmcs-2fa writes`);
  }
  const before = checkValues(o.b ?? null, allowed, where, 'b');
  const after = checkValues(o.a ?? null, allowed, where, 'a');
  if (before === null && after === null) throw new JournalDamage(`${where}: neither a before nor an after value`);
  // Rows are inserted or deleted only by setting name (tblconfiguration); accounts are only updated.
  if ((before === null || after === null) && kc !== 'setting') throw new JournalDamage(`${where}: whmcs-2fa never inserts or deletes ${t} rows`);
  const row: RowChange = { table: t, key: { [kc]: kv as string | number }, before, after };
  if (o.s === 1) row.soft = true;
  if (o.i !== undefined) {
    if (!isPlain(o.i)) throw new JournalDamage(`${where}: bad identity`);
    const identity: Record<string, string> = {};
    for (const [c, x] of Object.entries(o.i)) {
      if (!allowed.identity.includes(c) || typeof x !== 'string') throw new JournalDamage(`${where}: bad identity column "${short(c)}"`);
      identity[c] = x;
    }
    row.identity = identity;
  }
  return row;
}

/** A batch of rows serialized ahead of writing (the bulk engine does it while the previous batch commits). */
export interface JournalLines {
  text: string;
  rows: number;
}

/** One JSON line per row, in the stored form. */
export function journalLines(rows: RowChange[]): JournalLines {
  return storedLines(rows.map(storedRow));
}

/**
 * JSON lines as UTF-8, one part of a bulk entry: how a prepared batch holds its history while the
 * batch before it commits. Bytes live outside V8's heap, so holding them is not copied by every
 * young-generation collection; the bulk engine writes them into buffers it reuses (see runBulk),
 * since a buffer per batch would be promoted with its holder and freed only at a full collection.
 */
export interface JournalBytes {
  bytes: Buffer;
  rows: number;
}

/**
 * Characters of JSON lines per part of a bulk entry, aimed at and at most (unless one row is more).
 * Every string and buffer made from a part (its text, ciphertext, base64 — a third more —, the
 * INSERT statement) then stays under V8's large-object size (128 KiB): garbage the young
 * generation frees at once, where a whole batch's worth (a megabyte or more each) would be
 * allocated as large objects and kept until a full collection.
 */
export const PART_CHARS = 72 * 1024;
export const PART_CHARS_MAX = 90 * 1024;

/**
 * The rows as JSON lines in pieces of about PART_CHARS characters, each one part of the history:
 * runs of rows are serialized together (see storedLines), a run as long as the rows before it say
 * fits (a batch of small rows is one piece); a run's text longer than PART_CHARS_MAX is cut at line
 * ends (a longer line is a piece of its own).
 */
export function journalPieces(changes: RowChange[]): JournalLines[] {
  const rows = changes.map(storedRow);
  const out: JournalLines[] = [];
  let run = rows.length ? Math.max(1, Math.floor(PART_CHARS / (JSON.stringify(rows[0]).length + 1))) : 0;
  for (let i = 0; i < rows.length; ) {
    const { text, rows: n } = storedLines(i === 0 && run >= rows.length ? rows : rows.slice(i, i + run));
    for (let start = 0; start < text.length; ) {
      let end = text.length;
      if (end - start > PART_CHARS_MAX) {
        end = text.lastIndexOf('\n', start + PART_CHARS_MAX - 1) + 1;
        if (end <= start) end = text.indexOf('\n', start) + 1;
      }
      const piece = start === 0 && end === text.length ? text : text.slice(start, end);
      let lines = 0;
      for (let at = piece.indexOf('\n'); at !== -1; at = piece.indexOf('\n', at + 1)) lines++;
      out.push({ text: piece, rows: lines });
      start = end;
    }
    i += n;
    run = Math.max(1, Math.floor((PART_CHARS * n) / text.length));
  }
  return out;
}

/**
 * Stored rows as JSON lines. V8 serializes one array of rows about twice as fast as each row on its
 * own (a bulk run writes 30 000 of them), so the batch is serialized whole and cut at the
 * separators between rows. `},{"t":` cannot occur inside a string (its quotes would be escaped)
 * nor inside a row (values are flat); a row built with another first key would merge with the
 * one before it, so the cut is checked — as many lines as rows — and else done row by row.
 */
export function storedLines(rows: JournalRow[]): JournalLines {
  if (!rows.length) return { text: '', rows: 0 };
  const text = JSON.stringify(rows).slice(1, -1).replaceAll('},{"t":', '}\n{"t":') + '\n';
  let lines = 0;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines++;
  if (lines === rows.length) return { text, rows: rows.length };
  return { text: rows.map((r) => JSON.stringify(r)).join('\n') + '\n', rows: rows.length };
}
