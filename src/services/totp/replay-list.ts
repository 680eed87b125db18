/**
 * WHMCS's TOTP replay list (tblconfiguration `TOTPUsedOTPs`, docs/data-model.md §6): the key it files a
 * used code under, whether a code counts as replayed, and the map WHMCS writes after a login. The
 * database side is src/whmcs/accounts/replay-cache.ts.
 */
import { createHash } from 'node:crypto';

/** Entries in `TOTPUsedOTPs` older than this are dropped, but only when WHMCS writes the map. */
const REPLAY_PRUNE_SECONDS = 300;
/** `safe_unserialize` refuses bigger arrays, and WHMCS then treats the replay list as empty. */
export const USED_OTPS_MAX_ENTRIES = 256;
/** WHMCS 7.8 replay identity (unconfirmed; see docs/data-model.md §6). */
export const LEGACY_REPLAY_IDENTITY = 'WHMCS:';

type UsedOtps = Record<string, unknown> | Map<string, unknown> | null | undefined;

/** md5 hex of identity . code, no separator — the key WHMCS stores in `TOTPUsedOTPs`. */
export function replayCacheKey(identity: string, code: string): string {
  return createHash('md5').update(`${identity}${code}`, 'utf8').digest('hex');
}

export interface ReplayCheck {
  /** WHMCS rejects the code before even checking it. */
  replayed: boolean;
  key: string;
  usedAt: number | null;
  ageSeconds: number | null;
  /**
   * The entry is older than 300 s, so the next successful TOTP login (by anyone) prunes it —
   * but until that write happens WHMCS keeps rejecting this code.
   */
  stale: boolean;
}

function entries(map: UsedOtps): Array<[string, unknown]> {
  if (!map) return [];
  return map instanceof Map ? [...map.entries()] : Object.entries(map);
}

/** WHMCS checks presence before pruning, so any entry — however old — means rejection. */
export function isReplayed(usedOtps: UsedOtps, identity: string, code: string, now: number): ReplayCheck {
  const key = replayCacheKey(identity, code);
  const hit = entries(usedOtps).find(([k]) => k === key);
  if (!hit) return { replayed: false, key, usedAt: null, ageSeconds: null, stale: false };
  const usedAt = Number(hit[1]);
  const ageSeconds = Number.isFinite(usedAt) ? now - usedAt : null;
  return {
    replayed: true,
    key,
    usedAt: Number.isFinite(usedAt) ? usedAt : null,
    ageSeconds,
    stale: ageSeconds !== null && ageSeconds > REPLAY_PRUNE_SECONDS,
  };
}

/**
 * What WHMCS writes after a successful verify: add the key, then drop entries older than 300 s.
 * Callers must not store more than USED_OTPS_MAX_ENTRIES entries.
 */
export function recordUsedOtp(usedOtps: UsedOtps, identity: string, code: string, now: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of entries(usedOtps)) out[k] = Number(v);
  out[replayCacheKey(identity, code)] = now;
  for (const [k, t] of Object.entries(out)) {
    if (!(now - t <= REPLAY_PRUNE_SECONDS)) delete out[k];
  }
  return out;
}
