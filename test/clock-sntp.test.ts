/**
 * The SNTP client against a scriptable Node UDP server: the misbehaviours a real chronyd will not
 * produce on demand.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { querySntp, type ServerResult } from '../src/clock/sntp.js';
import { ERA1_START_UNIX } from '../src/clock/ntp-time.js';
import { STATUS, checkClock } from '../src/clock/verdict.js';
import { hasIpv6Loopback } from './helpers/ntp-peers.js';
import { kissOfDeath, reply, sleep, startFakeNtp, type FakeHandler, type FakeNtp } from './helpers/ntp-fake.js';

const fakes: FakeNtp[] = [];
async function fake(handler: FakeHandler, family: 4 | 6 = 4): Promise<FakeNtp> {
  const f = await startFakeNtp(handler, family);
  fakes.push(f);
  return f;
}
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

const ipv6 = await hasIpv6Loopback();

/** SNTP knows the offset only to within half the round trip; 1 ms more covers stamping jitter. */
function expectOffset(r: ServerResult, expected: number): void {
  expect(r.error).toBeUndefined();
  expect(Math.abs((r.offset as number) - expected)).toBeLessThanOrEqual((r.delay as number) / 2 + 0.001);
}

describe('SNTP client against a fake server', () => {
  it('sends a well-formed request and measures a known offset', async () => {
    const f = await fake((req) => reply(req, { offset: 12.5 }));
    const r = await querySntp('127.0.0.1', f.port, { timeoutMs: 2000 });
    expectOffset(r, 12.5);
    expect(r.samples).toBe(4);
    expect(r.sent).toBe(4);
    expect(r.stratum).toBe(2);
    expect(r.refid).toBe('192.0.2.1');
    const req = f.requests[0].packet;
    expect(req.length).toBe(48);
    expect(req[0]).toBe(0x23);
    // The transmit field carries T1 (the current time), not zero or junk.
    const secs = req.readUInt32BE(40) - 2_208_988_800 + req.readUInt32BE(44) / 2 ** 32;
    expect(Math.abs(secs - f.requests[0].receivedAt)).toBeLessThan(0.5);
  });

  it('keeps the least-delay sample', async () => {
    const delays = [150, 0, 80, 40];
    const f = await fake((req) => ({ packet: reply(req, { offset: 3, receiveAt: req.receivedAt, transmitAt: req.receivedAt }), delayMs: delays[req.index] }));
    const r = await querySntp('127.0.0.1', f.port, { samples: 4, timeoutMs: 3000 });
    expect(r.samples).toBe(4);
    expect(r.delay).toBeLessThan(0.02);
    // A return leg of 150 ms would have pulled the offset ~75 ms low.
    expectOffset(r, 3);
  });

  it('asymmetric delay: delay is the full round trip and the offset error stays within delay/2', async () => {
    // Outbound leg 200 ms (the server stamps T2/T3 late), return leg immediate.
    const slowOut = await fake(async (req) => {
      await sleep(200);
      const t = req.now();
      return reply(req, { offset: 5, receiveAt: t, transmitAt: t });
    });
    const a = await querySntp('127.0.0.1', slowOut.port, { samples: 1, timeoutMs: 2000 });
    expect(a.delay).toBeGreaterThanOrEqual(0.195);
    expect(a.delay).toBeLessThan(0.26);
    const errA = (a.offset as number) - 5;
    expect(Math.abs(errA)).toBeLessThanOrEqual((a.delay as number) / 2 + 0.002);
    expect(errA).toBeGreaterThan(0.09); // looks ahead by half the asymmetry

    // Return leg 200 ms: the same error with the opposite sign.
    const slowBack = await fake((req) => ({
      packet: reply(req, { offset: 5, receiveAt: req.receivedAt, transmitAt: req.receivedAt }),
      delayMs: 200,
    }));
    const b = await querySntp('127.0.0.1', slowBack.port, { samples: 1, timeoutMs: 2000 });
    expect(b.delay).toBeGreaterThanOrEqual(0.195);
    const errB = (b.offset as number) - 5;
    expect(Math.abs(errB)).toBeLessThanOrEqual((b.delay as number) / 2 + 0.002);
    expect(errB).toBeLessThan(-0.09);
  });

  it('time the server spends between T2 and T3 is not network delay', async () => {
    // Stamps T2 on receipt, holds the answer 300 ms, stamps T3 as it sends.
    const f = await fake((req) => ({ packet: () => reply(req, { offset: 2 }), delayMs: 300 }));
    const r = await querySntp('127.0.0.1', f.port, { samples: 1, timeoutMs: 2000 });
    expect(r.delay).toBeLessThan(0.03);
    expectOffset(r, 2);
  });

  it.each(['RATE', 'DENY', 'RSTR'])('kiss-o-death %s: reported, and the server is not asked again', async (code) => {
    const f = await fake((req) => kissOfDeath(req, code));
    const r = await querySntp('127.0.0.1', f.port, { samples: 4, timeoutMs: 1000 });
    expect(r.error).toMatchObject({ kind: 'kod', code });
    expect(r.error?.message).toContain(`kiss-o'-death ${code}`);
    expect(r.error?.message).toContain('not asked again');
    await sleep(100);
    expect(f.requests.length).toBe(1);
    expect(r.sent).toBe(1);
  });

  it('a RATE kiss after good samples keeps the good samples and stops asking', async () => {
    const f = await fake((req) => (req.index < 2 ? reply(req, { offset: 1 }) : kissOfDeath(req, 'RATE')));
    const r = await querySntp('127.0.0.1', f.port, { samples: 4, timeoutMs: 1000 });
    expectOffset(r, 1);
    expect(r.samples).toBe(2);
    expect(r.notes.join()).toMatch(/kiss code RATE after 2 sample/);
    await sleep(100);
    expect(f.requests.length).toBe(3);
  });

  it('INIT with stratum 0 means unsynchronised, not refused', async () => {
    const f = await fake((req) => reply(req, { leap: 3, stratum: 0, refid: 'INIT' }));
    const r = await querySntp('127.0.0.1', f.port, { timeoutMs: 1000 });
    expect(r.error).toMatchObject({ kind: 'unsynchronised', code: 'INIT' });
  });

  it('ignores garbage and keeps waiting for the real answer', async () => {
    const f = await fake((req) => [Buffer.from('not an ntp packet'), { packet: reply(req, { offset: 2 }), delayMs: 20 }]);
    const r = await querySntp('127.0.0.1', f.port, { samples: 2, timeoutMs: 1000 });
    expect(r.error).toBeUndefined();
    expect(r.ignored.malformed).toBe(2);
    expect(r.notes.join()).toMatch(/ignored 2 packet\(s\): 2 malformed/);
  });

  it('garbage only: times out, with the garbage recorded', async () => {
    const f = await fake(() => Buffer.alloc(20, 0xff));
    const r = await querySntp('127.0.0.1', f.port, { timeoutMs: 400 });
    expect(r.error?.kind).toBe('timeout');
    expect(r.ignored.malformed).toBeGreaterThanOrEqual(1);
    expect(r.error?.message).toMatch(/malformed/);
  });

  it('wrong origin is ignored (possible spoofing): the wait continues to the timeout, and it is recorded', async () => {
    const f = await fake((req) => reply(req, { origin: Buffer.alloc(8, 7) }));
    const started = performance.now();
    const r = await querySntp('127.0.0.1', f.port, { timeoutMs: 500 });
    const elapsed = performance.now() - started;
    // It waited for the deadline instead of giving up on the spoofed answer. No upper limit: a busy
    // machine only adds time, and a wait that never ended would not have returned 'timeout'.
    expect(elapsed).toBeGreaterThanOrEqual(480);
    expect(r.error?.kind).toBe('timeout');
    expect(r.ignored.wrongOrigin).toBeGreaterThanOrEqual(1);
    expect(r.error?.message).toMatch(/with a wrong origin timestamp/);
    expect(r.offset).toBeNull();
  });

  it('a spoofed answer first, the genuine one after: the genuine one wins', async () => {
    const f = await fake((req) => [
      reply(req, { offset: 500, origin: Buffer.alloc(8, 1) }),
      { packet: () => reply(req, { offset: 0.25 }), delayMs: 10 },
    ]);
    const r = await querySntp('127.0.0.1', f.port, { samples: 1, timeoutMs: 1000 });
    expectOffset(r, 0.25);
    expect(r.ignored.wrongOrigin).toBe(1);
  });

  it('duplicated answers are counted as stale and not used twice', async () => {
    const f = await fake((req) => [reply(req), reply(req)]);
    const r = await querySntp('127.0.0.1', f.port, { samples: 3, timeoutMs: 1000 });
    expect(r.samples).toBe(3);
    await sleep(20);
    expect(r.ignored.stale).toBeGreaterThanOrEqual(2);
  });

  it('mode other than 4 is invalid', async () => {
    const f = await fake((req) => reply(req, { mode: 3 }));
    const r = await querySntp('127.0.0.1', f.port, { samples: 2, timeoutMs: 1000 });
    expect(r.error).toMatchObject({ kind: 'invalid' });
    expect(r.error?.message).toMatch(/mode 3 instead of 4/);
  });

  it('a zero transmit timestamp is invalid', async () => {
    const f = await fake((req) => reply(req, { transmitRaw: Buffer.alloc(8) }));
    const r = await querySntp('127.0.0.1', f.port, { samples: 2, timeoutMs: 1000 });
    expect(r.error).toMatchObject({ kind: 'invalid' });
    expect(r.error?.message).toMatch(/transmit timestamp is zero/);
  });

  it('LI=3 with a normal stratum is unsynchronised and asked only once', async () => {
    const f = await fake((req) => reply(req, { leap: 3, stratum: 4 }));
    const r = await querySntp('127.0.0.1', f.port, { timeoutMs: 1000 });
    expect(r.error?.kind).toBe('unsynchronised');
    expect(r.leap).toBe(3);
    expect(r.stratum).toBe(4);
    expect(f.requests.length).toBe(1);
  });

  it('silence: timeout naming the port; CRITICAL, or UNKNOWN when asked', async () => {
    const f = await fake(() => null);
    const started = performance.now();
    const r = await querySntp('127.0.0.1', f.port, { timeoutMs: 500 });
    expect(performance.now() - started).toBeLessThan(800);
    expect(r.error?.kind).toBe('timeout');
    expect(r.error?.message).toBe(`no answer from 127.0.0.1 within 0.5 s — is UDP port ${f.port} blocked?`);

    const crit = await checkClock({ servers: [`127.0.0.1:${f.port}`], timeoutMs: 300 });
    expect(crit.status).toBe(STATUS.CRITICAL);
    const unknown = await checkClock({ servers: [`127.0.0.1:${f.port}`], timeoutMs: 300, unknownIfUnreachable: true });
    expect(unknown.status).toBe(STATUS.UNKNOWN);
    expect(unknown.summary).toMatch(/no NTP server gave usable time \(127\.0\.0\.1: timeout\)/);
  });

  it('the timeout bounds the whole run: a silent server does not hold up the answering ones for longer', async () => {
    const silent = await fake(() => null);
    const good = await fake((req) => reply(req, { offset: 0.5 }));
    const started = performance.now();
    const r = await checkClock({ servers: [`127.0.0.1:${silent.port}`, `127.0.0.1:${good.port}`], timeoutMs: 600 });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(900);
    expect(r.validServers).toBe(1);
    expectOffset(r.servers[1], 0.5);
    expect(r.status).toBe(STATUS.OK);
  });

  it('nothing listening: the ICMP port-unreachable ends the query early as a network error', async () => {
    const f = await fake(() => null);
    const port = f.port;
    await f.close();
    fakes.splice(fakes.indexOf(f), 1);
    const started = performance.now();
    const r = await querySntp('127.0.0.1', port, { timeoutMs: 2000 });
    expect(performance.now() - started).toBeLessThan(500);
    expect(r.error).toMatchObject({ kind: 'network', code: 'ECONNREFUSED' });
  });

  it('DNS failure is reported as such', async () => {
    const r = await querySntp('no-such-host.invalid', 123, { timeoutMs: 2000 });
    expect(r.error?.kind).toBe('dns');
    expect(r.error?.message).toMatch(/DNS lookup of no-such-host\.invalid/);
    expect(r.address).toBeNull();
  });

  it('decodes a server already in NTP era 1 (after 2036-02-07)', async () => {
    const now = Date.now() / 1000;
    const shift = ERA1_START_UNIX + 86_400 * 400 - now; // the server thinks it is 2037
    let sent: Buffer = Buffer.alloc(0);
    const f = await fake((req) => (sent = reply(req, { offset: shift })));
    const r = await querySntp('127.0.0.1', f.port, { samples: 2, timeoutMs: 1000 });
    // The wire seconds field has wrapped to a small number.
    expect(sent.readUInt32BE(40)).toBeLessThan(2 ** 28);
    expectOffset(r, shift);
  });

  it('an abort signal cancels the query', async () => {
    const f = await fake(() => null);
    await expect(querySntp('127.0.0.1', f.port, { timeoutMs: 5000, signal: AbortSignal.timeout(100) })).rejects.toThrow();
  });

  it.skipIf(!ipv6)('works over IPv6 loopback', async () => {
    const f = await fake((req) => reply(req, { offset: -1.25 }), 6);
    const r = await querySntp('::1', f.port, { samples: 2, timeoutMs: 1000 });
    expect(r.address).toBe('::1');
    expectOffset(r, -1.25);
    const report = await checkClock({ servers: [`[::1]:${f.port}`], samples: 1, timeoutMs: 1000 });
    expect(report.validServers).toBe(1);
  });
});

describe('root delay and root dispersion (RFC 5905 MAXDISP / MAXDIST)', () => {
  it('a server announcing 65 536 s of dispersion is not used, and says why', async () => {
    const f = await fake((req) => reply(req, { rootDispersion: 65535.99 }));
    const r = await querySntp('127.0.0.1', f.port, { samples: 2, timeoutMs: 1000 });
    expect(r.offset).toBeNull();
    expect(r.error?.kind).toBe('distance');
    expect(r.error?.message).toMatch(/too far from its reference to be trusted: root distance 65536 s \(root delay 0\.004 s, root dispersion 65536 s.*RFC 5905 accepts at most 1 s/);
    expect(r.rootDispersion).toBeGreaterThan(65535);
  });

  for (const [name, o] of [
    ['root delay 2 s', { rootDelay: 2.5 }],
    ['root dispersion 1.2 s', { rootDispersion: 1.2 }],
    ['both just over the limit together', { rootDelay: 1.2, rootDispersion: 0.45 }],
  ] as Array<[string, { rootDelay?: number; rootDispersion?: number }]>) {
    it(`${name}: root distance over 1 s, unfit`, async () => {
      const f = await fake((req) => reply(req, o));
      const r = await querySntp('127.0.0.1', f.port, { samples: 2, timeoutMs: 1000 });
      expect(r.error?.kind, JSON.stringify(r.error)).toBe('distance');
      expect(r.offset).toBeNull();
    });
  }

  it('a root distance well under 1 s is fine', async () => {
    const f = await fake((req) => reply(req, { rootDelay: 0.3, rootDispersion: 0.2 }));
    const r = await querySntp('127.0.0.1', f.port, { samples: 2, timeoutMs: 1000 });
    expect(r.error).toBeUndefined();
    expect(r.rootDelay).toBeCloseTo(0.3, 3);
  });

  it('a server with a huge dispersion does not vote: the median comes from the good ones (it used to skew it and still be OK)', async () => {
    const good1 = await fake((req) => reply(req, { offset: 0.2 }));
    const good2 = await fake((req) => reply(req, { offset: 0.3 }));
    const bad = await fake((req) => reply(req, { offset: 40, rootDispersion: 65535.99 }));
    const bad2 = await fake((req) => reply(req, { offset: 45, rootDispersion: 65535.99 }));
    const report = await checkClock({ servers: [good1, good2, bad, bad2].map((f) => `127.0.0.1:${f.port}`), samples: 2, timeoutMs: 1500 });
    expect(report.validServers).toBe(2);
    expect(report.offset).toBeGreaterThan(0.1);
    expect(report.offset).toBeLessThan(0.4);
    expect(report.status).toBe(STATUS.OK);
    expect(report.notes.join('\n')).toMatch(/root distance 65536 s/);
  });
});

describe('slow answers that carry our origin', () => {
  it('an answer that arrives after its own wait ran out is still a sample (not "UDP blocked")', async () => {
    // Every answer spends 1.5 s on the way back (stamped at once, sent late): a slow path, while the
    // first wait is a third of the 4 s budget.
    const f = await fake((req) => ({ packet: reply(req), delayMs: 1500 }));
    const r = await querySntp('127.0.0.1', f.port, { samples: 2, timeoutMs: 4000 });
    expect(r.error, JSON.stringify(r.error)).toBeUndefined();
    expect(r.samples).toBeGreaterThanOrEqual(1);
    expect(r.delay).toBeGreaterThan(1.4);
    expect(Math.abs(r.offset!)).toBeLessThanOrEqual(r.delay! / 2 + 0.001);
  });

  it('an answer that comes only after the whole budget cannot be told from none', async () => {
    const f = await fake((req) => (req.index === 0 ? { packet: () => reply(req), delayMs: 700 } : null));
    const r = await querySntp('127.0.0.1', f.port, { samples: 1, timeoutMs: 600 });
    // The first answer arrives 100 ms after the 600 ms budget; wait for it to be seen.
    await sleep(300);
    expect(r.error?.kind).toBe('timeout');
    expect(r.error?.message).toMatch(/no answer from 127\.0\.0\.1 within 0\.6 s — is UDP port \d+ blocked\?/);
  });
});
