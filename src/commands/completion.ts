import { Argument, type Command } from 'commander';
import { action } from './run.js';
import { SHELLS, type Shell } from '../completion/shells.js';
import { Output } from '../ui/output.js';
import { argvOf, runOf } from '../context.js';

/** No candidates and no file names (directive NoFileComp). */
const NO_CANDIDATES = ':4\n';

export function register(program: Command): void {
  program
    .command('completion')
    .description('print the shell completion script for bash, zsh or fish')
    .addArgument(new Argument('<shell>', 'the shell to complete in').choices(SHELLS))
    .addHelpText(
      'after',
      `
Install (the script asks whmcs-2fa itself at every Tab, so it never needs regenerating):
  bash  whmcs-2fa completion bash > ~/.local/share/bash-completion/completions/whmcs-2fa
        (needs the bash-completion package; or: source <(whmcs-2fa completion bash) in ~/.bashrc)
  zsh   whmcs-2fa completion zsh > ~/.zfunc/_whmcs-2fa   with fpath=(~/.zfunc $fpath) before compinit
  fish  whmcs-2fa completion fish > ~/.config/fish/completions/whmcs-2fa.fish
With a WHMCS configured (--whmcs-dir/--db on the line, WHMCS_DIR, WHMCS_DB_URL or configuration.php
upwards), --admin, --user and --client complete usernames and emails from the database.`,
    )
    .action(
      action(async (_ctx, _opts, args) => {
        const shell = args[0] as Shell;
        const { completionScript } = await import('../completion/scripts.js');
        const text = completionScript(shell);
        // The script is the output whatever --format says: it is meant for `>` and `source <(…)`.
        return { json: { shell, script: text }, blocks: [], raw: { table: text, json: text, yaml: text, csv: text } };
      }),
    );

  // The protocol the scripts speak: `whmcs-2fa complete -- <words…>` prints `value<TAB>description`
  // lines and `:<directive>`. It prints nothing else, ever: stray text would land in the user's shell.
  program
    .command('complete', { hidden: true })
    .description('completion candidates for the shell scripts: complete -- <words…>')
    .argument('[words...]')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (parsed: string[], _opts: unknown, cmd: Command) => {
      const io = runOf(cmd).io;
      // Libraries may log through console (knex's default logger writes to stdout): in this
      // process only the answer may reach the shell.
      io.silenceConsole();
      const out = new Output({ format: 'table', color: false, quiet: true, io });
      let abandoned = false;
      try {
        const { completeLine, wordsFromArgv } = await import('../completion/complete.js');
        const r = await completeLine(program, wordsFromArgv(argvOf(cmd), parsed), { env: io.env, cwd: io.cwd });
        abandoned = r.abandoned;
        out.write(r.text);
      } catch {
        out.write(NO_CANDIDATES);
      }
      // A connection attempt still hanging past the deadline must not keep the shell waiting.
      if (abandoned) io.exit(0);
    });
}
