import type { Command } from 'commander';
import type { Output } from './ui/output.js';
import type { Session } from './whmcs/connection/session.js';
import type { ChangeOptions, Plan } from './whmcs/changes/change.js';
import type { DuoHttpClient } from './services/duo.js';
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
  /** Transport for Duo's health check; default: the Duo library's own HTTPS client (Duo's CAs pinned). */
  duoHttpClient?: DuoHttpClient;
}

const programDependencies = new WeakMap<Command, Dependencies>();

/** Gives every command run by `program` these dependencies (see `main`). */
export function provideDependencies(program: Command, deps: Dependencies): void {
  programDependencies.set(program, deps);
}

/** The dependencies given to the program `cmd` belongs to. */
export function dependenciesOf(cmd: Command): Dependencies {
  let c: Command | null = cmd;
  while (c) {
    const deps = programDependencies.get(c);
    if (deps) return deps;
    c = c.parent;
  }
  return {};
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
    readonly env: NodeJS.ProcessEnv = process.env,
    private interactiveOverride?: boolean,
    readonly deps: Dependencies = {},
  ) {}

  /**
   * Both stdin and stdout are terminals. Asked on first use: creating process.stdin loads Node's
   * file-stream machinery, start-up time that a command which never prompts should not pay.
   */
  get interactive(): boolean {
    this.interactiveOverride ??= Boolean(process.stdin.isTTY && process.stdout.isTTY);
    return this.interactiveOverride;
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
        cwd: process.cwd(),
        askPassword: this.passwordPrompt(),
        warn: (w) => this.out.warn(w),
        waits: {
          timeoutMs: this.timeoutMs,
          onWait: (note) => this.out.info(`Note: ${note}`),
          // The connection is dead: nothing can be rolled back or reported from it, so say so and end.
          onStall: (e) => {
            this.out.error(e.message, e.exitCode);
            process.exit(e.exitCode);
          },
        },
      });
    })();
    return this.sessionPromise;
  }

  /** The hidden password prompt on a terminal; without one there is nobody to ask. */
  passwordPrompt(): ((question: string) => Promise<string>) | undefined {
    if (!this.interactive) return undefined;
    return async (question) => {
      const { askSecret } = await import('./ui/prompts.js');
      return askSecret(question);
    };
  }

  /** How writes ask: a prompt on a TTY, a refusal without one unless --yes. */
  changeOptions(question?: string): ChangeOptions {
    const out = this.out;
    return {
      dryRun: Boolean(this.opts.dryRun),
      yes: Boolean(this.opts.yes),
      confirmQuestion: question,
      warn: (m: string) => out.warn(m),
      confirm: this.interactive
        ? async (q: string, plan: Plan) => {
            process.stderr.write(out.renderBlocks([{ kind: 'diff', title: 'About to change:', lines: plan.diff }]));
            for (const n of plan.notes) out.warn(n);
            const { askConfirm } = await import('./ui/prompts.js');
            return askConfirm(q);
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
