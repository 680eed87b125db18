/**
 * WHMCS's TOTP replay list (docs/data-model.md §6): tblconfiguration `TOTPUsedOTPs`, a PHP-serialized map
 * md5(identity . code) => unix time. WHMCS rejects any code whose key is present, and on success
 * adds the key and drops entries older than 300 s. An unparseable row reads as an empty list.
 */
import type { Knex } from 'knex';
import { isSqlite } from '../connection/sqlite-driver.js';
import type { Install, SerializeLimits } from '../connection/install.js';
import type { Account } from './find-account.js';
import type { RowChange } from '../changes/change.js';
import { phpSerialize, phpUnserialize } from '../php/php-serialize.js';
import { LEGACY_REPLAY_IDENTITY, USED_OTPS_MAX_ENTRIES, recordUsedOtp } from '../../services/totp/replay-list.js';

const USED_OTPS_SETTING = 'TOTPUsedOTPs';

interface UsedOtpsRow {
  exists: boolean;
  id: number | null;
  raw: string | null;
  /** The parsed map; null when the row is absent or unreadable (WHMCS then treats it as empty). */
  map: Record<string, unknown> | null;
  /** Why the row could not be read, when it exists but does not parse as an array. */
  error: string | null;
  /** Older rows of the same name (7.x has no unique key): WHMCS reads the last, saves all. */
  duplicates?: Array<{ id: number; raw: string }>;
}

export async function readUsedOtps(k: Knex | Knex.Transaction, limits: SerializeLimits, forUpdate = false): Promise<UsedOtpsRow> {
  let q = k('tblconfiguration').where({ setting: USED_OTPS_SETTING }).orderBy('id').select('id', 'value');
  if (forUpdate && !isSqlite(k)) q = q.forUpdate();
  const rows = (await q) as Array<{ id: number; value: unknown }>;
  const text = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  // WHMCS loads every setting and the last row of a name wins.
  const row = rows[rows.length - 1];
  if (!row) return { exists: false, id: null, raw: null, map: null, error: null };
  const raw = text(row.value);
  const duplicates = rows.slice(0, -1).map((r) => ({ id: Number(r.id), raw: text(r.value) }));
  try {
    const v = phpUnserialize(raw, limits);
    if (v && typeof v === 'object' && !Array.isArray(v)) return { exists: true, id: Number(row.id), raw, map: v as Record<string, unknown>, error: null, duplicates };
    return { exists: true, id: Number(row.id), raw, map: null, error: 'the value is not a serialized array', duplicates };
  } catch (e) {
    return { exists: true, id: Number(row.id), raw, map: null, error: (e as Error).message, duplicates };
  }
}

interface ReplayIdentity {
  identity: string;
  /** False for 7.x, whose identity ("WHMCS:") is not confirmed. */
  confirmed: boolean;
}

/**
 * Whose codes a key belongs to: the account's email on 8.x (admins and users alike); the constant
 * "WHMCS:" on 7.x, where the replay list is effectively global per code value (unconfirmed).
 */
export function replayIdentity(install: Install, account: Account): ReplayIdentity {
  if (install.shape === '7') return { identity: LEGACY_REPLAY_IDENTITY, confirmed: false };
  return { identity: account.email, confirmed: true };
}

/**
 * The map after recording one more code, as totp_add_to_used_codes does (add, prune > 300 s), and
 * kept within safe_unserialize's 256-element limit by dropping the oldest entries: a bigger list
 * would fail to parse and WHMCS would silently forget every used code.
 */
export function withUsedCode(map: Record<string, unknown> | null, identity: string, code: string, now: number): { map: Record<string, number>; pruned: number } {
  const before = map ? Object.keys(map).length : 0;
  let next = recordUsedOtp(map, identity, code, now);
  const keys = Object.keys(next);
  if (keys.length > USED_OTPS_MAX_ENTRIES) {
    const keep = new Set(
      keys
        .sort((a, b) => next[b]! - next[a]!)
        .slice(0, USED_OTPS_MAX_ENTRIES),
    );
    next = Object.fromEntries(Object.entries(next).filter(([k]) => keep.has(k)));
  }
  return { map: next, pruned: Math.max(0, before + 1 - Object.keys(next).length) };
}

/** The row changes that store `next`: update every row of the name by id when it exists, else insert it. */
export function usedOtpsRowChanges(row: UsedOtpsRow, next: Record<string, number>, now: string): RowChange[] {
  const value = phpSerialize(next);
  if (row.exists && row.id !== null) {
    return [...(row.duplicates ?? []), { id: row.id, raw: row.raw }].map((r) => ({ table: 'tblconfiguration', key: { id: r.id }, before: { value: r.raw }, after: { value, updated_at: now }, soft: true as const }));
  }
  return [{ table: 'tblconfiguration', key: { setting: USED_OTPS_SETTING }, before: null, after: { value, created_at: now, updated_at: now }, soft: true }];
}
