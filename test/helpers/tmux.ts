import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

/**
 * A command running in a real terminal: a detached tmux session on a private server socket (so it
 * never touches the user's tmux), fixed size, driven with send-keys and read with capture-pane.
 * The command's exit status is printed as `[exit N]` and the pane stays open to be read.
 */
export interface TmuxOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  width?: number;
  height?: number;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export class TmuxTerminal {
  private socketPath = '';
  private constructor(
    readonly socket: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static start(argv: string[], opts: TmuxOptions = {}): TmuxTerminal {
    const socket = `whmcs2fa-test-${randomBytes(4).toString('hex')}`;
    const env: NodeJS.ProcessEnv = { ...process.env, LANG: 'C.UTF-8', TERM: 'xterm-256color' };
    for (const [k, v] of Object.entries(opts.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    delete env.TMUX;
    const t = new TmuxTerminal(socket, env);
    const shell = `${argv.map(quote).join(' ')}; echo "[exit $?]"; sleep 600`;
    // A new server takes its environment from this process, so the command sees `env`.
    t.tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'main', '-x', String(opts.width ?? 200), '-y', String(opts.height ?? 80), ...(opts.cwd ? ['-c', opts.cwd] : []), shell);
    t.socketPath = t.tmux('display-message', '-p', '-t', 'main', '#{socket_path}').trim();
    return t;
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-u', '-L', this.socket, ...args], { env: this.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** The visible screen plus scrollback, trailing spaces kept. */
  capture(): string {
    return this.tmux('capture-pane', '-p', '-N', '-J', '-S', '-', '-t', 'main');
  }

  /** The same with the colours the terminal shows (SGR escape sequences), for rendering it as an image. */
  captureWithColours(): string {
    return this.tmux('capture-pane', '-p', '-e', '-N', '-J', '-S', '-', '-t', 'main');
  }

  /** Literal text, then optionally Enter. */
  type(text: string, enter = true): void {
    this.tmux('send-keys', '-t', 'main', '-l', text);
    if (enter) this.tmux('send-keys', '-t', 'main', 'Enter');
  }

  /** A tmux key name: Enter, C-c, Up… */
  key(name: string): void {
    this.tmux('send-keys', '-t', 'main', name);
  }

  /** Polls the screen until `test` matches; returns the screen. */
  async waitFor(test: RegExp | ((screen: string) => boolean), timeoutMs = 15_000): Promise<string> {
    const ok = typeof test === 'function' ? test : (s: string) => test.test(s);
    const deadline = Date.now() + timeoutMs;
    let screen = '';
    while (Date.now() < deadline) {
      screen = this.capture();
      if (ok(screen)) return screen;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`terminal did not show ${String(test)} within ${timeoutMs} ms; screen:\n${screen}`);
  }

  /** Waits for the command to end and returns its exit status. */
  async exitCode(timeoutMs = 15_000): Promise<number> {
    const screen = await this.waitFor(/\[exit \d+\]/, timeoutMs);
    return Number(/\[exit (\d+)\]/.exec(screen)![1]);
  }

  /** Ends this test's tmux server (and only it), and removes its socket file. */
  kill(): void {
    try {
      this.tmux('kill-server');
    } catch {
      /* already gone */
    }
    if (this.socketPath.includes('whmcs2fa-test-')) rmSync(this.socketPath, { force: true });
  }
}

/** The QR code on a screen: the longest run of lines made only of half-block glyphs, padded even. */
export function qrFromScreen(screen: string): string {
  let best: string[] = [];
  let run: string[] = [];
  for (const line of screen.split('\n')) {
    const l = line.replace(/\s+$/, '');
    if (l.length >= 21 && /^[█▀▄ ]+$/u.test(l) && /[█▀▄]/u.test(l)) run.push(l);
    else {
      if (run.length > best.length) best = run;
      run = [];
    }
  }
  if (run.length > best.length) best = run;
  if (best.length === 0) throw new Error(`no QR code on the screen:\n${screen}`);
  const width = Math.max(...best.map((l) => [...l].length));
  return best.map((l) => l + ' '.repeat(width - [...l].length)).join('\n');
}
