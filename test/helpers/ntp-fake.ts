/**
 * A scriptable NTP server over node:dgram, for what a real chronyd will not do on demand:
 * kiss-o'-death, garbage, wrong origin, wrong mode, zero timestamps, asymmetric delay, silence,
 * timestamps from another era.
 *
 * Timestamps are encoded here with BigInt, independently of src/clock/ntp-time.ts, so a bug in the
 * client's conversion cannot cancel out against the same bug in the fake.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

const NTP_UNIX_DELTA = 2_208_988_800n;
const TWO_32 = 2n ** 32n;

/**
 * Wall clock with sub-millisecond resolution: anchored where Date.now() ticks over, bracketed by
 * monotonic reads, narrowest of a few brackets (a preemption would shift a single one by ms). Each
 * fake server anchors its own when it starts, so a wall-clock step earlier in the run cannot skew it.
 */
export function makeClock(): () => number {
  let anchor = Date.now() - performance.now();
  let width = Infinity;
  for (let i = 0; i < 5 && width > 0.02; i++) {
    let lo = performance.now();
    const first = Date.now();
    for (;;) {
      const before = performance.now();
      const wall = Date.now();
      const after = performance.now();
      if (wall !== first) {
        if (after - lo < width) {
          width = after - lo;
          anchor = wall - (lo + after) / 2;
        }
        break;
      }
      lo = before;
    }
  }
  return () => (anchor + performance.now()) / 1000;
}

/** Unix seconds → the 8 wire bytes of an NTP timestamp (era bits dropped, as on the wire). */
export function encodeNtp(unixSeconds: number): Buffer {
  const micros = BigInt(Math.round(unixSeconds * 1e6));
  const ntpMicros = micros + NTP_UNIX_DELTA * 1_000_000n;
  const secs = ntpMicros / 1_000_000n;
  const frac = ((ntpMicros % 1_000_000n) * TWO_32) / 1_000_000n;
  const b = Buffer.alloc(8);
  b.writeUInt32BE(Number(((secs % TWO_32) + TWO_32) % TWO_32), 0);
  b.writeUInt32BE(Number(frac), 4);
  return b;
}

export interface FakeRequest {
  packet: Buffer;
  /** Fake-server time the request arrived (true time + the server's configured offset is applied in reply()). */
  receivedAt: number;
  /** 0-based count of requests seen so far. */
  index: number;
  rinfo: RemoteInfo;
  /** The fake server's true-time clock. */
  now: () => number;
}

export interface ReplyOptions {
  leap?: number;
  version?: number;
  mode?: number;
  stratum?: number;
  /** ASCII (≤4 chars) or raw 4 bytes. */
  refid?: string | Buffer;
  /** Seconds the fake server's clock is ahead of true time. */
  offset?: number;
  /** True time at which the server "received" (default: when the request arrived). */
  receiveAt?: number;
  /** True time at which the server "transmitted" (default: now). */
  transmitAt?: number;
  /** Seconds (NTP short format); default ~4 ms and ~2 ms. */
  rootDelay?: number;
  rootDispersion?: number;
  /** Raw overrides (8 bytes each). */
  origin?: Buffer;
  receiveRaw?: Buffer;
  transmitRaw?: Buffer;
}

export function reply(req: FakeRequest, o: ReplyOptions = {}): Buffer {
  const p = Buffer.alloc(48);
  const leap = o.leap ?? 0;
  const version = o.version ?? 4;
  const mode = o.mode ?? 4;
  p[0] = (leap << 6) | (version << 3) | mode;
  p[1] = o.stratum ?? 2;
  p[2] = 6;
  p.writeInt8(-20, 3);
  p.writeUInt32BE(o.rootDelay === undefined ? 0x00000100 : Math.min(0xffffffff, Math.round(o.rootDelay * 65536)), 4); // root delay ~4 ms
  p.writeUInt32BE(o.rootDispersion === undefined ? 0x00000080 : Math.min(0xffffffff, Math.round(o.rootDispersion * 65536)), 8); // root dispersion ~2 ms
  const refid = o.refid ?? Buffer.from([192, 0, 2, 1]);
  (typeof refid === 'string' ? Buffer.from(refid.padEnd(4, '\0'), 'latin1') : refid).copy(p, 12, 0, 4);
  const offset = o.offset ?? 0;
  encodeNtp(req.receivedAt + offset - 1).copy(p, 16); // reference time
  (o.origin ?? req.packet.subarray(40, 48)).copy(p, 24);
  (o.receiveRaw ?? encodeNtp((o.receiveAt ?? req.receivedAt) + offset)).copy(p, 32);
  (o.transmitRaw ?? encodeNtp((o.transmitAt ?? req.now()) + offset)).copy(p, 40);
  return p;
}

/** A kiss-o'-death as ntpd sends it: LI=3, stratum 0, the code in the refid. */
export function kissOfDeath(req: FakeRequest, code: string): Buffer {
  return reply(req, { leap: 3, stratum: 0, refid: code });
}

/** A function packet is built when it is sent, so its transmit timestamp includes the delay. */
export type FakeAnswer = Buffer | { packet: Buffer | (() => Buffer); delayMs?: number };
export type FakeHandler = (req: FakeRequest) => FakeAnswer | FakeAnswer[] | null | Promise<FakeAnswer | FakeAnswer[] | null>;

export interface FakeNtp {
  port: number;
  address: string;
  /** Requests received so far. */
  readonly requests: FakeRequest[];
  close(): Promise<void>;
}

export async function startFakeNtp(handler: FakeHandler, family: 4 | 6 = 4): Promise<FakeNtp> {
  const address = family === 6 ? '::1' : '127.0.0.1';
  const socket: Socket = createSocket(family === 6 ? 'udp6' : 'udp4');
  const requests: FakeRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const now = makeClock();
  let closed = false;
  socket.on('message', async (packet, rinfo) => {
    const receivedAt = now();
    const req: FakeRequest = { packet, receivedAt, index: requests.length, rinfo, now };
    requests.push(req);
    const out = await handler(req);
    if (out === null || closed) return;
    for (const a of Array.isArray(out) ? out : [out]) {
      const { packet: data, delayMs = 0 } = Buffer.isBuffer(a) ? { packet: a } : a;
      const send = () => {
        if (!closed) socket.send(typeof data === 'function' ? data() : data, rinfo.port, rinfo.address);
      };
      if (delayMs > 0) {
        const t = setTimeout(() => {
          timers.delete(t);
          send();
        }, delayMs);
        timers.add(t);
      } else send();
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, address, () => resolve());
  });
  return {
    port: socket.address().port,
    address,
    requests,
    close: async () => {
      closed = true;
      for (const t of timers) clearTimeout(t);
      await new Promise<void>((r) => socket.close(() => r()));
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
