/**
 * The SNTP client and clock-check against real chronyd servers on loopback (always started with -x,
 * so this machine's clock is never touched), one of them running 90 s ahead under faketime.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { querySntp } from '../src/clock/sntp.js';
import { STATUS, checkClock } from '../src/clock/verdict.js';
import { formatNagios } from '../src/clock/nagios.js';
import { describeWithPeer } from './helpers/peers.js';
import { chronydMeasure, hasIpv6Loopback, startChronyd, type ChronyPeer } from './helpers/ntp-peers.js';

const ipv6 = await hasIpv6Loopback();

describeWithPeer(['chronyd'], 'clock-check against a real chronyd', () => {
  let accurate: ChronyPeer;
  let unsynced: ChronyPeer;
  beforeAll(async () => {
    [accurate, unsynced] = await Promise.all([startChronyd({ ipv6 }), startChronyd({ localStratum: false })]);
  });
  afterAll(async () => {
    await Promise.all([accurate?.stop(), unsynced?.stop()]);
  });

  it('an accurate server: offset ≈ 0 and status OK', async () => {
    const r = await checkClock({ servers: [`127.0.0.1:${accurate.port}`], timeoutMs: 2000 });
    expect(r.servers[0].error).toBeUndefined();
    expect(Math.abs(r.offset as number)).toBeLessThan(0.05);
    expect(r.servers[0]).toMatchObject({ stratum: 10, leap: 0, samples: 4, sent: 4 });
    expect(r.servers[0].delay).toBeLessThan(0.05);
    expect(r.status).toBe(STATUS.OK);
    expect(r.totpVerdict?.level).toBe('ok');
    expect(formatNagios(r)).toMatch(/^CLOCK OK - offset [+-]0\.0\d\d s, TOTP margin 29\.9 s \| offset=/);
  });

  it('a chronyd without "local stratum" is reported as unsynchronised', async () => {
    const r = await querySntp('127.0.0.1', unsynced.port, { timeoutMs: 2000 });
    expect(r.error?.kind).toBe('unsynchronised');
    expect(r.error?.message).toMatch(/not synchronised \(leap indicator 3, stratum 0/);
    expect(r).toMatchObject({ leap: 3, stratum: 0, offset: null, sent: 1 });
    const report = await checkClock({ servers: [`127.0.0.1:${unsynced.port}`], timeoutMs: 2000 });
    expect(report.status).toBe(STATUS.CRITICAL);
    expect(report.summary).toBe('no NTP server gave usable time (127.0.0.1: unsynchronised)');
  });

  it('agrees with chronyd -Q on the same server to within a few ms', async () => {
    const [ours, theirs] = await Promise.all([
      querySntp('127.0.0.1', accurate.port, { timeoutMs: 2000 }),
      chronydMeasure(accurate.port),
    ]);
    expect(Math.abs((ours.offset as number) - theirs)).toBeLessThan(0.005);
  });

  it.skipIf(!ipv6)('answers over IPv6 loopback', async () => {
    const r = await checkClock({ servers: [`[::1]:${accurate.port}`], samples: 2, timeoutMs: 2000 });
    expect(r.servers[0]).toMatchObject({ address: '::1', stratum: 10 });
    expect(Math.abs(r.offset as number)).toBeLessThan(0.05);
  });
});

describeWithPeer(['chronyd', 'faketime'], 'clock-check against a chronyd running 90 s ahead (faketime)', () => {
  let ahead: ChronyPeer;
  let accurate: ChronyPeer;
  beforeAll(async () => {
    [ahead, accurate] = await Promise.all([startChronyd({ faketime: '+90s' }), startChronyd()]);
  });
  afterAll(async () => {
    await Promise.all([ahead?.stop(), accurate?.stop()]);
  });

  it('measures +90 s, reports CRITICAL and says TOTP codes fail', async () => {
    const r = await checkClock({ servers: [`127.0.0.1:${ahead.port}`], timeoutMs: 2000 });
    expect(Math.abs((r.offset as number) - 90)).toBeLessThan(0.05);
    expect(r.status).toBe(STATUS.CRITICAL);
    expect(r.totpVerdict).toMatchObject({ level: 'fails', failingShare: 1 });
    expect(r.totpMarginSeconds).toBeCloseTo(-60, 1);
    expect(r.summary).toMatch(/^local clock 90\.0\d\d s behind NTP time .*TOTP codes always fail/);
    expect(r.duoVerdict?.level).toBe('at-risk');
    expect(formatNagios(r)).toMatch(/^CLOCK CRITICAL - offset \+90\.0\d\d s, TOTP margin -60\.[01] s \(codes always fail\)/);
  });

  it('agrees with chronyd -Q on the shifted server to within a few ms', async () => {
    const [ours, theirs] = await Promise.all([
      querySntp('127.0.0.1', ahead.port, { timeoutMs: 2000 }),
      chronydMeasure(ahead.port),
    ]);
    expect(theirs).toBeGreaterThan(89.9);
    expect(Math.abs((ours.offset as number) - theirs)).toBeLessThan(0.005);
  });

  it('with an accurate and a shifted server, the two disagree and it is said', async () => {
    const r = await checkClock({ servers: [`127.0.0.1:${accurate.port}`, `127.0.0.1:${ahead.port}`], timeoutMs: 2000 });
    expect(r.validServers).toBe(2);
    expect(r.disagree).toBe(true);
    expect(r.spread).toBeGreaterThan(89.9);
    expect(r.summary).toMatch(/servers disagree by 90\.0 s/);
  });

  it('a database clock 90 s behind NTP time counts toward the status', async () => {
    const r = await checkClock({
      servers: [`127.0.0.1:${accurate.port}`],
      timeoutMs: 2000,
      dbClock: async () => Date.now() / 1000 - 90,
    });
    expect(Math.abs((r.database?.offset as number) - 90)).toBeLessThan(0.05);
    expect(r.database?.reference).toBe('ntp');
    expect(r.status).toBe(STATUS.CRITICAL);
    // The perfdata carries the measured offset: 90 s give or take the microseconds of the exchange.
    const perf = /db_offset=(\d+\.\d+)s;5;15/.exec(formatNagios(r).split('\n')[0]);
    expect(perf, formatNagios(r)).not.toBeNull();
    expect(Math.abs(Number(perf![1]) - 90)).toBeLessThan(0.05);
  });
});
