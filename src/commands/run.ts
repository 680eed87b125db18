import type { Command } from 'commander';
import { Context, type GlobalOptions } from '../context.js';
import { Output, FORMATS, type Format } from '../ui/output.js';
import type { View } from '../ui/view.js';
import { CliError, EXIT, UsageError } from '../errors.js';

export type Handler<O> = (ctx: Context, opts: O, args: string[]) => Promise<View>;

/** Formats a command accepts beyond table/json/yaml (csv for row lists, nagios for clock-check). */
export interface RunSpec {
  formats?: Format[];
}

/**
 * Wraps a command handler: builds the context from global options, prints the returned View,
 * maps any failure to one `Error:` line and its documented exit code, and always closes the
 * database. Exit codes are set on process.exitCode so pending output is flushed.
 */
export function action<O>(handler: Handler<O>, spec: RunSpec = {}) {
  return async (...argv: unknown[]): Promise<void> => {
    const cmd = argv[argv.length - 1] as Command;
    const all = cmd.optsWithGlobals() as GlobalOptions & O;
    let out: Output;
    try {
      out = makeOutput(all, spec);
    } catch (e) {
      reportError(new Output({ format: 'table', color: false, quiet: false }), e);
      return;
    }
    const ctx = new Context(all, out);
    try {
      await out.init();
      void ctx.timeoutMs; // a bad --timeout is a usage error before anything runs
      const v = await handler(ctx, cmd.opts() as O, cmd.args);
      await out.print(v);
      process.exitCode = v.exitCode ?? EXIT.OK;
    } catch (e) {
      // A driver error that escaped a command: one line without the statement (values can be secrets).
      reportError(out, e instanceof CliError ? e : (await import('../whmcs/db.js')).queryError(e));
    } finally {
      await ctx.close();
    }
  };
}

export function makeOutput(opts: GlobalOptions, spec: RunSpec = {}): Output {
  const env = process.env;
  const allowed: Format[] = ['table', 'json', 'yaml', ...(spec.formats ?? [])];
  const requested = (opts.format ?? (process.stdout.isTTY ? 'table' : 'json')).toLowerCase() as Format;
  const format: Format = FORMATS.includes(requested) && allowed.includes(requested) ? requested : 'table';
  // The TTY test last: asking creates process.stderr and process.stdout, which machine formats may never need.
  const color = format === 'table' && opts.color !== false && !('NO_COLOR' in env && env.NO_COLOR !== '') && Boolean(process.stderr.isTTY || process.stdout.isTTY);
  const out = new Output({ format, color, quiet: Boolean(opts.quiet) });
  if (format !== requested) {
    throw new UsageError(`--format ${requested} is not available for this command — use one of: ${allowed.join(', ')}`);
  }
  return out;
}

export function reportError(out: Output, e: unknown): void {
  if (e instanceof CliError) {
    out.error(e.message, e.exitCode, e.details);
    process.exitCode = e.exitCode;
    return;
  }
  const err = e as Error & { name?: string };
  // Ctrl-C inside an @inquirer prompt: nothing was written, say so plainly.
  if (err?.name === 'ExitPromptError' || err?.name === 'AbortPromptError') {
    out.error('cancelled — nothing was changed', EXIT.REFUSED);
    process.exitCode = EXIT.REFUSED;
    return;
  }
  out.error(`${err?.message?.split('\n')[0] ?? String(e)}${process.env.WHMCS_2FA_DEBUG ? '\n' + err?.stack : ' (set WHMCS_2FA_DEBUG=1 for details)'}`, EXIT.ERROR);
  process.exitCode = EXIT.ERROR;
}
