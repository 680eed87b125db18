import type { BadInput } from '../harness.js';

/** `--db` URLs that are refused before anything connects (exit 2), the password never echoed. */
const url = (name: string, value: string, error: RegExp): BadInput => ({
  name: `--db: ${name}`,
  // Nothing connects: one backend is enough to prove the test database is untouched.
  backends: ['sqlite'],
  args: () => ['--db', value, 'status'],
  exit: 2,
  expect: { error },
  forbid: () => ['hunter2'],
});

export const dbUrlCases: BadInput[] = [
  url('no scheme', 'db.example.com/whmcs', /the database URL has no scheme — use mysql:\/\//),
  url('user:password@host without a scheme (never echoes the password)', 'root:hunter2@127.0.0.1/whmcs', /unknown database URL scheme 'root:'/),
  url('unknown scheme', 'postgres://root:hunter2@127.0.0.1/whmcs', /unknown database URL scheme 'postgres:'/),
  url('mysql: without //', 'mysql:root:hunter2@127.0.0.1/whmcs', /a MySQL URL starts with mysql:\/\//),
  url('no user name', 'mysql://127.0.0.1:3306/whmcs', /the database URL has no user name/),
  url('no database name', 'mysql://root:hunter2@127.0.0.1:3306/', /the database URL has no database name/),
  url('a port that is not a number', 'mysql://root:hunter2@127.0.0.1:mysql/whmcs', /the port in the database URL is not a number between 1 and 65535/),
  url('a port out of range', 'mysql://root:hunter2@127.0.0.1:99999/whmcs', /the port in the database URL is not a number between 1 and 65535/),
  url('bad percent-encoding in the password', 'mysql://root:hunter2%ZZ@127.0.0.1/whmcs', /bad percent-encoding in the password of the database URL/),
  url('an unknown query option', 'mysql://root:hunter2@127.0.0.1/whmcs?timeout=5', /unknown database URL option 'timeout'/),
  url('both a port and a socket', 'mysql://root:hunter2@localhost:3306/whmcs?socket=/run/mysqld/mysqld.sock', /gives both a port and a socket/),
  url('an unbracketed IPv6 address', 'mysql://root:hunter2@::1:3306/whmcs', /put an IPv6 address in the database URL in brackets/),
  url('sqlite: without a file', 'sqlite:', /sqlite: needs a file name/),
  url('sqlite:// with a host', 'sqlite://db.example.com/var/whmcs.sqlite', /sqlite:\/\/ URLs need an absolute path/),
];
