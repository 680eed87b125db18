/**
 * The terminal I/O object (src/ui/iostreams.ts): one definition of "can ask a question", colour
 * per stream, widths, how a run ends early and signals — and, because tests replace it, a prompt
 * answered in the test's own process through the real program.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testIO } from './helpers/io.js';
import { createTestDb, type TestDb } from './helpers/db.js';
import { TEST_STATE_HOME } from './helpers/cli.js';
import { insertAdmin } from '../src/whmcs/schema/seed.js';
import { main } from '../src/cli.js';

describe('IOStreams', () => {
  it('can prompt only when stdin and stderr (where a question is read and asked) are terminals', () => {
    expect(testIO({ tty: { stdin: true, stderr: true } }).io.canPrompt).toBe(true);
    expect(testIO({ tty: { stdin: true, stdout: true, stderr: true } }).io.canPrompt).toBe(true);
    expect(testIO({ tty: { stdin: true, stderr: true, stdout: false } }).io.canPrompt).toBe(true);
    expect(testIO({ tty: { stdin: true, stdout: true } }).io.canPrompt).toBe(false);
    expect(testIO({ tty: { stdout: true, stderr: true } }).io.canPrompt).toBe(false);
    expect(testIO().io.canPrompt).toBe(false);
  });

  it('colours a stream only on a terminal, never with $NO_COLOR or --no-color', () => {
    const tty = { stdout: true, stderr: false };
    expect(testIO({ tty }).io.colorEnabled('stdout')).toBe(true);
    expect(testIO({ tty }).io.colorEnabled('stderr')).toBe(false);
    expect(testIO({ tty }).io.colorEnabled('stdout', false)).toBe(false);
    expect(testIO({ tty, env: { NO_COLOR: '1' } }).io.colorEnabled('stdout')).toBe(false);
    // no-color.org: an empty NO_COLOR does not count.
    expect(testIO({ tty, env: { NO_COLOR: '' } }).io.colorEnabled('stdout')).toBe(true);
  });

  it('has a width only where there is a terminal: a pipe is never cut', () => {
    expect(testIO({ tty: { stdout: true }, columns: 100 }).io.terminalWidth('stdout')).toBe(100);
    expect(testIO({ tty: { stdout: true }, columns: 100 }).io.terminalWidth('stderr')).toBeNull();
  });

  it('exit() ends the run with the first code it is given; endWith() does not override it', async () => {
    const { io } = testIO();
    expect(io.exitCode).toBeUndefined();
    io.exit(7);
    io.exit(0);
    io.endWith(1);
    expect(await io.ended).toBe(7);
    expect(io.exitCode).toBe(7);
  });

  it('delivers signals to the handlers registered for them, until they stop listening', () => {
    const { io } = testIO();
    const got: string[] = [];
    const stop = io.onSignals(['SIGINT', 'SIGTERM'], (s) => got.push(s));
    expect(io.deliver('SIGTERM')).toBe(true);
    expect(io.deliver('SIGHUP')).toBe(false);
    stop();
    expect(io.deliver('SIGINT')).toBe(false);
    expect(got).toEqual(['SIGTERM']);
  });
});

describe('a confirmation answered in this process', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb('sqlite', '8', '8.7.2-release.1');
    await insertAdmin(t.knex, { username: 'ops', authmodule: 'totp', authdata: '{"secret":"JBSWY3DPEHPK3PXP","backupcode":"x"}' });
  });
  afterAll(() => t?.drop());

  const reset = async (answer: string) => {
    const term = testIO({ tty: { stdin: true, stderr: true }, env: { XDG_STATE_HOME: TEST_STATE_HOME, NO_COLOR: '1' } });
    // Typed ahead: it waits in stdin until the question reads it.
    term.input.write(answer);
    const code = await main(['node', 'whmcs-2fa', '--whmcs-dir', t.whmcsDir, 'reset', '--admin', 'ops', '--reason', 'lost phone', '--format', 'json'], { io: term.io });
    expect(term.stderr()).toContain('Turn this second factor off?');
    return { code, stderr: term.stderr(), json: JSON.parse(term.stdout()) };
  };

  it('"n" cancels (exit 8) after showing the change; "y" writes it', async () => {
    const no = await reset('n\r');
    expect(no.stderr).toMatch(/About to change:/);
    expect(no.code).toBe(8);
    expect(no.json.error.exitCode).toBe(8);
    expect((await t.knex('tbladmins').where({ username: 'ops' }).first('authmodule')).authmodule).toBe('totp');
    const yes = await reset('y\r');
    expect(yes.code, yes.stderr).toBe(0);
    expect(yes.json.changed).toBe(true);
    expect((await t.knex('tbladmins').where({ username: 'ops' }).first('authmodule')).authmodule).toBe('');
  });
});
