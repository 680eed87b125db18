import type { Argument, Command, Option } from 'commander';
import { SERVICE_NAMES, moduleLabel, resolveModuleName } from '../services/catalog.js';
import { SHELLS } from './shells.js';
import { FINDING_IDS } from '../whmcs/reports/audit-ids.js';

export interface Candidate {
  value: string;
  description: string;
}

export type AccountKind = 'admins' | 'users' | 'clients';

/** What may follow an option or stand in an argument's place. */
export type ValueSource =
  | { kind: 'list'; values: Candidate[] }
  | { kind: 'dirs' }
  | { kind: 'accounts'; accounts: AccountKind }
  | { kind: 'none' };

const NONE: ValueSource = { kind: 'none' };
const list = (values: Candidate[]): ValueSource => ({ kind: 'list', values });
const plain = (values: readonly string[]): ValueSource => list(values.map((value) => ({ value, description: '' })));

/**
 * Values are keyed by what an option or argument *means* (its name), never by command, so a new
 * command that declares `--admin <…>` or `<service>` completes like the others without a change here.
 * Choices declared in commander (`.choices()`) always win.
 */
export function optionValues(cmd: Command, opt: Option): ValueSource {
  if (opt.argChoices?.length) return plain(opt.argChoices);
  switch (opt.long) {
    case '--whmcs-dir':
      return { kind: 'dirs' };
    case '--format':
      return list(formatsFor(cmd));
    case '--module':
      return services();
    case '--admin':
      return { kind: 'accounts', accounts: 'admins' };
    case '--user':
      return { kind: 'accounts', accounts: 'users' };
    case '--client':
      return { kind: 'accounts', accounts: 'clients' };
    case '--fail-on':
    case '--warn-on':
      return list([
        ...['critical', 'warning', 'info'].map((value) => ({ value, description: `findings of this severity or worse` })),
        { value: 'none', description: 'no finding counts' },
        ...findingIds(),
      ]);
    case '--ignore':
      return list(findingIds());
  }
  if (/<on\|off>/.test(opt.flags)) return plain(['on', 'off']);
  return NONE;
}

export function argumentValues(program: Command, arg: Argument): ValueSource {
  if (arg.argChoices?.length) return plain(arg.argChoices);
  switch (arg.name()) {
    case 'service':
      return services();
    case 'shell':
      return plain(SHELLS);
    case 'dir':
      return { kind: 'dirs' };
    case 'command':
      // `help [command]`
      return list(visibleCommands(program).map((c) => ({ value: c.name(), description: c.description() })));
  }
  return NONE;
}

function findingIds(): Candidate[] {
  return FINDING_IDS.map((value) => ({ value, description: 'audit finding' }));
}

function services(): ValueSource {
  return list(
    SERVICE_NAMES.map((value) => {
      const stored = resolveModuleName(value);
      return { value, description: stored === value && value !== 'totp' ? `${moduleLabel(stored)} (the name WHMCS stores)` : moduleLabel(stored ?? value) };
    }),
  );
}

const FORMATS: Candidate[] = [
  { value: 'table', description: 'for people (default on a terminal)' },
  { value: 'json', description: 'stable machine shape (default otherwise)' },
  { value: 'yaml', description: 'the JSON shape as YAML' },
  { value: 'csv', description: 'row lists' },
];

/** `--format nagios` exists only where a command renders a monitoring-plugin status line. */
const EXTRA_FORMATS: Record<string, Candidate[]> = {
  'clock-check': [{ value: 'nagios', description: 'one status line with perfdata' }],
  audit: [
    { value: 'nagios', description: 'one status line with perfdata' },
    { value: 'prometheus', description: 'text exposition for node_exporter\'s textfile collector' },
  ],
};

function formatsFor(cmd: Command): Candidate[] {
  return [...FORMATS, ...(EXTRA_FORMATS[cmd.name()] ?? [])];
}

export function visibleCommands(program: Command): Command[] {
  return program.createHelp().visibleCommands(program);
}
