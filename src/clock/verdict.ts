/**
 * `clock-check`: ask several NTP servers at once, combine their answers, and say what the local
 * (and optionally the database) clock error means for TOTP and Duo.
 *
 * Sign convention, everywhere: an offset is what must be added to that clock to get the right time,
 * as NTP defines it. Positive = the clock is behind, negative = ahead.
 */
import { UsageError } from '../errors.js';
import { createLocalClock, type LocalClock } from './ntp-time.js';
import { DEFAULT_SERVERS, parseServerSpec } from './servers.js';
import { DEFAULT_SAMPLES, DEFAULT_TIMEOUT_MS, querySntp, type ServerResult } from './sntp.js';
import { DUO_LEEWAY_SECONDS, duoVerdict, totpVerdict, type DuoVerdict, type TotpVerdict } from './windows.js';

export { DEFAULT_SERVERS, parseServerSpec } from './servers.js';

export const STATUS = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const;
type ClockStatus = (typeof STATUS)[keyof typeof STATUS];
const STATUS_NAMES: Record<ClockStatus, 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN'> = {
  0: 'OK',
  1: 'WARNING',
  2: 'CRITICAL',
  3: 'UNKNOWN',
};

const DEFAULT_WARNING_SECONDS = 5;
const DEFAULT_CRITICAL_SECONDS = 15;
/** Valid servers further apart than this cannot all be right. */
const DISAGREEMENT_SECONDS = 1;

interface ClockCheckOptions {
  /** "host", "host:port", "[v6]:port". Default: pool.ntp.org, time.cloudflare.com, time.google.com. */
  servers?: string[];
  samples?: number;
  /** Bounds the whole run: DNS, every server and the database clock. Default 5000. */
  timeoutMs?: number;
  /** |offset| above this (seconds) → WARNING. Default 5. */
  warning?: number;
  /** |offset| above this (seconds) → CRITICAL. Default 15. */
  critical?: number;
  /** With no usable server, report UNKNOWN instead of CRITICAL. */
  unknownIfUnreachable?: boolean;
  /**
   * Reads the database server's clock as Unix seconds (float). Sub-second precision matters:
   * use e.g. `UNIX_TIMESTAMP(NOW(6))`, since plain NOW() truncates to whole seconds (clock-check
   * itself uses DB_CLOCK_SQL in db-clock.ts, which also avoids time-zone conversion).
   */
  dbClock?: () => Promise<number>;
  /**
   * Opens the database connection before `dbClock` is called, within the same time budget: connecting
   * takes far longer than a query, and counted into the round trip it would blur the reading.
   */
  dbConnect?: () => Promise<void>;
  signal?: AbortSignal;
}

/** Raw database clock reading, before it is related to NTP time. */
export type DatabaseReading =
  | { ok: true; /** DB clock minus local clock, seconds. */ dbMinusLocal: number; roundTrip: number }
  | { ok: false; error: string };

interface DatabaseClock {
  /** Seconds to add to the database clock to get the right time; null when it could not be read. */
  offset: number | null;
  /** What the database clock was compared with: NTP-corrected time, or the bare local clock. */
  reference: 'ntp' | 'local-clock' | null;
  /** Query round trip, seconds: the reading is uncertain by up to half of it. */
  roundTrip: number | null;
  error: string | null;
}

export interface ClockReport {
  checkedAt: string;
  servers: ServerResult[];
  /** Servers that gave usable time. */
  validServers: number;
  /** Median offset of the valid servers, seconds; null when none answered usefully. */
  offset: number | null;
  /** Median round-trip delay of the valid servers, seconds. */
  delay: number | null;
  /** max − min of the valid offsets, seconds. */
  spread: number | null;
  /** True when valid servers are more than 1 s apart: at least one of them is wrong. */
  disagree: boolean;
  totpMarginSeconds: number | null;
  totpVerdict: TotpVerdict | null;
  duoLeewaySeconds: number;
  duoVerdict: DuoVerdict | null;
  database?: DatabaseClock;
  thresholds: { warning: number; critical: number };
  status: ClockStatus;
  statusName: (typeof STATUS_NAMES)[ClockStatus];
  /** One line for humans, without the status word. */
  summary: string;
  /** Extra observations (disagreement, leap smearing, per-server problems). */
  notes: string[];
}

interface VerdictOptions {
  warning: number;
  critical: number;
  unknownIfUnreachable: boolean;
}

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Nagios semantics: a value equal to the threshold is still fine; strictly above alarms. */
export function thresholdStatus(offset: number, warning: number, critical: number): ClockStatus {
  const abs = Math.abs(offset);
  if (abs > critical) return STATUS.CRITICAL;
  if (abs > warning) return STATUS.WARNING;
  return STATUS.OK;
}

/** Severity order for combining: OK < UNKNOWN < WARNING < CRITICAL. */
const SEVERITY: Record<ClockStatus, number> = { 0: 0, 3: 1, 1: 2, 2: 3 };

export function worstStatus(...statuses: ClockStatus[]): ClockStatus {
  return statuses.reduce<ClockStatus>((a, b) => (SEVERITY[b] > SEVERITY[a] ? b : a), STATUS.OK);
}

/** "+0.012 s" / "−1.500 s" style, always signed. */
export function signedSeconds(value: number, digits = 3): string {
  const fixed = Math.abs(value).toFixed(digits);
  return `${value < 0 && Number(fixed) !== 0 ? '-' : '+'}${fixed} s`;
}

function describeClock(name: string, offset: number, against: string): string {
  const abs = Math.abs(offset).toFixed(3);
  if (Number(abs) === 0) return `${name} matches ${against}`;
  return `${name} ${abs} s ${offset > 0 ? 'behind' : 'ahead of'} ${against}`;
}

export function validateOptions(o: { samples?: number; timeoutMs?: number; warning?: number; critical?: number }): void {
  if (o.samples !== undefined && (!Number.isInteger(o.samples) || o.samples < 1 || o.samples > 32)) {
    throw new UsageError(`samples must be a whole number from 1 to 32, got ${o.samples}`);
  }
  if (o.timeoutMs !== undefined && (!Number.isFinite(o.timeoutMs) || o.timeoutMs <= 0)) {
    throw new UsageError(`timeout must be a positive number of milliseconds, got ${o.timeoutMs}`);
  }
  const w = o.warning ?? DEFAULT_WARNING_SECONDS;
  const c = o.critical ?? DEFAULT_CRITICAL_SECONDS;
  if (!Number.isFinite(w) || w < 0 || !Number.isFinite(c) || c < 0) {
    throw new UsageError(`warning and critical must be non-negative seconds, got ${w} and ${c}`);
  }
  if (w > c) throw new UsageError(`warning (${w} s) must not exceed critical (${c} s)`);
}

/** Pure: turns per-server results (and a database reading) into the report. */
export function buildClockReport(
  servers: ServerResult[],
  options: VerdictOptions,
  dbReading?: DatabaseReading,
  checkedAt: Date = new Date(),
): ClockReport {
  const { warning, critical, unknownIfUnreachable } = options;
  const valid = servers.filter((s) => !s.error && s.offset !== null);
  const offsets = valid.map((s) => s.offset as number);
  const offset = median(offsets);
  const delay = median(valid.map((s) => s.delay as number));
  const spread = offsets.length > 0 ? Math.max(...offsets) - Math.min(...offsets) : null;
  const disagree = spread !== null && spread > DISAGREEMENT_SECONDS;
  const notes: string[] = [];

  let status: ClockStatus;
  if (offset === null) status = unknownIfUnreachable ? STATUS.UNKNOWN : STATUS.CRITICAL;
  else status = thresholdStatus(offset, warning, critical);

  const totp = offset === null ? null : totpVerdict(offset);
  const duo = offset === null ? null : duoVerdict(offset);
  // Thresholds are for early warning; a clock at which no TOTP code can work is an outage whatever they say.
  if (totp?.level === 'fails' && status !== STATUS.CRITICAL) {
    status = STATUS.CRITICAL;
    notes.push(
      `CRITICAL although the critical threshold is ${critical} s: at ${Math.abs(offset as number).toFixed(1)} s off, every TOTP code fails`,
    );
  }

  let database: DatabaseClock | undefined;
  if (dbReading) {
    if (dbReading.ok) {
      // db − local was measured directly; adding the local clock's own correction relates it to NTP.
      const dbOffset = (offset ?? 0) - dbReading.dbMinusLocal;
      database = {
        offset: dbOffset,
        reference: offset === null ? 'local-clock' : 'ntp',
        roundTrip: dbReading.roundTrip,
        error: null,
      };
      status = worstStatus(status, thresholdStatus(dbOffset, warning, critical));
      if (offset === null) notes.push('database clock compared with the local clock only: no NTP server gave usable time');
    } else {
      database = { offset: null, reference: null, roundTrip: null, error: dbReading.error };
      // The check was asked for and could not be done: that is not OK, but says nothing about time.
      status = worstStatus(status, STATUS.UNKNOWN);
    }
  }

  if (disagree) {
    const list = valid.map((s) => `${s.host} ${signedSeconds(s.offset as number)}`).join(', ');
    notes.push(`servers disagree by ${(spread as number).toFixed(3)} s (${list}); the median outvotes a single bad one only when at least three answer`);
  }
  for (const s of servers) {
    if (s.error) notes.push(s.error.message);
    for (const n of s.notes) notes.push(`${s.host}: ${n}`);
  }

  const parts: string[] = [];
  if (offset === null) {
    parts.push(`no NTP server gave usable time (${servers.map((s) => `${s.host}: ${s.error?.kind ?? 'no answer'}`).join(', ')})`);
  } else {
    parts.push(`${describeClock('local clock', offset, 'NTP time')} (median of ${valid.length} of ${servers.length} servers)`);
    if (disagree) parts.push(`servers disagree by ${(spread as number).toFixed(1)} s`);
    parts.push(`TOTP ${totp!.words}`);
    if (duo!.level !== 'ok') parts.push(duo!.words);
  }
  if (database) {
    if (database.offset !== null) {
      parts.push(describeClock('database clock', database.offset, database.reference === 'ntp' ? 'NTP time' : 'the local clock'));
    } else {
      parts.push(`database clock unreadable: ${database.error}`);
    }
  }

  return {
    checkedAt: checkedAt.toISOString(),
    servers,
    validServers: valid.length,
    offset,
    delay,
    spread,
    disagree,
    totpMarginSeconds: totp ? totp.marginSeconds : null,
    totpVerdict: totp,
    duoLeewaySeconds: DUO_LEEWAY_SECONDS,
    duoVerdict: duo,
    ...(database ? { database } : {}),
    thresholds: { warning, critical },
    status,
    statusName: STATUS_NAMES[status],
    summary: parts.join('; '),
    notes,
  };
}

/** Database clock reads per check; like SNTP samples, the one with the least round trip counts. */
export const DB_CLOCK_READS = 3;

/**
 * Reads the database clock, each read bracketed by two local stamps: the midpoint is when the
 * database most probably read its clock, so the query round trip cancels out (to within half of it).
 * The first query on a fresh connection is often the slowest, hence several reads.
 */
export async function readDatabaseClock(
  dbClock: () => Promise<number>,
  clock: LocalClock,
  timeoutMs: number,
  connect?: () => Promise<void>,
  reads = DB_CLOCK_READS,
): Promise<DatabaseReading> {
  let timer: NodeJS.Timeout | undefined;
  let best: { dbMinusLocal: number; roundTrip: number } | null = null;
  try {
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the database did not report its time within ${+(timeoutMs / 1000).toFixed(3)} s`)),
        Math.max(0, timeoutMs),
      );
    });
    if (connect) await Promise.race([connect(), expired]);
    for (let i = 0; i < Math.max(1, reads); i++) {
      const before = clock();
      const value = await Promise.race([dbClock(), expired]);
      const after = clock();
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        return { ok: false, error: `the database returned ${String(value)} instead of a Unix time` };
      }
      const reading = { dbMinusLocal: value - (before + after) / 2, roundTrip: after - before };
      if (!best || reading.roundTrip < best.roundTrip) best = reading;
    }
    return { ok: true, ...best! };
  } catch (err) {
    // Out of time after a good read: that read stands.
    if (best) return { ok: true, ...best };
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

export async function checkClock(options: ClockCheckOptions = {}): Promise<ClockReport> {
  validateOptions(options);
  const specs = (options.servers ?? [...DEFAULT_SERVERS]).map(parseServerSpec);
  if (specs.length === 0) throw new UsageError('no NTP server given; pass at least one');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const samples = options.samples ?? DEFAULT_SAMPLES;
  const checkedAt = new Date();
  const clock = createLocalClock();

  // Everything runs concurrently and shares one budget, so the run never takes much over timeoutMs.
  const dbPromise = options.dbClock ? readDatabaseClock(options.dbClock, clock, timeoutMs, options.dbConnect) : undefined;
  const results = await Promise.all(
    specs.map((s) => querySntp(s.host, s.port, { samples, timeoutMs, signal: options.signal, clock })),
  );
  const dbReading = await dbPromise;
  options.signal?.throwIfAborted();

  return buildClockReport(
    results,
    {
      warning: options.warning ?? DEFAULT_WARNING_SECONDS,
      critical: options.critical ?? DEFAULT_CRITICAL_SECONDS,
      unknownIfUnreachable: options.unknownIfUnreachable ?? false,
    },
    dbReading,
    checkedAt,
  );
}
