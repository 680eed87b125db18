import type { Knex } from 'knex';
import { isSqlite } from './sqlite-driver.js';
import { phpSerialize, phpUnserialize, phpTruthy } from './php-serialize.js';
import type { SerializeLimits } from './install.js';
import { moduleInfo } from '../services/catalog.js';

export type Audience = 'clients' | 'admins';
export const AUDIENCES: Audience[] = ['clients', 'admins'];
export const FLAG: Record<Audience, 'clientenabled' | 'adminenabled'> = { clients: 'clientenabled', admins: 'adminenabled' };
export const FORCE: Record<Audience, 'forceclient' | 'forceadmin'> = { clients: 'forceclient', admins: 'forceadmin' };

export type PhpArray = Record<string, unknown>;

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
}

export const SETTING = '2fasettings';

export async function readSettingsRow(
  knex: Knex,
  limits: SerializeLimits,
  opts: { forUpdate?: boolean } = {},
): Promise<SettingsRow> {
  let q = knex('tblconfiguration').where({ setting: SETTING }).orderBy('id').first('id', 'value', 'updated_at');
  if (opts.forUpdate) {
    if (isSqlite(knex)) {
      // SQLite has no FOR UPDATE, and a deferred transaction that only read cannot later upgrade to a
      // writer while another process writes (SQLITE_BUSY, no waiting). A no-op write as the first
      // statement takes the write lock now, so a concurrent run waits (busy_timeout) and then reads
      // the committed value — the same serialisation FOR UPDATE gives on MySQL.
      await knex.raw('UPDATE tblconfiguration SET id = id WHERE 0');
    } else {
      q = q.forUpdate();
    }
  }
  const row = await q;
  if (!row) return { exists: false, id: null, updatedAt: null, raw: null, parsed: null, error: null };
  return {
    exists: true,
    id: Number(row.id),
    updatedAt: row.updated_at === null || row.updated_at === undefined ? null : String(row.updated_at),
    ...parseSettings(String(row.value), limits),
  };
}

export function parseSettings(raw: string, limits: SerializeLimits): { raw: string; parsed: PhpArray | null; error: string | null } {
  try {
    const v = phpUnserialize(raw, limits);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      return { raw, parsed: null, error: 'the value is not a serialized array' };
    }
    const wrong = shapeProblem(v as PhpArray);
    if (wrong) return { raw, parsed: null, error: wrong };
    return { raw, parsed: v as PhpArray, error: null };
  } catch (e) {
    return { raw, parsed: null, error: (e as Error).message };
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
 * WHMCS indexes `modules[<name>][<flag>]` and only ever writes arrays there; anything else (on PHP 8
 * a string there is a TypeError, not "off") is a damaged row, so it counts as unreadable: a change
 * must not quietly build on it.
 */
function shapeProblem(s: PhpArray): string | null {
  if (!('modules' in s)) return null;
  if (!isPhpArray(s.modules)) return `"modules" is ${phpTypeName(s.modules)}, not an array`;
  for (const [name, entry] of Object.entries(s.modules as PhpArray)) {
    if (!isPhpArray(entry)) return `"modules.${name}" is ${phpTypeName(entry)}, not an array`;
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

export function serializeSettings(s: PhpArray): string {
  return phpSerialize(s);
}
