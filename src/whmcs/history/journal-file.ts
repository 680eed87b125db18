import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { RefusedError } from '../../errors.js';
import { checkRow, JournalDamage } from './journal-rows.js';
import type { RowChange } from '../changes/row-change.js';

/**
 * The file journal of versions before the history moved into the WHMCS database: one JSON-lines
 * file per change under `$XDG_STATE_HOME/whmcs-2fa/<label-key>/`. Read only, so that changes made
 * with those versions stay undoable: `undo --import-legacy` checks every line and copies the
 * entries into the installation's history (docs/journal.md).
 *
 * Line 1 is the header; then one line per changed row ({t, k, b, a}); `{"commit":n}` after batch n
 * committed; `{"undoneBy":id}` when undone.
 */
interface LegacyHeader {
  id: string;
  createdAt: string;
  install: string;
  command: string;
  summary: string;
  reason?: string;
  operator: string;
  undoOf?: string;
}

export interface LegacyEntry extends LegacyHeader {
  rows: RowChange[];
  commits: number;
  undoneBy?: string;
  file: string;
}

function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/') ? env.XDG_STATE_HOME : join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'whmcs-2fa');
}

/** The folder name earlier versions used per connection label. */
function installKey(label: string): string {
  const readable = label.replace(/^[a-z]+:\/\//, '').replace(/[^A-Za-z0-9._@-]+/g, '_').slice(0, 60);
  const hash = createHash('sha256').update(label).digest('hex').slice(0, 8);
  return `${readable}-${hash}`;
}

export function legacyDir(label: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(env), installKey(label));
}

const MAX_FILE = 256 * 1024 * 1024;
const MAX_HEADER = 64 * 1024;
const ID = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;

/**
 * The directory must be a real directory (not a symlink) owned by the user running the tool and
 * not writable by others — otherwise anyone could plant entries in it. Nothing here changes its
 * mode: a refusal says what is wrong instead.
 */
async function checkDir(dir: string): Promise<boolean> {
  let st;
  try {
    st = await fs.lstat(dir);
  } catch {
    return false;
  }
  if (st.isSymbolicLink()) throw new RefusedError(`the earlier undo journal ${dir} is a symbolic link — refusing to read it; copy the real directory there if you trust it`);
  if (!st.isDirectory()) throw new RefusedError(`the earlier undo journal ${dir} is not a directory — refusing to read it`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new RefusedError(`the earlier undo journal ${dir} belongs to uid ${st.uid}, not to you (uid ${uid}) — refusing to read it; run as its owner`);
  if (st.mode & 0o022) throw new RefusedError(`the earlier undo journal ${dir} is writable by others (mode ${(st.mode & 0o777).toString(8)}) — refusing to read it; \`chmod go-w\` it if you trust its contents`);
  return true;
}

/** Entry files of the earlier journal for this label (empty when there is none). */
export async function legacyFiles(dir: string): Promise<string[]> {
  if (!(await checkDir(dir))) return [];
  return (await fs.readdir(dir)).filter((n) => n.endsWith('.jsonl')).sort().map((n) => join(dir, n));
}

/**
 * Reads one entry, strictly: a line that is not JSON, a row outside the allow-list or a malformed
 * marker refuses the whole entry naming file and line — except a torn LAST line, which is what a
 * crash mid-append leaves (it is reported in `torn`).
 */
export async function readLegacyEntry(file: string): Promise<LegacyEntry & { torn: boolean }> {
  const st = await fs.lstat(file);
  const where = (line: number) => `${file} line ${line}`;
  if (!st.isFile()) throw new JournalDamage(`${file} is not a regular file`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new JournalDamage(`${file} belongs to uid ${st.uid}, not to you`);
  if (st.size > MAX_FILE) throw new JournalDamage(`${file} is ${st.size} bytes, more than any journal entry`);
  const text = await fs.readFile(file, 'utf8');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (!lines.length) throw new JournalDamage(`${where(1)}: empty file`);
  if (lines[0]!.length > MAX_HEADER) throw new JournalDamage(`${where(1)}: header of ${lines[0]!.length} bytes`);
  let header: LegacyHeader;
  try {
    header = JSON.parse(lines[0]!) as LegacyHeader;
  } catch {
    throw new JournalDamage(`${where(1)}: the header is not JSON`);
  }
  if (!header || typeof header !== 'object' || typeof header.id !== 'string' || !ID.test(header.id) || typeof header.createdAt !== 'string' || typeof header.command !== 'string') {
    throw new JournalDamage(`${where(1)}: not a journal header`);
  }
  const entry: LegacyEntry & { torn: boolean } = {
    id: header.id,
    createdAt: header.createdAt,
    install: String(header.install ?? ''),
    command: header.command,
    summary: String(header.summary ?? ''),
    reason: typeof header.reason === 'string' ? header.reason : undefined,
    operator: String(header.operator ?? ''),
    undoOf: typeof header.undoOf === 'string' ? header.undoOf : undefined,
    rows: [],
    commits: 0,
    file,
    torn: false,
  };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      // A torn line (a crash mid-append, or a full disk) with what was appended later glued to it
      // (`{"comm{"undoneBy":…}`, `{"comm{"t":…}`): earlier versions never read the second part.
      const glued = untorn(line);
      if (glued !== undefined) {
        entry.torn = true;
        o = glued;
      } else if (i === lines.length - 1) {
        entry.torn = true;
        continue;
      } else {
        throw new JournalDamage(`${where(i + 1)}: not JSON`);
      }
    }
    if (o && typeof o === 'object' && !Array.isArray(o) && 'commit' in o) entry.commits++;
    else if (o && typeof o === 'object' && !Array.isArray(o) && 'undoneBy' in o) entry.undoneBy = String((o as { undoneBy: unknown }).undoneBy);
    else entry.rows.push(checkRow(o, where(i + 1)));
  }
  return entry;
}

/** The complete record after a tear in `line`, if there is one. */
function untorn(line: string): unknown {
  for (const start of ['{"t":', '{"commit":', '{"undoneBy":']) {
    for (let at = line.indexOf(start, 1); at > 0; at = line.indexOf(start, at + 1)) {
      try {
        return JSON.parse(line.slice(at));
      } catch {
        /* not there: try further on */
      }
    }
  }
  return undefined;
}
