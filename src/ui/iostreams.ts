/**
 * The one owner of the terminal (as gh's IOStreams): standard input, output and error, what each
 * of them is (a terminal, its width, whether it takes colour), whether the run can ask questions,
 * the questions themselves, the environment and working directory the run sees, and how the run
 * ends early. Commands, the context, the output layer and the program reach the terminal only
 * through it; tests replace it with one made of in-memory streams (test/helpers/io.ts).
 *
 * `IOStreams.system()` is this process's. Everything in it is created on first use: creating
 * process.stdout or process.stdin loads Node's stream machinery and costs a short run more
 * start-up time than printing its answer, so standard output goes to file descriptor 1 directly
 * and the TTY questions first ask fstat whether the descriptor could be a terminal at all.
 */
import { fstatSync, writeSync } from 'node:fs';

export type StreamName = 'stdin' | 'stdout' | 'stderr';
export type OutName = 'stdout' | 'stderr';

/** Where standard output is written: a stream, or (this process) its file descriptor. */
export type Writer = Pick<NodeJS.WritableStream, 'write'>;

/** The questions a run may ask on a terminal; each ends the run's waiting on Ctrl-C (130) or Ctrl-D. */
export interface Prompter {
  confirm(message: string, def?: boolean): Promise<boolean>;
  secret(message: string): Promise<string>;
  input(message: string, validate?: (s: string) => true | string): Promise<string>;
}

/** Streams and facts of an IOStreams that is not this process's (tests, an embedding program). */
export interface IOStreamsInit {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Which streams are terminals; none unless said. */
  tty?: Partial<Record<StreamName, boolean>>;
  /** The terminal's width, for streams that are terminals (default 80). */
  columns?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

type SignalHandler = (signal: NodeJS.Signals) => void;

export class IOStreams {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  private exitedWith?: number;
  private endRun: (code: number) => void = () => {};
  /** Settles when exit() is called (never, for this process: it has ended by then). */
  readonly ended: Promise<number>;
  private readonly signalHandlers = new Map<NodeJS.Signals, Set<SignalHandler>>();

  constructor(private readonly init: IOStreamsInit) {
    this.env = init.env ?? {};
    this.cwd = init.cwd ?? '/';
    this.ended = new Promise((res) => (this.endRun = res));
  }

  /** This process's terminal and environment, one per process: standard output has one writer. */
  static system(): IOStreams {
    return (systemStreams ??= new SystemStreams());
  }

  get stdin(): NodeJS.ReadableStream {
    return this.init.stdin;
  }

  get stdout(): Writer {
    return this.init.stdout;
  }

  get stderr(): NodeJS.WritableStream {
    return this.init.stderr;
  }

  isTTY(stream: StreamName): boolean {
    return Boolean(this.init.tty?.[stream]);
  }

  /** The terminal's width in columns; null when the stream is no terminal (a pipe or file is never cut). */
  terminalWidth(stream: OutName): number | null {
    return this.isTTY(stream) ? (this.init.columns ?? 80) : null;
  }

  /** The terminal itself can show colour (help text asks this; reports use colorEnabled). */
  hasColors(stream: OutName): boolean {
    return this.isTTY(stream);
  }

  /**
   * Colour on this stream: only on a terminal, never with $NO_COLOR (non-empty) or when the command
   * line says --no-color (`flag` false). A piped table stays plain while warnings on the terminal
   * keep their colour.
   */
  colorEnabled(stream: OutName, flag?: boolean): boolean {
    if (flag === false || ('NO_COLOR' in this.env && this.env.NO_COLOR !== '')) return false;
    return this.isTTY(stream);
  }

  /**
   * Someone can answer a question: it is read from standard input and asked on standard error, so
   * both must be the terminal. The one definition every prompt, confirmation and password uses.
   */
  get canPrompt(): boolean {
    return this.isTTY('stdin') && this.isTTY('stderr');
  }

  /**
   * Questions on this terminal; @inquirer/prompts is loaded only when one is really asked. The
   * warnings held for this terminal are printed first: a question comes after what it is about.
   */
  get prompt(): Prompter {
    const prompts = async () => {
      (await import('./output.js')).flushAllWarnings(this);
      return import('./prompts.js');
    };
    const streams = () => ({ input: this.stdin, output: this.stderr });
    return {
      confirm: async (message, def) => (await prompts()).askConfirm(streams(), message, def),
      secret: async (message) => (await prompts()).askSecret(streams(), message),
      input: async (message, validate) => (await prompts()).askText(streams(), message, validate),
    };
  }

  /**
   * Text written just before the run ends (help, version, usage errors): this process writes it
   * to the descriptor directly, without creating a stream.
   */
  writeDirect(stream: OutName, text: string): void {
    this[stream].write(text);
  }

  /**
   * Ends the run now with this exit code: the process exits (a dead database connection must not
   * keep it waiting); any other IOStreams records the code and settles `ended`, and main() returns it.
   */
  exit(code: number): void {
    if (this.exitedWith !== undefined) return;
    this.exitedWith = code;
    this.endRun(code);
  }

  /**
   * The exit status of a run that has ended normally: this process ends with it once its output
   * is written (not exited at once: output still queued for a pipe would be lost).
   */
  endWith(code: number): void {
    this.exitedWith ??= code;
  }

  /** The code exit() (or endWith()) was called with, if it was. */
  get exitCode(): number | undefined {
    return this.exitedWith;
  }

  /** Calls `handler` on any of these signals until the returned function is called. */
  onSignals(signals: readonly NodeJS.Signals[], handler: SignalHandler): () => void {
    for (const s of signals) {
      let set = this.signalHandlers.get(s);
      if (!set) this.signalHandlers.set(s, (set = new Set()));
      set.add(handler);
    }
    return () => {
      for (const s of signals) this.signalHandlers.get(s)?.delete(handler);
    };
  }

  /** Delivers a signal to the handlers registered for it, as the process would; false when none is. */
  deliver(signal: NodeJS.Signals): boolean {
    const set = this.signalHandlers.get(signal);
    if (!set?.size) return false;
    for (const h of [...set]) h(signal);
    return true;
  }

  /**
   * Nothing but the run's own output may reach its streams (shell completion: stray text would land
   * in the user's command line), whatever libraries log through `console`. The console is the
   * process's: only this process's IOStreams silences it; a test's console is the test runner's.
   */
  silenceConsole(): void {}

  /**
   * After SIGHUP the terminal may be gone: a write to it fails (EIO). From now on failed writes are
   * dropped, so the rollback and the report (on a file or pipe when it matters) are not cut short
   * by an unhandled stream error.
   */
  dropWriteErrors(): void {
    for (const stream of [this.init.stderr, this.init.stdout]) {
      if (!stream.listenerCount('error')) stream.on('error', () => {});
    }
  }
}

let systemStreams: SystemStreams | undefined;

/** This process's streams, each created (or asked about) on first use. */
class SystemStreams extends IOStreams {
  private out?: StdoutDescriptor;

  constructor() {
    // Placeholders: every stream getter below is overridden, and only asked when used.
    super({ stdin: undefined!, stdout: undefined!, stderr: undefined!, env: process.env, cwd: process.cwd() });
  }

  override get stdin(): NodeJS.ReadableStream {
    return process.stdin;
  }

  override get stdout(): Writer {
    return (this.out ??= new StdoutDescriptor((code) => this.exit(code)));
  }

  override get stderr(): NodeJS.WritableStream {
    return process.stderr;
  }

  override isTTY(stream: StreamName): boolean {
    const fd = stream === 'stdin' ? 0 : stream === 'stdout' ? 1 : 2;
    return isCharacterDevice(fd) && Boolean(nodeStream(stream).isTTY);
  }

  override terminalWidth(stream: OutName): number | null {
    return this.isTTY(stream) ? (nodeStream(stream) as NodeJS.WriteStream).columns || null : null;
  }

  override hasColors(stream: OutName): boolean {
    return this.isTTY(stream) && Boolean((nodeStream(stream) as NodeJS.WriteStream).hasColors?.());
  }

  override writeDirect(stream: OutName, text: string): void {
    let buf = Buffer.from(text);
    try {
      while (buf.length) buf = buf.subarray(writeSync(stream === 'stdout' ? 1 : 2, buf));
    } catch (e) {
      // The reader has gone (`--help | head`): nothing more to say, and no error to report.
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') return;
      // A full non-blocking descriptor (EAGAIN): the stream queues the rest. These are the run's
      // last words: a stream error now could only turn its exit status into a stack trace.
      const s = nodeStream(stream);
      if (!s.listenerCount('error')) s.on('error', () => {});
      s.write(buf);
    }
  }

  override exit(code: number): void {
    process.exit(code);
  }

  override endWith(code: number): void {
    process.exitCode = code;
  }

  override onSignals(signals: readonly NodeJS.Signals[], handler: SignalHandler): () => void {
    for (const s of signals) process.on(s, handler);
    return () => {
      for (const s of signals) process.off(s, handler);
    };
  }

  override deliver(signal: NodeJS.Signals): boolean {
    return process.emit(signal, signal);
  }

  override silenceConsole(): void {
    for (const m of ['log', 'info', 'warn', 'error', 'debug'] as const) console[m] = () => {};
  }

  override dropWriteErrors(): void {
    for (const stream of [process.stderr, process.stdout]) {
      if (!stream.listenerCount('error')) stream.on('error', () => {});
    }
  }
}

function nodeStream(stream: StreamName): NodeJS.ReadStream | NodeJS.WriteStream {
  return stream === 'stdin' ? process.stdin : stream === 'stdout' ? process.stdout : process.stderr;
}

/** Only a character device can be a terminal; asking the stream first would create it for nothing. */
function isCharacterDevice(fd: number): boolean {
  try {
    return fstatSync(fd).isCharacterDevice();
  } catch {
    return false;
  }
}

/**
 * Standard output written to file descriptor 1 directly, as help and usage errors are: creating
 * process.stdout costs a short run like clock-check more than printing its answer. If a write
 * fails (EAGAIN on a full non-blocking pipe, …), it and every later one go through process.stdout
 * instead, which queues what it cannot write yet: the order never changes.
 */
export class StdoutDescriptor {
  /** process.stdout, once a direct write has failed. */
  stream: NodeJS.WritableStream | null = null;

  /** The terminal went away (EIO after a hang-up): nothing written to it can arrive. */
  private gone = false;

  constructor(private readonly exit: (code: number) => void) {}

  write(s: string | Uint8Array): boolean {
    if (this.gone) return true;
    if (this.stream) return this.stream.write(s);
    // What is still to be written. A string goes to writeSync as it is (encoded natively, no
    // Buffer made for it); only what a non-blocking pipe did not take becomes bytes.
    let buf: string | Uint8Array = s;
    try {
      if (typeof buf === 'string') {
        const n = writeSync(1, buf);
        if (n === Buffer.byteLength(buf)) return true;
        buf = Buffer.from(buf).subarray(n);
      }
      while (buf.length) buf = buf.subarray(writeSync(1, buf));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') this.readerGone();
      // A hung-up terminal: drop the output rather than crash, so the run still ends with its own
      // exit status (a bulk reset stopped by SIGHUP: 129).
      if ((e as NodeJS.ErrnoException).code === 'EIO') {
        this.gone = true;
        return true;
      }
      this.stream = process.stdout;
      this.stream.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EPIPE') this.readerGone();
        throw err;
      });
      return this.stream.write(buf);
    }
  }

  /**
   * The reader of standard output has gone (`whmcs-2fa accounts --format json | head`): whatever is
   * left to print has no one to read it, so stop now, quietly and successfully, as `git log | head`
   * does. Output comes after the work it reports — a change is already committed — except for
   * streamed listings, which only read.
   */
  private readerGone(): void {
    this.exit(0);
  }
}
