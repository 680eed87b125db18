import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { runCli } from './helpers/cli.js';
import { createTestDb, MYSQL_OK, mysqlServer, tempDir, type TestDb } from './helpers/db.js';
import { openDb } from '../src/whmcs/connection/db.js';

const mysqlOrSkip = MYSQL_OK ? describe : process.env.CI === 'true' ? describe : describe.skip;
if (!MYSQL_OK && process.env.CI !== 'true') console.warn('SKIPPING the MariaDB connection tests in connection.test.ts: no MariaDB at 127.0.0.1:3306');

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

function configDir(vars: Record<string, string>): string {
  const dir = tempDir();
  const body = Object.entries(vars).map(([k, v]) => `$${k} = '${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}';`);
  writeFileSync(join(dir, 'configuration.php'), `<?php\n${body.join('\n')}\n`);
  return dir;
}

const base = { license: 'x', db_username: 'root', db_password: '', cc_encryption_hash: 'h', templates_compiledir: 't', mysql_charset: 'utf8' };

mysqlOrSkip('connection failures exit 5 with one clear line [mariadb]', () => {
  let t: TestDb;
  let emptyDb: string;
  beforeAll(async () => {
    t = await createTestDb('mysql', '8');
    emptyDb = `whmcs2fa_empty_${randomBytes(4).toString('hex')}`;
    const admin = await openDb({ ...mysqlServer(), database: '' });
    await admin.knex.raw(`CREATE DATABASE \`${emptyDb}\``);
    await admin.close();
  });
  afterAll(async () => {
    const admin = await openDb({ ...mysqlServer(), database: '' });
    await admin.knex.raw(`DROP DATABASE IF EXISTS \`${emptyDb}\``);
    await admin.close();
    await t?.drop();
  });

  it('closed port', async () => {
    const port = await freePort();
    const r = await runCli(['--whmcs-dir', configDir({ ...base, db_host: '127.0.0.1', db_port: String(port), db_name: 'x' }), 'status']);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^Error: cannot connect to .*connection refused/m);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('host:port in $db_host is honoured', async () => {
    const port = await freePort();
    const r = await runCli(['--whmcs-dir', configDir({ ...base, db_host: `127.0.0.1:${port}`, db_name: 'x' }), 'status']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`127.0.0.1:${port}`);
  });

  it('wrong password', async () => {
    const r = await runCli(['--db', `mysql://root@127.0.0.1:3306/${emptyDb}`, 'status'], { env: { WHMCS_DB_PASSWORD: 'definitely-wrong' } });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/Error: access denied .* check the database user name and password/);
    expect(r.stderr).not.toContain('definitely-wrong');
  });

  it('unknown database', async () => {
    const r = await runCli(['--db', 'mysql://root@127.0.0.1:3306/no_such_db_whmcs2fa', 'status']);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/database "no_such_db_whmcs2fa" does not exist/);
  });

  it('a database that is not WHMCS', async () => {
    const r = await runCli(['--db', `mysql://root@127.0.0.1:3306/${emptyDb}`, 'status', '--format', 'json']);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/not a WHMCS database/);
    expect(r.json.error.exitCode).toBe(5);
  });

  it('password in --db triggers a warning but works', async () => {
    const r = await runCli(['--db', t.url.replace('mysql://root@', 'mysql://root:@'), 'status', '--format', 'json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/Warning: a password in --db is visible/);
  });

  it('reads a real-looking configuration.php and finds it walking up from a subdirectory', async () => {
    const sub = join(t.whmcsDir, 'admin', 'deep');
    mkdirSync(sub, { recursive: true });
    const r = await runCli(['status', '--format', 'json'], { cwd: sub });
    expect(r.code).toBe(0);
    expect(r.json.database.source).toBe(join(t.whmcsDir, 'configuration.php'));
  });

  it('WHMCS_DIR is honoured', async () => {
    const r = await runCli(['status', '--format', 'json'], { env: { WHMCS_DIR: t.whmcsDir } });
    expect(r.code).toBe(0);
  });
});

describe('connection input errors', () => {
  it('no configuration.php anywhere → usage error', async () => {
    const r = await runCli(['status'], { cwd: tempDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--whmcs-dir/);
  });

  it('unknown URL scheme → usage error', async () => {
    const r = await runCli(['--db', 'postgres://x@y/z', 'status']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Error: /);
  });

  it('dynamic configuration.php value names the variable', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'configuration.php'), "<?php\n$db_host = 'localhost';\n$db_password = 'a' . 'b';\n");
    const r = await runCli(['--whmcs-dir', dir, 'status']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/\$db_password/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('missing SQLite file → exit 5', async () => {
    const r = await runCli(['--db', 'sqlite:/nonexistent/whmcs.sqlite', 'status']);
    expect(r.code).toBe(5);
  });

  it('unknown --format → usage error', async () => {
    const r = await runCli(['--db', 'sqlite:/nonexistent/x', 'status', '--format', 'xml']);
    expect(r.code).toBe(2);
  });
});
