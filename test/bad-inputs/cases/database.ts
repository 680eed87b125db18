import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { openDb } from '../../../src/whmcs/connection/db.js';
import { Journal } from '../../../src/whmcs/history/journal.js';
import { mysqlServer } from '../../helpers/db.js';
import { phpSerialize } from '../../../src/whmcs/php/php-serialize.js';
import { setConfigValue } from '../../../src/whmcs/schema/seed.js';
import { configPhp, mysqlUrl, mysqlUser, whmcsDirWith, type BadInput, type CaseEnv } from '../harness.js';

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

/** A MariaDB database (or SQLite file) that is not WHMCS, with one row in it, watched for changes. */
async function foreignDatabase(e: CaseEnv): Promise<string> {
  if (e.backend === 'sqlite') {
    const file = join(e.dir, 'notes.sqlite');
    const db = await openDb({ kind: 'sqlite', file, create: true });
    await db.knex.raw('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)');
    await db.knex('notes').insert({ body: 'keep me' });
    e.watch.push(db.knex);
    e.cleanup.push(() => db.close());
    return `sqlite:${file}`;
  }
  const name = `whmcs2fa_other_${randomBytes(4).toString('hex')}`;
  const admin = await openDb({ ...mysqlServer(), database: '' });
  await admin.knex.raw(`CREATE DATABASE \`${name}\``);
  await admin.close();
  const db = await openDb({ ...mysqlServer(), database: name });
  await db.knex.raw('CREATE TABLE notes (id INT PRIMARY KEY AUTO_INCREMENT, body TEXT)');
  await db.knex('notes').insert({ body: 'keep me' });
  e.watch.push(db.knex);
  e.cleanup.push(async () => {
    await db.knex.raw(`DROP DATABASE IF EXISTS \`${name}\``);
    await db.close();
  });
  return mysqlUrl(name);
}


const YUBICO_SECRET = 'c2VjcmV0LWtleS1vZi15dWJpY28tYXBp';
const dir = (e: CaseEnv) => ['--whmcs-dir', e.t.whmcsDir];

/** Connects as a user that may only SELECT: every write must fail cleanly, nothing half-done. */
const readOnly = (name: string, command: string[], error: RegExp): BadInput => ({
  name: `read-only database user: ${name}`,
  backends: ['mysql'],
  setup: async (e) => {
    // Yubico configured but off, so `activate yubikey` needs no credentials on the command line.
    await setConfigValue(
      e.t.knex,
      '2fasettings',
      phpSerialize({
        modules: { totp: { clientenabled: 1, adminenabled: 1 }, yubico: { clientid: '87654', secretkey: YUBICO_SECRET, clientenabled: 0, adminenabled: 0 } },
        forceclient: 0,
        forceadmin: 0,
      }),
    );
    // The history tables exist (created once by a user that may), so the write itself is denied.
    await new Journal(e.t.knex, e.t.ccHash, 'bad-inputs').ensure();
    const user = await mysqlUser(e, 'ro-pass-Q7', 'SELECT');
    e.vars.dir = whmcsDirWith(e, configPhp(e, { db_username: `'${user}'`, db_password: "'ro-pass-Q7'" }));
  },
  args: (e) => ['--whmcs-dir', e.vars.dir!, ...command],
  exit: 5,
  expect: { error },
  forbid: () => [YUBICO_SECRET, 'ro-pass-Q7', 'update `', 'UPDATE `'],
});

const DENIED = /^Error: database error: UPDATE command denied to user '[^']+'@'[^']+' for table `[^`]+`\.`(tblconfiguration|tbladmins)` — nothing was written; the database user lacks a privilege/;

export const databaseCases: BadInput[] = [
  {
    name: 'a closed port',
    backends: ['mysql'],
    setup: async (e) => {
      e.vars.port = String(await freePort());
    },
    args: (e) => ['--whmcs-dir', whmcsDirWith(e, configPhp(e, { db_port: `'${e.vars.port}'` })), 'status'],
    exit: 5,
    expect: { error: /^Error: cannot connect to mysql:\/\/\S+:\d+\/\S+: connection refused — is MySQL\/MariaDB running/ },
  },
  {
    name: 'a wrong password (never echoed)',
    backends: ['mysql'],
    setup: async (e) => {
      e.vars.user = await mysqlUser(e, 'the-right-one', 'SELECT');
    },
    args: (e) => ['--db', mysqlUrl(e.dbName, e.vars.user), 'status'],
    env: () => ({ WHMCS_DB_PASSWORD: 'Wr0ng-Passw0rd' }),
    exit: 5,
    expect: { error: /^Error: access denied for mysql:\/\/w2fa_\w+@[^ ]+ — check the database user name and password$/ },
    forbid: () => ['Wr0ng-Passw0rd', 'the-right-one'],
  },
  {
    name: 'a user without any grant on the database',
    backends: ['mysql'],
    setup: async (e) => {
      e.vars.user = await mysqlUser(e, 'pw-nogrant', 'USAGE');
    },
    args: (e) => ['--db', mysqlUrl(e.dbName, e.vars.user), 'status'],
    env: () => ({ WHMCS_DB_PASSWORD: 'pw-nogrant' }),
    exit: 5,
    expect: { error: /^Error: (user "w2fa_\w+" may not use database "whmcs2fa_test_\w+"|access denied for)/ },
    forbid: () => ['pw-nogrant'],
  },
  {
    name: 'an unknown database',
    backends: ['mysql'],
    args: () => ['--db', mysqlUrl('whmcs2fa_no_such_db'), 'status'],
    exit: 5,
    expect: { error: /^Error: database "whmcs2fa_no_such_db" does not exist on mysql:\/\/\S+ — check \$db_name or the --db URL$/ },
  },
  {
    name: 'a database that is not WHMCS',
    setup: async (e) => {
      e.vars.url = await foreignDatabase(e);
    },
    args: (e) => ['--db', e.vars.url!, 'reset', '--admin', 'alice', '--reason', 'r', '--yes'],
    exit: 5,
    expect: { error: /is not a WHMCS database \(no tblconfiguration table\) — point --whmcs-dir or --db at WHMCS's own database/ },
  },
  {
    name: 'no tbladmins table',
    setup: async (e) => {
      await e.t.knex.schema.dropTable('tbladmins');
    },
    args: (e) => [...dir(e), 'status'],
    exit: 5,
    expect: { error: /is not a WHMCS database \(no tbladmins table\)/ },
  },
  {
    name: 'no tblconfiguration table',
    setup: async (e) => {
      await e.t.knex.schema.dropTable('tblconfiguration');
    },
    args: (e) => [...dir(e), 'accounts'],
    exit: 5,
    expect: { error: /is not a WHMCS database \(no tblconfiguration table\)/ },
  },
  {
    name: 'WHMCS 8 without tblusers (an unfinished upgrade)',
    setup: async (e) => {
      await e.t.knex.schema.dropTable('tblusers_clients');
      await e.t.knex.schema.dropTable('tblusers');
    },
    args: (e) => [...dir(e), 'status'],
    exit: 5,
    expect: { error: /says WHMCS 8\.12\.1-release\.1 but has no tblusers table — the upgrade looks incomplete/ },
  },
  {
    name: 'no tblactivitylog: a reset fails and rolls back',
    setup: async (e) => {
      await e.t.knex.schema.dropTable('tblactivitylog');
    },
    args: (e) => [...dir(e), 'reset', '--admin', 'alice', '--reason', 'lost phone', '--yes'],
    exit: 5,
    expect: { error: /^Error: database error: (Table '\w+\.tblactivitylog' doesn't exist|no such table: tblactivitylog) — nothing was written$/ },
  },
  {
    name: 'no tblactivitylog: a bulk reset fails before its first batch commits',
    setup: async (e) => {
      await e.t.knex.schema.dropTable('tblactivitylog');
    },
    args: (e) => [...dir(e), 'reset', '--module', 'totp', '--admins', '--reason', 'retire', '--yes'],
    exit: 5,
    expect: { error: /^Error: bulk change stopped: database error: (Table '\w+\.tblactivitylog' doesn't exist|no such table: tblactivitylog) — nothing was changed$/ },
  },
  readOnly('activate yubikey', ['activate', 'yubikey', '--admins', '--yes'], DENIED),
  readOnly('reset one admin', ['reset', '--admin', 'alice', '--reason', 'r', '--yes'], DENIED),
  readOnly('enforce', ['enforce', '--clients', 'on', '--yes'], DENIED),
  {
    name: 'a user without CREATE, the history tables not there yet',
    backends: ['mysql'],
    setup: async (e) => {
      const user = await mysqlUser(e, 'nc-pass-Q8', 'SELECT, INSERT, UPDATE, DELETE');
      e.vars.dir = whmcsDirWith(e, configPhp(e, { db_username: `'${user}'`, db_password: "'nc-pass-Q8'" }));
    },
    args: (e) => ['--whmcs-dir', e.vars.dir!, 'reset', '--admin', 'alice', '--reason', 'r', '--yes'],
    exit: 4,
    expect: { error: /^Error: cannot create the history table mod_whmcs2fa_journal \(ER_TABLEACCESS_DENIED_ERROR\) — nothing was changed; the database user needs CREATE on the WHMCS database once$/ },
    forbid: () => ['nc-pass-Q8'],
  },
  readOnly('bulk reset', ['reset', '--module', 'totp', '--admins', '--reason', 'r', '--yes'], /^Error: bulk change stopped: database error: UPDATE command denied .* — nothing was changed$/),
  {
    name: 'a SQLite file that does not exist',
    backends: ['sqlite'],
    args: (e) => ['--db', `sqlite:${join(e.dir, 'missing', 'whmcs.sqlite')}`, 'status'],
    exit: 5,
    expect: { error: /^Error: SQLite database \S+whmcs\.sqlite does not exist — check the path/ },
  },
  {
    name: 'a file that is not a SQLite database',
    backends: ['sqlite'],
    setup: (e) => {
      writeFileSync(join(e.dir, 'junk.sqlite'), randomBytes(4096));
    },
    args: (e) => ['--db', `sqlite:${join(e.dir, 'junk.sqlite')}`, 'status'],
    exit: 5,
    expect: { error: /^Error: cannot open SQLite database \S+junk\.sqlite: file is not a database$/ },
  },
];
