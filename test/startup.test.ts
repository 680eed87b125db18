import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN } from './helpers/cli.js';
import { freeUdpPort } from './helpers/ntp-peers.js';
import { tempDir } from './helpers/tmp.js';

/**
 * What a run loads, not how long it takes (timings belong to `npm run bench`). Runs the BUILT cli
 * (npm test builds dist/ first) with a preload that records, at exit, every file in require.cache
 * and every Node built-in module loaded.
 */
const dir = tempDir('whmcs2fa-startup-');
const PRELOAD = join(dir, 'record.cjs');
writeFileSync(
  PRELOAD,
  `process.on('exit', () => require('node:fs').writeFileSync(process.env.RECORD_FILE, JSON.stringify({
  files: Object.keys(require.cache),
  builtins: process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)),
})));\n`,
);

const ROOT = resolve(import.meta.dirname, '..');

function loadedBy(args: string[], cwd = dir): { status: number | null; stdout: string; files: string[]; builtins: string[] } {
  const record = join(dir, `record-${args.join('_').replace(/\W/g, '')}.json`);
  const env: NodeJS.ProcessEnv = { ...process.env, RECORD_FILE: record, NO_COLOR: '1' };
  delete env.NODE_OPTIONS;
  // Nothing may point at a WHMCS but what a test sets up.
  for (const k of ['WHMCS_DIR', 'WHMCS_DB_URL']) delete env[k];
  const r = spawnSync(process.execPath, ['--require', PRELOAD, BIN, ...args], { env, cwd, encoding: 'utf8' });
  const { files, builtins } = JSON.parse(readFileSync(record, 'utf8')) as { files: string[]; builtins: string[] };
  return { status: r.status, stdout: r.stdout, files: files.filter((f) => f !== PRELOAD).map((f) => f.replace(ROOT + '/', '')), builtins };
}

// Built-ins a database driver or prompt library would pull in when evaluated: their absence shows
// that knex, mysql2 and friends were not run, even if a careless import bundled them into dist/cli.cjs.
const DRIVER_BUILTINS = ['net', 'tls', 'crypto', 'zlib', 'child_process', 'dgram', 'readline'];

describe('start-up', () => {
  it('--help into a pipe prints the help the build rendered — commander\'s own text — and loads nothing else', () => {
    const runner = join(dir, 'run-cli.cjs');
    writeFileSync(runner, `require(${JSON.stringify(join(ROOT, 'dist/cli.cjs'))}).run();\n`);
    const commander = spawnSync(process.execPath, [runner, '--help'], { encoding: 'utf8' });
    expect(commander.status).toBe(0);
    expect(commander.stdout).toContain('Usage: whmcs-2fa');
    for (const flag of ['--help', '-h']) {
      const r = loadedBy([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(commander.stdout);
      expect(r.files).toEqual(['bin/whmcs-2fa.js']);
    }
  });

  it('help rendered by commander loads only the entry bundle: no npm package, no lazy module, no driver', () => {
    const r = loadedBy(['help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: whmcs-2fa');
    expect(r.stdout).toMatch(/\n {2}status\b/);
    expect(r.files.sort()).toEqual(['bin/compile-cache.js', 'bin/whmcs-2fa.js', 'dist/cli.cjs']);
    expect(r.builtins.filter((b) => DRIVER_BUILTINS.includes(b))).toEqual([]);
  });

  it('a command\'s --help loads no more than that', () => {
    const r = loadedBy(['status', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: whmcs-2fa status');
    expect(r.files.filter((f) => f.includes('node_modules/') || f.startsWith('dist/lib/') || f.startsWith('dist/vendor/'))).toEqual([]);
    expect(r.builtins.filter((b) => DRIVER_BUILTINS.includes(b))).toEqual([]);
  });

  it('clock-check --no-db --format json loads the SNTP client in one file: no database, colour, crypto or resolver', async () => {
    // A port nobody listens on: loopback answers with ICMP port unreachable at once.
    const port = await freeUdpPort();
    const r = loadedBy(['clock-check', '--no-db', '--server', `127.0.0.1:${port}`, '--timeout', '2', '--format', 'json']);
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stdout).servers[0].error.code).toBe('ECONNREFUSED');
    expect(r.files.sort()).toEqual(['bin/compile-cache.js', 'bin/whmcs-2fa.js', 'dist/cli.cjs', 'dist/lib/clock/verdict.cjs', 'dist/lib/errors.cjs']);
    // dns: the address is used as given; internal/fs/streams: process.stdin was never created.
    const unneeded = ['crypto', 'tls', 'zlib', 'dns', 'dns/promises', 'tty', 'internal/fs/streams'];
    expect(r.builtins.filter((b) => unneeded.includes(b))).toEqual([]);
  });

  it('clock-check with no WHMCS configured loads no more than with --no-db; with configuration.php found it loads the database path', async () => {
    const port = await freeUdpPort();
    const args = ['clock-check', '--server', `127.0.0.1:${port}`, '--timeout', '2', '--format', 'json'];
    const bare = loadedBy(args);
    expect(bare.status).toBe(2);
    expect(JSON.parse(bare.stdout).database).toBeNull();
    expect(bare.files.sort()).toEqual(['bin/compile-cache.js', 'bin/whmcs-2fa.js', 'dist/cli.cjs', 'dist/lib/clock/verdict.cjs', 'dist/lib/errors.cjs']);
    expect(bare.builtins.filter((b) => ['crypto', 'tls', 'zlib', 'dns', 'dns/promises', 'tty', 'internal/fs/streams'].includes(b))).toEqual([]);

    // The same run inside a WHMCS tree (a server that refuses connections): the database path is loaded.
    const whmcs = mkdtempSync(join(dir, 'whmcs-'));
    writeFileSync(join(whmcs, 'configuration.php'), "<?php\n$db_host = '127.0.0.1';\n$db_port = '1';\n$db_username = 'root';\n$db_password = '';\n$db_name = 'whmcs';\n");
    const found = loadedBy(args, whmcs);
    expect(JSON.parse(found.stdout).database.source).toBe(join(whmcs, 'configuration.php'));
    expect(found.files).toContain('dist/lib/clock/db-clock.cjs');
  });

  it('--version does not even load the program, nor create process.stdout: it writes to fd 1', () => {
    for (const flag of ['--version', '-V']) {
      const r = loadedBy([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version + '\n');
      expect(r.files).toEqual(['bin/whmcs-2fa.js', 'package.json']);
      // A pipe's process.stdout is a net.Socket (a file's a SyncWriteStream): neither module is loaded.
      expect(r.builtins.filter((b) => ['net', 'stream', 'tty', 'internal/fs/sync_write_stream'].includes(b))).toEqual([]);
    }
  });

  it('--version into a full disk: one Error line and exit 1, not a stack trace', () => {
    const r = spawnSync(process.execPath, [BIN, '--version'], { stdio: ['ignore', openSync('/dev/full', 'w'), 'pipe'], encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^Error: cannot write to standard output: ENOSPC\b[^\n]*\n$/);
  });

  it('an unknown command still gets every command as a suggestion', () => {
    const r = spawnSync(process.execPath, [BIN, 'stauts'], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/Did you mean status\?/);
  });
});
