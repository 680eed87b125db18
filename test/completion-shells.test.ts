import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { insertAdmin } from '../src/whmcs/schema/seed.js';
import { createTestDb, describeBackends, tempDir, type TestDb } from './helpers/db.js';
import { describeWithPeer } from './helpers/peers.js';
import { TmuxTerminal } from './helpers/tmux.js';
import { BIN } from './helpers/cli.js';

/**
 * The shipped scripts in real shells, against the BUILT cli (npm test builds dist/ first): a
 * `whmcs-2fa` on PATH that runs bin/whmcs-2fa.js, as after `npm i -g`.
 */
const ROOT = resolve(import.meta.dirname, '..');
const COMPLETIONS = join(ROOT, 'completions');
const BASH_COMPLETION = '/usr/share/bash-completion/bash_completion';

const HOME = tempDir('whmcs2fa-home-');
const SHIM_DIR = join(HOME, 'bin');
mkdirSync(SHIM_DIR, { recursive: true });
writeFileSync(join(SHIM_DIR, 'whmcs-2fa'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
chmodSync(join(SHIM_DIR, 'whmcs-2fa'), 0o755);
const PATH = `${SHIM_DIR}:${process.env.PATH}`;
const C_U = '\u0015';
const LEFT = '\u001b[D';

/** A clean environment: no inherited WHMCS connection, a private HOME. */
function shellEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  return { PATH, HOME, WHMCS_DIR: undefined, WHMCS_DB_URL: undefined, XDG_STATE_HOME: join(HOME, 'state'), XDG_CONFIG_HOME: join(HOME, 'config'), XDG_DATA_HOME: join(HOME, 'data'), ...extra };
}

function envFor(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** The line the cursor is on, from the last prompt. */
const lastPromptLine = (screen: string) => {
  const lines = screen.split('\n').filter((l) => l.startsWith('$ '));
  return lines[lines.length - 1] ?? '';
};

describeWithPeer(['tmux', 'bash', { file: BASH_COMPLETION, package: 'bash-completion' }], 'bash completion in a real terminal', () => {
  describeBackends(
    'with admins in the database',
    (backend) => {
      let t: TestDb;
      let term: TmuxTerminal | undefined;
      beforeAll(async () => {
        t = await createTestDb(backend, '8');
        for (const username of ['alice', 'nina', 'nick', 'bob']) await insertAdmin(t.knex, { username });
      });
      afterAll(async () => {
        await t?.drop();
      });
      afterEach(() => term?.kill());

      async function bash(): Promise<TmuxTerminal> {
        term = TmuxTerminal.start(['bash', '--norc', '--noprofile', '-i'], {
          cwd: HOME,
          env: shellEnv({ WHMCS_DIR: t.whmcsDir, HISTFILE: '/dev/null', INPUTRC: '/dev/null' }),
        });
        term.type(`PS1='$ '; source ${BASH_COMPLETION}; source ${join(COMPLETIONS, 'whmcs-2fa.bash')}; echo READY`);
        await term.waitFor(/^READY$/m);
        return term;
      }

      it('completes a command name: whmcs-2fa st<Tab>', async () => {
        const sh = await bash();
        sh.type('whmcs-2fa st\t', false);
        await sh.waitFor((s) => lastPromptLine(s) === '$ whmcs-2fa status ');
      });

      it('lists options: whmcs-2fa status --<Tab><Tab>', async () => {
        const sh = await bash();
        sh.type('whmcs-2fa status --\t', false);
        // The first Tab inserts nothing (no common prefix beyond --); the second lists.
        await new Promise((r) => setTimeout(r, 1500));
        sh.type('\t', false);
        const screen = await sh.waitFor((s) => ['--whmcs-dir', '--db', '--format', '--dry-run', '--show-secrets', '--help'].every((o) => s.includes(o)));
        expect(screen).not.toMatch(/--version/);
      });

      it('completes an admin username from the database: whmcs-2fa reset --admin a<Tab>', async () => {
        const sh = await bash();
        sh.type('whmcs-2fa reset --admin a\t', false);
        await sh.waitFor((s) => lastPromptLine(s) === '$ whmcs-2fa reset --admin alice ');
        sh.type(C_U, false);
        sh.type('whmcs-2fa backup-code --admin ni\t', false);
        await new Promise((r) => setTimeout(r, 1500));
        sh.type('\t', false);
        await sh.waitFor((s) => /^nick\s+nina\s*$/m.test(s));
      });

      it('completes --opt=value and values in the middle of a line', async () => {
        const sh = await bash();
        sh.type('whmcs-2fa enforce --admins=of\t', false);
        await sh.waitFor((s) => lastPromptLine(s) === '$ whmcs-2fa enforce --admins=off ');
        sh.type(C_U, false);
        sh.type('whmcs-2fa activate yubik\t', false);
        // (after Ctrl-U the old, longer line leaves blanks behind: compare without them)
        await sh.waitFor((s) => lastPromptLine(s).trimEnd() === '$ whmcs-2fa activate yubikey');
        sh.type(C_U, false);
        // Cursor moved back behind "st": the words after it must not change the answer.
        sh.type('whmcs-2fa st --yes' + LEFT.repeat(' --yes'.length) + '\t', false);
        await sh.waitFor((s) => lastPromptLine(s).trimEnd() === '$ whmcs-2fa status --yes');
      });

      it('can be sourced twice without errors', async () => {
        const sh = await bash();
        sh.type(`source ${join(COMPLETIONS, 'whmcs-2fa.bash')} && echo AGAIN-OK`);
        const screen = await sh.waitFor(/^AGAIN-OK$/m);
        expect(screen).not.toMatch(/readonly/);
      });
    },
    ['mysql'],
  );
});

describeWithPeer(['tmux', 'bash'], 'bash completion without the bash-completion package', () => {
  let term: TmuxTerminal | undefined;
  afterEach(() => term?.kill());

  it('completes commands and --opt=value with bash alone: no "_get_comp_words_by_ref: command not found"', { timeout: 60_000 }, async () => {
    const sh = (term = TmuxTerminal.start(['bash', '--norc', '--noprofile', '-i'], { cwd: HOME, env: shellEnv({ HISTFILE: '/dev/null', INPUTRC: '/dev/null' }) }));
    // Nothing of bash-completion is loaded: the function the script would otherwise need is absent.
    sh.type(`PS1='$ '; source ${join(COMPLETIONS, 'whmcs-2fa.bash')}; declare -F _get_comp_words_by_ref || echo PLAIN-BASH`);
    await sh.waitFor(/^PLAIN-BASH$/m);
    sh.type('whmcs-2fa st\t', false);
    await sh.waitFor((s) => lastPromptLine(s) === '$ whmcs-2fa status ');
    sh.type(C_U, false);
    sh.type('whmcs-2fa status --format=ya\t', false);
    await sh.waitFor((s) => lastPromptLine(s).trimEnd() === '$ whmcs-2fa status --format=yaml');
    sh.type(C_U, false);
    sh.type('whmcs-2fa enforce --admins o\t', false);
    await sh.waitFor((s) => /^\$ whmcs-2fa enforce --admins o(n|ff)?/m.test(lastPromptLine(s)));
    expect(sh.capture()).not.toMatch(/command not found/);
  });
});

// compinit's first run scans every completion function (seconds on a slow disk); the dump files it
// leaves (.zcd1 for the default $fpath, .zcd2 with completions/ in it) make later runs fast.
describeWithPeer(['zsh'], 'zsh completion script', () => {
  it('loads with compinit, sourced or from $fpath, and registers _whmcs-2fa', { timeout: 90_000 }, () => {
    const env = envFor(shellEnv());
    const sourced = spawnSync('zsh', ['-f', '-c', `autoload -U compinit; compinit -u -d ${HOME}/.zcd1; source ${join(COMPLETIONS, '_whmcs-2fa')}; print -r -- $_comps[whmcs-2fa]`], { env, encoding: 'utf8' });
    expect(sourced.stderr).toBe('');
    expect(sourced.status).toBe(0);
    expect(sourced.stdout.trim()).toBe('_whmcs-2fa');
    const fromFpath = spawnSync('zsh', ['-f', '-c', `fpath=(${COMPLETIONS} $fpath); autoload -U compinit; compinit -u -d ${HOME}/.zcd2; print -r -- $_comps[whmcs-2fa]`], { env, encoding: 'utf8' });
    expect(fromFpath.stderr).toBe('');
    expect(fromFpath.stdout.trim()).toBe('_whmcs-2fa');
  });
});

describeWithPeer(['tmux', 'zsh'], 'zsh completion in a real terminal', () => {
  let term: TmuxTerminal | undefined;
  afterEach(() => term?.kill());

  it('whmcs-2fa st<Tab> and enforce --clients o<Tab>', { timeout: 90_000 }, async () => {
    term = TmuxTerminal.start(['zsh', '-f', '-i'], { cwd: HOME, env: shellEnv() });
    term.type(`PS1='$ '; fpath=(${COMPLETIONS} $fpath); autoload -U compinit; compinit -u -d ${HOME}/.zcd2; echo READY`);
    await term.waitFor(/^READY$/m, 60_000);
    term.type('whmcs-2fa st\t', false);
    await term.waitFor((s) => lastPromptLine(s) === '$ whmcs-2fa status ');
    term.type(C_U, false);
    term.type('whmcs-2fa enforce --clients o\t', false);
    // Both candidates are listed under the line.
    await term.waitFor((s) => {
      const below = s.slice(s.lastIndexOf('$ whmcs-2fa enforce --clients o') + 31);
      return /\bon\b/.test(below) && /\boff\b/.test(below);
    });
  });
});

describeWithPeer(['fish'], 'fish completion script', () => {
  const fish = (script: string, extra: Record<string, string> = {}) =>
    execFileSync('fish', ['--no-config', '-c', `source ${join(COMPLETIONS, 'whmcs-2fa.fish')}; ${script}`], { env: envFor(shellEnv(extra)), encoding: 'utf8' });

  it('passes fish -n', () => {
    const r = spawnSync('fish', ['-n', join(COMPLETIONS, 'whmcs-2fa.fish')], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('gives real completions through complete -C', () => {
    expect(fish('complete -C "whmcs-2fa st"')).toMatch(/^status\tWHMCS version/m);
    expect(fish('complete -C "whmcs-2fa enforce --admins "').split('\n').filter(Boolean).sort()).toEqual(['off', 'on']);
    const formats = fish('complete -C "whmcs-2fa --format="');
    expect(formats).toMatch(/^--format=json\t/m);
    expect(formats).toMatch(/^--format=yaml\t/m);
    const opts = fish('complete -C "whmcs-2fa reset --"');
    for (const o of ['--admin', '--module', '--batch-size', '--whmcs-dir', '--dry-run']) expect(opts).toMatch(new RegExp(`^${o}\\t`, 'm'));
  });

  describeBackends(
    'with admins in the database',
    (backend) => {
      let t: TestDb;
      beforeAll(async () => {
        t = await createTestDb(backend, '8');
        for (const username of ['alice', 'bob']) await insertAdmin(t.knex, { username, firstname: username === 'alice' ? 'Alice' : 'Bob', lastname: 'Admin' });
      });
      afterAll(async () => {
        await t?.drop();
      });

      it('complete -C "whmcs-2fa reset --admin a" offers alice', () => {
        expect(fish('complete -C "whmcs-2fa reset --admin a"', { WHMCS_DIR: t.whmcsDir })).toBe('alice\tAlice Admin\n');
      });
    },
    ['mysql'],
  );
});
