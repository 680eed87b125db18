import { closeSync, openSync, readSync } from 'node:fs';
import { isZeroTimestamp, readTimestamp, unixToNtp, writeTimestamp, type NtpTimestamp } from './ntp-time.js';

/** Size of an NTP header without extension fields or MAC. */
const NTP_PACKET_SIZE = 48;

const MODE_CLIENT = 3;
const MODE_SERVER = 4;
const LEAP_UNSYNCHRONISED = 3;

/** Kiss codes after which RFC 5905 §7.4 says the client must stop sending to that server. */
const STOP_KISS_CODES: ReadonlySet<string> = new Set(['RATE', 'DENY', 'RSTR']);

/** Kiss codes that only mean "I have no time yet" — an unsynchronised server, not a refusal. */
const NOT_SYNCED_KISS_CODES: ReadonlySet<string> = new Set(['INIT', 'STEP']);

interface ClientRequest {
  packet: Buffer;
  /** The 8 transmit-timestamp bytes as sent; a genuine reply echoes them in its origin field. */
  origin: Buffer;
}

/**
 * Builds a 48-byte SNTP request (LI 0, VN 4, mode 3 → first byte 0x23) with T1 in the transmit
 * field. The fraction bits below the local clock's resolution (~1 µs = 2^-20 s) are random, so a
 * blind off-path attacker cannot guess the origin a reply has to echo; T1 itself is kept as a float
 * by the caller, so the noise never enters the offset arithmetic.
 */
export function buildRequest(t1Unix: number): ClientRequest {
  const packet = Buffer.alloc(NTP_PACKET_SIZE);
  packet[0] = (0 << 6) | (4 << 3) | MODE_CLIENT;
  const ts = unixToNtp(t1Unix);
  const noise = randomUint16() & 0x0fff;
  const stamped: NtpTimestamp = { seconds: ts.seconds, fraction: ((ts.fraction & ~0x0fff) | noise) >>> 0 };
  writeTimestamp(packet, 40, stamped);
  return { packet, origin: Buffer.from(packet.subarray(40, 48)) };
}

/**
 * Unpredictable bits for the request timestamp, which an off-path attacker must guess to forge an
 * answer. Read from /dev/urandom where it exists: loading node:crypto costs a clock check more
 * start-up time than a whole exchange with a LAN server. Elsewhere Web Crypto (node:crypto inside).
 * Read for many requests at once: a check sends up to 32 per server, one after another.
 */
const randomPool = new Uint16Array(64);
let randomLeft = 0;

function randomUint16(): number {
  if (randomLeft === 0) {
    fillRandom(randomPool);
    randomLeft = randomPool.length;
  }
  return randomPool[--randomLeft]!;
}

function fillRandom(b: Uint16Array): void {
  try {
    const fd = openSync('/dev/urandom', 'r');
    try {
      if (readSync(fd, b) === b.byteLength) return;
    } finally {
      closeSync(fd);
    }
  } catch {
    // no /dev/urandom
  }
  globalThis.crypto.getRandomValues(b);
}

export interface NtpHeader {
  leap: number;
  version: number;
  mode: number;
  stratum: number;
  poll: number;
  precision: number;
  /** Seconds. */
  rootDelay: number;
  /** Seconds. */
  rootDispersion: number;
  refidRaw: Buffer;
  origin: Buffer;
  receive: NtpTimestamp;
  transmit: NtpTimestamp;
}

/** Returns null when the datagram is too short to be an NTP header at all. */
export function parseHeader(msg: Buffer): NtpHeader | null {
  if (msg.length < NTP_PACKET_SIZE) return null;
  const b0 = msg[0];
  return {
    leap: b0 >> 6,
    version: (b0 >> 3) & 0x07,
    mode: b0 & 0x07,
    stratum: msg[1],
    poll: msg.readInt8(2),
    precision: msg.readInt8(3),
    rootDelay: msg.readInt32BE(4) / 65536,
    rootDispersion: msg.readUInt32BE(8) / 65536,
    refidRaw: Buffer.from(msg.subarray(12, 16)),
    origin: Buffer.from(msg.subarray(24, 32)),
    receive: readTimestamp(msg, 32),
    transmit: readTimestamp(msg, 40),
  };
}

/** Four printable ASCII characters (NUL-padded), as used by kiss codes and stratum-1 refids. */
function asciiRefid(raw: Buffer): string | null {
  const text = raw.toString('latin1').replace(/\0+$/, '');
  return text.length > 0 && /^[\x21-\x7e]+$/.test(text) ? text : null;
}

/**
 * Human form of the reference ID: ASCII for stratum 0/1 (kiss code or reference clock), the upstream
 * IPv4 address for stratum 2+ (for IPv6 upstreams it is a hash, shown as hex).
 */
export function formatRefid(stratum: number, raw: Buffer): string {
  if (stratum <= 1) return asciiRefid(raw) ?? raw.toString('hex');
  // Four bytes in decimal are always a well-formed IPv4 address; all zeros means none.
  return raw.readUInt32BE(0) !== 0 ? `${raw[0]}.${raw[1]}.${raw[2]}.${raw[3]}` : raw.toString('hex');
}

type ReplyClass =
  | { kind: 'time' }
  | { kind: 'kod'; code: string; stop: boolean }
  | { kind: 'unsynchronised'; reason: string; code?: string }
  | { kind: 'invalid'; reason: string };

/**
 * Classifies a reply whose origin already matched our T1 (so it answers our request).
 *
 * Order matters. A stratum-0 packet is a kiss-o'-death only when its refid is an ASCII code;
 * an unsynchronised chronyd also sends stratum 0, but with LI=3 and a zero refid — reading that as
 * a KoD would invent a refusal. ntpd's own KoDs carry LI=3 too, which is why the refid decides.
 */
export function classifyReply(h: NtpHeader): ReplyClass {
  if (h.mode !== MODE_SERVER) {
    return { kind: 'invalid', reason: `mode ${h.mode} instead of 4 (server)` };
  }
  if (h.version < 1 || h.version > 4) {
    return { kind: 'invalid', reason: `unsupported NTP version ${h.version}` };
  }
  if (h.stratum === 0) {
    const code = asciiRefid(h.refidRaw);
    if (code !== null && NOT_SYNCED_KISS_CODES.has(code)) {
      return { kind: 'unsynchronised', reason: `kiss code ${code}: no time to give yet`, code };
    }
    if (code !== null) return { kind: 'kod', code, stop: STOP_KISS_CODES.has(code) };
    return {
      kind: 'unsynchronised',
      reason: `leap indicator ${h.leap}, stratum 0, no kiss code`,
    };
  }
  if (h.leap === LEAP_UNSYNCHRONISED) {
    return { kind: 'unsynchronised', reason: `leap indicator 3 (alarm), stratum ${h.stratum}` };
  }
  if (h.stratum >= 16) {
    return { kind: 'unsynchronised', reason: `stratum ${h.stratum}` };
  }
  if (isZeroTimestamp(h.transmit)) {
    return { kind: 'invalid', reason: 'transmit timestamp is zero' };
  }
  if (isZeroTimestamp(h.receive)) {
    return { kind: 'invalid', reason: 'receive timestamp is zero' };
  }
  return { kind: 'time' };
}
