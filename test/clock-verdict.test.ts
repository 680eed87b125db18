import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { formatNagios } from '../src/clock/nagios.js';
import type { ServerResult } from '../src/clock/sntp.js';
import {
  STATUS,
  buildClockReport,
  checkClock,
  median,
  thresholdStatus,
  validateOptions,
  worstStatus,
  type DatabaseReading,
} from '../src/clock/verdict.js';
import { duoVerdict, formatMargin, totpFailingShare, totpVerdict } from '../src/clock/windows.js';

function server(host: string, offset: number | null, extra: Partial<ServerResult> = {}): ServerResult {
  return {
    host,
    port: 123,
    address: '192.0.2.1',
    stratum: offset === null ? null : 2,
    leap: offset === null ? null : 0,
    refid: offset === null ? null : '192.0.2.9',
    offset,
    delay: offset === null ? null : 0.02,
    rootDelay: null,
    rootDispersion: null,
    samples: offset === null ? 0 : 4,
    sent: 4,
    ignored: { malformed: 0, wrongOrigin: 0, stale: 0 },
    notes: [],
    ...(offset === null ? { error: { kind: 'timeout' as const, message: `no answer from ${host} within 5 s — is UDP port 123 blocked?` } } : {}),
    ...extra,
  };
}

const opts = { warning: 5, critical: 15, unknownIfUnreachable: false };

describe('median and thresholds', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([])).toBeNull();
    expect(median([3])).toBe(3);
    expect(median([5, -1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('alarms strictly above the threshold, on the absolute offset', () => {
    expect(thresholdStatus(5, 5, 15)).toBe(STATUS.OK);
    expect(thresholdStatus(5.001, 5, 15)).toBe(STATUS.WARNING);
    expect(thresholdStatus(-5.001, 5, 15)).toBe(STATUS.WARNING);
    expect(thresholdStatus(15, 5, 15)).toBe(STATUS.WARNING);
    expect(thresholdStatus(-15.5, 5, 15)).toBe(STATUS.CRITICAL);
  });

  it('combines statuses by severity: CRITICAL > WARNING > UNKNOWN > OK', () => {
    expect(worstStatus(STATUS.OK, STATUS.UNKNOWN)).toBe(STATUS.UNKNOWN);
    expect(worstStatus(STATUS.UNKNOWN, STATUS.WARNING)).toBe(STATUS.WARNING);
    expect(worstStatus(STATUS.CRITICAL, STATUS.UNKNOWN)).toBe(STATUS.CRITICAL);
  });

  it('validates options', () => {
    expect(() => validateOptions({ warning: 20, critical: 10 })).toThrow(UsageError);
    expect(() => validateOptions({ samples: 0 })).toThrow(UsageError);
    expect(() => validateOptions({ timeoutMs: -1 })).toThrow(UsageError);
    expect(() => validateOptions({ warning: 1, critical: 2, samples: 8, timeoutMs: 100 })).not.toThrow();
  });

  it('checkClock refuses bad server specs before sending anything', async () => {
    await expect(checkClock({ servers: ['host:99999'] })).rejects.toThrow(UsageError);
    await expect(checkClock({ servers: [] })).rejects.toThrow(UsageError);
  });
});

describe('TOTP window (current step ±1 of 30 s)', () => {
  /**
   * Brute force over the phase at which a correctly-set phone shows its code: the server, `e`
   * seconds ahead, accepts the code if its own step is within one of the phone's step.
   */
  function simulatedFailingShare(e: number): number {
    let fail = 0;
    const n = 3000;
    for (let i = 0; i < n; i++) {
      const phoneTime = 1_700_000_010 + (i * 30) / n; // one whole step, evenly sampled
      const phoneStep = Math.floor(phoneTime / 30);
      const serverStep = Math.floor((phoneTime + e) / 30);
      if (Math.abs(serverStep - phoneStep) > 1) fail++;
    }
    return fail / n;
  }

  it('matches a brute-force simulation of WHMCS accepting steps n−1..n+1', () => {
    for (const e of [0, 10, 29.5, 30, 31, 40, 45, 52.5, 59, 60, 61, 90, -10, -29.5, -35, -45, -59, -60, -120]) {
      expect(totpFailingShare(e)).toBeCloseTo(simulatedFailingShare(e), 2);
      expect(totpFailingShare(-e)).toBeCloseTo(simulatedFailingShare(e), 2);
    }
  });

  it('below 30 s codes keep working; 30–60 s intermittent; 60 s and more always fail', () => {
    expect(totpVerdict(0.012)).toMatchObject({ level: 'ok', failingShare: 0 });
    expect(totpVerdict(0.012).marginSeconds).toBeCloseTo(29.988, 6);
    expect(totpVerdict(0.012).words).toMatch(/^codes keep working/);
    expect(totpVerdict(-25).words).toMatch(/little room left/);
    expect(totpVerdict(30)).toMatchObject({ level: 'ok', marginSeconds: 0 });
    expect(totpVerdict(45)).toMatchObject({ level: 'intermittent', failingShare: 0.5, marginSeconds: -15 });
    expect(totpVerdict(-45).words).toMatch(/fail intermittently: about 50% are rejected/);
    expect(totpVerdict(60)).toMatchObject({ level: 'fails', failingShare: 1 });
    expect(totpVerdict(-90).words).toMatch(/^codes always fail/);
  });

  it('rounds margins down for display', () => {
    expect(formatMargin(29.988)).toBe('29.9');
    expect(formatMargin(30)).toBe('30.0');
    expect(formatMargin(0.3)).toBe('0.3');
    expect(formatMargin(-60)).toBe('-60.0');
    expect(formatMargin(-15.04)).toBe('-15.1');
  });

  it('Duo tolerates 60 s', () => {
    expect(duoVerdict(60)).toMatchObject({ level: 'ok', leewaySeconds: 60, marginSeconds: 0 });
    expect(duoVerdict(-60.5)).toMatchObject({ level: 'at-risk' });
  });
});

describe('buildClockReport', () => {
  it('takes the median of valid servers and maps it to OK', () => {
    const r = buildClockReport([server('a', 0.012), server('b', 0.02), server('c', -0.004)], opts);
    expect(r.offset).toBe(0.012);
    expect(r.validServers).toBe(3);
    expect(r.status).toBe(STATUS.OK);
    expect(r.statusName).toBe('OK');
    expect(r.disagree).toBe(false);
    expect(r.spread).toBeCloseTo(0.024, 9);
    expect(r.totpMarginSeconds).toBeCloseTo(29.988, 9);
    expect(r.totpVerdict?.level).toBe('ok');
    expect(r.duoLeewaySeconds).toBe(60);
    expect(r.summary).toBe(
      'local clock 0.012 s behind NTP time (median of 3 of 3 servers); TOTP codes keep working (29.9 s margin within the ±30 s window)',
    );
  });

  it('ignores failed servers and reports thresholds', () => {
    expect(buildClockReport([server('a', 7), server('b', null)], opts).status).toBe(STATUS.WARNING);
    const crit = buildClockReport([server('a', -20)], opts);
    expect(crit.status).toBe(STATUS.CRITICAL);
    expect(crit.summary).toMatch(/^local clock 20\.000 s ahead of NTP time/);
  });

  it('flags disagreement above 1 s and says so', () => {
    const r = buildClockReport([server('a', 0.01), server('b', 0.02), server('c', 90)], opts);
    expect(r.disagree).toBe(true);
    expect(r.offset).toBe(0.02);
    expect(r.status).toBe(STATUS.OK);
    expect(r.summary).toMatch(/servers disagree by 90\.0 s/);
    expect(r.notes.join('\n')).toMatch(/servers disagree by 89\.990 s \(a \+0\.010 s, b \+0\.020 s, c \+90\.000 s\)/);
    expect(buildClockReport([server('a', 0), server('b', 1)], opts).disagree).toBe(false);
  });

  it('no valid server: CRITICAL, or UNKNOWN when asked', () => {
    const none = [server('a', null), server('b', null, { error: { kind: 'dns', message: 'DNS lookup of b failed' } })];
    const r = buildClockReport(none, opts);
    expect(r.status).toBe(STATUS.CRITICAL);
    expect(r.offset).toBeNull();
    expect(r.totpVerdict).toBeNull();
    expect(r.summary).toBe('no NTP server gave usable time (a: timeout, b: dns)');
    expect(buildClockReport(none, { ...opts, unknownIfUnreachable: true }).status).toBe(STATUS.UNKNOWN);
  });

  it('relates the database clock to NTP time and counts it toward the thresholds', () => {
    // Local clock 2 s behind (offset +2); the database reads 20 s less than the local clock,
    // so it is 22 s behind true time.
    const db: DatabaseReading = { ok: true, dbMinusLocal: -20, roundTrip: 0.001 };
    const r = buildClockReport([server('a', 2)], opts, db);
    expect(r.database).toEqual({ offset: 22, reference: 'ntp', roundTrip: 0.001, error: null });
    expect(r.status).toBe(STATUS.CRITICAL);
    expect(r.summary).toMatch(/database clock 22\.000 s behind NTP time$/);
    // The database running exactly on the local clock, with the local clock 2 s behind.
    expect(buildClockReport([server('a', 2)], opts, { ok: true, dbMinusLocal: 0, roundTrip: 0 }).database?.offset).toBe(2);
    // Database on true time while local is 2 s behind.
    expect(buildClockReport([server('a', 2)], opts, { ok: true, dbMinusLocal: 2, roundTrip: 0 }).database?.offset).toBe(0);
  });

  it('a database clock that cannot be read makes an otherwise OK check UNKNOWN', () => {
    const r = buildClockReport([server('a', 0)], opts, { ok: false, error: 'connection refused' });
    expect(r.status).toBe(STATUS.UNKNOWN);
    expect(r.database).toMatchObject({ offset: null, error: 'connection refused' });
    expect(buildClockReport([server('a', 30)], opts, { ok: false, error: 'x' }).status).toBe(STATUS.CRITICAL);
  });

  it('without NTP the database is compared with the local clock', () => {
    const r = buildClockReport([server('a', null)], { ...opts, unknownIfUnreachable: true }, { ok: true, dbMinusLocal: 1, roundTrip: 0 });
    expect(r.database).toMatchObject({ offset: -1, reference: 'local-clock' });
    expect(r.status).toBe(STATUS.UNKNOWN);
  });
});

describe('formatNagios', () => {
  const perfToken = /^[a-z_]+=(-?\d+(\.\d+)?|U)(s)?(;(-?\d+(\.\d+)?)?)*$/;
  const perfOf = (out: string) => out.split('\n')[0].split(' | ')[1].split(' ');

  it('formats an OK check with perfdata', () => {
    const out = formatNagios(buildClockReport([server('a', 0.012, { delay: 0.021 })], opts));
    const [head, ...long] = out.split('\n');
    expect(head).toBe('CLOCK OK - offset +0.012 s, TOTP margin 29.9 s | offset=0.012s;5;15 delay=0.021s servers=1;;;0;1');
    expect(long).toEqual(['a (192.0.2.1): offset +0.012 s, delay 0.021 s, stratum 2, refid 192.0.2.9']);
    for (const t of perfOf(out)) expect(t).toMatch(perfToken);
  });

  it('formats CRITICAL with the TOTP consequence, negative offsets and db_offset', () => {
    const r = buildClockReport([server('a', -90)], opts, { ok: true, dbMinusLocal: 0.3, roundTrip: 0.001 });
    const head = formatNagios(r).split('\n')[0];
    expect(head).toBe(
      'CLOCK CRITICAL - offset -90.000 s, TOTP margin -60.0 s (codes always fail), database offset -90.300 s | offset=-90s;5;15 delay=0.02s db_offset=-90.3s;5;15 servers=1;;;0;1',
    );
    for (const t of perfOf(formatNagios(r))) expect(t).toMatch(perfToken);
  });

  it('uses U when nothing answered and keeps "|" out of messages', () => {
    const r = buildClockReport([server('a', null, { error: { kind: 'invalid', message: 'bad | answer' } })], { ...opts, unknownIfUnreachable: true });
    const out = formatNagios(r);
    expect(out.split('\n')[0]).toBe('CLOCK UNKNOWN - no NTP server gave usable time (a: invalid) | offset=U;5;15 servers=0;;;0;1');
    expect(out.split('|').length).toBe(2);
    expect(out).toMatch(/bad \/ answer/);
  });

  it('mentions intermittent failures with their share', () => {
    expect(formatNagios(buildClockReport([server('a', 40)], opts)).split('\n')[0]).toMatch(
      /TOTP margin -10\.0 s \(about 33% of codes rejected\)/,
    );
  });
});
