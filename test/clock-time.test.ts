import { isIPv4 as netIsIPv4 } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { UsageError } from '../src/errors.js';
import { buildRequest, classifyReply, formatRefid, parseHeader } from '../src/clock/ntp-packet.js';
import { ERA1_START_UNIX, createLocalClock, ntpToUnix, unixToNtp } from '../src/clock/ntp-time.js';
import { isIPv4, parseServerSpec, smearNote } from '../src/clock/servers.js';
import { encodeNtp } from './helpers/ntp-fake.js';
import { chance, int, mulberry32, pick } from './helpers/fuzz.js';

const decodeWire = (b: Buffer) => ({ seconds: b.readUInt32BE(0), fraction: b.readUInt32BE(4) });

describe('NTP timestamps and the 2036 era rollover', () => {
  it('era 1 starts at 2036-02-07T06:28:16Z', () => {
    expect(new Date(ERA1_START_UNIX * 1000).toISOString()).toBe('2036-02-07T06:28:16.000Z');
  });

  it('encodes the last second of era 0 and the first of era 1', () => {
    expect(unixToNtp(ERA1_START_UNIX - 1)).toEqual({ seconds: 0xffffffff, fraction: 0 });
    expect(unixToNtp(ERA1_START_UNIX)).toEqual({ seconds: 0, fraction: 0 });
    expect(unixToNtp(ERA1_START_UNIX + 0.5)).toEqual({ seconds: 0, fraction: 0x80000000 });
  });

  it('matches an independent BigInt encoder for today and for 2036+ values', () => {
    for (const t of [0, 1_700_000_000.25, ERA1_START_UNIX - 0.75, ERA1_START_UNIX + 12_345.125, 2_500_000_000.5]) {
      expect(unixToNtp(t)).toEqual(decodeWire(encodeNtp(t)));
    }
  });

  it('picks the era closest to local time', () => {
    const justAfter = { seconds: 10, fraction: 0 }; // 10 s into era 1
    // A local clock in 2026 decodes it as 2036, not as 1900.
    expect(ntpToUnix(justAfter, 1_790_000_000)).toBe(ERA1_START_UNIX + 10);
    // A local clock already in era 1 too.
    expect(ntpToUnix(justAfter, ERA1_START_UNIX + 100)).toBe(ERA1_START_UNIX + 10);
    // The last second of era 0 seen from just after the rollover stays in era 0.
    expect(ntpToUnix({ seconds: 0xffffffff, fraction: 0 }, ERA1_START_UNIX + 5)).toBe(ERA1_START_UNIX - 1);
    // Ordinary present-day timestamp.
    expect(ntpToUnix(unixToNtp(1_764_000_000.5), 1_764_000_100)).toBe(1_764_000_000.5);
  });

  it('round-trips through the wire format at microsecond precision in both eras', () => {
    for (const t of [1_764_268_800.123456, ERA1_START_UNIX + 3600.654321, 2_200_000_000.000001]) {
      expect(Math.abs(ntpToUnix(unixToNtp(t), t + 1000) - t)).toBeLessThan(1e-6);
    }
  });

  it('the local clock agrees with Date.now() and has sub-millisecond resolution', () => {
    const clock = createLocalClock();
    expect(Math.abs(clock() * 1000 - Date.now())).toBeLessThan(2);
    const a = clock();
    let b = clock();
    while (b === a) b = clock();
    expect(b - a).toBeLessThan(0.0005);
  });

  it('after the wall clock was stepped since start, the local clock follows the new wall clock', () => {
    const real = Date.now.bind(Date);
    for (const stepMs of [5000, -5000, 1.5]) {
      const step = vi.spyOn(Date, 'now').mockImplementation(() => Math.floor(real() + stepMs));
      try {
        const clock = createLocalClock();
        expect(Math.abs(clock() * 1000 - Date.now())).toBeLessThan(1.1);
      } finally {
        step.mockRestore();
      }
    }
  });
});

describe('NTP packets', () => {
  it('builds a 48-byte v4 client request with T1 in the transmit field and nothing else', () => {
    const t1 = 1_764_268_800.25;
    const { packet, origin } = buildRequest(t1);
    expect(packet.length).toBe(48);
    expect(packet[0]).toBe(0x23);
    expect(packet.subarray(1, 40).every((b) => b === 0)).toBe(true);
    expect(origin.equals(packet.subarray(40, 48))).toBe(true);
    // Only the sub-microsecond bits are randomised.
    expect(Math.abs(ntpToUnix(decodeWire(origin), t1) - t1)).toBeLessThan(1e-6);
  });

  const header = (over: Partial<Record<'li' | 'mode' | 'stratum', number>> & { refid?: string; zeroTx?: boolean } = {}) => {
    const p = Buffer.alloc(48);
    p[0] = ((over.li ?? 0) << 6) | (4 << 3) | (over.mode ?? 4);
    p[1] = over.stratum ?? 2;
    if (over.refid !== undefined) Buffer.from(over.refid.padEnd(4, '\0'), 'latin1').copy(p, 12);
    encodeNtp(1_764_268_800).copy(p, 32);
    if (!over.zeroTx) encodeNtp(1_764_268_800.001).copy(p, 40);
    return parseHeader(p)!;
  };

  it('an unsynchronised chronyd (LI=3, stratum 0, refid 0) is unsynchronised, not a kiss-o-death', () => {
    expect(classifyReply(header({ li: 3, stratum: 0 }))).toMatchObject({ kind: 'unsynchronised' });
  });

  it('stratum 0 with an ASCII refid is a kiss-o-death; RATE/DENY/RSTR say stop', () => {
    for (const code of ['RATE', 'DENY', 'RSTR']) {
      expect(classifyReply(header({ li: 3, stratum: 0, refid: code }))).toEqual({ kind: 'kod', code, stop: true });
    }
    expect(classifyReply(header({ stratum: 0, refid: 'AUTH' }))).toEqual({ kind: 'kod', code: 'AUTH', stop: false });
    expect(classifyReply(header({ li: 3, stratum: 0, refid: 'INIT' }))).toMatchObject({ kind: 'unsynchronised', code: 'INIT' });
  });

  it('LI=3 or stratum >= 16 is unsynchronised', () => {
    expect(classifyReply(header({ li: 3, stratum: 3 }))).toMatchObject({ kind: 'unsynchronised' });
    expect(classifyReply(header({ stratum: 16 }))).toMatchObject({ kind: 'unsynchronised' });
  });

  it('only mode 4 with a non-zero transmit timestamp is time', () => {
    expect(classifyReply(header())).toEqual({ kind: 'time' });
    expect(classifyReply(header({ mode: 3 }))).toMatchObject({ kind: 'invalid', reason: expect.stringContaining('mode 3') });
    expect(classifyReply(header({ mode: 5 }))).toMatchObject({ kind: 'invalid' });
    expect(classifyReply(header({ zeroTx: true }))).toMatchObject({ kind: 'invalid', reason: expect.stringContaining('transmit') });
  });

  it('rejects datagrams shorter than a header', () => {
    expect(parseHeader(Buffer.alloc(47))).toBeNull();
  });

  it('formats refids', () => {
    expect(formatRefid(1, Buffer.from('GPS\0', 'latin1'))).toBe('GPS');
    expect(formatRefid(2, Buffer.from([192, 0, 2, 1]))).toBe('192.0.2.1');
    expect(formatRefid(0, Buffer.alloc(4))).toBe('00000000');
  });
});

describe('server specs', () => {
  it('parses host, host:port, [v6]:port and bare IPv6', () => {
    expect(parseServerSpec('pool.ntp.org')).toEqual({ host: 'pool.ntp.org', port: 123 });
    expect(parseServerSpec('127.0.0.1:11123')).toEqual({ host: '127.0.0.1', port: 11123 });
    expect(parseServerSpec('[::1]:456')).toEqual({ host: '::1', port: 456 });
    expect(parseServerSpec('[2001:db8::1]')).toEqual({ host: '2001:db8::1', port: 123 });
    expect(parseServerSpec('2001:db8::1')).toEqual({ host: '2001:db8::1', port: 123 });
  });

  it('refuses malformed specs with a usage error', () => {
    for (const bad of ['', 'host:', 'host:70000', 'host:x', '[::1', '[example.com]:1', 'a:b:c:1']) {
      expect(() => parseServerSpec(bad)).toThrow(UsageError);
    }
  });

  it('recognises IPv4 addresses exactly as net.isIPv4 does', () => {
    const fixed = ['1.2.3.4', '0.0.0.0', '255.255.255.255', '01.2.3.4', '1.2.3.04', '00.0.0.0', '256.1.1.1', '1.2.3',
      '1.2.3.4.', '.1.2.3.4', '1..2.3', '1.2.3.4.5', '', 'a.b.c.d', ' 1.2.3.4', '1.2.3.4 ', '１.2.3.4', '1.2.3.-4', '1000.1.1.1'];
    for (const s of fixed) expect([s, isIPv4(s)]).toEqual([s, netIsIPv4(s)]);
    const r = mulberry32(0x1b4);
    const part = () => (chance(r, 0.05) ? '' : chance(r, 0.05) ? pick(r, ['x', ' ', '-1', '+1', '0x1']) : String(int(r, 300)).padStart(chance(r, 0.1) ? 3 : 0, '0'));
    for (let i = 0; i < 20_000; i++) {
      const s = Array.from({ length: 1 + int(r, 5) }, part).join('.');
      expect([s, isIPv4(s)]).toEqual([s, netIsIPv4(s)]);
    }
  });

  it('notes leap smearing for Google', () => {
    expect(smearNote('time.google.com')).toMatch(/smears leap seconds/);
    expect(smearNote('time3.google.com')).toMatch(/Google/);
    expect(smearNote('time.cloudflare.com')).toBeUndefined();
  });
});
