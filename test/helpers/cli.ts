import { spawn } from 'node:child_process';
import { tempDir } from './tmp.js';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';

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
  /** Another entry to run instead of bin/whmcs-2fa.js (e.g. the built program with a test transport). */
  script?: string;
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

/**
 * Runs the built CLI (npm test builds dist/ first) as a real process: no TTY, so changes need
 * --yes, exactly like a provisioning script. `json` is parsed stdout when it is JSON.
 */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((res, rej) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, XDG_STATE_HOME: TEST_STATE_HOME, NO_COLOR: '1', ...opts.env })) {
      if (v !== undefined) env[k] = v;
    }
    delete env.WHMCS_DB_URL;
    if (opts.env?.WHMCS_DB_URL) env.WHMCS_DB_URL = opts.env.WHMCS_DB_URL;
    const child = spawn(process.execPath, [opts.script ?? BIN, ...withFormat(args, opts)], { env, cwd: opts.cwd ?? tmpdir(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', rej);
    child.on('close', (code) => {
      clearTimeout(timer);
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        /* not JSON */
      }
      res({ code: code ?? -1, stdout, stderr, json });
    });
    child.stdin.end(opts.input ?? '');
  });
}
