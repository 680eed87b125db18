/**
 * Interactive questions. @inquirer/prompts is loaded only when a question is really asked.
 *
 * Ctrl-C at a prompt is an InterruptedError (exit 130, as shells expect of SIGINT). Ctrl-D — the
 * end of input — means "no" at a yes/no question and cancels (exit 8) any other question: the
 * prompt never waits for input that can no longer come.
 */
import { CancelledError, InterruptedError } from '../errors.js';

export async function askConfirm(message: string, def = false): Promise<boolean> {
  const { confirm } = await import('@inquirer/prompts');
  return ask((signal) => confirm({ message, default: def }, { output: process.stderr, signal }), () => false);
}

export async function askSecret(message: string): Promise<string> {
  const { password } = await import('@inquirer/prompts');
  return ask((signal) => password({ message, mask: false }, { output: process.stderr, signal }), endOfInput);
}

export async function askText(message: string, validate?: (s: string) => true | string): Promise<string> {
  const { input } = await import('@inquirer/prompts');
  return ask((signal) => input({ message, validate }, { output: process.stderr, signal }), endOfInput);
}

function endOfInput(): never {
  throw new CancelledError('cancelled: end of input (Ctrl-D) at the prompt');
}

async function ask<T>(prompt: (signal: AbortSignal) => Promise<T>, onEnd: () => T): Promise<T> {
  (await import('./output.js')).flushAllWarnings();
  const eof = new AbortController();
  // readline turns a raw-mode Ctrl-D on an empty line into a quiet close that the prompt never
  // notices; watch for the key itself (and for stdin ending) and end the prompt instead.
  const onKey = (_s: unknown, key?: { ctrl?: boolean; name?: string }) => {
    if (key?.ctrl && key.name === 'd') eof.abort();
  };
  const onEndOfStream = () => eof.abort();
  process.stdin.on('keypress', onKey);
  process.stdin.once('end', onEndOfStream);
  try {
    return await prompt(eof.signal);
  } catch (e) {
    const name = (e as Error | undefined)?.name;
    if (name === 'AbortPromptError' && eof.signal.aborted) {
      process.stderr.write('\n');
      return onEnd();
    }
    if (name === 'ExitPromptError') throw new InterruptedError('interrupted (Ctrl-C)');
    throw e;
  } finally {
    process.stdin.off('keypress', onKey);
    process.stdin.off('end', onEndOfStream);
  }
}
