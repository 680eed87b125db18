/**
 * Real NTP peers for tests: private chronyd instances on loopback, optionally under faketime.
 * chronyd is ALWAYS started with -x, so it never adjusts this machine's clock.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ChronyPeer {
  port: number;
  dir: string;
  /** Whether chronyd also listens on ::1. */
  ipv6: boolean;
  log(): string;
  stop(): Promise<void>;
}

export interface ChronyOptions {
  /** Serve local time at stratum 10 (default). Without it chronyd answers LI=3, stratum 0. */
  localStratum?: boolean;
  /** A faketime spec such as '+90s': chronyd then serves a shifted clock. */
  faketime?: string;
  /** Also bind ::1. */
  ipv6?: boolean;
}

/** A UDP port that was free a moment ago on 127.0.0.1 (and ::1 when asked). */
export async function freeUdpPort(alsoIpv6 = false): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const s = createSocket('udp4');
    const port = await new Promise<number>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, '127.0.0.1', () => resolve(s.address().port));
    });
    await new Promise<void>((r) => s.close(() => r()));
    if (!alsoIpv6 || (await canBind('udp6', '::1', port))) return port;
  }
  throw new Error('no free UDP port found');
}

async function canBind(type: 'udp4' | 'udp6', address: string, port = 0): Promise<boolean> {
  const s = createSocket(type);
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, address, () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    try {
      s.close();
    } catch {
      // never bound
    }
  }
}

/** True when the IPv6 loopback exists here (some containers disable IPv6). */
export function hasIpv6Loopback(): Promise<boolean> {
  return canBind('udp6', '::1');
}

export function chronyConfig(dir: string, port: number, o: ChronyOptions): string {
  // No trailing comments on directive lines: chronyd rejects them.
  const lines = [`port ${port}`, 'bindaddress 127.0.0.1', 'allow 127.0.0.1'];
  if (o.ipv6) lines.push('bindaddress ::1', 'allow ::1');
  if (o.localStratum !== false) lines.push('local stratum 10');
  lines.push('cmdport 0', `pidfile ${join(dir, 'chronyd.pid')}`, `driftfile ${join(dir, 'drift')}`);
  return lines.join('\n') + '\n';
}

/** Sends bare client requests until anything comes back: chronyd is then really serving. */
async function waitUntilAnswering(port: number, child: ChildProcess, log: () => string, timeoutMs = 5000): Promise<void> {
  const s = createSocket('udp4');
  const request = Buffer.alloc(48);
  request[0] = 0x23;
  try {
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`chronyd did not answer on port ${port} within ${timeoutMs} ms:\n${log()}`)), timeoutMs);
      const onExit = (code: number | null) => reject(new Error(`chronyd exited early (${code}):\n${log()}`));
      child.once('exit', onExit);
      const tick = setInterval(() => s.send(request, port, '127.0.0.1'), 10);
      s.on('message', () => {
        clearTimeout(deadline);
        clearInterval(tick);
        child.off('exit', onExit);
        resolve();
      });
      s.on('error', () => {
        // ECONNREFUSED before chronyd bound: keep trying until the deadline.
      });
      s.send(request, port, '127.0.0.1');
    });
  } finally {
    s.close();
  }
}

export async function startChronyd(o: ChronyOptions = {}): Promise<ChronyPeer> {
  let lastError: unknown;
  // A port picked as free can be taken before chronyd binds it; a fresh port fixes that.
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = await mkdtemp(join(tmpdir(), 'whmcs-2fa-chrony-'));
    const port = await freeUdpPort(o.ipv6);
    const conf = join(dir, 'chrony.conf');
    await writeFile(conf, chronyConfig(dir, port, o));
    const chronyArgs = ['-x', '-d', '-f', conf];
    const [cmd, args] = o.faketime ? ['faketime', ['-f', o.faketime, 'chronyd', ...chronyArgs]] : ['chronyd', chronyArgs];
    // Own process group: faketime forks chronyd, and both must go when the test ends.
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          // already gone
        }
        await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      }
      await rm(dir, { recursive: true, force: true });
    };
    try {
      await waitUntilAnswering(port, child, () => output);
      return { port, dir, ipv6: !!o.ipv6, log: () => output, stop };
    } catch (err) {
      lastError = err;
      await stop();
    }
  }
  throw lastError;
}

/**
 * Measures the offset to a loopback server with chronyd itself: `chronyd -Q` takes its samples,
 * prints "System clock wrong by X seconds (ignored)" and exits without touching the clock (-x as
 * well, to be sure). Without minpoll/maxpoll -6 iburst spaces its samples 2 s apart (~4 s total).
 * Returns X, which uses the NTP sign convention (positive: the local clock is behind).
 */
export async function chronydMeasure(port: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'whmcs-2fa-chronyq-'));
  try {
    const conf = join(dir, 'q.conf');
    await writeFile(
      conf,
      [`server 127.0.0.1 port ${port} iburst minpoll -6 maxpoll -6`, `pidfile ${join(dir, 'q.pid')}`, 'cmdport 0', ''].join('\n'),
    );
    const output = await new Promise<string>((resolve, reject) => {
      execFile('chronyd', ['-x', '-Q', '-f', conf], { timeout: 15_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`chronyd -Q failed: ${err.message}\n${stdout}${stderr}`));
        else resolve(`${stdout}${stderr}`);
      });
    });
    const m = /System clock wrong by (-?\d+(?:\.\d+)?) seconds/.exec(output);
    if (!m) throw new Error(`chronyd -Q printed no offset:\n${output}`);
    return Number(m[1]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
