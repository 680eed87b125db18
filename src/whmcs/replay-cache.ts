/**
 * WHMCS's TOTP replay list (docs/data-model.md §6): tblconfiguration `TOTPUsedOTPs`, a PHP-serialized map
 * md5(identity . code) => unix time. WHMCS rejects any code whose key is present, and on success
 * adds the key and drops entries older than 300 s. An unparseable row reads as an empty list.
 */
import type { Knex } from 'knex';
import type { Install, SerializeLimits } from './install.js';
import type { Account } from './accounts.js';
import type { RowChange } from './change.js';
import { phpSerialize, phpUnserialize } from './php-serialize.js';
import { LEGACY_REPLAY_IDENTITY, USED_OTPS_MAX_ENTRIES, recordUsedOtp } from '../services/totp.js';

export const USED_OTPS_SETTING = 'TOTPUsedOTPs';

export interface UsedOtpsRow {
  exists: boolean;
  id: number | null;
  raw: string | null;
  /** The parsed map; null when the row is absent or unreadable (WHMCS then treats it as empty). */
  map: Record<string, unknown> | null;
  /** Why the row could not be read, when it exists but does not parse as an array. */
  error: string | null;
}

export async function readUsedOtps(k: Knex | Knex.Transaction, limits: SerializeLimits, forUpdate = false): Promise<UsedOtpsRow> {
  let q = k('tblconfiguration').where({ setting: USED_OTPS_SETTING }).orderBy('id').first('id', 'value');
  if (forUpdate && k.client.config.client !== 'better-sqlite3') q = q.forUpdate();
  const row = (await q) as { id: number; value: unknown } | undefined;
  if (!row) return { exists: false, id: null, raw: null, map: null, error: null };
  const raw = row.value === null || row.value === undefined ? '' : String(row.value);
  try {
    const v = phpUnserialize(raw, limits);
    if (v && typeof v === 'object' && !Array.isArray(v)) return { exists: true, id: Number(row.id), raw, map: v as Record<string, unknown>, error: null };
    return { exists: true, id: Number(row.id), raw, map: null, error: 'the value is not a serialized array' };
  } catch (e) {
    return { exists: true, id: Number(row.id), raw, map: null, error: (e as Error).message };
  }
}

export interface ReplayIdentity {
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

/** The row change that stores `next`: update by id when the row exists, else insert it. */
export function usedOtpsRowChange(row: UsedOtpsRow, next: Record<string, number>, now: string): RowChange {
  const value = phpSerialize(next);
  if (row.exists && row.id !== null) {
    return { t: 'tblconfiguration', k: { id: row.id }, b: { value: row.raw }, a: { value, updated_at: now }, s: 1 };
  }
  return { t: 'tblconfiguration', k: { setting: USED_OTPS_SETTING }, b: null, a: { value, created_at: now, updated_at: now }, s: 1 };
}
