/**
 * A WHMCS-8.12-shaped data set on MariaDB, seeded set-based: a small pool of real per-account
 * configs is generated in JS (AES hex, JSON, PHP-serialized), then every table is filled by
 * INSERT … SELECT over a generated number sequence that picks module, format and pool entry by
 * arithmetic, 100 000 rows a statement: nothing passes through this process, each statement's
 * transaction stays the same size however many accounts there are, and the sequence is exactly as
 * long as the chunk. 100 000 users take seconds; 1 000 000 ten times that.
 */
import type { Knex } from 'knex';
import { createWhmcsSchema, adminRow, clientRow, setConfigValue } from '../src/whmcs/schema/seed.js';
import { encodeAccountConfig, type AccountConfigTarget } from '../src/whmcs/accounts/account-config.js';
import { generateBackupCode, hashBackupCode } from '../src/whmcs/crypto/backup-code-hash.js';
import { sample2faSettings } from '../src/whmcs/schema/sandbox.js';
import { encodeTokendata } from '../src/services/totp/stored-secret.js';
import { generateTotpSecret, sonataBase32Decode } from '../src/services/totp/base32-secret.js';
import { yubicoPrefixHash } from '../src/services/yubico-client.js';

export const BENCH_CC_HASH = 'benchBENCHbench0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL';

/** Distinct configs per (module, format); rows pick one by `n % POOL`. */
const POOL = 64;

/**
 * Share of accounts per module, by `n % 100`: the buckets the README's Performance section quotes.
 * '0' is what WHMCS's documented "disable 2FA" SQL leaves behind.
 */
const MODULE_BUCKETS = `CASE
  WHEN s.n % 100 < 30 THEN 'totp'
  WHEN s.n % 100 < 60 THEN 'duosecurity'
  WHEN s.n % 100 < 65 THEN 'yubico'
  WHEN s.n % 100 < 67 THEN '0'
  ELSE '' END`;

/**
 * Storage format, by `(n DIV 100) % 20` (independent of the module): enrolled accounts are 70 % AES
 * (written by 8.12), 20 % JSON (8.0–8.7, not yet rewritten), 5 % PHP-serialized (7.x leftovers) and
 * 5 % empty; '0' rows keep the JSON the docs' SQL left; accounts without a module have '' or NULL.
 */
const FORMAT_BUCKETS = `CASE
  WHEN m.module = '' THEN IF(m.n % 2 = 0, 'null', 'empty')
  WHEN m.module = '0' THEN 'json'
  WHEN (m.n DIV 100) % 20 < 14 THEN 'aes'
  WHEN (m.n DIV 100) % 20 < 18 THEN 'json'
  WHEN (m.n DIV 100) % 20 < 19 THEN 'serialized'
  ELSE 'empty' END`;

export interface SeedCounts {
  users: number;
  admins: number;
  clients: number;
  links: number;
  /** Users on duosecurity: what the bulk reset benchmark resets. */
  duoUsers: number;
  byModule: Record<string, number>;
}

/** Rows per INSERT … SELECT. */
export const CHUNK = 100_000;

/** `SELECT n FROM (from … to)` (at most 10^6 numbers): a digits cross join, so no SEQUENCE engine is needed. */
function numbers(from: number, to: number): string {
  const digits = '(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)';
  const places = Math.max(1, Math.ceil(Math.log10(to - from + 1)));
  const tables = Array.from({ length: places }, (_, i) => `${digits} p${i}`).join(' CROSS JOIN ');
  const num = Array.from({ length: places }, (_, i) => `p${i}.d * ${10 ** i}`).join(' + ');
  return `(SELECT ${from} + ${num} AS n FROM ${tables}) s WHERE s.n <= ${to}`;
}

/** Calls `fill(from, to)` for 1 … total in chunks of `chunk`, in order (ids follow n). */
async function inChunks(total: number, chunk: number, fill: (from: number, to: number) => Promise<unknown>): Promise<void> {
  for (let from = 1; from <= total; from += chunk) await fill(from, Math.min(total, from + chunk - 1));
}

function poolConfig(module: string, format: AccountConfigTarget, i: number): string {
  const backupcode = hashBackupCode(generateBackupCode());
  let cfg: Record<string, unknown>;
  if (module === 'totp') {
    const secret = generateTotpSecret();
    cfg = format === 'serialized' ? { tokendata: encodeTokendata(sonataBase32Decode(secret)), backupcode } : { secret, backupcode };
  } else if (module === 'duosecurity') {
    cfg = i % 3 === 0 ? { backupcode } : { backupcode, duo_auth_identifier: 'email' };
  } else if (module === 'yubico') {
    cfg = { yubicoprefix: yubicoPrefixHash(`cccccb${String(i).padStart(6, '0').replace(/\d/g, (d) => 'cbdefghijk'[Number(d)]!)}`), backupcode };
  } else {
    // '0': the old TOTP secret the docs' SQL keeps.
    cfg = { secret: generateTotpSecret(), backupcode };
  }
  return encodeAccountConfig(cfg, format, BENCH_CC_HASH);
}

/** Literal SQL values for a column list, with the generated columns replaced by expressions. */
function selectList(row: Record<string, unknown>, generated: Record<string, string>): { cols: string[]; exprs: string[]; bindings: unknown[] } {
  const cols: string[] = [];
  const exprs: string[] = [];
  const bindings: unknown[] = [];
  for (const [col, value] of Object.entries(row)) {
    cols.push(col);
    if (col in generated) exprs.push(generated[col]!);
    else {
      exprs.push('?');
      bindings.push(value);
    }
  }
  for (const [col, expr] of Object.entries(generated)) {
    if (!(col in row)) {
      cols.push(col);
      exprs.push(expr);
    }
  }
  return { cols, exprs, bindings };
}

/** `chunk`: rows per statement (default CHUNK; tests use small ones to cross chunk boundaries cheaply). */
export async function seedBenchData(knex: Knex, opts: { users: number; admins: number; chunk?: number }): Promise<SeedCounts> {
  const chunk = opts.chunk ?? CHUNK;
  await createWhmcsSchema(knex, 'mysql', '8', '8.12.1-release.1');
  const H = BENCH_CC_HASH;
  await setConfigValue(knex, '2fasettings', sample2faSettings(H, { duoClients: true, yubico: true }));

  await knex.raw('CREATE TABLE bench_pool (module VARCHAR(32) NOT NULL, fmt VARCHAR(16) NOT NULL, k INT NOT NULL, cfg TEXT NOT NULL, PRIMARY KEY (module, fmt, k))');
  const pool: Array<{ module: string; fmt: string; k: number; cfg: string }> = [];
  for (const module of ['totp', 'duosecurity', 'yubico', '0']) {
    for (const fmt of ['aes', 'json', 'serialized'] as const) {
      for (let k = 0; k < POOL; k++) pool.push({ module, fmt, k, cfg: poolConfig(module, fmt, k) });
    }
  }
  await knex.batchInsert('bench_pool', pool, 500);

  // Ids are given, not left to AUTO_INCREMENT, which may skip ahead after each bulk insert: user n,
  // client n and admin n have id n at any size.
  // Users: module and format per row from n, config from the pool.
  const userCfg = `CASE f.fmt WHEN 'null' THEN NULL WHEN 'empty' THEN '' ELSE p.cfg END`;
  await inChunks(opts.users, chunk, (from, to) =>
    knex.raw(
      `INSERT INTO tblusers (id, first_name, last_name, email, password, language, second_factor, second_factor_config, created_at, updated_at)
       SELECT f.n, 'Bench', CONCAT('User ', f.n), CONCAT('user', f.n, '@example.net'), '', '', f.module, ${userCfg}, NOW(), NOW()
       FROM (SELECT m.n, m.module, ${FORMAT_BUCKETS} AS fmt FROM (SELECT s.n, ${MODULE_BUCKETS} AS module FROM ${numbers(from, to)}) m) f
       LEFT JOIN bench_pool p ON p.module = f.module AND p.fmt = f.fmt AND p.k = f.n % ${POOL}
       ORDER BY f.n`,
    ),
  );

  // One client per user (same id), owned by it; every tenth user is also a member of the previous client.
  const client = selectList(clientRow({ email: '' }), { id: 's.n', email: "CONCAT('user', s.n, '@example.net')", lastname: "CONCAT('Client ', s.n)" });
  await inChunks(opts.users, chunk, (from, to) =>
    knex.raw(`INSERT INTO tblclients (${client.cols.join(', ')}) SELECT ${client.exprs.join(', ')} FROM ${numbers(from, to)} ORDER BY s.n`, client.bindings as Knex.RawBinding[]),
  );
  await inChunks(opts.users, chunk, (from, to) =>
    knex.raw('INSERT INTO tblusers_clients (auth_user_id, client_id, invite_id, owner, created_at, updated_at) SELECT id, id, 0, 1, NOW(), NOW() FROM tblusers WHERE id BETWEEN ? AND ? ORDER BY id', [from, to]),
  );
  await inChunks(opts.users, chunk, (from, to) =>
    knex.raw(
      'INSERT INTO tblusers_clients (auth_user_id, client_id, invite_id, owner, created_at, updated_at) SELECT id, id - 1, 0, 0, NOW(), NOW() FROM tblusers WHERE id BETWEEN ? AND ? AND id % 10 = 0 AND id > 1 ORDER BY id',
      [from, to],
    ),
  );

  // Admins: same spread; 5 % disabled, the three stock roles.
  const adminCfg = `CASE f.fmt WHEN 'null' THEN '' WHEN 'empty' THEN '' ELSE p.cfg END`;
  const admin = selectList(adminRow({ username: '' }), {
    id: 'f.n',
    username: "CONCAT('admin', f.n)",
    email: "CONCAT('admin', f.n, '@billing.example.com')",
    lastname: "CONCAT('Admin ', f.n)",
    roleid: '1 + f.n % 3',
    disabled: 'IF(f.n % 20 = 7, 1, 0)',
    authmodule: 'f.module',
    authdata: adminCfg,
  });
  await inChunks(opts.admins, chunk, (from, to) =>
    knex.raw(
      `INSERT INTO tbladmins (${admin.cols.join(', ')})
       SELECT ${admin.exprs.join(', ')}
       FROM (SELECT m.n, m.module, ${FORMAT_BUCKETS} AS fmt FROM (SELECT s.n, ${MODULE_BUCKETS} AS module FROM ${numbers(from, to)}) m) f
       LEFT JOIN bench_pool p ON p.module = f.module AND p.fmt = f.fmt AND p.k = f.n % ${POOL}
       ORDER BY f.n`,
      admin.bindings as Knex.RawBinding[],
    ),
  );
  await knex.raw('DROP TABLE bench_pool');
  await knex.raw('ANALYZE TABLE tblusers, tblclients, tblusers_clients, tbladmins');

  const count = async (sql: string) => Number(((await knex.raw(sql)) as [Array<{ n: unknown }>])[0][0]!.n);
  const byModule: Record<string, number> = {};
  for (const r of ((await knex.raw('SELECT second_factor AS m, COUNT(*) AS n FROM tblusers GROUP BY second_factor')) as [Array<{ m: string; n: unknown }>])[0]) {
    byModule[r.m === '' ? 'none' : r.m] = Number(r.n);
  }
  return {
    users: await count('SELECT COUNT(*) AS n FROM tblusers'),
    admins: await count('SELECT COUNT(*) AS n FROM tbladmins'),
    clients: await count('SELECT COUNT(*) AS n FROM tblclients'),
    links: await count('SELECT COUNT(*) AS n FROM tblusers_clients'),
    duoUsers: byModule.duosecurity ?? 0,
    byModule,
  };
}
