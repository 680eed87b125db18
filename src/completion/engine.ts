import type { Command, Option } from 'commander';
import { argumentValues, optionValues, visibleCommands, type Candidate, type ValueSource } from './values.js';

/**
 * The directive numbers of @bomb.sh/tab's shell scripts (the cobra protocol): the last output line
 * is `:<n>`. Mirrored here so the engine does not load tab; a test keeps them equal.
 */
export const DIRECTIVE = {
  NoFileComp: 4,
  FilterDirs: 16,
} as const;

/** Connection options found on the line being completed (they decide which database to ask). */
export interface LineConnection {
  whmcsDir?: string;
  db?: string;
}

interface Analysis {
  /** The command the word belongs to (the program itself before a subcommand). */
  command: Command;
  /** The text typed so far that candidates must start with (after `=` for `--opt=value`). */
  prefix: string;
  source: ValueSource;
  connection: LineConnection;
}

/**
 * Reads the words after the program name the way commander will parse them (program options are
 * allowed before and after the subcommand, `--opt value` and `--opt=value`, `--` ends options, an
 * optional option-argument takes the next word unless it starts with `-`) and decides what the last
 * word can be. Works from the program's own definitions, so every registered command is covered.
 *
 * This replaces tab's own parser (RootCommand.parse), which decides whether an option takes a value
 * by the first command declaring that name (so `enforce --admins <on|off>` would be read as the flag
 * `accounts --admins`), only offers a subcommand's own options, and runs its value handlers
 * synchronously, while account names come from the database.
 */
export function analyze(program: Command, words: string[]): Analysis {
  const done = words.length ? words.slice(0, -1) : [];
  const current = words.length ? words[words.length - 1] : '';
  const connection: LineConnection = {};
  let command = program;
  let positional = 0;
  let pending: Option | undefined;
  let optionalPending: Option | undefined;
  let endOfOptions = false;
  const used = new Set<Option>();

  const record = (opt: Option, value: string) => {
    if (opt.long === '--whmcs-dir') connection.whmcsDir = value;
    if (opt.long === '--db') connection.db = value;
  };

  for (const w of done) {
    if (pending) {
      record(pending, w);
      pending = undefined;
      continue;
    }
    const isOption = !endOfOptions && w.startsWith('-') && w !== '-';
    if (optionalPending) {
      const opt = optionalPending;
      optionalPending = undefined;
      if (!isOption && w !== '--') {
        record(opt, w);
        continue;
      }
    }
    if (!endOfOptions && w === '--') {
      endOfOptions = true;
      continue;
    }
    if (isOption) {
      const eq = w.startsWith('--') ? w.indexOf('=') : -1;
      const opt = findOption(program, command, eq > 0 ? w.slice(0, eq) : w);
      if (!opt) continue;
      used.add(opt);
      if (eq > 0) record(opt, w.slice(eq + 1));
      else if (opt.required) pending = opt;
      else if (opt.optional) optionalPending = opt;
      continue;
    }
    if (command === program) {
      const sub = findCommand(program, w);
      if (sub) {
        command = sub;
        positional = 0;
        continue;
      }
    }
    positional++;
  }

  const at = (source: ValueSource, prefix = current): Analysis => ({ command, prefix, source, connection });
  if (pending) return at(optionValues(command, pending));
  if (!endOfOptions && current.startsWith('--') && current.includes('=')) {
    const eq = current.indexOf('=');
    const opt = findOption(program, command, current.slice(0, eq));
    return at(opt && (opt.required || opt.optional) ? optionValues(command, opt) : { kind: 'none' }, current.slice(eq + 1));
  }
  if (!endOfOptions && current.startsWith('-')) {
    return at({ kind: 'list', values: optionCandidates(program, command, used, current) });
  }
  if (command === program) {
    return at({
      kind: 'list',
      values: visibleCommands(program).map((c) => ({ value: c.name(), description: c.description() })),
    });
  }
  const args = command.registeredArguments;
  const arg = positional < args.length ? args[positional] : args.length && args[args.length - 1].variadic ? args[args.length - 1] : undefined;
  return at(arg ? argumentValues(program, arg) : { kind: 'none' });
}

/** The options valid at this point: the command's own, then the program's (global) ones. */
function optionsInScope(program: Command, command: Command): Option[] {
  const help = program.createHelp();
  const own = help.visibleOptions(command);
  if (command === program) return own;
  const seen = new Set(own.map((o) => o.long ?? o.short));
  const globals = help.visibleOptions(program).filter((o) => o.long !== '--help' && o.long !== '--version' && !seen.has(o.long ?? o.short));
  return [...own, ...globals];
}

function findOption(program: Command, command: Command, flag: string): Option | undefined {
  return optionsInScope(program, command).find((o) => o.long === flag || o.short === flag);
}

function findCommand(program: Command, name: string): Command | undefined {
  return visibleCommands(program).find((c) => c.name() === name || c.aliases().includes(name));
}

function optionCandidates(program: Command, command: Command, used: Set<Option>, current: string): Candidate[] {
  const out: Candidate[] = [];
  for (const o of optionsInScope(program, command)) {
    // An option given once is not offered again, unless it collects repeats (variadic or a custom parser).
    if (used.has(o) && !o.variadic && !o.parseArg) continue;
    const description = oneLine(o.description);
    if (o.long) out.push({ value: o.long, description });
    if (o.short && !current.startsWith('--')) out.push({ value: o.short, description });
  }
  return out;
}

function oneLine(s: string, max = 100): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
}

/**
 * The protocol's answer: `value<TAB>description` per candidate starting with `prefix`, then `:<directive>`.
 * Directories are left to the shell (FilterDirs); everything else turns file completion off.
 */
export function formatAnswer(candidates: Candidate[], prefix: string, source: ValueSource): string {
  if (source.kind === 'dirs') return `:${DIRECTIVE.FilterDirs}\n`;
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const c of candidates) {
    if (!c.value.startsWith(prefix) || seen.has(c.value) || /[\t\n]/.test(c.value)) continue;
    seen.add(c.value);
    lines.push(c.description ? `${c.value}\t${oneLine(c.description)}` : c.value);
  }
  lines.push(`:${DIRECTIVE.NoFileComp}`);
  return lines.join('\n') + '\n';
}
