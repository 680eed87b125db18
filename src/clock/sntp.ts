/**
 * SNTP client (RFC 4330 / RFC 5905 client side) over node:dgram.
 *
 * One exchange: stamp T1, send; the server stamps T2 on receipt and T3 on sending; we stamp T4.
 *   offset θ = ((T2 − T1) + (T3 − T4)) / 2   — add θ to the local clock to get server time
 *   delay  δ = (T4 − T1) − (T3 − T2)         — round trip minus the server's processing time
 * θ assumes the two legs take equally long; if they do not, θ is off by at most δ/2. That is why
 * several samples are taken and the one with the smallest δ wins: it has the tightest error bound.
 */
import { createSocket, type Socket } from 'node:dgram';
import { buildRequest, classifyReply, formatRefid, parseHeader, type NtpHeader } from './ntp-packet.js';
import { createLocalClock, monotonicMs, ntpToUnix, type LocalClock } from './ntp-time.js';
import { NTP_PORT, ipFamily, smearNote } from './servers.js';

type SntpErrorKind = 'dns' | 'timeout' | 'kod' | 'unsynchronised' | 'distance' | 'invalid' | 'network';

/**
 * RFC 5905's limits on what a server says about its own accuracy. A root delay and dispersion adding
 * up to MAXDISP (16 s) or more mark the packet as bogus (its test 8); a root distance — half the root
 * delay, plus the root dispersion, plus half our round trip — above MAXDIST (1 s) makes the server
 * unfit to set a clock (the fit() test). Its offset could be wrong by that much: it must not vote.
 */
const MAXDISP_S = 16;
const MAXDIST_S = 1;

interface SntpError {
  kind: SntpErrorKind;
  /** Kiss code (RATE, DENY, RSTR, …) for 'kod'; errno code (ENOTFOUND, ECONNREFUSED, …) otherwise. */
  code?: string;
  message: string;
}

/** Datagrams that were not accepted as the answer to a request, and so never ended a wait. */
interface IgnoredPackets {
  /** Shorter than an NTP header. */
  malformed: number;
  /** Origin matches none of our requests: spoofed, or meant for someone else. */
  wrongOrigin: number;
  /** Origin matches an earlier request of ours: a late or duplicated answer. */
  stale: number;
}

export interface ServerResult {
  host: string;
  port: number;
  /** Address actually queried; null when DNS failed. */
  address: string | null;
  stratum: number | null;
  leap: number | null;
  refid: string | null;
  /** Seconds to add to the local clock to get this server's time; null on error. */
  offset: number | null;
  /** Round-trip delay of the sample used, seconds; null on error. */
  delay: number | null;
  rootDelay: number | null;
  rootDispersion: number | null;
  /** Valid samples collected (the least-delay one is reported). */
  samples: number;
  /** Requests sent. */
  sent: number;
  ignored: IgnoredPackets;
  /** Facts worth showing next to the numbers (leap smearing, partial sampling, late KoD…). */
  notes: string[];
  error?: SntpError;
}

interface SntpOptions {
  /** Samples to take; the least-delay one is kept. Default 4. */
  samples?: number;
  /** Bounds the whole query, DNS included. Default 5000. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Injected so several queries share one anchoring of the local clock. */
  clock?: LocalClock;
}

export const DEFAULT_SAMPLES = 4;
export const DEFAULT_TIMEOUT_MS = 5000;

interface Sample {
  offset: number;
  delay: number;
  header: NtpHeader;
}

type Outcome =
  | { type: 'sample'; sample: Sample }
  | { type: 'kod'; header: NtpHeader; code: string; stop: boolean }
  | { type: 'unsynchronised'; header: NtpHeader; reason: string; code?: string }
  | { type: 'distance'; header: NtpHeader; distance: number; delay: number }
  | { type: 'invalid'; reason: string }
  | { type: 'timeout' }
  | { type: 'network'; error: NodeJS.ErrnoException };

interface Resolved {
  address: string;
  family: 4 | 6;
}

const seconds = (ms: number): string => `${+(ms / 1000).toFixed(3)} s`;

export async function querySntp(host: string, port: number = NTP_PORT, options: SntpOptions = {}): Promise<ServerResult> {
  const samplesWanted = Math.max(1, Math.floor(options.samples ?? DEFAULT_SAMPLES));
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const { signal } = options;
  const clock = options.clock ?? createLocalClock();
  const deadline = monotonicMs() + timeoutMs;
  signal?.throwIfAborted();

  const result: ServerResult = {
    host,
    port,
    address: null,
    stratum: null,
    leap: null,
    refid: null,
    offset: null,
    delay: null,
    rootDelay: null,
    rootDispersion: null,
    samples: 0,
    sent: 0,
    ignored: { malformed: 0, wrongOrigin: 0, stale: 0 },
    notes: [],
  };
  const smear = smearNote(host);
  if (smear) result.notes.push(smear);

  let addresses: Resolved[];
  try {
    addresses = await resolve(host, deadline, signal);
  } catch (err) {
    signal?.throwIfAborted();
    const e = err as NodeJS.ErrnoException;
    result.error =
      e.code === 'ETIMEOUT_LOCAL'
        ? { kind: 'dns', code: 'ETIMEOUT', message: `DNS lookup of ${host} did not finish within ${seconds(timeoutMs)}` }
        : { kind: 'dns', code: e.code, message: `DNS lookup of ${host} failed (${e.code ?? e.message}): check the name and the resolver` };
    return result;
  }

  let best: Sample | null = null;
  let kod: Extract<Outcome, { type: 'kod' }> | null = null;
  let unsync: Extract<Outcome, { type: 'unsynchronised' }> | null = null;
  let distance: Extract<Outcome, { type: 'distance' }> | null = null;
  let invalid: string | null = null;
  let network: NodeJS.ErrnoException | null = null;
  let lastHeader: NtpHeader | null = null;

  // Several addresses (dual-stack names, pools): move on only when one is unreachable outright, e.g.
  // an IPv6 address without an IPv6 route. Samples are never mixed across addresses: each may be a
  // different server with a different clock.
  for (const target of addresses) {
    result.address = target.address;
    network = null;
    const session = new Session(target, port, clock, result.ignored);
    try {
      await session.open(signal);
    } catch (err) {
      session.close();
      signal?.throwIfAborted();
      network = err as NodeJS.ErrnoException;
      continue;
    }
    try {
      let attempts = 0;
      while (result.samples < samplesWanted && attempts < samplesWanted * 2) {
        const remaining = deadline - monotonicMs();
        // Timers may fire a hair early; a request there is no time to wait for is just noise.
        if (remaining < 5) break;
        // Until one answer arrived, allow for a lost packet by splitting the budget; after that the
        // measured round trip tells how long a real answer takes.
        const wait = best
          ? Math.min(remaining, Math.max(250, best.delay * 4000))
          : Math.min(remaining, Math.max(1000, timeoutMs / 3));
        attempts++;
        result.sent++;
        const outcome = await session.exchange(wait, signal);
        if (outcome.type === 'sample') {
          result.samples++;
          if (!best || outcome.sample.delay < best.delay) best = outcome.sample;
          continue;
        }
        if (outcome.type === 'kod') {
          kod = outcome;
          lastHeader = outcome.header;
          if (outcome.stop) break;
          continue;
        }
        if (outcome.type === 'unsynchronised') {
          unsync = outcome;
          lastHeader = outcome.header;
          break;
        }
        if (outcome.type === 'invalid') {
          invalid = outcome.reason;
          continue;
        }
        if (outcome.type === 'distance') {
          // The root distance is the server's own statement of its error: another sample will not
          // change it much, but a shorter round trip can bring it under the limit.
          if (!distance || outcome.distance < distance.distance) distance = outcome;
          lastHeader = outcome.header;
          if (Math.max(0, outcome.header.rootDelay) / 2 + outcome.header.rootDispersion >= MAXDIST_S) break;
          continue;
        }
        if (outcome.type === 'network') {
          network = outcome.error;
          break;
        }
        // Timeout: after a success, a loss most often means rate limiting — keep what we have.
        if (best) break;
      }
    } finally {
      session.close();
    }
    if (best || kod || unsync || distance || invalid || !network) break;
  }

  const where = result.address && result.address !== host ? `${host} (${result.address})` : host;
  const header = best?.header ?? lastHeader;
  if (header) {
    result.stratum = header.stratum;
    result.leap = header.leap;
    result.refid = formatRefid(header.stratum, header.refidRaw);
    result.rootDelay = header.rootDelay;
    result.rootDispersion = header.rootDispersion;
  }

  if (best) {
    result.offset = best.offset;
    result.delay = best.delay;
    if (best.header.leap === 1 || best.header.leap === 2) {
      result.notes.push(`announces a leap second (${best.header.leap === 1 ? 'inserted' : 'deleted'}) at the end of the day`);
    }
    if (kod) {
      result.notes.push(`sent kiss code ${kod.code} after ${result.samples} sample(s); ${kod.stop ? 'stopped asking' : 'sample discarded'}`);
    }
    if (result.samples < samplesWanted && !kod) {
      result.notes.push(`only ${result.samples} of ${samplesWanted} samples answered`);
    }
    if (ignoredTotal(result.ignored) > 0) result.notes.push(describeIgnored(result.ignored));
    return result;
  }

  if (kod) {
    result.error = { kind: 'kod', code: kod.code, message: kodMessage(where, kod.code, kod.stop) };
  } else if (unsync) {
    result.error = {
      kind: 'unsynchronised',
      ...(unsync.code ? { code: unsync.code } : {}),
      message: `${where} answered but is not synchronised (${unsync.reason}): its time cannot be trusted`,
    };
  } else if (distance) {
    const h = distance.header;
    result.error = {
      kind: 'distance',
      message: `${where} is too far from its reference to be trusted: root distance ${distanceText(distance.distance)} (root delay ${distanceText(h.rootDelay)}, root dispersion ${distanceText(h.rootDispersion)}, round trip ${distanceText(distance.delay)}) — RFC 5905 accepts at most ${MAXDIST_S} s`,
    };
  } else if (invalid) {
    result.error = { kind: 'invalid', message: `${where} sent an unusable answer: ${invalid}` };
  } else if (network) {
    result.error = { kind: 'network', code: network.code, message: networkMessage(where, port, network) };
  } else if (result.ignored.stale > 0) {
    // Answers to our requests did come, only after the time left for them: slow, not blocked.
    result.error = {
      kind: 'timeout',
      message: `${where} answered, but too slowly: no answer arrived within ${seconds(timeoutMs)} while time was left to use it (${describeIgnored(result.ignored)}) — the path is slow or congested, not blocked; try a larger --timeout or a nearer server`,
    };
  } else {
    const ignored = ignoredTotal(result.ignored) > 0 ? ` (${describeIgnored(result.ignored)})` : '';
    result.error = {
      kind: 'timeout',
      message: `no answer from ${where} within ${seconds(timeoutMs)} — is UDP port ${port} blocked?${ignored}`,
    };
  }
  return result;
}

function distanceText(s: number): string {
  return s >= 100 ? `${Math.round(s)} s` : `${+s.toFixed(3)} s`;
}

function ignoredTotal(i: IgnoredPackets): number {
  return i.malformed + i.wrongOrigin + i.stale;
}

function describeIgnored(i: IgnoredPackets): string {
  const parts: string[] = [];
  if (i.wrongOrigin) parts.push(`${i.wrongOrigin} with a wrong origin timestamp (spoofed or misdirected)`);
  if (i.stale) parts.push(`${i.stale} late or duplicate`);
  if (i.malformed) parts.push(`${i.malformed} malformed`);
  return `ignored ${ignoredTotal(i)} packet(s): ${parts.join(', ')}`;
}

function kodMessage(where: string, code: string, stop: boolean): string {
  const meaning: Record<string, string> = {
    RATE: 'it is rate-limiting this client',
    DENY: 'it denies access to this client',
    RSTR: 'it restricts access from this client',
  };
  const why = meaning[code] ?? 'the server refused to give time';
  return `${where} sent kiss-o'-death ${code}: ${why}${stop ? '; not asked again' : ''}`;
}

function networkMessage(where: string, port: number, err: NodeJS.ErrnoException): string {
  if (err.code === 'ECONNREFUSED') {
    return `${where} refused UDP port ${port} (ICMP port unreachable): no NTP server listens there`;
  }
  if (err.code === 'ENETUNREACH' || err.code === 'EHOSTUNREACH' || err.code === 'EADDRNOTAVAIL') {
    return `cannot reach ${where}: ${err.code} (no route to that address${err.code === 'EADDRNOTAVAIL' ? ' family' : ''})`;
  }
  return `network error talking to ${where}: ${err.code ?? err.message}`;
}

async function resolve(host: string, deadline: number, signal: AbortSignal | undefined): Promise<Resolved[]> {
  const literal = ipFamily(host);
  if (literal) return [{ address: host, family: literal as 4 | 6 }];
  // Loaded only for names: an address needs no resolver.
  const { lookup } = await import('node:dns/promises');
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    // dns.lookup cannot be cancelled; racing it keeps the overall deadline honest.
    const found = await Promise.race([
      lookup(host, { all: true, verbatim: true }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(Object.assign(new Error('DNS timeout'), { code: 'ETIMEOUT_LOCAL' })),
          Math.max(0, deadline - monotonicMs()),
        );
        onAbort = () => reject(signal?.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    const usable = found.filter((a) => a.family === 4 || a.family === 6);
    if (usable.length === 0) throw Object.assign(new Error('no addresses'), { code: 'ENODATA' });
    return usable.map((a) => ({ address: a.address, family: a.family as 4 | 6 }));
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

interface Pending {
  origin: Buffer;
  t1: number;
  settle: (o: Outcome) => void;
}

/** One connected UDP socket; the kernel then drops datagrams from any other source. */
class Session {
  private readonly socket: Socket;
  private pending: Pending | null = null;
  /** Requests whose wait ended without an answer: a late answer to one is still a valid sample. */
  private readonly unanswered: Array<{ origin: Buffer; t1: number }> = [];
  private readonly answered: Buffer[] = [];
  private lateError: NodeJS.ErrnoException | null = null;

  constructor(
    private readonly target: Resolved,
    private readonly port: number,
    private readonly clock: LocalClock,
    private readonly ignored: IgnoredPackets,
  ) {
    const family = target.family;
    this.socket = createSocket({
      type: family === 6 ? 'udp6' : 'udp4',
      // The socket only ever sees addresses: the one resolve() found, and the wildcard it binds to.
      // dgram's default lookup would load node:dns at every start just to hand them back.
      lookup: (address, _options, callback) => process.nextTick(callback, null, address, family),
    });
    this.socket.on('message', (msg) => this.onMessage(msg, this.clock()));
    this.socket.on('error', (err: NodeJS.ErrnoException) => {
      // ECONNREFUSED arrives here from an ICMP port-unreachable on the connected socket.
      if (this.pending) this.finish({ type: 'network', error: err });
      else this.lateError = err;
    });
  }

  /** Bind and connect before any T1 is stamped, so socket setup never counts as network delay. */
  async open(signal: AbortSignal | undefined): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.socket.once('error', onError);
      this.socket.bind(0, () => {
        this.socket.connect(this.port, this.target.address, () => {
          this.socket.off('error', onError);
          resolve();
        });
      });
    });
    signal?.throwIfAborted();
  }

  exchange(waitMs: number, signal: AbortSignal | undefined): Promise<Outcome> {
    if (this.lateError) return Promise.resolve({ type: 'network', error: this.lateError });
    return new Promise<Outcome>((resolve, reject) => {
      const timer = setTimeout(() => this.finish({ type: 'timeout' }), waitMs);
      const onAbort = () => {
        cleanup();
        this.pending = null;
        reject(signal?.reason);
      };
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const t1 = this.clock();
      const { packet, origin } = buildRequest(t1);
      this.pending = {
        origin,
        t1,
        settle: (o) => {
          cleanup();
          resolve(o);
        },
      };
      this.socket.send(packet, (err) => {
        if (err) this.finish({ type: 'network', error: err as NodeJS.ErrnoException });
      });
    });
  }

  private finish(outcome: Outcome, answered = outcome.type !== 'timeout' && outcome.type !== 'network'): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    if (answered) this.answered.push(p.origin);
    else this.unanswered.push({ origin: p.origin, t1: p.t1 });
    p.settle(outcome);
  }

  private onMessage(msg: Buffer, t4: number): void {
    const h = parseHeader(msg);
    if (!h) {
      this.ignored.malformed++;
      return;
    }
    const p = this.pending;
    let t1: number;
    if (p && h.origin.equals(p.origin)) {
      t1 = p.t1;
    } else {
      // An answer to an earlier request whose wait ran out: slow, but it carries our origin and so
      // is as trustworthy as a prompt one — its round trip is simply longer, which the least-delay
      // choice and the root distance account for. It ends the wait in flight (that request's own
      // answer, when it comes, is taken the same way). Anything else is ignored: a spoofer cannot
      // end an exchange.
      const earlier = this.unanswered.findIndex((u) => u.origin.equals(h.origin));
      if (earlier < 0 || !p) {
        if (earlier >= 0 || this.answered.some((o) => o.equals(h.origin))) this.ignored.stale++;
        else this.ignored.wrongOrigin++;
        return;
      }
      t1 = this.unanswered[earlier]!.t1;
      this.unanswered.splice(earlier, 1);
      this.answered.push(h.origin);
    }
    const cls = classifyReply(h);
    if (cls.kind === 'kod') return this.finish({ type: 'kod', header: h, code: cls.code, stop: cls.stop });
    if (cls.kind === 'unsynchronised') {
      return this.finish({ type: 'unsynchronised', header: h, reason: cls.reason, code: cls.code });
    }
    if (cls.kind === 'invalid') return this.finish({ type: 'invalid', reason: cls.reason });
    // A negative root delay (a signed field some servers fill oddly) counts as none.
    const rootHalf = Math.max(0, h.rootDelay) / 2;
    if (!(h.rootDispersion >= 0) || rootHalf + h.rootDispersion >= MAXDISP_S) {
      return this.finish({ type: 'distance', header: h, distance: rootHalf + h.rootDispersion, delay: t4 - t1 });
    }
    const t2 = ntpToUnix(h.receive, t1);
    const t3 = ntpToUnix(h.transmit, t4);
    if (t3 < t2) return this.finish({ type: 'invalid', reason: 'transmit timestamp earlier than receive timestamp' });
    const offset = (t2 - t1 + (t3 - t4)) / 2;
    const delay = t4 - t1 - (t3 - t2);
    const distance = rootHalf + h.rootDispersion + delay / 2;
    if (distance > MAXDIST_S) return this.finish({ type: 'distance', header: h, distance, delay });
    this.finish({ type: 'sample', sample: { offset, delay, header: h } });
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // Already closed (e.g. bind failed).
    }
  }
}
