import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import type { Knex } from 'knex';
import { isSqlite } from '../connection/sqlite-driver.js';
import { CliError, DecryptError, NotFoundError, RefusedError } from '../../errors.js';
import { aesConfigKey } from '../crypto/aes-config.js';
import { checkRow, JournalDamage, journalLines, type JournalBytes, type JournalLines } from './journal-rows.js';
import type { RowChange } from '../changes/row-change.js';

export { journalLines, type JournalLines, type JournalRow } from './journal-rows.js';

/**
 * The installation's history: two tables in the WHMCS database itself, the way WHMCS addon modules
 * keep `mod_*` tables (docs/journal.md says why). An entry's header and its rows are written in the
 * SAME transaction as the change they describe, so the change and its history commit or vanish
 * together — a crash, a full disk or a lost connection can never make them disagree — and whoever
 * can change the installation sees the same history from any connection form or OS account.
 *
 * Rows are kept as JSON lines in parts (one or more per batch). With `cc_encryption_hash` known a
 * part is AES-256-CBC encrypted under the key WHMCS 8.12 uses for second-factor data (a random IV
 * per part) and sealed with an HMAC over entry id, part number and contents; without it, plain with
 * a SHA-256 checksum (damage is found, tampering only with the hash).
 */
export const HISTORY = 'mod_whmcs2fa_journal';
export const PARTS = 'mod_whmcs2fa_journal_parts';

interface JournalHeader {
  id: string;
  createdAt: string;
  command: string;
  summary: string;
  reason?: string;
  operator: string;
  /** The entry this one undid (an undo, or a re-apply when that was itself an undo). */
  undoOf?: string;
}

export interface JournalEntry extends JournalHeader {
  /** Order of the changes on this installation (auto-increment, never the wall clock). */
  seq: number;
  rows: number;
  parts: number;
  undoneBy?: string;
  /** 'db', or 'file' for an entry imported from an earlier version's file journal. */
  source: string;
  encrypted: boolean;
}

/** Parts stay well below MariaDB's default max_allowed_packet (16 MB) after base64. */
const PART_BYTES = 4 * 1024 * 1024;
/** Characters of part data read per query (see Journal.parts). */
const READ_CHARS = 512 * 1024;
const ID = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;


function newEntryId(now = new Date()): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z') + '-' + randomBytes(3).toString('hex');
}

function macKey(ccHash: string): Buffer {
  return createHash('sha256').update('whmcs-2fa history\0').update(ccHash).digest();
}

/** Seals one part (exported for tests that plant entries the way an insider with the hash could). */
export function seal(id: string, part: number, text: string | Buffer, ccHash: string | undefined): { data: string; mac: string; enc: boolean } {
  const what = `${id}\n${part}\n`;
  if (!ccHash) return { data: typeof text === 'string' ? text : text.toString('utf8'), mac: createHash('sha256').update(what).update(text).digest('hex'), enc: false };
  const iv = randomBytes(16);
  const c = createCipheriv('aes-256-cbc', aesConfigKey(ccHash), iv);
  // Base64 of IV ‖ ciphertext, written piece by piece (the decoder carries the bytes that do not
  // fill a group of three): no buffer of the whole is made only to be encoded and dropped.
  const b64 = new StringDecoder('base64');
  const data = b64.write(iv) + b64.write(typeof text === 'string' ? c.update(text, 'utf8') : c.update(text)) + b64.write(c.final()) + b64.end();
  const mac = createHmac('sha256', macKey(ccHash)).update(what).update(text).digest('hex');
  return { data, mac, enc: true };
}

function unseal(entry: JournalEntry, part: number, data: string, mac: string, ccHash: string | undefined): string {
  const what = `${entry.id}\n${part}\n`;
  let text: string;
  let want: string;
  if (entry.encrypted) {
    if (!ccHash) throw new DecryptError(`history entry ${entry.id} is encrypted with cc_encryption_hash — use --whmcs-dir (reads configuration.php) or set WHMCS_CC_ENCRYPTION_HASH`);
    try {
      const raw = Buffer.from(data, 'base64');
      const d = createDecipheriv('aes-256-cbc', aesConfigKey(ccHash), raw.subarray(0, 16));
      text = Buffer.concat([d.update(raw.subarray(16)), d.final()]).toString('utf8');
    } catch {
      throw new JournalDamage(`history entry ${entry.id} part ${part}: does not decrypt with this cc_encryption_hash (damaged, or written with another one)`);
    }
    want = createHmac('sha256', macKey(ccHash)).update(what).update(text).digest('hex');
  } else {
    text = data;
    want = createHash('sha256').update(what).update(text).digest('hex');
  }
  const ok = typeof mac === 'string' && mac.length === want.length && timingSafeEqual(Buffer.from(mac), Buffer.from(want));
  if (!ok) throw new JournalDamage(`history entry ${entry.id} part ${part}: its seal does not match — the entry was damaged or altered`);
  return text;
}

function fromDb(r: Record<string, unknown>): JournalEntry {
  const opt = (v: unknown) => (v === null || v === undefined || v === '' ? undefined : String(v));
  return {
    seq: Number(r.seq),
    id: String(r.id),
    createdAt: String(r.created_at),
    command: String(r.command ?? ''),
    summary: String(r.summary ?? ''),
    reason: opt(r.reason),
    operator: String(r.operator ?? ''),
    undoOf: opt(r.undo_of),
    undoneBy: opt(r.undone_by),
    rows: Number(r.row_count),
    parts: Number(r.parts),
    source: String(r.source ?? 'db'),
    encrypted: Number(r.enc) === 1,
  };
}

export class Journal {
  private ready = false;
  private createdHere = false;
  constructor(
    private readonly knex: Knex,
    private readonly ccHash: string | undefined,
    /** How this connection names the database (for messages only: the history is in the database). */
    readonly installLabel: string,
  ) {}

  /** Where the history lives, for listings. */
  get where(): string {
    return `${HISTORY} in ${this.installLabel}`;
  }

  async exists(k: Knex | Knex.Transaction = this.knex): Promise<boolean> {
    try {
      await k(HISTORY).select('seq').limit(0);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Creates the tables when missing. DDL commits implicitly on MySQL, so this runs before the
   * change's transaction; if it cannot (no CREATE privilege) nothing is changed.
   */
  async ensure(): Promise<void> {
    if (this.ready) return;
    if (await this.exists()) {
      this.ready = true;
      return;
    }
    const sqlite = isSqlite(this.knex);
    const text = sqlite ? 'TEXT' : 'LONGTEXT';
    const tail = sqlite ? '' : ' ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin';
    const auto = sqlite ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : 'BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY';
    try {
      await this.knex.raw(
        `CREATE TABLE IF NOT EXISTS ${HISTORY} (seq ${auto}, id VARCHAR(32) NOT NULL UNIQUE, created_at VARCHAR(32) NOT NULL, ` +
          `command VARCHAR(255) NOT NULL, summary ${text} NOT NULL, reason ${text} NULL, operator VARCHAR(255) NOT NULL, ` +
          `undo_of VARCHAR(32) NULL, undone_by VARCHAR(64) NULL, row_count INT NOT NULL DEFAULT 0, parts INT NOT NULL DEFAULT 0, ` +
          `enc SMALLINT NOT NULL DEFAULT 0, source VARCHAR(8) NOT NULL DEFAULT 'db')${tail}`,
      );
      await this.knex.raw(
        `CREATE TABLE IF NOT EXISTS ${PARTS} (seq BIGINT NOT NULL, part INT NOT NULL, row_count INT NOT NULL, data ${text} NOT NULL, ` +
          `mac VARCHAR(64) NOT NULL, PRIMARY KEY (seq, part))${tail}`,
      );
      this.createdHere = true;
    } catch (e) {
      const code = (e as { code?: string }).code ?? (e as Error).message.split('\n')[0];
      throw new RefusedError(`cannot create the history table ${HISTORY} (${code}) — nothing was changed; the database user needs CREATE on the WHMCS database once`);
    }
    this.ready = true;
  }

  /**
   * A run that created the tables and then wrote nothing (refused under lock, a failed write)
   * removes them again, so a failed command leaves the database exactly as it found it. Under
   * LOCK TABLES on MySQL: another run's uncommitted entry makes this wait, and then keeps them.
   */
  async dropIfUnused(): Promise<void> {
    if (!this.createdHere) return;
    this.createdHere = false;
    this.ready = false;
    const empty = async (k: Knex | Knex.Transaction) =>
      Number(((await k(HISTORY).count({ n: '*' }).first()) as { n: unknown }).n) === 0 && Number(((await k(PARTS).count({ n: '*' }).first()) as { n: unknown }).n) === 0;
    try {
      if (isSqlite(this.knex)) {
        await this.knex.transaction(async (trx) => {
          if (await empty(trx)) {
            await trx.raw(`DROP TABLE ${PARTS}`);
            await trx.raw(`DROP TABLE ${HISTORY}`);
          }
        });
        return;
      }
      const conn = await this.knex.client.acquireConnection();
      try {
        const on = <T>(q: Knex.QueryBuilder | Knex.Raw) => q.connection(conn) as unknown as Promise<T>;
        await on(this.knex.raw(`LOCK TABLES ${HISTORY} WRITE, ${PARTS} WRITE`));
        try {
          const n1 = (await on<Array<{ n: unknown }>>(this.knex(HISTORY).count({ n: '*' })))[0]!.n;
          const n2 = (await on<Array<{ n: unknown }>>(this.knex(PARTS).count({ n: '*' })))[0]!.n;
          if (Number(n1) === 0 && Number(n2) === 0) await on(this.knex.raw(`DROP TABLE ${PARTS}, ${HISTORY}`));
        } finally {
          await on(this.knex.raw('UNLOCK TABLES')).catch(() => {});
        }
      } finally {
        await this.knex.client.releaseConnection(conn);
      }
    } catch {
      /* best effort: empty tables are harmless */
    }
  }

  /** Starts an entry; nothing is written until its first part, inside the change's transaction. */
  begin(h: Omit<JournalHeader, 'id' | 'createdAt'>): JournalWriter {
    const now = new Date();
    return new JournalWriter({ id: newEntryId(now), createdAt: now.toISOString(), ...h }, this.ccHash);
  }

  /** Every entry, oldest first (by sequence). */
  async list(k: Knex | Knex.Transaction = this.knex): Promise<JournalEntry[]> {
    if (!(await this.exists(k))) return [];
    const rows = (await k(HISTORY).select('*').orderBy('seq')) as Record<string, unknown>[];
    return rows.map(fromDb);
  }

  async byId(id: string, k: Knex | Knex.Transaction = this.knex, lock = false): Promise<JournalEntry | null> {
    if (!(await this.exists(k))) return null;
    let q = k(HISTORY).where({ id }).first('*');
    if (lock && !isSqlite(k)) q = q.forUpdate();
    const r = (await q) as Record<string, unknown> | undefined;
    return r ? fromDb(r) : null;
  }

  /**
   * The entry `undo [id]` means: an exact id or a unique prefix (several → exit 3 listing them);
   * without one, the newest change (by sequence) that is neither undone nor itself an undo — so
   * repeated `undo` steps back through the history instead of re-applying.
   */
  async pick(id: string | undefined): Promise<JournalEntry> {
    const all = await this.list();
    if (!all.length) throw new NotFoundError(`no changes recorded in ${this.where} — nothing to undo`);
    if (id) {
      const exact = all.find((e) => e.id === id);
      if (exact) return exact;
      const hits = id.length >= 4 ? all.filter((e) => e.id.startsWith(id)) : [];
      if (hits.length === 1) return hits[0]!;
      if (hits.length > 1) {
        const candidates = hits.map((e) => ({ id: e.id, createdAt: e.createdAt, command: e.command, summary: e.summary, operator: e.operator }));
        throw new NotFoundError(`"${id}" matches ${hits.length} changes: ${hits.slice(0, 5).map((e) => `${e.id} (${e.command})`).join(', ')}${hits.length > 5 ? ', …' : ''} — give more of the id`, { candidates });
      }
      throw new NotFoundError(`no change "${id}" in ${this.where}${id.length < 4 ? ' (give at least 4 characters of the id)' : ''} — run \`whmcs-2fa undo --list\` to see them`);
    }
    const pick = [...all].reverse().find((e) => !e.undoneBy && !e.undoOf && e.rows > 0);
    if (!pick) throw new NotFoundError('every recorded change has already been undone — run `whmcs-2fa undo --list`; to re-apply one, undo its undo by id');
    return pick;
  }

  /**
   * The rows of an entry, part by part in the order written (memory: one part). Every part is
   * unsealed and every row checked against the allow-list: damage throws naming part and line.
   */
  async *parts(entry: JournalEntry, k: Knex | Knex.Transaction = this.knex): AsyncGenerator<{ part: number; rows: RowChange[] }> {
    let expected = 1;
    let total = 0;
    // Parts are read a few at a time (a bulk entry has thousands): as many as make about
    // READ_CHARS, going by the size of the last one (entries of earlier versions have 4 MB parts).
    let perRead = 1;
    read: for (;;) {
      const got = (await k(PARTS).where('seq', entry.seq).andWhere('part', '>=', expected).orderBy('part').limit(perRead).select('part', 'row_count', 'data', 'mac')) as Array<Record<string, unknown> | null>;
      for (let g = 0; g < got.length; g++) {
        const r = got[g]!;
        // Dropped as soon as it is read: rows held while the consumer works are promoted to the old generation.
        got[g] = null;
        if (Number(r.part) !== expected) break read;
        const data = String(r.data);
        perRead = Math.max(1, Math.min(16, Math.floor(READ_CHARS / Math.max(1, data.length))));
        const text = unseal(entry, expected, data, String(r.mac), this.ccHash);
        if (text.startsWith('{"ref":')) {
          // An undo of a bulk change: the undone entry's rows, inverted, minus the rows it left alone.
          let n = 0;
          for await (const rows of this.referenced(entry, expected, text, k)) {
            n += rows.length;
            yield { part: expected, rows };
          }
          if (n !== Number(r.row_count)) throw new JournalDamage(`history entry ${entry.id} part ${expected}: ${n} rows where ${r.row_count} were written`);
          total += n;
          expected++;
          continue;
        }
        const lines = text.split('\n');
        if (lines[lines.length - 1] === '') lines.pop();
        const rows: RowChange[] = new Array(lines.length);
        for (let i = 0; i < lines.length; i++) {
          const where = `history entry ${entry.id} part ${expected} line ${i + 1}`;
          let o: unknown;
          try {
            o = JSON.parse(lines[i]!);
          } catch {
            throw new JournalDamage(`${where}: not JSON`);
          }
          rows[i] = checkRow(o, where);
        }
        if (rows.length !== Number(r.row_count)) throw new JournalDamage(`history entry ${entry.id} part ${expected}: ${rows.length} rows where ${r.row_count} were written`);
        total += rows.length;
        yield { part: expected, rows };
        expected++;
      }
      if (!got.length) break;
    }
    if (expected - 1 !== entry.parts || total !== entry.rows) {
      throw new JournalDamage(`history entry ${entry.id}: ${expected - 1} parts with ${total} rows where the header says ${entry.parts} with ${entry.rows}`);
    }
  }

  private async *referenced(entry: JournalEntry, part: number, text: string, k: Knex | Knex.Transaction): AsyncGenerator<RowChange[]> {
    const where = `history entry ${entry.id} part ${part}`;
    let o: { ref?: unknown; x?: unknown };
    try {
      o = JSON.parse(text);
    } catch {
      throw new JournalDamage(`${where}: not JSON`);
    }
    if (typeof o.ref !== 'string' || !ID.test(o.ref) || !Array.isArray(o.x) || !o.x.every((v) => Number.isSafeInteger(v))) throw new JournalDamage(`${where}: a malformed reference`);
    const target = await this.byId(o.ref, k);
    // Only ever to an older entry: no cycles.
    if (!target || target.seq >= entry.seq) throw new JournalDamage(`${where}: refers to ${o.ref}, which is not an earlier entry of this history`);
    const except = new Set(o.x as number[]);
    for await (const p of this.parts(target, k)) {
      const out: RowChange[] = [];
      for (const r of p.rows) {
        if (except.has(Number(r.key.id))) continue;
        const inv: RowChange = { table: r.table, key: r.key, before: r.after, after: r.before };
        if (r.soft) inv.soft = true;
        if (r.identity) inv.identity = r.identity;
        out.push(inv);
      }
      yield out;
    }
  }

  /** Every row of an entry (small entries; bulk undo streams `parts`). */
  async rowsOf(entry: JournalEntry, k: Knex | Knex.Transaction = this.knex): Promise<RowChange[]> {
    const out: RowChange[] = [];
    for await (const p of this.parts(entry, k)) for (const r of p.rows) out.push(r);
    return out;
  }

  /**
   * Marks `entry` undone by `undoId`, inside the undo's own transaction; a concurrent undo of the
   * same entry makes this fail, so one change is never undone twice. Undoing an undo re-applies
   * the original, which becomes "not undone" again.
   */
  async markUndone(trx: Knex.Transaction, entry: JournalEntry, undoId: string): Promise<void> {
    const n = await trx(HISTORY).where({ id: entry.id }).whereNull('undone_by').update({ undone_by: undoId });
    if (Number(n) !== 1) throw new RefusedError(`change ${entry.id} was undone by someone else meanwhile — nothing was restored`);
    if (entry.undoOf) await trx(HISTORY).where({ id: entry.undoOf, undone_by: entry.id }).update({ undone_by: null });
  }

  /** Imports an entry of an earlier version's file journal (its rows already checked). */
  async importEntry(trx: Knex.Transaction, h: JournalHeader & { undoneBy?: string }, rows: RowChange[]): Promise<void> {
    const w = new JournalWriter(h, this.ccHash, 'file', h.undoneBy);
    await w.write(trx, rows);
  }
}

/** Writes one entry's header and parts into the change's own transaction. */
class JournalWriter {
  private seq: number | null = null;
  private parts = 0;
  private rowCount = 0;
  constructor(
    readonly header: JournalHeader,
    private readonly ccHash: string | undefined,
    private readonly source = 'db',
    private readonly undoneBy?: string,
  ) {
    if (!ID.test(header.id)) throw new CliError(`bad history id ${header.id}`);
  }

  get id(): string {
    return this.header.id;
  }

  /** Rows written so far (committed or not: the caller knows which transactions committed). */
  get written(): { parts: number; rows: number } {
    return { parts: this.parts, rows: this.rowCount };
  }

  /**
   * Appends rows as one or more parts and keeps the header's counts right, all in `trx`. If the
   * transaction rolls back, the caller calls `rollback()` so counts follow the database.
   */
  async write(trx: Knex.Transaction, rows: RowChange[] | JournalLines | JournalBytes[]): Promise<void> {
    // Pieces a bulk batch made (journalPieces) are parts as they are; other rows are cut at PART_BYTES.
    const chunks: Array<JournalLines | JournalBytes> = !Array.isArray(rows)
      ? splitLines(rows.text)
      : rows.length && 'bytes' in rows[0]!
        ? (rows as JournalBytes[]).filter((p) => p.rows)
        : splitLines(journalLines(rows as RowChange[]).text);
    if (!chunks.length) return;
    const state = { seq: this.seq, parts: this.parts, rowCount: this.rowCount };
    if (this.seq === null) {
      const h = this.header;
      const row = {
          id: h.id,
          created_at: h.createdAt,
          command: h.command.slice(0, 255),
          summary: h.summary,
          reason: h.reason ?? null,
          operator: h.operator.slice(0, 255),
          undo_of: h.undoOf ?? null,
          undone_by: this.undoneBy ?? null,
          row_count: 0,
          parts: 0,
          enc: this.ccHash ? 1 : 0,
          source: this.source,
      };
      const ins = (isSqlite(trx) ? await trx(HISTORY).insert(row, ['seq']) : await trx(HISTORY).insert(row)) as Array<number | { seq: number }>;
      const first = ins[0];
      this.seq = typeof first === 'object' ? Number(first.seq) : Number(first);
    }
    try {
      // One INSERT per part: a statement of several would be one of V8's large objects, which
      // are promoted whenever a collection finds them alive (here: while the server inserts).
      for (const c of chunks) {
        this.parts++;
        this.rowCount += c.rows;
        const s = seal(this.header.id, this.parts, 'bytes' in c ? c.bytes : c.text, this.ccHash);
        await trx(PARTS).insert({ seq: this.seq, part: this.parts, row_count: c.rows, data: s.data, mac: s.mac });
      }
      await trx(HISTORY).where({ seq: this.seq }).update({ row_count: this.rowCount, parts: this.parts });
    } catch (e) {
      Object.assign(this, state);
      throw e;
    }
    this.pending.push(state);
  }

  /** A part that stands for `ref`'s rows, inverted, except the ids listed (see Journal.parts). */
  async writeRef(trx: Knex.Transaction, ref: { ref: string; except: number[] }, rows: number): Promise<void> {
    const text = JSON.stringify({ ref: ref.ref, x: ref.except }) + '\n';
    await this.write(trx, { text, rows: 1 });
    // write() counted the line as one row: the part stands for `rows`.
    await trx(PARTS).where({ seq: this.seq, part: this.parts }).update({ row_count: rows });
    this.rowCount += rows - 1;
    await trx(HISTORY).where({ seq: this.seq }).update({ row_count: this.rowCount });
  }

  private pending: Array<{ seq: number | null; parts: number; rowCount: number }> = [];

  /** The transaction that held the last write rolled back: forget it. */
  rollback(): void {
    const s = this.pending.pop();
    if (s) Object.assign(this, s);
  }

  /** The transaction that held the last write committed. */
  committed(): void {
    this.pending = [];
  }
}

/** Cuts JSON lines into parts of at most PART_BYTES, at line ends. */
function splitLines(text: string): Array<{ text: string; rows: number }> {
  const out: Array<{ text: string; rows: number }> = [];
  let start = 0;
  while (start < text.length) {
    let end = text.length;
    if (end - start > PART_BYTES) {
      const cut = text.lastIndexOf('\n', start + PART_BYTES);
      end = cut >= start ? cut + 1 : text.indexOf('\n', start + PART_BYTES) + 1 || text.length;
    }
    const piece = text.slice(start, end);
    let rows = 0;
    for (let at = piece.indexOf('\n'); at !== -1; at = piece.indexOf('\n', at + 1)) rows++;
    out.push({ text: piece, rows });
    start = end;
  }
  return out;
}
