import type { Output } from './ui/output.js';
import type { Session } from './whmcs/session.js';
import type { ChangeOptions, Plan } from './whmcs/change.js';

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
  ) {}

  /**
   * Both stdin and stdout are terminals. Asked on first use: creating process.stdin loads Node's
   * file-stream machinery, start-up time that a command which never prompts should not pay.
   */
  get interactive(): boolean {
    this.interactiveOverride ??= Boolean(process.stdin.isTTY && process.stdout.isTTY);
    return this.interactiveOverride;
  }

  get showSecrets(): boolean {
    return Boolean(this.opts.showSecrets);
  }

  session(): Promise<Session> {
    this.sessionPromise ??= (async () => {
      const { openSession } = await import('./whmcs/connect.js');
      return openSession({
        whmcsDir: this.opts.whmcsDir,
        dbUrl: this.opts.db,
        env: this.env,
        cwd: process.cwd(),
        interactive: this.interactive,
        warn: (w) => this.out.warn(w),
      });
    })();
    return this.sessionPromise;
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
