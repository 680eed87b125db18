import { Command, Help, Option } from 'commander';
import { EXIT } from './errors.js';
import { registerCommands } from './commands/index.js';
import { ProgramExit, startRun, type Dependencies } from './context.js';
import { IOStreams } from './ui/iostreams.js';
import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;


/**
 * Builds the program. Only commander and the thin command files load here: every command imports
 * its domain (database drivers, prompts, crypto…) when it runs, so `--help` stays as fast as node.
 * Given the command line, only the command it names is defined (see `onlyCommand`). Help, version
 * and usage errors are written to `io`.
 */
export function buildProgram(argv?: readonly string[], io: IOStreams = IOStreams.system()): Command {
  const program = new Command('whmcs-2fa');
  let parseError: string | undefined;
  program
    .description('Administer WHMCS two-factor authentication (Time-Based Tokens, Duo Security, YubiKey) in its database')
    .version(VERSION, '-V, --version')
    .option('--whmcs-dir <dir>', 'WHMCS install dir; reads <dir>/configuration.php (default: $WHMCS_DIR, else the nearest configuration.php upwards)')
    .option('--db <url>', 'connect by URL instead: mysql://user@host[:port]/name, mysql://user@localhost/name?socket=/path, sqlite:<file> (also $WHMCS_DB_URL)')
    .addOption(new Option('--format <format>', 'output format: table (the default, in pipes too) | json | yaml | csv (row lists) | nagios (clock-check, audit) | prometheus (audit)'))
    .option('-y, --yes', 'do not ask for confirmation (required for changes without a TTY)')
    .option('-n, --dry-run', 'show exactly what would change, write nothing')
    .option('-q, --quiet', 'print only errors and requested machine output')
    .option('--no-color', 'no colour (also NO_COLOR)')
    .option('--show-secrets', 'reveal secrets (Duo Client Secret, Yubico key, TOTP secrets) — never the default')
    .option('--timeout <seconds>', 'longest wait on the database: connecting (at most 10 s), each lock, any answer; exit 7 past it (default 30; clock-check: its whole run, default 10)')
    // Per-command help lists the global options too (--yes, --dry-run, --format…): they apply there.
    .configureHelp({
      showGlobalOptions: true,
      visibleGlobalOptions(this: Help, cmd: Command) {
        return Help.prototype.visibleGlobalOptions.call(this, cmd).filter((o) => globalOptionApplies(cmd.name(), o.long));
      },
    })
    .configureOutput({
      // Written by the exit override below as one line (and the JSON error with --format json).
      outputError: (str) => (parseError ??= str),
      // Help, version and usage errors are the run's last words: straight to the descriptor.
      writeOut: (str) => io.writeDirect('stdout', str),
      writeErr: (str) => io.writeDirect('stderr', str),
      // undefined: commander's default width (80), as when it asks process.stdout itself.
      getOutHelpWidth: () => (io.terminalWidth('stdout') ?? undefined) as number,
      getErrHelpWidth: () => (io.terminalWidth('stderr') ?? undefined) as number,
      getOutHasColors: () => io.hasColors('stdout'),
      getErrHasColors: () => io.hasColors('stderr'),
    })
    .exitOverride((err) => {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        throw new ProgramExit(EXIT.OK);
      }
      throw new ProgramExit(reportParseError(program, io, parseError ?? err.message, argv ?? [], err.code === 'commander.unknownCommand'));
    });
  program.addHelpText(
    'after',
    `
Exit codes: 0 ok · 1 error · 2 usage · 3 not found · 4 refused by a safety rule
            5 database unreachable or not WHMCS · 6 stored secrets do not decrypt (wrong cc_encryption_hash)
            7 timed out, or blocked by another session's lock or a deadlock (nothing written)
            8 cancelled at a prompt (no, Ctrl-D) · 130 interrupted (Ctrl-C)
            9 connection lost at COMMIT and its outcome could not be found out
            129/143 a bulk reset stopped by SIGHUP/SIGTERM (committed batches stay)
            clock-check, audit --format nagios: 0 OK · 1 WARNING · 2 CRITICAL · 3 UNKNOWN
            audit: 1 when a finding counts for --fail-on
Environment: WHMCS_DIR, WHMCS_DB_URL, WHMCS_DB_PASSWORD, WHMCS_CC_ENCRYPTION_HASH, WHMCS_DUO_CLIENT_SECRET,
             WHMCS_TOTP_SECRET (enroll), XDG_STATE_HOME (earlier versions' undo journal), NO_COLOR
Docs: man whmcs-2fa`,
  );
  const wanted = argv ? commandNamed(program, argv.slice(2)) : undefined;
  if (wanted !== undefined && wanted !== 'complete') {
    registerCommands(onlyCommand(program, wanted));
    if (program.commands.length) return program;
  }
  registerCommands(program);
  return program;
}

/** Commands that never write the database (their help leaves out --yes and --dry-run). */
const READ_ONLY = new Set(['status', 'accounts', 'verify', 'clock-check', 'completion', 'sandbox', 'audit']);
/** Commands that never connect to a database. */
const NO_DATABASE = new Set(['completion', 'sandbox']);

function globalOptionApplies(command: string, flag: string | undefined): boolean {
  if (flag === '--version') return false;
  if ((flag === '--yes' || flag === '--dry-run') && READ_ONLY.has(command)) return false;
  if ((flag === '--whmcs-dir' || flag === '--db' || flag === '--timeout') && NO_DATABASE.has(command)) return false;
  return true;
}

/**
 * A command-line error as every other error is reported: one `Error:` line on stderr naming where
 * the usage is, and with `--format json` the JSON error object on stdout. The format is read from
 * the raw arguments, since parsing them is what failed.
 */
function reportParseError(program: Command, io: IOStreams, raw: string, argv: readonly string[], unknownCommand: boolean): number {
  const args = argv.slice(2);
  const message = raw
    .replace(/^error: /i, '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
  const command = unknownCommand ? undefined : commandNamed(program, args);
  const where = command ? `whmcs-2fa ${command} --help` : 'whmcs-2fa --help';
  const line = `${message} — see \`${where}\``;
  // A command can promise another code for usage errors (clock-check: 3, UNKNOWN to monitoring;
  // audit: 3 with --format nagios), as a number or from the command line.
  const sub = command ? (program.commands.find((c) => c.name() === command) as (Command & { usageExitCode?: number | ((args: readonly string[]) => number) }) | undefined) : undefined;
  const promised = sub?.usageExitCode;
  const exitCode = typeof promised === 'function' ? promised(args) : (promised ?? EXIT.USAGE);
  io.writeDirect('stderr', `Error: ${line}\n`);
  if (formatRequested(args) === 'json') {
    io.writeDirect('stdout', JSON.stringify({ error: { message: line, exitCode } }, null, 2) + '\n');
  }
  return exitCode;
}

/** The value of the last --format on a command line, as given. */
function formatRequested(args: readonly string[]): string | undefined {
  let format: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') break;
    if (a === '--format') format = args[++i];
    else if (a.startsWith('--format=')) format = a.slice('--format='.length);
  }
  return format?.toLowerCase();
}

/**
 * The command a command line runs, if it names one and asks for no program-level help or version.
 * Global options that take a value are skipped with their value.
 */
function commandNamed(program: Command, args: readonly string[]): string | undefined {
  const valued = new Set(program.options.filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short]));
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--' || a === '-h' || a === '--help' || a === '-V' || a === '--version') return undefined;
    if (!a.startsWith('-')) return a;
    if (valued.has(a)) i++;
  }
  return undefined;
}

/**
 * `program` as the command files see it when one command runs: `.command()` defines only the
 * named one and hands back an inert stand-in for the others. Defining all of them (commander parses
 * every option's flags) costs a run a tenth of Node's own start-up. Whatever needs the whole
 * program — `--help`, an unknown command, `complete` (shell completion) — gets all of them.
 */
function onlyCommand(program: Command, name: string): Command {
  const inert: unknown = new Proxy(function inert() {}, { get: () => () => inert });
  return new Proxy(program, {
    get(target, prop) {
      if (prop === 'command') {
        return (nameAndArgs: string, ...rest: unknown[]) =>
          nameAndArgs.split(' ')[0] === name ? (target.command as (...a: unknown[]) => Command)(nameAndArgs, ...rest) : inert;
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/**
 * Runs one command line and returns its exit code. `deps` replaces the program's seams to the
 * outside: `io` the terminal, environment and working directory (tests run the program in their
 * own process with in-memory streams), `duoHttpClient` Duo's transport.
 */
export async function main(argv: string[], deps: Dependencies = {}): Promise<number> {
  const io = deps.io ?? IOStreams.system();
  const program = buildProgram(argv, io);
  const run = startRun(program, { ...deps, io });
  try {
    // A run ended by io.exit() (a dead database connection) is over even if its work never returns.
    await Promise.race([program.parseAsync(argv), io.ended]);
  } catch (e) {
    if (e instanceof ProgramExit) return e.exitCode;
    throw e;
  }
  return io.exitCode ?? run.exitCode ?? EXIT.OK;
}

/** The process entry (bin/whmcs-2fa.js, dist/whmcs-2fa.cjs): anything escaping main is one line, exit 1. */
export function run(): void {
  const io = IOStreams.system();
  main(process.argv, { io }).then(
    (code) => io.endWith(code),
    (e: Error | undefined) => {
      io.stderr.write(`Error: ${e?.message ?? e}\n`);
      io.endWith(1);
    },
  );
}
