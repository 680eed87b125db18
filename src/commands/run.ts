import type { Command } from 'commander';
import { Context, runOf, type GlobalOptions } from '../context.js';
import { Output, FORMATS, type Format } from '../ui/output.js';
import type { IOStreams } from '../ui/iostreams.js';
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
 * database. The exit code is the run's (main() returns it; the process entry sets it as the
 * process's exit code, so pending output is flushed).
 */
export function action<O>(handler: Handler<O>, spec: RunSpec = {}) {
  return async (...argv: unknown[]): Promise<void> => {
    const cmd = argv[argv.length - 1] as Command;
    const run = runOf(cmd);
    const all = cmd.optsWithGlobals() as GlobalOptions & O;
    let out: Output;
    try {
      out = makeOutput(all, run.io, spec);
    } catch (e) {
      run.exitCode = reportError(new Output({ format: 'table', color: false, quiet: false, io: run.io }), e, run.io);
      return;
    }
    const ctx = new Context(all, out, run.io, run.deps);
    try {
      await out.init();
      void ctx.timeoutMs; // a bad --timeout is a usage error before anything runs
      const v = await handler(ctx, cmd.opts() as O, cmd.args);
      await out.print(v);
      run.exitCode = v.exitCode ?? EXIT.OK;
    } catch (e) {
      // A driver error that escaped a command: one line without the statement (values can be secrets).
      run.exitCode = reportError(out, e instanceof CliError ? e : (await import('../whmcs/connection/db.js')).queryError(e), run.io);
    } finally {
      await ctx.close();
      out.flushWarnings();
    }
  };
}

export function makeOutput(opts: GlobalOptions, io: IOStreams, spec: RunSpec = {}): Output {
  const allowed: Format[] = ['table', 'json', 'yaml', ...(spec.formats ?? [])];
  // The table is the default everywhere, pipes included (as WP-CLI and Nextcloud's occ do):
  // `accounts | grep jdoe` greps lines, not JSON. Machine formats only when asked.
  const requested = (opts.format ?? 'table').toLowerCase() as Format;
  const format: Format = FORMATS.includes(requested) && allowed.includes(requested) ? requested : 'table';
  // Each stream is coloured only when it is a terminal: a piped table stays plain while warnings on
  // the terminal keep their colour. Asked last (and stderr only when written to): asking creates the stream.
  const color = format === 'table' && io.colorEnabled('stdout', opts.color);
  const errColor = () => io.colorEnabled('stderr', opts.color);
  const out = new Output({ format, color, errColor, quiet: Boolean(opts.quiet), io });
  if (format !== requested) {
    throw new UsageError(`--format ${requested} is not available for this command — use one of: ${allowed.join(', ')}`);
  }
  return out;
}

/** Prints the error as its one line (and JSON object); returns the exit code it promises. */
export function reportError(out: Output, e: unknown, io: IOStreams): number {
  if (e instanceof CliError) {
    out.error(e.message, e.exitCode, e.details);
    return e.exitCode;
  }
  const err = e as Error & { name?: string };
  // Ctrl-C inside a prompt that src/ui/prompts.ts did not wrap.
  if (err?.name === 'ExitPromptError' || err?.name === 'AbortPromptError') {
    out.error('interrupted (Ctrl-C)', EXIT.INTERRUPTED);
    return EXIT.INTERRUPTED;
  }
  out.error(`${err?.message?.split('\n')[0] ?? String(e)}${io.env.WHMCS_2FA_DEBUG ? '\n' + err?.stack : ' (set WHMCS_2FA_DEBUG=1 for details)'}`, EXIT.ERROR);
  return EXIT.ERROR;
}
