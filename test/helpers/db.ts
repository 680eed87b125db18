import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'vitest';
import type { Knex } from 'knex';
import { openDb, type Db, type MysqlTarget } from '../../src/whmcs/connection/db.js';
import { createWhmcsSchema } from '../../src/whmcs/schema/seed.js';
import type { Shape } from '../../src/whmcs/schema/ddl.js';
import { tempDir } from './tmp.js';

export { tempDir };

/** Test server; override with WHMCS_TEST_MYSQL_URL=mysql://user:pass@host:port */
export function mysqlServer(): Omit<MysqlTarget, 'database'> {
  const u = new URL(process.env.WHMCS_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306');
  return {
    kind: 'mysql',
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password || ''),
  };
}

let reachable: boolean | undefined;
export async function mysqlReachable(): Promise<boolean> {
  if (reachable !== undefined) return reachable;
  try {
    const db = await openDb({ ...mysqlServer(), database: '', connectTimeoutMs: 3000 });
    await db.close();
    reachable = true;
  } catch {
    reachable = false;
  }
  return reachable;
}

export type Backend = 'mysql' | 'sqlite';

export interface TestDb {
  backend: Backend;
  db: Db;
  knex: Knex;
  /** A --db URL the CLI can use for this database. */
  url: string;
  /** A WHMCS dir whose configuration.php points at this database, with this cc_encryption_hash. */
  whmcsDir: string;
  ccHash: string;
  drop(): Promise<void>;
}

export const TEST_CC_HASH = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab';

/**
 * A throwaway WHMCS-shaped database: on MariaDB a fresh `whmcs2fa_test_<random>` database, on
 * SQLite a temp file. `drop()` removes it. `version` sets the Version row (e.g. '8.7.2-release.1').
 */
export async function createTestDb(backend: Backend, shape: Shape, version?: string, ccHash = TEST_CC_HASH): Promise<TestDb> {
  const dir = tempDir();
  if (backend === 'sqlite') {
    const file = join(dir, 'whmcs.sqlite');
    const db = await openDb({ kind: 'sqlite', file, create: true });
    await createWhmcsSchema(db.knex, 'sqlite', shape, version);
    writeConfig(dir, ccHash, { sqlite: file });
    return { backend, db, knex: db.knex, url: `sqlite:${file}`, whmcsDir: dir, ccHash, drop: async () => {
        await db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const server = mysqlServer();
  const name = `whmcs2fa_test_${randomBytes(5).toString('hex')}`;
  const admin = await openDb({ ...server, database: '' });
  await admin.knex.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8 COLLATE utf8_unicode_ci`);
  await admin.close();
  const db = await openDb({ ...server, database: name });
  await createWhmcsSchema(db.knex, 'mysql', shape, version);
  writeConfig(dir, ccHash, { host: server.host!, port: server.port!, user: server.user, password: server.password ?? '', name });
  const auth = server.user + (server.password ? ':' + encodeURIComponent(server.password) : '');
  return {
    backend,
    db,
    knex: db.knex,
    url: `mysql://${auth}@${server.host}:${server.port}/${name}`,
    whmcsDir: dir,
    ccHash,
    async drop() {
      await db.knex.raw(`DROP DATABASE IF EXISTS \`${name}\``).catch(() => {});
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function writeConfig(
  dir: string,
  ccHash: string,
  c: { sqlite: string } | { host: string; port: number; user: string; password: string; name: string },
): void {
  const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const lines = ['<?php', `$license = 'WHMCS-test';`];
  if ('sqlite' in c) {
    lines.push(`$db_host = 'localhost';`, `$db_username = 'x';`, `$db_password = '';`, `$db_name = 'x';`, `$whmcs_2fa_sqlite = ${q(c.sqlite)};`);
  } else {
    lines.push(
      `$db_host = ${q(c.host)};`,
      `$db_port = ${q(String(c.port))};`,
      `$db_username = ${q(c.user)};`,
      `$db_password = ${q(c.password)};`,
      `$db_name = ${q(c.name)};`,
    );
  }
  lines.push(`$cc_encryption_hash = ${q(ccHash)};`, `$templates_compiledir = 'templates_c';`, `$mysql_charset = 'utf8';`);
  writeFileSync(join(dir, 'configuration.php'), lines.join('\n') + '\n');
}

/** Probed once per test file (top-level await), so suites can be skipped or failed synchronously. */
export const MYSQL_OK = await mysqlReachable();

/**
 * Runs the same behavioural suite on MariaDB and on SQLite. MariaDB unreachable: fails under
 * CI=true (CI must provide it), skips loudly elsewhere.
 */
export function describeBackends(name: string, fn: (backend: Backend) => void, backends: Backend[] = ['mysql', 'sqlite']): void {
  for (const backend of backends) {
    const title = `${name} [${backend === 'mysql' ? 'mariadb' : 'sqlite'}]`;
    if (backend === 'mysql' && !MYSQL_OK) {
      if (process.env.CI === 'true') {
        describe(title, () => {
          throw new Error('MariaDB at 127.0.0.1:3306 is unreachable under CI=true — .ci/run must start it');
        });
      } else {
        console.warn(`SKIPPING "${title}": no MariaDB at 127.0.0.1:3306 (set WHMCS_TEST_MYSQL_URL)`);
        describe.skip(title, () => fn(backend));
      }
      continue;
    }
    describe(title, () => fn(backend));
  }
}


export { writeFileSync };
