/**
 * Timing and memory primitives. Every command is a real process started with spawnSync, so the
 * harness sleeps in the kernel while it runs and adds no load of its own. Baseline and ours are
 * interleaved (B O O B B O …): drift in machine load hits both sides alike instead of one.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Cmd {
  argv: string[];
  /** Shown in the table and the JSON. */
  label: string;
}

export interface RunResult {
  ms: number;
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Keep stdout (warm-up runs, to check the output); timed runs write it to a file and drop it. */
  capture?: boolean;
  timeoutMs?: number;
}

const scratch = mkdtempSync(join(tmpdir(), 'whmcs-2fa-bench-out-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

/**
 * Runs one command to the end and returns its wall time. stdout goes to a regular file, as with
 * `> out.json`: a pipe would make the harness read it concurrently and so compete for the CPU.
 */
export function runOnce(cmd: Cmd, o: RunOptions): RunResult {
  const outFile = join(scratch, 'stdout');
  const fd = openSync(outFile, 'w');
  let r;
  const t0 = process.hrtime.bigint();
  try {
    r = spawnSync(cmd.argv[0]!, cmd.argv.slice(1), {
      env: o.env,
      cwd: o.cwd,
      stdio: ['ignore', fd, 'pipe'],
      timeout: o.timeoutMs ?? 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  } finally {
    closeSync(fd);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.error) throw new Error(`${cmd.label}: ${r.error.message}`);
  return { ms, status: r.status, stdout: o.capture ? readFileSync(outFile, 'utf8') : '', stderr: String(r.stderr ?? '') };
}

export interface Pair {
  baseline: number[];
  ours: number[];
  loadBefore: number;
  loadAfter: number;
}

export interface PairSpec {
  baseline: Cmd;
  ours: Cmd;
  warmup: number;
  runs: number;
  /** Restores state before every run of either side; not timed. */
  before?: () => Promise<void>;
  /** Checks a warm-up run's output (exit 0 is always required); returns a problem or null. */
  check?: (side: 'baseline' | 'ours', r: RunResult) => string | null;
  env: NodeJS.ProcessEnv;
  /** Added to `env` for our side only. */
  oursEnv?: NodeJS.ProcessEnv;
  cwd: string;
}

export async function measurePair(p: PairSpec): Promise<Pair> {
  const out: Pair = { baseline: [], ours: [], loadBefore: loadavg()[0]!, loadAfter: 0 };
  for (let i = 0; i < p.warmup + p.runs; i++) {
    const warm = i < p.warmup;
    // Alternate who goes first, so neither side always runs right after the other's cache effects.
    const order: Array<'baseline' | 'ours'> = i % 2 === 0 ? ['baseline', 'ours'] : ['ours', 'baseline'];
    for (const side of order) {
      await p.before?.();
      const r = runOnce(p[side], { env: side === 'ours' ? { ...p.env, ...p.oursEnv } : p.env, cwd: p.cwd, capture: warm });
      if (warm) {
        const problem = r.status !== 0 ? `exit ${r.status}` : (p.check?.(side, r) ?? null);
        if (problem) throw new Error(`${p[side].label}: ${problem}\n${r.stderr.slice(0, 2000)}`);
      } else {
        out[side].push(r.ms);
      }
    }
  }
  out.loadAfter = loadavg()[0]!;
  return out;
}

/**
 * Peak RSS of one run in bytes: the child preloads bench/maxrss.cjs, which writes
 * process.resourceUsage().maxRSS (getrusage's ru_maxrss, KiB) when the process exits.
 */
export async function measurePeakRss(cmd: Cmd, o: RunOptions & { preload: string; runs: number; before?: () => Promise<void> }): Promise<number[]> {
  const file = join(scratch, 'maxrss');
  const peaks: number[] = [];
  for (let i = 0; i < o.runs; i++) {
    await o.before?.();
    rmSync(file, { force: true });
    const argv = [cmd.argv[0]!, '--require', o.preload, ...cmd.argv.slice(1)];
    const r = runOnce({ argv, label: cmd.label }, { ...o, env: { ...o.env, WHMCS_2FA_BENCH_MAXRSS_FILE: file } });
    if (r.status !== 0) throw new Error(`${cmd.label} (peak RSS run): exit ${r.status}\n${r.stderr.slice(0, 2000)}`);
    peaks.push(Number(readFileSync(file, 'utf8')) * 1024);
  }
  return peaks;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
