import type { Command } from 'commander';
import { Context, dependenciesOf, type GlobalOptions } from '../context.js';
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
    const ctx = new Context(all, out, process.env, undefined, dependenciesOf(cmd));
    try {
      await out.init();
      void ctx.timeoutMs; // a bad --timeout is a usage error before anything runs
      const v = await handler(ctx, cmd.opts() as O, cmd.args);
      await out.print(v);
      process.exitCode = v.exitCode ?? EXIT.OK;
    } catch (e) {
      // A driver error that escaped a command: one line without the statement (values can be secrets).
      reportError(out, e instanceof CliError ? e : (await import('../whmcs/connection/db.js')).queryError(e));
    } finally {
      await ctx.close();
      out.flushWarnings();
    }
  };
}

export function makeOutput(opts: GlobalOptions, spec: RunSpec = {}): Output {
  const env = process.env;
  const allowed: Format[] = ['table', 'json', 'yaml', ...(spec.formats ?? [])];
  // The table is the default everywhere, pipes included (as WP-CLI and Nextcloud's occ do):
  // `accounts | grep jdoe` greps lines, not JSON. Machine formats only when asked.
  const requested = (opts.format ?? 'table').toLowerCase() as Format;
  const format: Format = FORMATS.includes(requested) && allowed.includes(requested) ? requested : 'table';
  const noColor = opts.color === false || ('NO_COLOR' in env && env.NO_COLOR !== '');
  // Each stream is coloured only when it is a terminal: a piped table stays plain while warnings on
  // the terminal keep their colour. Asked last: asking creates the stream.
  const color = format === 'table' && !noColor && Boolean(process.stdout.isTTY);
  const errColor = () => !noColor && Boolean(process.stderr.isTTY);
  const out = new Output({ format, color, errColor, quiet: Boolean(opts.quiet) });
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
  // Ctrl-C inside a prompt that src/ui/prompts.ts did not wrap.
  if (err?.name === 'ExitPromptError' || err?.name === 'AbortPromptError') {
    out.error('interrupted (Ctrl-C)', EXIT.INTERRUPTED);
    process.exitCode = EXIT.INTERRUPTED;
    return;
  }
  out.error(`${err?.message?.split('\n')[0] ?? String(e)}${process.env.WHMCS_2FA_DEBUG ? '\n' + err?.stack : ' (set WHMCS_2FA_DEBUG=1 for details)'}`, EXIT.ERROR);
  process.exitCode = EXIT.ERROR;
}
