import { spawn } from 'node:child_process';
import { tempDir } from './tmp.js';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { testIO } from './io.js';
import type { Dependencies } from '../../src/context.js';

export const BIN = resolve(import.meta.dirname, '../../bin/whmcs-2fa.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json?: any;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  cwd?: string;
  timeoutMs?: number;
  /**
   * Run the built CLI (bin/whmcs-2fa.js; npm test builds dist/ first) as a real process instead of
   * the program in this one: for what only a process shows (start-up, its streams and file
   * descriptors, signals, an exit that must not wait for hung work, environment read at load).
   */
  process?: boolean;
  /** Another entry to run as a process instead of bin/whmcs-2fa.js (implies `process`). */
  script?: string;
  /** In this process: seams given to main() besides the terminal (e.g. Duo's transport). */
  deps?: Omit<Dependencies, 'io'>;
  /**
   * Tests read JSON: without a --format of their own, runs get `--format json` (the CLI's default
   * is the table, in pipes too). `asTyped: true` runs the arguments exactly as given.
   */
  asTyped?: boolean;
}

const withFormat = (args: string[], opts: CliOptions): string[] =>
  opts.asTyped || args.some((a) => a === '--format' || a.startsWith('--format=')) ? args : ['--format', 'json', ...args];

/** A private undo-journal location per test file, so tests never touch the real one. */
export const TEST_STATE_HOME = tempDir('whmcs2fa-state-');

/** The environment a run sees: this one's, a private state directory, no colour, and what the test adds. */
function runEnv(opts: CliOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, XDG_STATE_HOME: TEST_STATE_HOME, NO_COLOR: '1', ...opts.env })) {
    if (v !== undefined) env[k] = v;
  }
  delete env.WHMCS_DB_URL;
  if (opts.env?.WHMCS_DB_URL) env.WHMCS_DB_URL = opts.env.WHMCS_DB_URL;
  return env;
}

function parsed(code: number, stdout: string, stderr: string): CliResult {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    /* not JSON */
  }
  return { code, stdout, stderr, json };
}

/**
 * Runs the program without a TTY, so changes need --yes, exactly like a provisioning script: by
 * default main() in this process with in-memory streams (test/helpers/io.ts); with `process` or
 * `script`, the built CLI as a real process. `json` is parsed stdout when it is JSON.
 */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return opts.process || opts.script ? runProcess(args, opts) : runInProcess(args, opts);
}

/**
 * The program as the process entry runs it (src/cli.ts `run`): what escapes main() is one Error
 * line and exit 1. A run still going at `timeoutMs` ends with exit -1, as a killed process reports.
 */
async function runInProcess(args: string[], opts: CliOptions): Promise<CliResult> {
  const { main } = await import('../../src/cli.js');
  const t = testIO({ stdin: opts.input ?? '', env: runEnv(opts), cwd: opts.cwd ?? tmpdir() });
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<number>((res) => (timer = setTimeout(() => res(-1), opts.timeoutMs ?? 30_000)));
  let code: number;
  try {
    code = await Promise.race([main([process.execPath, BIN, ...withFormat(args, opts)], { ...opts.deps, io: t.io }), late]);
  } catch (e) {
    t.io.stderr.write(`Error: ${(e as Error | undefined)?.message ?? e}\n`);
    code = 1;
  } finally {
    clearTimeout(timer);
  }
  return parsed(code, t.stdout(), t.stderr());
}

function runProcess(args: string[], opts: CliOptions): Promise<CliResult> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [opts.script ?? BIN, ...withFormat(args, opts)], { env: runEnv(opts), cwd: opts.cwd ?? tmpdir(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', rej);
    child.on('close', (code) => {
      clearTimeout(timer);
      res(parsed(code ?? -1, stdout, stderr));
    });
    child.stdin.end(opts.input ?? '');
  });
}
