// Smoke test of what `npm run release` publishes (release/): each standalone executable — the x64
// one natively, the arm64 one under qemu-user-static — and the npm tarball installed offline into
// an empty prefix. Run with `npm run test:release` after `npm run release` (.ci/run does both).
// Every executable runs the stories end to end on SQLite (the sandbox, through the runtime's own
// node:sqlite) and on MariaDB: --version, sandbox, status, accounts, audit, a change (enroll),
// verify, undo.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, MYSQL_OK, type TestDb } from '../helpers/db.js';
import { insertAdmin } from '../../src/whmcs/schema/seed.js';
import { sonataBase32Decode } from '../../src/services/totp/base32-secret.js';
import { totpAt } from '../helpers/whmcs-oracles.js';
import { hasBinary } from '../helpers/peers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
const RELEASE = join(ROOT, 'release');
const SECRET = 'JBSWY3DPEHPK3PXPJBSW';

interface Runner {
  name: string;
  argv: string[];
  env: Record<string, string>;
}

function runners(): { found: Runner[]; missing: string[] } {
  const found: Runner[] = [];
  const missing: string[] = [];
  const x64 = join(RELEASE, `whmcs-2fa-${VERSION}-linux-x64`);
  const arm64 = join(RELEASE, `whmcs-2fa-${VERSION}-linux-arm64`);
  if (existsSync(x64)) found.push({ name: 'linux-x64', argv: [x64], env: {} });
  else missing.push(x64);
  if (!existsSync(arm64)) missing.push(arm64);
  else if (!hasBinary('qemu-aarch64-static') || !existsSync('/usr/aarch64-linux-gnu')) missing.push('qemu-aarch64-static with /usr/aarch64-linux-gnu');
  else found.push({ name: 'linux-arm64 (qemu)', argv: ['qemu-aarch64-static', arm64], env: { QEMU_LD_PREFIX: '/usr/aarch64-linux-gnu' } });
  return { found, missing };
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

function run(r: Runner, args: string[], stateHome: string): Promise<Result> {
  return new Promise((res, rej) => {
    // Only what a user's shell would have: no Node of ours on PATH matters to an executable.
    const env = { PATH: '/usr/bin:/bin', HOME: stateHome, XDG_STATE_HOME: stateHome, NO_COLOR: '1', ...r.env };
    const child = spawn(r.argv[0]!, [...r.argv.slice(1), ...args], { env, cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', rej);
    child.on('close', (code) => {
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      res({ code: code ?? -1, stdout, stderr, json });
    });
  });
}

const { found, missing } = runners();
if (missing.length && process.env.CI === 'true') {
  describe('release artefacts', () => {
    it('are all present under CI', () => {
      throw new Error(`missing under CI: ${missing.join(', ')} — run \`npm run release\` first (.ci/run does)`);
    });
  });
} else if (missing.length) {
  console.warn(`SKIPPING some release smoke tests — missing: ${missing.join(', ')} (run \`npm run release\`)`);
}

/** The stories every executable must carry out against one WHMCS install. */
function stories(r: Runner, target: () => { whmcsDir: string; admin: string }, stateHome: () => string) {
  const cli = (...args: string[]) => run(r, ['--whmcs-dir', target().whmcsDir, ...args], stateHome());

  it('status and accounts read the install', async () => {
    const status = await cli('status', '--format', 'json');
    expect(status.code, status.stderr).toBe(0);
    expect(status.json.whmcs.shape).toBe('8');
    const accounts = await cli('accounts', '--admins', '--format', 'json');
    expect(accounts.code, accounts.stderr).toBe(0);
    expect(accounts.json.admins.map((a: { username: string }) => a.username)).toContain(target().admin);
    // audit is read-only and answers in every format; prometheus output is what node_exporter reads.
    const audit = await cli('audit', '--format', 'json');
    expect([0, 1], audit.stderr).toContain(audit.code);
    expect(Array.isArray(audit.json.findings)).toBe(true);
    const prom = await cli('audit', '--format', 'prometheus');
    expect(prom.code, prom.stderr).toBe(0);
    expect(prom.stdout).toMatch(/^whmcs_2fa_audit_success 1$/m);
  });

  it('enroll (a change), verify, and undo', async () => {
    const now = Math.floor(Date.now() / 1000);
    const key = sonataBase32Decode(SECRET);
    const enrolled = await cli('enroll', '--admin', target().admin, '--secret', SECRET, '--code', await totpAt(key, now), '--force', '--activate', '--yes', '--format', 'json');
    expect(enrolled.code, enrolled.stderr).toBe(0);
    expect(enrolled.json.enrolled).toBe(true);

    // A code of the next step, judged as of then: WHMCS would accept it (the first one is in the replay list).
    const later = now + 30;
    const verified = await cli('verify', '--admin', target().admin, await totpAt(key, later), '--at', String(later), '--format', 'json');
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.json.accepted).toBe(true);

    const undone = await cli('undo', '--yes', '--format', 'json');
    expect(undone.code, undone.stderr).toBe(0);
    expect(undone.json.changed).toBe(true);
    const after = await cli('verify', '--admin', target().admin, await totpAt(key, later), '--at', String(later), '--format', 'json');
    expect(after.json?.accepted ?? false).toBe(false);
  });
}

for (const r of found) {
  describe(`standalone executable ${r.name}`, () => {
    let stateHome = '';
    let sandbox = '';
    beforeAll(() => {
      stateHome = mkdtempSync(join(tmpdir(), 'whmcs2fa-release-state-'));
      sandbox = join(stateHome, 'sandbox');
    });
    afterAll(() => rmSync(stateHome, { recursive: true, force: true }));

    it('--version', async () => {
      const v = await run(r, ['--version'], stateHome);
      expect(v.code).toBe(0);
      expect(v.stdout.trim()).toBe(VERSION);
    });

    describe('SQLite sandbox (node:sqlite inside the executable)', () => {
      it('sandbox creates the install', async () => {
        const made = await run(r, ['sandbox', sandbox, '--format', 'json'], stateHome);
        expect(made.code, made.stderr).toBe(0);
        expect(existsSync(join(sandbox, 'configuration.php'))).toBe(true);
      });
      stories(r, () => ({ whmcsDir: sandbox, admin: 'legacy' }), () => stateHome);
    });

    (MYSQL_OK || process.env.CI === 'true' ? describe : describe.skip)('MariaDB', () => {
      let t: TestDb;
      beforeAll(async () => {
        t = await createTestDb('mysql', '8', '8.12.1-release.1');
        await insertAdmin(t.knex, { username: 'smoke', email: 'smoke@example.com' });
      });
      afterAll(async () => t?.drop());
      stories(r, () => ({ whmcsDir: t.whmcsDir, admin: 'smoke' }), () => stateHome);
    });
  });
}

describe('release/ as published', () => {
  const sums = join(RELEASE, 'SHA256SUMS');
  (existsSync(sums) || process.env.CI === 'true' ? it : it.skip)('every file is in SHA256SUMS and checks out; the licences are there', () => {
    const listed = readFileSync(sums, 'utf8').trim().split('\n').map((l) => l.split(/\s+/)[1]);
    expect(listed).toEqual(expect.arrayContaining([`whmcs-2fa-${VERSION}.tgz`, 'LICENSE', 'THIRD-PARTY-NOTICES']));
    const check = spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: RELEASE, encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(readFileSync(join(RELEASE, 'THIRD-PARTY-NOTICES'), 'utf8')).toMatch(/=== Node\.js ===[\s\S]*=== npm packages/);
  });
});

describe('npm tarball', () => {
  const tgz = join(RELEASE, `whmcs-2fa-${VERSION}.tgz`);
  const present = existsSync(tgz);
  if (!present && process.env.CI !== 'true') console.warn(`SKIPPING the tarball install test: ${tgz} is missing (run \`npm run release\`)`);
  (present || process.env.CI === 'true' ? it : it.skip)(
    'installs offline into an empty prefix, with the man page and completions in place',
    async () => {
      const prefix = mkdtempSync(join(tmpdir(), 'whmcs2fa-prefix-'));
      try {
        const cache = join(prefix, '.npm-cache');
        const inst = spawnSync('npm', ['install', '-g', '--offline', '--no-audit', '--no-fund', '--cache', cache, '--prefix', prefix, tgz], { encoding: 'utf8' });
        expect(inst.status, inst.stderr).toBe(0);
        // Nothing to run at install time, nothing to fetch: npm has no reason to warn.
        expect(inst.stderr).not.toMatch(/install-scripts|ERR/);
        expect(existsSync(join(prefix, 'share/man/man1/whmcs-2fa.1'))).toBe(true);
        // The licence travels with every copy (MIT asks for its notice to).
        expect(readFileSync(join(prefix, 'lib/node_modules/whmcs-2fa/LICENSE'), 'utf8')).toMatch(/^MIT License/);
        for (const shell of ['whmcs-2fa.bash', '_whmcs-2fa', 'whmcs-2fa.fish']) {
          expect(existsSync(join(prefix, 'lib/node_modules/whmcs-2fa/completions', shell)), shell).toBe(true);
        }
        const bin = join(prefix, 'bin/whmcs-2fa');
        const v = spawnSync(bin, ['--version'], { encoding: 'utf8' });
        expect(v.stdout.trim()).toBe(VERSION);
        const help = spawnSync(bin, ['status', '--help'], { encoding: 'utf8' });
        expect(help.status).toBe(0);
        expect(help.stdout).toMatch(/Usage: whmcs-2fa status/);
      } finally {
        rmSync(prefix, { recursive: true, force: true });
      }
    },
    120_000,
  );
});
