import { PassThrough, Writable } from 'node:stream';
import { IOStreams, type StreamName } from '../../src/ui/iostreams.js';

export interface TestIOOptions {
  /** What standard input holds; it ends after this text (default: nothing, ended at once). */
  stdin?: string;
  /** Which streams are terminals (default: none, as in a script or a pipe). */
  tty?: Partial<Record<StreamName, boolean>>;
  /** The terminal's width, for streams that are terminals. */
  columns?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface TestIO {
  io: IOStreams;
  /** Everything written to standard output so far. */
  stdout(): string;
  /** Everything written to standard error so far. */
  stderr(): string;
  /** Standard input, for a test that types into it (given no `stdin` text, it is left open). */
  input: PassThrough;
}

/**
 * A collecting sink: what was written, as text, synchronously (a write is done when it returns).
 * Like process.stdout and process.stderr, it outlives whatever is piped into it (a prompt's output
 * stream ends when the prompt does; stream.pipe never ends the process's standard streams).
 */
class Sink extends Writable {
  private chunks: Buffer[] = [];
  override end(): this {
    return this;
  }
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    done();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/**
 * An IOStreams of in-memory streams for running the program in the test's own process: chosen TTY
 * facts and width, standard input's text, environment and working directory.
 */
export function testIO(opts: TestIOOptions = {}): TestIO {
  const input = new PassThrough();
  if (opts.stdin !== undefined) input.end(opts.stdin);
  const out = new Sink();
  const err = new Sink();
  const io = new IOStreams({ stdin: input, stdout: out, stderr: err, tty: opts.tty, columns: opts.columns, env: opts.env ?? {}, cwd: opts.cwd ?? '/' });
  return { io, stdout: () => out.text(), stderr: () => err.text(), input };
}
