/**
 * The bad-input corpus: table-driven cases, each a setup, CLI arguments, the exact exit code and
 * the one `Error:` line expected — and, for every case, proof that the database is byte-for-byte
 * what it was (every table dumped before and after, test/helpers/snapshot.ts) and that no undo
 * journal entry was left behind.
 *
 * Every case gets its own fresh database (MariaDB and/or SQLite) seeded with the same small
 * install, its own XDG_STATE_HOME and its own scratch directory, so cases can run concurrently.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { Knex } from 'knex';
import { runCli, type CliResult } from '../helpers/cli.js';
import { createTestDb, describeBackends, mysqlServer, tempDir, type Backend, type TestDb } from '../helpers/db.js';
import { changedTables, snapshotDb } from '../helpers/snapshot.js';
import { insertAdmin, insertClient, insertUser } from '../../src/whmcs/schema/seed.js';
import { encodeAccountConfig } from '../../src/whmcs/accounts/account-config.js';
import { phpSerialize } from '../../src/whmcs/php/php-serialize.js';
import { encodeTokendata } from '../../src/services/totp/stored-secret.js';
import { sonataBase32Decode } from '../../src/services/totp/base32-secret.js';
import type { Shape } from '../../src/whmcs/schema/ddl.js';
import { totpAt } from '../helpers/whmcs-oracles.js';

export const V812 = '8.12.1-release.1';
export const V87 = '8.7.2-release.1';
export const V78 = '7.8.3-release.1';
export const SECRET = 'JBSWY3DPEHPK3PXP';
export const BACKUP_HASH = createHash('sha1').update('0123456789abcdef').digest('hex');

export interface CaseEnv {
  backend: Backend;
  shape: Shape;
  t: TestDb;
  /** The test database's name on MariaDB (the SQLite file's path on SQLite). */
  dbName: string;
  /** Scratch directory of this case. */
  dir: string;
  /** XDG_STATE_HOME of this run: the undo journal lives under it. */
  stateHome: string;
  /** Databases that must not change (default: the case's test database). */
  watch: Knex[];
  /** Run after the case, last first. */
  cleanup: Array<() => unknown>;
  /** Values the setup hands to `args`/`env` (ports, users, directories). */
  vars: Record<string, string>;
}

export type Expectation =
  /** Exactly one stderr line `Error: …` matching. */
  | { error: RegExp }
  /** Exit 0, stderr only `Warning: …` lines, one of them matching. */
  | { warning: RegExp }
  /** Exit 0, stderr at most warnings; stdout matching. */
  | { ok: RegExp }
  /** A report command (clock-check): stdout matching, no `Error:` line, nothing else on stderr but warnings. */
  | { report: RegExp };

export interface BadInput {
  name: string;
  /** Default: both. */
  backends?: Backend[];
  shape?: Shape;
  version?: string;
  setup?: (e: CaseEnv) => unknown;
  args: (e: CaseEnv) => string[] | Promise<string[]>;
  env?: (e: CaseEnv) => Record<string, string | undefined>;
  stdin?: string;
  cwd?: (e: CaseEnv) => string;
  exit: number;
  expect: Expectation;
  /** Strings that must appear nowhere in stdout or stderr (passwords, secrets). */
  forbid?: (e: CaseEnv) => string[];
}

/** Seeds the install every case starts from: a few admins and users/clients on TOTP and none. */
export async function seedInstall(t: TestDb, shape: Shape, version: string): Promise<void> {
  const aes = shape === '8' && /^8\.(1[2-9]|[2-9]\d)/.test(version);
  const config = (secret: string) =>
    shape === '7'
      ? phpSerialize({ tokendata: encodeTokendata(sonataBase32Decode(secret)), backupcode: BACKUP_HASH })
      : encodeAccountConfig({ secret, backupcode: BACKUP_HASH }, aes ? 'aes' : 'json', t.ccHash);
  await insertAdmin(t.knex, { username: 'alice', email: 'alice@example.com', authmodule: 'totp', authdata: config(SECRET) });
  await insertAdmin(t.knex, { username: 'bob', email: 'bob@example.com' });
  await insertAdmin(t.knex, { username: 'twin1', email: 'twins@example.com' });
  await insertAdmin(t.knex, { username: 'twin2', email: 'twins@example.com' });
  if (shape === '8') {
    await insertUser(t.knex, { email: 'carol@example.com', second_factor: 'totp', second_factor_config: config(SECRET) });
    await insertUser(t.knex, { email: 'erin@example.com' });
  } else {
    await insertClient(t.knex, { email: 'carol@example.com', authmodule: 'totp', authdata: config(SECRET) });
    await insertClient(t.knex, { email: 'erin@example.com' });
  }
}

/** A `--db` URL on the test server (MariaDB) for any database, user and password. */
export function mysqlUrl(database: string, user?: string, password?: string): string {
  const s = mysqlServer();
  const u = user ?? s.user;
  const p = password ?? (user === undefined ? s.password : undefined);
  return `mysql://${encodeURIComponent(u)}${p ? ':' + encodeURIComponent(p) : ''}@${s.host}:${s.port}/${encodeURIComponent(database)}`;
}

const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * configuration.php text for this case's database, as PHP source: `edit` replaces a variable's
 * right-hand side with the given PHP expression (null removes the variable); `prefix`/`suffix` go
 * before `<?php` and after the last line.
 */
export function configPhp(e: CaseEnv, edit: Record<string, string | null> = {}, opts: { prefix?: string; suffix?: string; open?: string } = {}): string {
  const s = mysqlServer();
  const vars: Array<[string, string]> =
    e.backend === 'sqlite'
      ? [
          ['db_host', q('localhost')],
          ['db_username', q('x')],
          ['db_password', q('')],
          ['db_name', q('x')],
          ['whmcs_2fa_sqlite', q(e.dbName)],
        ]
      : [
          ['db_host', q(s.host!)],
          ['db_port', q(String(s.port))],
          ['db_username', q(s.user)],
          ['db_password', q(s.password ?? '')],
          ['db_name', q(e.dbName)],
        ];
  vars.unshift(['license', q('WHMCS-test')]);
  vars.push(['cc_encryption_hash', q(e.t.ccHash)], ['templates_compiledir', q('templates_c')], ['mysql_charset', q('utf8')]);
  const lines: string[] = [];
  for (const [name, value] of vars) {
    if (name in edit) {
      if (edit[name] !== null) lines.push(`$${name} = ${edit[name]};`);
    } else lines.push(`$${name} = ${value};`);
  }
  for (const [name, value] of Object.entries(edit)) if (value !== null && !vars.some(([n]) => n === name)) lines.push(`$${name} = ${value};`);
  return `${opts.prefix ?? ''}${opts.open ?? '<?php\n'}${lines.join('\n')}\n${opts.suffix ?? ''}`;
}

/** Writes a WHMCS directory with this configuration.php (string or raw bytes); returns the directory. */
export function whmcsDirWith(e: CaseEnv, content: string | Buffer): string {
  const dir = join(e.dir, `whmcs-${randomBytes(3).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'configuration.php'), content);
  return dir;
}

/** A TOTP code valid now for `secret` (base32). */
export async function codeNow(secret: string): Promise<string> {
  return totpAt(sonataBase32Decode(secret), Math.floor(Date.now() / 1000));
}

/** Creates a MariaDB user with these privileges on the case's database; dropped after the case. */
export async function mysqlUser(e: CaseEnv, password: string, privileges: string): Promise<string> {
  const user = `w2fa_${randomBytes(4).toString('hex')}`;
  await e.t.knex.raw(`CREATE USER ?@'%' IDENTIFIED BY ?`, [user, password]);
  await e.t.knex.raw(`GRANT ${privileges} ON \`${e.dbName}\`.* TO ?@'%'`, [user]);
  e.cleanup.push(() => e.t.knex.raw(`DROP USER IF EXISTS ?@'%'`, [user]));
  return user;
}

/** Every undo-journal file under a state directory, with whether it records a committed batch. */
export function journalEntries(stateHome: string): Array<{ file: string; committed: boolean }> {
  const out: Array<{ file: string; committed: boolean }> = [];
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith('.jsonl')) out.push({ file: p, committed: /^\{"commit":/m.test(readFileSync(p, 'utf8')) });
    }
  };
  walk(stateHome);
  return out;
}

const STACK = /^\s+at .+[:(]\d+|node:internal|\.(?:ts|js|mjs):\d+:\d+|WHMCS_2FA_DEBUG|Unhandled|TypeError:|ReferenceError:/m;

function describeRun(args: string[], r: CliResult): string {
  return `whmcs-2fa ${args.map((a) => JSON.stringify(a)).join(' ')}\n--- exit ${r.code}\n--- stderr\n${r.stderr}--- stdout\n${r.stdout.slice(0, 2000)}`;
}

/** The assertions every case shares; exported so other suites can hold runs to the same rules. */
export function expectClean(c: Pick<BadInput, 'exit' | 'expect'>, r: CliResult, where: string): void {
  expect(r.code, where).toBe(c.exit);
  expect(r.stderr + r.stdout, `stack trace or untyped error\n${where}`).not.toMatch(STACK);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  const x = c.expect;
  if ('error' in x) {
    expect(r.stderr, `stderr must be exactly one Error: line\n${where}`).toMatch(/^Error: [^\n]+\n$/);
    expect(lines[0], where).toMatch(x.error);
    if (r.json && typeof r.json === 'object' && 'error' in r.json) {
      expect(r.json.error.exitCode, where).toBe(c.exit);
      expect(`Error: ${r.json.error.message}`, where).toBe(lines[0]);
    }
    return;
  }
  for (const l of lines) expect(l, `only warnings on stderr\n${where}`).toMatch(/^Warning: /);
  if ('warning' in x) {
    expect(c.exit, 'a warnings-only case exits 0').toBe(0);
    expect(lines.some((l) => x.warning.test(l)), `no warning matches ${x.warning}\n${where}`).toBe(true);
  } else if ('ok' in x) {
    expect(r.stdout, where).toMatch(x.ok);
  } else {
    expect(r.stdout, where).toMatch(x.report);
  }
}

async function runCase(c: BadInput, backend: Backend): Promise<void> {
  const shape = c.shape ?? '8';
  const version = c.version ?? (shape === '7' ? V78 : V812);
  const t = await createTestDb(backend, shape, version);
  const dbName = backend === 'sqlite' ? t.url.slice('sqlite:'.length) : new URL(t.url).pathname.slice(1);
  const e: CaseEnv = { backend, shape, t, dbName, dir: tempDir('whmcs2fa-bad-'), stateHome: tempDir('whmcs2fa-badstate-'), watch: [t.knex], cleanup: [], vars: {} };
  try {
    await seedInstall(t, shape, version);
    await c.setup?.(e);
    const before = await Promise.all(e.watch.map((k) => snapshotDb(k)));
    const args = await c.args(e);
    const r = await runCli(args, { env: { XDG_STATE_HOME: e.stateHome, ...c.env?.(e) }, cwd: c.cwd?.(e), input: c.stdin, timeoutMs: 60_000 });
    const where = describeRun(args, r);
    const after = await Promise.all(e.watch.map((k) => snapshotDb(k)));
    expectClean(c, r, where);
    for (const s of c.forbid?.(e) ?? []) {
      expect(r.stdout.includes(s) || r.stderr.includes(s), `output reveals ${JSON.stringify(s)}\n${where}`).toBe(false);
    }
    e.watch.forEach((_, i) => expect(changedTables(before[i]!, after[i]!), `database changed\n${where}`).toEqual([]));
    expect(journalEntries(e.stateHome), `an undo-journal entry was left behind\n${where}`).toEqual([]);
  } finally {
    for (const f of e.cleanup.reverse()) await Promise.resolve(f()).catch(() => {});
    await t.drop();
  }
}

/** Registers a group of cases, each on every backend it names (MariaDB missing: skipped loudly, fails under CI). */
export function runCorpus(group: string, cases: BadInput[]): void {
  const names = new Set<string>();
  for (const c of cases) {
    if (names.has(c.name)) throw new Error(`duplicate bad-input case name: ${c.name}`);
    names.add(c.name);
  }
  for (const backend of ['mysql', 'sqlite'] as const) {
    const mine = cases.filter((c) => (c.backends ?? ['mysql', 'sqlite']).includes(backend));
    if (!mine.length) continue;
    describeBackends(
      `bad inputs: ${group}`,
      () => {
        for (const c of mine) it.concurrent(c.name, () => runCase(c, backend), 90_000);
      },
      [backend],
    );
  }
}
