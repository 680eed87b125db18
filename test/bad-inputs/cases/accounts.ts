import { insertAdmin } from '../../../src/whmcs/schema/seed.js';
import { SECRET, V78, type BadInput, type CaseEnv } from '../harness.js';

const dir = (e: CaseEnv) => ['--whmcs-dir', e.t.whmcsDir];
const NONE = (kind: string) => new RegExp(`^Error: no ${kind} matches ".*" — list them with \`whmcs-2fa accounts --${kind}s\`$`);

/** Unknown and ambiguous accounts, names built to break naive SQL, unknown modules and bad flags. */
export const accountCases: BadInput[] = [
  // --- unknown or ambiguous accounts: exit 3 ---
  {
    name: 'reset an unknown admin',
    args: (e) => [...dir(e), 'reset', '--admin', 'nobody', '--reason', 'r', '--yes'],
    exit: 3,
    expect: { error: NONE('admin') },
  },
  {
    name: 'reset an admin by an email two admins share',
    args: (e) => [...dir(e), 'reset', '--admin', 'twins@example.com', '--reason', 'r', '--yes'],
    exit: 3,
    expect: { error: /^Error: "twins@example\.com" matches 2 admins: #3 twin1, #4 twin2 — select one by id, e\.g\. --admin id:3$/ },
  },
  {
    name: 'an id that is also another admin\'s username is ambiguous',
    setup: async (e) => {
      await insertAdmin(e.t.knex, { username: '1', email: 'one@example.com', authmodule: 'totp', authdata: '' });
    },
    args: (e) => [...dir(e), 'backup-code', '--admin', '1', '--yes'],
    exit: 3,
    expect: { error: /^Error: "1" matches 2 admins: #1 alice, #5 1 — select one by id/ },
  },
  {
    name: 'backup-code for an unknown user',
    args: (e) => [...dir(e), 'backup-code', '--user', 'nobody@example.com', '--yes'],
    exit: 3,
    expect: { error: NONE('user') },
  },
  {
    name: 'verify for an unknown admin id',
    args: (e) => [...dir(e), 'verify', '--admin', '999999', '123456'],
    exit: 3,
    expect: { error: NONE('admin') },
  },
  {
    name: 'enroll an unknown admin',
    args: (e) => [...dir(e), 'enroll', '--admin', 'ghost', '--code', '123456', '--yes'],
    env: () => ({ WHMCS_TOTP_SECRET: SECRET }),
    exit: 3,
    expect: { error: NONE('admin') },
  },
  {
    name: 'accounts --admin for an unknown admin',
    args: (e) => [...dir(e), 'accounts', '--admin', 'ghost'],
    exit: 3,
    expect: { error: NONE('admin') },
  },
  {
    name: 'an id beyond any integer column',
    args: (e) => [...dir(e), 'reset', '--admin', '99999999999999999999999', '--reason', 'r', '--yes'],
    exit: 3,
    expect: { error: NONE('admin') },
  },
  {
    name: 'undo of a journal entry that does not exist',
    args: (e) => [...dir(e), 'undo', '20250101T000000Z-abcdef', '--yes'],
    exit: 3,
    expect: { error: /^Error: no changes recorded in .* — nothing to undo$/ },
  },
  // --- names that look like SQL injection: matched as data, found nowhere, tables intact ---
  {
    name: "--admin \"x' OR '1'='1\"",
    args: (e) => [...dir(e), 'reset', '--admin', "x' OR '1'='1", '--reason', 'r', '--yes'],
    exit: 3,
    expect: { error: /^Error: no admin matches "x' OR '1'='1"/ },
  },
  {
    name: '--user "a@b.c\'; DROP TABLE tbladmins; --"',
    args: (e) => [...dir(e), 'reset', '--user', "a@b.c'; DROP TABLE tbladmins; --", '--yes'],
    exit: 3,
    expect: { error: /^Error: no user matches "a@b\.c'; DROP TABLE tbladmins; --"/ },
  },
  {
    name: '--client "a@b.c\'; DROP TABLE tblclients; --" (WHMCS 7)',
    shape: '7',
    version: V78,
    args: (e) => [...dir(e), 'backup-code', '--client', "a@b.c'; DROP TABLE tblclients; --", '--yes'],
    exit: 3,
    expect: { error: NONE('client') },
  },
  {
    name: '--admin "1 OR 1=1"',
    args: (e) => [...dir(e), 'verify', '--admin', '1 OR 1=1', '123456'],
    exit: 3,
    expect: { error: NONE('admin') },
  },
  {
    name: '--admin "%" (a LIKE wildcard)',
    args: (e) => [...dir(e), 'reset', '--admin', '%', '--reason', 'r', '--yes'],
    exit: 3,
    expect: { error: NONE('admin') },
  },
  {
    name: '--admin with a backslash and a quote',
    args: (e) => [...dir(e), 'backup-code', '--admin', "alice\\' --", '--yes'],
    exit: 3,
    expect: { error: NONE('admin') },
  },
  {
    name: '--user "\\" OR \\"\\"=\\"" (double quotes)',
    args: (e) => [...dir(e), 'accounts', '--user', '" OR ""="'],
    exit: 3,
    expect: { error: NONE('user') },
  },
  // --- unknown modules: exit 2 ---
  {
    name: 'activate foo',
    args: (e) => [...dir(e), 'activate', 'foo', '--yes'],
    exit: 2,
    expect: { error: /^Error: unknown service "foo" — use one of: totp\/.*duo\/.*yubikey/ },
  },
  {
    name: 'deactivate foo',
    args: (e) => [...dir(e), 'deactivate', 'foo', '--yes'],
    exit: 2,
    expect: { error: /^Error: unknown service "foo"/ },
  },
  {
    name: 'activate an empty service name',
    args: (e) => [...dir(e), 'activate', '', '--yes'],
    exit: 2,
    expect: { error: /^Error: unknown service ""/ },
  },
  {
    name: "activate \"totp'; DROP TABLE tblconfiguration; --\"",
    args: (e) => [...dir(e), 'activate', "totp'; DROP TABLE tblconfiguration; --", '--yes'],
    exit: 2,
    expect: { error: /^Error: unknown service "totp'; DROP TABLE tblconfiguration; --"/ },
  },
  // --- flags that cannot be right: exit 2; a change without --yes and without a TTY: exit 4 ---
  {
    name: 'reset --user on WHMCS 7',
    shape: '7',
    version: V78,
    args: (e) => [...dir(e), 'reset', '--user', 'carol@example.com', '--yes'],
    exit: 2,
    expect: { error: /^Error: WHMCS 7 has no users \(tblusers\)/ },
  },
  {
    name: 'reset --client on WHMCS 8',
    args: (e) => [...dir(e), 'reset', '--client', 'carol@example.com', '--yes'],
    exit: 2,
    expect: { error: /^Error: on WHMCS 8 second factors belong to users, not clients/ },
  },
  {
    name: 'reset an admin without --reason',
    args: (e) => [...dir(e), 'reset', '--admin', 'alice', '--yes'],
    exit: 2,
    expect: { error: /needs --reason/ },
  },
  {
    name: 'an empty --admin',
    args: (e) => [...dir(e), 'backup-code', '--admin', '  ', '--yes'],
    exit: 2,
    expect: { error: /^Error: --admin needs a value$/ },
  },
  {
    name: 'bulk reset with --batch-size 0',
    args: (e) => [...dir(e), 'reset', '--module', 'totp', '--admins', '--reason', 'r', '--batch-size', '0', '--yes'],
    exit: 2,
    expect: { error: /^Error: --batch-size must be a whole number from 1 to 50000$/ },
  },
  {
    name: 'enforce --admins maybe',
    args: (e) => [...dir(e), 'enforce', '--admins', 'maybe', '--yes'],
    exit: 2,
    expect: { error: /^Error: --admins takes on or off, got "maybe"$/ },
  },
  {
    name: 'verify --at yesterday',
    args: (e) => [...dir(e), 'verify', '--admin', 'alice', '--at', 'yesterday', '123456'],
    exit: 2,
    expect: { error: /^Error: --at needs unix seconds or an ISO 8601 time/ },
  },
  {
    name: 'an unknown --format',
    args: (e) => [...dir(e), 'status', '--format', 'xml'],
    exit: 2,
    expect: { error: /^Error: --format xml is not available for this command/ },
  },
  {
    name: 'a change without --yes and without a terminal',
    args: (e) => [...dir(e), 'reset', '--admin', 'alice', '--reason', 'r'],
    exit: 4,
    expect: { error: /^Error: refusing to change the database without confirmation: no terminal to ask on — pass --yes/ },
  },
];
