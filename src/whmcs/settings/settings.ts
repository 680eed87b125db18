import type { Knex } from 'knex';
import { holdSqliteWriteLock, isSqlite } from '../connection/sqlite-driver.js';
import { codecForCharset, phpSerialize, phpTruthy, phpUnserializePrefix, UTF8_CODEC, type PhpCodec } from '../php/php-serialize.js';
import { phpTree, serializeLike, type PhpNode } from '../php/php-tree.js';
import type { SerializeLimits } from '../connection/install.js';
import { moduleInfo } from '../../services/catalog.js';

export type Audience = 'clients' | 'admins';
export const AUDIENCES: Audience[] = ['clients', 'admins'];
export const FLAG: Record<Audience, 'clientenabled' | 'adminenabled'> = { clients: 'clientenabled', admins: 'adminenabled' };
const FORCE: Record<Audience, 'forceclient' | 'forceadmin'> = { clients: 'forceclient', admins: 'forceadmin' };

export type PhpArray = Record<string, unknown>;

/** One more `2fasettings` row (7.x has no unique key on tblconfiguration.setting). */
interface DuplicateSettingsRow {
  id: number;
  raw: string;
  updatedAt: string | null;
}

/** The `2fasettings` row as found: raw bytes, and the parsed array or why it could not be parsed. */
export interface SettingsRow {
  exists: boolean;
  /** tblconfiguration.id of the row read (null when absent): writes are keyed by it. */
  id?: number | null;
  /** The row's updated_at exactly as stored, for compare-and-set and a byte-exact undo. */
  updatedAt?: string | null;
  raw: string | null;
  parsed: PhpArray | null;
  error: string | null;
  /** Readable, but not as WHMCS writes it (trailing bytes, a module entry that is not an array…). */
  oddities: string[];
  /** The parsed value's byte spans: untouched parts are written back as they were. */
  tree: PhpNode | null;
  /** How the connection's bytes map to text (latin1 installs count other bytes than utf8 ones). */
  codec: PhpCodec;
  /**
   * The other rows of that name, oldest first. WHMCS loads every setting and the last row wins, so
   * the row read above is the newest; its own save updates all of them, and so does whmcs-2fa.
   */
  duplicates: DuplicateSettingsRow[];
}

export const SETTING = '2fasettings';

/** The codec for this database connection's charset (`$mysql_charset`). */
function codecOf(db: { charset?: string; dialect: string }): PhpCodec {
  return db.dialect === 'mysql' ? codecForCharset(db.charset) : UTF8_CODEC;
}

/**
 * How a read inside a change holds the row until it commits. `update`: the change writes the row
 * (FOR UPDATE on MySQL). `share`: a guard's read, which only has to keep writers out (LOCK IN SHARE
 * MODE). SQLite has one lock that keeps writers out, the database's write lock, and takes it for both.
 */
export type SettingsLock = 'update' | 'share' | false;

/**
 * The `2fasettings` row as WHMCS reads it — the one reader of it: every caller gets the
 * connection's charset (how PHP counted the bytes) and the install's unserialize limits from the
 * session, and the same lock on both databases. `k` is the transaction to read in (default: no
 * transaction).
 */
export async function readSettingsRow(
  session: { db: { knex: Knex; charset?: string; dialect: string }; limits: SerializeLimits },
  k: Knex | Knex.Transaction = session.db.knex,
  lock: SettingsLock = false,
): Promise<SettingsRow> {
  const codec = codecOf(session.db);
  let q = k('tblconfiguration').where({ setting: SETTING }).orderBy('id').select('id', 'value', 'updated_at');
  if (lock && isSqlite(k)) await holdSqliteWriteLock(k);
  else if (lock === 'update') q = q.forUpdate();
  else if (lock === 'share') q = q.forShare();
  const rows = (await q) as Array<{ id: unknown; value: unknown; updated_at: unknown }>;
  const at = (v: unknown) => (v === null || v === undefined ? null : String(v));
  const row = rows[rows.length - 1];
  if (!row) return { exists: false, id: null, updatedAt: null, raw: null, parsed: null, error: null, oddities: [], tree: null, codec, duplicates: [] };
  return {
    exists: true,
    id: Number(row.id),
    updatedAt: at(row.updated_at),
    ...parseSettings(String(row.value ?? ''), session.limits, codec),
    codec,
    duplicates: rows.slice(0, -1).map((r) => ({ id: Number(r.id), raw: String(r.value ?? ''), updatedAt: at(r.updated_at) })),
  };
}

interface ParsedSettings {
  raw: string;
  parsed: PhpArray | null;
  error: string | null;
  oddities: string[];
  tree: PhpNode | null;
}

/**
 * Reads the value as WHMCS does, but leniently where PHP is: bytes after a complete value are
 * ignored (PHP's unserialize() does; they are named in `oddities`), and a module entry that is not
 * an array is kept and counts as "no flags" instead of spoiling the whole row.
 */
export function parseSettings(raw: string, limits: SerializeLimits, codec: PhpCodec = UTF8_CODEC): ParsedSettings {
  try {
    const buf = codec.encode(raw);
    const { value: v, end, length } = phpUnserializePrefix(buf, limits, codec);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      return { raw, parsed: null, error: 'the value is not a serialized array', oddities: [], tree: null };
    }
    const oddities = shapeOddities(v as PhpArray);
    if (end < length) {
      oddities.unshift(
        `${length - end} byte${length - end === 1 ? '' : 's'} after the serialized value (PHP's unserialize() ignores them; WHMCS's stricter reader may not) — the next change writes the row without them`,
      );
    }
    const tree = phpTree(buf.subarray(0, end), { codec }).root;
    return { raw, parsed: v as PhpArray, error: null, oddities, tree };
  } catch (e) {
    return { raw, parsed: null, error: (e as Error).message, oddities: [], tree: null };
  }
}

const isPhpArray = (v: unknown): boolean => v !== null && typeof v === 'object' && !Array.isArray(v);

function phpTypeName(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'boolean') return 'a boolean';
  if (typeof v === 'number' || typeof v === 'bigint') return Number.isInteger(Number(v)) ? 'an integer' : 'a float';
  return 'not an array';
}

/**
 * Shapes WHMCS never writes but that still read: "modules" or a module entry that is not an array.
 * WHMCS's flag checks are truthiness tests, which find no flag in a string or number, so such an
 * entry counts as "not enabled"; changes leave it as it is, byte for byte.
 */
function shapeOddities(s: PhpArray): string[] {
  if (!('modules' in s)) return [];
  if (!isPhpArray(s.modules)) return [`"modules" is ${phpTypeName(s.modules)}, not an array: WHMCS sees no security module enabled`];
  const out: string[] = [];
  for (const [name, entry] of Object.entries(s.modules as PhpArray)) {
    if (!isPhpArray(entry)) out.push(`"modules.${name}" is ${phpTypeName(entry)}, not an array: WHMCS finds no flags in it, so ${name} counts as not enabled — changes keep it as it is`);
  }
  return out;
}

/** Whether a change to module `name` would have to replace a value that is not an array. */
export function nonArrayModule(s: PhpArray, name?: string): string | null {
  if ('modules' in s && !isPhpArray(s.modules)) return `"modules" is ${phpTypeName(s.modules)}`;
  if (name !== undefined && isPhpArray(s.modules) && name in (s.modules as PhpArray) && !isPhpArray((s.modules as PhpArray)[name])) {
    return `"modules.${name}" is ${phpTypeName((s.modules as PhpArray)[name])}`;
  }
  return null;
}

export function modulesOf(s: PhpArray | null): Record<string, PhpArray> {
  const m = s?.modules;
  if (!m || typeof m !== 'object' || Array.isArray(m)) return {};
  const out: Record<string, PhpArray> = {};
  for (const [k, v] of Object.entries(m as PhpArray)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) ? (v as PhpArray) : {};
  }
  return out;
}

/** PHP truthiness, as WHMCS reads the flags (`"on"`, `"1"`, 1 → on; `""`, `"0"`, missing → off). */
export function isEnabled(s: PhpArray | null, module: string, audience: Audience): boolean {
  return phpTruthy(modulesOf(s)[module]?.[FLAG[audience]]);
}

export function isForced(s: PhpArray | null, audience: Audience): boolean {
  return phpTruthy(s?.[FORCE[audience]]);
}

/** isActiveAdmins()/isActiveClients(): any module enabled for the audience. */
export function anyEnabled(s: PhpArray | null, audience: Audience): boolean {
  return Object.keys(modulesOf(s)).some((m) => isEnabled(s, m, audience));
}

export function enabledModules(s: PhpArray | null, audience: Audience): string[] {
  return Object.keys(modulesOf(s)).filter((m) => isEnabled(s, m, audience));
}

/** A fresh settings array as WHMCS would create it when the row is missing. */
export function emptySettings(): PhpArray {
  return { modules: {}, forceclient: 0, forceadmin: 0 };
}

/**
 * Returns a copy with the given module fields/flags set. Existing keys keep their positions; a new
 * module entry gets its declared config fields first, then clientenabled, then adminenabled — the
 * order WHMCS writes on first save. Flags are written as int 0/1, like WHMCS's `(int)(bool)`.
 */
export function withModule(s: PhpArray, module: string, patch: PhpArray): PhpArray {
  const next = structuredClone(s);
  if (!next.modules || typeof next.modules !== 'object' || Array.isArray(next.modules)) next.modules = {};
  const modules = next.modules as PhpArray;
  let entry = modules[module] as PhpArray | undefined;
  if (!entry || typeof entry !== 'object') {
    entry = {};
    for (const f of moduleInfo(module)?.fields ?? []) if (f.key in patch) entry[f.key] = patch[f.key];
    entry.clientenabled = 0;
    entry.adminenabled = 0;
    modules[module] = entry;
  }
  for (const [k, v] of Object.entries(patch)) entry[k] = v;
  return next;
}

export function withForce(s: PhpArray, audience: Audience, on: boolean): PhpArray {
  const next = structuredClone(s);
  next[FORCE[audience]] = on ? 1 : 0;
  return next;
}

/**
 * The value to store: `s` serialized as WHMCS would, with every part that did not change copied
 * byte for byte from the row it came from (`from`: PHP types such as `d:1;`, key order including
 * integer keys, text exactly as the connection's charset holds it).
 */
export function serializeSettings(s: PhpArray, from?: { raw: string | null; tree: PhpNode | null; codec: PhpCodec } | null): string {
  const codec = from?.codec ?? UTF8_CODEC;
  if (!from?.tree || from.raw === null) return phpSerialize(s, codec);
  return serializeLike(s, { buf: codec.encode(from.raw), root: from.tree }, codec);
}
