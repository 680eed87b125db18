import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShellCompDirective } from '@bomb.sh/tab';
import { buildProgram } from '../src/cli.js';
import { analyze, formatAnswer, DIRECTIVE } from '../src/completion/engine.js';
import { likePrefix, expandHome } from '../src/completion/accounts.js';
import { completionScript } from '../src/completion/scripts.js';
import { SHELLS, SCRIPT_FILES } from '../src/completion/shells.js';
import { completeLine, wordsFromArgv } from '../src/completion/complete.js';
import { adminRow, insertAdmin, insertClient, insertUser } from '../src/whmcs/schema/seed.js';
import { createTestDb, describeBackends, tempDir, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';

const ROOT = resolve(import.meta.dirname, '..');
const program = buildProgram();
const visible = program.createHelp().visibleCommands(program);

/** What `whmcs-2fa complete -- <words>` would offer, without a database. */
function values(...words: string[]): string[] {
  const a = analyze(program, words);
  return a.source.kind === 'list' ? a.source.values.map((c) => c.value).filter((v) => v.startsWith(a.prefix)) : [];
}

/** The answer's candidate values and directive, parsed like the shell scripts do. */
function parseAnswer(text: string): { values: string[]; directive: number } {
  const lines = text.trimEnd().split('\n');
  const last = lines.pop()!;
  expect(last).toMatch(/^:\d+$/);
  return { values: lines.map((l) => l.split('\t')[0]), directive: Number(last.slice(1)) };
}

describe('completion engine (from the commander program)', () => {
  it('offers every visible command, and only those', () => {
    const names = visible.map((c) => c.name());
    expect(values('')).toEqual(names);
    for (const n of ['status', 'accounts', 'activate', 'deactivate', 'enforce', 'reset', 'backup-code', 'undo', 'sandbox', 'completion']) {
      expect(names).toContain(n);
    }
    expect(values('')).not.toContain('complete');
    expect(values('st')).toEqual(['status']);
    expect(values('--whmcs-dir', '/x', 'st')).toEqual(['status']);
  });

  it("offers every long option of every command, with the program's global options", () => {
    for (const cmd of visible) {
      const offered = values(cmd.name(), '--');
      for (const o of cmd.options) if (o.long && !o.hidden) expect(offered, `${cmd.name()} ${o.long}`).toContain(o.long);
      for (const g of ['--whmcs-dir', '--db', '--format', '--yes', '--dry-run', '--quiet', '--no-color', '--show-secrets']) {
        expect(offered, `${cmd.name()} ${g}`).toContain(g);
      }
    }
    expect(values('--')).toContain('--version');
    expect(values('status', '--')).not.toContain('--version');
    expect(values('status', '-')).toEqual(expect.arrayContaining(['-y', '-n', '-q', '-h', '--yes']));
  });

  it('does not offer an option again once given, unless it collects repeats', () => {
    expect(values('status', '--yes', '--')).not.toContain('--yes');
    expect(values('status', '-y', '--')).not.toContain('--yes');
    expect(values('clock-check', '--server', 'a', '--')).toContain('--server');
  });

  it('completes service names, on|off, formats, shells and help topics', () => {
    const services = ['totp', 'duo', 'yubikey', 'duosecurity', 'yubico'];
    expect(values('activate', '')).toEqual(services);
    expect(values('deactivate', '--admins', 'yu')).toEqual(['yubikey', 'yubico']);
    expect(values('accounts', '--module', '')).toEqual(services);
    expect(values('reset', '--module=d')).toEqual(['duo', 'duosecurity']);
    expect(values('activate', 'totp', '')).toEqual([]);
    expect(values('enforce', '--admins', '')).toEqual(['on', 'off']);
    expect(values('enforce', '--clients=o')).toEqual(['on', 'off']);
    expect(values('enforce', '--admins', 'on', '--clients', 'of')).toEqual(['off']);
    expect(values('--format', '')).toEqual(['table', 'json', 'yaml', 'csv']);
    expect(values('accounts', '--format=c')).toEqual(['csv']);
    expect(values('clock-check', '--format', '')).toContain('nagios');
    expect(values('clock-check', '--format', '')).not.toContain('prometheus');
    expect(values('audit', '--format', '')).toEqual(['table', 'json', 'yaml', 'csv', 'nagios', 'prometheus']);
    expect(values('audit', '--fail-on', 'w')).toEqual(['warning']);
    expect(values('audit', '--warn-on', 'no')).toEqual(['none', 'no-service-enabled', 'no-admin-module', 'no-client-module']);
    expect(values('audit', '--ignore', 'admin-no')).toEqual(['admin-no-second-factor', 'admin-no-backup-code']);
    expect(values('completion', '')).toEqual(['bash', 'zsh', 'fish']);
    expect(values('help', 'back')).toEqual(['backup-code']);
    // A value-taking option swallows the next word, so this is still the option's value.
    expect(values('--format', 'status')).toEqual([]);
    expect(analyze(program, ['activate', 'totp', '--reason', '']).source.kind).toBe('none');
  });

  it('leaves directories to the shell for --whmcs-dir and <dir>', () => {
    for (const words of [['--whmcs-dir', ''], ['status', '--whmcs-dir', '/v'], ['--whmcs-dir=/v'], ['sandbox', '']]) {
      const a = analyze(program, words);
      expect(a.source.kind, words.join(' ')).toBe('dirs');
      expect(formatAnswer([], a.prefix, a.source)).toBe(`:${DIRECTIVE.FilterDirs}\n`);
    }
  });

  it('asks the database for --admin, --user and --client, and reads the connection from the line', () => {
    expect(analyze(program, ['reset', '--admin', 'a']).source).toEqual({ kind: 'accounts', accounts: 'admins' });
    expect(analyze(program, ['verify', '--user', '']).source).toEqual({ kind: 'accounts', accounts: 'users' });
    expect(analyze(program, ['backup-code', '--client=x']).source).toEqual({ kind: 'accounts', accounts: 'clients' });
    expect(analyze(program, ['reset', '--admin=jd']).prefix).toBe('jd');
    expect(analyze(program, ['--whmcs-dir', '/srv/whmcs', 'reset', '--admin', '']).connection).toEqual({ whmcsDir: '/srv/whmcs' });
    expect(analyze(program, ['reset', '--db=mysql://u@h/d', '--admin', '']).connection).toEqual({ db: 'mysql://u@h/d' });
    // `--admins` (plural) is a flag, so what follows is not an account.
    expect(analyze(program, ['reset', '--admins', '']).source.kind).toBe('none');
  });

  it('follows commander: an optional option-argument takes the next word unless it is an option; `--` ends options', () => {
    expect(values('verify', '--ntp', 'pool.example', '--')).toContain('--admin');
    expect(values('verify', '--ntp', '--ad')).toEqual(['--admin']);
    expect(values('status', '--', '--')).toEqual([]);
  });

  it('answers in the protocol: prefix-filtered `value<TAB>description` lines, then the directive', () => {
    const text = formatAnswer(
      [
        { value: 'alice', description: 'Alice\nAdmin' },
        { value: 'bob', description: '' },
        { value: 'alice', description: 'again' },
        { value: 'al\tx', description: '' },
      ],
      'a',
      { kind: 'list', values: [] },
    );
    expect(text).toBe(`alice\tAlice Admin\n:${DIRECTIVE.NoFileComp}\n`);
    expect(DIRECTIVE.NoFileComp).toBe(ShellCompDirective.ShellCompDirectiveNoFileComp);
    expect(DIRECTIVE.FilterDirs).toBe(ShellCompDirective.ShellCompDirectiveFilterDirs);
  });

  it('escapes LIKE wildcards and expands ~ in --whmcs-dir', () => {
    expect(likePrefix('a_b%c!')).toBe('a!_b!%c!!%');
    expect(likePrefix('')).toBe('%');
    expect(expandHome('~/whmcs', { HOME: '/home/op' })).toBe('/home/op/whmcs');
    expect(expandHome('/srv/~x', { HOME: '/home/op' })).toBe('/srv/~x');
  });

  it('takes the words after `complete --` from argv verbatim', () => {
    expect(wordsFromArgv(['node', 'bin', 'complete', '--', 'status', '--', '-h', ''], ['x'])).toEqual(['status', '--', '-h', '']);
    expect(wordsFromArgv(['node', 'bin', 'complete', 'st'], ['st'])).toEqual(['st']);
  });
});

describe('whmcs-2fa complete (built CLI)', () => {
  it('prints candidates and the directive, nothing on stderr, for words commander would otherwise take as its own', async () => {
    const st = await runCli(['complete', '--', 'st']);
    expect(st).toMatchObject({ code: 0, stderr: '' });
    expect(parseAnswer(st.stdout)).toEqual({ values: ['status'], directive: 4 });
    const lines = [['--help', ''], ['-h'], ['-V', ''], ['status', '--', ''], ['--version', '--format', ''], ['status', '--d']];
    const answers = await Promise.all(lines.map((words) => runCli(['complete', '--', ...words])));
    answers.forEach((r, i) => {
      const what = lines[i].join(' ');
      expect(r.code, what).toBe(0);
      expect(r.stderr, what).toBe('');
      expect(r.stdout, what).toMatch(/^(.*\n)*:\d+\n$/);
    });
    expect(parseAnswer(answers[0].stdout).values).toEqual(values('--help', ''));
    expect(parseAnswer(answers[4].stdout).values).toEqual(['table', 'json', 'yaml', 'csv']);
    expect(parseAnswer(answers[5].stdout).values).toEqual(['--db', '--dry-run']);
  });

  it('is not listed in --help', async () => {
    const r = await runCli(['--help']);
    expect(r.stdout).toMatch(/^\s+completion /m);
    expect(r.stdout).not.toMatch(/^\s+complete /m);
  });

  it('gives no suggestions and no error text when the database is unreachable or not configured', async () => {
    const words = ['--db', 'mysql://root@127.0.0.1:1/x', 'reset', '--admin', ''];
    const refused = await runCli(['complete', '--', ...words]);
    expect(refused).toMatchObject({ code: 0, stdout: ':4\n', stderr: '' });
    // The refusal itself ends the lookup: with a deadline and a connect timeout nothing reaches, the
    // answer still comes, not abandoned.
    expect(await completeLine(program, words, { env: {}, cwd: tempDir(), deadlineMs: 60_000, connectTimeoutMs: 60_000 })).toEqual({ text: ':4\n', abandoned: false });
    const nowhere = await runCli(['complete', '--', 'reset', '--admin', 'a'], { cwd: tempDir(), env: { WHMCS_DIR: undefined } });
    expect(nowhere).toMatchObject({ code: 0, stdout: ':4\n', stderr: '' });
    const broken = tempDir();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(broken, 'configuration.php'), '<?php $db_host = FOO;');
    const bad = await runCli(['complete', '--', '--whmcs-dir', broken, 'reset', '--admin', '']);
    expect(bad).toMatchObject({ code: 0, stdout: ':4\n', stderr: '' });
  });

  it('gives up on a server that never answers within the deadline', async () => {
    // Accepts the TCP connection and never sends MySQL's greeting.
    const sockets: Socket[] = [];
    const silent = createServer((c) => sockets.push(c));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as AddressInfo;
    try {
      const words = ['--db', `mysql://root@127.0.0.1:${port}/x`, 'reset', '--admin', ''];
      // A deadline far below a connect timeout that never fires: only the deadline can end this
      // lookup, and `abandoned` says it did (loading the driver comes before, and is not timed).
      const r = await completeLine(program, words, { env: {}, cwd: tempDir(), deadlineMs: 300, connectTimeoutMs: 60_000 });
      expect(r).toEqual({ text: ':4\n', abandoned: true });
      expect(sockets.length, 'the lookup reached the silent server').toBeGreaterThan(0);
      // A process of its own: what counts is that it ends by itself (runCli would stop it and
      // report exit -1), however long the connection attempt it leaves behind would hang.
      const cli = await runCli(['complete', '--', ...words], { process: true });
      expect(cli).toMatchObject({ code: 0, stdout: ':4\n', stderr: '' });
    } finally {
      for (const c of sockets) c.destroy();
      silent.close();
    }
  });
});

describeBackends('account completion from the database', (backend) => {
  let t8: TestDb;
  let t7: TestDb;
  beforeAll(async () => {
    t8 = await createTestDb(backend, '8');
    for (const username of ['alice', 'anna', 'andrew', 'bob', 'a_x', 'abx', 'a%y']) await insertAdmin(t8.knex, { username });
    await insertAdmin(t8.knex, { username: 'former', disabled: 1, firstname: 'Fo', lastname: 'Rmer' });
    await insertUser(t8.knex, { email: 'alice@example.net', first_name: 'Alice', last_name: 'Liddell' });
    await insertUser(t8.knex, { email: 'bob@example.net' });
    t7 = await createTestDb(backend, '7');
    await insertClient(t7.knex, { email: 'carol@example.org', firstname: 'Carol', lastname: 'C' });
    await insertClient(t7.knex, { email: 'dave@example.org' });
  });
  afterAll(async () => {
    await t8?.drop();
    await t7?.drop();
  });

  const complete = async (words: string[], opts: { env?: Record<string, string | undefined>; cwd?: string } = {}) => {
    const r = await runCli(['complete', '--', ...words], { cwd: opts.cwd ?? tempDir(), env: { WHMCS_DIR: undefined, ...opts.env } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return parseAnswer(r.stdout).values;
  };

  it('admin usernames for --admin (WHMCS_DIR), prefix-filtered with LIKE wildcards taken literally', async () => {
    const env = { WHMCS_DIR: t8.whmcsDir };
    const [an, underscore, percent, all, former] = await Promise.all([
      complete(['reset', '--admin', 'an'], { env }),
      complete(['reset', '--admin', 'a_'], { env }),
      complete(['reset', '--admin', 'a%'], { env }),
      complete(['backup-code', '--admin', ''], { env }),
      runCli(['complete', '--', 'reset', '--admin', 'fo'], { env }),
    ]);
    expect(an).toEqual(['andrew', 'anna']);
    expect(underscore).toEqual(['a_x']);
    expect(percent).toEqual(['a%y']);
    expect(all.sort()).toEqual(['a%y', 'a_x', 'abx', 'alice', 'andrew', 'anna', 'bob', 'former'].sort());
    expect(former.stdout).toBe('former\tFo Rmer (disabled)\n:4\n');
  });

  it('reads --whmcs-dir and --db from the line, and configuration.php upwards from the current directory', async () => {
    expect(await complete(['--whmcs-dir', t8.whmcsDir, 'enroll', '--admin=al'])).toEqual(['alice']);
    expect(await complete(['verify', '--whmcs-dir', t8.whmcsDir, '--user', 'a'])).toEqual(['alice@example.net']);
    expect(await complete(['--db', t8.url, 'reset', '--user', 'b'], { env: { WHMCS_DB_PASSWORD: '' } })).toEqual(['bob@example.net']);
    const { mkdirSync } = await import('node:fs');
    const below = join(t8.whmcsDir, 'modules', 'addons');
    mkdirSync(below, { recursive: true });
    expect(await complete(['reset', '--admin', 'bo'], { cwd: below })).toEqual(['bob']);
  });

  it('client emails for --client on WHMCS 7; a table that does not exist just gives nothing', async () => {
    expect(await complete(['reset', '--client', ''], { env: { WHMCS_DIR: t7.whmcsDir } })).toEqual(['carol@example.org', 'dave@example.org']);
    expect(await complete(['reset', '--user', ''], { env: { WHMCS_DIR: t7.whmcsDir } })).toEqual([]);
  });

  it('caps the list at 200', async () => {
    const rows = Array.from({ length: 230 }, (_, i) => adminRow({ username: `bulk${String(i).padStart(3, '0')}` }));
    await t8.knex.batchInsert('tbladmins', rows, 50);
    const got = await complete(['reset', '--admin', 'bulk'], { env: { WHMCS_DIR: t8.whmcsDir } });
    expect(got).toHaveLength(200);
    expect(got[0]).toBe('bulk000');
    expect(got[199]).toBe('bulk199');
  });
});

describe('completion scripts', () => {
  it.each(SHELLS)('completions/%s equals a fresh `whmcs-2fa completion` (run `npm run completions`)', async (shell) => {
    const committed = readFileSync(join(ROOT, 'completions', SCRIPT_FILES[shell]), 'utf8');
    expect(committed).toBe(completionScript(shell));
    const built = await runCli(['completion', shell]);
    expect(built.code).toBe(0);
    expect(built.stdout).toBe(committed);
  });

  it('bash: the fixes to the generated script are in place', () => {
    const s = completionScript('bash');
    expect(s).not.toMatch(/^readonly /m);
    expect(s).toContain('complete -- ${words[@]:1:cword}');
    expect(s).toContain('cur=${cur#*=}');
  });

  it('rejects other shells with a usage error', async () => {
    const r = await runCli(['completion', 'powershell']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Error: .*powershell/);
  });
});
