/**
 * The rough edges a first-time user hits, in a real terminal (tmux) where a terminal matters:
 * prompts answered no / Ctrl-D / Ctrl-C, read-only commands interrupted.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { BIN, TEST_STATE_HOME, runCli } from './helpers/cli.js';
import { tempDir } from './helpers/db.js';
import { describeWithPeer } from './helpers/peers.js';
import { TmuxTerminal } from './helpers/tmux.js';

const dir = join(tempDir(), 'sandbox');
const sandboxReady = () => runCli(['sandbox', dir]);

async function backupCodeHash(): Promise<string> {
  const r = await runCli(['--whmcs-dir', dir, 'accounts', '--admins', '--format', 'json']);
  return JSON.stringify(r.json);
}

describeWithPeer(['tmux'], 'prompts in a real terminal: no, Ctrl-D and Ctrl-C', () => {
  let term: TmuxTerminal | undefined;
  beforeAll(async () => {
    expect((await sandboxReady()).code).toBe(0);
  });
  afterEach(() => {
    term?.kill();
    term = undefined;
  });
  const start = (args: string[], size: { width?: number; height?: number } = {}) =>
    (term = TmuxTerminal.start([process.execPath, BIN, ...args], {
      env: { XDG_STATE_HOME: TEST_STATE_HOME, NO_COLOR: '1', WHMCS_DB_URL: undefined, WHMCS_DIR: undefined },
      ...size,
    }));

  it.each([
    ['"n"', (t: TmuxTerminal) => t.type('n'), 8, /Error: cancelled at the prompt — nothing was changed/],
    ['Enter (the default is no)', (t: TmuxTerminal) => t.key('Enter'), 8, /Error: cancelled at the prompt — nothing was changed/],
    ['Ctrl-D', (t: TmuxTerminal) => t.key('C-d'), 8, /Error: cancelled at the prompt — nothing was changed/],
    ['Ctrl-C', (t: TmuxTerminal) => t.key('C-c'), 130, /Error: interrupted \(Ctrl-C\) — nothing was changed/],
  ] as const)('answering %s at the y/N confirmation: its own exit code and wording, nothing written', async (_what, answer, code, wording) => {
    const before = await backupCodeHash();
    const t = start(['--whmcs-dir', dir, 'reset', '--admin', 'jdoe', '--reason', 'lost phone']);
    await t.waitFor(/\(y\/N\)/);
    answer(t);
    expect(await t.exitCode()).toBe(code);
    const screen = t.capture();
    expect(screen).toMatch(wording);
    expect(screen).not.toMatch(/refus/i);
    expect(await backupCodeHash()).toBe(before);
  });

  it('Ctrl-C at a password prompt of a read-only command: exit 130, and no word about changes', async () => {
    const t = start(['--db', 'mysql://nobody@127.0.0.1:9/whmcs', 'status']);
    await t.waitFor(/Password for nobody@127\.0\.0\.1:/);
    t.key('C-c');
    expect(await t.exitCode()).toBe(130);
    const screen = t.capture();
    expect(screen).toMatch(/Error: interrupted \(Ctrl-C\)\s*\n/);
    expect(screen).not.toMatch(/nothing was changed|refus/);
  });

  it('Ctrl-D at a password prompt ends it: exit 8 instead of waiting', async () => {
    const t = start(['--db', 'mysql://nobody@127.0.0.1:9/whmcs', 'status']);
    await t.waitFor(/Password for nobody@127\.0\.0\.1:/);
    t.key('C-d');
    expect(await t.exitCode()).toBe(8);
    expect(t.capture()).toMatch(/Error: cancelled: end of input \(Ctrl-D\) at the prompt/);
  });
});

describe('exit codes 8 and 130 are documented', () => {
  it('in --help', async () => {
    const r = await runCli(['--help']);
    expect(r.stdout).toMatch(/8 cancelled at a prompt/);
    expect(r.stdout).toMatch(/130 interrupted \(Ctrl-C\)/);
  });
});

describe('command-line errors keep the error contract', () => {
  it.each([
    [['status', '--format', 'json', '--bogus'], /^unknown option '--bogus' — see `whmcs-2fa status --help`$/],
    [['--format=json', 'accounts', '--admin'], /^option '--admin <.*>' argument missing — see `whmcs-2fa accounts --help`$/],
    [['--format', 'JSON', 'statuz'], /^unknown command 'statuz' \(Did you mean status\?\) — see `whmcs-2fa --help`$/],
    [['--format', 'json', 'verify', '--admin', 'a', '1', '2'], /^too many arguments for 'verify'.* — see `whmcs-2fa verify --help`$/],
  ])('%j: one Error line, exit 2, and the JSON error object', async (args, message) => {
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')).toEqual([expect.stringMatching(/^Error: /), '']);
    expect(r.json.error.message).toMatch(message);
    expect(r.json).toEqual({ error: { message: r.stderr.slice('Error: '.length, -1), exitCode: 2 } });
  });

  it('without --format json: the one line on stderr, nothing on stdout', async () => {
    const r = await runCli(['status', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("Error: unknown option '--bogus' — see `whmcs-2fa status --help`\n");
  });
});

describe('per-command --help shows the global options that apply', () => {
  it('a command that writes lists --yes, --dry-run and --format', async () => {
    const r = await runCli(['backup-code', '--help']);
    const global = r.stdout.slice(r.stdout.indexOf('Global Options:'));
    expect(r.stdout).toContain('Global Options:');
    for (const flag of ['--yes', '--dry-run', '--format <format>', '--whmcs-dir <dir>', '--db <url>', '--quiet', '--no-color', '--show-secrets']) expect(global).toContain(flag);
    expect(global).not.toContain('--version');
  });

  it('a read-only command leaves out --yes and --dry-run; sandbox leaves out the connection options', async () => {
    const status = await runCli(['status', '--help']);
    const global = status.stdout.slice(status.stdout.indexOf('Global Options:'));
    expect(global).toContain('--format <format>');
    expect(global).not.toMatch(/--yes|--dry-run/);
    const sandbox = await runCli(['sandbox', '--help']);
    expect(sandbox.stdout.slice(sandbox.stdout.indexOf('Global Options:'))).not.toMatch(/--whmcs-dir|--db /);
  });
});
