/**
 * NTP timestamps and the local clock used to stamp T1/T4.
 *
 * An NTP timestamp is 32.32 fixed point: whole seconds since 1900-01-01 in the high word, 2^-32 s
 * fractions in the low word. The seconds word wraps every 2^32 s ("eras"); era 0 ends on
 * 2036-02-07T06:28:16Z. The era number is never on the wire, so a timestamp is resolved to the era
 * that puts it closest to local time (RFC 5905 §6) — right as long as the clocks are within 68 years.
 */

/** Seconds from 1900-01-01 (NTP epoch) to 1970-01-01 (Unix epoch). */
const NTP_UNIX_DELTA = 2_208_988_800;

/** Length of one NTP era in seconds. */
const ERA_SECONDS = 2 ** 32;

/** Unix time at which era 0 ends and era 1 begins (2036-02-07T06:28:16Z). */
export const ERA1_START_UNIX = ERA_SECONDS - NTP_UNIX_DELTA;

export interface NtpTimestamp {
  /** Whole seconds, unsigned 32-bit (era-relative). */
  seconds: number;
  /** Fraction of a second in units of 2^-32 s, unsigned 32-bit. */
  fraction: number;
}

/** Unix seconds (float) → wire timestamp, wrapping into the right era. */
export function unixToNtp(unixSeconds: number): NtpTimestamp {
  const whole = Math.floor(unixSeconds);
  let fraction = Math.round((unixSeconds - whole) * ERA_SECONDS);
  let carry = 0;
  if (fraction >= ERA_SECONDS) {
    fraction -= ERA_SECONDS;
    carry = 1;
  }
  const ntpSeconds = whole + carry + NTP_UNIX_DELTA;
  const seconds = ((ntpSeconds % ERA_SECONDS) + ERA_SECONDS) % ERA_SECONDS;
  return { seconds, fraction };
}

/**
 * Wire timestamp → Unix seconds (float), choosing the era whose value lies closest to `pivotUnix`
 * (normally local time). Without a pivot a 2036+ server time would decode as 1900.
 */
export function ntpToUnix(ts: NtpTimestamp, pivotUnix: number): number {
  const inEra0 = ts.seconds + ts.fraction / ERA_SECONDS - NTP_UNIX_DELTA;
  const era = Math.round((pivotUnix - inEra0) / ERA_SECONDS);
  return inEra0 + era * ERA_SECONDS;
}

export function readTimestamp(buf: Buffer, offset: number): NtpTimestamp {
  return { seconds: buf.readUInt32BE(offset), fraction: buf.readUInt32BE(offset + 4) };
}

export function writeTimestamp(buf: Buffer, offset: number, ts: NtpTimestamp): void {
  buf.writeUInt32BE(ts.seconds >>> 0, offset);
  buf.writeUInt32BE(ts.fraction >>> 0, offset + 4);
}

export function isZeroTimestamp(ts: NtpTimestamp): boolean {
  return ts.seconds === 0 && ts.fraction === 0;
}

/** Returns Unix time in seconds with sub-microsecond resolution. */
export type LocalClock = () => number;

/** Monotonic milliseconds (since process start). */
export function monotonicMs(): number {
  return performance.now();
}

/**
 * A monotonic clock anchored to the wall clock. `Date.now()` only has millisecond resolution, which
 * alone would put up to 1 ms of noise into T1/T4; the monotonic clock is fine-grained but relative.
 * The monotonic part keeps one exchange consistent even if something steps the system clock.
 *
 * The anchor is `performance.timeOrigin`: the wall clock in microseconds, read when the process
 * started together with the monotonic clock behind `performance.now()` (they agree with a measured
 * anchor to a few µs). NTP slewing changes the rate of both clocks alike on Linux, so the pair holds
 * until the wall clock is stepped; a step shows against `Date.now()`, which the anchored clock then
 * leads by less than 0 or by 1 ms or more (steps below 1 ms can pass unseen, and cost less).
 */
export function createLocalClock(): LocalClock {
  const origin = performance.timeOrigin;
  // Date.now() truncates to the millisecond: without a step since start this is within [0, 1).
  const lead = origin + performance.now() - Date.now();
  const anchorMs = lead > -0.05 && lead < 1.05 ? origin : measureAnchor();
  return () => (anchorMs + performance.now()) / 1000;
}

/**
 * The anchor measured instead, after a step: the instant `Date.now()` ticks over to a new
 * millisecond, bracketed by monotonic reads. A preemption inside the bracket (common on a busy
 * machine) would shift it by milliseconds, so a few edges are measured and the narrowest bracket
 * wins (up to ~3 ms of spinning, longer on a busy machine — why this is not the first choice).
 */
function measureAnchor(): number {
  let bestWidth = Infinity;
  let anchorMs = Date.now() - performance.now();
  for (let edge = 0; edge < 3 && bestWidth > 0.02; edge++) {
    let prevBefore = performance.now();
    let prevWall = Date.now();
    for (;;) {
      const before = performance.now();
      const wall = Date.now();
      const after = performance.now();
      if (wall !== prevWall) {
        // The tick fell between the previous Date.now() call and this one.
        const width = after - prevBefore;
        if (width < bestWidth) {
          bestWidth = width;
          anchorMs = wall - (prevBefore + after) / 2;
        }
        break;
      }
      prevBefore = before;
      prevWall = wall;
    }
  }
  return anchorMs;
}
