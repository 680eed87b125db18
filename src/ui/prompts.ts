/**
 * Interactive questions, asked on the streams the run's IOStreams gives (src/ui/iostreams.ts:
 * `io.prompt`). @inquirer/prompts is loaded only when a question is really asked.
 *
 * Ctrl-C at a prompt is an InterruptedError (exit 130, as shells expect of SIGINT). Ctrl-D — the
 * end of input — means "no" at a yes/no question and cancels (exit 8) any other question: the
 * prompt never waits for input that can no longer come.
 */
import { CancelledError, InterruptedError } from '../errors.js';

/** Where a question is read from and asked on: the terminal's stdin and stderr. */
export interface PromptStreams {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
}

export async function askConfirm(streams: PromptStreams, message: string, def = false): Promise<boolean> {
  const { confirm } = await import('@inquirer/prompts');
  return ask(streams, (signal) => confirm({ message, default: def }, { ...streams, signal }), () => false);
}

export async function askSecret(streams: PromptStreams, message: string): Promise<string> {
  const { password } = await import('@inquirer/prompts');
  return ask(streams, (signal) => password({ message, mask: false }, { ...streams, signal }), endOfInput);
}

export async function askText(streams: PromptStreams, message: string, validate?: (s: string) => true | string): Promise<string> {
  const { input } = await import('@inquirer/prompts');
  return ask(streams, (signal) => input({ message, validate }, { ...streams, signal }), endOfInput);
}

function endOfInput(): never {
  throw new CancelledError('cancelled: end of input (Ctrl-D) at the prompt');
}

async function ask<T>(streams: PromptStreams, prompt: (signal: AbortSignal) => Promise<T>, onEnd: () => T): Promise<T> {
  const eof = new AbortController();
  // readline turns a raw-mode Ctrl-D on an empty line into a quiet close that the prompt never
  // notices; watch for the key itself (and for stdin ending) and end the prompt instead.
  const onKey = (_s: unknown, key?: { ctrl?: boolean; name?: string }) => {
    if (key?.ctrl && key.name === 'd') eof.abort();
  };
  const onEndOfStream = () => eof.abort();
  streams.input.on('keypress', onKey);
  streams.input.once('end', onEndOfStream);
  try {
    return await prompt(eof.signal);
  } catch (e) {
    const name = (e as Error | undefined)?.name;
    if (name === 'AbortPromptError' && eof.signal.aborted) {
      streams.output.write('\n');
      return onEnd();
    }
    if (name === 'ExitPromptError') throw new InterruptedError('interrupted (Ctrl-C)');
    throw e;
  } finally {
    streams.input.off('keypress', onKey);
    streams.input.off('end', onEndOfStream);
  }
}
