import { createHash, randomBytes } from 'node:crypto';
import { promises as fs, constants as fsc } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError, NotFoundError, RefusedError } from '../errors.js';

/**
 * The undo journal. One JSON-lines file per change under
 * `$XDG_STATE_HOME/whmcs-2fa/<install>/`, directory 0700, files 0600 — the lines hold previous
 * column values, which can include encrypted second-factor configs.
 *
 * Line 1 is the header; then one line per changed row ({t, k, b, a}); `{"commit":n}` after batch n
 * committed; `{"undoneBy":id}` when undone. Rows are appended and fsynced BEFORE the database
 * commit, so a crash can leave journal rows whose batch never committed: undo therefore judges
 * each row by the database's current value, never by the markers alone.
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
  /**
   * Soft: a side record (e.g. the TOTP replay list, which WHMCS rewrites on every login). If it has
   * changed since, undo leaves it as it is instead of refusing the whole undo.
   */
  s?: 1;
}

export interface JournalHeader {
  id: string;
  createdAt: string;
  install: string;
  command: string;
  summary: string;
  reason?: string;
  operator: string;
  undoOf?: string;
}

export interface JournalEntry extends JournalHeader {
  rows: JournalRow[];
  commits: number;
  undoneBy?: string;
  file: string;
}

export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/') ? env.XDG_STATE_HOME : join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'whmcs-2fa');
}

/** A readable, filesystem-safe folder name per install, with a hash so similar labels never collide. */
export function installKey(label: string): string {
  const readable = label.replace(/^[a-z]+:\/\//, '').replace(/[^A-Za-z0-9._@-]+/g, '_').slice(0, 60);
  const hash = createHash('sha256').update(label).digest('hex').slice(0, 8);
  return `${readable}-${hash}`;
}

export class Journal {
  readonly dir: string;
  constructor(readonly installLabel: string, env: NodeJS.ProcessEnv = process.env) {
    this.dir = join(stateDir(env), installKey(installLabel));
  }

  private async ensureDir(): Promise<void> {
    try {
      await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
      await fs.chmod(this.dir, 0o700);
      await fs.chmod(join(this.dir, '..'), 0o700);
      await fs.access(this.dir, fsc.W_OK);
    } catch (e) {
      throw new RefusedError(`cannot write the undo journal in ${this.dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}) — nothing was changed; fix its permissions or set XDG_STATE_HOME`);
    }
  }

  /** Creates the entry file with its header; fails (and so stops the change) if the disk says no. */
  async begin(h: Omit<JournalHeader, 'id' | 'createdAt' | 'install'>): Promise<JournalWriter> {
    await this.ensureDir();
    const now = new Date();
    const id = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z') + '-' + randomBytes(3).toString('hex');
    const header: JournalHeader = { id, createdAt: now.toISOString(), install: this.installLabel, ...h };
    const file = join(this.dir, `${id}.jsonl`);
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(file, 'wx', 0o600);
      await handle.write(JSON.stringify(header) + '\n');
      await handle.sync();
    } catch (e) {
      throw new RefusedError(`cannot write the undo journal ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}) — nothing was changed`);
    }
    return new JournalWriter(handle, header, file);
  }

  async list(): Promise<JournalEntry[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch {
      return [];
    }
    const entries: JournalEntry[] = [];
    for (const n of names.filter((x) => x.endsWith('.jsonl')).sort()) {
      const e = await readEntry(join(this.dir, n), { headerOnly: true }).catch(() => null);
      if (e) entries.push(e);
    }
    // Ids carry whole seconds and a random suffix, so two changes in one second would sort by
    // chance; the header's millisecond timestamp keeps "the last change" the last one made.
    return entries.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async get(id: string | undefined): Promise<JournalEntry> {
    const all = await this.list();
    if (!all.length) throw new NotFoundError(`no changes recorded for ${this.installLabel} in ${this.dir} — nothing to undo`);
    let pick: JournalEntry | undefined;
    if (id) {
      pick = all.find((e) => e.id === id) ?? (all.filter((e) => e.id.startsWith(id)).length === 1 ? all.find((e) => e.id.startsWith(id)) : undefined);
      if (!pick) throw new NotFoundError(`no journal entry "${id}" — run \`whmcs-2fa undo --list\` to see them`);
    } else {
      pick = [...all].reverse().find((e) => !e.undoneBy && e.commits > 0);
      if (!pick) throw new NotFoundError('every recorded change has already been undone — run `whmcs-2fa undo --list`');
    }
    return readEntry(pick.file, { headerOnly: false });
  }

  async markUndone(entry: JournalEntry, undoId: string): Promise<void> {
    await fs.appendFile(entry.file, JSON.stringify({ undoneBy: undoId }) + '\n', { mode: 0o600 });
  }
}

/** A batch of rows serialized ahead of writing (the bulk engine does it while the previous batch commits). */
export interface JournalLines {
  text: string;
}

/**
 * One JSON line per row. V8 serializes one array of rows about twice as fast as each row on its
 * own (a bulk run writes 30 000 of them), so the batch is serialized whole and cut at the
 * separators between rows. `},{"t":` cannot occur inside a string (its quotes would be escaped)
 * nor inside a row (values are flat); a row built with another first key would merge with the
 * one before it, so the cut is checked — as many lines as rows — and else done row by row.
 */
export function journalLines(rows: JournalRow[]): JournalLines {
  if (!rows.length) return { text: '' };
  const text = JSON.stringify(rows).slice(1, -1).replaceAll('},{"t":', '}\n{"t":') + '\n';
  let lines = 0;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines++;
  if (lines === rows.length) return { text };
  return { text: rows.map((r) => JSON.stringify(r)).join('\n') + '\n' };
}

export class JournalWriter {
  private batches = 0;
  constructor(private readonly handle: fs.FileHandle, readonly header: JournalHeader, readonly file: string) {}

  get id(): string {
    return this.header.id;
  }

  /** Appends and fsyncs a batch of rows; must complete before the database transaction commits. */
  async rows(rows: JournalRow[] | JournalLines): Promise<void> {
    const text = Array.isArray(rows) ? journalLines(rows).text : rows.text;
    if (!text) return;
    try {
      await this.handle.write(text);
      await this.handle.sync();
    } catch (e) {
      throw new CliError(`cannot write the undo journal ${this.file}: ${(e as Error).message} — the batch was not applied`, 4);
    }
  }

  async committed(): Promise<void> {
    this.batches++;
    // Best effort: the database is already committed; undo re-checks current values anyway.
    await this.handle.write(JSON.stringify({ commit: this.batches }) + '\n').catch(() => {});
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => {});
  }

  /** A change that wrote nothing leaves no entry behind. */
  async discard(): Promise<void> {
    await this.close();
    if (this.batches === 0) await fs.unlink(this.file).catch(() => {});
  }
}

async function readEntry(file: string, opts: { headerOnly: boolean }): Promise<JournalEntry> {
  const text = await fs.readFile(file, 'utf8');
  const lines = text.split('\n').filter(Boolean);
  const header = JSON.parse(lines[0]!) as JournalHeader;
  const entry: JournalEntry = { ...header, rows: [], commits: 0, file };
  for (const line of lines.slice(1)) {
    if (opts.headerOnly && line.startsWith('{"t"')) continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line);
    } catch {
      continue; // a torn last line from a crash mid-append
    }
    if ('commit' in o) entry.commits++;
    else if ('undoneBy' in o) entry.undoneBy = String(o.undoneBy);
    else if (!opts.headerOnly && 't' in o) entry.rows.push(o as unknown as JournalRow);
  }
  return entry;
}
