/**
 * The rough edges a first-time user hits, in a real terminal (tmux) where a terminal matters:
 * prompts answered no / Ctrl-D / Ctrl-C, read-only commands interrupted.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { BIN, TEST_STATE_HOME, runCli } from './helpers/cli.js';
import { createTestDb, describeBackends, tempDir, type TestDb } from './helpers/db.js';
import { insertAdmin, insertUser } from '../src/whmcs/schema/seed.js';
import { describeWithPeer } from './helpers/peers.js';
import { TmuxTerminal } from './helpers/tmux.js';

const dir = join(tempDir(), 'sandbox');
let sandbox: ReturnType<typeof runCli> | undefined;
/** One sandbox for the file, created on first use. */
const sandboxReady = () => (sandbox ??= runCli(['sandbox', dir]));

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

  it('warnings come after the report, on an 80×24 terminal', async () => {
    const t = start(['--whmcs-dir', dir, 'status'], { width: 80, height: 24 });
    expect(await t.exitCode()).toBe(0);
    const lines = t.capture().split('\n');
    const report = lines.findIndex((l) => /^\s+Users\s+\d+ of \d+ enrolled/.test(l));
    const firstWarning = lines.findIndex((l) => l.startsWith('Warning: '));
    expect(report).toBeGreaterThan(-1);
    expect(firstWarning).toBeGreaterThan(report);
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
    const r = await runCli(['status', '--bogus'], { asTyped: true });
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

describeBackends('selectors: id:N, exact matches only, near matches listed', (backend) => {
  let t: TestDb;
  const ids: Record<string, number> = {};
  beforeAll(async () => {
    t = await createTestDb(backend, '8', '8.12.1-release.1');
    for (const username of ['alice', 'José', 'Straße', '2', 'filler']) ids[username] = await insertAdmin(t.knex, { username, email: `${username.toLowerCase()}@example.com`, authmodule: 'totp', authdata: '' });
    ids.user = await insertUser(t.knex, { email: 'Carol@Example.com' });
  });
  afterAll(() => t?.drop());
  const cli = (args: string[]) => runCli(['--whmcs-dir', t.whmcsDir, ...args, '--format', 'json']);
  const accounts = async (sel: string[]) => cli(['accounts', ...sel]);

  it('a number that is an id and another admin\'s username is ambiguous; the advice (id:N) resolves it', async () => {
    const idTwo = ids.José!; // the second admin inserted has id 2
    expect(idTwo).toBe(2);
    const r = await accounts(['--admin', '2']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^Error: "2" matches 2 admins: #2 José, #\d+ 2 — select one by id, e\.g\. --admin id:2\n$/);
    expect(r.json.error.details.candidates.map((c: { selector: string }) => c.selector)).toEqual([`id:2`, `id:${ids['2']}`]);
    // Following the advice works, for both candidates.
    const byId = await accounts(['--admin', 'id:2']);
    expect(byId.code).toBe(0);
    expect(JSON.stringify(byId.json)).toContain('José');
    const other = await accounts(['--admin', `id:${ids['2']}`]);
    expect(other.code).toBe(0);
    expect(JSON.stringify(other.json)).toContain('"2@example.com"');
  });

  it.each([
    ['jose', 'José'],
    ['ALICE', 'alice'],
  ])('--admin %s does not select %s: the near match is listed, exit 3, nothing acted on', async (typed, real) => {
    const r = await cli(['backup-code', '--admin', typed, '--yes']);
    expect(r.code).toBe(3);
    if (backend === 'sqlite' && typed === 'jose') {
      // SQLite's NOCASE folds ASCII only: no near match to offer, and still nothing selected.
      expect(r.stderr).toMatch(/^Error: no admin matches "jose"/);
      return;
    }
    expect(r.stderr).toMatch(new RegExp(`^Error: no admin is exactly "${typed}"; near matches: #${ids[real]} ${real} — name one exactly or by id, e\\.g\\. --admin id:${ids[real]}\\n$`));
    expect(r.json.error.details).toMatchObject({ exact: false, candidates: [{ id: ids[real], name: real, selector: `id:${ids[real]}` }] });
  });

  it('strasse and alice\\x01 select nobody (MariaDB\'s collation calls them Straße and alice)', async () => {
    for (const typed of ['strasse', 'alice\x01']) {
      const r = await cli(['backup-code', '--admin', typed, '--yes']);
      expect(r.code, typed).toBe(3);
      expect(r.json.error.message).toMatch(/^no admin (is exactly|matches) /);
    }
  });

  it('a user email in another case is a near match, the exact email selects', async () => {
    const r = await cli(['accounts', '--user', 'carol@example.com']);
    expect(r.code).toBe(3);
    expect(r.json.error.details.candidates).toEqual([{ id: ids.user, name: 'Carol@Example.com', email: 'Carol@Example.com', selector: `id:${ids.user}` }]);
    expect((await cli(['accounts', '--user', 'Carol@Example.com'])).code).toBe(0);
  });

  it('id: needs a number; an unknown id is not found', async () => {
    const bad = await cli(['accounts', '--admin', 'id:alice']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^Error: --admin id:alice: after "id:" comes a number \(e\.g\. --admin id:2\)\n$/);
    expect((await cli(['accounts', '--admin', 'id:999999'])).code).toBe(3);
  });

  it('a 100 000-character selector is not echoed whole', async () => {
    const r = await cli(['accounts', '--admin', 'x'.repeat(100_000)]);
    expect(r.code).toBe(3);
    expect(r.stderr.length).toBeLessThan(300);
    expect(r.stderr).toMatch(/x… \(100000 characters\)/);
  });
});

describe('output in pipes: the table stays the default, plain; JSON only when asked', () => {
  beforeAll(async () => {
    expect((await sandboxReady()).code).toBe(0);
  });

  it('accounts | grep jdoe finds the table row; --format json is still there when asked', async () => {
    const r = await runCli(['--whmcs-dir', dir, 'accounts'], { asTyped: true });
    expect(r.code).toBe(0);
    expect(r.json).toBeUndefined();
    const row = r.stdout.split('\n').filter((l) => l.includes('jdoe'));
    expect(row).toHaveLength(1);
    expect(row[0]).toMatch(/^\s+2\s+jdoe\s+jdoe@billing\.example\.com\s+Full Administrator\s+no\s+duosecurity\s+yes$/);
    expect(r.stdout).not.toContain('\x1b[');
    const j = await runCli(['--whmcs-dir', dir, 'accounts', '--format', 'json'], { asTyped: true });
    expect(j.json.admins.find((a: { username: string }) => a.username === 'jdoe')).toBeDefined();
  });
});

describeWithPeer(['tmux'], 'output in pipes, in a real terminal', () => {
  let term: TmuxTerminal | undefined;
  beforeAll(async () => {
    expect((await sandboxReady()).code).toBe(0);
  });
  afterEach(() => {
    term?.kill();
    term = undefined;
  });

  it('at an 80-column terminal a wide table is cut to fit, never wrapped; in a pipe the same rows stay whole', async () => {
    const t = (term = TmuxTerminal.start([process.execPath, BIN, '--whmcs-dir', dir, 'accounts', '--admins'], {
      env: { XDG_STATE_HOME: TEST_STATE_HOME, WHMCS_DB_URL: undefined, WHMCS_DIR: undefined },
      width: 80,
    }));
    expect(await t.exitCode()).toBe(0);
    // capture() joins wrapped lines (-J): a row that wrapped would come back longer than 80.
    const rows = t.capture().split('\n').filter((l) => /^\s+\d+\s+(admin|jdoe|legacy)\s/.test(l));
    expect(rows.length).toBe(3);
    for (const l of rows) expect([...l.trimEnd()].length, l).toBeLessThanOrEqual(80);
    expect(rows.join('\n')).toContain('…');
    // The same listing into a pipe: whole values (grep finds a full email).
    const piped = await runCli(['--whmcs-dir', dir, 'accounts', '--admins', '--format', 'table']);
    expect(piped.stdout).toMatch(/jdoe@billing\.example\.com/);
    expect(piped.stdout).not.toContain('…');
  });

  it('with colour on (no NO_COLOR), a piped table has no colour and no wrapping; warnings on the terminal keep theirs', async () => {
    const t = (term = TmuxTerminal.start(['sh', '-c', `${process.execPath} ${BIN} --whmcs-dir ${dir} accounts | cat`], {
      env: { XDG_STATE_HOME: TEST_STATE_HOME, NO_COLOR: undefined, FORCE_COLOR: undefined, WHMCS_DB_URL: undefined, WHMCS_DIR: undefined },
      width: 60,
    }));
    expect(await t.exitCode()).toBe(0);
    const screen = t.captureWithColours();
    const tableLines = screen.split('\n').filter((l) => /jdoe|alice@example\.net/.test(l));
    expect(tableLines.length).toBe(2);
    for (const l of tableLines) expect(l).not.toContain('\x1b[');
    // stderr is the terminal: its warning is painted.
    expect(screen).toContain("\x1b[33mWarning: ");
  });
});

describeBackends('reset right after backup-code says the new code is voided', (backend) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb(backend, '8', '8.12.1-release.1');
    await insertAdmin(t.knex, { username: 'keeper', authmodule: 'totp', authdata: '' });
    await insertAdmin(t.knex, { username: 'other', authmodule: 'totp', authdata: '' });
  });
  afterAll(() => t?.drop());
  const cli = (args: string[]) => runCli(['--whmcs-dir', t.whmcsDir, ...args]);

  it('the preview names the backup code just issued; without one it says nothing of the kind', async () => {
    const before = await cli(['--dry-run', 'reset', '--admin', 'keeper', '--reason', 'r', '--format', 'table']);
    expect(before.code).toBe(0);
    expect(before.stdout + before.stderr).not.toMatch(/backup code issued/);
    expect((await cli(['backup-code', '--admin', 'keeper', '--yes'])).code).toBe(0);
    const after = await cli(['--dry-run', 'reset', '--admin', 'keeper', '--reason', 'r', '--format', 'table']);
    expect(after.code).toBe(0);
    expect(after.stdout).toMatch(/the backup code issued by `whmcs-2fa backup-code` on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(the last second-factor change of this account\) stops working/);
    const json = await cli(['--dry-run', 'reset', '--admin', 'keeper', '--reason', 'r', '--format', 'json']);
    expect(JSON.stringify(json.json.notes)).toMatch(/backup code issued/);
    // Another account's code is not this one's.
    const other = await cli(['--dry-run', 'reset', '--admin', 'other', '--reason', 'r', '--format', 'table']);
    expect(other.stdout).not.toMatch(/backup code issued/);
  });
});
