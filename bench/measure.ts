/**
 * Timing, CPU and memory primitives. Every command is a real process started with spawnSync, so the
 * harness sleeps in the kernel while it runs and adds no load of its own. The sides of a
 * comparison (peer, floor, ours) are interleaved in a rotating order (P F O, F O P, O P F, …):
 * drift in machine load hits every side alike instead of one.
 *
 * CPU is counted by the kernel, not sampled: a child's user+sys time is what this process's
 * cumulative children's time (/proc/self/stat cutime+cstime, which spawnSync's wait adds it to)
 * grew by over the run. The kernel keeps it in nanoseconds but shows it in clock ticks (1/100 s):
 * one run's figure can be off by a tick, so rows report the mean over all timed runs, whose error
 * shrinks with their number. The database server's is the growth of its threads' on-CPU time
 * (each /proc/<pid>/task/<tid>/schedstat, nanoseconds), or of mariadbd's utime+stime in ticks when a thread
 * ended during the run.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import { join } from 'node:path';

export interface Cmd {
  argv: string[];
  /** Shown in the table and the JSON. */
  label: string;
}

export interface RunResult {
  ms: number;
  /** This command's own CPU time (user + sys), ms. */
  cpuMs: number;
  /** The database server's CPU time over the same interval, ms; null when it cannot be read. */
  serverCpuMs: number | null;
  status: number | null;
  /** The output when asked for (capture) and under CAPTURE_LIMIT bytes; else ''. */
  stdout: string;
  /** Where the output is, until the next run: checks of large outputs scan it with eachLine(). */
  stdoutFile: string;
  stderr: string;
}

/** Larger outputs (a million accounts' listing: hundreds of MB) are not read into one string. */
const CAPTURE_LIMIT = 16 * 1024 * 1024;

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Keep stdout (warm-up runs, to check the output); timed runs write it to a file and drop it. */
  capture?: boolean;
  timeoutMs?: number;
}

const scratch = mkdtempSync(join(tmpdir(), 'whmcs-2fa-bench-out-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

const TICK_MS = 1000 / (Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100);

/** Fields 14–17 of /proc/<pid>/stat (utime, stime, cutime, cstime), in ms. */
function procTimes(pid: number | 'self'): { self: number; children: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // Fields after the command name, which may itself hold spaces and parentheses: field k is rest[k - 3].
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const n = (k: number) => Number(rest[k - 3]) * TICK_MS;
  return { self: n(14) + n(15), children: n(16) + n(17) };
}

/** CPU time of the children this process has waited for, ms. */
function childrenCpuMs(): number {
  return procTimes('self')!.children;
}

let serverPid: number | null = null;

/**
 * Points server-CPU accounting at the database server's process, when it runs on this machine and
 * can be read (root, or the same user). Returns why not, or null.
 */
export function watchServer(pidFile: string | null): string | null {
  serverPid = null;
  if (!pidFile || !existsSync(pidFile)) return `the server's pid file (${pidFile ?? 'unknown'}) is not on this machine`;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  const comm = existsSync(`/proc/${pid}/comm`) ? readFileSync(`/proc/${pid}/comm`, 'utf8').trim() : '';
  if (!/^(mariadbd|mysqld)$/.test(comm)) return `pid ${pid} from ${pidFile} is not mariadbd/mysqld`;
  if (!procTimes(pid)) return `/proc/${pid}/stat cannot be read`;
  serverPid = pid;
  return null;
}

export interface ServerCpu {
  /** utime + stime of the whole process (threads that ended included), ms in 10 ms ticks. */
  ticksMs: number;
  /** Per live thread, on-CPU nanoseconds (/proc/<pid>/task/<tid>/schedstat): exact, but a thread that ends takes its share away. */
  threads: Map<string, number>;
}

export function serverCpuNow(): ServerCpu | null {
  if (serverPid === null) return null;
  const ticks = procTimes(serverPid);
  if (!ticks) return null;
  const threads = new Map<string, number>();
  try {
    for (const tid of readdirSync(`/proc/${serverPid}/task`)) {
      try {
        threads.set(tid, Number(readFileSync(`/proc/${serverPid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]));
      } catch {
        // Ended between the listing and the read.
      }
    }
  } catch {
    threads.clear();
  }
  return { ticksMs: ticks.self, threads };
}

/**
 * The server's CPU between two readings, ms: the exact per-thread sum when every thread seen before
 * is still there (mariadbd keeps connection threads in its thread cache), else the tick count.
 */
export function serverCpuBetween(a: ServerCpu | null, b: ServerCpu | null): number | null {
  if (!a || !b) return null;
  if (a.threads.size && [...a.threads.keys()].every((t) => b.threads.has(t))) {
    let ns = 0;
    for (const [t, v] of b.threads) ns += v - (a.threads.get(t) ?? 0);
    return ns / 1e6;
  }
  return b.ticksMs - a.ticksMs;
}

/**
 * Runs one command to the end and returns its wall time and CPU. stdout goes to a regular file, as
 * with `> out.json`: a pipe would make the harness read it concurrently and so compete for the CPU.
 */
export function runOnce(cmd: Cmd, o: RunOptions): RunResult {
  const outFile = join(scratch, 'stdout');
  const fd = openSync(outFile, 'w');
  let r;
  const cpu0 = childrenCpuMs();
  const srv0 = serverCpuNow();
  const t0 = process.hrtime.bigint();
  try {
    r = spawnSync(cmd.argv[0]!, cmd.argv.slice(1), {
      env: o.env,
      cwd: o.cwd,
      stdio: ['ignore', fd, 'pipe'],
      timeout: o.timeoutMs ?? 600_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  } finally {
    closeSync(fd);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const srv1 = serverCpuNow();
  const cpuMs = childrenCpuMs() - cpu0;
  if (r.error) throw new Error(`${cmd.label}: ${r.error.message}`);
  return {
    ms,
    cpuMs,
    serverCpuMs: serverCpuBetween(srv0, srv1),
    status: r.status,
    stdout: o.capture && statSync(outFile).size <= CAPTURE_LIMIT ? readFileSync(outFile, 'utf8') : '',
    stdoutFile: outFile,
    stderr: String(r.stderr ?? ''),
  };
}

export interface Side {
  cmd: Cmd;
  /** Added to the common environment for this side only. */
  env?: NodeJS.ProcessEnv;
  /** Restores or prepares state before each of this side's runs; not timed. */
  before?: () => Promise<void>;
}

export interface Samples {
  ms: number[];
  cpuMs: number[];
  /** Empty when the server's CPU cannot be read. */
  serverCpuMs: number[];
}

export interface SetSpec<K extends string> {
  sides: Record<K, Side>;
  warmup: number;
  runs: number;
  /** Checks a warm-up run's output (exit 0 is always required); returns a problem or null. */
  check?: (side: K, r: RunResult) => Promise<string | null> | string | null;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface SetResult<K extends string> {
  samples: Record<K, Samples>;
  loadBefore: number;
  loadAfter: number;
}

export async function measureSet<K extends string>(p: SetSpec<K>): Promise<SetResult<K>> {
  const names = Object.keys(p.sides) as K[];
  const samples = Object.fromEntries(names.map((k) => [k, { ms: [], cpuMs: [], serverCpuMs: [] }])) as unknown as Record<K, Samples>;
  const loadBefore = loadavg()[0]!;
  for (let i = 0; i < p.warmup + p.runs; i++) {
    const warm = i < p.warmup;
    // Warm-up output is checked; without warm-ups (--warmup 0, a quick run), the first timed run's.
    const checked = warm || (p.warmup === 0 && i === 0);
    // Rotate who goes first, so no side always runs right after another's cache effects.
    const order = names.map((_, j) => names[(i + j) % names.length]!);
    for (const name of order) {
      const side = p.sides[name];
      await side.before?.();
      const r = runOnce(side.cmd, { env: { ...p.env, ...side.env }, cwd: p.cwd, capture: checked });
      const problem = r.status !== 0 ? `exit ${r.status}` : checked ? ((await p.check?.(name, r)) ?? null) : null;
      if (problem) throw new Error(`${side.cmd.label}: ${problem}\n${r.stderr.slice(0, 2000)}`);
      if (!warm) {
        samples[name].ms.push(r.ms);
        samples[name].cpuMs.push(r.cpuMs);
        if (r.serverCpuMs !== null) samples[name].serverCpuMs.push(r.serverCpuMs);
      }
    }
  }
  return { samples, loadBefore, loadAfter: loadavg()[0]! };
}

export interface PeakRss {
  /** ru_maxrss of each run, bytes. */
  bytes: number[];
  /** The process's own user+sys CPU of each run (process.resourceUsage), ms: microsecond resolution. */
  cpuMs: number[];
}

/**
 * Peak RSS of a Node command: the child preloads bench/maxrss.cjs, which writes
 * process.resourceUsage() (maxRSS is getrusage's ru_maxrss, KiB) when the process exits.
 */
export async function measurePeakRss(cmd: Cmd, o: RunOptions & { preload: string; runs: number; before?: () => Promise<void> }): Promise<PeakRss> {
  const file = join(scratch, 'maxrss');
  const out: PeakRss = { bytes: [], cpuMs: [] };
  for (let i = 0; i < o.runs; i++) {
    await o.before?.();
    rmSync(file, { force: true });
    const argv = [cmd.argv[0]!, '--require', o.preload, ...cmd.argv.slice(1)];
    const r = runOnce({ argv, label: cmd.label }, { ...o, env: { ...o.env, WHMCS_2FA_BENCH_MAXRSS_FILE: file } });
    if (r.status !== 0) throw new Error(`${cmd.label} (peak RSS run): exit ${r.status}\n${r.stderr.slice(0, 2000)}`);
    const u = JSON.parse(readFileSync(file, 'utf8')) as { maxRSS: number; userCPUTime: number; systemCPUTime: number };
    out.bytes.push(u.maxRSS * 1024);
    out.cpuMs.push((u.userCPUTime + u.systemCPUTime) / 1000);
  }
  return out;
}

/** Calls `fn` with each line of a file (without its newline), reading it 1 MiB at a time; `fn` returning false stops. */
export function eachLine(file: string, fn: (line: string) => boolean | void): void {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1024 * 1024);
    // A character cut at a chunk's end is completed from the next one.
    const text = new StringDecoder('utf8');
    let rest = '';
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) {
      const lines = (rest + text.write(buf.subarray(0, n))).split('\n');
      rest = lines.pop()!;
      for (const line of lines) if (fn(line) === false) return;
    }
    if (rest) fn(rest);
  } finally {
    closeSync(fd);
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function mean(xs: number[]): number | null {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

/** Whether a program is on PATH. */
export function which(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}
