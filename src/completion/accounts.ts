import { homedir } from 'node:os';
import type { Candidate, AccountKind } from './values.js';
import type { LineConnection } from './engine.js';

interface AccountLookup {
  kind: AccountKind;
  prefix: string;
  connection: LineConnection;
  env: NodeJS.ProcessEnv;
  cwd: string;
  limit?: number;
  connectTimeoutMs?: number;
}

interface AccountTable {
  table: string;
  column: string;
  describe: (r: Record<string, unknown>) => string;
}

const s = (v: unknown) => (v === null || v === undefined ? '' : String(v));
const name = (...parts: unknown[]) => parts.map(s).filter(Boolean).join(' ');

const TABLES: Record<AccountKind, AccountTable & { columns: string[] }> = {
  admins: {
    table: 'tbladmins',
    column: 'username',
    columns: ['username', 'firstname', 'lastname', 'disabled'],
    describe: (r) => name(r.firstname, r.lastname) + (Number(r.disabled) ? ' (disabled)' : ''),
  },
  users: {
    table: 'tblusers',
    column: 'email',
    columns: ['email', 'first_name', 'last_name'],
    describe: (r) => name(r.first_name, r.last_name),
  },
  clients: {
    table: 'tblclients',
    column: 'email',
    columns: ['email', 'firstname', 'lastname', 'companyname'],
    describe: (r) => name(r.firstname, r.lastname) + (s(r.companyname) ? ` (${s(r.companyname)})` : ''),
  },
};

/** `!` escapes LIKE's wildcards the same way on MySQL (whatever its sql_mode) and SQLite. */
export function likePrefix(prefix: string): string {
  return prefix.replace(/[!%_]/g, '!$&') + '%';
}

/** The shell may hand over `~/whmcs` unexpanded (zsh and fish quote the words they pass). */
export function expandHome(p: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (p === undefined) return undefined;
  if (p === '~' || p.startsWith('~/')) return (env.HOME || homedir()) + p.slice(1);
  return p;
}

/**
 * Usernames or emails starting with `prefix`, from the database the command line would use: the
 * connection is found exactly as the commands find it (--db, $WHMCS_DB_URL, --whmcs-dir, $WHMCS_DIR,
 * configuration.php upwards), never prompting. Any failure means "no suggestions": a completion must
 * never print an error into the user's command line.
 *
 * Two steps, so a caller can put a deadline on the network alone: this one reads configuration.php
 * and loads the driver (local work, slow only on a busy machine); the function it returns connects
 * and queries.
 */
export async function prepareLookup(req: AccountLookup): Promise<() => Promise<Candidate[]>> {
  const { resolveConnection } = await import('../whmcs/connection/connect.js');
  const { openDb, withoutSecretDebugChannels } = await import('../whmcs/connection/db.js');
  const resolved = await resolveConnection({
    whmcsDir: expandHome(req.connection.whmcsDir, req.env),
    dbUrl: req.connection.db,
    env: req.env,
    cwd: req.cwd,
    warn: () => {},
  });
  const target = resolved.target.kind === 'mysql' ? { ...resolved.target, connectTimeoutMs: req.connectTimeoutMs ?? 2000 } : resolved.target;
  withoutSecretDebugChannels(req.env);
  await import('knex');
  if (target.kind === 'mysql') await import('mysql2');
  return async () => {
    const db = await openDb(target, undefined, req.env);
    try {
      const t = TABLES[req.kind];
      const rows: Array<Record<string, unknown>> = await db
        .knex(t.table)
        .select(t.columns)
        .whereRaw(`?? LIKE ? ESCAPE '!'`, [t.column, likePrefix(req.prefix)])
        .orderBy(t.column)
        .limit(req.limit ?? 200);
      return rows.map((r) => ({ value: s(r[t.column]), description: t.describe(r) })).filter((c) => c.value !== '');
    } finally {
      await db.close();
    }
  };
}
