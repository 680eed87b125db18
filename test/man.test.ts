import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli.js';
import { describeWithPeer } from './helpers/peers.js';

const ROOT = resolve(import.meta.dirname, '..');
const PAGE = join(ROOT, 'man', 'whmcs-2fa.1');

/** The page as `man` shows it at 100 columns, without overstrike. */
function rendered(): string {
  return execFileSync('sh', ['-c', `man -l "$1" | col -bx`, 'sh', PAGE], {
    env: { ...process.env, MANWIDTH: '100', MANPAGER: 'cat', PAGER: 'cat', LANG: 'C.UTF-8' },
    encoding: 'utf8',
  });
}

/** Wrapped lines joined, so phrases can be found whole. */
const flat = (s: string) => s.replace(/\s+/g, ' ');

/**
 * The text of each `whmcs-2fa <command>` subsection (rendered at column 3), up to the next
 * subsection or section heading (column 0).
 */
function commandSections(text: string): Map<string, string> {
  const sections = new Map<string, string>();
  const lines = text.split('\n');
  let current: string | undefined;
  for (const line of lines) {
    const sub = /^ {3}whmcs-2fa ([a-z][a-z-]*)/.exec(line);
    if (sub) {
      current = sub[1];
      sections.set(current, line + '\n');
      continue;
    }
    if (/^\S/.test(line) || /^ {3}\S/.test(line)) current = undefined;
    if (current) sections.set(current, sections.get(current)! + line + '\n');
  }
  return sections;
}

const longOptions = (cmd: Command) => cmd.options.filter((o) => o.long && !o.hidden).map((o) => o.long!);

describeWithPeer(['man', 'col'], 'man page (man -l man/whmcs-2fa.1)', () => {
  const text = rendered();
  const sections = commandSections(text);
  const program = buildProgram();

  it('renders with the header, and the sections a man page needs', () => {
    expect(text).toMatch(/^WHMCS-2FA\(1\)/);
    for (const s of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'GLOBAL OPTIONS', 'COMMANDS', 'CONNECTING', 'EXIT STATUS', 'ENVIRONMENT', 'FILES', 'EXAMPLES', 'SHELL COMPLETION']) {
      expect(text).toMatch(new RegExp(`^${s}$`, 'm'));
    }
  });

  it('documents every command registered in the program, each in its own subsection', () => {
    const names = program.commands.map((c) => c.name());
    expect(names.length).toBeGreaterThan(10);
    for (const name of [...names, 'help']) expect([...sections.keys()], `no "whmcs-2fa ${name}" subsection`).toContain(name);
  });

  it("documents every long option of every command in that command's subsection", () => {
    for (const cmd of program.commands) {
      const section = sections.get(cmd.name()) ?? '';
      for (const long of longOptions(cmd)) expect(section, `${cmd.name()} ${long}`).toContain(long);
    }
  });

  it('documents every global option', () => {
    const global = text.slice(text.indexOf('\nGLOBAL OPTIONS\n'), text.indexOf('\nCOMMANDS\n'));
    for (const long of [...longOptions(program), '--help']) expect(global, long).toContain(long);
  });

  it('documents the exit codes, the environment, the history and the earlier journal files', () => {
    const exit = text.slice(text.indexOf('\nEXIT STATUS\n'), text.indexOf('\nENVIRONMENT\n'));
    for (const code of ['0', '1', '2', '3', '4', '5', '6', '9']) expect(exit).toMatch(new RegExp(`^ +• ${code}$`, 'm'));
    const env = text.slice(text.indexOf('\nENVIRONMENT\n'), text.indexOf('\nFILES\n'));
    for (const v of ['WHMCS_DIR', 'WHMCS_DB_URL', 'WHMCS_DB_PASSWORD', 'WHMCS_CC_ENCRYPTION_HASH', 'WHMCS_DUO_CLIENT_SECRET', 'WHMCS_YUBICO_SECRET_KEY', 'XDG_STATE_HOME', 'NO_COLOR', 'WHMCS_2FA_DEBUG']) {
      expect(env).toMatch(new RegExp(`^ +• ${v}$`, 'm'));
    }
    const files = text.slice(text.indexOf('\nFILES\n'), text.indexOf('\nEXAMPLES\n'));
    expect(files).toContain('$XDG_STATE_HOME/whmcs-2fa/<install>/<id>.jsonl');
    expect(flat(files)).toMatch(/The history itself is in the WHMCS database/);
    expect(text).toContain('mod_whmcs2fa_journal');
  });

  it('has the three stories as examples', () => {
    const examples = flat(text.slice(text.indexOf('\nEXAMPLES\n')));
    expect(examples).toMatch(/locked out/);
    expect(examples).toMatch(/provisioning script/i);
    expect(examples).toMatch(/did not match/);
    for (const cmd of ['reset --admin', 'backup-code --admin', 'enroll --admin', 'activate totp --yes --format json', 'clock-check', 'verify --user']) expect(examples).toContain(cmd);
  });

  it('has no markup left over from the markdown', () => {
    expect(text).not.toMatch(/&[a-z]+;|&#\d+;|\\f[BIRP]|`/);
  });
});

describe('man/whmcs-2fa.1', () => {
  it('equals a fresh build of man/whmcs-2fa.1.md (run `npm run man`)', () => {
    const fresh = execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-man.mjs'), '--stdout'], { encoding: 'utf8' });
    expect(readFileSync(PAGE, 'utf8')).toBe(fresh);
  });

  it('is what package.json installs', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.man).toContain('man/whmcs-2fa.1');
    expect(pkg.files).toContain('man/whmcs-2fa.1');
    expect(pkg.files).toContain('completions/');
  });
});
