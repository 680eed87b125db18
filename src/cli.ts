import { Command, Option } from 'commander';
import { EXIT } from './errors.js';
import { registerCommands } from './commands/index.js';

export const VERSION = '0.1.0';

/**
 * Builds the program. Only commander and the thin command files load here: every command imports
 * its domain (database drivers, prompts, crypto…) when it runs, so `--help` stays as fast as node.
 */
export function buildProgram(): Command {
  const program = new Command('whmcs-2fa');
  program
    .description('Administer WHMCS two-factor authentication (Time-Based Tokens, Duo Security, YubiKey) in its database')
    .version(VERSION, '-V, --version')
    .option('--whmcs-dir <dir>', 'WHMCS install dir; reads <dir>/configuration.php (default: $WHMCS_DIR, else the nearest configuration.php upwards)')
    .option('--db <url>', 'connect by URL instead: mysql://user@host[:port]/name, mysql://user@localhost/name?socket=/path, sqlite:<file> (also $WHMCS_DB_URL)')
    .addOption(new Option('--format <format>', 'output format: table (default on a TTY) | json | yaml | csv (row lists)'))
    .option('-y, --yes', 'do not ask for confirmation (required for changes without a TTY)')
    .option('-n, --dry-run', 'show exactly what would change, write nothing')
    .option('-q, --quiet', 'print only errors and requested machine output')
    .option('--no-color', 'no colour (also NO_COLOR)')
    .option('--show-secrets', 'reveal secrets (Duo Client Secret, Yubico key, TOTP secrets) — never the default')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      outputError: (str, write) => write(str.replace(/^error: /i, 'Error: ')),
    })
    .exitOverride((err) => {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        process.exit(EXIT.OK);
      }
      process.exit(EXIT.USAGE);
    });
  program.addHelpText(
    'after',
    `
Exit codes: 0 ok · 1 error · 2 usage · 3 not found · 4 refused by a safety rule
            5 database unreachable or not WHMCS · 6 stored secrets do not decrypt (wrong cc_encryption_hash)
            clock-check: 0 OK · 1 WARNING · 2 CRITICAL · 3 UNKNOWN
Environment: WHMCS_DIR, WHMCS_DB_URL, WHMCS_DB_PASSWORD, WHMCS_CC_ENCRYPTION_HASH, WHMCS_DUO_CLIENT_SECRET,
             XDG_STATE_HOME (undo journal), NO_COLOR
Docs: man whmcs-2fa`,
  );
  registerCommands(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const program = buildProgram();
  await program.parseAsync(argv);
}

/** The process entry (bin/whmcs-2fa.js, dist/whmcs-2fa.mjs): anything escaping main is one line, exit 1. */
export function run(): void {
  main().catch((e: Error | undefined) => {
    process.stderr.write(`Error: ${e?.message ?? e}\n`);
    process.exitCode = 1;
  });
}
