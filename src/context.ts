import type { Command } from 'commander';
import type { Output } from './ui/output.js';
import type { Session } from './whmcs/connection/session.js';
import type { ChangeOptions, Plan } from './whmcs/changes/change.js';
import type { DuoHttpClient } from './services/duo.js';
import { IOStreams } from './ui/iostreams.js';
import { UsageError } from './errors.js';

/** Mirrors DEFAULT_TIMEOUT_MS in src/whmcs/connection/db.ts (not imported: that module loads with the driver). */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** A number of seconds (`30`, `2.5`) as milliseconds; undefined when not given. */
export function parseTimeout(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\s*\d+(\.\d+)?\s*$/.test(text) || Number(text) <= 0 || Number(text) > 86_400) {
    throw new UsageError(`${name} must be a number of seconds above 0 and at most 86400, such as 30 or 2.5, got "${text}"`);
  }
  return Number(text) * 1000;
}

export interface GlobalOptions {
  whmcsDir?: string;
  db?: string;
  format?: string;
  yes?: boolean;
  dryRun?: boolean;
  quiet?: boolean;
  color?: boolean;
  showSecrets?: boolean;
  timeout?: string;
}

/**
 * What the program hands its commands besides their options: the seams to the outside world that
 * tests replace. Everything absent means the real thing.
 */
export interface Dependencies {
  /** The terminal, environment and working directory of the run; default: this process's. */
  io?: IOStreams;
  /** Transport for Duo's health check; default: the Duo library's own HTTPS client (Duo's CAs pinned). */
  duoHttpClient?: DuoHttpClient;
}

/** One run of the program: what main() was given, and the exit code its command ended with. */
export interface ProgramRun {
  io: IOStreams;
  deps: Dependencies;
  exitCode?: number;
}

const programRuns = new WeakMap<Command, ProgramRun>();

/** Starts a run of `program`: every command it runs gets these dependencies (see `main`). */
export function startRun(program: Command, deps: Dependencies): ProgramRun {
  const run: ProgramRun = { io: deps.io ?? IOStreams.system(), deps };
  programRuns.set(program, run);
  return run;
}

/** The run the program `cmd` belongs to (a program parsed without main(): this process's terminal). */
export function runOf(cmd: Command): ProgramRun {
  let c: Command | null = cmd;
  while (c) {
    const run = programRuns.get(c);
    if (run) return run;
    c = c.parent;
  }
  return startRun(rootOf(cmd), {});
}

function rootOf(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}

/** The command line the program `cmd` belongs to parsed, as given (commander keeps it as `rawArgs`). */
export function argvOf(cmd: Command): string[] {
  return (rootOf(cmd) as unknown as { rawArgs?: string[] }).rawArgs ?? [];
}

/**
 * How the program ends before a command has run (help, version, a command-line error): thrown
 * from commander's exit override, caught by main(), which returns the code.
 */
export class ProgramExit extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = 'ProgramExit';
  }
}

/**
 * Per-invocation state shared by every command: parsed global options, the output layer and a
 * lazily opened database session (commands that never touch the database never load a driver).
 */
export class Context {
  private sessionPromise?: Promise<Session>;
  readonly warnings: string[] = [];

  constructor(
    readonly opts: GlobalOptions,
    readonly out: Output,
    readonly io: IOStreams,
    readonly deps: Dependencies = {},
  ) {}

  /** The environment the run sees (the process's, or what a test gives). */
  get env(): NodeJS.ProcessEnv {
    return this.io.env;
  }

  /**
   * --timeout in milliseconds (default 30 s): how long the run may wait on the database — to
   * connect (at most 10 s), for each lock, for any answer at all. A bad value is a usage error.
   */
  get timeoutMs(): number {
    return parseTimeout(this.opts.timeout, '--timeout') ?? DEFAULT_TIMEOUT_MS;
  }

  get showSecrets(): boolean {
    return Boolean(this.opts.showSecrets);
  }

  session(): Promise<Session> {
    this.sessionPromise ??= (async () => {
      const { openSession } = await import('./whmcs/connection/connect.js');
      return openSession({
        whmcsDir: this.opts.whmcsDir,
        dbUrl: this.opts.db,
        env: this.env,
        cwd: this.io.cwd,
        askPassword: this.passwordPrompt(),
        warn: (w) => this.out.warn(w),
        waits: {
          timeoutMs: this.timeoutMs,
          onWait: (note) => this.out.info(`Note: ${note}`),
          // The connection is dead: nothing can be rolled back or reported from it, so say so and end.
          onStall: (e) => {
            this.out.error(e.message, e.exitCode);
            this.io.exit(e.exitCode);
          },
        },
      });
    })();
    return this.sessionPromise;
  }

  /** The hidden password prompt on a terminal; without one there is nobody to ask. */
  passwordPrompt(): ((question: string) => Promise<string>) | undefined {
    if (!this.io.canPrompt) return undefined;
    return (question) => this.io.prompt.secret(question);
  }

  /** How writes ask: a prompt on a TTY, a refusal without one unless --yes. */
  changeOptions(question?: string): ChangeOptions {
    const out = this.out;
    return {
      dryRun: Boolean(this.opts.dryRun),
      yes: Boolean(this.opts.yes),
      confirmQuestion: question,
      warn: (m: string) => out.warn(m),
      confirm: this.io.canPrompt
        ? async (q: string, plan: Plan) => {
            this.io.stderr.write(out.renderBlocks([{ kind: 'diff', title: 'About to change:', lines: plan.diff }]));
            for (const n of plan.notes) out.warn(n);
            return this.io.prompt.confirm(q);
          }
        : undefined,
    };
  }

  async close(): Promise<void> {
    if (!this.sessionPromise) return;
    const s = await this.sessionPromise.catch(() => null);
    await s?.close();
  }
}
